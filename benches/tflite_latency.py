#!/usr/bin/env python3
"""Per-inference latency of LiteRT (XNNPACK, 1 thread), the TFLite Micro Python interpreter and
`fvae decode --threads 1` on the same .tflite models, printed as a markdown table.

Run through benches/tflite_latency.sh (which makes the venv and builds fvae). Timings:
- LiteRT / TFLite Micro: `invoke()` only (compute only), averaged over many calls cycling
  through the model's recorded inputs (set_tensor/get_tensor outside the timed region).
- fvae: `fvae decode --threads 1 --timing` over ROWS rows (the recorded inputs tiled): the
  compute time per row printed by --timing (input copy, invoke, output copy; file I/O excluded),
  and the whole command's wall time per row (start-up and .npy I/O included: whole process).
The three run interleaved, REPEAT rounds, and each figure is the best of its rounds. The
outputs of all three are also compared with the recorded (TFLite Micro) outputs.
"""
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DATA = os.path.join(ROOT, "tests", "data")
FVAE = os.path.join(ROOT, "target", "release", "fvae")
# (case, model path under tests/data, input, expected outputs): the hand-made fixtures (easy)
# and the real converters' models (realistic).
FIXTURES = [("easy", f"tflite/{n}", f"tflite/{n}_input.npy", [f"tflite/{n}_expected.npy"])
            for n in ["mlp_decoder", "conv_decoder", "mlp_encoder"]]
REAL = [("realistic", f"real/{n}", f"real/{n}_in0.npy", [f"real/{n}_out{k}.npy" for k in range(outs)])
        for n, outs in [("conv_decoder28_b1", 1), ("conv_encoder28_b1", 2), ("conv_decoder_b1", 1),
                        ("conv_encoder_b1", 2), ("vq_encoder_b1", 1), ("vq_decoder_residual_b1", 1),
                        ("torch_vq_encoder_b1", 1), ("torch_conv_decoder_b1", 1)]]
MODELS = FIXTURES + REAL
ROWS = 20_000
REPEAT = 5


def row(x, r, shape):
    return x[r : r + 1].reshape(shape)


def litert(name, x, want):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=os.path.join(DATA, name + ".tflite"), num_threads=1)
    it.allocate_tensors()
    inp, outs = it.get_input_details()[0], it.get_output_details()
    ok = True
    for r in range(len(x)):
        it.set_tensor(inp["index"], row(x, r, inp["shape"]))
        it.invoke()
        # (LiteRT may list the outputs in another order: each must match one recorded output.)
        got = [it.get_tensor(o["index"]).reshape(-1) for o in outs]
        ok &= all(any(g.shape == w[r].reshape(-1).shape and (g == w[r].reshape(-1)).all() for g in got)
                  for w in want)
    runs = []
    for _ in range(1):
        total, n = 0.0, 0
        for k in range(max(2_000, 200_000 // max(1, x[0].size))):
            it.set_tensor(inp["index"], row(x, k % len(x), inp["shape"]))
            t = time.perf_counter_ns()
            it.invoke()
            total += time.perf_counter_ns() - t
            n += 1
        runs.append(total / n / 1e3)
    return min(runs), ok


def tflm(name, x, want):
    from tflite_micro.python.tflite_micro import runtime

    with open(os.path.join(DATA, name + ".tflite"), "rb") as f:
        model = f.read()
    it = runtime.Interpreter.from_bytes(model, arena_size=256 * 1024)
    shape = it.get_input_details(0)["shape"]
    ok = True
    for r in range(len(x)):
        it.set_input(row(x, r, shape), 0)
        it.invoke()
        ok &= all(bool((it.get_output(k).reshape(-1) == w[r].reshape(-1)).all()) for k, w in enumerate(want))
    runs = []
    for _ in range(1):
        total, n = 0.0, 0
        for k in range(300):
            it.set_input(row(x, k % len(x), shape), 0)
            t = time.perf_counter_ns()
            it.invoke()
            total += time.perf_counter_ns() - t
            n += 1
        runs.append(total / n / 1e3)
    return min(runs), ok, model


def fvae(name, x, want):
    big = np.tile(x, (ROWS // len(x) + 1,) + (1,) * (x.ndim - 1))[:ROWS]
    with tempfile.TemporaryDirectory() as tmp:
        inp = os.path.join(tmp, "x.npy")
        outs = [os.path.join(tmp, f"y{k}.npy") for k in range(len(want))]
        np.save(inp, big)
        args = [FVAE, "decode", "--model", os.path.join(DATA, name + ".tflite"), "--input", inp]
        for o in outs:
            args += ["--out", o]
        t = time.perf_counter()
        p = subprocess.run(args + ["--threads", "1", "--timing"], capture_output=True, text=True, check=True)
        wall = (time.perf_counter() - t) * 1e6 / ROWS
        m = re.search(r"([0-9.]+) us per row \(\d+ threads?, (\S+) path\)", p.stderr)
        ok = all(bool((np.load(o).reshape(ROWS, -1) ==
                       np.tile(w.reshape(len(w), -1), (ROWS // len(w) + 1, 1))[:ROWS]).all())
                 for o, w in zip(outs, want))
    return float(m.group(1)), wall, ok, m.group(2)


def main():
    rows = []
    for case, name, inp, outs in MODELS:
        x = np.load(os.path.join(DATA, inp))
        want = [np.load(os.path.join(DATA, o)) for o in outs]
        best = None
        # Interleaved: each round runs all three, so a change of load hits them alike.
        for _ in range(REPEAT):
            lt, lt_ok = litert(name, x, want)
            tm, tm_ok, _ = tflm(name, x, want)
            fc, fw, f_ok, path = fvae(name, x, want)
            r = (lt, tm, fc, fw)
            best = r if best is None else tuple(min(a, b) for a, b in zip(best, r))
        lt, tm, fc, fw = best
        rows.append((case, name, lt, lt_ok, tm, tm_ok, fc, fw, f_ok, path))
        print(f"{name}: litert {lt:.2f} us, tflm {tm:.2f} us, fvae {fc:.2f} us ({fw:.2f} us whole process)",
              file=sys.stderr, flush=True)
    print("| case | model | LiteRT invoke (XNNPACK, 1 thread) | TFLite Micro (Python) | fvae compute "
          "(--threads 1) | fvae whole process | LiteRT / fvae compute | LiteRT / fvae whole | "
          "bit-exact vs TFLite Micro (LiteRT / fvae) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for case, name, lt, lt_ok, tm, tm_ok, fc, fw, f_ok, path in rows:
        print(f"| {case} | {name.split('/')[-1]} | {lt:.2f} us | {tm:.2f} us | {fc:.2f} us ({path}) | {fw:.2f} us | "
              f"{lt / fc:.2f}x | {lt / fw:.2f}x | {'yes' if lt_ok else 'no'} / {'yes' if f_ok else 'no'} |")


if __name__ == "__main__":
    main()
