from typing import Any, Literal, Optional

import numpy as np
import numpy.typing as npt

from ._fvae import DiagGMM

def fit_gmm(
    darr: Any,
    n_components: int,
    *,
    seed: int = 0,
    max_iter: int = 100,
    tol: float = 1e-3,
    reg_covar: float = 1e-6,
    init_rows: int = 1_000_000,
    threads: int = 1,
) -> DiagGMM: ...
def fisher_vector(
    darr: Any,
    gmm: Any,
    *,
    improved: bool = False,
    alpha: float = 0.5,
    layout: Literal["skimage", "vlfeat"] = "skimage",
    threshold: Optional[float] = None,
    hard: bool = False,
    threads: int = 1,
) -> npt.NDArray[np.float32]: ...
def fisher_vectors(
    bag: Any,
    gmm: Any,
    *,
    improved: bool = False,
    alpha: float = 0.5,
    layout: Literal["skimage", "vlfeat"] = "skimage",
    threshold: Optional[float] = None,
    hard: bool = False,
    threads: int = 1,
) -> Any: ...
