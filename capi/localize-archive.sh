#!/usr/bin/env bash
# capi/localize-archive.sh IN.a OUT.a [TOOL_PREFIX]: rewrites cargo's staticlib so that only the C API
# (fvae_*) is global. cargo's archive exports every Rust-internal global of fvae, core/std and
# compiler_builtins (mangled _ZN/_R names, __aeabi_*/__udivdi3-style helpers, rust_eh_personality),
# which can clash with a C program's own runtime or with a second Rust library. A partial link
# (ld -r) merges all members into one object, so the calls between them are resolved inside it, and
# objcopy then makes every defined symbol but fvae_* local. Sections stay separate, so a final
# link with --gc-sections still drops what the program does not call. TOOL_PREFIX is e.g.
# arm-none-eabi- for the Cortex-M archive (empty: the host's ld/objcopy/ar).
set -euo pipefail
in=$1
out=$2
pre=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"${pre}ld" -r --whole-archive "$in" -z noexecstack -o "$tmp/fvae.o"
"${pre}objcopy" --wildcard --keep-global-symbol='fvae_*' "$tmp/fvae.o" "$tmp/fvae_capi.o"
# binutils' ar loads every plugin in /usr/lib/bfd-plugins to index members; LLVM 14's LLVMgold
# aborts ("Invalid encoding") on this object, so name gcc's LTO plugin explicitly when there is one.
plugin=()
lto=$(gcc -print-file-name=liblto_plugin.so 2>/dev/null || true)
if [ -n "$lto" ] && [ -f "$lto" ]; then
    plugin=(--plugin "$lto")
fi
rm -f "$out"
"${pre}ar" "${plugin[@]}" rcs "$out" "$tmp/fvae_capi.o"
