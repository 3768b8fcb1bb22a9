//! simd128 paths (4 f32 lanes, no FMA): f32 distances and panel scores, argmin, and int8
//! distances and dot products by sign extension to i16 and `i32x4.dot_i16x8_s` (pairwise
//! products summed into i32 lanes, the `pmaddwd` of WebAssembly).
//!
//! `unsafe` here is about simd128 (a build-time choice: the dispatch in `vq/mod.rs` calls these
//! only when the build enables it) and the slice-length preconditions stated per function.

use crate::vq::{scalar, PANEL};
use core::arch::wasm32::*;

/// Loads 16 bytes from `p` (simd128 loads need no alignment).
///
/// # Safety
/// 16 bytes at `p` are readable.
#[inline(always)]
unsafe fn load<T>(p: *const T) -> v128 {
    // SAFETY: forwarded from the caller.
    unsafe { v128_load(p as *const v128) }
}

/// The sum of the 4 f32 lanes.
#[inline]
#[target_feature(enable = "simd128")]
fn hsum(a: v128) -> f32 {
    let s = f32x4_add(a, i32x4_shuffle::<2, 3, 0, 1>(a, a));
    f32x4_extract_lane::<0>(s) + f32x4_extract_lane::<1>(s)
}

/// The wrapping sum of the 4 i32 lanes.
#[inline]
#[target_feature(enable = "simd128")]
fn hsum_i32(a: v128) -> i32 {
    let s = i32x4_add(a, i32x4_shuffle::<2, 3, 0, 1>(a, a));
    i32x4_extract_lane::<0>(s).wrapping_add(i32x4_extract_lane::<1>(s))
}

/// See [`crate::vq::sq_distances`].
///
/// # Safety
/// simd128; `codebook.len() >= out.len() * x.len()`.
#[target_feature(enable = "simd128")]
pub unsafe fn sq_distances(x: &[f32], codebook: &[f32], out: &mut [f32]) {
    let d = x.len();
    let xp = x.as_ptr();
    for (j, o) in out.iter_mut().enumerate() {
        let c = &codebook[j * d..(j + 1) * d];
        let (mut a0, mut a1) = (f32x4_splat(0.0), f32x4_splat(0.0));
        let mut i = 0;
        // SAFETY: the loads read x[i..i+8] / c[i..i+8] (or +4) with the end <= d.
        unsafe {
            while i + 8 <= d {
                let t0 = f32x4_sub(load(xp.add(i)), load(c.as_ptr().add(i)));
                let t1 = f32x4_sub(load(xp.add(i + 4)), load(c.as_ptr().add(i + 4)));
                a0 = f32x4_add(a0, f32x4_mul(t0, t0));
                a1 = f32x4_add(a1, f32x4_mul(t1, t1));
                i += 8;
            }
            if i + 4 <= d {
                let t0 = f32x4_sub(load(xp.add(i)), load(c.as_ptr().add(i)));
                a0 = f32x4_add(a0, f32x4_mul(t0, t0));
                i += 4;
            }
        }
        let mut s = hsum(f32x4_add(a0, a1));
        for k in i..d {
            let t = x[k] - c[k];
            s += t * t;
        }
        *o = s;
    }
}

/// See [`crate::vq::scores`] (without `row_min`, which the dispatch computes). Each score is
/// the scalar reference's bit for bit: the same products summed over `d` in the same order.
///
/// # Safety
/// simd128; `d > 0`, `half_norms.len()` is a multiple of [`PANEL`],
/// `panels.len() >= half_norms.len() * d` and `out.len() >= (queries.len() / d) * half_norms.len()`.
#[target_feature(enable = "simd128")]
pub unsafe fn scores(queries: &[f32], d: usize, panels: &[f32], half_norms: &[f32], out: &mut [f32]) {
    let mp = half_norms.len();
    let np = mp / PANEL;
    let n = queries.len() / d;
    let (pp, hp) = (panels.as_ptr(), half_norms.as_ptr());
    let mut q = 0;
    // SAFETY: query rows q..q+Q (q + Q <= n) and out rows q..q+Q exist; panel p < np holds
    // 16 * d values and 16 norms, columns inside mp.
    unsafe {
        while q + 4 <= n {
            let (x, o) = (queries.as_ptr().add(q * d), out.as_mut_ptr().add(q * mp));
            for p in 0..np {
                tile::<4>(x, d, pp.add(p * PANEL * d), hp.add(p * PANEL), o.add(p * PANEL), mp);
            }
            q += 4;
        }
        while q < n {
            let (x, o) = (queries.as_ptr().add(q * d), out.as_mut_ptr().add(q * mp));
            for p in 0..np {
                tile::<1>(x, d, pp.add(p * PANEL * d), hp.add(p * PANEL), o.add(p * PANEL), mp);
            }
            q += 1;
        }
    }
}

/// The register tile: `Q` queries times one panel (four vectors): `4 Q` accumulators.
///
/// # Safety
/// simd128; `x` has `Q * d` values, `panel` `16 * d`, `hn` 16, and `out` `Q` rows (stride `mp`)
/// of 16 writable values.
#[inline]
#[target_feature(enable = "simd128")]
unsafe fn tile<const Q: usize>(x: *const f32, d: usize, panel: *const f32, hn: *const f32, out: *mut f32, mp: usize) {
    let mut acc = [[f32x4_splat(0.0); 4]; Q];
    // SAFETY: every offset is within the extents in the precondition.
    unsafe {
        for k in 0..d {
            let base = panel.add(k * PANEL);
            let c = [load(base), load(base.add(4)), load(base.add(8)), load(base.add(12))];
            for (q, row) in acc.iter_mut().enumerate() {
                let xv = f32x4_splat(*x.add(q * d + k));
                for l in 0..4 {
                    row[l] = f32x4_add(row[l], f32x4_mul(xv, c[l]));
                }
            }
        }
        for l in 0..4 {
            let h = load(hn.add(4 * l));
            for (q, row) in acc.iter().enumerate() {
                v128_store(out.add(q * mp + 4 * l) as *mut v128, f32x4_sub(h, row[l]));
            }
        }
    }
}

