//! AVX-512 paths: f32 with AVX-512F (16 lanes, masked tails), int8 with AVX-512BW/VL/VNNI
//! (`vpdpwssd` on 16-bit differences for distances, `vpdpbusd` for dot products).
//!
//! Every function is `unsafe` only because it needs the CPU features named in its
//! `#[target_feature]`; the slice-length preconditions are stated per function (the dispatch in
//! `vq/mod.rs` establishes them) and every pointer offset stays inside those lengths.

use crate::vq::{scalar, PANEL};
use core::arch::x86_64::*;

/// The mask of the first `n < 16` lanes.
#[inline(always)]
fn tail16(n: usize) -> __mmask16 {
    ((1u32 << n) - 1) as __mmask16
}

/// See [`crate::vq::sq_distances`].
///
/// # Safety
/// The CPU must support AVX-512F, BW and VL (`X86Level::Avx512`), and `codebook.len() >= out.len() * x.len()`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
pub unsafe fn sq_distances(x: &[f32], codebook: &[f32], out: &mut [f32]) {
    let d = x.len();
    let xp = x.as_ptr();
    let mask = tail16(d % 16);
    for (j, o) in out.iter_mut().enumerate() {
        // SAFETY: row j of d values is inside `codebook` (precondition); every load below reads
        // x[i..i+16] and c[i..i+16] with i + 16 <= d, or a masked tail that touches only i..d.
        unsafe {
            let c = codebook.as_ptr().add(j * d);
            let (mut a0, mut a1) = (_mm512_setzero_ps(), _mm512_setzero_ps());
            let mut i = 0;
            while i + 32 <= d {
                let t0 = _mm512_sub_ps(_mm512_loadu_ps(xp.add(i)), _mm512_loadu_ps(c.add(i)));
                let t1 = _mm512_sub_ps(_mm512_loadu_ps(xp.add(i + 16)), _mm512_loadu_ps(c.add(i + 16)));
                a0 = _mm512_fmadd_ps(t0, t0, a0);
                a1 = _mm512_fmadd_ps(t1, t1, a1);
                i += 32;
            }
            if i + 16 <= d {
                let t0 = _mm512_sub_ps(_mm512_loadu_ps(xp.add(i)), _mm512_loadu_ps(c.add(i)));
                a0 = _mm512_fmadd_ps(t0, t0, a0);
                i += 16;
            }
            if i < d {
                let t = _mm512_sub_ps(_mm512_maskz_loadu_ps(mask, xp.add(i)), _mm512_maskz_loadu_ps(mask, c.add(i)));
                a1 = _mm512_fmadd_ps(t, t, a1);
            }
            *o = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
        }
    }
}

/// See [`crate::vq::scores`]; the row minima are taken in the tile epilogue, in registers.
///
/// # Safety
/// The CPU must support AVX-512F, BW and VL (`X86Level::Avx512`); `d > 0`, `half_norms.len()` is a multiple of [`PANEL`],
/// `panels.len() >= half_norms.len() * d`, `out.len() >= (queries.len() / d) * half_norms.len()`
/// and `row_min.len() >= queries.len() / d`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
pub unsafe fn scores(
    queries: &[f32],
    d: usize,
    panels: &[f32],
    half_norms: &[f32],
    out: &mut [f32],
    row_min: &mut [f32],
) {
    let mp = half_norms.len();
    let np = mp / PANEL;
    let n = queries.len() / d;
    let (qp, pp, hp, op) = (queries.as_ptr(), panels.as_ptr(), half_norms.as_ptr(), out.as_mut_ptr());
    let mut q0 = 0;
    // Blocks of up to BLOCK queries (whole 6-query tiles): for each group of 4 panels (16 KB at
    // D = 64, so it stays in L1) every tile of the block runs, so the codebook is read from L2
    // once per block instead of once per tile. The minima live in `mins` across groups.
    while q0 + 6 <= n {
        let nb = ((n - q0) / 6 * 6).min(BLOCK);
        let mut mins = [_mm512_set1_ps(f32::INFINITY); BLOCK];
        let mut p = 0;
        while p < np {
            let step = if p + 4 <= np { 4 } else { 1 };
            for t in (0..nb).step_by(6) {
                let q = q0 + t;
                // SAFETY: query rows q..q+6 exist (q + 6 <= q0 + nb <= n); panels p..p+step
                // exist (p + step <= np) with their norms; out rows q..q+6, columns
                // p*16..(p+step)*16 are inside n * mp; mins[t..t+6] is inside BLOCK.
                unsafe {
                    let (x, o) = (qp.add(q * d), op.add(q * mp + p * PANEL));
                    let (c, h, m) = (pp.add(p * PANEL * d), hp.add(p * PANEL), &mut mins[t..t + 6]);
                    if step == 4 {
                        tile::<6, 4>(x, d, c, h, o, mp, m);
                    } else {
                        tile::<6, 1>(x, d, c, h, o, mp, m);
                    }
                }
            }
            p += step;
        }
        for (r, m) in row_min[q0..q0 + nb].iter_mut().zip(&mins) {
            *r = _mm512_reduce_min_ps(*m);
        }
        q0 += nb;
    }
    for (q, r) in row_min.iter_mut().enumerate().take(n).skip(q0) {
        // SAFETY: query row q and out row q exist (q < n); the panels and norms are whole.
        *r = unsafe { single(qp.add(q * d), d, pp, hp, op.add(q * mp), np) };
    }
}

