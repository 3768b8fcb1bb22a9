"""The package docstring's examples run."""

import doctest

import fvae


def test_package_docstring_examples():
    result = doctest.testmod(fvae)
    assert result.attempted >= 4 and result.failed == 0
