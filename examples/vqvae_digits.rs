//! Rate-distortion of the VQ-VAE codec on scikit-learn's 8x8 digits: bits per image and
//! reconstruction error on the test split, against three baselines at the same bit budget.
//!
//! Run: `cargo run --release --example vqvae_digits --features std [-- FIGURE.png]`
//!
//! Exactly what runs (deterministic):
//! - Data: `tests/data/gmm/digits_k16/x.npy` (the images / 16, in [0, 1]); images 0..1100 train,
//!   1100..1797 test. Error: mean squared error per pixel on the test images, PSNR = 10 log10(1 /
//!   MSE) (peak 1). Every reconstruction is clipped to [0, 1].
//! - VQ-VAE: the int8 models of `tests/data/vqvae` (tools/train_vqvae.py, trained on the training
//!   images): fvae encodes each test image to indices, packs them (`pack_indices`, the bytes sent),
//!   unpacks and decodes. Bits per image: L ceil(log2 M).
//! - Baselines, each at most the VQ-VAE's bits per image. Each setting is fitted on training images
//!   0..900 and scored on 900..1100; the best is refitted on all 1100 and measured once on the test
//!   split:
//!   - downsampling: block means on a g x g grid (g in 1, 2, 4, 8), each quantised uniformly to b
//!     bits over [0, 1] (g^2 b bits), replicated back to 8x8;
//!   - PCA: the k leading principal components of the training images (Jacobi eigenvectors of
//!     the covariance in f64), each coefficient quantised uniformly to b bits over its training
//!     range (k b bits);
//!   - residual VQ of raw patches: the image cut into p x p patches (p in 2, 4, 8), each encoded
//!     by S stages of M codewords (`fvae::fit::residual_kmeans` on the training patches,
//!     `ResidualVq` to encode), (64 / p^2) S log2 M bits.
//!
//! With a path argument it writes a PNG: the first 12 test images (top row), then the VQ-VAE's
//! reconstructions at each rate, then the three baselines at 64 bits.

use fvae::fit::{residual_kmeans, KMeansOptions};
use fvae::formats::npy::Npy;
use fvae::formats::safetensors::SafeTensors;
use fvae::formats::AlignedBuf;
use fvae::nn::Network;
use fvae::vq::{Codebook, ResidualVq};
use fvae::vqvae::{index_bits, pack_indices, packed_len, unpack_indices, VqVaeDecoder, VqVaeEncoder};
use std::path::{Path, PathBuf};

const TRAIN: usize = 1100;
const PIXELS: usize = 64;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// Reconstructions of every image of a set, [n * 64].
type Images = Vec<f32>;

fn mse(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| ((x - y) as f64).powi(2)).sum::<f64>() / a.len() as f64
}

fn psnr(mse: f64) -> f64 {
    10.0 * (1.0 / mse).log10()
}

/// The VQ-VAE of `dir` on `x`: reconstructions and bits per image (what `pack_indices` writes).
fn vqvae(dir: &Path, x: &[f32]) -> Res<(Images, usize)> {
    let enc_model = std::fs::read(dir.join("encoder.tflite"))?;
    let dec_model = std::fs::read(dir.join("decoder.tflite"))?;
    let cb_file = AlignedBuf::read(dir.join("codebook.safetensors"))?;
    let codebook = Codebook::from_safetensors(&SafeTensors::parse(cb_file.as_bytes())?)?;
    let (enc_net, dec_net) = (Network::new(&enc_model)?, Network::new(&dec_model)?);
    let (mut enc_arena, mut dec_arena) = (vec![0u8; enc_net.required_arena()], vec![0u8; dec_net.required_arena()]);
    let mut latent = vec![0f32; enc_net.output(0)?.len];
    let mut enc = VqVaeEncoder::new(&enc_net, &mut enc_arena, &mut latent, codebook)?;
    let mut dec = VqVaeDecoder::new(&dec_net, &mut dec_arena, codebook)?;
    let (l, m) = (enc.positions(), codebook.m());
    let (mut indices, mut received) = (vec![0u32; l], vec![0u32; l]);
    let mut radio = vec![0u8; packed_len(l, m)];
    let mut out = vec![0f32; x.len()];
    for (img, y) in x.chunks_exact(PIXELS).zip(out.chunks_exact_mut(PIXELS)) {
        enc.encode(img, &mut indices)?;
        let sent = pack_indices(&indices, m, &mut radio)?;
        unpack_indices(&radio[..sent], m, &mut received)?;
        dec.decode(&received, y)?;
    }
    Ok((out, l * index_bits(m) as usize))
}

