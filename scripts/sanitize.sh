#!/usr/bin/env bash
# The unsafe SIMD kernels and the parsers under sanitizers (nightly toolchain; not part of CI's
# scripts/test.sh because an AddressSanitizer build of the test suites takes ~10 minutes here).
#
# 1. AddressSanitizer: the kernels' tests (every x86 SIMD path this CPU has against the scalar
#    reference, unaligned and odd-length slices) and the library's tests that drive the parsers
#    and kernels with bad, damaged and random input. Out-of-bounds reads/writes, use after free
#    and leaks abort the test with a report.
# 2. Miri (if the component installs): the parsing and validation tests (safetensors, GMM,
#    Fisher, VQ nothing-lost), interpreted with Miri's checks for undefined behaviour (alignment of the
#    in-place casts, provenance, out-of-bounds). Miri reports only SSE2 to is_x86_feature_detected,
#    so the dispatch takes the SSE2 paths, which Miri emulates.
#   bash scripts/sanitize.sh [asan|miri]   (both by default)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
what=${1:-all}
host=x86_64-unknown-linux-gnu

if [ "$what" = all ] || [ "$what" = asan ]; then
    echo "=== AddressSanitizer"
    # std is not rebuilt with ASan (no -Zbuild-std): allow the sanitizer ABI mismatch with it.
    # Own target dir, so the normal build cache is not invalidated.
    RUSTFLAGS="-Zsanitizer=address -Cunsafe-allow-abi-mismatch=sanitizer" \
        RUSTDOCFLAGS="-Zsanitizer=address" ASAN_OPTIONS="detect_leaks=1" \
        cargo +nightly test --target "$host" --target-dir target/asan \
        -p fvae-kernels -p fvae --lib --tests \
        --test properties --test vq --test nn --test bad_input --test damaged_files --test nothing_lost
fi

if [ "$what" = all ] || [ "$what" = miri ]; then
    echo "=== Miri"
    if ! rustup +nightly component list --installed | grep -q '^miri'; then
        rustup +nightly component add miri rust-src || { echo "sanitize: miri not installable, skipped"; exit 0; }
    fi
    # Tests read fixture files: isolation off. The damaged-file and tflite corrupted-bytes loops are
    # too slow to interpret (the latter ran > 12 minutes and was stopped); ASan covers them above.
    # bad_input (every truncation of a .safetensors, GMM validation) takes ~6 minutes here.
    MIRIFLAGS="-Zmiri-disable-isolation" cargo +nightly miri test --target-dir target/miri \
        -p fvae --test bad_input --test nothing_lost
fi
echo "sanitize: done"
