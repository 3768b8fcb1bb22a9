//! VLAD and bag-of-words against float64 references written here from the papers (Jegou et
//! al. 2010 for VLAD with VLFeat's normalisation flags; hard and localised soft histograms),
//! using the VQ fixtures' codebooks and their float64 nearest-codeword assignments.

mod common;

use fvae::bow::{BowAccumulator, BowAssignment, BowNormalization};
use fvae::formats::safetensors::SafeTensors;
use fvae::vlad::{VladAccumulator, VladNormalization};
use fvae::vq::Codebook;
use fvae::Error;

struct Case {
    x: Vec<f32>,
    d: usize,
    codebook: Vec<f32>,
    nearest: Vec<usize>,
    top4: Vec<usize>,
    top4_dist: Vec<f64>,
}

fn load(case: &str) -> Case {
    let (x, shape) = common::npy_f32(&format!("vq/{case}/x.npy"));
    let buf = common::file(&format!("vq/{case}/codebook.safetensors"));
    let st = SafeTensors::parse(buf.as_bytes()).unwrap();
    let codebook = Codebook::from_safetensors(&st).unwrap().data().to_vec();
    let idx = |f: &str| common::npy_f64(&format!("vq/{case}/{f}")).0.into_iter().map(|v| v as usize).collect();
    Case {
        x,
        d: shape[1],
        codebook,
        nearest: idx("nearest.npy"),
        top4: idx("top4.npy"),
        top4_dist: common::npy_f64(&format!("vq/{case}/top4_distance.npy")).0,
    }
}

fn l2(v: &mut [f64]) {
    let n = v.iter().map(|z| z * z).sum::<f64>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|z| *z /= n);
    }
}

/// VLAD in f64 from the paper: v_j = sum over descriptors whose nearest codeword is j of
/// (x - c_j); then VLFeat's steps per cluster (mass, signed square root, intra L2), global L2.
fn vlad_reference(c: &Case, rows: std::ops::Range<usize>, norm: VladNormalization) -> Vec<f64> {
    let d = c.d;
    let m = c.codebook.len() / d;
    let mut v = vec![0f64; m * d];
    let mut mass = vec![0f64; m];
    for i in rows {
        let j = c.nearest[i];
        mass[j] += 1.0;
        for t in 0..d {
            v[j * d + t] += c.x[i * d + t] as f64 - c.codebook[j * d + t] as f64;
        }
    }
    for (j, block) in v.chunks_mut(d).enumerate() {
        if norm.mass && mass[j] > 0.0 {
            block.iter_mut().for_each(|z| *z /= mass[j]);
        }
        if norm.square_root {
            block.iter_mut().for_each(|z| *z = z.signum() * z.abs().sqrt());
        }
        if norm.intra {
            l2(block);
        }
    }
    if norm.l2 {
        l2(&mut v);
    }
    v
}

const NORMS: [VladNormalization; 5] = [
    VladNormalization::NONE,
    VladNormalization::L2,
    VladNormalization::INTRA,
    VladNormalization::SQRT,
    VladNormalization { mass: true, square_root: true, intra: true, l2: true },
];

#[test]
fn vlad_equals_float64_reference() {
    for case in ["digits_m64", "china_m256"] {
        let c = load(case);
        let cb = Codebook::new(&c.codebook, c.d).unwrap();
        let m = cb.m();
        let mut storage = vec![0.0; VladAccumulator::storage_len(m, c.d)];
        let mut acc = VladAccumulator::new(cb, &mut storage).unwrap();
        acc.push_batch(&c.x).unwrap();
        let n = c.x.len() / c.d;
        for norm in NORMS {
            let mut v = vec![0.0; m * c.d];
            acc.finish(norm, &mut v).unwrap();
            let err = common::rel_l2(&v, &vlad_reference(&c, 0..n, norm));
            eprintln!("{case} {norm:?}: rel L2 {err:.1e}");
            assert!(err < 1e-5, "{case} {norm:?}: {err}");
        }
    }
}

#[test]
fn vlad_streams_and_merges() {
    let c = load("digits_m64");
    let cb = Codebook::new(&c.codebook, c.d).unwrap();
    let (m, d, n) = (cb.m(), c.d, c.x.len() / c.d);
    let (mut sa, mut sb) =
        (vec![0.0; VladAccumulator::storage_len(m, d)], vec![0.0; VladAccumulator::storage_len(m, d)]);
    let mut a = VladAccumulator::new(cb, &mut sa).unwrap();
    let mut b = VladAccumulator::new(cb, &mut sb).unwrap();
    for (i, x) in c.x.chunks_exact(d).enumerate() {
        let near = if i < 200 { a.push(x).unwrap() } else { b.push(x).unwrap() };
        assert_eq!(near.index as usize, c.nearest[i]);
    }
    a.merge(&b).unwrap();
    assert_eq!(a.count(), n as u64);
    let mut v = vec![0.0; m * d];
    a.finish(VladNormalization::INTRA, &mut v).unwrap();
    assert!(common::rel_l2(&v, &vlad_reference(&c, 0..n, VladNormalization::INTRA)) < 1e-5);
    // Unused codewords give zero blocks, which intra-normalisation leaves at zero (not NaN).
    assert!(v.iter().all(|z| z.is_finite()));
}

