//! The scalar reference for the Gaussian-mixture kernels: the definition every SIMD path is
//! tested against. Plain loops, no tricks.

use crate::math;

/// `out[k] = sum_d ((x[d] - means[k*D + d]) * inv_sigma[k*D + d])^2` with `D = x.len()`,
/// for every `k < out.len()`. Callers guarantee `means` and `inv_sigma` hold `out.len() * D`
/// values (the dispatching wrapper in `mod.rs` does).
pub fn sq_mahalanobis(x: &[f32], means: &[f32], inv_sigma: &[f32], out: &mut [f32]) {
    let d = x.len();
    for (k, o) in out.iter_mut().enumerate() {
        // `get` and `zip`: no index the optimiser could not prove (the contract makes both `Some`).
        let (Some(mu), Some(s)) = (means.get(k * d..(k + 1) * d), inv_sigma.get(k * d..(k + 1) * d)) else {
            return;
        };
        let mut acc = 0.0f32;
        for ((&xi, &m), &si) in x.iter().zip(mu).zip(s) {
            let t = (xi - m) * si;
            acc += t * t;
        }
        *o = acc;
    }
}

/// Distances of every row of `xs` ([N, D], D = `d`) to every component, into `out` [N, K]
/// (K = `means.len() / d`, reduced to what `inv_sigma` holds): [`sq_mahalanobis`] row by row,
/// N reduced to what `out` holds.
pub fn sq_mahalanobis_batch(xs: &[f32], d: usize, means: &[f32], inv_sigma: &[f32], out: &mut [f32]) {
    if d == 0 {
        return;
    }
    let k = means.len().min(inv_sigma.len()) / d;
    let (Some(means), Some(inv_sigma)) = (means.get(..k * d), inv_sigma.get(..k * d)) else { return };
    if k == 0 {
        return;
    }
    for (x, o) in xs.chunks_exact(d).zip(out.chunks_exact_mut(k)) {
        sq_mahalanobis(x, means, inv_sigma, o);
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
        let (Some(mu), Some(s), Some(a1), Some(a2)) =
            (means.get(r.clone()), inv_sigma.get(r.clone()), s1.get_mut(r.clone()), s2.get_mut(r))
        else {
            return;
        };
        for ((((&xi, &m), &si), a1), a2) in x.iter().zip(mu).zip(s).zip(a1).zip(a2) {
            let t = (xi - m) * si;
            *a1 += qk * t;
            *a2 += qk * (t * t - 1.0);
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
        let (Some(mu), Some(s)) = (means.get(r.clone()), inv_sigma.get(r.clone())) else {
            return;
        };
        let (Some(a1), Some(e1), Some(a2), Some(e2)) =
            (s1.get_mut(r.clone()), c1.get_mut(r.clone()), s2.get_mut(r.clone()), c2.get_mut(r))
        else {
            return;
        };
        let sums = a1.iter_mut().zip(e1.iter_mut()).zip(a2.iter_mut().zip(e2.iter_mut()));
        for (((&xi, &m), &si), ((a1, e1), (a2, e2))) in x.iter().zip(mu).zip(s).zip(sums) {
            let t = (xi - m) * si;
            kahan_add(a1, e1, qk * t);
            kahan_add(a2, e2, qk * (t * t - 1.0));
        }
    }
}

/// One component's [`accumulate_compensated`] with the terms in f64 (and an f64 posterior `q`): `t`, `q t` and
/// `q (t^2 - 1)` are formed without rounding to f32, and each is added to the compensated pair
/// `(s, c)` exactly to its ~48 bits (the pair re-split from the f64 sum). For the few components
/// that take most of a descriptor's weight: their f32-rounded terms (half an ulp each, random)
/// are what is left of a near-cancelling sum at a fitted model, and in the improved vector the
/// square root makes that residue visible. Rows of length `D = x.len()`; callers guarantee the
/// lengths.
#[allow(clippy::too_many_arguments)]
pub fn accumulate_compensated_f64(
    x: &[f32],
    mean: &[f32],
    inv_sigma: &[f32],
    q: f64,
    s1: &mut [f32],
    c1: &mut [f32],
    s2: &mut [f32],
    c2: &mut [f32],
) {
    let sums = s1.iter_mut().zip(c1.iter_mut()).zip(s2.iter_mut().zip(c2.iter_mut()));
    for (((&xi, &m), &si), ((a1, e1), (a2, e2))) in x.iter().zip(mean).zip(inv_sigma).zip(sums) {
        let t = (xi as f64 - m as f64) * si as f64;
        pair_add_f64(a1, e1, q * t);
        pair_add_f64(a2, e2, q * (t * t - 1.0));
    }
}

/// `s - c += v` for a compensated pair, through f64: the new `s` is the sum rounded to f32 and
/// `c` what that rounding added (so `s - c` is the sum to about 2^-48 of it).
#[inline(always)]
pub fn pair_add_f64(s: &mut f32, c: &mut f32, v: f64) {
    let sum = (*s as f64 - *c as f64) + v;
    let hi = sum as f32;
    *c = (hi as f64 - sum) as f32;
    *s = hi;
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
        let (Some(mu), Some(s)) = (means.get(k * d..(k + 1) * d), inv_sigma.get(k * d..(k + 1) * d)) else {
            return;
        };
        let mut acc = 0.0f64;
        for ((&xi, &m), &si) in x.iter().zip(mu).zip(s) {
            let t = (xi as f64 - m as f64) * si as f64;
            acc += t * t;
        }
        *o = acc;
    }
}
