"""Type stubs of fvae's extension module (the names fvae re-exports)."""

import os
from typing import Any, Literal, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

ArrayLike = npt.ArrayLike
Path = Union[str, os.PathLike]
Layout = Literal["skimage", "vlfeat"]
F32 = npt.NDArray[np.float32]

class FormatError(ValueError):
    """A file fvae cannot read: malformed, or missing or mistyped tensors."""

class DiagGMM:
    """A diagonal-covariance Gaussian mixture (scikit-learn's ``covariance_type="diag"`` layout).

    >>> gmm = DiagGMM([0.5, 0.5], [[0.0], [4.0]], [[1.0], [1.0]])
    >>> gmm.predict_proba([[0.0]]).round(3)
    array([[1., 0.]], dtype=float32)
    """

    def __init__(self, weights: ArrayLike, means: ArrayLike, covariances: ArrayLike) -> None: ...
    @staticmethod
    def from_sklearn(gm: Any) -> "DiagGMM":
        """A fitted ``sklearn.mixture.GaussianMixture(covariance_type="diag")``."""
    @staticmethod
    def load(path: Path) -> "DiagGMM":
        """Reads ``.safetensors`` (``weights`` [K], ``means`` [K, D], ``covariances`` [K, D])."""
    def save(self, path: Path) -> None: ...
    @property
    def n_components(self) -> int: ...
    @property
    def n_features(self) -> int: ...
    @property
    def weights(self) -> F32: ...
    @property
    def means(self) -> F32: ...
    @property
    def covariances(self) -> F32: ...
    def log_densities(self, x: ArrayLike, *, threads: Optional[int] = None) -> F32:
        """[N, K] ``log N(x | mu_k, diag var_k)``, without the weights."""
    def predict_proba(self, x: ArrayLike, *, threads: Optional[int] = None) -> F32:
        """[N, K] posteriors, as scikit-learn's."""
    def score_samples(self, x: ArrayLike, *, threads: Optional[int] = None) -> F32:
        """[N] ``log sum_k w_k N(x | k)``, as scikit-learn's."""

GMMLike = Union[DiagGMM, Any]

def fisher_vector(
    x: ArrayLike,
    gmm: GMMLike,
    *,
    improved: bool = False,
    alpha: float = 0.5,
    layout: Layout = "skimage",
    threshold: Optional[float] = None,
    hard: bool = False,
    threads: Optional[int] = None,
) -> F32:
    """The Fisher vector of all rows of X [N, D]; ``skimage.feature.fisher_vector`` in layout
    "skimage" (2KD + K values), VLFeat's ``vl_fisher_encode`` in layout "vlfeat" (2KD).

    >>> import numpy as np
    >>> gmm = DiagGMM([0.5, 0.5], [[0.0], [4.0]], [[1.0], [1.0]])
    >>> fisher_vector(np.array([[0.5], [3.0]]), gmm).shape
    (6,)
    """

def fisher_vectors(
    arrays: Sequence[ArrayLike],
    gmm: GMMLike,
    *,
    improved: bool = False,
    alpha: float = 0.5,
    layout: Layout = "skimage",
    threshold: Optional[float] = None,
    hard: bool = False,
    threads: Optional[int] = None,
) -> F32:
    """[len(arrays), FV length]: one Fisher vector per array (say per image), in parallel."""

