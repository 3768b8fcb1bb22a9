"""DiagGMM and Fisher vectors against scikit-learn, scikit-image and the stored VLFeat outputs."""

import pickle

import numpy as np
import pytest
from conftest import DATA, rel_l2, sklearn_gmm

import fvae


def test_gmm_scores_match_sklearn_and_fixtures(gmm_case):
    gmm, x, d = gmm_case
    gm = sklearn_gmm(gmm)
    ld = gmm.log_densities(x)
    assert ld.shape == (len(x), gmm.n_components) and ld.dtype == np.float32
    ref = np.load(d / "log_density.npy")
    assert np.max(np.abs(ld - ref) / np.maximum(1, np.abs(ref))) < 1e-5
    assert rel_l2(gmm.predict_proba(x), gm.predict_proba(x.astype(np.float64))) < 1e-4
    assert rel_l2(gmm.predict_proba(x), np.load(d / "posteriors.npy")) < 1e-4
    ss = gmm.score_samples(x)
    assert ss.shape == (len(x),)
    assert np.max(np.abs(ss - gm.score_samples(x.astype(np.float64))) / np.maximum(1, np.abs(ss))) < 1e-5


@pytest.mark.parametrize("improved", [False, True])
def test_fisher_vector_equals_skimage(gmm_case, improved):
    from skimage.feature import fisher_vector as sk_fisher_vector

    gmm, x, d = gmm_case
    gm = sklearn_gmm(gmm)
    ref = sk_fisher_vector(x.astype(np.float64), gm, improved=improved)
    for g in (gmm, gm):  # an fvae DiagGMM or the scikit-learn mixture itself
        fv = fvae.fisher_vector(x, g, improved=improved)
        assert fv.shape == ref.shape and fv.dtype == np.float32
        assert rel_l2(fv, ref) < 1e-4
    stored = np.load(d / ("skimage_fv_improved.npy" if improved else "skimage_fv_raw.npy"))
    assert rel_l2(fvae.fisher_vector(x, gmm, improved=improved), stored) < 1e-4


def test_fisher_vector_on_a_fitted_sklearn_gmm():
    from skimage.feature import fisher_vector as sk_fisher_vector
    from sklearn.mixture import GaussianMixture

    x = np.load(DATA / "gmm" / "digits_k16" / "x.npy").astype(np.float64)
    gm = GaussianMixture(8, covariance_type="diag", random_state=0, max_iter=20).fit(x[:1000])
    for improved, alpha in [(False, 0.5), (True, 0.5), (True, 0.3)]:
        ref = sk_fisher_vector(x[1000:], gm, improved=improved, alpha=alpha)
        assert rel_l2(fvae.fisher_vector(x[1000:], gm, improved=improved, alpha=alpha), ref) < 1e-4
    assert rel_l2(fvae.DiagGMM.from_sklearn(gm).predict_proba(x[:50]), gm.predict_proba(x[:50])) < 1e-4


def test_vlfeat_layout_matches_vlfeat(gmm_case):
    gmm, x, d = gmm_case
    raw, improved = (fvae.fisher_vector(x, gmm, layout="vlfeat", improved=i) for i in (False, True))
    # float64 references (the contract, 1e-4), and VLFeat's own f32 outputs (which carry their own rounding)
    assert rel_l2(raw, np.load(d / "fv_vlfeat_raw.npy")) < 1e-4
    assert rel_l2(improved, np.load(d / "fv_vlfeat_improved.npy")) < 1e-4
    assert rel_l2(raw, np.load(d / "vlfeat_raw.npy")) < 1e-4
    assert rel_l2(improved, np.load(d / "vlfeat_improved.npy")) < 3e-4
    hard = fvae.fisher_vector(x, gmm, layout="vlfeat", improved=True, hard=True)
    assert rel_l2(hard, np.load(d / "vlfeat_improved_hard.npy")) < 1e-4


def test_threads_and_per_image_vectors(gmm_case):
    gmm, x, _ = gmm_case
    one = fvae.fisher_vector(x, gmm, threads=1)
    assert rel_l2(fvae.fisher_vector(x, gmm, threads=3), one) < 1e-6
    images = [x[i : i + 25] for i in range(0, 500, 25)]
    many = fvae.fisher_vectors(images, gmm, improved=True)
    assert many.shape == (len(images), one.size)
    for img, fv in zip(images, many):
        assert rel_l2(fv, fvae.fisher_vector(img, gmm, improved=True, threads=1)) < 1e-6