/// Queries scored together per codebook pass in [`scores`] (a multiple of 6).
const BLOCK: usize = 48;

/// One query against `np` panels, panel after panel (sequential memory, which the prefetcher
/// follows: single-query latency is bound by reading the codebook), with eight partial sums
/// over the dimensions (`k mod 8`) to keep eight FMA chains in flight. Returns the row minimum.
///
/// # Safety
/// AVX-512F, BW and VL (`X86Level::Avx512`); `x` has `d` values, `panels` `np * 16 * d`, `hn` `np * 16`, `out` `np * 16`
/// writable values.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
unsafe fn single(x: *const f32, d: usize, panels: *const f32, hn: *const f32, out: *mut f32, np: usize) -> f32 {
    let mut mn = _mm512_set1_ps(f32::INFINITY);
    let whole = d / 8 * 8;
    // SAFETY: every offset is within the extents in the precondition (k < d, p < np).
    unsafe {
        for p in 0..np {
            let base = panels.add(p * PANEL * d);
            let mut a = [_mm512_setzero_ps(); 8];
            let mut k = 0;
            while k < whole {
                for (l, al) in a.iter_mut().enumerate() {
                    *al =
                        _mm512_fmadd_ps(_mm512_set1_ps(*x.add(k + l)), _mm512_loadu_ps(base.add((k + l) * PANEL)), *al);
                }
                k += 8;
            }
            for (l, k) in (whole..d).enumerate() {
                a[l] = _mm512_fmadd_ps(_mm512_set1_ps(*x.add(k)), _mm512_loadu_ps(base.add(k * PANEL)), a[l]);
            }
            let s4 = [
                _mm512_add_ps(a[0], a[4]),
                _mm512_add_ps(a[1], a[5]),
                _mm512_add_ps(a[2], a[6]),
                _mm512_add_ps(a[3], a[7]),
            ];
            let dot = _mm512_add_ps(_mm512_add_ps(s4[0], s4[2]), _mm512_add_ps(s4[1], s4[3]));
            let sc = _mm512_sub_ps(_mm512_loadu_ps(hn.add(p * PANEL)), dot);
            _mm512_storeu_ps(out.add(p * PANEL), sc);
            mn = _mm512_min_ps(sc, mn);
        }
    }
    _mm512_reduce_min_ps(mn)
}

/// The register tile: `Q` queries times `P` panels of 16 codewords, `Q * P` accumulators
/// (24 of the 32 zmm registers at 6 x 4), one pass over the `d` dimensions.
///
/// # Safety
/// AVX-512F, BW and VL (`X86Level::Avx512`); `x` has `Q * d` values (query rows of `d`), `panel` has `P * 16 * d`, `hn` has
/// `P * 16`, `out` has `Q` rows (stride `mp`) of `P * 16` writable values, and `mins` at least
/// `Q` vectors. `mins[q]` takes the lane-wise minimum of the new scores (`vminps` keeps the old
/// value where a score is NaN).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
unsafe fn tile<const Q: usize, const P: usize>(
    x: *const f32,
    d: usize,
    panel: *const f32,
    hn: *const f32,
    out: *mut f32,
    mp: usize,
    mins: &mut [__m512],
) {
    let mut acc = [[_mm512_setzero_ps(); P]; Q];
    // SAFETY: every offset is within the extents in the precondition (k < d, p < P, q < Q).
    unsafe {
        for k in 0..d {
            let mut c = [_mm512_setzero_ps(); P];
            for (p, cp) in c.iter_mut().enumerate() {
                *cp = _mm512_loadu_ps(panel.add(p * PANEL * d + k * PANEL));
            }
            for (q, row) in acc.iter_mut().enumerate() {
                let xb = _mm512_set1_ps(*x.add(q * d + k));
                for (a, &cp) in row.iter_mut().zip(&c) {
                    *a = _mm512_fmadd_ps(xb, cp, *a);
                }
            }
        }
        for p in 0..P {
            let h = _mm512_loadu_ps(hn.add(p * PANEL));
            for (q, row) in acc.iter().enumerate() {
                let sc = _mm512_sub_ps(h, row[p]);
                _mm512_storeu_ps(out.add(q * mp + p * PANEL), sc);
                mins[q] = _mm512_min_ps(sc, mins[q]);
            }
        }
    }
}

