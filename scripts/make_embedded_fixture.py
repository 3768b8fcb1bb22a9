#!/usr/bin/env python3
"""Float64 reference Fisher vectors for the Cortex-M test (qemu/tests/gmm.rs), which can only hold a slice
of the digits descriptors in flash.

Writes tests/data/embedded/digits_first128_fv_raw.npy and digits_first128_fv_improved.npy: the Fisher vector
(VLFeat layout, length 2KD = 2048) of the first 128 rows of tests/data/gmm/digits_k16/x.npy under that case's
gmm.safetensors, computed in float64 exactly as tests/data/FIXTURES.md and docs/design.md define it:
  log N(x|k) = -1/2 (D log 2pi + sum_d log var_kd + sum_d (x_d - mu_kd)^2 / var_kd)
  q_ik = softmax_k(log w_k + log N(x_i|k)), the maximum subtracted first (no threshold)
  t = (x - mu_k) / sigma_k
  G_mu_k = 1/(N sqrt w_k) sum_i q_ik t_i;  G_sigma_k = 1/(N sqrt(2 w_k)) sum_i q_ik (t_i^2 - 1)
  improved = sign(z) sqrt|z|, then divided by the L2 norm.
It also writes tests/data/embedded/digits_top32_k16/, the data of the Cortex-M firmware example and footprint
measurement (examples/firmware, examples/footprint), sized like a sensor encoder (K=16, D=32):
  x.npy             [512, 32] f32: the top halves (first 32 pixels, rows 0-3 of each 8x8 image) of the first
                    512 digits descriptors;
  gmm.safetensors   the digits GMM marginalised to those 32 pixels: the same weights, the first 32 columns of
                    means and covariances (exact for a diagonal mixture, no refitting);
  fv_raw.npy, fv_improved.npy   [1024] f64: the Fisher vector of all 512 rows (VLFeat layout);
  posteriors.npy    [512, 16] f64;
  vq_idx.npy        [512] i32: the VQ index of each row with the 16 GMM means as codebook (nearest mean in
                    Euclidean distance, ties to the lowest index; the script stops if any row's two nearest
                    are within 1e-4 relative, so f32 rounding cannot flip an index);
  vq_means_i8.npy   [16, 32] i8: the means quantised as fvae::vq::quantize_i8 does with the scale 16/127
                    (the pixels' full range 0..16 to 127): round half away from zero of the float32
                    quotient, clamped to [-127, 127];
  vq_idx_i8.npy     [512] i32: the nearest of those int8 codewords to each row quantised the same way, by
                    exact integer distance, ties to the lowest index (what the firmware must get exactly).
Before writing, it checks itself on the whole case against the peer fixtures (log_density.npy, posteriors.npy,
fv_vlfeat_raw.npy, fv_vlfeat_improved.npy) and stops if they disagree beyond 1e-9.

Usage: python3 scripts/make_embedded_fixture.py [--rows 128]   (numpy only; run from anywhere)
"""
import argparse
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
CASE = ROOT / "tests/data/gmm/digits_k16"
OUT = ROOT / "tests/data/embedded"

sys.path.insert(0, str(ROOT / "tools"))
from fvae_export import read_safetensors, write_safetensors  # noqa: E402  (the project's own reader and writer)


def log_densities(x, means, var):
    d = x.shape[1]
    diff = x[:, None, :] - means[None, :, :]
    return -0.5 * (d * np.log(2 * np.pi) + np.log(var).sum(1)[None, :] + (diff * diff / var[None]).sum(2))


def posteriors(x, w, means, var):
    a = np.log(w)[None, :] + log_densities(x, means, var)
    a = a - a.max(1, keepdims=True)
    e = np.exp(a)
    return e / e.sum(1, keepdims=True)


def fisher(x, w, means, var):
    n = x.shape[0]
    q = posteriors(x, w, means, var)
    t = (x[:, None, :] - means[None]) / np.sqrt(var)[None]
    g_mu = (q[:, :, None] * t).sum(0) / (n * np.sqrt(w))[:, None]
    g_sigma = (q[:, :, None] * (t * t - 1)).sum(0) / (n * np.sqrt(2 * w))[:, None]
    return np.concatenate([g_mu.ravel(), g_sigma.ravel()])


