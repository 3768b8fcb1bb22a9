//! FV-VAE and latent GMM Fisher vectors against tests/data/fvvae (a VAE trained on 4x4 patches of
//! the digits, P = 16, L = 8; 24 sets of 25 patches; expected FVs in float64 from TFLite Micro's
//! encoder outputs): within 1e-4 relative L2 per set, raw and improved.

mod common;

use common::{file, npy_f32, npy_f64, rel_l2};
use fvae::fisher::{FisherAccumulator, FisherOptions, Layout, Normalization};
use fvae::formats::safetensors::SafeTensors;
use fvae::fvvae::{push_latent_gmm, push_latent_gmm_batch, DecoderLayer, Encoder, FvVaeAccumulator, FvVaeOptions};
use fvae::gmm::DiagGmm;
use fvae::nn::Network;
use fvae::Error;

const P: usize = 16;
const L: usize = 8;
const T: usize = 25;
const SETS: usize = 24;
const LEN: usize = P * (L + 1);
const TOL: f64 = 1e-4;

struct Fixture {
    model: Vec<u8>,
    layer: fvae::formats::AlignedBuf,
    x: Vec<f32>,
    fv: Vec<f64>,
    fv_improved: Vec<f64>,
}

fn fixture() -> Fixture {
    let model = std::fs::read(common::data("fvvae/encoder.tflite")).unwrap();
    let (x, xs) = npy_f32("fvvae/x.npy");
    assert_eq!(xs, [SETS * T, P]);
    let (fv, s) = npy_f64("fvvae/fv.npy");
    assert_eq!(s, [SETS, LEN]);
    let (fv_improved, _) = npy_f64("fvvae/fv_improved.npy");
    Fixture { model, layer: file("fvvae/decoder_layer.safetensors"), x, fv, fv_improved }
}

