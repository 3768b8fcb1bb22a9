#!/usr/bin/env bash
# Installs what a fresh machine lacks for the full test suite: Rust targets, QEMU (Cortex-M
# system emulation and aarch64 user mode), the Arm/aarch64 cross toolchains, and the
# Python packages the tests call (in ./.venv). Idempotent:
# it only installs what is missing, so scripts/test.sh calls it every time.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v qemu-system-arm >/dev/null || need_apt+=(qemu-system-arm)
command -v qemu-aarch64 >/dev/null || need_apt+=(qemu-user)
command -v qemu-system-riscv32 >/dev/null || need_apt+=(qemu-system-misc) # RISC-V tests (riscv/)
command -v node >/dev/null || need_apt+=(nodejs)                          # WASI runner of the wasm32 tests
command -v arm-none-eabi-gcc >/dev/null || need_apt+=(gcc-arm-none-eabi binutils-arm-none-eabi libnewlib-arm-none-eabi)
command -v aarch64-linux-gnu-gcc >/dev/null || need_apt+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
command -v python3 >/dev/null || need_apt+=(python3)
command -v g++ >/dev/null || need_apt+=(g++) # capi: the header must compile as C++
if ((${#need_apt[@]})); then
    echo "install-deps: apt-get install ${need_apt[*]}"
    sudo_cmd=""
    [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

targets=(thumbv7em-none-eabihf thumbv6m-none-eabi aarch64-unknown-linux-gnu thumbv8m.main-none-eabihf
    wasm32-wasip1 riscv32imac-unknown-none-elf riscv32imafc-unknown-none-elf)
installed=$(rustup target list --installed)
for t in "${targets[@]}"; do
    grep -qx "$t" <<<"$installed" || rustup target add "$t"
done
for c in rustfmt clippy; do
    rustup component list --installed | grep -q "^$c" || rustup component add "$c"
done

# The firmware example logs with defmt; defmt-print decodes it (a ~3 minute build, once).
command -v defmt-print >/dev/null || cargo install -q --locked defmt-print

# Fuzzing (scripts/fuzz.sh, run briefly by scripts/test.sh) and sanitizers need nightly and cargo-fuzz
# (cargo-fuzz: a ~2 minute build, once).
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install -q --locked cargo-fuzz

# Python packages the tests call go into a venv of the project's own (./.venv), never the system's
# python3; scripts/test.sh puts .venv/bin first on PATH. Reinstalled only when the list changes.
venv=.venv
req=scripts/requirements-ci.txt
if [ ! -x "$venv/bin/python3" ]; then
    python3 -m venv "$venv" 2>/dev/null || {
        sudo_cmd=""
        [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
        $sudo_cmd apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
        rm -rf "$venv"
        python3 -m venv "$venv"
    }
fi
if ! cmp -s "$req" "$venv/.installed-requirements"; then
    echo "install-deps: pip install -r $req into $venv"
    "$venv/bin/python3" -m pip install -q --disable-pip-version-check -r "$req"
    cp "$req" "$venv/.installed-requirements"
fi
