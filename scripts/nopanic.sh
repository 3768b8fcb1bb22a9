#!/usr/bin/env bash
# Link-time check that no panic is reachable from fvae's public entry points on Cortex-M
# (nopanic/: a no_std image whose panic handler calls an undefined symbol; see nopanic/src/main.rs).
#
# The image is built for the Cortex-M4F (thumbv7em-none-eabihf: the FPU and DSP paths) and the
# Cortex-M0 (thumbv6m-none-eabi: the scalar paths). If it links, no panic survived optimisation
# anywhere in the library's public API; any reachable panic fails the check. On failure the
# image is rebuilt with the symbol defined and its call graph is walked back from the panic
# handler (nopanic/explain.py): every project function that still calls a panicking function is
# listed with its source lines. The result follows the compiler's inlining: a toolchain update
# can expose a bounds check the old one proved away; fix it at its root (see the README).
#   bash scripts/nopanic.sh            # the check (CI): both targets must link
#   bash scripts/nopanic.sh --explain  # the list of caller -> panic pairs with source lines, per target
set -euo pipefail
cd "$(dirname "$0")/../nopanic"
export CARGO_TERM_COLOR=never
mode=${1:-check}
targets="thumbv7em-none-eabihf thumbv6m-none-eabi"

explain() {
    cargo rustc --release -q --target "$1" -- --cfg nopanic_explain
    local image=target/$1/release/fvae-nopanic
    arm-none-eabi-objdump -d -C "$image" | python3 explain.py "$image"
}

failed=0
for target in $targets; do
    if [ "$mode" = --explain ]; then
        echo "== $target"
        explain "$target"
        continue
    fi
    log=$(mktemp)
    if cargo build --release -q --target "$target" 2>"$log"; then
        echo "nopanic: $target: the image links: no panic is reachable from the public entry points"
    elif grep -q "undefined symbol: fvae_reachable_panic" "$log"; then
        echo "nopanic: $target: the image does NOT link: a panic is reachable from the public entry points:"
        explain "$target" | sed 's/^/    /'
        failed=1
    else
        cat "$log" # a real build error, not the check's verdict
        failed=1
    fi
    rm -f "$log"
done
exit $failed
