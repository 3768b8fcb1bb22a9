#!/usr/bin/env python3
"""Per-inference latency of LiteRT (XNNPACK, 1 thread), the TFLite Micro Python interpreter and
`fvae decode --threads 1` on the same .tflite models, printed as a markdown table.

Run through benches/tflite_latency.sh (which makes the venv and builds fvae). Timings:
- LiteRT / TFLite Micro: `invoke()` only, averaged over many calls cycling through the
  fixture's 128 inputs (set_tensor/get_tensor outside the timed region).
- fvae: `fvae decode --threads 1 --timing` over 100 000 rows (the 128 inputs tiled); the
  reported figure is the compute time per row printed by --timing (input copy, invoke, output
  copy; file I/O excluded), plus the whole command's wall time per row for reference.
Each is the median of REPEAT runs. The outputs of all three are also compared with the
fixture's expected (TFLite Micro) outputs.
"""
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DATA = os.path.join(ROOT, "tests", "data", "tflite")
FVAE = os.path.join(ROOT, "target", "release", "fvae")
MODELS = ["mlp_decoder", "conv_decoder", "mlp_encoder"]
ROWS = 100_000
REPEAT = 5


def litert(name, x, want):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=os.path.join(DATA, name + ".tflite"), num_threads=1)
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    ok = True
    for r in range(len(x)):
        it.set_tensor(inp["index"], x[r : r + 1])
        it.invoke()
        ok &= bool((it.get_tensor(out["index"]).reshape(-1) == want[r]).all())
    runs = []
    for _ in range(REPEAT):
        total, n = 0.0, 0
        for k in range(20_000):
            it.set_tensor(inp["index"], x[k % len(x) : k % len(x) + 1])
            t = time.perf_counter_ns()
            it.invoke()
            total += time.perf_counter_ns() - t
            n += 1
        runs.append(total / n / 1e3)
    return statistics.median(runs), ok


def tflm(name, x, want):
    from tflite_micro.python.tflite_micro import runtime

    with open(os.path.join(DATA, name + ".tflite"), "rb") as f:
        model = f.read()
    it = runtime.Interpreter.from_bytes(model)
    ok = True
    for r in range(len(x)):
        it.set_input(x[r : r + 1], 0)
        it.invoke()
        ok &= bool((it.get_output(0).reshape(-1) == want[r]).all())
    runs = []
    for _ in range(REPEAT):
        total, n = 0.0, 0
        for k in range(3_000):
            it.set_input(x[k % len(x) : k % len(x) + 1], 0)
            t = time.perf_counter_ns()
            it.invoke()
            total += time.perf_counter_ns() - t
            n += 1
        runs.append(total / n / 1e3)
    return statistics.median(runs), ok, model


def fvae(name, x, want):
    big = np.tile(x, (ROWS // len(x) + 1, 1))[:ROWS]
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = os.path.join(tmp, "x.npy"), os.path.join(tmp, "y.npy")
        np.save(inp, big)
        compute, wall = [], []
        for _ in range(REPEAT):
            t = time.perf_counter()
            p = subprocess.run(
                [FVAE, "decode", "--model", os.path.join(DATA, name + ".tflite"), "--input", inp, "--out", out,
                 "--threads", "1", "--timing"],
                capture_output=True, text=True, check=True)
            wall.append((time.perf_counter() - t) * 1e6 / ROWS)
            m = re.search(r"([0-9.]+) us per row \(\d+ threads?, (\S+) path\)", p.stderr)
            compute.append(float(m.group(1)))
            path = m.group(2)
        y = np.load(out)
        ok = bool((y[: len(x)] == want).all() and (y == np.tile(want, (ROWS // len(x) + 1, 1))[:ROWS]).all())
    return statistics.median(compute), statistics.median(wall), ok, path


def main():
    rows = []
    for name in MODELS:
        x = np.load(os.path.join(DATA, name + "_input.npy"))
        want = np.load(os.path.join(DATA, name + "_expected.npy"))
        lt, lt_ok = litert(name, x, want)
        tm, tm_ok, _ = tflm(name, x, want)
        fc, fw, f_ok, path = fvae(name, x, want)
        rows.append((name, lt, lt_ok, tm, tm_ok, fc, fw, f_ok, path))
        print(f"{name}: litert {lt:.2f} us, tflm {tm:.2f} us, fvae {fc:.2f} us ({fw:.2f} us with I/O)", file=sys.stderr)
    print("| model | LiteRT (XNNPACK, 1 thread) | TFLite Micro (Python) | fvae decode --threads 1 | fvae incl. file I/O | "
          "bit-exact vs TFLite Micro (LiteRT / fvae) |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for name, lt, lt_ok, tm, tm_ok, fc, fw, f_ok, path in rows:
        print(f"| {name} | {lt:.2f} us | {tm:.2f} us | {fc:.2f} us ({path}) | {fw:.2f} us | "
              f"{'yes' if lt_ok else 'no'} / {'yes' if f_ok else 'no'} |")


if __name__ == "__main__":
    main()
