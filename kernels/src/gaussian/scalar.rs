//! The scalar reference for the Gaussian-mixture kernels: the definition every SIMD path is
//! tested against. Plain loops, no tricks.

use crate::math;

/// `out[k] = sum_d ((x[d] - means[k*D + d]) * inv_sigma[k*D + d])^2` with `D = x.len()`,
/// for every `k < out.len()`. Callers guarantee `means` and `inv_sigma` hold `out.len() * D`
/// values (the dispatching wrapper in `mod.rs` does).
pub fn sq_mahalanobis(x: &[f32], means: &[f32], inv_sigma: &[f32], out: &mut [f32]) {
    let d = x.len();
    for (k, o) in out.iter_mut().enumerate() {
        let mu = &means[k * d..(k + 1) * d];
        let s = &inv_sigma[k * d..(k + 1) * d];
        let mut acc = 0.0f32;
        for i in 0..d {
            let t = (x[i] - mu[i]) * s[i];
            acc += t * t;
        }
        *o = acc;
    }
}

/// Replaces `v` by `softmax(v)` (the maximum subtracted first) and returns `log sum exp v`.
///
/// An empty slice gives `-inf`. If the maximum is not finite (all `-inf`, or a `+inf` or NaN
/// present) `v` is left unchanged and the maximum is returned, so callers can reject it.
pub fn softmax(v: &mut [f32]) -> f32 {
    let mut max = f32::NEG_INFINITY;
    for &x in v.iter() {
        // A NaN becomes the maximum, so it is reported.
        if x.is_nan() || x > max {
            max = x;
        }
    }
    if !max.is_finite() {
        return max;
    }
    let mut sum = 0.0f32;
    for x in v.iter_mut() {
        *x = math::exp(*x - max);
        sum += *x;
    }
    // sum >= 1 because the maximum contributes exp(0) = 1.
    let inv = 1.0 / sum;
    for x in v.iter_mut() {
        *x *= inv;
    }
    max + libm::logf(sum)
}

/// Fisher-vector statistics of one descriptor: for every component `k` with `q[k] != 0`,
/// with `t = (x - mu_k) * inv_sigma_k`:
/// `s1[k*D..] += q[k] * t` and `s2[k*D..] += q[k] * (t*t - 1)`.
/// Callers guarantee the lengths (`means`, `inv_sigma`, `s1`, `s2`: `q.len() * D`).
pub fn accumulate(x: &[f32], means: &[f32], inv_sigma: &[f32], q: &[f32], s1: &mut [f32], s2: &mut [f32]) {
    let d = x.len();
    for (k, &qk) in q.iter().enumerate() {
        if qk == 0.0 {
            continue;
        }
        let r = k * d..(k + 1) * d;
        let (mu, s) = (&means[r.clone()], &inv_sigma[r.clone()]);
        let (a1, a2) = (&mut s1[r.clone()], &mut s2[r]);
        for i in 0..d {
            let t = (x[i] - mu[i]) * s[i];
            a1[i] += qk * t;
            a2[i] += qk * (t * t - 1.0);
        }
    }
}

/// [`accumulate`] with Kahan-compensated sums: `c1`, `c2` hold the negated low-order parts
/// lost by `s1`, `s2` (the true sum is `s - c`). Fisher-vector entries are near-cancelling sums
/// at a fitted model, so plain f32 accumulation loses the digits the improved (square-rooted)
/// vector needs; compensation keeps them at f32 speed, where f64 would cost a software call per
/// add on a Cortex-M4.
#[allow(clippy::too_many_arguments)]
pub fn accumulate_compensated(
    x: &[f32],
    means: &[f32],
    inv_sigma: &[f32],
    q: &[f32],
    s1: &mut [f32],
    c1: &mut [f32],
    s2: &mut [f32],
    c2: &mut [f32],
) {
    let d = x.len();
    for (k, &qk) in q.iter().enumerate() {
        if qk == 0.0 {
            continue;
        }
        let r = k * d..(k + 1) * d;
        let (mu, s) = (&means[r.clone()], &inv_sigma[r.clone()]);
        let (a1, e1, a2, e2) = (&mut s1[r.clone()], &mut c1[r.clone()], &mut s2[r.clone()], &mut c2[r]);
        for i in 0..d {
            let t = (x[i] - mu[i]) * s[i];
            kahan_add(&mut a1[i], &mut e1[i], qk * t);
            kahan_add(&mut a2[i], &mut e2[i], qk * (t * t - 1.0));
        }
    }
}

/// `s += v` with the rounding error kept in `c` (Kahan): afterwards `s - c` is the sum.
#[inline(always)]
pub fn kahan_add(s: &mut f32, c: &mut f32, v: f32) {
    let y = v - *c;
    let t = *s + y;
    *c = (t - *s) - y;
    *s = t;
}

/// [`sq_mahalanobis`] accumulated in f64: for outputs that are a small difference of large
/// numbers (`log N = log_norm - dist / 2` with both near 80 is common), where the f32 sum's
/// few ULPs are the whole answer. Slower; not for the posterior hot loop.
pub fn sq_mahalanobis_f64(x: &[f32], means: &[f32], inv_sigma: &[f32], out: &mut [f64]) {
    let d = x.len();
    for (k, o) in out.iter_mut().enumerate() {
        let mu = &means[k * d..(k + 1) * d];
        let s = &inv_sigma[k * d..(k + 1) * d];
        let mut acc = 0.0f64;
        for i in 0..d {
            let t = (x[i] as f64 - mu[i] as f64) * s[i] as f64;
            acc += t * t;
        }
        *o = acc;
    }
}
