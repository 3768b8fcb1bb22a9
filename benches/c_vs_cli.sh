#!/usr/bin/env bash
# The C library against the command line on one Fisher-vector job, same machine, same run:
# the digits descriptors (tests/data/gmm/digits_k16, N = 1797, D = 64, K = 16) tiled REPEAT times,
# encoded by `fvae fv --threads 1 --improved --timing` and by benches/c_fv.c linked with libfvae.a,
# in turn (CLI, C, CLI, C, ...), RUNS times each. Both report the encoding time alone (reading the
# file excluded). Checks that both write the same vector bit for bit, then prints the best time of
# each, the C/CLI throughput ratio of those (CLI time / C time) and the median of the per-pair ratios
# (robust when the machine is busy).
#   bash benches/c_vs_cli.sh [RUNS] [REPEAT]     # default 9 runs, 64 repeats (115 008 rows)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-9}
repeat=${2:-64}
out=target/bench-c
mkdir -p "$out"

cargo build -q --release -p fvae-cli -p fvae-capi
bash capi/localize-archive.sh target/release/libfvae_capi.a "$out/libfvae.a"
gcc -O2 -std=c99 -Wall -Wextra -Icapi/include benches/c_fv.c "$out/libfvae.a" -lm -o "$out/c_fv"

data=tests/data/gmm/digits_k16
python3 - "$data/x.npy" "$out/x.npy" "$repeat" <<'EOF'
import sys
src, dst, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
b = open(src, "rb").read()
assert b[:8] == b"\x93NUMPY\x01\x00"
hlen = int.from_bytes(b[8:10], "little")
header = b[10 : 10 + hlen].decode()
rows = int(header.split("'shape': (")[1].split(",")[0])
new = header.replace(f"({rows},", f"({rows * repeat},").rstrip("\n").rstrip()
new = new + " " * ((64 - (10 + len(new) + 1) % 64) % 64) + "\n"
open(dst, "wb").write(b[:8] + len(new).to_bytes(2, "little") + new.encode() + b[10 + hlen :] * repeat)
EOF

seconds() { sed -n 's/^fv: encoded [0-9]* rows in \([0-9.]*\) s$/\1/p'; }
cli=() c=()
for _ in $(seq "$runs"); do
    cli+=("$(target/release/fvae fv --gmm "$data/gmm.safetensors" --input "$out/x.npy" --out "$out/cli.npy" \
        --threads 1 --improved --timing 2>&1 | seconds)")
    c+=("$("$out/c_fv" "$data/gmm.safetensors" "$out/x.npy" "$out/c.f32" 2>&1 | seconds)")
done
len=$(stat -c %s "$out/c.f32")
cmp <(tail -c "$len" "$out/cli.npy") "$out/c.f32" || { echo "the C library's vector differs from the CLI's"; exit 1; }
best() { printf '%s\n' "$@" | sort -g | head -1; }
t_cli=$(best "${cli[@]}")
t_c=$(best "${c[@]}")
rows=$((1797 * repeat))
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "load average (1/5/15 min): $(cut -d' ' -f1-3 /proc/loadavg)"
echo "rows: $rows; best of $runs, encoding only"
echo "cli (fvae fv --threads 1): $t_cli s ($(awk -v t="$t_cli" -v n="$rows" 'BEGIN { printf "%.0f", n / t }') rows/s)"
echo "C (libfvae.a, c_fv):       $t_c s ($(awk -v t="$t_c" -v n="$rows" 'BEGIN { printf "%.0f", n / t }') rows/s)"
ratios=$(for i in "${!cli[@]}"; do awk -v a="${cli[$i]}" -v b="${c[$i]}" 'BEGIN { printf "%.4f\n", a / b }'; done | sort -g)
median=$(printf '%s\n' "$ratios" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
echo "C/CLI throughput: $(awk -v a="$t_cli" -v b="$t_c" 'BEGIN { printf "%.3f", a / b }') (best times), $median (median of the $runs pairs)"
echo "same vector: yes ($((len / 4)) floats, bit for bit)"
