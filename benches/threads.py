"""`fvae fv`, `fvae vq` and `fvae decode` at --threads 1 and 2 on 10^5 rows (run through
benches/threads.sh, which builds fvae).

Inputs (written to target/threads-bench):
- fv: the fixture GMM fitted to patches of scikit-learn's china image (D = 48, K = 32), 10^5
  descriptors drawn from its fixture descriptors with a little noise; default options (exact
  posteriors) and --improved.
- vq: a D = 16, M = 256 codebook (centres of random groups of queries) and 10^5 Gaussian queries;
  the same at D = 64, M = 512.
- decode: the fixture int8 `conv_decoder` (8 latent values to a 16x16 image), 10^5 rows made by
  repeating its fixture input.
Each figure is the whole process's wall time, best of REPEATS, the two thread counts in turn, and
the processor time (user + system) of that run: on a machine busy with other work the wall-clock
ratio says little (two threads compete for the same shared cores), while processor time that
does not grow with the thread count says the extra thread costs nothing.
"""

import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from fvae_export import write_safetensors  # noqa: E402  (the project's own .safetensors writer)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FVAE = os.environ.get("FVAE", os.path.join(ROOT, "target", "release", "fvae"))
WORK = os.path.join(ROOT, "target", "threads-bench")
DATA = os.path.join(ROOT, "tests", "data")
REPEATS = int(os.environ.get("REPEATS", "5"))
ROWS = 100_000


def cases():
    rng = np.random.default_rng(0)
    os.makedirs(WORK, exist_ok=True)
    out = []
    gmm = os.path.join(DATA, "gmm", "china_patches_k32", "gmm.safetensors")
    x = np.load(os.path.join(DATA, "gmm", "china_patches_k32", "x.npy")).astype(np.float32)
    fx = x[rng.integers(0, len(x), ROWS)]
    fx += rng.standard_normal(fx.shape).astype(np.float32) * 0.05 * fx.std(0)
    fxp = os.path.join(WORK, "fv_x.npy")
    np.save(fxp, fx)
    fvo = os.path.join(WORK, "fv_out.npy")
    out.append(("fv, D=48 K=32 (fitted GMM, exact)", ["fv", "--gmm", gmm, "--input", fxp, "--out", fvo, "--improved"]))
    for d, m in [(16, 256), (64, 512)]:
        q = rng.standard_normal((ROWS, d)).astype(np.float32)
        cb = np.stack([q[rng.integers(0, ROWS, 8)].mean(0) for _ in range(m)])
        cbp, qp = os.path.join(WORK, f"cb_d{d}.safetensors"), os.path.join(WORK, f"q_d{d}.npy")
        write_safetensors(cbp, {"codebook": np.asarray(cb, dtype=np.float32)})
        np.save(qp, q)
        vo = os.path.join(WORK, f"vq_out_d{d}.npy")
        out.append((f"vq, D={d} M={m}", ["vq", "--codebook", cbp, "--input", qp, "--out", vo]))
    model = os.path.join(DATA, "tflite", "conv_decoder.tflite")
    z = np.load(os.path.join(DATA, "tflite", "conv_decoder_input.npy"))
    z = np.resize(z, (ROWS,) + z.shape[1:])
    zp = os.path.join(WORK, "decode_z.npy")
    np.save(zp, z)
    out.append(("decode, conv_decoder (int8)", ["decode", "--model", model, "--input", zp, "--out",
                                                 os.path.join(WORK, "decode_out.npy")]))
    return out


def run(cmd):
    """Wall and processor (user + system) seconds of one run of `cmd`."""
    start = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - start
    err = p.stderr.read().decode()
    p.stderr.close()
    if status != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {err}")
    return wall, usage.ru_utime + usage.ru_stime


def load():
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "?"


def main():
    cpu = "unknown CPU"
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    todo = cases()
    before = load()
    rows = []
    for name, args in todo:
        best = {1: (float("inf"), 0.0), 2: (float("inf"), 0.0)}
        run([FVAE] + args + ["--threads", "1"])  # warms the file cache
        for _ in range(REPEATS):
            for t in (1, 2):
                best[t] = min(best[t], run([FVAE] + args + ["--threads", str(t)]))
        rows.append((name, best[1], best[2]))
    print(f"{cpu}, {os.cpu_count()} cores; load average (1/5/15 min) {before} before, {load()} after; "
          f"{ROWS:,} rows, whole process, interleaved, best of {REPEATS}\n")
    print("| command | --threads 1 wall (ms) | --threads 2 wall (ms) | speed-up | processor time, 1 / 2 threads (ms) |")
    print("|---|---|---|---|---|")
    for name, (w1, c1), (w2, c2) in rows:
        print(f"| {name} | {w1 * 1e3:.1f} | {w2 * 1e3:.1f} | {w1 / w2:.2f}x | {c1 * 1e3:.1f} / {c2 * 1e3:.1f} |")


if __name__ == "__main__":
    sys.exit(main())
