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
/// present; NaN wins over `+inf`) `v` is left unchanged and the maximum (or the NaN) is
/// returned, so callers can reject it.
pub fn softmax(v: &mut [f32]) -> f32 {
    let mut max = f32::NEG_INFINITY;
    for &x in v.iter() {
        if x.is_nan() {
            // Reported at once: a later comparison with a NaN maximum would drop it.
            return x;
        }
        if x > max {
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