/// See [`crate::vq::argmin`].
///
/// # Safety
/// The CPU must support AVX-512F, BW and VL (`X86Level::Avx512`).
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
pub unsafe fn argmin(values: &[f32]) -> Option<(usize, f32)> {
    let n = values.len();
    if n > i32::MAX as usize - 32 {
        return scalar::argmin(values);
    }
    let p = values.as_ptr();
    let inf = _mm512_set1_ps(f32::INFINITY);
    let step = _mm512_set1_epi32(32);
    // Two independent (best, index) pairs, on even and odd 16-blocks, for instruction-level
    // parallelism; strict `<` keeps the first index of equal values in each lane.
    let (mut b0, mut b1) = (inf, inf);
    let (mut i0, mut i1) = (_mm512_set1_epi32(i32::MAX), _mm512_set1_epi32(i32::MAX));
    let mut idx0 = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let mut idx1 = _mm512_add_epi32(idx0, _mm512_set1_epi32(16));
    let mut i = 0;
    // SAFETY: loads read values[i..i+32] with i + 32 <= n, then masked tails inside i..n.
    unsafe {
        while i + 32 <= n {
            let v0 = _mm512_loadu_ps(p.add(i));
            let v1 = _mm512_loadu_ps(p.add(i + 16));
            let m0 = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(v0, b0);
            let m1 = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(v1, b1);
            b0 = _mm512_mask_mov_ps(b0, m0, v0);
            b1 = _mm512_mask_mov_ps(b1, m1, v1);
            i0 = _mm512_mask_mov_epi32(i0, m0, idx0);
            i1 = _mm512_mask_mov_epi32(i1, m1, idx1);
            idx0 = _mm512_add_epi32(idx0, step);
            idx1 = _mm512_add_epi32(idx1, step);
            i += 32;
        }
        if i < n {
            let r = n - i;
            let v0 = _mm512_mask_loadu_ps(inf, if r >= 16 { 0xffff } else { tail16(r) }, p.add(i));
            let m0 = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(v0, b0);
            b0 = _mm512_mask_mov_ps(b0, m0, v0);
            i0 = _mm512_mask_mov_epi32(i0, m0, idx0);
            if r > 16 {
                let v1 = _mm512_mask_loadu_ps(inf, tail16(r - 16), p.add(i + 16));
                let m1 = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(v1, b1);
                b1 = _mm512_mask_mov_ps(b1, m1, v1);
                i1 = _mm512_mask_mov_epi32(i1, m1, idx1);
            }
        }
    }
    // Merge lane-wise: take the odd block's entry if smaller, or equal with a lower index.
    let take = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(b1, b0)
        | (_mm512_cmp_ps_mask::<_CMP_EQ_OQ>(b1, b0) & _mm512_cmplt_epi32_mask(i1, i0));
    let b = _mm512_mask_mov_ps(b0, take, b1);
    let ib = _mm512_mask_mov_epi32(i0, take, i1);
    let mn = _mm512_reduce_min_ps(b);
    if mn == f32::INFINITY {
        // All NaN, or the minimum is +inf: rare, and the scalar loop states those rules.
        return scalar::argmin(values);
    }
    let eq = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(b, _mm512_set1_ps(mn));
    let j = _mm512_mask_reduce_min_epi32(eq, ib) as usize;
    // The value at the index, not the reduction's: `min(-0.0, +0.0)` may give either zero, and
    // the scalar reference returns the first one's sign.
    Some((j, values[j]))
}

/// See [`crate::vq::indices_at_most`]. Blocks of 64 values are compared into one 64-bit mask
/// and skipped with one branch when it is empty (the common case: a candidate window holds 1-2
/// of M values), which took the scan from a fifth of a D = 16 search to a small part.
///
/// # Safety
/// The CPU must support AVX-512F, BW and VL (`X86Level::Avx512`).
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
pub unsafe fn indices_at_most(values: &[f32], threshold: f32, out: &mut [u32]) -> usize {
    let n = values.len();
    let p = values.as_ptr();
    let t = _mm512_set1_ps(threshold);
    let mut count = 0;
    let mut emit = |base: usize, hit: u64| emit_bits(out, &mut count, base, hit);
    let mut i = 0;
    while i + 64 <= n {
        // SAFETY: the loads read values[i..i+64], inside the slice (i + 64 <= n).
        let hit = unsafe {
            let m0 = _mm512_cmp_ps_mask::<_CMP_LE_OQ>(_mm512_loadu_ps(p.add(i)), t) as u64;
            let m1 = _mm512_cmp_ps_mask::<_CMP_LE_OQ>(_mm512_loadu_ps(p.add(i + 16)), t) as u64;
            let m2 = _mm512_cmp_ps_mask::<_CMP_LE_OQ>(_mm512_loadu_ps(p.add(i + 32)), t) as u64;
            let m3 = _mm512_cmp_ps_mask::<_CMP_LE_OQ>(_mm512_loadu_ps(p.add(i + 48)), t) as u64;
            m0 | (m1 << 16) | (m2 << 32) | (m3 << 48)
        };
        if hit != 0 {
            emit(i, hit);
        }
        i += 64;
    }
    while i < n {
        let m = if n - i >= 16 { 0xffff } else { tail16(n - i) };
        // SAFETY: the masked load touches only values[i..min(i+16, n)].
        let v = unsafe { _mm512_maskz_loadu_ps(m, p.add(i)) };
        emit(i, (_mm512_cmp_ps_mask::<_CMP_LE_OQ>(v, t) & m) as u64);
        i += 16;
    }
    count
}

