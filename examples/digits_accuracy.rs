//! Does it help? Test accuracy on scikit-learn's 8x8 digits (all 1 797 images) of one simple
//! classifier on four representations: raw pixels, a GMM Fisher vector of 4x4 patches, a latent
//! GMM Fisher vector (the patches through the fixture's int8 encoder, then a GMM in its 8-d latent
//! space) and the FV-VAE (the fixture's encoder and decoder layer).
//!
//! Run: `cargo run --release --example digits_accuracy --features std`
//!
//! Exactly what runs (deterministic, no random numbers):
//! - Data: `tests/data/gmm/digits_k16/x.npy` (the images / 16) and `tests/data/digits/labels.npy`
//!   (`tools/export_digits_labels.py`). Split: images 0..1100 train, 1100..1797 test (the FV-VAE
//!   fixture's 24 sets are images 1100..1123).
//! - VAEs: the FV-VAE fixture's (`tests/data/fvvae`; which images it was trained on is not recorded,
//!   so it may have seen test patches, without labels) and one trained by `tools/train_vae.py` on the
//!   training images' patches only (`tests/data/digits/vae_train1100`).
//! - Per image, the 25 overlapping 4x4 patches (stride 1), pixels row-major, as the FV-VAE fixture.
//! - GMMs (patch space D = 16 and latent space D = 8, K = 16 each) are fitted here on the training
//!   images' patches by 60 EM iterations in f64 (means initialised at evenly spaced training
//!   patches, variances at the data's, floored at 1e-3), then encoded by fvae's accumulator.
//! - Every Fisher vector is the improved one (signed square root, then L2).
//! - Classifier: one-vs-all ridge regression in closed form (features plus a constant 1, one-hot
//!   targets, Cholesky in f64). The ridge penalty is chosen from {1e-4, ..., 10} on the last 200
//!   training images held out, then refitted on all 1100. Test images are used once, at the end.

use fvae::fisher::{FisherAccumulator, FisherOptions, Layout, Normalization};
use fvae::formats::npy::Npy;
use fvae::formats::safetensors::SafeTensors;
use fvae::formats::AlignedBuf;
use fvae::fvvae::{DecoderLayer, Encoder, FvVaeAccumulator, FvVaeOptions};
use fvae::gmm::DiagGmm;
use fvae::nn::Network;
use std::path::Path;

const TRAIN: usize = 1100;
const PATCHES: usize = 25;
const K: usize = 16;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn npy(path: &Path) -> Res<Vec<f64>> {
    let buf = AlignedBuf::read(path)?;
    Ok(Npy::parse(buf.as_bytes())?.to_f64_vec("array")?)
}

/// The 25 overlapping 4x4 patches of an 8x8 image, [25 * 16].
fn patches(img: &[f32]) -> Vec<f32> {
    let mut out = Vec::with_capacity(PATCHES * 16);
    for i in 0..5 {
        for j in 0..5 {
            for r in 0..4 {
                out.extend_from_slice(&img[(i + r) * 8 + j..(i + r) * 8 + j + 4]);
            }
        }
    }
    out
}

/// A diagonal GMM fitted by EM in f64: (weights, means, variances).
fn fit_gmm(x: &[f32], d: usize, k: usize, iters: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let n = x.len() / d;
    let mut mean_all = vec![0f64; d];
    let mut var_all = vec![0f64; d];
    for r in x.chunks_exact(d) {
        r.iter().zip(&mut mean_all).for_each(|(&v, m)| *m += v as f64 / n as f64);
    }
    for r in x.chunks_exact(d) {
        for j in 0..d {
            var_all[j] += (r[j] as f64 - mean_all[j]).powi(2) / n as f64;
        }
    }
    let mut w = vec![1.0 / k as f64; k];
    let mut mu: Vec<f64> =
        (0..k).flat_map(|c| x[(c * n / k + n / (2 * k)) * d..][..d].iter().map(|&v| v as f64)).collect();
    let mut var: Vec<f64> = (0..k).flat_map(|_| var_all.iter().map(|v| v.max(1e-3))).collect();
    let mut q = vec![0f64; k];
    for _ in 0..iters {
        let (mut s0, mut s1, mut s2) = (vec![0f64; k], vec![0f64; k * d], vec![0f64; k * d]);
        for r in x.chunks_exact(d) {
            for c in 0..k {
                let mut lp = w[c].ln();
                for j in 0..d {
                    let v = var[c * d + j];
                    lp -= 0.5 * ((2.0 * std::f64::consts::PI * v).ln() + (r[j] as f64 - mu[c * d + j]).powi(2) / v);
                }
                q[c] = lp;
            }
            let m = q.iter().cloned().fold(f64::MIN, f64::max);
            let z: f64 = q.iter().map(|v| (v - m).exp()).sum();
            for c in 0..k {
                let p = (q[c] - m).exp() / z;
                s0[c] += p;
                for j in 0..d {
                    s1[c * d + j] += p * r[j] as f64;
                    s2[c * d + j] += p * (r[j] as f64).powi(2);
                }
            }
        }
        for c in 0..k {
            let nk = s0[c].max(1e-10);
            w[c] = nk / n as f64;
            for j in 0..d {
                let m = s1[c * d + j] / nk;
                mu[c * d + j] = m;
                var[c * d + j] = (s2[c * d + j] / nk - m * m).max(1e-3);
            }
        }
        let total: f64 = w.iter().sum();
        w.iter_mut().for_each(|v| *v /= total);
    }
    let f = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<f32>>();
    (f(w), f(mu), f(var))
}

