//! simd128 paths: 4 f32 lanes, no fused multiply-add (plain simd128 has none), so
//! `accumulate` and `accumulate_compensated` give the scalar reference's results bit for bit
//! and the vector `exp` differs from `math::exp` only where `n` rounds a tie (half to even here).
//!
//! Same structure as the NEON path: four components in flight over D in `sq_mahalanobis`, a
//! vector `exp` over K in `softmax`, one component at a time in `accumulate`. D tails are
//! finished in scalar code; K tails of `softmax` go through a padded 4-lane buffer.

use core::arch::wasm32::*;

use crate::gaussian::rows_available;
use crate::gaussian::scalar::kahan_add;
use crate::math::{EXP_MAX, EXP_MIN, EXP_POLY, LN2_HI, LN2_LO, LOG2E};

/// Lanes per vector.
const L: usize = 4;

/// Loads 4 f32 from `p` (no alignment needed: simd128 loads are 1-aligned).
///
/// # Safety
/// 16 bytes at `p` are readable.
#[inline(always)]
unsafe fn load(p: *const f32) -> v128 {
    // SAFETY: forwarded from the caller.
    unsafe { v128_load(p as *const v128) }
}

/// Stores 4 f32 at `p`.
///
/// # Safety
/// 16 bytes at `p` are writable.
#[inline(always)]
unsafe fn store(p: *mut f32, v: v128) {
    // SAFETY: forwarded from the caller.
    unsafe { v128_store(p as *mut v128, v) }
}

/// The sum of the 4 lanes, `(a0 + a2) + (a1 + a3)`.
#[inline]
#[target_feature(enable = "simd128")]
fn hsum(a: v128) -> f32 {
    let s = f32x4_add(a, i32x4_shuffle::<2, 3, 0, 1>(a, a));
    f32x4_extract_lane::<0>(s) + f32x4_extract_lane::<1>(s)
}

/// `exp` of 4 lanes with the contract of [`crate::math::exp`]: below -87 exactly 0, above
/// `EXP_MAX` infinity, NaN stays NaN. The same reduction and polynomial, unfused as the scalar
/// code; only `n` rounds half to even (`f32x4.nearest`), so ties may differ by an ULP.
#[inline]
#[target_feature(enable = "simd128")]
fn exp4(x: v128) -> v128 {
    // Clamping keeps the reduction in range; the selects below fix the ends (and NaN).
    let xc = f32x4_pmin(f32x4_pmax(x, f32x4_splat(EXP_MIN)), f32x4_splat(EXP_MAX));
    let n = f32x4_nearest(f32x4_mul(xc, f32x4_splat(LOG2E)));
    let r = f32x4_sub(xc, f32x4_mul(n, f32x4_splat(LN2_HI)));
    let r = f32x4_sub(r, f32x4_mul(n, f32x4_splat(LN2_LO)));
    let mut p = f32x4_splat(EXP_POLY[0]);
    for &c in &EXP_POLY[1..] {
        p = f32x4_add(f32x4_mul(p, r), f32x4_splat(c));
    }
    // p * r * r + r + 1, in the scalar code's order.
    let y = f32x4_add(f32x4_add(f32x4_mul(f32x4_mul(p, r), r), r), f32x4_splat(1.0));
    // 2^n from the exponent bits; n = 128 has none: 2^127, then the product doubled.
    let ni = i32x4_trunc_sat_f32x4(n);
    let big = i32x4_gt(ni, i32x4_splat(127));
    let e = i32x4_add(i32x4_add(ni, big), i32x4_splat(127));
    let y = f32x4_mul(y, i32x4_shl(e, 23));
    let y = f32x4_add(y, v128_and(y, big));
    let y = v128_bitselect(f32x4_splat(0.0), y, f32x4_lt(x, f32x4_splat(EXP_MIN)));
    let y = v128_bitselect(f32x4_splat(f32::INFINITY), y, f32x4_gt(x, f32x4_splat(EXP_MAX)));
    v128_bitselect(y, x, f32x4_eq(x, x))
}

/// Applies `f` to `v` 4 lanes at a time, the tail through a buffer padded with `pad`.
#[inline]
#[target_feature(enable = "simd128")]
fn map4(v: &mut [f32], pad: f32, mut f: impl FnMut(v128) -> v128) {
    let mut chunks = v.chunks_exact_mut(L);
    for c in &mut chunks {
        // SAFETY: a chunk holds exactly 4 values.
        unsafe { store(c.as_mut_ptr(), f(load(c.as_ptr()))) };
    }
    let rest = chunks.into_remainder();
    if !rest.is_empty() {
        let mut buf = [pad; L];
        buf[..rest.len()].copy_from_slice(rest);
        // SAFETY: buf holds 4 values.
        unsafe { store(buf.as_mut_ptr(), f(load(buf.as_ptr()))) };
        let n = rest.len();
        rest.copy_from_slice(&buf[..n]);
    }
}