/// The candidate scans' output: the indices `base + b` of the set bits `b` of `hit`, ascending,
/// into `out` from `*count` on (as many as fit), and all of them counted in `*count` (a popcount
/// once `out` is full).
#[inline(always)]
fn emit_bits(out: &mut [u32], count: &mut usize, base: usize, mut hit: u64) {
    if *count >= out.len() {
        *count += hit.count_ones() as usize;
        return;
    }
    while hit != 0 {
        if let Some(o) = out.get_mut(*count) {
            *o = (base + hit.trailing_zeros() as usize) as u32;
        }
        *count += 1;
        hit &= hit - 1;
    }
}

/// See [`crate::vq::indices_within`]: two passes of 16 lanes (the upper bounds' minimum, then
/// the lower bounds against the window), each bound rounded as the scalar reference rounds it
/// (no fused multiply-add), so the candidates are the same.
///
/// # Safety
/// The CPU must support AVX-512F, BW and VL (`X86Level::Avx512`); `norms` and `errs` are at
/// least as long as `values`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
pub unsafe fn indices_within(
    values: &[f32],
    norms: &[f32],
    errs: &[f32],
    a: f32,
    b: f32,
    threshold: impl FnOnce(f32) -> f32,
    out: &mut [u32],
) -> usize {
    let n = values.len();
    let (vp, np, ep) = (values.as_ptr(), norms.as_ptr(), errs.as_ptr());
    let (va, vb) = (_mm512_set1_ps(a), _mm512_set1_ps(b));
    // The value and its bound at [i, i + 16), masked to the lanes `m` (below n).
    // SAFETY: masked loads touch only the lanes of `m`, which the callers keep below n.
    let lanes = |i: usize, m: __mmask16| unsafe {
        let e = _mm512_add_ps(
            _mm512_mul_ps(va, _mm512_maskz_loadu_ps(m, np.add(i))),
            _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(m, ep.add(i))),
        );
        (_mm512_maskz_loadu_ps(m, vp.add(i)), e)
    };
    let whole = n / 64 * 64;
    // Four independent minima over blocks of 64 (one would chain every `vminps`); `vminps`
    // keeps the second operand where the first is NaN.
    let inf = _mm512_set1_ps(f32::INFINITY);
    let (mut h0, mut h1, mut h2, mut h3) = (inf, inf, inf, inf);
    let mut i = 0;
    while i < whole {
        let up = |k: usize| {
            let (v, e) = lanes(i + k, 0xffff);
            _mm512_add_ps(v, e)
        };
        (h0, h1, h2, h3) =
            (_mm512_min_ps(up(0), h0), _mm512_min_ps(up(16), h1), _mm512_min_ps(up(32), h2), _mm512_min_ps(up(48), h3));
        i += 64;
    }
    while i < n {
        let m = if n - i >= 16 { 0xffff } else { tail16(n - i) };
        let (v, e) = lanes(i, m);
        h0 = _mm512_mask_min_ps(h0, m, _mm512_add_ps(v, e), h0);
        i += 16;
    }
    let hi = _mm512_min_ps(_mm512_min_ps(h0, h1), _mm512_min_ps(h2, h3));
    let t = _mm512_set1_ps(threshold(_mm512_reduce_min_ps(hi)));
    let low = |i: usize, m: __mmask16| {
        let (v, e) = lanes(i, m);
        _mm512_mask_cmp_ps_mask::<_CMP_LE_OQ>(m, _mm512_sub_ps(v, e), t) as u64
    };
    let mut count = 0;
    let mut emit = |base: usize, hit: u64| emit_bits(out, &mut count, base, hit);
    let mut i = 0;
    while i < whole {
        let hit = low(i, 0xffff) | low(i + 16, 0xffff) << 16 | low(i + 32, 0xffff) << 32 | low(i + 48, 0xffff) << 48;
        if hit != 0 {
            emit(i, hit);
        }
        i += 64;
    }
    while i < n {
        let m = if n - i >= 16 { 0xffff } else { tail16(n - i) };
        emit(i, low(i, m));
        i += 16;
    }
    count
}

/// See [`crate::vq::i8_sq_distances`]: differences widened to i16, squared and summed in pairs
/// by `vpdpwssd` into wrapping i32 lanes (exact as `u32`, see the module notes).
///
/// # Safety
/// The CPU must support AVX-512F, BW and VL (`X86Level::Avx512`), BW, VL and VNNI (`X86Level::Avx512Vnni`); `codebook.len() >= out.len() * x.len()`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
pub unsafe fn i8_sq_distances(x: &[i8], codebook: &[i8], out: &mut [u32]) {
    let d = x.len();
    let xp = x.as_ptr();
    let mask = ((1u64 << (d % 32)) - 1) as __mmask32;
    for (j, o) in out.iter_mut().enumerate() {
        // SAFETY: row j is inside `codebook` (precondition); loads read [i, i+32) with
        // i + 32 <= d, or a masked tail inside [i, d).
        unsafe {
            let c = codebook.as_ptr().add(j * d);
            let (mut a0, mut a1) = (_mm512_setzero_si512(), _mm512_setzero_si512());
            let mut i = 0;
            while i + 64 <= d {
                let t0 = diff16(_mm256_loadu_si256(xp.add(i).cast()), _mm256_loadu_si256(c.add(i).cast()));
                let t1 = diff16(_mm256_loadu_si256(xp.add(i + 32).cast()), _mm256_loadu_si256(c.add(i + 32).cast()));
                a0 = _mm512_dpwssd_epi32(a0, t0, t0);
                a1 = _mm512_dpwssd_epi32(a1, t1, t1);
                i += 64;
            }
            if i + 32 <= d {
                let t = diff16(_mm256_loadu_si256(xp.add(i).cast()), _mm256_loadu_si256(c.add(i).cast()));
                a0 = _mm512_dpwssd_epi32(a0, t, t);
                i += 32;
            }
            if i < d {
                let t = diff16(_mm256_maskz_loadu_epi8(mask, xp.add(i)), _mm256_maskz_loadu_epi8(mask, c.add(i)));
                a1 = _mm512_dpwssd_epi32(a1, t, t);
            }
            *o = _mm512_reduce_add_epi32(_mm512_add_epi32(a0, a1)) as u32;
        }
    }
}

