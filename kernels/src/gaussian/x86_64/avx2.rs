//! AVX2 + FMA paths: 8 lanes, D and K tails by `vmaskmov` masked loads and stores.
//!
//! Same structure as the AVX-512 paths: four components in flight over D in
//! `sq_mahalanobis`, a vector `exp` over K in `softmax`, one component at a time in
//! `accumulate` and `accumulate_compensated`.

use core::arch::x86_64::*;

use crate::gaussian::{for_nonzero, rows_available};
use crate::math::{EXP_MAX, EXP_MIN, EXP_POLY, LN2_HI, LN2_LO, LOG2E};

/// Lanes per vector.
const L: usize = 8;

/// `-1` (all bits) in the first `n` lanes (`n <= 8`), 0 in the rest: the `vmaskmov` mask.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn lanes(n: usize) -> __m256i {
    _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
}

/// Loads the lanes of `p` in `m` (the others are 0); `None` is a plain load of all 8.
///
/// # Safety
/// The selected lanes starting at `p` are readable.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn load(m: Option<__m256i>, p: *const f32) -> __m256 {
    match m {
        // SAFETY: all 8 lanes readable (caller).
        None => unsafe { _mm256_loadu_ps(p) },
        // SAFETY: vmaskmov neither reads nor faults on masked-off lanes.
        Some(m) => unsafe { _mm256_maskload_ps(p, m) },
    }
}

/// Stores the lanes of `a` in `m` (all 8 for `None`) to `p`.
///
/// # Safety
/// The selected lanes starting at `p` are writable.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn store(m: Option<__m256i>, p: *mut f32, a: __m256) {
    match m {
        // SAFETY: all 8 lanes writable (caller).
        None => unsafe { _mm256_storeu_ps(p, a) },
        // SAFETY: vmaskmov does not write masked-off lanes.
        Some(m) => unsafe { _mm256_maskstore_ps(p, m, a) },
    }
}

/// The mask for the chunk at column `i` of rows of length `d` (`None`: a whole chunk).
#[inline]
#[target_feature(enable = "avx2,fma")]
fn chunk_mask(i: usize, d: usize) -> Option<__m256i> {
    if i + L <= d {
        None
    } else {
        Some(lanes(d - i))
    }
}

/// The four horizontal sums `[sum a0, sum a1, sum a2, sum a3]`.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn reduce4(a0: __m256, a1: __m256, a2: __m256, a3: __m256) -> __m128 {
    // Per 128-bit half: [a0, a1, a2, a3] partial sums after the three horizontal adds.
    let h = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps::<1>(h))
}

/// The horizontal sum of `a`.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn reduce1(a: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps::<1>(a));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps::<0x55>(s, s)))
}

/// The horizontal maximum of `a` (no NaN in `a`).
#[inline]
#[target_feature(enable = "avx2,fma")]
fn reduce_max(a: __m256) -> f32 {
    let s = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps::<1>(a));
    let s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    _mm_cvtss_f32(_mm_max_ss(s, _mm_shuffle_ps::<0x55>(s, s)))
}

