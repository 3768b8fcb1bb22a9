#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, host tests, no_std builds for every
# embedded target, aarch64 NEON tests under qemu-user, wasm32 simd128 tests under Node's WASI, the
# Cortex-M programs under qemu-system-arm and the RISC-V program under qemu-system-riscv32 (README's
# target table lists what each row selects). Installs missing tools first (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

step() { printf '\n=== %s\n' "$*"; }

step "install what is missing"
bash scripts/install-deps.sh
# The tests' Python (tools/, fixtures) is the project's venv, not the system's python3.
export PATH="$PWD/.venv/bin:$PATH"

step "rustfmt (workspace and the Cortex-M crates outside it)"
cargo fmt --all --check
for crate in qemu riscv examples/firmware examples/footprint nopanic fuzz; do
    (cd "$crate" && cargo fmt --check)
done

step "clippy (host, all targets, -D warnings)"
cargo clippy --workspace --all-targets --features nalgebra -- -D warnings

step "host tests (x86_64: every SIMD path this CPU has is tested against the scalar reference)"
cargo test --workspace --features nalgebra

step "fitting against scikit-learn's stored figures (100 fits: release)"
cargo test --release -p fvae --test fit

step "clippy for wasm32 (simd128 paths and the scalar fallback) and the RISC-V program"
cargo clippy --target wasm32-wasip1 -p fvae-kernels -p fvae --all-targets -- -D warnings
RUSTFLAGS="-C target-feature=+simd128" cargo clippy --target wasm32-wasip1 -p fvae-kernels -p fvae --all-targets -- -D warnings
(cd riscv && cargo clippy -- -D warnings)

step "no_std builds: Cortex-M0, M4F, M33 (without a DSP cpu: scalar int8), RISC-V rv32imac and rv32imafc"
for t in thumbv6m-none-eabi thumbv7em-none-eabihf thumbv8m.main-none-eabihf riscv32imac-unknown-none-elf \
    riscv32imafc-unknown-none-elf; do
    cargo build -p fvae --release --target "$t"
    cargo build -p fvae --release --target "$t" --features nalgebra,micromath,defmt
done

step "no panic reachable from the public API on Cortex-M4F and M0 (link-time check, scripts/nopanic.sh)"
bash scripts/nopanic.sh

step "x86_64 CPU detection, the AVX2 / SSE2 paths and the nn layer paths under qemu-user (Haswell: AVX2, Nehalem: SSE4.2)"
for cpu_level in Haswell:avx2 Nehalem:sse2; do
    CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="qemu-x86_64 -cpu ${cpu_level%%:*}" FVAE_EXPECT_X86_LEVEL=${cpu_level#*:} \
        cargo test --release -p fvae-kernels --tests
    CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="qemu-x86_64 -cpu ${cpu_level%%:*}" FVAE_EXPECT_X86_LEVEL=${cpu_level#*:} \
        cargo test --release -p fvae --test nn_paths
done

step "aarch64 under qemu-user (NEON paths)"
cargo test -p fvae-kernels -p fvae --target aarch64-unknown-linux-gnu

step "wasm32-wasip1 with simd128 under Node's WASI (simd128 paths against the scalar reference, fixtures)"
CARGO_TARGET_WASM32_WASIP1_RUNNER="node --experimental-wasi-unstable-preview1 --no-warnings $PWD/scripts/wasi-run.mjs" \
    RUSTFLAGS="-C target-feature=+simd128" cargo test -p fvae-kernels -p fvae --target wasm32-wasip1

step "RISC-V under qemu-system-riscv32 (virt): rv32imac (soft float) and rv32imafc"
bash scripts/riscv-tests.sh

if [ -x scripts/qemu-tests.sh ]; then
    step "Cortex-M under qemu-system-arm (M4F, M7, M0, M33)"
    bash scripts/qemu-tests.sh
fi

step "Cortex-M firmware example (defmt over semihosting) on M4F, M7, M0"
bash scripts/firmware.sh

step "embedded footprint (flash, stack, instructions) against footprint.json, +10% fails"
bash scripts/footprint.sh

step "int8 networks on Cortex-M0 (instructions, arena, flash, stack) against footprint-m0.json, +10% fails"
bash scripts/footprint.sh --m0

step "C static library: header and C tests on the host and on Cortex-M4F (QEMU)"
bash capi/run-c-tests.sh

if command -v cargo-fuzz >/dev/null; then
    step "fuzzing: each cargo-fuzz target for 15 s from the committed seeds (scripts/fuzz.sh)"
    bash scripts/fuzz.sh 15
fi

step "Python package: pip install ./python into .venv, pytest against scikit-image, scikit-learn, faiss, TFLite Micro, Dask"
python3 -m pip install -q --disable-pip-version-check ./python
# pytest exits 5 when it collected no test: that is a failure here, as any other non-zero exit.
pytest_rc=0
python3 -m pytest -q -p no:cacheprovider python/tests || pytest_rc=$?
if [ "$pytest_rc" -ne 0 ]; then
    echo "python tests failed (pytest exit $pytest_rc; 5 means no test ran)"
    exit 1
fi

step "all passed"
