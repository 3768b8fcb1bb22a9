"""Times scikit-learn's diagonal GaussianMixture and KMeans against `fvae fit-gmm` and
`fvae fit-kmeans` (one thread each, BLAS pinned to 1) on the same data in the same run.

Both start from their own k-means++ seeding (seed 0), so iteration counts differ: the table gives
the total time, the iterations, the time per iteration and the final training figure (mean
log-likelihood per row for the GMM, energy per row for k-means) so speed is compared at equal
quality. Data: the fixtures' digits (N=1797, D=64) and china patches (N=4000, D=48), and a
synthetic diagonal mixture (N=50 000, D=32, 64 components).

usage: python fit_vs_sklearn.py FVAE_BINARY WORKDIR [--repeats R]
"""
import argparse, os, re, subprocess, sys, time

import numpy as np
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture


def synthetic(n, d, k, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.5, 1.5, k)
    w /= w.sum()
    means = rng.normal(0, 3, (k, d))
    var = rng.uniform(0.5, 2.0, (k, d))
    comp = rng.choice(k, size=n, p=w)
    return (means[comp] + np.sqrt(var[comp]) * rng.normal(size=(n, d))).astype(np.float32)


def best_of(repeats, f):
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
    return best, out


def run_fvae(args):
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(p.stderr)
    return p.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fvae")
    ap.add_argument("work")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    cases = [
        ("digits", np.load("tests/data/gmm/digits_k16/x.npy"), 16, 64),
        ("china patches", np.load("tests/data/gmm/china_patches_k32/x.npy"), 32, 256),
        ("synthetic", synthetic(50_000, 32, 64), 64, 256),
    ]
    gmm_rows, km_rows = [], []
    for name, x, k, m in cases:
        n, d = x.shape
        xp = os.path.join(a.work, f"{name.replace(' ', '_')}.npy")
        np.save(xp, x)
        x64 = x.astype(np.float64)
        out = os.path.join(a.work, "out.safetensors")
        # GMM
        ts, g = best_of(a.repeats, lambda: GaussianMixture(k, covariance_type="diag", random_state=0).fit(x64))
        tf, err = best_of(a.repeats, lambda: run_fvae([a.fvae, "fit-gmm", "--input", xp, "--components", str(k),
                                                         "--out", out, "--seed", "0", "--threads", "1"]))
        mm = re.search(r"mean log-likelihood (\S+) after (\d+) iterations", err)
        ll_f, it_f = float(mm.group(1)), int(mm.group(2))
        gmm_rows.append((name, n, d, k, ts, g.n_iter_, g.lower_bound_, tf, it_f, ll_f))
        # k-means
        ts, km = best_of(a.repeats, lambda: KMeans(m, random_state=0).fit(x64))
        tf, err = best_of(a.repeats, lambda: run_fvae([a.fvae, "fit-kmeans", "--input", xp, "--clusters", str(m),
                                                         "--out", out, "--seed", "0", "--threads", "1"]))
        e_f = float(re.search(r"energy per row (\S+)", err).group(1))
        km_rows.append((name, n, d, m, ts, km.n_iter_, km.inertia_ / n, tf, e_f))
    print("\nGMM (diagonal), fit time, best of", a.repeats)
    print("| data | N | D | K | scikit-learn s (iters, s/iter) | fvae s (iters, s/iter) | ratio total | ratio per iter | train ll/row sklearn / fvae |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, n, d, k, ts, its, lls, tf, itf, llf in gmm_rows:
        print(f"| {name} | {n} | {d} | {k} | {ts:.3f} ({its}, {ts/its*1e3:.1f} ms) | {tf:.3f} ({itf}, {tf/max(itf,1)*1e3:.1f} ms) "
              f"| {ts/tf:.2f}x | {(ts/its)/(tf/max(itf,1)):.2f}x | {lls:.3f} / {llf:.3f} |")
    print("\nk-means, fit time, best of", a.repeats, "(fvae iterations are not printed; energy per row compares quality)")
    print("| data | N | D | M | scikit-learn s (iters) | fvae s | ratio | energy/row sklearn / fvae |")
    print("|---|---|---|---|---|---|---|---|")
    for name, n, d, m, ts, its, es, tf, ef in km_rows:
        print(f"| {name} | {n} | {d} | {m} | {ts:.3f} ({its}) | {tf:.3f} | {ts/tf:.2f}x | {es:.4f} / {ef:.4f} |")


main()
