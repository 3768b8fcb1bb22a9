#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets: safetensors, npy, tflite, fv_vq, crafted) for SECONDS
# each (default 60) under libFuzzer + AddressSanitizer, starting from the committed seeds
# (fuzz/seeds/<target>: copies of tests/data fixtures; for crafted, the generator bytes of
# shared-table, chain and overflowing-shape files) plus the local working corpus
# (fuzz/corpus/<target>, gitignored, grows between runs). A crash leaves its input in
# fuzz/artifacts/<target>/ and fails the script. Needs cargo-fuzz and the nightly toolchain.
#   bash scripts/fuzz.sh [seconds] [target...]
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export CARGO_TERM_COLOR=never
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors npy tflite fv_vq crafted)

cargo +nightly fuzz build -O 2>&1 | tail -1
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    echo "fuzz: $t for ${secs}s"
    # -rss_limit_mb: the targets cap their own allocations; 2 GB catches a runaway one.
    cargo +nightly fuzz run -O "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 2>&1 |
        grep -E "^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss|==[0-9]+==|SUMMARY|thread .* panicked|Done [0-9]+ runs)" || true
    if [ -n "$(ls -A "artifacts/$t" 2>/dev/null)" ]; then
        echo "fuzz: $t FOUND a failing input: $(ls "artifacts/$t")"
        exit 1
    fi
done
echo "fuzz: no failure in ${#targets[@]} target(s) x ${secs}s"
