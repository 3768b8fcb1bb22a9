#!/usr/bin/env bash
# Runs every Cortex-M test program of qemu/ (qemu/tests/*.rs) on three emulated cores:
#   M4F  Cortex-M4F  QEMU mps2-an386  thumbv7em-none-eabihf
#   M7   Cortex-M7   QEMU mps2-an500  thumbv7em-none-eabihf (the same images)
#   M0   Cortex-M0   QEMU microbit    thumbv6m-none-eabi   (no FPU: soft float)
#   M33  Cortex-M33  QEMU mps2-an505  thumbv8m.main-none-eabihf (target-cpu=cortex-m33: DSP int8 path; its
#        own memory map, qemu/memory-an505.x)
# prints what ran where and one summary line; exits non-zero if anything failed on any core.
#
# usage: scripts/qemu-tests.sh [cargo test args...]      e.g. --release, or --test gmm
# Without arguments it also runs the release build of the programs in RELEASE_TESTS (default "vq nn": their
# assembly paths, and the stack painting that once broke in release builds), under a minute per core.
# env:   QEMU_TIMEOUT (seconds per program, default 120), CORES (default "M4F M7 M0 M33"), RELEASE_TESTS
# needs: qemu-system-arm, rustup targets thumbv7em-none-eabihf, thumbv6m-none-eabi, thumbv8m.main-none-eabihf (.ci/run installs them).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TIMEOUT=${QEMU_TIMEOUT:-120}
CORES=${CORES:-M4F M7 M0 M33}
RELEASE_TESTS=${RELEASE_TESTS-vq nn}
[ $# -gt 0 ] && RELEASE_TESTS=""
QEMU_OPTS="-nographic -monitor none -serial none -semihosting-config enable=on,target=native -kernel"

if ! command -v qemu-system-arm >/dev/null; then
    echo "qemu-tests: qemu-system-arm not found (apt-get install qemu-system-arm)" >&2
    exit 2
fi

cd "$ROOT/qemu" || exit 2
LOG=$(mktemp -d)
trap 'rm -rf "$LOG"' EXIT

failed=()
passed=()
for core in $CORES; do
    case $core in
        M4F) machine=mps2-an386 target=thumbv7em-none-eabihf ;;
        M7) machine=mps2-an500 target=thumbv7em-none-eabihf ;;
        # The micro:bit has 256K of flash: see the release build below.
        M0) machine=microbit target=thumbv6m-none-eabi ;;
        M33) machine=mps2-an505 target=thumbv8m.main-none-eabihf ;;
        *) echo "qemu-tests: unknown core $core (M4F, M7, M0 or M33)" >&2; exit 2 ;;
    esac
    var="CARGO_TARGET_$(echo "$target" | tr 'a-z-' 'A-Z_')_RUNNER"
    runner="timeout $TIMEOUT qemu-system-arm -machine $machine $QEMU_OPTS"
    echo "=== $core: $machine, $target"
    # The M0 runs every program in release (LTO, opt-level "s", no overflow checks): with every int8
    # operator linked, the debug images of fvvae and others no longer fit the micro:bit's 256K of
    # flash. The other cores keep the debug builds' overflow checks.
    # Even so the fvvae program (its fixtures and the whole interpreter) is 16K over on the M0: it
    # runs on the other three cores, and the M0 runs every other program.
    profile=()
    release_tests=$RELEASE_TESTS
    opt=s
    if [ "$core" = M0 ]; then
        # opt-level "z" on the M0: with SPLIT, SPLIT_V, UNPACK and GATHER the nn program at "s" is
        # 9.7K over the 256K.
        opt=z
        profile=(--release)
        release_tests=""
        if [ $# -eq 0 ]; then
            for f in tests/*.rs; do
                t=$(basename "$f" .rs)
                case $t in fvvae) ;; *) profile+=(--test "$t") ;; esac
            done
        fi
    fi
    env "$var=$runner" CARGO_PROFILE_RELEASE_OPT_LEVEL=$opt cargo test --target "$target" "${profile[@]}" "$@" 2>&1 |
        tee "$LOG/$core" | grep -v '^ *Compiling '
    status=${PIPESTATUS[0]}
    for t in $release_tests; do
        echo "=== $core: release build of $t"
        env "$var=$runner" cargo test --target "$target" --release --test "$t" 2>&1 | tee -a "$LOG/$core" | grep -v '^ *Compiling '
        [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
    done
    # One "<suite>: N passed, M failed" line per program that reached its end.
    programs=$(grep -E '^[A-Za-z0-9_-]+: [0-9]+ passed, [0-9]+ failed$' "$LOG/$core" | sed 's/ passed, 0 failed$/ ok/' | paste -sd ' ' -)
    if [ "$status" -eq 0 ]; then
        passed+=("$core")
        echo "--- $core ($machine): PASS [${programs:-no programs}]"
    else
        failed+=("$core")
        echo "--- $core ($machine): FAIL, cargo exit $status [${programs:-no program finished}]"
    fi
done

total=$(wc -w <<<"$CORES")
if [ ${#failed[@]} -eq 0 ]; then
    echo "qemu-tests: PASS on $total of $total cores (${passed[*]})"
else
    echo "qemu-tests: FAIL on ${#failed[@]} of $total cores (${failed[*]}); passed: ${passed[*]:-none}"
    exit 1
fi
