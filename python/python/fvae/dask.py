"""fvae on Dask (``pip install "fvae[dask]"``): EM and Fisher vectors over arrays and bags too
large for one machine.

fvae's Fisher statistics are sums, so they map over blocks and merge: each worker computes its
blocks' statistics with fvae, the client adds them (in float64, in block order) and finishes.
:func:`fit_gmm` is :func:`fvae.fit_gmm`'s own EM: the E-step (fvae's ``e_step``) mapped over the
blocks on the workers, the M-step (fvae's ``m_step``) on the client, so it fits the same model
as :func:`fvae.fit_gmm` on the same rows and seed (up to the order of float32 partial sums).

Everything runs on the current Dask scheduler; with a ``dask.distributed.Client`` connected,
on its cluster:

>>> from dask.distributed import Client                      # doctest: +SKIP
>>> client = Client("tcp://scheduler:8786")
>>> import dask.array as da, fvae.dask
>>> X = da.from_zarr("descriptors.zarr")                     # [N, D], chunked by rows
>>> gmm = fvae.dask.fit_gmm(X, 64, seed=0)
>>> fv = fvae.dask.fisher_vector(X, gmm, improved=True)
"""

import numpy as np

import dask
import dask.array as da

from . import _fvae

__all__ = ["fit_gmm", "fisher_vector", "fisher_vectors"]


def _rows(darr):
    """The array as float32 row blocks (one block across the columns)."""
    x = da.asarray(darr)
    if x.ndim != 2:
        raise ValueError(f"the array must be 2-D [N, D], got {x.ndim} dimensions")
    return x.astype(np.float32).rechunk({1: -1})


def _block_statistics(gmm, block, threads):
    return _fvae._e_step(gmm, block, threads=threads)


def _add(parts):
    """Sums E-step statistics in the given order (float64)."""
    rows, s0, s1, s2, ll = parts[0]
    s0, s1, s2 = s0.copy(), s1.copy(), s2.copy()
    for r, a, b, c, l in parts[1:]:
        rows += r
        s0 += a
        s1 += b
        s2 += c
        ll += l
    return rows, s0, s1, s2, ll


def fit_gmm(darr, n_components, *, seed=0, max_iter=100, tol=1e-3, reg_covar=1e-6, init_rows=1_000_000, threads=1):
    """Fits a diagonal GMM to the rows of the Dask array ``darr`` [N, D] by EM.

    The start is :func:`fvae.fit_gmm`'s (k-means under ``seed``), computed on the client on all
    rows when there are at most ``init_rows``, otherwise on ``init_rows`` rows taken at an even
    stride. Each iteration maps the E-step over the blocks on the workers (``threads`` threads
    per block) and runs the M-step on the client; it stops as :func:`fvae.fit_gmm` does, when the
    mean log-likelihood changes by less than ``tol``. The array is persisted on the workers for
    the iterations. Returns an :class:`fvae.DiagGMM`.
    """
    x = _rows(darr).persist()
    n = x.shape[0]
    if n is None or np.isnan(n):
        raise ValueError("the array's number of rows must be known (call compute_chunk_sizes())")
    if n <= init_rows:
        start = x.compute()
    else:
        start = x[:: -(-n // init_rows)].compute()
    gmm = _fvae._initial_gmm(start, n_components, seed=seed, reg_covar=reg_covar)
    del start
    blocks = x.to_delayed().ravel().tolist()
    prev = -np.inf
    for _ in range(max_iter):
        stats = dask.compute(*[dask.delayed(_block_statistics)(gmm, b, threads) for b in blocks])
        rows, s0, s1, s2, ll = _add(list(stats))
        ll /= rows
        gmm = _fvae._m_step(gmm, rows, s0, s1, s2, reg_covar=reg_covar)
        if abs(ll - prev) < tol:
            break
        prev = ll
    return gmm


def _block_accumulator(gmm, block, compensated, threshold, hard, threads):
    acc = _fvae.FisherAccumulator(gmm, compensated, threshold=threshold, hard=hard)
    if len(block):
        acc.push(block, threads=threads)
    return acc


def fisher_vector(darr, gmm, *, improved=False, alpha=0.5, layout="skimage", threshold=None, hard=False, threads=1):
    """One Fisher vector over all rows of the Dask array ``darr`` [N, D]: a
    :class:`fvae.FisherAccumulator` per block on the workers, merged on the client. The options
    are :func:`fvae.fisher_vector`'s; returns a numpy array."""
    gmm = gmm if isinstance(gmm, _fvae.DiagGMM) else _fvae.DiagGMM.from_sklearn(gmm)
    x = _rows(darr)
    blocks = x.to_delayed().ravel().tolist()
    accs = dask.compute(*[dask.delayed(_block_accumulator)(gmm, b, True, threshold, hard, threads) for b in blocks])
    total = _fvae.FisherAccumulator(gmm, threshold=threshold, hard=hard)
    for a in accs:
        total.merge(a)
    return total.finish(layout=layout, improved=improved, alpha=alpha)


def fisher_vectors(bag, gmm, *, improved=False, alpha=0.5, layout="skimage", threshold=None, hard=False, threads=1):
    """One Fisher vector per element of the Dask bag ``bag`` (each an array [N_i, D], say one
    image's descriptors), computed on the workers. Returns a lazy bag of numpy vectors, in the
    bag's order (``.compute()`` gives a list; ``numpy.stack`` makes it a matrix)."""
    gmm = gmm if isinstance(gmm, _fvae.DiagGMM) else _fvae.DiagGMM.from_sklearn(gmm)
    options = dict(improved=improved, alpha=alpha, layout=layout, threshold=threshold, hard=hard, threads=threads)
    return bag.map(_fvae.fisher_vector, gmm, **options)