/// See [`crate::vq::argmin`].
///
/// # Safety
/// simd128.
#[target_feature(enable = "simd128")]
pub unsafe fn argmin(values: &[f32]) -> Option<(usize, f32)> {
    let n = values.len();
    if n > u32::MAX as usize {
        return scalar::argmin(values);
    }
    let mut best = f32x4_splat(f32::INFINITY);
    let mut bidx = u32x4_splat(u32::MAX);
    let mut idx = u32x4(0, 1, 2, 3);
    let step = u32x4_splat(4);
    let mut i = 0;
    while i + 4 <= n {
        // SAFETY: reads values[i..i+4], i + 4 <= n.
        let v = unsafe { load(values.as_ptr().add(i)) };
        // NaN compares false: never taken, as the reference skips it.
        let m = f32x4_lt(v, best);
        best = v128_bitselect(v, best, m);
        bidx = v128_bitselect(idx, bidx, m);
        idx = u32x4_add(idx, step);
        i += 4;
    }
    let bv = [
        f32x4_extract_lane::<0>(best),
        f32x4_extract_lane::<1>(best),
        f32x4_extract_lane::<2>(best),
        f32x4_extract_lane::<3>(best),
    ];
    let bi = [
        u32x4_extract_lane::<0>(bidx),
        u32x4_extract_lane::<1>(bidx),
        u32x4_extract_lane::<2>(bidx),
        u32x4_extract_lane::<3>(bidx),
    ];
    let mut res: Option<(usize, f32)> = None;
    let lanes = bv.iter().zip(&bi).map(|(&v, &k)| (k as usize, v));
    let tail = values[i..].iter().enumerate().map(|(k, &v)| (i + k, v));
    for (k, v) in lanes.chain(tail) {
        if v < f32::INFINITY && res.is_none_or(|(bk, b)| v < b || (v == b && k < bk)) {
            res = Some((k, v));
        }
    }
    match res {
        Some(r) => Some(r),
        // Only +inf and NaN values: the reference decides (first +inf, or None).
        None => scalar::argmin(values),
    }
}

/// See [`crate::vq::i8_sq_distances`]: differences widened to i16 (|x - c| <= 255), squared and
/// pair-summed into i32 lanes by `i32x4.dot_i16x8_s` (at most 2 * 255^2 per lane and step),
/// accumulated wrapping.
///
/// # Safety
/// simd128; `codebook.len() >= out.len() * x.len()`.
#[target_feature(enable = "simd128")]
pub unsafe fn i8_sq_distances(x: &[i8], codebook: &[i8], out: &mut [u32]) {
    let d = x.len();
    for (j, o) in out.iter_mut().enumerate() {
        let c = &codebook[j * d..(j + 1) * d];
        let mut acc = i32x4_splat(0);
        let mut i = 0;
        while i + 16 <= d {
            // SAFETY: reads x[i..i+16] and c[i..i+16], i + 16 <= d.
            let (xv, cv) = unsafe { (load(x.as_ptr().add(i)), load(c.as_ptr().add(i))) };
            let lo = i16x8_sub(i16x8_extend_low_i8x16(xv), i16x8_extend_low_i8x16(cv));
            let hi = i16x8_sub(i16x8_extend_high_i8x16(xv), i16x8_extend_high_i8x16(cv));
            acc = i32x4_add(acc, i32x4_dot_i16x8(lo, lo));
            acc = i32x4_add(acc, i32x4_dot_i16x8(hi, hi));
            i += 16;
        }
        let mut s = hsum_i32(acc) as u32;
        for k in i..d {
            let t = x[k] as i32 - c[k] as i32;
            s = s.wrapping_add((t * t) as u32);
        }
        *o = s;
    }
}

/// `sum a[j] * b[j]` over the first `n` bytes by 16 (`n` rounded down), wrapping.
///
/// # Safety
/// simd128; `n` bytes readable at `a` and `b`.
#[inline]
#[target_feature(enable = "simd128")]
pub(crate) unsafe fn dot16(a: *const i8, b: *const i8, n: usize) -> i32 {
    let mut acc = i32x4_splat(0);
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 <= n.
        let (av, bv) = unsafe { (load(a.add(i)), load(b.add(i))) };
        // |a b| <= 2^14, a pair <= 2^15: exact in i32.
        acc = i32x4_add(acc, i32x4_dot_i16x8(i16x8_extend_low_i8x16(av), i16x8_extend_low_i8x16(bv)));
        acc = i32x4_add(acc, i32x4_dot_i16x8(i16x8_extend_high_i8x16(av), i16x8_extend_high_i8x16(bv)));
        i += 16;
    }
    hsum_i32(acc)
}

/// See [`crate::vq::i8_dots`].
///
/// # Safety
/// simd128; `codebook.len() >= out.len() * x.len()`.
#[target_feature(enable = "simd128")]
pub unsafe fn i8_dots(x: &[i8], codebook: &[i8], out: &mut [i32]) {
    let d = x.len();
    let body = d / 16 * 16;
    for (j, o) in out.iter_mut().enumerate() {
        let c = &codebook[j * d..(j + 1) * d];
        // SAFETY: x and c hold d >= body bytes.
        let mut s = unsafe { dot16(x.as_ptr(), c.as_ptr(), body) };
        for k in body..d {
            s = s.wrapping_add(x[k] as i32 * c[k] as i32);
        }
        *o = s;
    }
}
