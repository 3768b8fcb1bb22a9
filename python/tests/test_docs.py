"""The docstrings' examples run (the package's and the extension's), and the extension is abi3."""

import doctest
import pathlib

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


def test_the_extension_is_built_for_the_stable_abi():
    # One wheel serves CPython 3.9 and later: the extension carries the stable-ABI tag.
    import sys

    name = pathlib.Path(fvae._fvae.__file__).name
    assert name.endswith(".pyd") if sys.platform == "win32" else ".abi3." in name
