//! AVX-512F paths: 16 lanes, D and K tails by masked loads and stores (no scalar tails).
//!
//! `sq_mahalanobis` runs four components at once over D, so that each `x` chunk is loaded once
//! and four independent FMA chains hide the FMA latency; the four sums are reduced together.
//! `softmax` vectorises over K with a vector `exp` built on the same range reduction and
//! polynomial as [`crate::math::exp`]. `accumulate` and `accumulate_compensated` walk D per
//! component with a nonzero posterior (each row is independent, so out-of-order execution
//! overlaps them without unrolling).

use core::arch::x86_64::*;

use crate::gaussian::{for_nonzero, rows_available};
use crate::math::{EXP_MAX, EXP_MIN, EXP_POLY, LN2_HI, LN2_LO, LOG2E};

/// Lanes per vector.
const L: usize = 16;

/// The first `n` lanes (`n < 16`).
#[inline]
fn tail_mask(n: usize) -> __mmask16 {
    ((1u32 << n) - 1) as __mmask16
}

/// The four horizontal sums `[sum a0, sum a1, sum a2, sum a3]`: two rounds of 256- then
/// 128-bit folding put component j's partial sums in 128-bit lane j, then two in-lane rounds.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
fn reduce4(a0: __m512, a1: __m512, a2: __m512, a3: __m512) -> __m128 {
    let s01 = _mm512_add_ps(_mm512_shuffle_f32x4::<0x44>(a0, a1), _mm512_shuffle_f32x4::<0xEE>(a0, a1));
    let s23 = _mm512_add_ps(_mm512_shuffle_f32x4::<0x44>(a2, a3), _mm512_shuffle_f32x4::<0xEE>(a2, a3));
    let s = _mm512_add_ps(_mm512_shuffle_f32x4::<0x88>(s01, s23), _mm512_shuffle_f32x4::<0xDD>(s01, s23));
    let s = _mm512_add_ps(s, _mm512_permute_ps::<0x4E>(s));
    let s = _mm512_add_ps(s, _mm512_permute_ps::<0xB1>(s));
    let first_of_each_lane = _mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    _mm512_castps512_ps128(_mm512_permutexvar_ps(first_of_each_lane, s))
}

/// `exp` of 16 lanes with the contract of [`crate::math::exp`]: below -87 exactly 0, above
/// `EXP_MAX` infinity, NaN stays NaN. Same reduction and polynomial; the polynomial uses FMA
/// and `n` rounds half to even, so results differ from the scalar one by at most 1 ULP
/// (checked for every f32 by `exp_exhaustive` in tests/gaussian_paths.rs).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
fn exp16(x: __m512) -> __m512 {
    // Clamping keeps the reduction in range for every lane; the masks below fix the ends.
    let xc = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(EXP_MIN)), _mm512_set1_ps(EXP_MAX));
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm512_mul_ps(
        xc,
        _mm512_set1_ps(LOG2E),
    ));
    // Not fused, as the scalar code: n * LN2_HI is exact, and the low part is rounded the same.
    let r = _mm512_sub_ps(xc, _mm512_mul_ps(n, _mm512_set1_ps(LN2_HI)));
    let r = _mm512_sub_ps(r, _mm512_mul_ps(n, _mm512_set1_ps(LN2_LO)));
    let mut p = _mm512_set1_ps(EXP_POLY[0]);
    for &c in &EXP_POLY[1..] {
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
    }
    let y = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0));
    // p * 2^n, exact (n <= 128 overflows to infinity exactly as the scalar p * 2^127 * 2).
    let y = _mm512_scalef_ps(y, n);
    let y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask::<_CMP_LT_OQ>(x, _mm512_set1_ps(EXP_MIN)), _mm512_setzero_ps());
    let y = _mm512_mask_mov_ps(
        y,
        _mm512_cmp_ps_mask::<_CMP_GT_OQ>(x, _mm512_set1_ps(EXP_MAX)),
        _mm512_set1_ps(f32::INFINITY),
    );
    _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(x, x), x)
}

/// `v[i] = exp(v[i])` with the vector `exp` this path's `softmax` uses (for tests).
///
/// # Safety
/// The CPU must support AVX-512F, BW and VL (`X86Level::Avx512`).
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
pub unsafe fn exp(v: &mut [f32]) {
    let n = v.len();
    let p = v.as_mut_ptr();
    let mut i = 0;
    while i < n {
        let m = if i + L <= n { !0 } else { tail_mask(n - i) };
        // SAFETY: the lanes in m are inside v.
        unsafe { store(m, p.add(i), exp16(load(m, p.add(i)))) };
        i += L;
    }
}