/// The fixture's encoder (running in an arena of its own) and decoder layer, handed to `body`.
fn with_encoder<R>(f: &Fixture, body: impl FnOnce(&mut Encoder<'_, '_>, DecoderLayer<'_>) -> R) -> R {
    let net = Network::new(&f.model).unwrap();
    let mut arena = vec![0u8; net.required_arena()];
    let mut z = [0f32; L];
    let mut enc = Encoder::new(&net, &mut arena, &mut z).unwrap();
    let st = SafeTensors::parse(f.layer.as_bytes()).unwrap();
    body(&mut enc, DecoderLayer::from_safetensors(&st).unwrap())
}

/// Every set's FV through `push` (first half of each set) and `push_batch` (second half).
fn fvs(f: &Fixture, options: FvVaeOptions, norm: Normalization) -> Vec<f32> {
    with_encoder(f, |enc, layer| {
        assert_eq!((layer.p(), layer.l()), (P, L));
        let mut storage = vec![0f32; FvVaeAccumulator::storage_len_with(P, L, options)];
        let mut acc = FvVaeAccumulator::new(layer, options, &mut storage).unwrap();
        let mut out = vec![0f32; SETS * LEN];
        for (set, o) in out.chunks_exact_mut(LEN).enumerate() {
            acc.reset();
            let rows = &f.x[set * T * P..(set + 1) * T * P];
            let (first, rest) = rows.split_at(12 * P);
            for x in first.chunks_exact(P) {
                acc.push(enc, x).unwrap();
            }
            acc.push_batch(enc, rest).unwrap();
            assert_eq!(acc.count(), T as u64);
            acc.finish(norm, o).unwrap();
        }
        out
    })
}

fn worst_set(got: &[f32], want: &[f64]) -> f64 {
    got.chunks_exact(LEN).zip(want.chunks_exact(LEN)).map(|(g, w)| rel_l2(g, w)).fold(0.0, f64::max)
}

#[test]
fn fixture_sets_raw_and_improved() {
    let f = fixture();
    for options in [FvVaeOptions::default(), FvVaeOptions::DEFAULT.with_compensated(false)] {
        let raw = worst_set(&fvs(&f, options, Normalization::NONE), &f.fv);
        let improved = worst_set(&fvs(&f, options, Normalization::IMPROVED), &f.fv_improved);
        eprintln!("{options:?}: worst set rel. L2 raw {raw:.2e}, improved {improved:.2e}");
        assert!(raw < TOL, "raw: {raw:.3e}");
        assert!(improved < TOL, "improved: {improved:.3e}");
    }
}

#[test]
fn merge_and_statistics_equal_one_stream() {
    let f = fixture();
    with_encoder(&f, |enc, layer| {
        let n = FvVaeAccumulator::storage_len(P, L);
        let (mut sa, mut sb, mut sc) = (vec![0f32; n], vec![0f32; n], vec![0f32; n]);
        let opts = FvVaeOptions::default();
        let mut a = FvVaeAccumulator::new(layer, opts, &mut sa).unwrap();
        let mut b = FvVaeAccumulator::new(layer, opts, &mut sb).unwrap();
        let mut c = FvVaeAccumulator::new(layer, opts, &mut sc).unwrap();
        // Set 0 split over two accumulators, merged; and shipped as raw statistics.
        let rows = &f.x[..T * P];
        a.push_batch(enc, &rows[..10 * P]).unwrap();
        b.push_batch(enc, &rows[10 * P..]).unwrap();
        c.merge_statistics(a.count(), a.statistics()).unwrap();
        a.merge(&b).unwrap();
        c.merge_statistics(b.count(), b.statistics()).unwrap();
        let (mut fa, mut fc) = (vec![0f32; LEN], vec![0f32; LEN]);
        a.finish(Normalization::NONE, &mut fa).unwrap();
        c.finish(Normalization::NONE, &mut fc).unwrap();
        assert!(rel_l2(&fa, &f.fv[..LEN]) < TOL);
        assert!(rel_l2(&fc, &f.fv[..LEN]) < TOL);
    })
}

#[test]
fn bad_input_is_an_error_and_changes_nothing() {
    let f = fixture();
    with_encoder(&f, |enc, layer| {
        let mut storage = vec![0f32; FvVaeAccumulator::storage_len(P, L)];
        let mut acc = FvVaeAccumulator::new(layer, FvVaeOptions::default(), &mut storage).unwrap();

        let empty = vec![0f32; LEN];
        assert!(matches!(acc.finish(Normalization::NONE, &mut empty.clone()), Err(Error::Empty { .. })));
        acc.push_batch(enc, &f.x[..3 * P]).unwrap();
        let mut before = vec![0f32; LEN];
        acc.finish(Normalization::NONE, &mut before).unwrap();

        let mut nan = f.x[..P].to_vec();
        nan[5] = f32::NAN;
        assert!(matches!(acc.push(enc, &nan), Err(Error::Value { index: 5, .. })));
        assert!(matches!(acc.push(enc, &f.x[..P - 1]), Err(Error::Shape { .. })));
        let mut batch = f.x[..4 * P].to_vec();
        batch[2 * P + 3] = f32::INFINITY;
        assert!(matches!(acc.push_batch(enc, &batch), Err(Error::Value { index, .. }) if index == 2 * P + 3));
        assert!(matches!(acc.push_batch(enc, &batch[..P + 1]), Err(Error::Shape { .. })));
        assert!(acc.push_latent(&f.x[..P], &[f32::NAN; L]).is_err());
        assert!(acc.push_latent(&f.x[..P], &[0.0; L - 1]).is_err());
        assert!(acc.merge_statistics(1, &[0.0; LEN - 1]).is_err());
        assert!(acc.merge_statistics(1, &[f32::NAN; LEN]).is_err());
        assert!(acc.finish(Normalization::NONE, &mut [0f32; LEN + 1]).is_err());
        assert!(acc.finish(Normalization { power: Some(-1.0), l2: false }, &mut [0f32; LEN]).is_err());
        // A huge descriptor whose gradient overflows f32 is refused before any sum moves.
        let huge = [3e38f32; P];
        let small_var = [1e-3f32; P];
        let (w, b) = (layer.weight(), layer.bias());
        let tiny = DecoderLayer::new(w, b, &small_var, P, L).unwrap();
        let mut s2 = vec![0f32; FvVaeAccumulator::storage_len(P, L)];
        let mut acc2 = FvVaeAccumulator::new(tiny, FvVaeOptions::default(), &mut s2).unwrap();
        let z1 = [1.0f32; L];
        let r = acc2.push_latent(&huge, &z1);
        assert!(matches!(r, Err(Error::Value { what: "FV-VAE gradient", .. })) || r.is_ok(), "{r:?}");
        let r = acc2.push_latent(&[-3e38f32; P], &[-1e3f32; L]);
        // u = W z + b may be negative for every unit (then g = 0 and nothing overflows).
        assert!(r.is_ok() || matches!(r, Err(Error::Value { what: "FV-VAE gradient", .. })));

        let mut after = vec![0f32; LEN];
        acc.finish(Normalization::NONE, &mut after).unwrap();
        assert_eq!(before, after);
        assert_eq!(acc.count(), 3);

        // Encoder and layer of other sizes.
        let small = DecoderLayer::new(&w[..(P - 1) * L], &b[..P - 1], &layer.variance()[..P - 1], P - 1, L).unwrap();
        let mut s3 = vec![0f32; FvVaeAccumulator::storage_len(P - 1, L)];
        let mut acc3 = FvVaeAccumulator::new(small, FvVaeOptions::default(), &mut s3).unwrap();
        assert!(matches!(acc3.push(enc, &f.x[..P - 1]), Err(Error::Shape { .. })));
        assert!(matches!(acc.merge(&acc3), Err(Error::Shape { .. })));
        assert!(matches!(
            FvVaeAccumulator::new(layer, FvVaeOptions::default(), &mut [0f32; 10]),
            Err(Error::BufferTooSmall { .. })
        ));
    })
}

#[test]
fn decoder_layer_validation() {
    let (w, b, v) = ([0.5f32; 6], [0.0f32; 3], [1.0f32; 3]);
    assert!(DecoderLayer::new(&w, &b, &v, 3, 2).is_ok());
    assert!(matches!(DecoderLayer::new(&w[..5], &b, &v, 3, 2), Err(Error::Shape { what: "weight", .. })));
    assert!(matches!(DecoderLayer::new(&w, &b[..2], &v, 3, 2), Err(Error::Shape { what: "bias", .. })));
    let mut bad = v;
    bad[1] = 0.0;
    assert!(matches!(DecoderLayer::new(&w, &b, &bad, 3, 2), Err(Error::Value { what: "variance", index: 1, .. })));
    bad[1] = -1.0;
    assert!(DecoderLayer::new(&w, &b, &bad, 3, 2).is_err());
    bad[1] = f32::INFINITY;
    assert!(DecoderLayer::new(&w, &b, &bad, 3, 2).is_err());
    let mut wn = w;
    wn[4] = f32::NAN;
    assert!(matches!(DecoderLayer::new(&wn, &b, &v, 3, 2), Err(Error::Value { what: "weight", index: 4, .. })));
    assert!(matches!(DecoderLayer::new(&[], &[], &[], 0, 2), Err(Error::Empty { .. })));

    // .safetensors: missing tensors, wrong shapes and dtypes are errors.
    use fvae::formats::{safetensors, AlignedBuf, DType};
    let f32b = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let write = |tensors: &[(&str, DType, &[usize], &[u8])]| {
        let mut bytes = Vec::new();
        safetensors::write(&mut bytes, tensors).unwrap();
        AlignedBuf::from_bytes(&bytes)
    };
    let (wb, bb, vb) = (f32b(&w), f32b(&b), f32b(&v));
    let ok = write(&[
        ("weight", DType::F32, &[3, 2], &wb),
        ("bias", DType::F32, &[3], &bb),
        ("variance", DType::F32, &[3], &vb),
    ]);
    let layer = DecoderLayer::from_safetensors(&SafeTensors::parse(ok.as_bytes()).unwrap()).unwrap();
    assert_eq!((layer.p(), layer.l(), layer.fv_len()), (3, 2, 9));
    let missing = write(&[("weight", DType::F32, &[3, 2], &wb), ("bias", DType::F32, &[3], &bb)]);
    assert!(matches!(
        DecoderLayer::from_safetensors(&SafeTensors::parse(missing.as_bytes()).unwrap()),
        Err(Error::Missing { name: "variance", .. })
    ));
    let rank1 = write(&[
        ("weight", DType::F32, &[6], &wb),
        ("bias", DType::F32, &[3], &bb),
        ("variance", DType::F32, &[3], &vb),
    ]);
    assert!(DecoderLayer::from_safetensors(&SafeTensors::parse(rank1.as_bytes()).unwrap()).is_err());
    let shape = write(&[
        ("weight", DType::F32, &[2, 3], &wb),
        ("bias", DType::F32, &[3], &bb),
        ("variance", DType::F32, &[3], &vb),
    ]);
    assert!(DecoderLayer::from_safetensors(&SafeTensors::parse(shape.as_bytes()).unwrap()).is_err());
    let i32w: Vec<u8> = vec![0; 24];
    let dtype = write(&[
        ("weight", DType::I32, &[3, 2], &i32w),
        ("bias", DType::F32, &[3], &bb),
        ("variance", DType::F32, &[3], &vb),
    ]);
    assert!(matches!(
        DecoderLayer::from_safetensors(&SafeTensors::parse(dtype.as_bytes()).unwrap()),
        Err(Error::DType { .. })
    ));
}

/// The float64 FV-VAE sums of `(x, z)` pairs, for measuring accumulation error.
fn reference_sums(layer: &DecoderLayer, xs: &[f32], zs: &[f32], reps: usize) -> Vec<f64> {
    let mut s = vec![0f64; LEN];
    let mut once = vec![0f64; LEN];
    for (x, z) in xs.chunks_exact(P).zip(zs.chunks_exact(L)) {
        for p in 0..P {
            let u: f64 =
                layer.bias()[p] as f64 + (0..L).map(|l| layer.weight()[p * L + l] as f64 * z[l] as f64).sum::<f64>();
            if u <= 0.0 {
                continue;
            }
            let g = (x[p] as f64 - u) / layer.variance()[p] as f64;
            for l in 0..L {
                once[p * (L + 1) + l] += g * z[l] as f64;
            }
            once[p * (L + 1) + L] += g;
        }
    }
    for (s, o) in s.iter_mut().zip(&once) {
        *s = o * reps as f64;
    }
    s
}

/// Accumulation precision: 10^5 descriptors (the 600 fixture patches repeated), plain f32 sums
/// against compensated ones, both against float64 sums of the same latents. At a trained model
/// the average gradient over the data is near zero, so the sums cancel.
#[test]
fn long_stream_precision() {
    let f = fixture();
    with_encoder(&f, |enc, layer| {
        let n = SETS * T;
        let mut zs = vec![0f32; n * L];
        for (x, z) in f.x.chunks_exact(P).zip(zs.chunks_exact_mut(L)) {
            z.copy_from_slice(enc.encode(x).unwrap());
        }
        let reps = 100_000 / n + 1;
        let want = reference_sums(&layer, &f.x, &zs, reps);
        let total = (reps * n) as f64;
        let want: Vec<f64> = want.iter().map(|v| v / total).collect();
        let mut errs = vec![];
        for options in [FvVaeOptions::DEFAULT.with_compensated(false), FvVaeOptions::default()] {
            let mut storage = vec![0f32; FvVaeAccumulator::storage_len_with(P, L, options)];
            let mut acc = FvVaeAccumulator::new(layer, options, &mut storage).unwrap();
            for _ in 0..reps {
                for (x, z) in f.x.chunks_exact(P).zip(zs.chunks_exact(L)) {
                    acc.push_latent(x, z).unwrap();
                }
            }
            let mut fv = vec![0f32; LEN];
            acc.finish(Normalization::NONE, &mut fv).unwrap();
            let e = rel_l2(&fv, &want);
            // Relative size of the mean against the typical term: how much the sum cancels.
            eprintln!("{} descriptors, {options:?}: rel. L2 {e:.2e}", reps * n);
            errs.push(e);
        }
        assert!(errs[1] < TOL, "compensated: {:.3e}", errs[1]);
        assert!(errs[1] <= errs[0], "compensation did not help: {errs:?}");
    })
}

/// The latent GMM Fisher vector: the adapter equals pushing the encoder's latents into the GMM
/// accumulator by hand, and both agree with a float64 textbook Fisher vector of those latents.
#[test]
fn latent_gmm_fisher_vector() {
    let f = fixture();
    with_encoder(&f, |enc, _| {
        let n = SETS * T;
        let mut zs = vec![0f32; n * L];
        for (x, z) in f.x.chunks_exact(P).zip(zs.chunks_exact_mut(L)) {
            z.copy_from_slice(enc.encode(x).unwrap());
        }
        // A K = 3 GMM in latent space from the latents themselves (three slices' moments).
        const K: usize = 3;
        let (mut mu, mut var) = ([0f32; K * L], [0f32; K * L]);
        for k in 0..K {
            let rows = &zs[k * n / K * L..(k + 1) * n / K * L];
            let m = (n / K) as f32;
            for l in 0..L {
                let mean = rows.iter().skip(l).step_by(L).sum::<f32>() / m;
                let v = rows.iter().skip(l).step_by(L).map(|z| (z - mean).powi(2)).sum::<f32>() / m;
                mu[k * L + l] = mean;
                var[k * L + l] = v.max(1e-3);
            }
        }
        let w = [0.3f32, 0.3, 0.4];
        let mut consts = vec![0f32; DiagGmm::constants_len(K, L)];
        let gmm = DiagGmm::new(&w, &mu, &var, &mut consts).unwrap();
        let (mut sa, mut sb) =
            (vec![0f32; FisherAccumulator::storage_len(K, L)], vec![0f32; FisherAccumulator::storage_len(K, L)]);
        let mut a = FisherAccumulator::new(gmm, FisherOptions::default(), &mut sa).unwrap();
        let mut b = FisherAccumulator::new(gmm, FisherOptions::default(), &mut sb).unwrap();
        push_latent_gmm(enc, &mut a, &f.x[..P]).unwrap();
        push_latent_gmm_batch(enc, &mut a, &f.x[P..]).unwrap();
        b.push_batch(&zs).unwrap();
        let (mut fa, mut fb) = (vec![0f32; 2 * K * L], vec![0f32; 2 * K * L]);
        a.finish(Layout::VlFeat, Normalization::IMPROVED, &mut fa).unwrap();
        b.finish(Layout::VlFeat, Normalization::IMPROVED, &mut fb).unwrap();
        assert_eq!(fa, fb);

        // Float64 reference (docs/design.md's formulas, VLFeat layout, improved).
        let mut want = vec![0f64; 2 * K * L];
        for z in zs.chunks_exact(L) {
            let logp: Vec<f64> = (0..K)
                .map(|k| {
                    (w[k] as f64).ln()
                        - 0.5
                            * (0..L)
                                .map(|l| {
                                    let v = var[k * L + l] as f64;
                                    (2.0 * std::f64::consts::PI * v).ln()
                                        + (z[l] as f64 - mu[k * L + l] as f64).powi(2) / v
                                })
                                .sum::<f64>()
                })
                .collect();
            let m = logp.iter().cloned().fold(f64::MIN, f64::max);
            let tot: f64 = logp.iter().map(|v| (v - m).exp()).sum();
            for k in 0..K {
                let q = (logp[k] - m).exp() / tot;
                for l in 0..L {
                    let t = (z[l] as f64 - mu[k * L + l] as f64) / (var[k * L + l] as f64).sqrt();
                    want[k * L + l] += q * t / (n as f64 * (w[k] as f64).sqrt());
                    want[K * L + k * L + l] += q * (t * t - 1.0) / (n as f64 * (2.0 * w[k] as f64).sqrt());
                }
            }
        }
        let norm: f64 = want.iter().map(|v| v.abs()).sum::<f64>().sqrt();
        let want: Vec<f64> = want.iter().map(|v| v.signum() * v.abs().sqrt() / norm).collect();
        let e = rel_l2(&fa, &want);
        eprintln!("latent GMM FV (K = 3, L = 8, N = 600), improved: rel. L2 {e:.2e}");
        assert!(e < TOL, "{e:.3e}");

        // A GMM of the wrong dimension is refused.
        let mut c2 = vec![0f32; DiagGmm::constants_len(1, 2)];
        let g2 = DiagGmm::new(&[1.0], &[0.0, 0.0], &[1.0, 1.0], &mut c2).unwrap();
        let mut s2 = vec![0f32; FisherAccumulator::storage_len(1, 2)];
        let mut acc2 = FisherAccumulator::new(g2, FisherOptions::default(), &mut s2).unwrap();
        assert!(matches!(push_latent_gmm(enc, &mut acc2, &f.x[..P]), Err(Error::Shape { .. })));
    })
}
