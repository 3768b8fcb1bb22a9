#!/usr/bin/env bash
# Measures fvae's embedded footprint on a Cortex-M4F (thumbv7em-none-eabihf, QEMU mps2-an386) and compares
# it with the committed footprint.json: fails if any figure grew more than 10%.
#
#   scripts/footprint.sh            measure, print, compare with footprint.json (write it if there is none)
#   scripts/footprint.sh --update   measure and rewrite footprint.json (then commit it)
#   KERNELS="fv_k16_d32" scripts/footprint.sh --update    measure only these; others keep their figures
#   scripts/footprint.sh --m0 [--update]   the int8 networks on a Cortex-M0 (thumbv6m-none-eabi, QEMU
#                                   microbit, no DSP: the scalar reference), against footprint-m0.json
#
# Each kernel is a program examples/footprint/src/bin/<kernel>.rs, built twice (release profile of that
# crate: opt-level "s", fat LTO): as is, and with `--features baseline`, the same program with the kernel
# compiled out. Figures:
#   flash_bytes              text + data of the program minus its baseline (arm-none-eabi-size): the code and
#                            read-only data the kernel pulls in; model and input bytes are in both builds.
#   stack_bytes              painted stack, as the program reports it (examples/footprint/src/lib.rs stack_of).
#   instructions_per_<unit>  instructions executed between fp_start and fp_end, counted by the QEMU plugin
#                            in scripts/qemu-insncount, averaged over the marked units, minus the markers' own
#                            cost (the baseline's empty pair).
#   anything else the program prints as `footprint <kernel> <figure> <value>` (e.g. arena_bytes).
# Adding a kernel: add its program (see examples/footprint/README.md) and, if it has one, a budget line below.
#
# Needs: qemu-system-arm, arm-none-eabi binutils, gcc (for the plugin), python3, rustup target
# thumbv7em-none-eabihf.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CRATE=$ROOT/examples/footprint
TARGET=thumbv7em-none-eabihf
MACHINE=mps2-an386
JSON=$ROOT/footprint.json
TOLERANCE=1.10
UPDATE=0
if [ "${1:-}" = "--m0" ]; then
    shift
    TARGET=thumbv6m-none-eabi MACHINE=microbit JSON=$ROOT/footprint-m0.json
    KERNELS=${KERNELS:-mlp_decoder conv_decoder mlp_encoder}
fi
[ "${1:-}" = "--update" ] && UPDATE=1

# Budgets (targets to reach: reported, not enforced). kernel figure limit. The network rows' targets are
# half of TFLite Micro + CMSIS-NN's instructions, its arena_used_bytes and its int8-only code (README).
BUDGETS='
fv_k16_d32 flash_bytes 8192
fv_k16_d32 stack_bytes 1024
fv_k16_d32 instructions_per_descriptor 8000
vq_int8_m256_d16 instructions_per_query 6144
vq_f32_m256_d16 instructions_per_query 12288
mlp_decoder instructions_per_inference 25344
mlp_decoder arena_bytes 3028
mlp_decoder flash_bytes 41267
conv_decoder instructions_per_inference 118113
conv_decoder arena_bytes 5076
conv_decoder flash_bytes 58368
mlp_encoder instructions_per_inference 6885
mlp_encoder arena_bytes 1284
mlp_encoder flash_bytes 37478
'
# The budgets are the Cortex-M4F's; the Cortex-M0 rows are measured and guarded, not budgeted.
[ "$TARGET" = thumbv6m-none-eabi ] && BUDGETS=''

for tool in qemu-system-arm arm-none-eabi-size arm-none-eabi-nm gcc python3; do
    command -v "$tool" >/dev/null || { echo "footprint: $tool not found" >&2; exit 2; }
done

WORK=$ROOT/target/footprint
PLUGIN=$ROOT/target/qemu-insncount/libinsncount.so
mkdir -p "$WORK/kernel" "$WORK/baseline" "$(dirname "$PLUGIN")"
if [ ! -f "$PLUGIN" ] || [ "$ROOT/scripts/qemu-insncount/insncount.c" -nt "$PLUGIN" ]; then
    gcc -O2 -shared -fPIC -o "$PLUGIN" "$ROOT/scripts/qemu-insncount/insncount.c"
fi