/// One improved GMM Fisher vector (VLFeat layout) per image from its rows `[images * 25, d]`.
fn gmm_fvs(rows: &[f32], d: usize, gmm: &(Vec<f32>, Vec<f32>, Vec<f32>)) -> Res<(Vec<f32>, usize)> {
    let mut consts = vec![0f32; DiagGmm::constants_len(K, d)];
    let g = DiagGmm::new(&gmm.0, &gmm.1, &gmm.2, &mut consts)?;
    let mut storage = vec![0f32; FisherAccumulator::storage_len(K, d)];
    let mut acc = FisherAccumulator::new(g, FisherOptions::default(), &mut storage)?;
    let len = Layout::VlFeat.len(K, d);
    let mut out = vec![0f32; rows.len() / (PATCHES * d) * len];
    for (img, o) in rows.chunks_exact(PATCHES * d).zip(out.chunks_exact_mut(len)) {
        acc.reset();
        acc.push_batch(img)?;
        acc.finish(Layout::VlFeat, Normalization::IMPROVED, o)?;
    }
    Ok((out, len))
}

/// Solves `a x = b` for symmetric positive definite `a` [n, n] (Cholesky), `b` [n, m], in place.
fn cholesky_solve(a: &mut [f64], b: &mut [f64], n: usize, m: usize) {
    for j in 0..n {
        let mut s = a[j * n + j];
        for k in 0..j {
            s -= a[j * n + k] * a[j * n + k];
        }
        let l = s.max(1e-300).sqrt();
        a[j * n + j] = l;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / l;
        }
    }
    for c in 0..m {
        for i in 0..n {
            let mut s = b[i * m + c];
            for k in 0..i {
                s -= a[i * n + k] * b[k * m + c];
            }
            b[i * m + c] = s / a[i * n + i];
        }
        for i in (0..n).rev() {
            let mut s = b[i * m + c];
            for k in i + 1..n {
                s -= a[k * n + i] * b[k * m + c];
            }
            b[i * m + c] = s / a[i * n + i];
        }
    }
}

/// Ridge one-vs-all fitted on rows `fit` of `x` [n, d], accuracy on rows `eval`.
fn ridge_accuracy(
    x: &[f32],
    d: usize,
    y: &[usize],
    fit: std::ops::Range<usize>,
    eval: std::ops::Range<usize>,
    lambda: f64,
) -> f64 {
    let n = d + 1;
    let feat = |r: usize, j: usize| if j < d { x[r * d + j] as f64 } else { 1.0 };
    let (mut a, mut b) = (vec![0f64; n * n], vec![0f64; n * 10]);
    for r in fit.clone() {
        for i in 0..n {
            let fi = feat(r, i);
            if fi == 0.0 {
                continue;
            }
            for j in 0..=i {
                a[i * n + j] += fi * feat(r, j);
            }
            b[i * 10 + y[r]] += fi;
        }
    }
    for i in 0..n {
        for j in 0..i {
            a[j * n + i] = a[i * n + j];
        }
        a[i * n + i] += lambda * fit.len() as f64;
    }
    cholesky_solve(&mut a, &mut b, n, 10);
    let mut right = 0;
    for r in eval.clone() {
        let scores: Vec<f64> = (0..10).map(|c| (0..n).map(|j| feat(r, j) * b[j * 10 + c]).sum()).collect();
        let best = (0..10).fold(0, |m, c| if scores[c] > scores[m] { c } else { m });
        right += (best == y[r]) as usize;
    }
    right as f64 / eval.len() as f64
}

