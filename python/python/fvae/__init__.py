"""fvae: Fisher vectors, diagonal GMMs, vector quantisation and int8 TFLite networks, in Rust.

numpy arrays go in without a copy when they are float32 (int8 for int8 codebooks and networks)
and C-contiguous, and are converted once otherwise. Every computation releases the GIL; batch
calls take ``threads=`` (default: all cores). Bad shapes or values raise ``ValueError``, bad
files ``fvae.FormatError`` (a ``ValueError``), with fvae's message.

>>> import numpy as np, fvae
>>> X = np.random.default_rng(0).normal(size=(500, 8)).astype(np.float32)
>>> gmm = fvae.fit_gmm(X, 4, seed=0)
>>> fvae.fisher_vector(X, gmm, improved=True).shape      # scikit-image's layout: 2KD + K
(68,)
>>> D, I = fvae.kmeans(X, 16).search(X[:3], k=2)          # faiss IndexFlatL2.search
>>> I.shape, I.dtype
((3, 2), dtype('int64'))
"""

from ._fvae import (
    Codebook,
    DiagGMM,
    FisherAccumulator,
    FormatError,
    FvVae,
    Network,
    ResidualVQ,
    bow,
    fisher_vector,
    fisher_vectors,
    fit_gmm,
    kmeans,
    vlad,
)

__all__ = [
    "Codebook",
    "DiagGMM",
    "FisherAccumulator",
    "FormatError",
    "FvVae",
    "Network",
    "ResidualVQ",
    "bow",
    "fisher_vector",
    "fisher_vectors",
    "fit_gmm",
    "kmeans",
    "vlad",
]
