//! NEON paths (4 f32 lanes): f32 distances and scores, argmin, and int8 distances and dot
//! products by widening multiplies (`smull`/`smlal`/`sadalp`; SDOT is unstable in Rust).
//!
//! NEON is part of every aarch64 target, so `unsafe` here is only about the slice-length
//! preconditions stated per function (the dispatch in `vq/mod.rs` establishes them).

use crate::vq::{scalar, PANEL};
use core::arch::aarch64::*;

/// See [`crate::vq::sq_distances`].
///
/// # Safety
/// `codebook.len() >= out.len() * x.len()`.
#[target_feature(enable = "neon")]
pub unsafe fn sq_distances(x: &[f32], codebook: &[f32], out: &mut [f32]) {
    let d = x.len();
    let xp = x.as_ptr();
    for (j, o) in out.iter_mut().enumerate() {
        let c = &codebook[j * d..(j + 1) * d];
        let (mut a0, mut a1) = (vdupq_n_f32(0.0), vdupq_n_f32(0.0));
        let mut i = 0;
        // SAFETY: the loads read x[i..i+8] / c[i..i+8] (or +4) with the end <= d.
        unsafe {
            while i + 8 <= d {
                let t0 = vsubq_f32(vld1q_f32(xp.add(i)), vld1q_f32(c.as_ptr().add(i)));
                let t1 = vsubq_f32(vld1q_f32(xp.add(i + 4)), vld1q_f32(c.as_ptr().add(i + 4)));
                a0 = vfmaq_f32(a0, t0, t0);
                a1 = vfmaq_f32(a1, t1, t1);
                i += 8;
            }
            if i + 4 <= d {
                let t0 = vsubq_f32(vld1q_f32(xp.add(i)), vld1q_f32(c.as_ptr().add(i)));
                a0 = vfmaq_f32(a0, t0, t0);
                i += 4;
            }
        }
        let mut s = vaddvq_f32(vaddq_f32(a0, a1));
        for k in i..d {
            let t = x[k] - c[k];
            s += t * t;
        }
        *o = s;
    }
}

/// See [`crate::vq::scores`].
///
/// # Safety
/// `d > 0`, `half_norms.len()` is a multiple of [`PANEL`], `panels.len() >= half_norms.len() * d`,
/// and `out.len() >= (queries.len() / d) * half_norms.len()`.
#[target_feature(enable = "neon")]
pub unsafe fn scores(queries: &[f32], d: usize, panels: &[f32], half_norms: &[f32], out: &mut [f32]) {
    let mp = half_norms.len();
    let np = mp / PANEL;
    let n = queries.len() / d;
    let (pp, hp) = (panels.as_ptr(), half_norms.as_ptr());
    let mut q = 0;
    // SAFETY: query rows q..q+Q (q + Q <= n) and out rows q..q+Q exist; panels p..p+P
    // (p + P <= np) hold P * 16 * d values and P * 16 norms, columns inside mp.
    unsafe {
        while q + 4 <= n {
            let (x, o) = (queries.as_ptr().add(q * d), out.as_mut_ptr().add(q * mp));
            for p in 0..np {
                tile::<4, 1>(x, d, pp.add(p * PANEL * d), hp.add(p * PANEL), o.add(p * PANEL), mp);
            }
            q += 4;
        }
        while q < n {
            let (x, o) = (queries.as_ptr().add(q * d), out.as_mut_ptr().add(q * mp));
            let mut p = 0;
            while p + 2 <= np {
                tile::<1, 2>(x, d, pp.add(p * PANEL * d), hp.add(p * PANEL), o.add(p * PANEL), mp);
                p += 2;
            }
            while p < np {
                tile::<1, 1>(x, d, pp.add(p * PANEL * d), hp.add(p * PANEL), o.add(p * PANEL), mp);
                p += 1;
            }
            q += 1;
        }
    }
}

/// The register tile: `Q` queries times `P` panels (four q-registers each): 16 accumulators
/// at 4 x 1.
///
/// # Safety
/// `x` has `Q * d` values, `panel` `P * 16 * d`, `hn` `P * 16`, and `out` `Q` rows (stride `mp`)
/// of `P * 16` writable values.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn tile<const Q: usize, const P: usize>(
    x: *const f32,
    d: usize,
    panel: *const f32,
    hn: *const f32,
    out: *mut f32,
    mp: usize,
) {
    let mut acc = [[[vdupq_n_f32(0.0); 4]; P]; Q];
    // SAFETY: every offset is within the extents in the precondition.
    unsafe {
        for k in 0..d {
            let mut c = [[vdupq_n_f32(0.0); 4]; P];
            for (p, cp) in c.iter_mut().enumerate() {
                let base = panel.add(p * PANEL * d + k * PANEL);
                for (l, v) in cp.iter_mut().enumerate() {
                    *v = vld1q_f32(base.add(4 * l));
                }
            }
            for (q, row) in acc.iter_mut().enumerate() {
                let xv = *x.add(q * d + k);
                for (a, cp) in row.iter_mut().zip(&c) {
                    for l in 0..4 {
                        a[l] = vfmaq_n_f32(a[l], cp[l], xv);
                    }
                }
            }
        }
        for p in 0..P {
            for l in 0..4 {
                let h = vld1q_f32(hn.add(p * PANEL + 4 * l));
                for (q, row) in acc.iter().enumerate() {
                    vst1q_f32(out.add(q * mp + p * PANEL + 4 * l), vsubq_f32(h, row[p][l]));
                }
            }
        }
    }
}