/// `v[i] = exp(v[i])` with the vector `exp` this path's `softmax` uses (for tests).
///
/// # Safety
/// The engine must support simd128.
#[target_feature(enable = "simd128")]
pub unsafe fn exp(v: &mut [f32]) {
    map4(v, 0.0, |a| exp4(a));
}

/// See [`crate::gaussian::sq_mahalanobis`]; `K` is reduced to what all slices hold.
///
/// # Safety
/// The engine must support simd128.
#[target_feature(enable = "simd128")]
pub unsafe fn sq_mahalanobis(x: &[f32], means: &[f32], inv_sigma: &[f32], out: &mut [f32]) {
    let d = x.len();
    let k = rows_available(out.len(), d, &[means.len(), inv_sigma.len()]);
    let full = d - d % L;
    let (xp, mp, sp) = (x.as_ptr(), means.as_ptr(), inv_sigma.as_ptr());
    // The reference's arithmetic for the last d % 4 columns of row c.
    let tail = |c: usize| {
        let (mu, s) = (&means[c * d..(c + 1) * d], &inv_sigma[c * d..(c + 1) * d]);
        let mut acc = 0.0f32;
        for i in full..d {
            let t = (x[i] - mu[i]) * s[i];
            acc += t * t;
        }
        acc
    };
    // One 4-lane chunk: acc + ((x - mu) * s)^2.
    let dist = |xv: v128, row: usize, i: usize, acc: v128| {
        // SAFETY: callers pass i + 4 <= full <= d and a row < k, so row * d + i + 4 <= k * d,
        // which means and inv_sigma hold.
        let (mu, s) = unsafe { (load(mp.add(row * d + i)), load(sp.add(row * d + i))) };
        let t = f32x4_mul(f32x4_sub(xv, mu), s);
        f32x4_add(acc, f32x4_mul(t, t))
    };
    let mut c = 0;
    while c + 4 <= k {
        let z = f32x4_splat(0.0);
        let (mut a0, mut a1, mut a2, mut a3) = (z, z, z, z);
        let mut i = 0;
        while i < full {
            // SAFETY: i + 4 <= full <= x.len().
            let xv = unsafe { load(xp.add(i)) };
            a0 = dist(xv, c, i, a0);
            a1 = dist(xv, c + 1, i, a1);
            a2 = dist(xv, c + 2, i, a2);
            a3 = dist(xv, c + 3, i, a3);
            i += L;
        }
        out[c] = hsum(a0) + tail(c);
        out[c + 1] = hsum(a1) + tail(c + 1);
        out[c + 2] = hsum(a2) + tail(c + 2);
        out[c + 3] = hsum(a3) + tail(c + 3);
        c += 4;
    }
    while c < k {
        let mut a = f32x4_splat(0.0);
        let mut i = 0;
        while i < full {
            // SAFETY: i + 4 <= full <= x.len().
            a = dist(unsafe { load(xp.add(i)) }, c, i, a);
            i += L;
        }
        out[c] = hsum(a) + tail(c);
        c += 1;
    }
}

/// See [`crate::gaussian::softmax`].
///
/// # Safety
/// The engine must support simd128.
#[target_feature(enable = "simd128")]
pub unsafe fn softmax(v: &mut [f32]) -> f32 {
    // f32x4.max propagates NaN, so a NaN anywhere makes a lane NaN, which is reported below.
    let mut vmax = f32x4_splat(f32::NEG_INFINITY);
    let mut chunks = v.chunks_exact(L);
    for c in &mut chunks {
        // SAFETY: a chunk holds exactly 4 values.
        vmax = f32x4_max(vmax, unsafe { load(c.as_ptr()) });
    }
    let lanes = [
        f32x4_extract_lane::<0>(vmax),
        f32x4_extract_lane::<1>(vmax),
        f32x4_extract_lane::<2>(vmax),
        f32x4_extract_lane::<3>(vmax),
    ];
    let mut max = f32::NEG_INFINITY;
    for &a in lanes.iter().chain(chunks.remainder()) {
        if a.is_nan() {
            return a;
        }
        max = max.max(a);
    }
    if !max.is_finite() {
        return max;
    }
    let m = f32x4_splat(max);
    let mut sum = f32x4_splat(0.0);
    // The tail's padding is -inf: exp(-inf - max) = 0 adds nothing.
    map4(v, f32::NEG_INFINITY, |a| {
        let e = exp4(f32x4_sub(a, m));
        sum = f32x4_add(sum, e);
        e
    });
    // sum >= 1: the maximum contributes exp(0) = 1.
    let sum = hsum(sum);
    let inv = f32x4_splat(1.0 / sum);
    map4(v, 0.0, |a| f32x4_mul(a, inv));
    max + libm::logf(sum)
}