class FisherAccumulator:
    """Streaming Fisher statistics: push, merge (it pickles), finish at any point.

    >>> import numpy as np
    >>> gmm = DiagGMM([0.5, 0.5], [[0.0], [4.0]], [[1.0], [1.0]])
    >>> a, b = FisherAccumulator(gmm), FisherAccumulator(gmm)
    >>> a.push(np.array([[0.5]])); b.push(np.array([[3.0]])); a.merge(b)
    >>> a.count, a.finish(improved=True).shape
    (2, (6,))
    """

    def __init__(self, gmm: GMMLike, compensated: bool = True, *, threshold: Optional[float] = None, hard: bool = False) -> None: ...
    def push(self, x: ArrayLike, *, threads: Optional[int] = None) -> None:
        """Adds the rows of X [N, D]; a rejected batch leaves the accumulator unchanged."""
    def merge(self, other: "FisherAccumulator") -> None: ...
    @property
    def count(self) -> int: ...
    def statistics(self) -> Tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(S0 [K], S1 [K, D], S2 [K, D]) in float64."""
    def finish(self, layout: Layout = "skimage", improved: bool = False, alpha: float = 0.5) -> F32: ...

class Codebook:
    """Codewords [M, D], float32 or int8 (with ``scale``); ``search`` is faiss's
    ``IndexFlatL2.search``.

    >>> import numpy as np
    >>> Codebook(np.array([[0, 0], [10, 10]], np.float32)).search(np.array([[1, 2]], np.float32))
    (array([[5.]], dtype=float32), array([[0]]))
    """

    def __init__(self, codewords: ArrayLike, scale: Optional[float] = None) -> None: ...
    @staticmethod
    def load(path: Path) -> "Codebook": ...
    @property
    def m(self) -> int: ...
    @property
    def d(self) -> int: ...
    @property
    def codewords(self) -> npt.NDArray[Any]: ...
    @property
    def scale(self) -> Optional[float]: ...
    def search(self, x: ArrayLike, k: int = 1, *, threads: Optional[int] = None) -> Tuple[F32, npt.NDArray[np.int64]]:
        """(D [N, k] float32 squared distances, I [N, k] int64), nearest first, ties to the
        lowest index. An int8 codebook takes int8 queries."""

class ResidualVQ:
    """Residual VQ over codebooks [S, M, D]."""

    def __init__(self, codebooks: ArrayLike) -> None: ...
    @staticmethod
    def load(path: Path) -> "ResidualVQ": ...
    @property
    def codebooks(self) -> F32: ...
    def encode(self, x: ArrayLike, *, threads: Optional[int] = None) -> npt.NDArray[np.int64]:
        """Codes [N, S]."""
    def decode(self, codes: ArrayLike) -> F32:
        """Reconstructions [N, D]."""

class Network:
    """An int8 ``.tflite`` network (path or bytes), bit-exact with TFLite Micro.

    >>> net = Network("decoder.tflite")  # doctest: +SKIP
    >>> [y] = net.run(z)                 # z: [N, 8] int8 (or float: quantised)
    """

    def __init__(self, model: Union[Path, bytes]) -> None: ...
    @property
    def inputs(self) -> list[dict[str, Any]]:
        """Dicts of name, shape, dtype, scale, zero_point."""
    @property
    def outputs(self) -> list[dict[str, Any]]: ...
    @property
    def required_arena(self) -> int: ...
    def run(self, x: Union[ArrayLike, Sequence[ArrayLike]], *, threads: Optional[int] = None) -> list[npt.NDArray[Any]]:
        """One inference per row of the leading N axis; one array per output."""

class FvVae:
    """FV-VAE: an int8 ``.tflite`` encoder and a float decoder layer (``.safetensors``)."""

    def __init__(self, encoder: Union[Path, bytes], decoder_layer: Union[Path, bytes]) -> None: ...
    @property
    def shape(self) -> Tuple[int, int]:
        """(P, L)."""
    def fisher_vector(self, x: ArrayLike, *, improved: bool = False, alpha: float = 0.5, threads: Optional[int] = None) -> F32:
        """[P (L + 1)] over the rows of X [N, P]."""

def fit_gmm(
    x: ArrayLike,
    n_components: int,
    *,
    seed: int = 0,
    max_iter: int = 100,
    tol: float = 1e-3,
    reg_covar: float = 1e-6,
    threads: Optional[int] = None,
) -> DiagGMM:
    """EM for a diagonal GMM from a k-means start (deterministic for a seed)."""

def kmeans(
    x: ArrayLike, n_clusters: int, *, seed: int = 0, restarts: int = 1, max_iter: int = 300, threads: Optional[int] = None
) -> Codebook: ...
def vlad(
    x: ArrayLike,
    codebook: Codebook,
    *,
    mass: bool = False,
    sqrt: bool = False,
    intra: bool = False,
    l2: bool = True,
    threads: Optional[int] = None,
) -> F32:
    """[M D] VLAD vector (VLFeat's flags)."""

def bow(
    x: ArrayLike,
    codebook: Codebook,
    *,
    soft: Optional[int] = None,
    beta: float = 1.0,
    norm: Literal["counts", "l1", "l2", "hellinger"] = "l1",
    threads: Optional[int] = None,
) -> F32:
    """[M] bag-of-words histogram."""

def _initial_gmm(x: ArrayLike, n_components: int, *, seed: int = 0, reg_covar: float = 1e-6, threads: Optional[int] = None) -> DiagGMM: ...
def _e_step(gmm: DiagGMM, x: ArrayLike, *, threads: Optional[int] = None) -> Tuple[int, Any, Any, Any, float]: ...
def _m_step(gmm: DiagGMM, rows: int, s0: Any, s1: Any, s2: Any, *, reg_covar: float = 1e-6) -> DiagGMM: ...
