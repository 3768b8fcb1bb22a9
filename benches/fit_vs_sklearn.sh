#!/usr/bin/env bash
# Benchmark: scikit-learn GaussianMixture(covariance_type="diag") and KMeans vs `fvae fit-gmm` and
# `fvae fit-kmeans` (--threads 1), same data, same run. Creates ./bench-venv with numpy
# and scikit-learn on first use. fvae's times include process start-up and file I/O.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x bench-venv/bin/python ]; then
    python3 -m venv bench-venv
    bench-venv/bin/pip install -q numpy scikit-learn
fi
cargo build --release -q -p fvae-cli
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(target/release/fvae --version)"
echo "load average (1/5/15 min): $(cut -d' ' -f1-3 /proc/loadavg) (a shared machine makes wall-clock times noisy)"
bench-venv/bin/python benches/fit_vs_sklearn.py target/release/fvae "${TMPDIR:-/tmp}/fvae-fit-bench" "$@"
