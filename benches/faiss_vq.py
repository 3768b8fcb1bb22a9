"""fvae vq against faiss IndexFlatL2, one thread each, on the same data in the same run.

Run through benches/faiss_vq.sh (which builds fvae and prepares the venv). Prints a markdown
table: batch throughput (queries/s) at D=64 M=512 (200 000 queries) and D=16 M=256 (1 000 000
queries), and single-query latency (faiss `index.search` on one row from Python against the Rust
API `Codebook::nearest`, measured by examples/vq_latency.rs).

Two kinds of data. "random": Gaussian queries and a codebook of centres of random groups of them
(the easy case: every query has a clear nearest codeword). "patches": the realistic case, grey
4x4 (D=16) or 8x8 (D=64) patches of scikit-learn's two sample images, every position, mean
removed and projected by PCA (scikit-learn) onto all D components, with a codebook from
scikit-learn's k-means (`MiniBatchKMeans`, seed 0) fitted on 100 000 of them; the queries are
patches in random order (the two images have 531 720 8x8 and 540 176 4x4 positions, used up to the case's
count, so D=16 has 540 176 queries). Flat regions make many patches close to each other and to
several codewords.

fvae is timed twice: the search alone (what `--timing` prints: packing the codebook, threads and
search, with --threads 1 summed over the streamed blocks; no file input/output; comparable with
faiss's `search`) and the whole process (reading the .npy, writing the output). faiss and fvae run in
turn (faiss, fvae, faiss, fvae, ...) so a load change hits both; each time is the best of REPEATS runs.
The load average is printed before and after, since a shared machine makes wall-clock times noisy.
"""

import json
import os
import re
import struct
import subprocess
import sys
import time

import faiss
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FVAE = os.path.join(ROOT, "target", "release", "fvae")
LATENCY = os.path.join(ROOT, "target", "release", "examples", "vq_latency")
WORK = os.path.join(ROOT, "target", "vq-bench")
REPEATS = 5
CASES = [("random", 64, 512, 200_000), ("random", 16, 256, 1_000_000),
         ("patches", 64, 512, 200_000), ("patches", 16, 256, 1_000_000)]
SINGLE = 20_000


def write_safetensors(path, name, arr):
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    header = json.dumps({name: {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [0, arr.nbytes]}})
    header = header.encode() + b" " * ((8 - len(header) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + arr.tobytes())


def patches(d, m, n, rng):
    """The realistic case: PCA'd grey patches of the sample images and a k-means codebook."""
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.datasets import load_sample_images
    from sklearn.decomposition import PCA

    side = int(round(d ** 0.5))
    rows = []
    for img in load_sample_images().images:
        grey = img.astype(np.float32).mean(axis=2) / 255.0
        w = np.lib.stride_tricks.sliding_window_view(grey, (side, side))
        rows.append(w.reshape(-1, side * side))
    x = np.concatenate(rows)
    x = x[rng.permutation(len(x))[:n]]
    x -= x.mean(axis=1, keepdims=True)
    x = PCA(n_components=d, random_state=0).fit(x[:100_000]).transform(x).astype(np.float32)
    km = MiniBatchKMeans(n_clusters=m, random_state=0, n_init=1, batch_size=4096, max_iter=50)
    cb = km.fit(x[:100_000]).cluster_centers_.astype(np.float32)
    return np.ascontiguousarray(x), cb


def main():
    faiss.omp_set_num_threads(1)
    os.makedirs(WORK, exist_ok=True)
    rng = np.random.default_rng(0)
    load_before = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else ["?"] * 3
    rows, lat_rows = [], []
    for kind, d, m, n in CASES:
        if kind == "random":
            # Gaussian data; the codebook is k-means-like (centres of random groups of queries) so
            # the nearest codeword is meaningful, not a near-tie everywhere.
            x = rng.standard_normal((n, d)).astype(np.float32)
            cb = np.stack([x[rng.integers(0, n, 8)].mean(0) for _ in range(m)]).astype(np.float32)
        else:
            x, cb = patches(d, m, n, rng)
            n = len(x)
        cbp = os.path.join(WORK, f"codebook_{kind}_d{d}_m{m}.safetensors")
        xp = os.path.join(WORK, f"x_{kind}_d{d}_m{m}.npy")
        out = os.path.join(WORK, f"idx_{kind}_d{d}_m{m}.npy")
        write_safetensors(cbp, "codebook", cb)
        np.save(xp, x)

        index = faiss.IndexFlatL2(d)
        index.add(cb)

        def run_fvae():
            r = subprocess.run(
                [FVAE, "vq", "--codebook", cbp, "--input", xp, "--out", out, "--threads", "1", "--timing"],
                check=True, capture_output=True, text=True)
            return float(re.search(r"in ([0-9.]+) s", r.stderr).group(1))

        faiss_times, proc_times, searches = [], [], []
        for _ in range(REPEATS):
            t = time.perf_counter()
            _, fi = index.search(x, 1)
            faiss_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            searches.append(run_fvae())
            proc_times.append(time.perf_counter() - t)
        t_faiss, t_proc, t_search = min(faiss_times), min(proc_times), min(searches)
        agree = float((np.load(out) == fi[:, 0]).mean())
        rows.append((kind, d, m, n, n / t_faiss, n / t_search, n / t_proc, agree))

        # Single query: faiss from Python, one row per call (what an application serving one query
        # at a time pays), against the Rust API.
        q = x[:SINGLE]
        for i in range(1000):
            index.search(q[i:i + 1], 1)
        t = time.perf_counter()
        for i in range(SINGLE):
            index.search(q[i:i + 1], 1)
        faiss_us = (time.perf_counter() - t) / SINGLE * 1e6
        r = subprocess.run([LATENCY, cbp, xp, str(SINGLE)], check=True, capture_output=True, text=True)
        fvae_us = float(re.search(r"ns_per_query=([0-9.]+)", r.stdout).group(1)) / 1000
        lat_rows.append((kind, d, m, faiss_us, fvae_us))

    cpu = "unknown CPU"
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load_after = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else ["?"] * 3
    print(f"faiss {faiss.__version__}, numpy {np.__version__}, {cpu}, {os.cpu_count()} cores, 1 thread each")
    print(f"load average (1/5/15 min): {' '.join(load_before)} before, {' '.join(load_after)} after; "
          f"interleaved, best of {REPEATS}\n")
    print("| data | D | M | queries | faiss IndexFlatL2 (q/s) | fvae vq, search (q/s) | ratio | "
          "fvae vq, whole process (q/s) | ratio | same indices |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for kind, d, m, n, f, s, p, a in rows:
        print(f"| {kind} | {d} | {m} | {n:,} | {f / 1e6:.2f} M | {s / 1e6:.2f} M | {s / f:.2f}x | "
              f"{p / 1e6:.2f} M | {p / f:.2f}x | {a * 100:.3f}% |")
    print()
    print("| data | D | M | faiss single-query search (us) | fvae Codebook::nearest (us) | ratio |")
    print("|---|---|---|---|---|---|")
    for kind, d, m, f, s in lat_rows:
        print(f"| {kind} | {d} | {m} | {f:.2f} | {s:.3f} | {f / s:.1f}x |")


if __name__ == "__main__":
    sys.exit(main())