def test_accumulator_push_merge_pickle(gmm_case):
    gmm, x, _ = gmm_case
    a, b = fvae.FisherAccumulator(gmm), fvae.FisherAccumulator(gmm)
    a.push(x[:700])
    b.push(x[700:])
    a.merge(pickle.loads(pickle.dumps(b)))  # statistics travel to another process this way
    assert a.count == len(x)
    for layout in ("skimage", "vlfeat"):
        assert rel_l2(a.finish(layout=layout, improved=True), fvae.fisher_vector(x, gmm, layout=layout, improved=True)) < 1e-4  # the contract; improved FVs at a fitted model cancel
    c = pickle.loads(pickle.dumps(a))
    assert c.count == a.count and np.array_equal(c.finish(), a.finish())


def test_bad_input_raises_and_leaves_the_accumulator_unchanged():
    gmm = fvae.DiagGMM.load(DATA / "gmm" / "edge_k4" / "gmm.safetensors")
    x = np.load(DATA / "gmm" / "edge_k4" / "x.npy")
    acc = fvae.FisherAccumulator(gmm)
    acc.push(x)
    before = acc.finish()
    bad = x.copy()
    bad[5, 3] = np.nan
    with pytest.raises(ValueError, match="row 5, column 3"):
        acc.push(bad)
    with pytest.raises(ValueError, match="columns"):
        acc.push(x[:, :-1])
    with pytest.raises(ValueError, match="2-D"):
        acc.push(x[0])
    with pytest.raises(ValueError):
        acc.merge(fvae.FisherAccumulator(fvae.DiagGMM.load(DATA / "gmm" / "digits_k16" / "gmm.safetensors")))
    assert acc.count == len(x) and np.array_equal(acc.finish(), before)
    with pytest.raises(ValueError, match="layout"):
        acc.finish(layout="vl")
    with pytest.raises(ValueError):
        fvae.FisherAccumulator(gmm).finish()  # no row yet
    with pytest.raises(ValueError):
        fvae.fisher_vector(bad, gmm)
    with pytest.raises(ValueError):
        fvae.DiagGMM([0.5, 0.5], [[0.0], [1.0]], [[1.0], [-1.0]])  # negative variance
    with pytest.raises(ValueError):
        fvae.DiagGMM([0.5, 0.5], [[0.0], [1.0]], [[1.0, 1.0], [1.0, 1.0]])


def test_every_dtype_and_order_gives_the_same_answer():
    gmm = fvae.DiagGMM.load(DATA / "gmm" / "digits_k16" / "gmm.safetensors")
    x = np.load(DATA / "gmm" / "digits_k16" / "x.npy")[:300]
    ref = fvae.fisher_vector(x, gmm)
    variants = [
        x.astype(np.float64),
        x.astype(np.float16).astype(np.float32),
        np.asfortranarray(x),
        np.repeat(x, 2, axis=1)[:, ::2],  # a strided view
        x.tolist(),
    ]
    for v in variants[:1] + variants[2:]:
        assert rel_l2(fvae.fisher_vector(v, gmm), ref) < 1e-6
    assert rel_l2(fvae.fisher_vector(variants[1], gmm), ref) < 1e-2
    xi = np.round(x).astype(np.int32)  # digits are integers 0..16
    assert rel_l2(fvae.fisher_vector(xi, gmm), fvae.fisher_vector(xi.astype(np.float32), gmm)) == 0


def test_files_save_load_and_format_errors(tmp_path):
    gmm = fvae.DiagGMM.load(DATA / "gmm" / "digits_k16" / "gmm.safetensors")
    p = tmp_path / "g.safetensors"
    gmm.save(p)
    back = fvae.DiagGMM.load(p)
    assert np.array_equal(back.means, gmm.means) and np.array_equal(back.covariances, gmm.covariances)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}     ")
    with pytest.raises(fvae.FormatError) as raised:
        fvae.DiagGMM.load(bad)
    assert issubclass(fvae.FormatError, ValueError)
    # It pickles (a Dask worker's error reaches the client) as fvae.FormatError, message kept.
    back_err = pickle.loads(pickle.dumps(raised.value))
    assert type(back_err) is fvae.FormatError and str(back_err) == str(raised.value) and "bad.safetensors" in str(back_err)
    with pytest.raises(OSError):
        fvae.DiagGMM.load(tmp_path / "missing.safetensors")
    with pytest.raises(fvae.FormatError):
        fvae.Network(b"not a tflite file")
    with pytest.raises(fvae.FormatError):
        fvae.Codebook.load(p)  # a GMM file has no codebook


def test_non_diagonal_sklearn_gmm_is_refused():
    from sklearn.mixture import GaussianMixture

    gm = GaussianMixture(2, covariance_type="full").fit(np.random.default_rng(0).normal(size=(50, 2)))
    with pytest.raises(ValueError, match="diag"):
        fvae.fisher_vector(np.zeros((3, 2), np.float32), gm)