#[test]
fn vlad_rejects_bad_input() {
    let cb = Codebook::new(&[0.0, 0.0, 1.0, 1.0], 2).unwrap();
    let mut s = [0.0; 5];
    assert!(matches!(VladAccumulator::new(cb, &mut s), Err(Error::BufferTooSmall { .. })));
    let mut s = [0.0; 6];
    let mut acc = VladAccumulator::new(cb, &mut s).unwrap();
    let mut v = [0.0; 4];
    assert!(matches!(acc.finish(VladNormalization::L2, &mut v), Err(Error::Empty { .. })));
    assert!(matches!(acc.push(&[0.0, f32::NAN]), Err(Error::Value { .. })));
    assert!(matches!(acc.push_batch(&[0.0, 1.0, f32::INFINITY, 0.0]), Err(Error::Value { index: 2, .. })));
    assert!(matches!(acc.push(&[0.0]), Err(Error::Shape { .. })));
    assert_eq!(acc.count(), 0);
    acc.push(&[0.5, 0.25]).unwrap();
    assert!(matches!(acc.finish(VladNormalization::L2, &mut [0.0; 3]), Err(Error::Shape { .. })));
}

#[test]
fn bow_hard_counts_the_float64_nearest() {
    for case in ["digits_m64", "china_m256"] {
        let c = load(case);
        let cb = Codebook::new(&c.codebook, c.d).unwrap();
        let mut storage = vec![0.0; cb.m()];
        let mut acc = BowAccumulator::new(cb, BowAssignment::Hard, &mut storage).unwrap();
        acc.push_batch(&c.x).unwrap();
        let mut h = vec![0.0; cb.m()];
        acc.finish(BowNormalization::Counts, &mut h).unwrap();
        let mut want = vec![0f32; cb.m()];
        c.nearest.iter().for_each(|&j| want[j] += 1.0);
        assert_eq!(h, want, "{case}");
        acc.finish(BowNormalization::L1, &mut h).unwrap();
        assert!((h.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        acc.finish(BowNormalization::Hellinger, &mut h).unwrap();
        assert!((h.iter().map(|v| v * v).sum::<f32>() - 1.0).abs() < 1e-5);
    }
}

#[test]
fn bow_soft_equals_float64_reference() {
    for (case, beta) in [("digits_m64", 0.5f32), ("china_m256", 5.0)] {
        let c = load(case);
        let cb = Codebook::new(&c.codebook, c.d).unwrap();
        let m = cb.m();
        let mut storage = vec![0.0; m];
        let mut acc = BowAccumulator::new(cb, BowAssignment::Soft { neighbours: 4, beta }, &mut storage).unwrap();
        acc.push_batch(&c.x).unwrap();
        let mut h = vec![0.0; m];
        acc.finish(BowNormalization::L2, &mut h).unwrap();
        // Reference: each descriptor's unit weight over its 4 nearest, proportional to exp(-beta d).
        let mut want = vec![0f64; m];
        for i in 0..c.x.len() / c.d {
            let ds = &c.top4_dist[i * 4..i * 4 + 4];
            let w: Vec<f64> = ds.iter().map(|&d| (-(beta as f64) * d).exp()).collect();
            let s: f64 = w.iter().sum();
            for (t, &j) in c.top4[i * 4..i * 4 + 4].iter().enumerate() {
                want[j] += w[t] / s;
            }
        }
        l2(&mut want);
        let err = common::rel_l2(&h, &want);
        eprintln!("{case} soft BoW: rel L2 {err:.1e}");
        assert!(err < 1e-5, "{case}: {err}");
    }
}

#[test]
fn bow_rejects_bad_options() {
    let cb = Codebook::new(&[0.0, 1.0], 1).unwrap();
    let mut s = [0.0; 2];
    let bad = [BowAssignment::Soft { neighbours: 0, beta: 1.0 }, BowAssignment::Soft { neighbours: 2, beta: f32::NAN }];
    for a in bad {
        assert!(matches!(BowAccumulator::new(cb, a, &mut s), Err(Error::Value { .. })));
    }
    assert!(matches!(BowAccumulator::new(cb, BowAssignment::Hard, &mut s[..1]), Err(Error::BufferTooSmall { .. })));
}