/// Block means on a g x g grid quantised to `bits` bits, replicated back to 8x8.
fn downsample(x: &[f32], g: usize, bits: u32) -> Images {
    let (block, levels) = (8 / g, ((1u32 << bits) - 1) as f32);
    let mut out = vec![0f32; x.len()];
    for (img, y) in x.chunks_exact(PIXELS).zip(out.chunks_exact_mut(PIXELS)) {
        for (bi, bj) in (0..g).flat_map(|i| (0..g).map(move |j| (i, j))) {
            let cells = || (0..block).flat_map(|r| (0..block).map(move |c| (bi * block + r) * 8 + bj * block + c));
            let mean = cells().map(|p| img[p]).sum::<f32>() / (block * block) as f32;
            let v = (mean * levels).round() / levels;
            cells().for_each(|p| y[p] = v);
        }
    }
    out
}

/// Eigenvectors of a symmetric matrix (cyclic Jacobi), sorted by decreasing eigenvalue: rows of
/// the returned `[n * n]`.
fn eigenvectors(mut a: Vec<f64>, n: usize) -> Vec<f64> {
    let mut v: Vec<f64> = (0..n * n).map(|i| if i / n == i % n { 1.0 } else { 0.0 }).collect();
    for _sweep in 0..50 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j].powi(2))
            .sum();
        if off < 1e-22 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let (c, s) = (1.0 / (t * t + 1.0).sqrt(), t / (t * t + 1.0).sqrt());
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| a[j * n + j].total_cmp(&a[i * n + i]));
    order.iter().flat_map(|&j| (0..n).map(move |k| (k, j))).map(|(k, j)| v[k * n + j]).collect()
}

/// PCA fitted on the training images: the mean, the components (rows), and each coefficient's
/// training range.
struct Pca {
    mean: Vec<f64>,
    components: Vec<f64>,
    ranges: Vec<(f64, f64)>,
}

impl Pca {
    fn fit(train: &[f32]) -> Pca {
        let n = train.len() / PIXELS;
        let mut mean = vec![0f64; PIXELS];
        for img in train.chunks_exact(PIXELS) {
            mean.iter_mut().zip(img).for_each(|(m, &v)| *m += v as f64 / n as f64);
        }
        let mut cov = vec![0f64; PIXELS * PIXELS];
        for img in train.chunks_exact(PIXELS) {
            for i in 0..PIXELS {
                for j in 0..PIXELS {
                    cov[i * PIXELS + j] += (img[i] as f64 - mean[i]) * (img[j] as f64 - mean[j]) / n as f64;
                }
            }
        }
        let components = eigenvectors(cov, PIXELS);
        let mut pca = Pca { mean, components, ranges: vec![(f64::MAX, f64::MIN); PIXELS] };
        for img in train.chunks_exact(PIXELS) {
            for (j, r) in pca.ranges.clone().iter().enumerate() {
                let c = pca.coefficient(img, j);
                pca.ranges[j] = (r.0.min(c), r.1.max(c));
            }
        }
        pca
    }

    fn coefficient(&self, img: &[f32], j: usize) -> f64 {
        let v = &self.components[j * PIXELS..(j + 1) * PIXELS];
        img.iter().zip(&self.mean).zip(v).map(|((&x, m), w)| (x as f64 - m) * w).sum()
    }

    /// Reconstructions from the first `k` coefficients, each quantised to `bits` bits (cell
    /// centres of 2^bits equal cells over the training range).
    fn reconstruct(&self, x: &[f32], k: usize, bits: u32) -> Images {
        let cells = (1u64 << bits) as f64;
        let mut out = vec![0f32; x.len()];
        for (img, y) in x.chunks_exact(PIXELS).zip(out.chunks_exact_mut(PIXELS)) {
            let mut rec = self.mean.clone();
            for j in 0..k {
                let (lo, hi) = self.ranges[j];
                let cell = (((self.coefficient(img, j) - lo) / (hi - lo) * cells).floor()).clamp(0.0, cells - 1.0);
                let c = lo + (cell + 0.5) * (hi - lo) / cells;
                rec.iter_mut().zip(&self.components[j * PIXELS..(j + 1) * PIXELS]).for_each(|(r, w)| *r += c * w);
            }
            y.iter_mut().zip(&rec).for_each(|(o, &r)| *o = r as f32);
        }
        out
    }
}

