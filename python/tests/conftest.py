"""Shared fixtures: the repository's test data (tests/data) and scikit-learn mixtures over it."""

import pathlib

import numpy as np
import pytest

DATA = pathlib.Path(__file__).resolve().parents[2] / "tests" / "data"


def rel_l2(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30)


def sklearn_gmm(gmm):
    """A scikit-learn GaussianMixture(covariance_type="diag") holding fvae's parameters."""
    from sklearn.mixture import GaussianMixture

    gm = GaussianMixture(n_components=gmm.n_components, covariance_type="diag")
    gm.weights_ = gmm.weights.astype(np.float64)
    gm.means_ = gmm.means.astype(np.float64)
    gm.covariances_ = gmm.covariances.astype(np.float64)
    gm.precisions_cholesky_ = 1.0 / np.sqrt(gm.covariances_)
    gm.converged_ = True
    return gm


@pytest.fixture(params=["digits_k16", "china_patches_k32"])
def gmm_case(request):
    import fvae

    d = DATA / "gmm" / request.param
    return fvae.DiagGMM.load(d / "gmm.safetensors"), np.load(d / "x.npy"), d
