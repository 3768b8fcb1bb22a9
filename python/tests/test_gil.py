"""Computations run with the GIL released: another Python thread runs while one is inside fvae."""

import sys
import threading
import time

import numpy as np
import pytest

import fvae

RNG = np.random.default_rng(0)
X = RNG.normal(size=(100_000, 32)).astype(np.float32)
GMM = fvae.fit_gmm(X[:2000], 32, seed=0, max_iter=2)
CODEBOOK = fvae.Codebook(RNG.normal(size=(512, 32)).astype(np.float32))

CALLS = {
    "fisher_vector": lambda: fvae.fisher_vector(X, GMM, threads=1),
    "predict_proba": lambda: GMM.predict_proba(X, threads=1),
    "Codebook.search": lambda: CODEBOOK.search(X, k=4, threads=1),
    "fit_gmm": lambda: fvae.fit_gmm(X, 8, seed=0, max_iter=3, threads=1),
}


@pytest.mark.parametrize("name", CALLS)
def test_the_gil_is_released_during_the_call(name):
    # With a switch interval of 100 s the interpreter never takes the GIL from the worker thread
    # on its own, so this thread runs while the worker is inside the call only if the call
    # released it: holding it, `steps` stays 0 (the worker sets `entered` and `done` before this
    # thread runs again).
    state = {"entered": False, "done": False}

    def work():
        state["entered"] = True
        CALLS[name]()
        state["done"] = True

    old = sys.getswitchinterval()
    sys.setswitchinterval(100.0)
    try:
        worker = threading.Thread(target=work)
        worker.start()
        while not state["entered"]:
            time.sleep(1e-4)
        steps = 0
        while not state["done"]:
            steps += 1
            time.sleep(1e-4)  # gives the GIL back, so the worker can finish
        worker.join()
    finally:
        sys.setswitchinterval(old)
    assert steps > 0
