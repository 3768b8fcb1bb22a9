//! Online adaptation on a drifting synthetic stream: the adapted GMM and codebook follow the
//! drift (held-out log-likelihood and quantisation error on the newest data beat the fixed
//! model's), and MAP with relevance 0 is exactly one EM step (checked in float64).

mod common;

use common::Rng;
use fvae::adapt::{map_adapt, AdaptiveGmm, MapOptions, OnlineKMeans};
use fvae::fisher::{FisherAccumulator, FisherOptions};
use fvae::gmm::DiagGmm;
use fvae::Error;

const D: usize = 4;

/// Three well-separated clusters whose centres move by `drift` per unit time along a fixed
/// direction, sampled at time `t`.
fn sample(rng: &mut Rng, t: f64, drift: f64) -> [f32; D] {
    let centres = [[0.0, 0.0, 0.0, 0.0], [6.0, 0.0, 6.0, 0.0], [0.0, 6.0, 0.0, 6.0]];
    let c = centres[(rng.next_u64() % 3) as usize];
    let mut x = [0f32; D];
    for i in 0..D {
        let shift = drift * t * if i % 2 == 0 { 1.0 } else { -0.5 };
        x[i] = (c[i] + shift + rng.normal()) as f32;
    }
    x
}

#[test]
fn adapted_gmm_tracks_drift_better_than_the_fixed_model() {
    let weights = [1.0 / 3.0; 3];
    let means = [[0.0; D], [6.0, 0.0, 6.0, 0.0], [0.0, 6.0, 0.0, 6.0]];
    let variances = [[1.0; D]; 3];
    let fixed = fvae::gmm::DiagGmmOwned::<3, D>::new(weights, means, variances).unwrap();
    let mut adaptive = AdaptiveGmm::<3, D>::new(weights, means, variances, 256, MapOptions::default()).unwrap();
    let mut rng = Rng(42);
    let steps = 20_000;
    let drift = 4.0 / steps as f64; // the clusters move 4 sigma over the stream
    for s in 0..steps {
        adaptive.push(&sample(&mut rng, s as f64, drift)).unwrap();
    }
    assert_eq!(adaptive.adaptations(), (steps / 256) as u64);
    // Held-out data at the end of the stream.
    let (mut ll_fixed, mut ll_adapted) = (0f64, 0f64);
    let mut scratch = [0f32; 3];
    for _ in 0..2000 {
        let x = sample(&mut rng, steps as f64, drift);
        ll_fixed += fixed.view().log_likelihood(&x, &mut scratch).unwrap() as f64;
        ll_adapted += adaptive.gmm().log_likelihood(&x, &mut scratch).unwrap() as f64;
    }
    let (ll_fixed, ll_adapted) = (ll_fixed / 2000.0, ll_adapted / 2000.0);
    // The true model at the end: log(1/3) - 2 log(2 pi e) ~ -6.78 expected per row (separated clusters).
    eprintln!("held-out ll per row at the end: fixed {ll_fixed:.3}, adapted {ll_adapted:.3} (true model ~ -6.8)");
    assert!(ll_adapted > ll_fixed + 3.0, "fixed {ll_fixed}, adapted {ll_adapted}");
    assert!(ll_adapted > -7.2, "adapted {ll_adapted} is far from the true model's");
    // The means moved with the data: +4 on even dimensions, -2 on odd ones.
    let m = adaptive.means()[0];
    assert!((m[0] - 4.0).abs() < 0.5 && (m[1] + 2.0).abs() < 0.5, "{m:?}");
}

#[test]
fn online_kmeans_tracks_drift() {
    let start = [[0.0; D], [6.0, 0.0, 6.0, 0.0], [0.0, 6.0, 0.0, 6.0]];
    let mut km = OnlineKMeans::<3, D>::with_counts(start, [100; 3], 200).unwrap();
    let fixed = fvae::vq::Codebook::new(start.as_flattened(), D).unwrap();
    let mut rng = Rng(7);
    let steps = 20_000;
    let drift = 4.0 / steps as f64;
    for s in 0..steps {
        km.push(&sample(&mut rng, s as f64, drift)).unwrap();
    }
    let (mut e_fixed, mut e_online) = (0f64, 0f64);
    let cb = km.codebook().unwrap();
    for _ in 0..2000 {
        let x = sample(&mut rng, steps as f64, drift);
        e_fixed += fixed.nearest(&x).unwrap().distance as f64;
        e_online += cb.nearest(&x).unwrap().distance as f64;
    }
    let (e_fixed, e_online) = (e_fixed / 2000.0, e_online / 2000.0);
    eprintln!("quantisation error per row at the end: fixed {e_fixed:.3}, online {e_online:.3} (noise alone: 4)");
    assert!(e_online < 0.5 * e_fixed && e_online < 4.6, "fixed {e_fixed}, online {e_online}");
}

