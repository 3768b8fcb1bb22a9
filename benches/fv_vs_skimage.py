"""Times scikit-image's fisher_vector(improved=True) against `fvae fv --improved --threads 1` on the
same data in the same run, and checks they agree. fvae is reported twice: the encoding alone
(`--timing`, comparable to scikit-image's call on data already in memory) and the whole process
(start-up, reading the .npy, writing the output). Sizes: D=64 K=256 and D=128 K=64,
N=50 000 descriptors sampled from a random diagonal mixture (so posteriors are realistic: a few
components per descriptor). Prints a markdown table; one thread everywhere (BLAS pinned to 1).

usage: python fv_vs_skimage.py FVAE_BINARY WORKDIR [--n N] [--repeats R]
"""
import argparse, json, os, struct, subprocess, sys, time

import numpy as np
from sklearn.mixture import GaussianMixture
from skimage.feature import fisher_vector


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + arr.nbytes]}
        offset += arr.nbytes
        blobs.append(arr.tobytes())
    h = json.dumps(header).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def make_case(d, k, n, seed, work):
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.5, 1.5, k)
    w /= w.sum()
    means = rng.normal(0, 3, (k, d))
    var = rng.uniform(0.5, 2.0, (k, d))
    comp = rng.choice(k, size=n, p=w)
    x = (means[comp] + np.sqrt(var[comp]) * rng.normal(size=(n, d))).astype(np.float32)
    w, means, var = w.astype(np.float32), means.astype(np.float32), var.astype(np.float32)
    gmm_path, x_path = os.path.join(work, f"gmm_d{d}_k{k}.safetensors"), os.path.join(work, f"x_d{d}_k{k}.npy")
    write_safetensors(gmm_path, {"weights": w, "means": means, "covariances": var})
    np.save(x_path, x)
    g = GaussianMixture(n_components=k, covariance_type="diag")
    g.weights_, g.means_, g.covariances_ = w.astype(np.float64), means.astype(np.float64), var.astype(np.float64)
    g.precisions_cholesky_ = 1.0 / np.sqrt(g.covariances_)
    g.converged_, g.n_iter_, g.lower_bound_ = True, 0, 0.0
    return gmm_path, x_path, x, g


def best_of(repeats, fn):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fvae")
    ap.add_argument("work")
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    rows = []
    for d, k in [(64, 256), (128, 64)]:
        gmm_path, x_path, x, g = make_case(d, k, a.n, seed=d * 1000 + k, work=a.work)
        t_sk, fv_sk = best_of(a.repeats, lambda: fisher_vector(x, g, improved=True))
        out = os.path.join(a.work, f"fv_d{d}_k{k}.npy")
        cmd = [a.fvae, "fv", "--gmm", gmm_path, "--input", x_path, "--out", out, "--improved", "--layout", "skimage",
               "--threads", "1", "--timing"]
        encode = []

        def run():
            r = subprocess.run(cmd, check=True, capture_output=True, text=True)
            encode.append(float(r.stderr.split(" in ")[1].split()[0]))

        t_fv, _ = best_of(a.repeats, run)
        t_enc = min(encode)
        fv = np.load(out).astype(np.float64)
        err = np.linalg.norm(fv - fv_sk) / np.linalg.norm(fv_sk)
        rows.append((d, k, a.n, a.n / t_sk, a.n / t_enc, t_sk / t_enc, a.n / t_fv, t_sk / t_fv, err))
    print("| D | K | N | scikit-image desc/s | fvae encode desc/s | ratio | fvae whole process desc/s | ratio | rel. L2 difference |")
    print("|---|---|---|---|---|---|---|---|---|")
    for d, k, n, sk, enc, r_enc, fv, r_fv, err in rows:
        print(f"| {d} | {k} | {n} | {sk:,.0f} | {enc:,.0f} | {r_enc:.1f}x | {fv:,.0f} | {r_fv:.1f}x | {err:.1e} |")
    if any(r[-1] > 1e-4 for r in rows):
        sys.exit("fvae and scikit-image disagree by more than 1e-4")


if __name__ == "__main__":
    main()
