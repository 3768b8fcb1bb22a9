//! SSE2 paths (every x86_64 CPU): 4 lanes, no FMA, no masked loads. D tails are finished in
//! scalar code (the reference's own arithmetic), K tails of `softmax` go through a padded
//! 4-lane buffer so every element sees the same vector `exp`.

use core::arch::x86_64::*;

use crate::gaussian::rows_available;
use crate::gaussian::scalar::kahan_add;
use crate::math::{EXP_MAX, EXP_MIN, EXP_POLY, LN2_HI, LN2_LO, LOG2E};

/// Lanes per vector.
const L: usize = 4;

/// `mask ? a : b` lane by lane (`mask` lanes all ones or all zeros).
#[inline]
#[target_feature(enable = "sse2")]
fn select(mask: __m128, a: __m128, b: __m128) -> __m128 {
    _mm_or_ps(_mm_and_ps(mask, a), _mm_andnot_ps(mask, b))
}

/// The four horizontal sums `[sum a0, sum a1, sum a2, sum a3]` (a 4x4 transpose, added).
#[inline]
#[target_feature(enable = "sse2")]
fn reduce4(a0: __m128, a1: __m128, a2: __m128, a3: __m128) -> __m128 {
    let u01 = _mm_add_ps(_mm_unpacklo_ps(a0, a1), _mm_unpackhi_ps(a0, a1));
    let u23 = _mm_add_ps(_mm_unpacklo_ps(a2, a3), _mm_unpackhi_ps(a2, a3));
    _mm_add_ps(_mm_movelh_ps(u01, u23), _mm_movehl_ps(u23, u01))
}

/// The horizontal sum of `a`.
#[inline]
#[target_feature(enable = "sse2")]
fn reduce1(a: __m128) -> f32 {
    let s = _mm_add_ps(a, _mm_movehl_ps(a, a));
    _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps::<0x55>(s, s)))
}

/// `exp` of 4 lanes with the contract of [`crate::math::exp`]. Without FMA this is the scalar
/// arithmetic operation for operation; only `n` rounds half to even (SSE's default mode).
#[inline]
#[target_feature(enable = "sse2")]
fn exp4(x: __m128) -> __m128 {
    let xc = _mm_min_ps(_mm_max_ps(x, _mm_set1_ps(EXP_MIN)), _mm_set1_ps(EXP_MAX));
    // cvtps rounds to nearest even under the default MXCSR, which Rust code may assume.
    let ni = _mm_cvtps_epi32(_mm_mul_ps(xc, _mm_set1_ps(LOG2E)));
    let n = _mm_cvtepi32_ps(ni);
    let r = _mm_sub_ps(xc, _mm_mul_ps(n, _mm_set1_ps(LN2_HI)));
    let r = _mm_sub_ps(r, _mm_mul_ps(n, _mm_set1_ps(LN2_LO)));
    let mut p = _mm_set1_ps(EXP_POLY[0]);
    for &c in &EXP_POLY[1..] {
        p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(c));
    }
    let y = _mm_add_ps(_mm_add_ps(_mm_mul_ps(_mm_mul_ps(p, r), r), r), _mm_set1_ps(1.0));
    // 2^n from the exponent bits; n = 128 has none: 2^127, then the product doubled.
    let big = _mm_cmpgt_epi32(ni, _mm_set1_epi32(127));
    let pow = _mm_slli_epi32::<23>(_mm_add_epi32(_mm_add_epi32(ni, big), _mm_set1_epi32(127)));
    let y = _mm_mul_ps(y, _mm_castsi128_ps(pow));
    let y = _mm_add_ps(y, _mm_and_ps(y, _mm_castsi128_ps(big)));
    let y = _mm_andnot_ps(_mm_cmplt_ps(x, _mm_set1_ps(EXP_MIN)), y);
    let y = select(_mm_cmpgt_ps(x, _mm_set1_ps(EXP_MAX)), _mm_set1_ps(f32::INFINITY), y);
    select(_mm_cmpunord_ps(x, x), x, y)
}

