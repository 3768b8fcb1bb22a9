#!/usr/bin/env bash
# Per-inference latency: LiteRT (pip ai-edge-litert, XNNPACK, 1 thread), the TFLite Micro Python
# interpreter (pip tflite-micro) and `fvae decode --threads 1`, on the fixture models of
# tests/data/tflite (easy: small hand-made networks) and the real converters' models of
# tests/data/real (realistic: the keras.io conv VAE at 28x28, conv VQ-VAE parts). Prints a
# markdown table (benches/tflite_latency.py explains the timing).
# PYTHON=/path/to/python uses an existing venv with ai-edge-litert, tflite-micro and numpy;
# otherwise ./bench-venv (gitignored) is created on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-bench-venv/bin/python}"
if [ -z "${PYTHON:-}" ] && [ ! -x bench-venv/bin/python ]; then
    python3 -m venv bench-venv
    bench-venv/bin/pip install -q ai-edge-litert tflite-micro numpy
fi
cargo build -q --release -p fvae-cli
# Timings depend on the machine and on what else runs on it: say which.
grep -m1 'model name' /proc/cpuinfo || true
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
"$PY" benches/tflite_latency.py