/// `exp` of 8 lanes with the contract of [`crate::math::exp`] (see the AVX-512 `exp16`).
#[inline]
#[target_feature(enable = "avx2,fma")]
fn exp8(x: __m256) -> __m256 {
    let xc = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(EXP_MIN)), _mm256_set1_ps(EXP_MAX));
    let n =
        _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(xc, _mm256_set1_ps(LOG2E)));
    // Not fused, as the scalar code: n * LN2_HI is exact, and the low part is rounded the same.
    let r = _mm256_sub_ps(xc, _mm256_mul_ps(n, _mm256_set1_ps(LN2_HI)));
    let r = _mm256_sub_ps(r, _mm256_mul_ps(n, _mm256_set1_ps(LN2_LO)));
    let mut p = _mm256_set1_ps(EXP_POLY[0]);
    for &c in &EXP_POLY[1..] {
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
    }
    let y = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0));
    // 2^n from the exponent bits; n = 128 (x in (88.38, 88.72]) has none, so it is built as
    // 2^127 and the product doubled, as the scalar code does.
    let ni = _mm256_cvtps_epi32(n);
    let big = _mm256_cmpgt_epi32(ni, _mm256_set1_epi32(127));
    let pow = _mm256_slli_epi32::<23>(_mm256_add_epi32(_mm256_add_epi32(ni, big), _mm256_set1_epi32(127)));
    let y = _mm256_mul_ps(y, _mm256_castsi256_ps(pow));
    let y = _mm256_add_ps(y, _mm256_and_ps(y, _mm256_castsi256_ps(big)));
    let zero = _mm256_setzero_ps();
    let y = _mm256_blendv_ps(y, zero, _mm256_cmp_ps::<_CMP_LT_OQ>(x, _mm256_set1_ps(EXP_MIN)));
    let y = _mm256_blendv_ps(y, _mm256_set1_ps(f32::INFINITY), _mm256_cmp_ps::<_CMP_GT_OQ>(x, _mm256_set1_ps(EXP_MAX)));
    _mm256_blendv_ps(y, x, _mm256_cmp_ps::<_CMP_UNORD_Q>(x, x))
}

/// `v[i] = exp(v[i])` with the vector `exp` this path's `softmax` uses (for tests).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn exp(v: &mut [f32]) {
    let (n, p) = (v.len(), v.as_mut_ptr());
    let mut i = 0;
    while i < n {
        let m = chunk_mask(i, n);
        // SAFETY: the lanes in m are inside v.
        unsafe { store(m, p.add(i), exp8(load(m, p.add(i)))) };
        i += L;
    }
}

/// `acc + ((x - mu) * s)^2` over the lanes in `m` (the others add 0).
///
/// # Safety
/// The selected lanes from `mu` and from `s` are readable.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn dist(m: Option<__m256i>, xv: __m256, mu: *const f32, s: *const f32, acc: __m256) -> __m256 {
    // SAFETY: forwarded from the caller.
    let (mu, s) = unsafe { (load(m, mu), load(m, s)) };
    let t = _mm256_mul_ps(_mm256_sub_ps(xv, mu), s);
    _mm256_fmadd_ps(t, t, acc)
}

/// See [`crate::gaussian::sq_mahalanobis`]; `K` is reduced to what all slices hold.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn sq_mahalanobis(x: &[f32], means: &[f32], inv_sigma: &[f32], out: &mut [f32]) {
    let d = x.len();
    let k = rows_available(out.len(), d, &[means.len(), inv_sigma.len()]);
    let (xp, mp, sp, op) = (x.as_ptr(), means.as_ptr(), inv_sigma.as_ptr(), out.as_mut_ptr());
    let mut c = 0;
    while c + 4 <= k {
        let r = [c * d, (c + 1) * d, (c + 2) * d, (c + 3) * d];
        let z = _mm256_setzero_ps();
        let (mut a0, mut a1, mut a2, mut a3) = (z, z, z, z);
        let mut i = 0;
        while i < d {
            let m = chunk_mask(i, d);
            // SAFETY: the lanes in m cover columns i .. min(i + 8, d) of x and of rows
            // c .. c + 4 <= k, which means and inv_sigma hold.
            unsafe {
                let xv = load(m, xp.add(i));
                a0 = dist(m, xv, mp.add(r[0] + i), sp.add(r[0] + i), a0);
                a1 = dist(m, xv, mp.add(r[1] + i), sp.add(r[1] + i), a1);
                a2 = dist(m, xv, mp.add(r[2] + i), sp.add(r[2] + i), a2);
                a3 = dist(m, xv, mp.add(r[3] + i), sp.add(r[3] + i), a3);
            }
            i += L;
        }
        // SAFETY: c + 4 <= k <= out.len().
        unsafe { _mm_storeu_ps(op.add(c), reduce4(a0, a1, a2, a3)) };
        c += 4;
    }
    while c < k {
        let (r, mut a) = (c * d, _mm256_setzero_ps());
        let mut i = 0;
        while i < d {
            let m = chunk_mask(i, d);
            // SAFETY: the lanes in m cover columns i .. min(i + 8, d) of x and of row c < k.
            a = unsafe { dist(m, load(m, xp.add(i)), mp.add(r + i), sp.add(r + i), a) };
            i += L;
        }
        // The same reduction tree as the groups of four, so a row's distance does not depend
        // on where it falls in K (and the batched kernel gives the same bits).
        out[c] = _mm_cvtss_f32(reduce4(a, a, a, a));
        c += 1;
    }
}

