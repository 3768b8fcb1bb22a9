#!/usr/bin/env bash
# Link-time check that no panic is reachable from fvae's public entry points on Cortex-M4F
# (nopanic/: a no_std image whose panic handler calls an undefined symbol; see nopanic/src/main.rs).
#
# If the strict image links, no panic survived optimisation anywhere in the library's public API.
# If it does not, the image is rebuilt with the symbol defined and its call graph is walked back
# from the panic handler (nopanic/explain.py): every project function that still calls a
# panicking function is listed with its source lines. Those caller -> callee pairs are compared
# with nopanic/baseline.txt, the known (and documented) remaining sites: a NEW pair fails the
# check, a pair that disappeared is reported so the baseline can shrink. The pairs follow the
# compiler's inlining: after a toolchain update, review the --explain list and --update.
#   bash scripts/nopanic.sh            # the check (CI)
#   bash scripts/nopanic.sh --explain  # the full list with source lines
#   bash scripts/nopanic.sh --update   # rewrite the baseline from the current build
set -euo pipefail
cd "$(dirname "$0")/../nopanic"
export CARGO_TERM_COLOR=never
mode=${1:-check}

if [ "$mode" = check ] && cargo build --release -q 2>/tmp/nopanic-link.$$; then
    rm -f /tmp/nopanic-link.$$
    echo "nopanic: the image links: no panic is reachable from the public entry points"
    exit 0
fi
if [ "$mode" = check ] && ! grep -q "undefined symbol: fvae_reachable_panic" /tmp/nopanic-link.$$; then
    cat /tmp/nopanic-link.$$ # a real build error, not the check's verdict
    rm -f /tmp/nopanic-link.$$
    exit 1
fi
rm -f /tmp/nopanic-link.$$

cargo rustc --release -q -- --cfg nopanic_explain
image=target/thumbv7em-none-eabihf/release/fvae-nopanic
report=$(arm-none-eabi-objdump -d -C "$image" | python3 explain.py "$image")
current=$(grep -- ' -> ' <<<"$report" | grep -v '^ ' | sort -u)

case "$mode" in
--explain)
    echo "$report"
    exit 0
    ;;
--update)
    {
        echo "# caller -> panicking callee pairs still reachable in nopanic/ (scripts/nopanic.sh --update)"
        echo "$current"
    } >baseline.txt
    echo "nopanic: baseline.txt rewritten ($(wc -l <<<"$current") pairs)"
    exit 0
    ;;
esac

known=$(grep -v '^#' baseline.txt | sort -u)
new=$(comm -23 <(echo "$current") <(echo "$known"))
gone=$(comm -13 <(echo "$current") <(echo "$known"))
echo "nopanic: the strict image does not link: $(wc -l <<<"$current") caller -> panic pairs remain (baseline $(wc -l <<<"$known"))"
if [ -n "$gone" ]; then
    echo "nopanic: no longer reachable (shrink the baseline with --update):"
    sed 's/^/    /' <<<"$gone"
fi
if [ -n "$new" ]; then
    echo "nopanic: NEW reachable panics (details: bash scripts/nopanic.sh --explain):"
    sed 's/^/    /' <<<"$new"
    exit 1
fi
echo "nopanic: no new reachable panic"