/// Loads the lanes of `p` in `m` (the others are 0); an all-lanes mask is a plain load.
///
/// # Safety
/// The lanes in `m` starting at `p` are readable.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
unsafe fn load(m: __mmask16, p: *const f32) -> __m512 {
    if m == !0 {
        // SAFETY: all 16 lanes readable (caller).
        unsafe { _mm512_loadu_ps(p) }
    } else {
        // SAFETY: masked-off lanes are not read and cannot fault.
        unsafe { _mm512_maskz_loadu_ps(m, p) }
    }
}

/// Stores the lanes of `a` in `m` to `p`.
///
/// # Safety
/// The lanes in `m` starting at `p` are writable.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
unsafe fn store(m: __mmask16, p: *mut f32, a: __m512) {
    if m == !0 {
        // SAFETY: all 16 lanes writable (caller).
        unsafe { _mm512_storeu_ps(p, a) }
    } else {
        // SAFETY: masked-off lanes are not written.
        unsafe { _mm512_mask_storeu_ps(p, m, a) }
    }
}

/// `acc + ((x - mu) * s)^2` over the lanes in `m` (the others add 0).
///
/// # Safety
/// The lanes in `m` from `mu` and from `s` are readable.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
unsafe fn dist(m: __mmask16, xv: __m512, mu: *const f32, s: *const f32, acc: __m512) -> __m512 {
    // SAFETY: forwarded from the caller.
    let (mu, s) = unsafe { (load(m, mu), load(m, s)) };
    let t = _mm512_mul_ps(_mm512_sub_ps(xv, mu), s);
    _mm512_fmadd_ps(t, t, acc)
}

/// Four components' squared distances starting at row offsets `c * d` .. `(c + 3) * d`.
///
/// # Safety
/// AVX-512F, BW and VL (`X86Level::Avx512`); `x` has `d` values and `means`, `inv_sigma` hold rows `c .. c + 4`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
unsafe fn four(xp: *const f32, mp: *const f32, sp: *const f32, d: usize, c: usize) -> __m128 {
    let full = d - d % L;
    let z = _mm512_setzero_ps();
    let (mut a0, mut a1, mut a2, mut a3) = (z, z, z, z);
    let r = [c * d, (c + 1) * d, (c + 2) * d, (c + 3) * d];
    let mut i = 0;
    while i < d {
        let m = if i < full { !0 } else { tail_mask(d - i) };
        // SAFETY: the lanes in m cover columns i .. min(i + 16, d) of x and of rows c .. c + 4.
        unsafe {
            let xv = load(m, xp.add(i));
            a0 = dist(m, xv, mp.add(r[0] + i), sp.add(r[0] + i), a0);
            a1 = dist(m, xv, mp.add(r[1] + i), sp.add(r[1] + i), a1);
            a2 = dist(m, xv, mp.add(r[2] + i), sp.add(r[2] + i), a2);
            a3 = dist(m, xv, mp.add(r[3] + i), sp.add(r[3] + i), a3);
        }
        i += L;
    }
    reduce4(a0, a1, a2, a3)
}

/// See [`crate::gaussian::sq_mahalanobis`]; `K` is reduced to what all slices hold.
///
/// # Safety
/// The CPU must support AVX-512F, BW and VL (`X86Level::Avx512`).
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
pub unsafe fn sq_mahalanobis(x: &[f32], means: &[f32], inv_sigma: &[f32], out: &mut [f32]) {
    let d = x.len();
    let k = rows_available(out.len(), d, &[means.len(), inv_sigma.len()]);
    let (xp, mp, sp, op) = (x.as_ptr(), means.as_ptr(), inv_sigma.as_ptr(), out.as_mut_ptr());
    let full = d - d % L;
    let mut c = 0;
    while c + 4 <= k {
        // SAFETY: rows c .. c + 4 <= k are in means and inv_sigma; out has k >= c + 4 values.
        unsafe { _mm_storeu_ps(op.add(c), four(xp, mp, sp, d, c)) };
        c += 4;
    }
    while c < k {
        let (r, mut a) = (c * d, _mm512_setzero_ps());
        let mut i = 0;
        while i < d {
            let m = if i < full { !0 } else { tail_mask(d - i) };
            // SAFETY: the lanes in m cover columns i .. min(i + 16, d) of x and of row c < k.
            a = unsafe { dist(m, load(m, xp.add(i)), mp.add(r + i), sp.add(r + i), a) };
            i += L;
        }
        // The same reduction tree as the groups of four, so a row's distance does not depend
        // on where it falls in K (and the batched kernel gives the same bits).
        out[c] = _mm_cvtss_f32(reduce4(a, a, a, a));
        c += 1;
    }
}