/// Descriptors per block of [`sq_mahalanobis_batch`]: 8 accumulators in flight (of 16
/// registers), and each component row read once per 8 descriptors.
const BLOCK: usize = 8;

/// Distances of `B` descriptors (rows of `xs` from `xp`, `d` apart) to component row `row`,
/// over the first `cols <= d` columns.
///
/// # Safety
/// AVX2 and FMA; `B` rows of `d` values from `xp`, and `d` values of `means` and `inv_sigma`
/// at `row`, are readable.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn block<const B: usize>(
    xp: *const f32,
    mp: *const f32,
    sp: *const f32,
    d: usize,
    cols: usize,
    row: usize,
) -> [__m256; B] {
    let mut acc = [_mm256_setzero_ps(); B];
    let mut i = 0;
    while i < cols {
        let m = chunk_mask(i, cols);
        // SAFETY: the lanes in m cover columns i .. min(i + 8, d) of the component row and of
        // each of the B descriptors (caller).
        unsafe {
            let (mu, s) = (load(m, mp.add(row + i)), load(m, sp.add(row + i)));
            for (b, a) in acc.iter_mut().enumerate() {
                let t = _mm256_mul_ps(_mm256_sub_ps(load(m, xp.add(b * d + i)), mu), s);
                *a = _mm256_fmadd_ps(t, t, *a);
            }
        }
        i += L;
    }
    acc
}

/// Writes the sums of `acc` (B <= 8) for component `c` into `out[b * k + c]`.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn scatter<const B: usize>(acc: &[__m256; B], out: &mut [f32], k: usize, c: usize) {
    let z = _mm256_setzero_ps();
    let get = |b: usize| if b < B { acc[b] } else { z };
    let mut sums = [0.0f32; 8];
    // SAFETY: sums holds 8 values.
    unsafe {
        _mm_storeu_ps(sums.as_mut_ptr(), reduce4(get(0), get(1), get(2), get(3)));
        if B > 4 {
            _mm_storeu_ps(sums.as_mut_ptr().add(4), reduce4(get(4), get(5), get(6), get(7)));
        }
    }
    for (b, &v) in sums.iter().take(B).enumerate() {
        out[b * k + c] = v;
    }
}

/// See [`crate::gaussian::sq_mahalanobis_batch`]: each component row read once per 8
/// descriptors; bit for bit this path's [`sq_mahalanobis`] row by row.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn sq_mahalanobis_batch(xs: &[f32], d: usize, means: &[f32], inv_sigma: &[f32], out: &mut [f32]) {
    // SAFETY: forwarded from the caller.
    unsafe { batch_cols(xs, d, d, means, inv_sigma, out) }
}

/// See [`crate::gaussian::sq_mahalanobis_batch_prefix`]: [`sq_mahalanobis_batch`] over the
/// first `p` columns (rounded down to a multiple of 16, at most `d`): the same lanes, in the
/// same order, and the same reduction as the full sums, which only add non-negative terms
/// after them, so every value is at most the full one bit for bit.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn sq_mahalanobis_batch_prefix(
    xs: &[f32],
    d: usize,
    p: usize,
    means: &[f32],
    inv_sigma: &[f32],
    out: &mut [f32],
) {
    let cols = p.min(d) / 16 * 16;
    // SAFETY: forwarded from the caller.
    unsafe { batch_cols(xs, d, cols, means, inv_sigma, out) }
}

