"""scikit-learn reference figures for the fitting tests (tests/fit.rs), stored in
tests/data/fit/ so CI needs no Python.

Run (from the repository root; about 5 minutes on 2 loaded cores):
    python3 -m venv bench-venv && bench-venv/bin/pip install scikit-learn numpy
    bench-venv/bin/python scripts/fit_reference.py

Data: the fixtures' descriptors (tests/data/gmm/*/x.npy), split by row parity: even rows train,
odd rows are held out.

- GMM, seed-averaged: GaussianMixture(covariance_type="diag"; defaults reg_covar=1e-6, tol=1e-3,
  max_iter=100, init from one k-means++ KMeans run) fitted on the even rows for seeds 0..49; the
  figure is the mean held-out log-likelihood per row (`score`). The held-out figure of a single
  seed varies by 2% (china) to 10% (digits) between seeds, so single runs cannot be compared to 1%.
- GMM, same start: scikit-learn's own k-means initialisation for seed 0 (its `_initialize`:
  KMeans labels, then one M-step) is stored as `<case>_init.safetensors` (weights, means,
  covariances), and the figures of EM from exactly that start (`lower_bound_`, `n_iter_`,
  held-out `score`). This compares the EM iterations themselves, free of seed noise.
- k-means: KMeans(init="k-means++", n_init=1 default) on all rows for seeds 0..4; the figure is
  the mean `inertia_` (sum of squared distances).
"""
import json
import os
import sys

import numpy as np
import sklearn
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from fvae_export import write_safetensors  # noqa: E402  (the project's own .safetensors writer)

GMM_SEEDS = range(50)
CASES = [("digits_k16", 16, [16, 64]), ("china_patches_k32", 32, [32, 256])]


out = {"sklearn": sklearn.__version__, "gmm": {}, "gmm_same_start": {}, "kmeans": {}}
for case, k, ms in CASES:
    x = np.load(f"tests/data/gmm/{case}/x.npy").astype(np.float64)
    train, test = x[0::2], x[1::2]
    held = []
    for s in GMM_SEEDS:
        g = GaussianMixture(k, covariance_type="diag", random_state=s).fit(train)
        held.append(float(g.score(test)))
    out["gmm"][case] = {
        "k": k,
        "heldout_ll": held,
        "heldout_ll_mean": float(np.mean(held)),
        "heldout_ll_std": float(np.std(held)),
    }
    # scikit-learn's initialisation for seed 0, then EM from it.
    labels = KMeans(k, n_init=1, random_state=0).fit(train).labels_
    resp = np.zeros((len(train), k))
    resp[np.arange(len(train)), labels] = 1
    nk = resp.sum(0) + 10 * np.finfo(resp.dtype).eps
    means = resp.T @ train / nk[:, None]
    var = (resp.T @ (train * train)) / nk[:, None] - 2 * means * (resp.T @ train) / nk[:, None] + means**2 + 1e-6
    w = nk / nk.sum()
    # Rounded to f32 (what the file holds) before scikit-learn starts from it.
    w32, m32, v32 = w.astype(np.float32), means.astype(np.float32), var.astype(np.float32)
    write_safetensors(f"tests/data/fit/{case}_init.safetensors", {"weights": w32, "means": m32, "covariances": v32})
    w64 = w32.astype(np.float64)
    g = GaussianMixture(k, covariance_type="diag", weights_init=w64 / w64.sum(), means_init=m32.astype(np.float64),
                        precisions_init=1 / v32.astype(np.float64)).fit(train)
    out["gmm_same_start"][case] = {"lower_bound": float(g.lower_bound_), "n_iter": int(g.n_iter_),
                                   "heldout_ll": float(g.score(test))}
    for m in ms:
        e = [float(KMeans(m, random_state=s).fit(x).inertia_) for s in range(5)]
        out["kmeans"][f"{case}_m{m}"] = {"case": case, "m": m, "energy": e, "energy_mean": float(np.mean(e))}
json.dump(out, open("tests/data/fit/sklearn.json", "w"), indent=1)
print(json.dumps({c: (v["heldout_ll_mean"], v["heldout_ll_std"]) for c, v in out["gmm"].items()}))
print(json.dumps(out["gmm_same_start"]))
