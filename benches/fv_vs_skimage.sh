#!/usr/bin/env bash
# Benchmark: scikit-image fisher_vector(improved=True) vs `fvae fv --improved --threads 1`, same data,
# same run, interleaved, best of 5, on an easy synthetic mixture and on GMMs fitted to image patches.
# Uses the Python in $PYTHON when set (it needs numpy, scikit-learn and scikit-image); otherwise
# creates ./bench-venv with them on first use.
# fvae is timed twice: encoding alone (--timing) and the whole process (start-up and .npy I/O included).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
    if [ ! -x bench-venv/bin/python ]; then
        python3 -m venv bench-venv
        bench-venv/bin/pip install -q numpy scikit-learn scikit-image
    fi
    PYTHON=bench-venv/bin/python
fi
cargo build --release -q -p fvae-cli
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); fvae kernels: $(target/release/fvae --version); load: $(cut -d" " -f1-3 /proc/loadavg)"
"$PYTHON" benches/fv_vs_skimage.py target/release/fvae "${TMPDIR:-/tmp}/fvae-bench" "$@"
