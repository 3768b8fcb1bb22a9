#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, host tests, no_std builds for
# Cortex-M0 and M4F, aarch64 NEON tests under qemu-user, and the Cortex-M programs under
# qemu-system-arm. Installs missing tools first (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

step() { printf '\n=== %s\n' "$*"; }

step "install what is missing"
bash scripts/install-deps.sh

step "rustfmt (workspace and the Cortex-M crates outside it)"
cargo fmt --all --check
for crate in qemu examples/firmware examples/footprint nopanic fuzz; do
    (cd "$crate" && cargo fmt --check)
done

step "clippy (host, all targets, -D warnings)"
cargo clippy --workspace --all-targets --features nalgebra -- -D warnings

step "host tests (x86_64: every SIMD path this CPU has is tested against the scalar reference)"
cargo test --workspace --features nalgebra

step "no_std builds: Cortex-M0 (thumbv6m) and Cortex-M4F (thumbv7em)"
for t in thumbv6m-none-eabi thumbv7em-none-eabihf; do
    cargo build -p fvae --release --target "$t"
    cargo build -p fvae --release --target "$t" --features nalgebra,micromath,defmt
done

step "no panic reachable from the public API on Cortex-M4F (link-time check, scripts/nopanic.sh)"
bash scripts/nopanic.sh

step "aarch64 under qemu-user (NEON paths)"
cargo test -p fvae-kernels -p fvae --target aarch64-unknown-linux-gnu

if [ -x scripts/qemu-tests.sh ]; then
    step "Cortex-M under qemu-system-arm"
    bash scripts/qemu-tests.sh
fi

step "Cortex-M firmware example (defmt over semihosting) on M4F, M7, M0"
bash scripts/firmware.sh

step "embedded footprint (flash, stack, instructions) against footprint.json, +10% fails"
bash scripts/footprint.sh

step "C static library: header and C tests on the host and on Cortex-M4F (QEMU)"
bash capi/run-c-tests.sh

if command -v cargo-fuzz >/dev/null; then
    step "fuzzing: each cargo-fuzz target for 15 s from the committed seeds (scripts/fuzz.sh)"
    bash scripts/fuzz.sh 15
fi

step "all passed"
