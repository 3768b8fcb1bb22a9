#!/usr/bin/env bash
# Builds the firmware example (examples/firmware) and runs its two programs on three emulated cores: one encodes
# its descriptor stream into a Fisher vector, the other digits into VQ-VAE indices; each logs with defmt
# (decoded by defmt-print) and checks its own result:
#   M4F  mps2-an386  thumbv7em-none-eabihf
#   M7   mps2-an500  thumbv7em-none-eabihf (the same image)
#   M0   microbit    thumbv6m-none-eabi
# Exits non-zero if the program fails on any core, or if defmt-print is missing (cargo install defmt-print).
# env: CORES (default "M4F M7 M0"), QEMU_TIMEOUT (seconds, default 120).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CORES=${CORES:-M4F M7 M0}
for tool in qemu-system-arm defmt-print; do
    command -v $tool >/dev/null || {
        echo "firmware: $tool not found (qemu-system-arm: apt-get; defmt-print: cargo install defmt-print)" >&2
        exit 2
    }
done
cd "$ROOT/examples/firmware" || exit 2

failed=()
for core in $CORES; do
    case $core in
        M4F) machine=mps2-an386 target=thumbv7em-none-eabihf ;;
        M7) machine=mps2-an500 target=thumbv7em-none-eabihf ;;
        M0) machine=microbit target=thumbv6m-none-eabi ;;
        *) echo "firmware: unknown core $core" >&2; exit 2 ;;
    esac
    for bin in fvae-firmware fvae-vqvae-firmware; do
        echo "=== $bin on $core ($machine, $target)"
        if QEMU_MACHINE=$machine cargo run --quiet --release --target $target --bin $bin; then
            echo "--- $core $bin: PASS"
        else
            echo "--- $core $bin: FAIL"
            failed+=("$core:$bin")
        fi
    done
done
if [ ${#failed[@]} -eq 0 ]; then
    echo "firmware: PASS on $(wc -w <<<"$CORES") cores ($CORES)"
else
    echo "firmware: FAIL on ${failed[*]}"
    exit 1
fi
