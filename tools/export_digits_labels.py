#!/usr/bin/env python3
"""Writes tests/data/digits/labels.npy: the class (0-9, int64) of each of scikit-learn's 1797 8x8 digits,
in the order of tests/data/gmm/digits_k16/x.npy (which holds the images divided by 16), for
examples/digits_accuracy.rs. Checks that the images agree before writing.

    python3 -m venv bench-venv && bench-venv/bin/pip install scikit-learn
    bench-venv/bin/python tools/export_digits_labels.py
"""
import os

import numpy as np
from sklearn.datasets import load_digits

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
digits = load_digits()
x = np.load(os.path.join(root, "tests/data/gmm/digits_k16/x.npy"))
assert x.shape == (1797, 64)
assert np.array_equal(x, (digits.data / 16.0).astype(np.float32)), "images differ from load_digits() / 16"
out = os.path.join(root, "tests/data/digits/labels.npy")
os.makedirs(os.path.dirname(out), exist_ok=True)
np.save(out, digits.target.astype(np.int64))
print(f"wrote {out}: {len(digits.target)} labels, counts {np.bincount(digits.target).tolist()}")
