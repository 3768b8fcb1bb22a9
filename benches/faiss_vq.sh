#!/bin/sh
# fvae vq against faiss IndexFlatL2 (one thread each, same data, same run); prints a markdown table.
# Uses $PYTHON if set (it needs numpy, faiss-cpu and scikit-learn), else ./bench-venv (gitignored),
# created with those from PyPI on first use.
set -eu
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
    if [ ! -x bench-venv/bin/python ] || ! bench-venv/bin/python -c "import faiss, numpy, sklearn" 2>/dev/null; then
        python3 -m venv bench-venv
        bench-venv/bin/pip install --quiet numpy faiss-cpu scikit-learn
    fi
    PYTHON=bench-venv/bin/python
fi
cargo build --quiet --release -p fvae-cli
cargo build --quiet --release --features std --example vq_latency
exec "$PYTHON" benches/faiss_vq.py "$@"