/// 32 int8 differences `a - b` as 16-bit lanes (range [-255, 255]).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
fn diff16(a: __m256i, b: __m256i) -> __m512i {
    _mm512_sub_epi16(_mm512_cvtepi8_epi16(a), _mm512_cvtepi8_epi16(b))
}

/// See [`crate::vq::i8_dots`]. `vpdpbusd` multiplies unsigned by signed bytes, so the query is
/// biased to `x + 128` (a byte XOR) and `128 * sum(c)` (from a second `vpdpbusd` with ones)
/// is subtracted at the end: `(x + 128) . c - 128 sum c = x . c`, in wrapping i32.
///
/// # Safety
/// The CPU must support AVX-512F, BW and VL (`X86Level::Avx512`), BW, VL and VNNI (`X86Level::Avx512Vnni`); `codebook.len() >= out.len() * x.len()`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
pub unsafe fn i8_dots(x: &[i8], codebook: &[i8], out: &mut [i32]) {
    let d = x.len();
    let xp = x.as_ptr();
    let bias = _mm512_set1_epi8(-128);
    let ones = _mm512_set1_epi8(1);
    let mask = if d.is_multiple_of(64) { 0 } else { (1u64 << (d % 64)) - 1 };
    for (j, o) in out.iter_mut().enumerate() {
        // SAFETY: row j is inside `codebook` (precondition); loads read [i, i+64) with
        // i + 64 <= d, or a masked tail inside [i, d) (masked bytes are 0: a zero c byte adds
        // nothing to either sum).
        unsafe {
            let c = codebook.as_ptr().add(j * d);
            let (mut acc, mut sum) = (_mm512_setzero_si512(), _mm512_setzero_si512());
            let mut i = 0;
            while i + 64 <= d {
                let xu = _mm512_xor_si512(_mm512_loadu_si512(xp.add(i).cast()), bias);
                let cv = _mm512_loadu_si512(c.add(i).cast());
                acc = _mm512_dpbusd_epi32(acc, xu, cv);
                sum = _mm512_dpbusd_epi32(sum, ones, cv);
                i += 64;
            }
            if i < d {
                let xu = _mm512_xor_si512(_mm512_maskz_loadu_epi8(mask, xp.add(i)), bias);
                let cv = _mm512_maskz_loadu_epi8(mask, c.add(i));
                acc = _mm512_dpbusd_epi32(acc, xu, cv);
                sum = _mm512_dpbusd_epi32(sum, ones, cv);
            }
            let a = _mm512_reduce_add_epi32(acc);
            let s = _mm512_reduce_add_epi32(sum);
            *o = a.wrapping_sub(s.wrapping_mul(128));
        }
    }
}

/// Query words the int8 screen keeps on the stack per block (16 KB).
const SCREEN_BUF: usize = 4096;

