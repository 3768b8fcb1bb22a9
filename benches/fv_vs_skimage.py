"""Times scikit-image's fisher_vector(improved=True) against `fvae fv --improved --threads 1` on the
same data in the same run, and checks they agree. fvae is reported twice: the encoding alone
(`--timing`, comparable to scikit-image's call on data already in memory) and the whole process
(start-up, reading the .npy, writing the output). Two kinds of case, labelled in the table:
- easy: D=64 K=256 and D=128 K=64, N=50 000 descriptors sampled from a random diagonal mixture whose
  components are far apart, so nearly every posterior is exactly 0 in f32;
- realistic: 8x8 grey patches of scikit-learn's two sample images, PCA to D=64 (K=256) and D=32 (K=64),
  a diagonal GMM fitted by scikit-learn's EM on them; posteriors are dense (a descriptor has about 9
  above 1e-6 and most of K above 0).
fvae (exact, and with --threshold 1e-6, VLFeat's rule) and scikit-image runs are interleaved, best of R
(default 5). Agreement with float64 scikit-image is printed for the improved and for the raw vector. Prints a markdown table; one
thread everywhere (BLAS pinned to 1).

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
    return write_case(f"d{d}_k{k}", x, w.astype(np.float32), means.astype(np.float32), var.astype(np.float32), work)


def write_case(name, x, w, means, var, work):
    gmm_path, x_path = os.path.join(work, f"gmm_{name}.safetensors"), os.path.join(work, f"x_{name}.npy")
    write_safetensors(gmm_path, {"weights": w, "means": means, "covariances": var})
    np.save(x_path, x)
    g = GaussianMixture(n_components=len(w), covariance_type="diag")
    g.weights_, g.means_, g.covariances_ = w.astype(np.float64), means.astype(np.float64), var.astype(np.float64)
    g.precisions_cholesky_ = 1.0 / np.sqrt(g.covariances_)
    g.converged_, g.n_iter_, g.lower_bound_ = True, 0, 0.0
    return gmm_path, x_path, x, g


def patch_descriptors(d, n, seed):
    """n mean-removed 8x8 grey patches of scikit-learn's sample images, PCA to d, unit overall
    standard deviation (float32): real descriptors, as a user's pipeline produces them."""
    from sklearn.datasets import load_sample_images
    from sklearn.decomposition import PCA
    from sklearn.feature_extraction.image import extract_patches_2d

    patches = []
    for img in load_sample_images().images:
        grey = img.astype(np.float64).mean(axis=2) / 255.0
        patches.append(extract_patches_2d(grey, (8, 8), max_patches=n // 2 + 1, random_state=seed).reshape(-1, 64))
    p = np.concatenate(patches)[:n]
    p -= p.mean(axis=1, keepdims=True)
    x = PCA(n_components=d, random_state=seed).fit_transform(p)
    return (x / x.std()).astype(np.float32)


def make_realistic(d, k, n, seed, work):
    """Real descriptors (patch_descriptors) and a GMM fitted to them by scikit-learn's EM."""
    x = patch_descriptors(d, n, seed)
    rng = np.random.default_rng(seed)
    fit_rows = x[rng.choice(len(x), size=min(len(x), 20_000), replace=False)]
    g = GaussianMixture(n_components=k, covariance_type="diag", max_iter=50, random_state=seed).fit(fit_rows)
    return write_case(f"real_d{d}_k{k}", x, g.weights_.astype(np.float32), g.means_.astype(np.float32),
                      g.covariances_.astype(np.float32), work)


def encode_seconds(stderr):
    """The encoding time `fvae fv --timing` reports on stderr ("... in S s ...")."""
    return float(stderr.split(" in ")[1].split()[0])


def rel_l2(a, ref):
    a = np.asarray(a, dtype=np.float64)
    return np.linalg.norm(a - ref) / np.linalg.norm(ref)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fvae")
    ap.add_argument("work")
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    rows = []
    cases = [("easy", d, k, lambda d=d, k=k: make_case(d, k, a.n, seed=d * 1000 + k, work=a.work))
             for d, k in [(64, 256), (128, 64)]]
    cases += [("realistic", d, k, lambda d=d, k=k: make_realistic(d, k, a.n, seed=d * 1000 + k, work=a.work))
              for d, k in [(64, 256), (32, 64)]]
    for label, d, k, make in cases:
        gmm_path, x_path, x, g = make()
        out = os.path.join(a.work, f"fv_{label}_d{d}_k{k}.npy")
        cmd = [a.fvae, "fv", "--gmm", gmm_path, "--input", x_path, "--out", out, "--improved", "--layout", "skimage",
               "--threads", "1", "--timing"]
        cmd_thr = cmd[:-1] + ["--threshold", "1e-6", "--timing"]
        t_sk, t_fv, encode, encode_thr, fv_sk = [], [], [], [], None
        # scikit-image on float64 rows: given float32 it computes partly in float32 and is itself
        # ~1e-2 off on the realistic cases, so it would not be the float64 reference fvae is held to.
        x64 = x.astype(np.float64)
        for _ in range(a.repeats):  # interleaved, so all see the same machine load
            t = time.perf_counter()
            fv_sk = fisher_vector(x64, g, improved=True)
            t_sk.append(time.perf_counter() - t)
            t = time.perf_counter()
            r = subprocess.run(cmd, check=True, capture_output=True, text=True)
            t_fv.append(time.perf_counter() - t)
            encode.append(encode_seconds(r.stderr))
            r = subprocess.run(cmd_thr, check=True, capture_output=True, text=True)
            encode_thr.append(encode_seconds(r.stderr))
        t_sk, t_fv, t_enc, t_thr = min(t_sk), min(t_fv), min(encode), min(encode_thr)
        subprocess.run(cmd, check=True, capture_output=True)  # the exact vector again (the last run thresholded)
        err = rel_l2(np.load(out), fv_sk)
        # The raw (unnormalised) vector too: the improved vector's square root magnifies the raw
        # vector's absolute errors on near-zero entries, so both agreements are worth seeing.
        raw = [a for a in cmd if a not in ("--improved", "--timing")]
        subprocess.run(raw, check=True, capture_output=True)
        err_raw = rel_l2(np.load(out), fisher_vector(x64, g, improved=False))
        rows.append((label, d, k, len(x), len(x) / t_sk, len(x) / t_enc, t_sk / t_enc, len(x) / t_fv, t_sk / t_fv,
                     len(x) / t_thr, err, err_raw))
    print("| case | D | K | N | scikit-image desc/s | fvae encode desc/s | ratio | fvae whole process desc/s | ratio "
          "| fvae --threshold 1e-6 encode desc/s | rel. L2 difference, improved | raw |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for label, d, k, n, sk, enc, r_enc, fv, r_fv, thr, err, err_raw in rows:
        print(f"| {label} | {d} | {k} | {n} | {sk:,.0f} | {enc:,.0f} | {r_enc:.1f}x | {fv:,.0f} | {r_fv:.1f}x "
              f"| {thr:,.0f} | {err:.1e} | {err_raw:.1e} |")
    if any(max(r[-2:]) > 1e-4 for r in rows):
        sys.exit("fvae and scikit-image disagree by more than 1e-4")


if __name__ == "__main__":
    main()
