#!/usr/bin/env bash
# Runs the RISC-V test program (riscv/) under qemu-system-riscv32 (`virt` machine, semihosting) on
# riscv32imac (soft float) and riscv32imafc (single-precision FPU); exits non-zero if either fails.
# needs: qemu-system-riscv32 (qemu-system-misc), rustup targets riscv32imac-unknown-none-elf and
# riscv32imafc-unknown-none-elf (scripts/install-deps.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/../riscv"
for t in riscv32imac-unknown-none-elf riscv32imafc-unknown-none-elf; do
    echo "=== $t on qemu-system-riscv32 virt"
    cargo run --target "$t" "$@" 2>&1 | grep -v '^ *Compiling '
done
echo "riscv-tests: PASS"