/// [`sq_mahalanobis_batch`] summing the first `cols <= d` columns of each row.
///
/// # Safety
/// As [`sq_mahalanobis_batch`].
#[target_feature(enable = "avx2,fma")]
unsafe fn batch_cols(xs: &[f32], d: usize, cols: usize, means: &[f32], inv_sigma: &[f32], out: &mut [f32]) {
    if d == 0 {
        return;
    }
    let k = means.len().min(inv_sigma.len()) / d;
    if k == 0 {
        return;
    }
    let n = (xs.len() / d).min(out.len() / k);
    let (mp, sp) = (means.as_ptr(), inv_sigma.as_ptr());
    let mut r = 0;
    while r + BLOCK <= n {
        let (xp, o) = (xs[r * d..].as_ptr(), &mut out[r * k..]);
        for c in 0..k {
            // SAFETY: rows r .. r + 8 <= n of xs, and row c < k of means and inv_sigma.
            let acc = unsafe { block::<BLOCK>(xp, mp, sp, d, cols, c * d) };
            scatter(&acc, o, k, c);
        }
        r += BLOCK;
    }
    while r < n {
        let (xp, o) = (xs[r * d..].as_ptr(), &mut out[r * k..]);
        for c in 0..k {
            // SAFETY: row r < n of xs, and row c < k of means and inv_sigma.
            let acc = unsafe { block::<1>(xp, mp, sp, d, cols, c * d) };
            scatter(&acc, o, k, c);
        }
        r += 1;
    }
}

/// See [`crate::gaussian::softmax`].
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn softmax(v: &mut [f32]) -> f32 {
    let (n, p) = (v.len(), v.as_mut_ptr());
    let neg_inf = _mm256_set1_ps(f32::NEG_INFINITY);
    let all = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
    let (mut vmax, mut nan) = (neg_inf, _mm256_setzero_ps());
    let mut i = 0;
    while i < n {
        let m = chunk_mask(i, n);
        let keep = match m {
            None => all,
            Some(m) => _mm256_castsi256_ps(m),
        };
        // SAFETY: the lanes in m are inside v. Lanes past the end become -inf, neutral for
        // the maximum.
        let a = _mm256_blendv_ps(neg_inf, unsafe { load(m, p.add(i)) }, keep);
        vmax = _mm256_max_ps(vmax, a);
        // max_ps drops NaNs, so they are looked for separately.
        nan = _mm256_or_ps(nan, _mm256_cmp_ps::<_CMP_UNORD_Q>(a, a));
        i += L;
    }
    if _mm256_movemask_ps(nan) != 0 {
        return f32::NAN;
    }
    let max = reduce_max(vmax);
    if !max.is_finite() {
        return max;
    }
    let mv = _mm256_set1_ps(max);
    let (mut sum0, mut sum1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    let mut i = 0;
    while i < n {
        let m = chunk_mask(i, n);
        let keep = match m {
            None => all,
            Some(m) => _mm256_castsi256_ps(m),
        };
        // SAFETY: the lanes in m are inside v (load and store). Lanes past the end are
        // zeroed: they must not add to the sum.
        let x = _mm256_sub_ps(unsafe { load(m, p.add(i)) }, mv);
        // A chunk whose every argument is below EXP_MIN is exactly 0 (as exp8 gives it): with
        // sharply peaked posteriors most chunks are, and their exp is skipped.
        let below = _mm256_or_ps(_mm256_cmp_ps::<_CMP_LT_OQ>(x, _mm256_set1_ps(EXP_MIN)), _mm256_xor_ps(keep, all));
        let e = if _mm256_movemask_ps(below) == 0xff { _mm256_setzero_ps() } else { _mm256_and_ps(keep, exp8(x)) };
        // SAFETY: as the load.
        unsafe { store(m, p.add(i), e) };
        // Two sums so that the adds of neighbouring chunks overlap.
        if (i / L).is_multiple_of(2) {
            sum0 = _mm256_add_ps(sum0, e);
        } else {
            sum1 = _mm256_add_ps(sum1, e);
        }
        i += L;
    }
    // sum >= 1: the maximum contributes exp(0) = 1.
    let sum = reduce1(_mm256_add_ps(sum0, sum1));
    let inv = _mm256_set1_ps(1.0 / sum);
    // A sum of exactly 1 (one component takes everything) scales by 1: nothing to do.
    let mut i = if sum == 1.0 { n } else { 0 };
    while i < n {
        let m = chunk_mask(i, n);
        // SAFETY: the lanes in m are inside v.
        unsafe { store(m, p.add(i), _mm256_mul_ps(load(m, p.add(i)), inv)) };
        i += L;
    }
    max + libm::logf(sum)
}

/// See [`crate::gaussian::accumulate`]; `K` is reduced to what all slices hold.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn accumulate(x: &[f32], means: &[f32], inv_sigma: &[f32], q: &[f32], s1: &mut [f32], s2: &mut [f32]) {
    let d = x.len();
    let k = rows_available(q.len(), d, &[means.len(), inv_sigma.len(), s1.len(), s2.len()]);
    let (xp, mp, sp) = (x.as_ptr(), means.as_ptr(), inv_sigma.as_ptr());
    let (p1, p2) = (s1.as_mut_ptr(), s2.as_mut_ptr());
    let one = _mm256_set1_ps(1.0);
    for_nonzero(&q[..k], |c, qc| {
        let (qv, row) = (_mm256_set1_ps(qc), c * d);
        let mut i = 0;
        while i < d {
            let m = chunk_mask(i, d);
            // SAFETY: the lanes in m cover columns i .. min(i + 8, d) of x and of row c < k,
            // which means, inv_sigma, s1 and s2 all hold.
            unsafe {
                let t = _mm256_mul_ps(
                    _mm256_sub_ps(load(m, xp.add(i)), load(m, mp.add(row + i))),
                    load(m, sp.add(row + i)),
                );
                let a1 = _mm256_fmadd_ps(qv, t, load(m, p1.add(row + i)));
                let a2 = _mm256_fmadd_ps(qv, _mm256_fmsub_ps(t, t, one), load(m, p2.add(row + i)));
                store(m, p1.add(row + i), a1);
                store(m, p2.add(row + i), a2);
            }
            i += L;
        }
    });
}

