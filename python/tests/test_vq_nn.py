"""Codebook and ResidualVQ against faiss and the stored fixtures; Network against TFLite Micro; FV-VAE."""

import json
import pickle

import numpy as np
import pytest
from conftest import DATA, rel_l2

import fvae


@pytest.mark.parametrize("case", ["digits_m64", "china_m256"])
def test_codebook_search_equals_faiss(case):
    import faiss

    d = DATA / "vq" / case
    cb = fvae.Codebook.load(d / "codebook.safetensors")
    x = np.load(d / "x.npy")
    index = faiss.IndexFlatL2(cb.d)
    index.add(cb.codewords)
    for k in (1, 4):
        dist, idx = cb.search(x, k=k)
        assert dist.dtype == np.float32 and idx.dtype == np.int64 and idx.shape == (len(x), k)
        fd, fi = index.search(x, k)
        assert np.mean(idx == fi) > 0.999  # faiss's float sums may break near-ties differently
        assert np.allclose(dist, fd, rtol=1e-4, atol=1e-3)
    dist, idx = cb.search(x)
    assert np.array_equal(idx[:, 0], np.load(d / "nearest.npy"))
    assert np.allclose(dist[:, 0], np.load(d / "nearest_distance.npy"), rtol=1e-5, atol=1e-5)
    d1, i1 = cb.search(x, k=4, threads=1)
    assert np.array_equal(cb.search(x, k=4, threads=3)[1], i1)


def test_codebook_top4_int8_and_constructors():
    d = DATA / "vq" / "digits_m64"
    cb = fvae.Codebook.load(d / "codebook.safetensors")
    x = np.load(d / "x.npy")
    dist, idx = cb.search(x, k=4)
    assert np.array_equal(idx, np.load(d / "top4.npy"))
    assert np.allclose(dist, np.load(d / "top4_distance.npy"), rtol=1e-5, atol=1e-5)
    assert np.array_equal(fvae.Codebook(cb.codewords.astype(np.float64)).search(x)[1], idx[:, :1])
    c8 = fvae.Codebook.load(d / "codebook_int8.safetensors")
    assert c8.scale is not None and c8.codewords.dtype == np.int8
    dist8, idx8 = c8.search(np.load(d / "x_int8.npy"))
    assert np.array_equal(idx8[:, 0], np.load(d / "nearest_int8.npy"))
    assert np.array_equal(dist8[:, 0], np.load(d / "nearest_int8_distance.npy").astype(np.float32))
    assert np.array_equal(fvae.Codebook(c8.codewords, scale=c8.scale).search(np.load(d / "x_int8.npy"))[1], idx8)
    with pytest.raises(ValueError, match="int8"):
        c8.search(x)
    with pytest.raises(ValueError):
        cb.search(x, k=cb.m + 1)
    with pytest.raises(ValueError):
        cb.search(x[:, :5])
    back = pickle.loads(pickle.dumps(c8))
    assert np.array_equal(back.search(np.load(d / "x_int8.npy"))[1], idx8)


def test_codebook_ties_go_to_the_lowest_index():
    cb = fvae.Codebook(np.array([[1, 0], [0, 1], [1, 0]], np.float32))
    dist, idx = cb.search(np.array([[0.5, 0.5], [1, 0]], np.float32), k=2)
    assert idx.tolist() == [[0, 1], [0, 2]]
    assert dist.tolist() == [[0.5, 0.5], [0.0, 0.0]]


def test_residual_vq_matches_fixture():
    d = DATA / "vq" / "residual_digits_4x16"
    rvq = fvae.ResidualVQ.load(d / "codebooks.safetensors")
    x = np.load(d / "x.npy")
    codes = rvq.encode(x)
    assert codes.dtype == np.int64 and np.array_equal(codes, np.load(d / "codes.npy"))
    assert np.allclose(rvq.decode(codes), np.load(d / "reconstruction.npy"), atol=1e-5)
    assert np.array_equal(fvae.ResidualVQ(rvq.codebooks).encode(x), codes)
    with pytest.raises(ValueError, match="not in 0.."):
        rvq.decode(np.full((1, 4), 16))


