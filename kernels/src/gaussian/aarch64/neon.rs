//! NEON paths: 4 lanes with FMA. D tails are finished in scalar code, K tails of `softmax`
//! go through a padded 4-lane buffer so every element sees the same vector `exp`.
//!
//! Same structure as the x86 paths: four components in flight over D in `sq_mahalanobis`
//! (32 registers leave room), a vector `exp` over K in `softmax`, one component at a time in
//! `accumulate`.

use core::arch::aarch64::*;

use crate::gaussian::rows_available;
use crate::gaussian::scalar::kahan_add;
use crate::math::{EXP_MAX, EXP_MIN, EXP_POLY, LN2_HI, LN2_LO, LOG2E};

/// Lanes per vector.
const L: usize = 4;

/// The four horizontal sums `[sum a0, sum a1, sum a2, sum a3]` by pairwise adds.
#[inline]
#[target_feature(enable = "neon")]
fn reduce4(a0: float32x4_t, a1: float32x4_t, a2: float32x4_t, a3: float32x4_t) -> float32x4_t {
    vpaddq_f32(vpaddq_f32(a0, a1), vpaddq_f32(a2, a3))
}

/// `exp` of 4 lanes with the contract of [`crate::math::exp`]: below -87 exactly 0, above
/// `EXP_MAX` infinity, NaN stays NaN. Same reduction and polynomial; the polynomial uses FMA
/// and `n` rounds half to even, so results may differ from the scalar one by an ULP or two.
#[inline]
#[target_feature(enable = "neon")]
fn exp4(x: float32x4_t) -> float32x4_t {
    // Clamping keeps the reduction in range; the selects below fix the ends (and NaN).
    let xc = vminq_f32(vmaxq_f32(x, vdupq_n_f32(EXP_MIN)), vdupq_n_f32(EXP_MAX));
    let n = vrndnq_f32(vmulq_f32(xc, vdupq_n_f32(LOG2E)));
    // Not fused, as the scalar code: n * LN2_HI is exact, and the low part is rounded the same.
    let r = vsubq_f32(xc, vmulq_f32(n, vdupq_n_f32(LN2_HI)));
    let r = vsubq_f32(r, vmulq_f32(n, vdupq_n_f32(LN2_LO)));
    let mut p = vdupq_n_f32(EXP_POLY[0]);
    for &c in &EXP_POLY[1..] {
        p = vfmaq_f32(vdupq_n_f32(c), p, r);
    }
    let y = vaddq_f32(vfmaq_f32(r, p, vmulq_f32(r, r)), vdupq_n_f32(1.0));
    // 2^n from the exponent bits; n = 128 has none: 2^127, then the product doubled.
    let ni = vcvtq_s32_f32(n);
    let big = vcgtq_s32(ni, vdupq_n_s32(127));
    let e = vaddq_s32(vaddq_s32(ni, vreinterpretq_s32_u32(big)), vdupq_n_s32(127));
    let y = vmulq_f32(y, vreinterpretq_f32_s32(vshlq_n_s32::<23>(e)));
    let y = vaddq_f32(y, vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(y), big)));
    let y = vbslq_f32(vcltq_f32(x, vdupq_n_f32(EXP_MIN)), vdupq_n_f32(0.0), y);
    let y = vbslq_f32(vcgtq_f32(x, vdupq_n_f32(EXP_MAX)), vdupq_n_f32(f32::INFINITY), y);
    vbslq_f32(vceqq_f32(x, x), y, x)
}

/// Applies `f` to `v` 4 lanes at a time, the tail through a buffer padded with `pad`.
#[inline]
#[target_feature(enable = "neon")]
fn map4(v: &mut [f32], pad: f32, mut f: impl FnMut(float32x4_t) -> float32x4_t) {
    let mut chunks = v.chunks_exact_mut(L);
    for c in &mut chunks {
        // SAFETY: a chunk holds exactly 4 values; NEON loads and stores need no alignment.
        unsafe { vst1q_f32(c.as_mut_ptr(), f(vld1q_f32(c.as_ptr()))) };
    }
    let rest = chunks.into_remainder();
    if !rest.is_empty() {
        let mut buf = [pad; L];
        buf[..rest.len()].copy_from_slice(rest);
        // SAFETY: buf holds 4 values.
        unsafe { vst1q_f32(buf.as_mut_ptr(), f(vld1q_f32(buf.as_ptr()))) };
        let n = rest.len();
        rest.copy_from_slice(&buf[..n]);
    }
}

/// `v[i] = exp(v[i])` with the vector `exp` this path's `softmax` uses (for tests).
///
/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
pub unsafe fn exp(v: &mut [f32]) {
    map4(v, 0.0, |a| exp4(a));
}

/// See [`crate::gaussian::sq_mahalanobis`]; `K` is reduced to what all slices hold.
///
/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
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
    let dist = |xv: float32x4_t, row: usize, i: usize, acc: float32x4_t| {
        // SAFETY: callers pass i + 4 <= full <= d and a row < k, so row * d + i + 4 <= k * d,
        // which means and inv_sigma hold.
        let (mu, s) = unsafe { (vld1q_f32(mp.add(row * d + i)), vld1q_f32(sp.add(row * d + i))) };
        let t = vmulq_f32(vsubq_f32(xv, mu), s);
        vfmaq_f32(acc, t, t)
    };
    let mut c = 0;
    while c + 4 <= k {
        let z = vdupq_n_f32(0.0);
        let (mut a0, mut a1, mut a2, mut a3) = (z, z, z, z);
        let mut i = 0;
        while i < full {
            // SAFETY: i + 4 <= full <= x.len().
            let xv = unsafe { vld1q_f32(xp.add(i)) };
            a0 = dist(xv, c, i, a0);
            a1 = dist(xv, c + 1, i, a1);
            a2 = dist(xv, c + 2, i, a2);
            a3 = dist(xv, c + 3, i, a3);
            i += L;
        }
        let mut sums = [0.0f32; 4];
        // SAFETY: sums holds 4 values.
        unsafe { vst1q_f32(sums.as_mut_ptr(), reduce4(a0, a1, a2, a3)) };
        for (j, s) in sums.iter().enumerate() {
            out[c + j] = s + tail(c + j);
        }
        c += 4;
    }
    while c < k {
        let mut a = vdupq_n_f32(0.0);
        let mut i = 0;
        while i < full {
            // SAFETY: i + 4 <= full <= x.len().
            a = dist(unsafe { vld1q_f32(xp.add(i)) }, c, i, a);
            i += L;
        }
        out[c] = vaddvq_f32(a) + tail(c);
        c += 1;
    }
}

