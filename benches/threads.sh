#!/bin/sh
# Thread scaling of `fvae fv`, `fvae vq` and `fvae decode` on 10^5 rows: the whole process (start-up,
# .npy reading and writing included) at --threads 1 and --threads 2, interleaved (1, 2, 1, 2, ...),
# best of REPEATS (default 5); prints the CPU, the load average before and after, and a markdown table
# of the times, the ratios and each run's processor time. The machine's other work slows both alike only
# if it is steady: read the load figures. FVAE=path times another build. Uses $PYTHON if set (it needs
# numpy), else ./bench-venv (created on first use).
set -eu
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
    if [ ! -x bench-venv/bin/python ] || ! bench-venv/bin/python -c "import numpy" 2>/dev/null; then
        python3 -m venv bench-venv
        bench-venv/bin/pip install --quiet numpy
    fi
    PYTHON=bench-venv/bin/python
fi
cargo build --quiet --release -p fvae-cli
exec "$PYTHON" benches/threads.py "$@"
