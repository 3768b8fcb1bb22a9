//! Gaussian mixtures and Fisher vectors on a Cortex-M core, against float64 references.
//!
//! - `digits_k16` (K=16, D=64), the first 128 descriptors (what fits in flash with their references):
//!   log-densities, posteriors and log-likelihoods of every row, and the Fisher statistics of the slice
//!   turned into its Fisher vector (VLFeat layout, raw and improved) against
//!   `tests/data/embedded/digits_first128_fv_*.npy` (scripts/make_embedded_fixture.py).
//! - `edge_k4` (K=4, D=8, N=60: a weight of 1e-7, variances of 1e-5, descriptors whose every density
//!   underflows in f32): the same per-row checks, and the whole Fisher vector through
//!   `FisherAccumulator::finish`, raw and improved.
//!
//! Memory: the test must fit the micro:bit's 16 KiB of RAM. The digits model's constants (K D + 3 K floats,
//! 4288 bytes) and a plain (uncompensated) accumulator's storage (2 K D + 2 K floats, 8320 bytes) are
//! statics sized exactly; the compensated default (4 K D + 3 K floats, 16.6 KB) does not fit, and over 128
//! descriptors plain f32 sums are well within tolerance. Its
//! finished Fisher vector (2 K D floats, 8 KiB) cannot sit beside the statistics it is computed from
//! (8.3 KiB) in 16 KiB, so for digits the test applies finish's arithmetic to the device's statistics in
//! f64 (`G_mu = s1 / (N sqrt w)`, `G_sigma = s2 / (N sqrt(2 w))`); `finish` itself runs on the device
//! for `edge_k4`. A device this small sends the statistics (`FisherAccumulator::statistics`, merged on
//! the receiver with `merge_statistics`) rather than the finished vector.
//!
//! Tolerances (docs/design.md): posteriors and Fisher vectors 1e-4 relative L2; log-likelihoods and
//! log-densities 1e-5 of max(1, |v|) per value. The arithmetic is IEEE single precision on every core (the
//! Cortex-M0's soft float included, no fused multiply-add) and ln/sqrt come from the libm crate, not the
//! platform, so each core computes what the host computes. Log-densities meet 1e-5 because
//! `DiagGmm::log_densities` sums the distance in f64 (`log N = log_norm - maha / 2` cancels where both
//! terms are near 80 and the result is small: plain f32 gave 1.8e-5 at digits row 109).
#![no_std]
#![no_main]

use fvae::fisher::{FisherAccumulator, FisherOptions, Layout, Normalization};

/// Uncompensated sums: half the RAM of the default, which the 16 KiB parts need here.
const PLAIN: FisherOptions = FisherOptions::DEFAULT.with_compensated(false);
use fvae::formats::safetensors::SafeTensors;
use fvae::gmm::DiagGmm;
use fvae_qemu::{check, entry, sqrt, Errors, Suite};

mod fx {
    fvae_qemu::fixtures!("gmm");
}

const LOG_DENSITY_TOL: f64 = 1e-5;
const LOG_LIKELIHOOD_TOL: f64 = 1e-5;
const L2_TOL: f64 = 1e-4;

mod digits {
    pub const K: usize = 16;
    pub const D: usize = 64;
    pub const N: usize = 128;
}

#[entry]
fn main() -> ! {
    // cortex-m-rt hands these to `main` as `&'static mut`: RAM sized exactly, no heap, no unsafe.
    static mut CONSTANTS: [f32; DiagGmm::constants_len(digits::K, digits::D)] =
        [0.0; DiagGmm::constants_len(digits::K, digits::D)];
    static mut STORAGE: [f32; FisherAccumulator::storage_len_with(digits::K, digits::D, PLAIN)] =
        [0.0; FisherAccumulator::storage_len_with(digits::K, digits::D, PLAIN)];

    let mut s = Suite::new("gmm");
    digits_case(&mut s, CONSTANTS, STORAGE);
    edge_case(&mut s);
    s.finish()
}

