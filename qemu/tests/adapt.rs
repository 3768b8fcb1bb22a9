//! Online adaptation on the device: `AdaptiveGmm` (incremental MAP) and `OnlineKMeans` follow a
//! drifting stream generated on the core itself, as `tests/adapt.rs` checks on the host; MAP with
//! relevance 0 equals one EM step computed here in float64; rejected descriptors change nothing.
//!
//! The stream: three separated clusters in D = 4 whose centres move 4 sigma over 6 000 steps
//! (fewer than the host test's 20 000, so the soft-float Cortex-M0 run stays short). Normal noise
//! is Irwin-Hall (sum of 12 uniforms minus 6): no libm needed, and close enough to normal for a
//! drift test.
#![no_std]
#![no_main]

use fvae::adapt::{map_adapt, AdaptiveGmm, MapOptions, OnlineKMeans};
use fvae::fisher::{FisherAccumulator, FisherOptions};
use fvae::gmm::{DiagGmm, DiagGmmOwned};
use fvae::vq::Codebook;
use fvae_qemu::{check, entry, hprintln, Rng, Suite};

const D: usize = 4;
const STEPS: u32 = 6_000;
const HELD_OUT: u32 = 500;
const CENTRES: [[f32; D]; 3] = [[0.0; D], [6.0, 0.0, 6.0, 0.0], [0.0, 6.0, 0.0, 6.0]];

/// One descriptor at step `t`: even dimensions drift by +4 over the stream, odd ones by -2.
fn sample(rng: &mut Rng, t: u32) -> [f32; D] {
    let c = CENTRES[(rng.next() % 3) as usize];
    let shift = 4.0 * t as f32 / STEPS as f32;
    let mut x = [0.0; D];
    for (i, v) in x.iter_mut().enumerate() {
        *v = c[i] + if i % 2 == 0 { shift } else { -0.5 * shift } + rng.normal();
    }
    x
}

#[entry]
fn main() -> ! {
    let mut s = Suite::new("adapt");
    drift(&mut s);
    em_step(&mut s);
    s.finish()
}

fn drift(s: &mut Suite) {
    let weights = [1.0 / 3.0; 3];
    let variances = [[1.0; D]; 3];
    let (Some(fixed), Some(mut adaptive), Some(mut km)) = (
        s.ok("fixed GMM", DiagGmmOwned::<3, D>::new(weights, CENTRES, variances)),
        s.ok("adaptive GMM", AdaptiveGmm::<3, D>::new(weights, CENTRES, variances, 256, MapOptions::default())),
        s.ok("online k-means", OnlineKMeans::<3, D>::with_counts(CENTRES, [100; 3], 200)),
    ) else {
        return;
    };
    let mut rng = Rng(0x2545_f491);
    let mut pushed = true;
    for t in 0..STEPS {
        let x = sample(&mut rng, t);
        pushed &= adaptive.push(&x).is_ok() & km.push(&x).is_ok();
    }
    check!(s, pushed, "every descriptor of the stream was taken");
    check!(s, adaptive.adaptations() == (STEPS / 256) as u64, "adaptations {}", adaptive.adaptations());

    // A rejected descriptor changes nothing.
    let before = (*adaptive.means(), *km.centroids());
    check!(s, adaptive.push(&[f32::NAN, 0.0, 0.0, 0.0]).is_err() && km.push(&[0.0, f32::INFINITY, 0.0, 0.0]).is_err());
    check!(s, adaptive.push(&[0.0; 3]).is_err() && km.push(&[0.0; 5]).is_err(), "wrong lengths rejected");
    check!(s, before == (*adaptive.means(), *km.centroids()), "rejected descriptors left the models as they were");

    // Held-out data at the end of the stream: the adapted models fit it, the fixed ones do not.
    let Some(fixed_cb) = s.ok("fixed codebook", Codebook::new(CENTRES.as_flattened(), D)) else { return };
    let Some(online_cb) = s.ok("online codebook", km.codebook()) else { return };
    let (mut ll_fixed, mut ll_adapted, mut e_fixed, mut e_online) = (0f64, 0f64, 0f64, 0f64);
    let mut scratch = [0f32; 3];
    for _ in 0..HELD_OUT {
        let x = sample(&mut rng, STEPS);
        ll_fixed += fixed.view().log_likelihood(&x, &mut scratch).unwrap_or(f32::NAN) as f64;
        ll_adapted += adaptive.gmm().log_likelihood(&x, &mut scratch).unwrap_or(f32::NAN) as f64;
        e_fixed += fixed_cb.nearest(&x).map_or(f32::NAN, |n| n.distance) as f64;
        e_online += online_cb.nearest(&x).map_or(f32::NAN, |n| n.distance) as f64;
    }
    let n = HELD_OUT as f64;
    let (ll_fixed, ll_adapted, e_fixed, e_online) = (ll_fixed / n, ll_adapted / n, e_fixed / n, e_online / n);
    hprintln!(
        "adapt: held-out ll per row: adapted {} fixed {}; quantisation error: online {} fixed {}",
        fvae_qemu::Sci(ll_adapted),
        fvae_qemu::Sci(ll_fixed),
        fvae_qemu::Sci(e_online),
        fvae_qemu::Sci(e_fixed)
    );
    // The true model at the end scores log(1/3) - 2 log(2 pi e) ~ -6.8 per row; noise alone leaves a
    // quantisation error of D = 4.
    check!(s, ll_adapted > ll_fixed + 3.0, "held-out ll per row: adapted {} vs fixed {}", ll_adapted, ll_fixed);
    check!(s, ll_adapted > -7.3, "adapted ll per row {} is far from the true model's -6.8", ll_adapted);
    check!(
        s,
        e_online < 0.5 * e_fixed && e_online < 4.8,
        "quantisation error: online {} vs fixed {}",
        e_online,
        e_fixed
    );
    let m = adaptive.means()[0];
    check!(s, (m[0] - 4.0).abs() < 0.6 && (m[1] + 2.0).abs() < 0.6, "mean 0 followed the drift: {:?}", m);
}