def tflm_outputs(model_bytes, inputs):
    """Runs the TFLite Micro Python interpreter row by row."""
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(model_bytes)
    outs = []
    for r in range(len(inputs[0])):
        for k, x in enumerate(inputs):
            interp.set_input(x[r].reshape(interp.get_input_details(k)["shape"]), k)
        interp.invoke()
        outs.append(interp.get_output(0).copy())
    return np.stack(outs)


@pytest.mark.parametrize("name", ["mlp_decoder", "conv_decoder", "mlp_encoder"])
def test_network_is_bit_exact_with_tflite_micro(name):
    d = DATA / "tflite"
    model = (d / f"{name}.tflite").read_bytes()
    x = np.load(d / f"{name}_input.npy")
    net = fvae.Network(d / f"{name}.tflite")
    assert net.inputs[0]["dtype"] == "int8" and net.inputs[0]["scale"] > 0
    [y] = net.run(x)
    assert y.dtype == np.int8 and len(y) == len(x)
    assert np.array_equal(y.reshape(len(x), -1), np.load(d / f"{name}_expected.npy").reshape(len(x), -1))
    ref = tflm_outputs(model, [x[:32]])
    assert np.array_equal(y[:32].reshape(32, -1), ref.reshape(32, -1))
    assert np.array_equal(fvae.Network(model).run([x], threads=3)[0], y)
    manifest = json.loads((d / "manifest.json").read_text())[name]
    assert net.inputs[0]["zero_point"] == manifest["input_zero_point"]


def test_network_converted_models_are_bit_exact_with_their_stored_outputs():
    # TensorFlow- and PyTorch-converted networks (batch 1 and None, int8 and float32 I/O, one or
    # two inputs and outputs); the stored outputs are TFLite Micro's.
    d = DATA / "real"
    manifest = json.loads((d / "manifest.json").read_text())
    for name, entry in manifest.items():
        net = fvae.Network(d / f"{name}.tflite")
        assert [i["name"] for i in net.inputs] == [i["name"] for i in entry["inputs"]], name
        ins = [np.load(d / f"{name}_in{k}.npy") for k in range(len(entry["inputs"]))]
        outs = net.run(ins if len(ins) > 1 else ins[0], threads=2)
        assert len(outs) == len(entry["outputs"]), name
        for k, (y, o) in enumerate(zip(outs, entry["outputs"])):
            want = np.load(d / f"{name}_out{k}.npy")
            assert y.dtype == np.dtype(o["dtype"]) and np.array_equal(y.reshape(want.shape), want), (name, k)
    assert len(manifest) >= 30


def test_network_operator_models_two_inputs_and_float_inputs():
    d = DATA / "tflite_ops"
    manifest = json.loads((d / "manifest.json").read_text())
    checked = 0
    for name in manifest:
        if not (d / f"{name}_out0.npy").exists():
            continue
        net = fvae.Network(d / f"{name}.tflite")
        ins = [np.load(d / f"{name}_in{k}.npy") for k in range(len(net.inputs))]
        outs = net.run(ins if len(ins) > 1 else ins[0])
        assert len(outs) == len(net.outputs), name
        for k, y in enumerate(outs):  # every output (SPLIT, SPLIT_V and UNPACK have several)
            want = np.load(d / f"{name}_out{k}.npy")
            assert np.array_equal(y.reshape(want.shape), want, equal_nan=want.dtype.kind == "f"), (name, k)  # NaN in, NaN out
        checked += 1
    assert checked >= 10
    with pytest.raises(ValueError, match="inputs"):
        fvae.Network(d / "add_broadcast_relu.tflite").run(np.zeros((1, 4), np.int8))
    with pytest.raises(fvae.FormatError):
        fvae.Network(next(d.glob("unsupported*.tflite")))


def test_fv_vae_matches_fixture():
    d = DATA / "fvvae"
    m = json.loads((d / "manifest.json").read_text())
    vae = fvae.FvVae(d / "encoder.tflite", d / "decoder_layer.safetensors")
    assert vae.shape == (m["patch_dim"], m["latent"])
    x = np.load(d / "x.npy").reshape(m["sets"], m["patches_per_set"], -1)
    raw, improved = np.load(d / "fv.npy"), np.load(d / "fv_improved.npy")
    for i in range(m["sets"]):
        assert rel_l2(vae.fisher_vector(x[i]), raw[i]) < 1e-4
        assert rel_l2(vae.fisher_vector(x[i], improved=True), improved[i]) < 1e-4