/// The images cut into p x p patches (row-major patches, row-major pixels), and back.
fn to_patches(x: &[f32], p: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(x.len());
    for img in x.chunks_exact(PIXELS) {
        for (bi, bj) in (0..8 / p).flat_map(|i| (0..8 / p).map(move |j| (i, j))) {
            for r in 0..p {
                out.extend_from_slice(&img[(bi * p + r) * 8 + bj * p..(bi * p + r) * 8 + bj * p + p]);
            }
        }
    }
    out
}

fn from_patches(patches: &[f32], p: usize) -> Images {
    let mut out = vec![0f32; patches.len()];
    for (src, img) in patches.chunks_exact(PIXELS).zip(out.chunks_exact_mut(PIXELS)) {
        for (k, (bi, bj)) in (0..8 / p).flat_map(|i| (0..8 / p).map(move |j| (i, j))).enumerate() {
            for r in 0..p {
                let row = (bi * p + r) * 8 + bj * p;
                img[row..row + p].copy_from_slice(&src[k * p * p + r * p..k * p * p + r * p + p]);
            }
        }
    }
    out
}

/// Residual VQ of p x p patches with S stages of M codewords, fitted on `fit_on`: the
/// reconstructions of `x`.
fn residual_vq(fit_on: &[f32], x: &[f32], p: usize, stages: usize, m: usize) -> Res<Images> {
    let d = p * p;
    let fitted = residual_kmeans(&to_patches(fit_on, p), d, stages, &KMeansOptions::new(m).with_max_iter(100))?;
    let rvq = ResidualVq::new(&fitted.codebooks, stages, d)?;
    let patches = to_patches(x, p);
    let n = patches.len() / d;
    let (mut codes, mut residual, mut out) = (vec![0u32; n * stages], vec![0f32; d], vec![0f32; patches.len()]);
    rvq.encode_batch(&patches, &mut codes, &mut residual)?;
    rvq.decode_batch(&codes, &mut out)?;
    Ok(from_patches(&out, p))
}

fn clip(mut x: Images) -> Images {
    x.iter_mut().for_each(|v| *v = v.clamp(0.0, 1.0));
    x
}

/// Which images a baseline is fitted on: the first 900 training images (to choose its setting
/// on the other 200), or all 1100 (to measure the chosen setting on the test split).
#[derive(Clone, Copy)]
enum Fit {
    Choose,
    Final,
}

/// One setting of a baseline: its description and `run(fit, x)`, the reconstructions of `x`.
type Candidate<'a> = (String, Box<dyn Fn(Fit, &[f32]) -> Res<Images> + 'a>);

/// The setting with the lowest error on the held-out training images, refitted on all of them:
/// (description, test reconstructions).
fn best(candidates: Vec<Candidate<'_>>, held_out: &[f32], test: &[f32]) -> Res<(String, Images)> {
    let mut best: Option<(f64, Candidate<'_>)> = None;
    for c in candidates {
        let e = mse(&clip((c.1)(Fit::Choose, held_out)?), held_out);
        if best.as_ref().is_none_or(|b| e < b.0) {
            best = Some((e, c));
        }
    }
    let (_, (name, run)) = best.ok_or("no setting fits the budget")?;
    Ok((name, clip(run(Fit::Final, test)?)))
}

fn main() -> Res<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let buf = AlignedBuf::read(root.join("gmm/digits_k16/x.npy"))?;
    let x = Npy::parse(buf.as_bytes())?.to_f32_vec("images")?;
    let (train, test) = x.split_at(TRAIN * PIXELS);
    const CHOOSE: usize = 900;
    let (fit_choose, held_out) = train.split_at(CHOOSE * PIXELS);
    let fit_set = |fit| match fit {
        Fit::Choose => fit_choose,
        Fit::Final => train,
    };
    let pcas = [Pca::fit(fit_choose), Pca::fit(train)];
    let pca = |fit| &pcas[matches!(fit, Fit::Final) as usize];

    println!("| bits per image | method (setting chosen on held-out training images) | test MSE | PSNR |");
    println!("|---:|---|---:|---:|");
    let mut figure: Vec<Images> = vec![test.to_vec()];
    let mut at_64 = Vec::new();
    for model in ["g2_m256", "g4_m16", "g4_m64", "g4_m256"] {
        let (rec, bits) = vqvae(&root.join("vqvae").join(model), test)?;
        let e = mse(&rec, test);
        println!("| {bits} | **VQ-VAE** {model} (int8, fvae) | {e:.5} | {:.2} dB |", psnr(e));
        figure.push(rec);

        let mut down: Vec<Candidate> = Vec::new();
        for (g, b) in (0..4u32).flat_map(|lg| (1..=8u32).map(move |b| (1usize << lg, b))) {
            if g * g * b as usize <= bits {
                down.push((format!("{g}x{g} grid, {b} bits"), Box::new(move |_, x: &[f32]| Ok(downsample(x, g, b)))));
            }
        }
        let mut pc: Vec<Candidate> = Vec::new();
        for (k, b) in (1..=PIXELS).flat_map(|k| (1..=8u32).map(move |b| (k, b))) {
            if k * b as usize <= bits {
                pc.push((
                    format!("{k} coefficients x {b} bits"),
                    Box::new(move |fit, x: &[f32]| Ok(pca(fit).reconstruct(x, k, b))),
                ));
            }
        }
        let mut rvq: Vec<Candidate> = Vec::new();
        for (p, m) in [2usize, 4, 8].into_iter().flat_map(|p| [4usize, 16, 256].into_iter().map(move |m| (p, m))) {
            let patches = 64 / (p * p);
            let s = bits / (patches * index_bits(m) as usize);
            if (1..=16).contains(&s) && s * patches * index_bits(m) as usize == bits {
                let run = move |fit, x: &[f32]| residual_vq(fit_set(fit), x, p, s, m);
                rvq.push((format!("{p}x{p} patches, {s} stages x M={m}"), Box::new(run)));
            }
        }
        for (name, candidates) in [
            ("downsampling + uniform quantisation", down),
            ("PCA, quantised coefficients", pc),
            ("residual VQ of raw patches", rvq),
        ] {
            let (setting, rec) = best(candidates, held_out, test)?;
            let e = mse(&rec, test);
            println!("| {bits} | {name}: {setting} | {e:.5} | {:.2} dB |", psnr(e));
            if bits == 64 {
                at_64.push(rec);
            }
        }
    }
    if let Some(path) = std::env::args().nth(1) {
        figure.extend(at_64);
        write_figure(Path::new(&path), &figure, 12)?;
        println!("wrote {path}");
    }
    Ok(())
}