/// Applies `f` to `v` 4 lanes at a time, the tail through a buffer padded with `pad`.
#[inline]
#[target_feature(enable = "sse2")]
fn map4(v: &mut [f32], pad: f32, mut f: impl FnMut(__m128) -> __m128) {
    let mut chunks = v.chunks_exact_mut(L);
    for c in &mut chunks {
        // SAFETY: a chunk holds exactly 4 values; unaligned load and store.
        unsafe { _mm_storeu_ps(c.as_mut_ptr(), f(_mm_loadu_ps(c.as_ptr()))) };
    }
    let rest = chunks.into_remainder();
    if !rest.is_empty() {
        let mut buf = [pad; L];
        buf[..rest.len()].copy_from_slice(rest);
        // SAFETY: buf holds 4 values.
        unsafe { _mm_storeu_ps(buf.as_mut_ptr(), f(_mm_loadu_ps(buf.as_ptr()))) };
        let n = rest.len();
        rest.copy_from_slice(&buf[..n]);
    }
}

/// `v[i] = exp(v[i])` with the vector `exp` this path's `softmax` uses (for tests).
///
/// # Safety
/// The CPU must support SSE2 (every x86_64 CPU does).
#[target_feature(enable = "sse2")]
pub unsafe fn exp(v: &mut [f32]) {
    map4(v, 0.0, |a| exp4(a));
}

/// See [`crate::gaussian::sq_mahalanobis`]; `K` is reduced to what all slices hold.
///
/// # Safety
/// The CPU must support SSE2 (every x86_64 CPU does).
#[target_feature(enable = "sse2")]
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
    let dist = |xv: __m128, row: usize, i: usize, acc: __m128| {
        // SAFETY: callers pass i + 4 <= full <= d and a row < k, so row * d + i + 4 <= k * d,
        // which means and inv_sigma hold.
        let (mu, s) = unsafe { (_mm_loadu_ps(mp.add(row * d + i)), _mm_loadu_ps(sp.add(row * d + i))) };
        let t = _mm_mul_ps(_mm_sub_ps(xv, mu), s);
        _mm_add_ps(acc, _mm_mul_ps(t, t))
    };
    let mut c = 0;
    while c + 4 <= k {
        let z = _mm_setzero_ps();
        let (mut a0, mut a1, mut a2, mut a3) = (z, z, z, z);
        let mut i = 0;
        while i < full {
            // SAFETY: i + 4 <= full <= x.len().
            let xv = unsafe { _mm_loadu_ps(xp.add(i)) };
            a0 = dist(xv, c, i, a0);
            a1 = dist(xv, c + 1, i, a1);
            a2 = dist(xv, c + 2, i, a2);
            a3 = dist(xv, c + 3, i, a3);
            i += L;
        }
        let mut sums = [0.0f32; 4];
        // SAFETY: sums holds 4 values.
        unsafe { _mm_storeu_ps(sums.as_mut_ptr(), reduce4(a0, a1, a2, a3)) };
        for (j, s) in sums.iter().enumerate() {
            out[c + j] = s + tail(c + j);
        }
        c += 4;
    }
    while c < k {
        let mut a = _mm_setzero_ps();
        let mut i = 0;
        while i < full {
            // SAFETY: i + 4 <= full <= x.len().
            a = dist(unsafe { _mm_loadu_ps(xp.add(i)) }, c, i, a);
            i += L;
        }
        out[c] = reduce1(a) + tail(c);
        c += 1;
    }
}

/// See [`crate::gaussian::softmax`].
///
/// # Safety
/// The CPU must support SSE2 (every x86_64 CPU does).
#[target_feature(enable = "sse2")]
pub unsafe fn softmax(v: &mut [f32]) -> f32 {
    let (mut vmax, mut nan) = (_mm_set1_ps(f32::NEG_INFINITY), _mm_setzero_ps());
    let mut chunks = v.chunks_exact(L);
    for c in &mut chunks {
        // SAFETY: a chunk holds exactly 4 values.
        let a = unsafe { _mm_loadu_ps(c.as_ptr()) };
        vmax = _mm_max_ps(vmax, a);
        // max_ps drops NaNs, so they are looked for separately.
        nan = _mm_or_ps(nan, _mm_cmpunord_ps(a, a));
    }
    let mut max = {
        let s = _mm_max_ps(vmax, _mm_movehl_ps(vmax, vmax));
        _mm_cvtss_f32(_mm_max_ss(s, _mm_shuffle_ps::<0x55>(s, s)))
    };
    let mut has_nan = _mm_movemask_ps(nan) != 0;
    for &a in chunks.remainder() {
        has_nan |= a.is_nan();
        max = max.max(a);
    }
    if has_nan {
        return f32::NAN;
    }
    if !max.is_finite() {
        return max;
    }
    let m = _mm_set1_ps(max);
    let mut sum = _mm_setzero_ps();
    // The tail's padding is -inf: exp(-inf - max) = 0 adds nothing.
    map4(v, f32::NEG_INFINITY, |a| {
        let e = exp4(_mm_sub_ps(a, m));
        sum = _mm_add_ps(sum, e);
        e
    });
    // sum >= 1: the maximum contributes exp(0) = 1.
    let sum = reduce1(sum);
    let inv = _mm_set1_ps(1.0 / sum);
    map4(v, 0.0, |a| _mm_mul_ps(a, inv));
    max + libm::logf(sum)
}