#[test]
fn map_with_zero_relevance_is_one_em_step() {
    let weights = [0.3, 0.7];
    let means = [0.0, 1.0, 3.0, -1.0];
    let variances = [1.0, 0.5, 2.0, 1.5];
    let mut c = [0.0; DiagGmm::constants_len(2, 2)];
    let gmm = DiagGmm::new(&weights, &means, &variances, &mut c).unwrap();
    let mut rng = Rng(3);
    let xs: Vec<[f32; 2]> =
        (0..500).map(|_| [(rng.normal() * 2.0 + 1.0) as f32, (rng.normal() - 0.5) as f32]).collect();
    let mut st = [0.0; FisherAccumulator::storage_len(2, 2)];
    let mut acc = FisherAccumulator::new(gmm, FisherOptions::default(), &mut st).unwrap();
    // Float64 EM step from the posteriors.
    let (mut n, mut sx, mut sxx) = ([0f64; 2], [0f64; 4], [0f64; 4]);
    let mut q = [0f32; 2];
    for x in &xs {
        acc.push(x).unwrap();
        gmm.posteriors(x, &mut q).unwrap();
        for k in 0..2 {
            n[k] += q[k] as f64;
            for t in 0..2 {
                sx[k * 2 + t] += q[k] as f64 * x[t] as f64;
                sxx[k * 2 + t] += q[k] as f64 * (x[t] as f64).powi(2);
            }
        }
    }
    let count = acc.count();
    let (s0, s1, s2) = acc.statistics();
    let (mut w, mut m, mut v) = ([0.0; 2], [0.0; 4], [0.0; 4]);
    let opts = MapOptions::DEFAULT.with_relevance(0.0);
    map_adapt(&gmm, count, s0, s1, s2, &opts, &mut w, &mut m, &mut v).unwrap();
    for k in 0..2 {
        assert!((w[k] as f64 - n[k] / 500.0).abs() < 1e-5);
        for t in 0..2 {
            let mu = sx[k * 2 + t] / n[k];
            let var = sxx[k * 2 + t] / n[k] - mu * mu;
            assert!((m[k * 2 + t] as f64 - mu).abs() < 1e-4, "mean {k} {t}: {} vs {mu}", m[k * 2 + t]);
            assert!((v[k * 2 + t] as f64 - var).abs() < 1e-4 * var.max(1.0), "var {k} {t}: {} vs {var}", v[k * 2 + t]);
        }
    }
    // A huge relevance factor keeps the prior.
    let opts = MapOptions::DEFAULT.with_relevance(1e9);
    map_adapt(&gmm, count, s0, s1, s2, &opts, &mut w, &mut m, &mut v).unwrap();
    assert!(m.iter().zip(&means).all(|(a, b)| (a - b).abs() < 1e-5));
    assert!(v.iter().zip(&variances).all(|(a, b)| (a - b).abs() < 1e-5));
}

#[test]
fn adaptation_rejects_bad_input() {
    let mut c = [0.0; DiagGmm::constants_len(1, 1)];
    let gmm = DiagGmm::new(&[1.0], &[0.0], &[1.0], &mut c).unwrap();
    let (mut w, mut m, mut v) = ([0.0], [0.0], [0.0]);
    let o = MapOptions::default();
    assert!(matches!(
        map_adapt(&gmm, 1, &[1.0, 0.0], &[0.0], &[0.0], &o, &mut w, &mut m, &mut v),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        map_adapt(&gmm, 1, &[f32::NAN], &[0.0], &[0.0], &o, &mut w, &mut m, &mut v),
        Err(Error::Value { .. })
    ));
    let bad = o.with_relevance(-1.0);
    assert!(matches!(
        map_adapt(&gmm, 1, &[1.0], &[0.0], &[0.0], &bad, &mut w, &mut m, &mut v),
        Err(Error::Value { .. })
    ));
    assert!(AdaptiveGmm::<1, 1>::new([1.0], [[0.0]], [[1.0]], 0, o).is_err());
    let mut g = AdaptiveGmm::<1, 1>::new([1.0], [[0.0]], [[1.0]], 4, o).unwrap();
    assert!(g.push(&[f32::NAN]).is_err());
    assert!(g.push(&[0.0, 1.0]).is_err());
    assert!(OnlineKMeans::<1, 1>::new([[f32::INFINITY]], 4).is_err());
    let mut km = OnlineKMeans::<1, 1>::new([[0.0]], 4).unwrap();
    assert!(km.push(&[f32::NAN]).is_err());
    assert_eq!(km.centroids()[0], [0.0]);
}