/// See [`crate::vq::screen`]: blocks of queries are quantised into a stack buffer, then scored
/// against every panel group by register tiles of `vpdpbusd` (6 queries x 4 panels of 16
/// codewords = 24 accumulators, 8 panels for a lone query to keep 8 chains in flight).
///
/// # Safety
/// The CPU must support AVX-512F, BW and VL (`X86Level::Avx512`), BW, VL and VNNI (`X86Level::Avx512Vnni`); `0 < d <= SCREEN_MAX_D`; with
/// `mp = half_norms.len()` (a multiple of [`PANEL`]) and `g = screen_words(d)`: `words.len() >=
/// mp * g`, `scales.len() >= mp`, `colsums.len() >= mp`, `out.len() >= n * mp` for
/// `n = queries.len() / d`, and `row_min.len() >= n`, `info.len() >= n`.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
pub unsafe fn screen(
    queries: &[f32],
    d: usize,
    words: &[f32],
    scales: &[f32],
    colsums: &[f32],
    half_norms: &[f32],
    out: &mut [f32],
    row_min: &mut [f32],
    info: &mut [crate::vq::ScreenQuery],
) {
    let g = crate::vq::screen_words(d);
    let mp = half_norms.len();
    let np = mp / PANEL;
    let n = queries.len() / d;
    // Not zeroed (16 KB would cost as much as a small search): `quantize` writes every word of
    // a row before the tiles read it.
    let mut qw = core::mem::MaybeUninit::<[u32; SCREEN_BUF]>::uninit();
    let qw = qw.as_mut_ptr() as *mut u32;
    // Whole 6-query tiles per block where the buffer allows (g <= 256, so at least 12 rows).
    let rows_per = (SCREEN_BUF / g).min(BLOCK) / 6 * 6;
    let cw = words.as_ptr() as *const i32;
    let mut q0 = 0;
    while q0 < n {
        let nb = rows_per.min(n - q0);
        let mut ts = [0f32; BLOCK];
        for r in 0..nb {
            // SAFETY: query q0 + r < n has d values; the buffer has room for nb * g words.
            let inf = unsafe { quantize(queries.as_ptr().add((q0 + r) * d), d, qw.add(r * g), g) };
            ts[r] = inf.scale;
            info[q0 + r] = inf;
        }
        let mut mins = [_mm512_set1_ps(f32::INFINITY); BLOCK];
        let mut p = 0;
        while p < np {
            let step = if nb < 6 && p + 8 <= np {
                8
            } else if p + 4 <= np {
                4
            } else {
                1
            };
            let mut t = 0;
            while t < nb {
                let q = q0 + t;
                let rows = if t + 6 <= nb { 6 } else { 1 };
                // SAFETY: query words of rows t..t+rows are in the buffer; panels p..p+step
                // exist (p + step <= np) with their words, scales, colsums and norms; out rows
                // q..q+rows, columns p*16..(p+step)*16 are inside n * mp; mins and ts hold BLOCK.
                unsafe {
                    let a = Screen {
                        qw: qw.add(t * g),
                        g,
                        words: cw.add(p * g * PANEL),
                        scales: scales.as_ptr().add(p * PANEL),
                        colsums: colsums.as_ptr().add(p * PANEL),
                        hn: half_norms.as_ptr().add(p * PANEL),
                        out: out.as_mut_ptr().add(q * mp + p * PANEL),
                        mp,
                    };
                    let (m, tq) = (&mut mins[t..t + rows], &ts[t..t + rows]);
                    match (rows, step) {
                        (6, 4) => screen_tile::<6, 4>(&a, tq, m),
                        (6, _) => screen_tile::<6, 1>(&a, tq, m),
                        (_, 8) => screen_tile::<1, 8>(&a, tq, m),
                        (_, 4) => screen_tile::<1, 4>(&a, tq, m),
                        _ => screen_tile::<1, 1>(&a, tq, m),
                    }
                }
                t += rows;
            }
            p += step;
        }
        for (r, m) in row_min[q0..q0 + nb].iter_mut().zip(&mins) {
            *r = _mm512_reduce_min_ps(*m);
        }
        q0 += nb;
    }
}

/// Pointers of one screening tile (see [`screen_tile`]).
struct Screen {
    qw: *const u32,
    g: usize,
    words: *const i32,
    scales: *const f32,
    colsums: *const f32,
    hn: *const f32,
    out: *mut f32,
    mp: usize,
}

/// `Q` queries (their words at `qw`, rows of `g`) times `P` panels (words at `words`, panel
/// stride `g * 16`): integer dot products, then the scores and the lane-wise minima.
///
/// # Safety
/// AVX-512F, BW, VL and VNNI (`X86Level::Avx512Vnni`); the pointers cover `Q` query rows, `P` panels of words, `P * 16` scales,
/// colsums and norms, and `Q` output rows (stride `mp`) of `P * 16` values; `t` and `mins` hold
/// `Q` entries.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn screen_tile<const Q: usize, const P: usize>(a: &Screen, t: &[f32], mins: &mut [__m512]) {
    let g = a.g;
    // SAFETY: every offset is within the extents in the precondition (k < g, p < P, q < Q).
    unsafe {
        // (q + 128) . c - 128 sum c = q . c: the accumulators start at -128 sum c (exact in i32,
        // |sum c| <= 127 D is exact in f32; wrapping adds are associative), which saves a
        // subtraction per tile row in the epilogue.
        let mut acc = [[_mm512_setzero_si512(); P]; Q];
        for p in 0..P {
            let bias = _mm512_slli_epi32::<7>(_mm512_cvttps_epi32(_mm512_loadu_ps(a.colsums.add(p * PANEL))));
            let neg = _mm512_sub_epi32(_mm512_setzero_si512(), bias);
            for row in acc.iter_mut() {
                row[p] = neg;
            }
        }
        for k in 0..g {
            let mut c = [_mm512_setzero_si512(); P];
            for (p, cp) in c.iter_mut().enumerate() {
                *cp = _mm512_loadu_si512(a.words.add((p * g + k) * PANEL).cast());
            }
            for (q, row) in acc.iter_mut().enumerate() {
                let xb = _mm512_set1_epi32(*a.qw.add(q * g + k) as i32);
                for (s, &cp) in row.iter_mut().zip(&c) {
                    *s = _mm512_dpbusd_epi32(*s, xb, cp);
                }
            }
        }
        for p in 0..P {
            let h = _mm512_loadu_ps(a.hn.add(p * PANEL));
            let sc = _mm512_loadu_ps(a.scales.add(p * PANEL));
            for (q, row) in acc.iter().enumerate() {
                let dot = _mm512_cvtepi32_ps(row[p]);
                let ts = _mm512_mul_ps(_mm512_set1_ps(t[q]), sc);
                let s = _mm512_fnmadd_ps(ts, dot, h);
                _mm512_storeu_ps(a.out.add(q * a.mp + p * PANEL), s);
                mins[q] = _mm512_min_ps(s, mins[q]);
            }
        }
    }
}