def improved(fv):
    z = np.sign(fv) * np.sqrt(np.abs(fv))
    norm = np.linalg.norm(z)
    return z / norm if norm > 0 else z


def rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=128)
    rows = ap.parse_args().rows
    g = {k: v.astype(np.float64) for k, v in read_safetensors(CASE / "gmm.safetensors").items()}
    w, means, var = g["weights"], g["means"], g["covariances"]
    x = np.load(CASE / "x.npy").astype(np.float64)

    # Self-check on the whole case against the peers' outputs.
    checks = {
        "log_density": np.abs(log_densities(x, means, var) - np.load(CASE / "log_density.npy")).max()
        / np.abs(np.load(CASE / "log_density.npy")).max(),
        "posteriors": np.abs(posteriors(x, w, means, var) - np.load(CASE / "posteriors.npy")).max(),
        "fv_raw": rel(fisher(x, w, means, var), np.load(CASE / "fv_vlfeat_raw.npy")),
        "fv_improved": rel(improved(fisher(x, w, means, var)), np.load(CASE / "fv_vlfeat_improved.npy")),
    }
    for name, err in checks.items():
        print(f"self-check {name}: {err:.1e}")
        assert err < 1e-9, f"{name} disagrees with the fixture: {err}"

    fv = fisher(x[:rows], w, means, var)
    OUT.mkdir(parents=True, exist_ok=True)
    np.save(OUT / f"digits_first{rows}_fv_raw.npy", fv)
    np.save(OUT / f"digits_first{rows}_fv_improved.npy", improved(fv))
    print(f"wrote {OUT.relative_to(ROOT)}/digits_first{rows}_fv_{{raw,improved}}.npy ({fv.size} values)")

    # The K=16, D=32 stream of the firmware example and the footprint measurement.
    top = OUT / "digits_top32_k16"
    top.mkdir(exist_ok=True)
    x32 = np.load(CASE / "x.npy")[:512, :32]
    g32 = {"weights": g["weights"], "means": g["means"][:, :32], "covariances": g["covariances"][:, :32]}
    write_safetensors(top / "gmm.safetensors", {k: v.astype(np.float32) for k, v in g32.items()})
    np.save(top / "x.npy", np.ascontiguousarray(x32, dtype="<f4"))
    x32 = x32.astype(np.float64)
    fv32 = fisher(x32, w, g32["means"], g32["covariances"])
    np.save(top / "fv_raw.npy", fv32)
    np.save(top / "fv_improved.npy", improved(fv32))
    np.save(top / "posteriors.npy", posteriors(x32, w, g32["means"], g32["covariances"]))
    dist = ((x32[:, None, :] - g32["means"][None, :, :].astype(np.float64)) ** 2).sum(axis=2)
    two = np.sort(dist, axis=1)[:, :2]
    if np.any(two[:, 1] - two[:, 0] <= 1e-4 * two[:, 1]):
        raise SystemExit("a row has two near-equal nearest means: its VQ index is not robust")
    np.save(top / "vq_idx.npy", np.argmin(dist, axis=1).astype("<i4"))
    scale = np.float32(16.0) / np.float32(127.0)

    def quantize_i8(v):
        t = np.asarray(v, dtype=np.float32) / scale
        # |t| + 0.5 in float64 is exact for a float32 t, so this is roundf (half away from zero).
        return np.clip(np.sign(t) * np.floor(np.abs(t).astype(np.float64) + 0.5), -127, 127).astype(np.int8)

    means_i8 = quantize_i8(g32["means"])
    x_i8 = quantize_i8(np.load(CASE / "x.npy")[:512, :32])
    d_i8 = ((x_i8[:, None, :].astype(np.int64) - means_i8[None, :, :].astype(np.int64)) ** 2).sum(axis=2)
    np.save(top / "vq_means_i8.npy", means_i8)
    np.save(top / "vq_idx_i8.npy", np.argmin(d_i8, axis=1).astype("<i4"))
    print(f"int8 VQ indices equal to the float64 ones: {np.mean(np.argmin(d_i8, axis=1) == np.argmin(dist, axis=1)):.4f}")
    print(f"wrote {top.relative_to(ROOT)}/ (x [512, 32], gmm K=16 D=32, fv_raw, fv_improved, posteriors, vq_idx, vq_means_i8, vq_idx_i8)")


if __name__ == "__main__":
    main()
