#!/usr/bin/env bash
# Per-inference latency: LiteRT (pip ai-edge-litert, XNNPACK, 1 thread), the TFLite Micro Python
# interpreter (pip tflite-micro) and `fvae decode --threads 1` over 100 000 rows, on the models
# of tests/data/tflite. Prints a markdown table (benches/tflite_latency.py explains the timing).
# The venv is ./bench-venv (gitignored); it is created on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x bench-venv/bin/python ]; then
    python3 -m venv bench-venv
    bench-venv/bin/pip install -q ai-edge-litert tflite-micro numpy
fi
cargo build -q --release -p fvae-cli
# Timings depend on the machine and on what else runs on it: say which.
grep -m1 'model name' /proc/cpuinfo || true
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
bench-venv/bin/python benches/tflite_latency.py