/// MAP with relevance 0 from the accumulator's statistics is one EM step (float64 on the core).
fn em_step(s: &mut Suite) {
    let (weights, means, variances) = ([0.3, 0.7], [0.0, 1.0, 3.0, -1.0], [1.0, 0.5, 2.0, 1.5]);
    let mut c = [0.0; DiagGmm::constants_len(2, 2)];
    let Some(gmm) = s.ok("GMM", DiagGmm::new(&weights, &means, &variances, &mut c)) else { return };
    let mut st = [0.0; FisherAccumulator::storage_len(2, 2)];
    let Some(mut acc) = s.ok("accumulator", FisherAccumulator::new(gmm, FisherOptions::default(), &mut st)) else {
        return;
    };
    let mut rng = Rng(3);
    let (mut n, mut sx, mut sxx) = ([0f64; 2], [0f64; 4], [0f64; 4]);
    let mut q = [0f32; 2];
    let mut pushed = true;
    for _ in 0..300 {
        let x = [rng.normal() * 2.0 + 1.0, rng.normal() - 0.5];
        pushed &= acc.push(&x).is_ok() & gmm.posteriors(&x, &mut q).is_ok();
        for k in 0..2 {
            n[k] += q[k] as f64;
            for t in 0..2 {
                sx[k * 2 + t] += q[k] as f64 * x[t] as f64;
                sxx[k * 2 + t] += q[k] as f64 * x[t] as f64 * x[t] as f64;
            }
        }
    }
    check!(s, pushed, "every push and posteriors call succeeded");
    let count = acc.count();
    let (s0, s1, s2) = acc.statistics();
    let (mut w, mut m, mut v) = ([0.0; 2], [0.0; 4], [0.0; 4]);
    let opts = MapOptions::DEFAULT.with_relevance(0.0);
    if s.ok("map_adapt", map_adapt(&gmm, count, s0, s1, s2, &opts, &mut w, &mut m, &mut v)).is_none() {
        return;
    }
    let (mut want_w, mut want_m, mut want_v) = ([0f64; 2], [0f64; 4], [0f64; 4]);
    for k in 0..2 {
        want_w[k] = n[k] / 300.0;
        for t in 0..2 {
            let mu = sx[k * 2 + t] / n[k];
            want_m[k * 2 + t] = mu;
            want_v[k * 2 + t] = sxx[k * 2 + t] / n[k] - mu * mu;
        }
    }
    // f32 statistics of 300 rows against float64 sums: 1e-5 relative, as the host test's 1e-4 absolute.
    s.close_each("EM weights", &w, &want_w, 1e-5);
    s.close_each("EM means", &m, &want_m, 1e-4);
    s.close_each("EM variances", &v, &want_v, 1e-4);
}
