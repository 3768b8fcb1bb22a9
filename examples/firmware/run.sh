#!/usr/bin/env bash
# Cargo runner: boots ELF in qemu-system-arm, decodes its defmt log (semihosting stdout) with defmt-print, and
# exits with the program's semihosting exit code (0: its self-check passed).
#   machine: QEMU_MACHINE, or by target: thumbv6m-none-eabi -> microbit (Cortex-M0), otherwise mps2-an386
#   (Cortex-M4F); QEMU_MACHINE=mps2-an500 runs the thumbv7em image on a Cortex-M7.
set -uo pipefail
elf=$1
case $elf in
    *thumbv6m-none-eabi*) default=microbit ;;
    *) default=mps2-an386 ;;
esac
machine=${QEMU_MACHINE:-$default}
if ! command -v defmt-print >/dev/null; then
    echo "run.sh: defmt-print not found: cargo install defmt-print" >&2
    exit 2
fi
timeout "${QEMU_TIMEOUT:-120}" qemu-system-arm -machine "$machine" -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native -kernel "$elf" | defmt-print -e "$elf"
exit "${PIPESTATUS[0]}"