/// `s += v` Kahan-compensated (`c` holds what `s` lost), on the lanes in `m`: the scalar
/// `kahan_add` lane by lane, the same operations in the same order.
///
/// # Safety
/// The selected lanes from `s` and from `c` are readable and writable.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn kahan(m: Option<__m256i>, s: *mut f32, c: *mut f32, v: __m256) {
    // SAFETY: forwarded from the caller.
    let (sv, cv) = unsafe { (load(m, s), load(m, c)) };
    let y = _mm256_sub_ps(v, cv);
    let t = _mm256_add_ps(sv, y);
    // SAFETY: as above.
    unsafe {
        store(m, c, _mm256_sub_ps(_mm256_sub_ps(t, sv), y));
        store(m, s, t);
    }
}

/// See [`crate::gaussian::accumulate_compensated`]; `K` is reduced to what all slices hold.
/// No FMA here: the results are those of the scalar reference, bit for bit.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,fma")]
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
    let (xp, mp, sp) = (x.as_ptr(), means.as_ptr(), inv_sigma.as_ptr());
    let (p1, pc1, p2, pc2) = (s1.as_mut_ptr(), c1.as_mut_ptr(), s2.as_mut_ptr(), c2.as_mut_ptr());
    let one = _mm256_set1_ps(1.0);
    for_nonzero(&q[..k], |c, qc| {
        let (qv, row) = (_mm256_set1_ps(qc), c * d);
        let mut i = 0;
        while i < d {
            let m = chunk_mask(i, d);
            let o = row + i;
            // SAFETY: the lanes in m cover columns i .. min(i + 8, d) of x and of row c < k,
            // which means, inv_sigma, s1, c1, s2 and c2 all hold.
            unsafe {
                let t = _mm256_mul_ps(_mm256_sub_ps(load(m, xp.add(i)), load(m, mp.add(o))), load(m, sp.add(o)));
                kahan(m, p1.add(o), pc1.add(o), _mm256_mul_ps(qv, t));
                kahan(m, p2.add(o), pc2.add(o), _mm256_mul_ps(qv, _mm256_sub_ps(_mm256_mul_ps(t, t), one)));
            }
            i += L;
        }
    });
}