/// See [`crate::gaussian::softmax`].
///
/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
pub unsafe fn softmax(v: &mut [f32]) -> f32 {
    // FMAX propagates NaN, so a NaN anywhere makes the maximum NaN, which is reported below.
    let mut vmax = vdupq_n_f32(f32::NEG_INFINITY);
    let mut chunks = v.chunks_exact(L);
    for c in &mut chunks {
        // SAFETY: a chunk holds exactly 4 values.
        vmax = vmaxq_f32(vmax, unsafe { vld1q_f32(c.as_ptr()) });
    }
    let mut max = vmaxvq_f32(vmax);
    if max.is_nan() {
        return max;
    }
    for &a in chunks.remainder() {
        if a.is_nan() {
            return a;
        }
        max = max.max(a);
    }
    if !max.is_finite() {
        return max;
    }
    let m = vdupq_n_f32(max);
    let mut sum = vdupq_n_f32(0.0);
    // The tail's padding is -inf: exp(-inf - max) = 0 adds nothing.
    map4(v, f32::NEG_INFINITY, |a| {
        let e = exp4(vsubq_f32(a, m));
        sum = vaddq_f32(sum, e);
        e
    });
    // sum >= 1: the maximum contributes exp(0) = 1.
    let sum = vaddvq_f32(sum);
    let inv = vdupq_n_f32(1.0 / sum);
    map4(v, 0.0, |a| vmulq_f32(a, inv));
    max + libm::logf(sum)
}

/// See [`crate::gaussian::accumulate`]; `K` is reduced to what all slices hold.
///
/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
pub unsafe fn accumulate(x: &[f32], means: &[f32], inv_sigma: &[f32], q: &[f32], s1: &mut [f32], s2: &mut [f32]) {
    let d = x.len();
    let k = rows_available(q.len(), d, &[means.len(), inv_sigma.len(), s1.len(), s2.len()]);
    let full = d - d % L;
    let (xp, mp, sp) = (x.as_ptr(), means.as_ptr(), inv_sigma.as_ptr());
    let (p1, p2) = (s1.as_mut_ptr(), s2.as_mut_ptr());
    let minus_one = vdupq_n_f32(-1.0);
    for (c, &qc) in q[..k].iter().enumerate() {
        if qc == 0.0 {
            continue;
        }
        let (qv, row) = (vdupq_n_f32(qc), c * d);
        let mut i = 0;
        while i < full {
            // SAFETY: i + 4 <= full <= d and c < k, so row + i + 4 <= k * d, which means,
            // inv_sigma, s1 and s2 all hold.
            unsafe {
                let o = row + i;
                let t = vmulq_f32(vsubq_f32(vld1q_f32(xp.add(i)), vld1q_f32(mp.add(o))), vld1q_f32(sp.add(o)));
                vst1q_f32(p1.add(o), vfmaq_f32(vld1q_f32(p1.add(o)), qv, t));
                vst1q_f32(p2.add(o), vfmaq_f32(vld1q_f32(p2.add(o)), qv, vfmaq_f32(minus_one, t, t)));
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
#[target_feature(enable = "neon")]
unsafe fn kahan(s: *mut f32, c: *mut f32, v: float32x4_t) {
    // SAFETY: forwarded from the caller.
    let (sv, cv) = unsafe { (vld1q_f32(s), vld1q_f32(c)) };
    let y = vsubq_f32(v, cv);
    let t = vaddq_f32(sv, y);
    // SAFETY: as above.
    unsafe {
        vst1q_f32(c, vsubq_f32(vsubq_f32(t, sv), y));
        vst1q_f32(s, t);
    }
}

/// See [`crate::gaussian::accumulate_compensated`]; `K` is reduced to what all slices hold.
/// No FMA here: the results are those of the scalar reference, bit for bit.
///
/// # Safety
/// The CPU must support NEON.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "neon")]
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
    let one = vdupq_n_f32(1.0);
    for (c, &qc) in q[..k].iter().enumerate() {
        if qc == 0.0 {
            continue;
        }
        let (qv, row) = (vdupq_n_f32(qc), c * d);
        let mut i = 0;
        while i < full {
            let o = row + i;
            // SAFETY: i + 4 <= full <= d and c < k, so o + 4 <= k * d, which means,
            // inv_sigma, s1, c1, s2 and c2 all hold.
            unsafe {
                let t = vmulq_f32(vsubq_f32(vld1q_f32(xp.add(i)), vld1q_f32(mp.add(o))), vld1q_f32(sp.add(o)));
                kahan(p1.add(o), pc1.add(o), vmulq_f32(qv, t));
                kahan(p2.add(o), pc2.add(o), vmulq_f32(qv, vsubq_f32(vmulq_f32(t, t), one)));
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