/// Quantises one query of `d` values at `x` into `g` words at `qw` (bytes `qi + 128`, 128 past
/// `d`), as [`scalar::screen_quantize`] (the same integers; the bounds summed in another order).
///
/// # Safety
/// AVX-512F, BW and VL (`X86Level::Avx512`); `x` has `d` readable values, `qw` has `g = ceil(d / 4)` writable words.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
unsafe fn quantize(x: *const f32, d: usize, qw: *mut u32, g: usize) -> crate::vq::ScreenQuery {
    // SAFETY: loads read x[i..i+16] with a mask of the lanes below d; stores write bytes below
    // 4 g of qw.
    unsafe {
        let mut mx = _mm512_setzero_ps();
        let mut i = 0;
        while i < d {
            let m = if i + 16 <= d { 0xffff } else { tail16(d - i) };
            mx = _mm512_max_ps(mx, _mm512_abs_ps(_mm512_maskz_loadu_ps(m, x.add(i))));
            i += 16;
        }
        let (t, inv) = scalar::screen_scale(_mm512_reduce_max_ps(mx));
        let (vinv, td) = (_mm512_set1_ps(inv), _mm512_set1_pd(t as f64));
        let (lo, hi) = (_mm512_set1_ps(-127.5), _mm512_set1_ps(127.5));
        let (qlo, qhi) = (_mm512_set1_epi32(-127), _mm512_set1_epi32(127));
        let bytes = qw as *mut u8;
        // The pad bytes past d (query value 0 -> 128).
        for b in d..4 * g {
            *bytes.add(b) = 128;
        }
        let (mut e0, mut e1, mut n2) = (_mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_si512());
        let mut i = 0;
        while i < d {
            let m = if i + 16 <= d { 0xffff } else { tail16(d - i) };
            let v = _mm512_maskz_loadu_ps(m, x.add(i));
            let s = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(v, vinv), lo), hi);
            let q = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(s), qlo), qhi);
            let qb = _mm512_cvtepi32_epi8(_mm512_add_epi32(q, _mm512_set1_epi32(128)));
            if m == 0xffff {
                // A plain store: the tiles' word loads right after can take their bytes from
                // it (store forwarding), which a masked store does not allow.
                _mm_storeu_si128(bytes.add(i).cast(), qb);
            } else {
                _mm_mask_storeu_epi8(bytes.add(i).cast(), m, qb);
            }
            n2 = _mm512_add_epi32(n2, _mm512_mullo_epi32(q, q));
            // Residuals v - q t, exact in f64 (see scalar::pack_screen).
            let r0 = _mm512_fnmadd_pd(
                _mm512_cvtepi32_pd(_mm512_castsi512_si256(q)),
                td,
                _mm512_cvtps_pd(_mm512_castps512_ps256(v)),
            );
            let qh = _mm512_extracti64x4_epi64::<1>(q);
            let vh = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)));
            let r1 = _mm512_fnmadd_pd(_mm512_cvtepi32_pd(qh), td, _mm512_cvtps_pd(vh));
            e0 = _mm512_fmadd_pd(r0, r0, e0);
            e1 = _mm512_fmadd_pd(r1, r1, e1);
            i += 16;
        }
        let err2 = _mm512_reduce_add_pd(_mm512_add_pd(e0, e1));
        let n2 = _mm512_reduce_add_epi32(n2) as f64;
        crate::vq::ScreenQuery {
            scale: t,
            err: up_sqrt(err2, d),
            norm: up_sqrt(n2, 1) * t as f64 * (1.0 + scalar::EPS50),
        }
    }
}

/// [`scalar::up_sqrt`] with a VEX-encoded `vsqrtsd`: libm's `sqrtsd` is a legacy-SSE
/// instruction, which after 512-bit code costs a state transition (measured: most of the time
/// of a D = 16 query).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
fn up_sqrt(s: f64, d: usize) -> f64 {
    let v = s * (1.0 + (d as f64 + 4.0) * scalar::EPS52);
    _mm_cvtsd_f64(_mm_sqrt_pd(_mm_set_sd(v))) * (1.0 + scalar::EPS50)
}

