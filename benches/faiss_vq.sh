#!/bin/sh
# fvae vq against faiss IndexFlatL2 (one thread each, same data, same run); prints a markdown table.
# Creates ./bench-venv (gitignored) with numpy and faiss-cpu from PyPI on first use.
set -eu
cd "$(dirname "$0")/.."
if [ ! -x bench-venv/bin/python ] || ! bench-venv/bin/python -c "import faiss, numpy" 2>/dev/null; then
    python3 -m venv bench-venv
    bench-venv/bin/pip install --quiet numpy faiss-cpu
fi
cargo build --quiet --release -p fvae-cli
cargo build --quiet --release --features std --example vq_latency
exec bench-venv/bin/python benches/faiss_vq.py "$@"
