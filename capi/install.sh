#!/usr/bin/env bash
# Host install: capi/install.sh [PREFIX] (default /usr/local) builds libfvae.a in release and installs
# PREFIX/lib/libfvae.a, PREFIX/include/fvae.h and PREFIX/lib/pkgconfig/fvae.pc.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-/usr/local}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' capi/Cargo.toml | head -1)
cargo build -q -p fvae-capi --release
install -d "$prefix/lib/pkgconfig" "$prefix/include"
# Only fvae_* stays global (see localize-archive.sh).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bash capi/localize-archive.sh target/release/libfvae_capi.a "$tmp/libfvae.a"
install -m 644 "$tmp/libfvae.a" "$prefix/lib/libfvae.a"
install -m 644 capi/include/fvae.h "$prefix/include/fvae.h"
sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" capi/fvae.pc.in >"$prefix/lib/pkgconfig/fvae.pc"
echo "installed fvae $version to $prefix (pkg-config --cflags --libs fvae)"
