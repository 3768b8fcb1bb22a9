"""Makes the fitted_floor_k32 fixture: 4x4 grey patches of scikit-learn's two sample images, each
minus its own mean (so one principal direction has no variance), PCA to all 16 dimensions, and a
diagonal GMM of 32 components fitted by scikit-learn's EM (reg_covar 1e-6) on the same rows. Every
component has a dimension at the variance floor, and at EM's fixed point most Fisher-vector
entries are near-cancelling sums: the case where f32 rounding of the statistics shows through the
improved vector's square root. References: scikit-image's fisher_vector on the float64 rows.

usage: python make.py  (numpy, scikit-learn, scikit-image)
"""
import os, sys
import numpy as np
from sklearn.datasets import load_sample_images
from sklearn.decomposition import PCA
from sklearn.feature_extraction.image import extract_patches_2d
from sklearn.mixture import GaussianMixture
from skimage.feature import fisher_vector

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "tools"))
from fvae_export import write_safetensors  # noqa: E402  (the project's own .safetensors writer)

here = os.path.dirname(os.path.abspath(__file__))
n, k = 4000, 32
patches = []
for img in load_sample_images().images:
    grey = img.astype(np.float64).mean(axis=2) / 255.0
    patches.append(extract_patches_2d(grey, (4, 4), max_patches=n // 2, random_state=7).reshape(-1, 16))
p = np.concatenate(patches)
p -= p.mean(axis=1, keepdims=True)
x = PCA(n_components=16, random_state=7).fit_transform(p)
x = (x / x.std()).astype(np.float32)
g = GaussianMixture(n_components=k, covariance_type="diag", max_iter=500, tol=1e-6, random_state=7)
g.fit(x.astype(np.float64))
w, mu, var = (a.astype(np.float32) for a in (g.weights_, g.means_, g.covariances_))
# The reference sees exactly the f32 model fvae reads.
g.weights_, g.means_, g.covariances_ = w.astype(np.float64), mu.astype(np.float64), var.astype(np.float64)
g.precisions_cholesky_ = 1.0 / np.sqrt(g.covariances_)

write_safetensors(os.path.join(here, "gmm.safetensors"), {"weights": w, "means": mu, "covariances": var})
np.save(os.path.join(here, "x.npy"), x)
x64 = x.astype(np.float64)
np.save(os.path.join(here, "skimage_fv_raw.npy"), fisher_vector(x64, g, improved=False))
np.save(os.path.join(here, "skimage_fv_improved.npy"), fisher_vector(x64, g, improved=True))
print("N", len(x), "converged", g.converged_, "iterations", g.n_iter_, "components at the floor",
      int((var.min(axis=1) < 2e-6).sum()))