KERNELS=${KERNELS:-$(cd "$CRATE/src/bin" && ls ./*.rs | sed 's|^\./||; s|\.rs$||' | sort)}
cd "$CRATE"
echo "footprint: building ${KERNELS//$'\n'/ } for $TARGET"
for build in kernel baseline; do
    features=()
    [ $build = baseline ] && features=(--features baseline)
    cargo build --release --quiet --target $TARGET "${features[@]}" $(printf -- '--bin %s ' $KERNELS)
    for k in $KERNELS; do cp "target/$TARGET/release/$k" "$WORK/$build/$k.elf"; done
done

# run ELF -> program output plus the plugin's "insns total=.. region=.. pairs=.." line; fails with the program.
run() {
    local elf=$1 start end
    start=$(arm-none-eabi-nm "$elf" | awk '$3 == "fp_start" {print "0x" $1}')
    end=$(arm-none-eabi-nm "$elf" | awk '$3 == "fp_end" {print "0x" $1}')
    timeout 300 qemu-system-arm -machine $MACHINE -nographic -monitor none -serial none \
        -semihosting-config enable=on,target=native \
        -plugin "$PLUGIN,start=${start:-0x1},end=${end:-0x1}" -d plugin -kernel "$elf" 2>&1
}

MEASURED=$WORK/measured.txt
: >"$MEASURED"
for k in $KERNELS; do
    size() { arm-none-eabi-size "$1" | awk 'NR == 2 {print $1 + $2}'; }
    flash=$(($(size "$WORK/kernel/$k.elf") - $(size "$WORK/baseline/$k.elf")))
    base_out=$(run "$WORK/baseline/$k.elf") || { echo "$base_out"; echo "footprint: $k baseline failed" >&2; exit 1; }
    out=$(run "$WORK/kernel/$k.elf") || { echo "$out"; echo "footprint: $k failed" >&2; exit 1; }
    echo "$out" | grep '^footprint ' | grep -v ' unit ' | awk '{print $2, $3, $4}' >>"$MEASURED"
    echo "$k flash_bytes $flash" >>"$MEASURED"
    unit=$(echo "$out" | awk '$1 == "footprint" && $3 == "unit" {print $4; exit}')
    python3 - "$k" "$unit" "$base_out" "$out" >>"$MEASURED" <<'PY'
import re, sys
kernel, unit, base, out = sys.argv[1:]
def counts(text):
    m = re.search(r"insns total=(\d+) region=(\d+) pairs=(\d+)", text)
    return (int(m.group(2)), int(m.group(3))) if m else (0, 0)
(br, bp), (r, p) = counts(base), counts(out)
if unit and p:
    overhead = br / bp if bp else 0.0
    print(kernel, "instructions_per_" + unit, round(r / p - overhead))
PY
done

python3 - "$JSON" "$MEASURED" "$TARGET" "$MACHINE" "$UPDATE" "$TOLERANCE" "$BUDGETS" <<'PY'
import json, os, sys
path, measured, target, machine, update, tol, budgets = sys.argv[1:]
update, tol = update == "1", float(tol)
new = {}
for line in open(measured):
    k, fig, val = line.split()
    new.setdefault(k, {})[fig] = int(float(val))
old = json.load(open(path)) if os.path.exists(path) else None
old_k = old["kernels"] if old else {}
budget = {}
for line in budgets.strip().splitlines():
    k, fig, lim = line.split()
    budget[(k, fig)] = int(lim)

failures = []
print(f"{'kernel':24} {'figure':30} {'measured':>9} {'committed':>9} {'budget':>7}")
for k in sorted(new):
    for fig, v in sorted(new[k].items()):
        c = old_k.get(k, {}).get(fig)
        b = budget.get((k, fig))
        note = ""
        if c is not None and v > c * tol:
            note = f"  GREW {100 * (v / c - 1):.0f}% (limit {100 * (tol - 1):.0f}%)"
            failures.append(f"{k}.{fig}")
        if b is not None and v > b:
            note += "  over budget"
        print(f"{k:24} {fig:30} {v:9} {'-' if c is None else c:>9} {'-' if b is None else b:>7}{note}")

if update or old is None:
    kernels = dict(old_k)
    kernels.update(new)
    lines = [f'    "{k}": {json.dumps(kernels[k], sort_keys=True)}' for k in sorted(kernels)]
    text = '{\n  "target": "%s",\n  "machine": "%s",\n  "kernels": {\n%s\n  }\n}\n' % (target, machine, ",\n".join(lines))
    open(path, "w").write(text)
    print(f"footprint: wrote {os.path.basename(path)}")
if failures and not update:
    print("footprint: FAIL, grew more than 10% over footprint.json: " + ", ".join(failures))
    sys.exit(1)
print("footprint: OK" + ("" if update or old is None else " (within 10% of footprint.json)"))
PY