/// See [`crate::vq::sq_distance_exact`]: the same bits as [`scalar::sq_distance_exact`], whose
/// eight partial sums (`d mod 8`) are exactly the eight f64 lanes here (multiplies and adds
/// rounded separately, no FMA), reduced in its fixed tree.
///
/// # Safety
/// The CPU must support AVX-512F, BW and VL (`X86Level::Avx512`).
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
pub unsafe fn sq_distance_exact(x: &[f32], c: &[f32]) -> f64 {
    let n = x.len().min(c.len());
    let (xp, cp) = (x.as_ptr(), c.as_ptr());
    let mut acc = _mm512_setzero_pd();
    let mut i = 0;
    // SAFETY: loads read [i, i+8) with i + 8 <= n, or a masked tail inside [i, n).
    unsafe {
        while i + 8 <= n {
            let t =
                _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(xp.add(i))), _mm512_cvtps_pd(_mm256_loadu_ps(cp.add(i))));
            acc = _mm512_add_pd(acc, _mm512_mul_pd(t, t));
            i += 8;
        }
        if i < n {
            let m = tail16(n - i);
            let t = _mm512_sub_pd(
                _mm512_cvtps_pd(_mm512_castps512_ps256(_mm512_maskz_loadu_ps(m, xp.add(i)))),
                _mm512_cvtps_pd(_mm512_castps512_ps256(_mm512_maskz_loadu_ps(m, cp.add(i)))),
            );
            // Lanes past the tail add +0.0, which leaves every partial sum's bits unchanged
            // (the sums are >= +0.0).
            acc = _mm512_add_pd(acc, _mm512_mul_pd(t, t));
        }
    }
    // s4[l] = acc[l] + acc[l+4]; then (s4[0] + s4[2]) + (s4[1] + s4[3]).
    let s4 = _mm256_add_pd(_mm512_castpd512_pd256(acc), _mm512_extractf64x4_pd::<1>(acc));
    let s2 = _mm_add_pd(_mm256_castpd256_pd128(s4), _mm256_extractf128_pd::<1>(s4));
    _mm_cvtsd_f64(_mm_add_sd(s2, _mm_unpackhi_pd(s2, s2)))
}

/// See [`crate::vq::screen_nearest`]: one query quantised into a stack buffer, its scores
/// against every panel written to another (uninitialised, fully written before it is read: 8 KB
/// of zeroing would cost a tenth of a D = 64 query), the minimum kept in a register, then the
/// candidate scan. No block arrays: a lone query pays for nothing it does not use.
///
/// # Safety
/// The CPU must support AVX-512F, BW and VL (`X86Level::Avx512`), BW, VL and VNNI (`X86Level::Avx512Vnni`); `0 < query.len() <= SCREEN_MAX_D`; with
/// `mp = half_norms.len()` (a multiple of [`PANEL`], at most [`crate::vq::SCREEN_ONE_MAX_M`]) and
/// `g = screen_words(query.len())`: `words.len() >= mp * g`, `scales.len() >= mp`,
/// `colsums.len() >= mp`; `m <= mp`.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
pub unsafe fn screen_nearest(
    query: &[f32],
    words: &[f32],
    scales: &[f32],
    colsums: &[f32],
    half_norms: &[f32],
    m: usize,
    threshold: impl FnOnce(f32, &crate::vq::ScreenQuery) -> f32,
    cand: &mut [u32],
) -> (usize, crate::vq::ScreenQuery) {
    let d = query.len();
    let g = crate::vq::screen_words(d);
    let mp = half_norms.len();
    let np = mp / PANEL;
    let mut qw = core::mem::MaybeUninit::<[u32; crate::vq::SCREEN_MAX_D / 4]>::uninit();
    let qw = qw.as_mut_ptr() as *mut u32;
    let mut out = core::mem::MaybeUninit::<[f32; crate::vq::SCREEN_ONE_MAX_M]>::uninit();
    let op = out.as_mut_ptr() as *mut f32;
    // SAFETY: the query has d values and the buffer room for g <= SCREEN_MAX_D / 4 words.
    let info = unsafe { quantize(query.as_ptr(), d, qw, g) };
    let ts = [info.scale];
    let mut mins = [_mm512_set1_ps(f32::INFINITY)];
    let cw = words.as_ptr() as *const i32;
    let mut p = 0;
    while p < np {
        let step = if p + 8 <= np {
            8
        } else if p + 4 <= np {
            4
        } else {
            1
        };
        // SAFETY: the query words are written; panels p..p+step exist (p + step <= np) with
        // their words, scales, colsums and norms; out columns p*16..(p+step)*16 are below
        // mp <= SCREEN_ONE_MAX_M.
        unsafe {
            let a = Screen {
                qw,
                g,
                words: cw.add(p * g * PANEL),
                scales: scales.as_ptr().add(p * PANEL),
                colsums: colsums.as_ptr().add(p * PANEL),
                hn: half_norms.as_ptr().add(p * PANEL),
                out: op.add(p * PANEL),
                mp,
            };
            match step {
                8 => screen_tile::<1, 8>(&a, &ts, &mut mins),
                4 => screen_tile::<1, 4>(&a, &ts, &mut mins),
                _ => screen_tile::<1, 1>(&a, &ts, &mut mins),
            }
        }
        p += step;
    }
    let t = threshold(_mm512_reduce_min_ps(mins[0]), &info);
    // SAFETY: the panel loop wrote all np * 16 = mp >= m values.
    let values = unsafe { core::slice::from_raw_parts(op as *const f32, m) };
    // SAFETY: the CPU has AVX-512F, BW and VL (`X86Level::Avx512`).
    (unsafe { indices_at_most(values, t, cand) }, info)
}
