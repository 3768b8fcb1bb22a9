"""fvae.dask on a dask.distributed LocalCluster with 2 worker processes."""

import numpy as np
import pytest
from conftest import DATA, rel_l2

import fvae

distributed = pytest.importorskip("dask.distributed")
import dask.array as da  # noqa: E402
import dask.bag as db  # noqa: E402

import fvae.dask  # noqa: E402


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with distributed.Client(cluster) as c:
        assert len(c.scheduler_info()["workers"]) == 2
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def digits():
    return np.load(DATA / "gmm" / "digits_k16" / "x.npy")


def test_dask_fit_equals_fit_gmm(client, digits):
    darr = da.from_array(digits, chunks=(250, 64))
    for k, seed in [(8, 0), (16, 5)]:
        local = fvae.fit_gmm(digits, k, seed=seed)
        dist = fvae.dask.fit_gmm(darr, k, seed=seed)
        a, b = local.score_samples(digits).astype(np.float64).mean(), dist.score_samples(digits).astype(np.float64).mean()
        assert abs(a - b) <= 1e-5 * abs(a)
        assert np.allclose(dist.means, local.means, atol=1e-3)


def test_dask_fisher_vector_merges_blocks(client, digits):
    gmm = fvae.DiagGMM.load(DATA / "gmm" / "digits_k16" / "gmm.safetensors")
    darr = da.from_array(digits, chunks=(300, 64))
    for layout in ("skimage", "vlfeat"):
        want = fvae.fisher_vector(digits, gmm, layout=layout)
        assert rel_l2(fvae.dask.fisher_vector(darr, gmm, layout=layout), want) < 1e-5
    images = [digits[i : i + 25] for i in range(0, 1000, 25)]
    fvs = np.stack(fvae.dask.fisher_vectors(db.from_sequence(images, npartitions=4), gmm, improved=True).compute())
    assert np.allclose(fvs, fvae.fisher_vectors(images, gmm, improved=True), atol=1e-6)