/// See [`crate::gaussian::accumulate`]; `K` is reduced to what all slices hold.
///
/// # Safety
/// The CPU must support SSE2 (every x86_64 CPU does).
#[target_feature(enable = "sse2")]
pub unsafe fn accumulate(x: &[f32], means: &[f32], inv_sigma: &[f32], q: &[f32], s1: &mut [f32], s2: &mut [f32]) {
    let d = x.len();
    let k = rows_available(q.len(), d, &[means.len(), inv_sigma.len(), s1.len(), s2.len()]);
    let full = d - d % L;
    let (xp, mp, sp) = (x.as_ptr(), means.as_ptr(), inv_sigma.as_ptr());
    let (p1, p2) = (s1.as_mut_ptr(), s2.as_mut_ptr());
    let one = _mm_set1_ps(1.0);
    for (c, &qc) in q[..k].iter().enumerate() {
        if qc == 0.0 {
            continue;
        }
        let (qv, row) = (_mm_set1_ps(qc), c * d);
        let mut i = 0;
        while i < full {
            // SAFETY: i + 4 <= full <= d and c < k, so row + i + 4 <= k * d, which means,
            // inv_sigma, s1 and s2 all hold.
            unsafe {
                let o = row + i;
                let t =
                    _mm_mul_ps(_mm_sub_ps(_mm_loadu_ps(xp.add(i)), _mm_loadu_ps(mp.add(o))), _mm_loadu_ps(sp.add(o)));
                let a1 = _mm_add_ps(_mm_loadu_ps(p1.add(o)), _mm_mul_ps(qv, t));
                let a2 = _mm_add_ps(_mm_loadu_ps(p2.add(o)), _mm_mul_ps(qv, _mm_sub_ps(_mm_mul_ps(t, t), one)));
                _mm_storeu_ps(p1.add(o), a1);
                _mm_storeu_ps(p2.add(o), a2);
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
#[target_feature(enable = "sse2")]
unsafe fn kahan(s: *mut f32, c: *mut f32, v: __m128) {
    // SAFETY: forwarded from the caller.
    let (sv, cv) = unsafe { (_mm_loadu_ps(s), _mm_loadu_ps(c)) };
    let y = _mm_sub_ps(v, cv);
    let t = _mm_add_ps(sv, y);
    // SAFETY: as above.
    unsafe {
        _mm_storeu_ps(c, _mm_sub_ps(_mm_sub_ps(t, sv), y));
        _mm_storeu_ps(s, t);
    }
}

/// See [`crate::gaussian::accumulate_compensated`]; `K` is reduced to what all slices hold.
/// The results are those of the scalar reference, bit for bit.
///
/// # Safety
/// The CPU must support SSE2 (every x86_64 CPU does).
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "sse2")]
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
    let one = _mm_set1_ps(1.0);
    for (c, &qc) in q[..k].iter().enumerate() {
        if qc == 0.0 {
            continue;
        }
        let (qv, row) = (_mm_set1_ps(qc), c * d);
        let mut i = 0;
        while i < full {
            let o = row + i;
            // SAFETY: i + 4 <= full <= d and c < k, so o + 4 <= k * d, which means,
            // inv_sigma, s1, c1, s2 and c2 all hold.
            unsafe {
                let t =
                    _mm_mul_ps(_mm_sub_ps(_mm_loadu_ps(xp.add(i)), _mm_loadu_ps(mp.add(o))), _mm_loadu_ps(sp.add(o)));
                kahan(p1.add(o), pc1.add(o), _mm_mul_ps(qv, t));
                kahan(p2.add(o), pc2.add(o), _mm_mul_ps(qv, _mm_sub_ps(_mm_mul_ps(t, t), one)));
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