/// Descriptors per block of [`sq_mahalanobis_batch`]: 8 accumulators in flight, and each
/// component row read once per 8 descriptors.
const BLOCK: usize = 8;

/// Distances of `B` descriptors (rows of `xs` from `xp`, `d` apart) to component row `row`,
/// over the first `cols <= d` columns.
///
/// # Safety
/// AVX-512F, BW and VL (`X86Level::Avx512`); `B` rows of `d` values from `xp`, and `d` values of `means` and `inv_sigma` at
/// `row`, are readable.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
unsafe fn block<const B: usize>(
    xp: *const f32,
    mp: *const f32,
    sp: *const f32,
    d: usize,
    cols: usize,
    row: usize,
) -> [__m512; B] {
    let full = cols - cols % L;
    let mut acc = [_mm512_setzero_ps(); B];
    let mut i = 0;
    while i < cols {
        let m = if i < full { !0 } else { tail_mask(cols - i) };
        // SAFETY: the lanes in m cover columns i .. min(i + 16, d) of the component row and of
        // each of the B descriptors (caller).
        unsafe {
            let (mu, s) = (load(m, mp.add(row + i)), load(m, sp.add(row + i)));
            for (b, a) in acc.iter_mut().enumerate() {
                let t = _mm512_mul_ps(_mm512_sub_ps(load(m, xp.add(b * d + i)), mu), s);
                *a = _mm512_fmadd_ps(t, t, *a);
            }
        }
        i += L;
    }
    acc
}