fn digits_case(s: &mut Suite, constants: &'static mut [f32], storage: &'static mut [f32]) {
    use digits::{D, K, N};
    check!(s, fx::DIGITS_X_SHAPE == [N, D], "digits slice shape {:?}", fx::DIGITS_X_SHAPE);
    check!(s, fx::DIGITS_FV_RAW.len() == 2 * K * D);
    let Some(file) = s.ok("digits: SafeTensors::parse", SafeTensors::parse(&fx::DIGITS_GMM.0)) else { return };
    let Some(gmm) = s.ok("digits: DiagGmm::from_safetensors", DiagGmm::from_safetensors(&file, constants)) else {
        return;
    };
    if !check!(s, gmm.k() == K && gmm.d() == D, "digits model is {} x {}", gmm.k(), gmm.d()) {
        return;
    }

    let (mut ld, mut post, mut ll) = (Errors::new(), Errors::new(), Errors::new());
    let mut sums_ok = true;
    for (i, x) in fx::DIGITS_X.chunks_exact(D).enumerate() {
        let rows = i * K..(i + 1) * K;
        let mut out = [0.0f32; K];
        if s.ok("digits: log_densities", gmm.log_densities(x, &mut out)).is_none() {
            return;
        }
        ld.add(&out, &fx::DIGITS_LOG_DENSITY[rows.clone()]);
        let Some(l) = s.ok("digits: posteriors", gmm.posteriors(x, &mut out)) else { return };
        post.add(&out, &fx::DIGITS_POSTERIORS[rows]);
        ll.add_one(l as f64, fx::DIGITS_LOG_LIKELIHOOD[i]);
        sums_ok &= (out.iter().sum::<f32>() - 1.0).abs() < 1e-5;
    }
    s.check_each("digits log-densities", &ld, LOG_DENSITY_TOL);
    s.check_each("digits log-likelihoods", &ll, LOG_LIKELIHOOD_TOL);
    s.check_l2("digits posteriors", &post, L2_TOL);
    check!(s, sums_ok, "digits posteriors sum to 1 within 1e-5");

    let Some(mut acc) = s.ok("digits: FisherAccumulator::new", FisherAccumulator::new(gmm, PLAIN, storage)) else {
        return;
    };
    // Half one at a time, half as a batch: both entry points on the device.
    let (first, rest) = fx::DIGITS_X.split_at(N / 2 * D);
    for x in first.chunks_exact(D) {
        if s.ok("digits: push", acc.push(x)).is_none() {
            return;
        }
    }
    if s.ok("digits: push_batch", acc.push_batch(rest)).is_none() {
        return;
    }
    check!(s, acc.count() == N as u64, "digits accumulator counted {}", acc.count());

    let (s0, s1, s2) = acc.statistics();
    // sum_i q_ik against the reference posteriors summed in f64.
    let mut e0 = Errors::new();
    for (k, &got) in s0.iter().enumerate() {
        let want: f64 = fx::DIGITS_POSTERIORS.iter().skip(k).step_by(K).sum();
        e0.add_one(got as f64, want);
    }
    s.check_l2("digits sum of posteriors per component", &e0, L2_TOL);

    // finish's scaling applied to the device's statistics in f64 (see the module comment for why).
    let n = N as f64;
    let raw = |i: usize| -> f64 {
        let (block, j) = (i / (K * D), i % (K * D));
        let w = gmm.weights()[j / D] as f64;
        match block {
            0 => s1[j] as f64 / (n * sqrt(w)),
            _ => s2[j] as f64 / (n * sqrt(2.0 * w)),
        }
    };
    let (mut e_raw, mut e_imp, mut abs_sum) = (Errors::new(), Errors::new(), 0.0f64);
    for (i, &want) in fx::DIGITS_FV_RAW.iter().enumerate() {
        let z = raw(i);
        e_raw.add_one(z, want);
        abs_sum += z.abs();
    }
    // improved: sign(z) sqrt|z| / ||sign(z) sqrt|z|||, and that norm is sqrt(sum |z|).
    let norm = sqrt(abs_sum);
    for (i, &want) in fx::DIGITS_FV_IMPROVED.iter().enumerate() {
        let z = raw(i);
        let p = if z < 0.0 { -sqrt(-z) } else { sqrt(z) };
        e_imp.add_one(p / norm, want);
    }
    s.check_l2("digits Fisher vector, raw (vlfeat)", &e_raw, L2_TOL);
    s.check_l2("digits Fisher vector, improved (vlfeat)", &e_imp, L2_TOL);
}

fn edge_case(s: &mut Suite) {
    const K: usize = 4;
    const D: usize = 8;
    check!(s, fx::EDGE_X_SHAPE[1] == D, "edge descriptors shape {:?}", fx::EDGE_X_SHAPE);
    let Some(file) = s.ok("edge: SafeTensors::parse", SafeTensors::parse(&fx::EDGE_GMM.0)) else { return };
    let mut constants = [0.0f32; DiagGmm::constants_len(K, D)];
    let Some(gmm) = s.ok("edge: DiagGmm::from_safetensors", DiagGmm::from_safetensors(&file, &mut constants)) else {
        return;
    };
    if !check!(s, gmm.k() == K && gmm.d() == D, "edge model is {} x {}", gmm.k(), gmm.d()) {
        return;
    }
    let (mut ld, mut post) = (Errors::new(), Errors::new());
    for (i, x) in fx::EDGE_X.chunks_exact(D).enumerate() {
        let rows = i * K..(i + 1) * K;
        let mut out = [0.0f32; K];
        if s.ok("edge: log_densities", gmm.log_densities(x, &mut out)).is_none() {
            return;
        }
        ld.add(&out, &fx::EDGE_LOG_DENSITY[rows.clone()]);
        if s.ok("edge: posteriors", gmm.posteriors(x, &mut out)).is_none() {
            return;
        }
        post.add(&out, &fx::EDGE_POSTERIORS[rows]);
    }
    s.check_each("edge log-densities", &ld, LOG_DENSITY_TOL);
    s.check_l2("edge posteriors", &post, L2_TOL);

    let mut storage = [0.0f32; FisherAccumulator::storage_len(K, D)];
    let Some(mut acc) =
        s.ok("edge: FisherAccumulator::new", FisherAccumulator::new(gmm, FisherOptions::default(), &mut storage))
    else {
        return;
    };
    if s.ok("edge: push_batch", acc.push_batch(&fx::EDGE_X)).is_none() {
        return;
    }
    let mut fv = [0.0f32; 2 * K * D];
    if s.ok("edge: finish raw", acc.finish(Layout::VlFeat, Normalization::NONE, &mut fv)).is_some() {
        s.close_l2("edge Fisher vector, raw (vlfeat, finish)", &fv, &fx::EDGE_FV_RAW, L2_TOL);
    }
    if s.ok("edge: finish improved", acc.finish(Layout::VlFeat, Normalization::IMPROVED, &mut fv)).is_some() {
        s.close_l2("edge Fisher vector, improved (vlfeat, finish)", &fv, &fx::EDGE_FV_IMPROVED, L2_TOL);
    }
}
