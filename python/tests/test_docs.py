"""The docstrings' examples run: the package's, and the extension's (classes, functions)."""

import doctest

import numpy as np

import fvae
import fvae._fvae


def test_package_docstring_examples():
    result = doctest.testmod(fvae)
    assert result.attempted >= 4 and result.failed == 0


def test_extension_docstring_examples():
    # The examples share the names fisher_vector's example defines: X [100, 2] and gmm (K = 2).
    X = np.random.default_rng(0).normal(size=(100, 2)).astype(np.float32)
    gmm = fvae.DiagGMM([0.5, 0.5], [[0.0, 0.0], [4.0, 4.0]], [[1.0, 1.0], [1.0, 1.0]])
    result = doctest.testmod(fvae._fvae, extraglobs={"fvae": fvae, "np": np, "X": X, "gmm": gmm})
    assert result.attempted >= 20 and result.failed == 0