/// Writes the sums of `acc` (B <= 8) for component `c` into `out[b * k + c]`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
fn scatter<const B: usize>(acc: &[__m512; B], out: &mut [f32], k: usize, c: usize) {
    let z = _mm512_setzero_ps();
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

/// [`sq_mahalanobis`] for N descriptors at once: `out[n * K + k]` is the distance of row `n`
/// of `xs` ([N, D], D = `d`) to component `k`, with K = `means.len() / d` and N reduced to what
/// `xs` and `out` hold. Each component row is read once per 8 descriptors instead of once per
/// descriptor, which is what bounds the one-descriptor kernel once the model outgrows L1. The
/// results are bit for bit those of [`sq_mahalanobis`] row by row.
///
/// # Safety
/// The CPU must support AVX-512F, BW and VL (`X86Level::Avx512`).
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
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
/// The CPU must support AVX-512F, BW and VL (`X86Level::Avx512`).
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
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
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
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
/// The CPU must support AVX-512F, BW and VL (`X86Level::Avx512`).
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
pub unsafe fn softmax(v: &mut [f32]) -> f32 {
    let n = v.len();
    let p = v.as_mut_ptr();
    let full = n - n % L;
    let mask = |i: usize| if i < full { !0 } else { tail_mask(n - i) };
    let neg_inf = _mm512_set1_ps(f32::NEG_INFINITY);
    let (mut vmax, mut nan) = (neg_inf, 0);
    let mut i = 0;
    while i < n {
        let m = mask(i);
        // SAFETY: the lanes in m are inside v. Lanes past the end read as -inf, neutral for
        // the maximum.
        let a = _mm512_mask_mov_ps(neg_inf, m, unsafe { load(m, p.add(i)) });
        vmax = _mm512_max_ps(vmax, a);
        // max_ps drops NaNs, so they are looked for separately.
        nan |= _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(a, a);
        i += L;
    }
    if nan != 0 {
        return f32::NAN;
    }
    let max = _mm512_reduce_max_ps(vmax);
    if !max.is_finite() {
        return max;
    }
    let m = _mm512_set1_ps(max);
    let (mut sum0, mut sum1) = (_mm512_setzero_ps(), _mm512_setzero_ps());
    let mut i = 0;
    while i < n {
        let k = mask(i);
        // SAFETY: the lanes in k are inside v. Lanes past the end are zeroed: they must not
        // add to the sum.
        let x = _mm512_sub_ps(unsafe { load(k, p.add(i)) }, m);
        // A chunk whose every argument is below EXP_MIN is exactly 0 (as exp16 gives it): with
        // sharply peaked posteriors most chunks are, and their exp is skipped.
        let flushed = (_mm512_cmp_ps_mask::<_CMP_LT_OQ>(x, _mm512_set1_ps(EXP_MIN)) & k) == k;
        let e = if flushed { _mm512_setzero_ps() } else { _mm512_maskz_mov_ps(k, exp16(x)) };
        // SAFETY: as the load.
        unsafe { store(k, p.add(i), e) };
        // Two sums so that the adds of neighbouring chunks overlap.
        if (i / L).is_multiple_of(2) {
            sum0 = _mm512_add_ps(sum0, e);
        } else {
            sum1 = _mm512_add_ps(sum1, e);
        }
        i += L;
    }
    // sum >= 1: the maximum contributes exp(0) = 1.
    let sum = _mm512_reduce_add_ps(_mm512_add_ps(sum0, sum1));
    let inv = _mm512_set1_ps(1.0 / sum);
    // A sum of exactly 1 (one component takes everything) scales by 1: nothing to do.
    let mut i = if sum == 1.0 { n } else { 0 };
    while i < n {
        let m = mask(i);
        // SAFETY: the lanes in m are inside v.
        unsafe { store(m, p.add(i), _mm512_mul_ps(load(m, p.add(i)), inv)) };
        i += L;
    }
    max + libm::logf(sum)
}

/// See [`crate::gaussian::accumulate`]; `K` is reduced to what all slices hold.
///
/// # Safety
/// The CPU must support AVX-512F, BW and VL (`X86Level::Avx512`).
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
pub unsafe fn accumulate(x: &[f32], means: &[f32], inv_sigma: &[f32], q: &[f32], s1: &mut [f32], s2: &mut [f32]) {
    let d = x.len();
    let k = rows_available(q.len(), d, &[means.len(), inv_sigma.len(), s1.len(), s2.len()]);
    let (xp, mp, sp) = (x.as_ptr(), means.as_ptr(), inv_sigma.as_ptr());
    let (p1, p2) = (s1.as_mut_ptr(), s2.as_mut_ptr());
    let full = d - d % L;
    let one = _mm512_set1_ps(1.0);
    for_nonzero(&q[..k], |c, qc| {
        let qv = _mm512_set1_ps(qc);
        let row = c * d;
        let mut i = 0;
        while i < d {
            let m = if i < full { !0 } else { tail_mask(d - i) };
            // SAFETY: the lanes in m cover columns i .. min(i + 16, d) of x and of row c < k,
            // which means, inv_sigma, s1 and s2 all hold.
            unsafe {
                let t = _mm512_mul_ps(
                    _mm512_sub_ps(load(m, xp.add(i)), load(m, mp.add(row + i))),
                    load(m, sp.add(row + i)),
                );
                let a1 = _mm512_fmadd_ps(qv, t, load(m, p1.add(row + i)));
                let a2 = _mm512_fmadd_ps(qv, _mm512_fmsub_ps(t, t, one), load(m, p2.add(row + i)));
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
/// The lanes in `m` from `s` and from `c` are readable and writable.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
unsafe fn kahan(m: __mmask16, s: *mut f32, c: *mut f32, v: __m512) {
    // SAFETY: forwarded from the caller.
    let (sv, cv) = unsafe { (load(m, s), load(m, c)) };
    let y = _mm512_sub_ps(v, cv);
    let t = _mm512_add_ps(sv, y);
    // SAFETY: as above.
    unsafe {
        store(m, c, _mm512_sub_ps(_mm512_sub_ps(t, sv), y));
        store(m, s, t);
    }
}

/// See [`crate::gaussian::accumulate_compensated`]; `K` is reduced to what all slices hold.
/// No FMA here: the results are those of the scalar reference, bit for bit.
///
/// # Safety
/// The CPU must support AVX-512F, BW and VL (`X86Level::Avx512`).
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
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
    let full = d - d % L;
    let one = _mm512_set1_ps(1.0);
    for_nonzero(&q[..k], |c, qc| {
        let (qv, row) = (_mm512_set1_ps(qc), c * d);
        let mut i = 0;
        while i < d {
            let m = if i < full { !0 } else { tail_mask(d - i) };
            let o = row + i;
            // SAFETY: the lanes in m cover columns i .. min(i + 16, d) of x and of row c < k,
            // which means, inv_sigma, s1, c1, s2 and c2 all hold.
            unsafe {
                let t = _mm512_mul_ps(_mm512_sub_ps(load(m, xp.add(i)), load(m, mp.add(o))), load(m, sp.add(o)));
                kahan(m, p1.add(o), pc1.add(o), _mm512_mul_ps(qv, t));
                kahan(m, p2.add(o), pc2.add(o), _mm512_mul_ps(qv, _mm512_sub_ps(_mm512_mul_ps(t, t), one)));
            }
            i += L;
        }
    });
}