/// See [`crate::vq::argmin`].
///
/// # Safety
/// None beyond NEON (always present).
#[target_feature(enable = "neon")]
pub unsafe fn argmin(values: &[f32]) -> Option<(usize, f32)> {
    let n = values.len();
    if n > u32::MAX as usize {
        return scalar::argmin(values);
    }
    let mut best = vdupq_n_f32(f32::INFINITY);
    let mut bidx = vdupq_n_u32(u32::MAX);
    let lane = [0u32, 1, 2, 3];
    // SAFETY: `lane` holds 4 values.
    let mut idx = unsafe { vld1q_u32(lane.as_ptr()) };
    let step = vdupq_n_u32(4);
    let mut i = 0;
    while i + 4 <= n {
        // SAFETY: reads values[i..i+4], i + 4 <= n.
        let v = unsafe { vld1q_f32(values.as_ptr().add(i)) };
        let m = vcltq_f32(v, best);
        best = vbslq_f32(m, v, best);
        bidx = vbslq_u32(m, idx, bidx);
        idx = vaddq_u32(idx, step);
        i += 4;
    }
    let (mut bv, mut bi) = ([0f32; 4], [0u32; 4]);
    // SAFETY: both arrays hold 4 lanes.
    unsafe {
        vst1q_f32(bv.as_mut_ptr(), best);
        vst1q_u32(bi.as_mut_ptr(), bidx);
    }
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
        None => scalar::argmin(values),
    }
}

/// See [`crate::vq::i8_sq_distances`]: `ssubl` widens differences to 16 bits, `smlal` squares
/// and accumulates into wrapping 32-bit lanes.
///
/// # Safety
/// `codebook.len() >= out.len() * x.len()`.
#[target_feature(enable = "neon")]
pub unsafe fn i8_sq_distances(x: &[i8], codebook: &[i8], out: &mut [u32]) {
    let d = x.len();
    for (j, o) in out.iter_mut().enumerate() {
        let c = &codebook[j * d..(j + 1) * d];
        let (mut a0, mut a1) = (vdupq_n_s32(0), vdupq_n_s32(0));
        let mut i = 0;
        while i + 16 <= d {
            // SAFETY: reads x[i..i+16] and c[i..i+16], i + 16 <= d.
            let (xv, cv) = unsafe { (vld1q_s8(x.as_ptr().add(i)), vld1q_s8(c.as_ptr().add(i))) };
            let lo = vsubl_s8(vget_low_s8(xv), vget_low_s8(cv));
            let hi = vsubl_high_s8(xv, cv);
            a0 = vmlal_s16(a0, vget_low_s16(lo), vget_low_s16(lo));
            a1 = vmlal_high_s16(a1, lo, lo);
            a0 = vmlal_s16(a0, vget_low_s16(hi), vget_low_s16(hi));
            a1 = vmlal_high_s16(a1, hi, hi);
            i += 16;
        }
        let mut s = vaddvq_s32(vaddq_s32(a0, a1)) as u32;
        for k in i..d {
            let t = x[k] as i32 - c[k] as i32;
            s = s.wrapping_add((t * t) as u32);
        }
        *o = s;
    }
}

/// See [`crate::vq::i8_dots`]: `smull` gives 16-bit products (|128 * 128| fits), `sadalp`
/// adds them pairwise into 32-bit lanes.
///
/// # Safety
/// `codebook.len() >= out.len() * x.len()`.
#[target_feature(enable = "neon")]
pub unsafe fn i8_dots(x: &[i8], codebook: &[i8], out: &mut [i32]) {
    let d = x.len();
    for (j, o) in out.iter_mut().enumerate() {
        let c = &codebook[j * d..(j + 1) * d];
        let (mut a0, mut a1) = (vdupq_n_s32(0), vdupq_n_s32(0));
        let mut i = 0;
        while i + 16 <= d {
            // SAFETY: reads x[i..i+16] and c[i..i+16], i + 16 <= d.
            let (xv, cv) = unsafe { (vld1q_s8(x.as_ptr().add(i)), vld1q_s8(c.as_ptr().add(i))) };
            a0 = vpadalq_s16(a0, vmull_s8(vget_low_s8(xv), vget_low_s8(cv)));
            a1 = vpadalq_s16(a1, vmull_high_s8(xv, cv));
            i += 16;
        }
        let mut s = vaddvq_s32(vaddq_s32(a0, a1));
        for k in i..d {
            s = s.wrapping_add(x[k] as i32 * c[k] as i32);
        }
        *o = s;
    }
}