/// See [`crate::gaussian::accumulate`]; `K` is reduced to what all slices hold. Bit-identical
/// to the scalar reference (the same operations, unfused, element-wise).
///
/// # Safety
/// The engine must support simd128.
#[target_feature(enable = "simd128")]
pub unsafe fn accumulate(x: &[f32], means: &[f32], inv_sigma: &[f32], q: &[f32], s1: &mut [f32], s2: &mut [f32]) {
    let d = x.len();
    let k = rows_available(q.len(), d, &[means.len(), inv_sigma.len(), s1.len(), s2.len()]);
    let full = d - d % L;
    let (xp, mp, sp) = (x.as_ptr(), means.as_ptr(), inv_sigma.as_ptr());
    let (p1, p2) = (s1.as_mut_ptr(), s2.as_mut_ptr());
    let one = f32x4_splat(1.0);
    for (c, &qc) in q[..k].iter().enumerate() {
        if qc == 0.0 {
            continue;
        }
        let (qv, row) = (f32x4_splat(qc), c * d);
        let mut i = 0;
        while i < full {
            // SAFETY: i + 4 <= full <= d and c < k, so row + i + 4 <= k * d, which means,
            // inv_sigma, s1 and s2 all hold.
            unsafe {
                let o = row + i;
                let t = f32x4_mul(f32x4_sub(load(xp.add(i)), load(mp.add(o))), load(sp.add(o)));
                store(p1.add(o), f32x4_add(load(p1.add(o)), f32x4_mul(qv, t)));
                store(p2.add(o), f32x4_add(load(p2.add(o)), f32x4_mul(qv, f32x4_sub(f32x4_mul(t, t), one))));
            }
            i += L;
        }
        for i in full..d {
            // SAFETY: i < d and c < k, so row + i < k * d: in bounds of all four row slices.
            unsafe {
                let o = row + i;
                let t = (*xp.add(i) - *mp.add(o)) * *sp.add(o);
                *p1.add(o) += qc * t;
                *p2.add(o) += qc * (t * t - 1.0);
            }
        }
    }
}

/// `s += v` Kahan-compensated (`c` holds what `s` lost): the scalar `kahan_add` lane by lane.
///
/// # Safety
/// 4 values from `s` and from `c` are readable and writable.
#[inline]
#[target_feature(enable = "simd128")]
unsafe fn kahan(s: *mut f32, c: *mut f32, v: v128) {
    // SAFETY: forwarded from the caller.
    let (sv, cv) = unsafe { (load(s), load(c)) };
    let y = f32x4_sub(v, cv);
    let t = f32x4_add(sv, y);
    // SAFETY: as above.
    unsafe {
        store(c, f32x4_sub(f32x4_sub(t, sv), y));
        store(s, t);
    }
}

/// See [`crate::gaussian::accumulate_compensated`]; `K` is reduced to what all slices hold.
/// The results are those of the scalar reference, bit for bit.
///
/// # Safety
/// The engine must support simd128.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "simd128")]
pub unsafe fn accumulate_compensated(
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
    let lens = [means.len(), inv_sigma.len(), s1.len(), c1.len(), s2.len(), c2.len()];
    let k = rows_available(q.len(), d, &lens);
    let full = d - d % L;
    let (xp, mp, sp) = (x.as_ptr(), means.as_ptr(), inv_sigma.as_ptr());
    let (p1, pc1, p2, pc2) = (s1.as_mut_ptr(), c1.as_mut_ptr(), s2.as_mut_ptr(), c2.as_mut_ptr());
    let one = f32x4_splat(1.0);
    for (c, &qc) in q[..k].iter().enumerate() {
        if qc == 0.0 {
            continue;
        }
        let (qv, row) = (f32x4_splat(qc), c * d);
        let mut i = 0;
        while i < full {
            let o = row + i;
            // SAFETY: i + 4 <= full <= d and c < k, so o + 4 <= k * d, which means,
            // inv_sigma, s1, c1, s2 and c2 all hold.
            unsafe {
                let t = f32x4_mul(f32x4_sub(load(xp.add(i)), load(mp.add(o))), load(sp.add(o)));
                kahan(p1.add(o), pc1.add(o), f32x4_mul(qv, t));
                kahan(p2.add(o), pc2.add(o), f32x4_mul(qv, f32x4_sub(f32x4_mul(t, t), one)));
            }
            i += L;
        }
        for (i, &xi) in x.iter().enumerate().skip(full) {
            let o = row + i;
            let t = (xi - means[o]) * inv_sigma[o];
            // SAFETY: i < d and c < k, so o < k * d: in bounds of all four statistics rows.
            unsafe {
                kahan_add(&mut *p1.add(o), &mut *pc1.add(o), qc * t);
                kahan_add(&mut *p2.add(o), &mut *pc2.add(o), qc * (t * t - 1.0));
            }
        }
    }
}
