#!/usr/bin/env python3
"""Export models to the `.safetensors` files fvae reads, with NumPy only.

Library use (any object with scikit-learn's fitted attributes works; scikit-learn itself is not
imported):

    import sys; sys.path.insert(0, "tools")
    from fvae_export import export_gmm, export_kmeans, export_decoder_layer
    export_gmm(GaussianMixture(16, covariance_type="diag").fit(X), "gmm.safetensors")
    export_kmeans(KMeans(64).fit(X), "codebook.safetensors")
    export_decoder_layer(W, b, var, "decoder_layer.safetensors")   # FV-VAE: W [P,L], b [P], var [P]

Command line (fitting needs scikit-learn; exporting does not):

    python3 tools/fvae_export.py gmm    --input X.npy --components 16 --out gmm.safetensors [--seed 0]
    python3 tools/fvae_export.py kmeans --input X.npy --clusters 64   --out codebook.safetensors [--seed 0]

Files: `weights` [K], `means` [K,D], `covariances` [K,D] (diagonal variances, scikit-learn's names) for a
GMM; `codebook` [M,D] for k-means; `weight` [P,L], `bias` [P], `variance` [P] for the FV-VAE decoder
layer. All float32, little-endian, tensor data 8-aligned in the file (fvae reads them in place).
"""

import argparse
import json
import struct

import numpy as np

_DTYPES = {
    np.dtype("<f4"): "F32",
    np.dtype("<f8"): "F64",
    np.dtype("int8"): "I8",
    np.dtype("uint8"): "U8",
    np.dtype("<i2"): "I16",
    np.dtype("<i4"): "I32",
    np.dtype("<i8"): "I64",
}


def write_safetensors(path, tensors, metadata=None):
    """Writes `tensors` (name -> array) as `.safetensors`, in the given order."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)
        if a.dtype not in _DTYPES:
            raise ValueError(f"{name}: dtype {a.dtype} has no safetensors name here")
        data = a.tobytes()
        header[name] = {"dtype": _DTYPES[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data section starts 8-aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """Reads a `.safetensors` file into name -> array (for checks and round trips)."""
    inverse = {v: k for k, v in _DTYPES.items()}
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        begin, end = e["data_offsets"]
        out[name] = np.frombuffer(data[begin:end], dtype=inverse[e["dtype"]]).reshape(e["shape"])
    return out


def _finite(name, a, positive=False):
    a = np.asarray(a, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: not finite")
    if positive and np.any(a <= 0):
        raise ValueError(f"{name}: must be > 0")
    return a.astype(np.float32)


def export_gmm(gmm, path):
    """A fitted diagonal GaussianMixture (`weights_`, `means_`, `covariances_` [K,D]) to `path`.

    A spherical mixture (`covariances_` [K]) is broadcast to diagonal variances."""
    kind = getattr(gmm, "covariance_type", "diag")
    means = _finite("means_", gmm.means_)
    k, d = means.shape
    cov = np.asarray(gmm.covariances_)
    if kind == "spherical" or cov.shape == (k,):
        cov = np.repeat(cov.reshape(k, 1), d, axis=1)
    elif kind != "diag" or cov.shape != (k, d):
        raise ValueError(f"covariance_type {kind!r} with covariances_ {cov.shape}: fvae reads diagonal GMMs only")
    weights = _finite("weights_", gmm.weights_, positive=False)
    if weights.shape != (k,) or np.any(weights < 0) or abs(float(weights.sum()) - 1.0) > 1e-3:
        raise ValueError("weights_: must be K non-negative values summing to 1")
    write_safetensors(
        path,
        {"weights": weights, "means": means, "covariances": _finite("covariances_", cov, positive=True)},
        {"source": "fvae_export.export_gmm"},
    )


def export_kmeans(km, path):
    """A fitted KMeans (`cluster_centers_` [M,D]) to `path` as `codebook`."""
    write_safetensors(path, {"codebook": _finite("cluster_centers_", km.cluster_centers_)})


def export_decoder_layer(weight, bias, variance, path):
    """The FV-VAE decoder layer u = relu(W z + b), likelihood N(x; u, diag var): W [P,L], b [P], var [P]."""
    weight = _finite("weight", weight)
    p = weight.shape[0]
    bias, variance = _finite("bias", bias), _finite("variance", variance, positive=True)
    if weight.ndim != 2 or bias.shape != (p,) or variance.shape != (p,):
        raise ValueError(f"shapes: weight {weight.shape}, bias {bias.shape}, variance {variance.shape}")
    write_safetensors(path, {"weight": weight, "bias": bias, "variance": variance})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("kind", choices=["gmm", "kmeans"])
    ap.add_argument("--input", required=True, help="descriptors [N,D] .npy")
    ap.add_argument("--out", required=True)
    ap.add_argument("--components", type=int, default=16, help="GMM components K")
    ap.add_argument("--clusters", type=int, default=64, help="k-means clusters M")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    x = np.load(a.input).astype(np.float64)
    if a.kind == "gmm":
        from sklearn.mixture import GaussianMixture

        export_gmm(GaussianMixture(a.components, covariance_type="diag", random_state=a.seed).fit(x), a.out)
    else:
        from sklearn.cluster import KMeans

        export_kmeans(KMeans(a.clusters, n_init=4, random_state=a.seed).fit(x), a.out)


if __name__ == "__main__":
    main()