/// Chooses the penalty on a held-out slice of the training set, then refits; returns (test accuracy, lambda).
fn evaluate(x: &[f32], d: usize, y: &[usize]) -> (f64, f64) {
    let lambdas = [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0];
    let val = TRAIN - 200..TRAIN;
    let best = lambdas
        .iter()
        .map(|&l| (ridge_accuracy(x, d, y, 0..TRAIN - 200, val.clone(), l), l))
        .fold((-1.0, 0.0), |b, c| if c.0 > b.0 { c } else { b });
    (ridge_accuracy(x, d, y, 0..TRAIN, TRAIN..y.len(), best.1), best.1)
}

/// The latent GMM FVs and FV-VAEs of every image through the VAE in `dir` (`encoder.tflite`,
/// `decoder_layer.safetensors`): (latent FVs, their length, FV-VAEs, their length).
fn vae_features(dir: &Path, rows: &[f32], n: usize) -> Res<(Vec<f32>, usize, Vec<f32>, usize)> {
    let model = std::fs::read(dir.join("encoder.tflite"))?;
    let net = Network::new(&model)?;
    let mut arena = vec![0u8; net.required_arena()];
    let mut zbuf = vec![0f32; net.output(0)?.len];
    let mut enc = Encoder::new(&net, &mut arena, &mut zbuf)?;
    let l = enc.latent_len();
    let mut latents = Vec::with_capacity(n * PATCHES * l);
    for p in rows.chunks_exact(16) {
        latents.extend_from_slice(enc.encode(p)?);
    }
    let layer_file = AlignedBuf::read(dir.join("decoder_layer.safetensors"))?;
    let st = SafeTensors::parse(layer_file.as_bytes())?;
    let layer = DecoderLayer::from_safetensors(&st)?;
    let mut storage = vec![0f32; FvVaeAccumulator::storage_len(layer.p(), layer.l())];
    let mut acc = FvVaeAccumulator::new(layer, FvVaeOptions::default(), &mut storage)?;
    let vlen = layer.fv_len();
    let mut fvvae = vec![0f32; n * vlen];
    for (img, o) in rows.chunks_exact(PATCHES * 16).zip(fvvae.chunks_exact_mut(vlen)) {
        acc.reset();
        acc.push_batch(&mut enc, img)?;
        acc.finish(Normalization::IMPROVED, o)?;
    }
    // The latent GMM is fitted on the training images' latents only.
    let latent_gmm = fit_gmm(&latents[..TRAIN * PATCHES * l], l, K, 60);
    let (latent_fv, llen) = gmm_fvs(&latents, l, &latent_gmm)?;
    Ok((latent_fv, llen, fvvae, vlen))
}

fn main() -> Res<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let images: Vec<f32> = npy(&root.join("gmm/digits_k16/x.npy"))?.into_iter().map(|v| v as f32).collect();
    let labels: Vec<usize> = npy(&root.join("digits/labels.npy"))?.into_iter().map(|v| v as usize).collect();
    let n = labels.len();
    assert_eq!(images.len(), n * 64);
    let rows: Vec<f32> = images.chunks_exact(64).flat_map(patches).collect();

    // Two VAEs: the fixture's, and one trained by tools/train_vae.py on the training images only.
    let patch_gmm = fit_gmm(&rows[..TRAIN * PATCHES * 16], 16, K, 60);
    let (patch_fv, plen) = gmm_fvs(&rows, 16, &patch_gmm)?;
    let fixture = vae_features(&root.join("fvvae"), &rows, n)?;
    let own = vae_features(&root.join("digits/vae_train1100"), &rows, n)?;
    println!("digits: {n} images, train 0..{TRAIN}, test {TRAIN}..{n}; ridge one-vs-all, penalty chosen on 200 held-out training images");
    println!("| representation | length | test accuracy | ridge penalty |");
    println!("|---|---|---|---|");
    let cases: [(&str, &[f32], usize); 6] = [
        ("raw pixels (8x8)", &images, 64),
        ("GMM FV of 4x4 patches (K=16, improved)", &patch_fv, plen),
        ("latent GMM FV, fixture VAE (K=16 in L=8, improved)", &fixture.0, fixture.1),
        ("FV-VAE, fixture VAE (improved)", &fixture.2, fixture.3),
        ("latent GMM FV, VAE trained on the train split (K=16 in L=8, improved)", &own.0, own.1),
        ("FV-VAE, VAE trained on the train split (improved)", &own.2, own.3),
    ];
    for (name, x, d) in cases {
        let (acc, lambda) = evaluate(x, d, &labels);
        println!("| {name} | {d} | {:.1}% | {lambda:e} |", 100.0 * acc);
    }
    Ok(())
}