/// A grayscale PNG: one row of `cols` digits per image set (ink dark on white), each pixel 4x4.
fn write_figure(path: &Path, sets: &[Images], cols: usize) -> Res<()> {
    const SCALE: usize = 4;
    const GAP: usize = 4;
    let tile = 8 * SCALE + GAP;
    let (w, h) = (cols * tile + GAP, sets.len() * tile + GAP);
    let mut pixels = vec![255u8; w * h];
    for (row, set) in sets.iter().enumerate() {
        for (col, img) in set.chunks_exact(PIXELS).take(cols).enumerate() {
            for (p, &v) in img.iter().enumerate() {
                let ink = (255.0 * (1.0 - v.clamp(0.0, 1.0))).round() as u8;
                for dy in 0..SCALE {
                    let y = GAP + row * tile + (p / 8) * SCALE + dy;
                    let x = GAP + col * tile + (p % 8) * SCALE;
                    pixels[y * w + x..y * w + x + SCALE].fill(ink);
                }
            }
        }
    }
    std::fs::write(path, png_gray(&pixels, w, h))?;
    Ok(())
}

/// PNG bytes of an 8-bit grayscale image, the image data in stored (uncompressed) deflate blocks.
fn png_gray(pixels: &[u8], w: usize, h: usize) -> Vec<u8> {
    let mut raw = Vec::with_capacity((w + 1) * h);
    for row in pixels.chunks_exact(w) {
        raw.push(0); // filter: none
        raw.extend_from_slice(row);
    }
    let mut z = vec![0x78, 0x01];
    let mut blocks = raw.chunks(65_535).peekable();
    while let Some(block) = blocks.next() {
        z.push(blocks.peek().is_none() as u8);
        z.extend_from_slice(&(block.len() as u16).to_le_bytes());
        z.extend_from_slice(&(!(block.len() as u16)).to_le_bytes());
        z.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + byte as u32) % 65_521;
        b = (b + a) % 65_521;
    }
    z.extend_from_slice(&((b << 16) | a).to_be_bytes());

    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&(w as u32).to_be_bytes());
    ihdr.extend_from_slice(&(h as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit grayscale, deflate, no filter, no interlace
    for (kind, data) in [(b"IHDR", &ihdr[..]), (b"IDAT", &z[..]), (b"IEND", &[][..])] {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = png.len();
        png.extend_from_slice(kind);
        png.extend_from_slice(data);
        let crc = crc32(&png[start..]);
        png.extend_from_slice(&crc.to_be_bytes());
    }
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= byte as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}
