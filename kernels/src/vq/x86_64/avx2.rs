//! AVX2+FMA paths (8 lanes): f32 distances and scores, argmin, and int8 distances and dot
//! products by sign extension to 16 bits and `vpmaddwd` (the x86-64-v3 level, no VNNI).
//!
//! Every function is `unsafe` only because it needs the CPU features named in its
//! `#[target_feature]`; slice-length preconditions are stated per function (the dispatch in
//! `vq/mod.rs` establishes them) and every pointer offset stays inside those lengths.

use crate::vq::{scalar, PANEL};
use core::arch::x86_64::*;

/// The sum of the 8 lanes.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn hsum_ps(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s));
    _mm_cvtss_f32(s)
}

/// The wrapping sum of the 8 i32 lanes.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn hsum_epi32(v: __m256i) -> i32 {
    let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    _mm_cvtsi128_si32(s)
}

/// See [`crate::vq::sq_distances`].
///
/// # Safety
/// The CPU must support AVX2 and FMA, and `codebook.len() >= out.len() * x.len()`.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn sq_distances(x: &[f32], codebook: &[f32], out: &mut [f32]) {
    let d = x.len();
    let xp = x.as_ptr();
    for (j, o) in out.iter_mut().enumerate() {
        let c = &codebook[j * d..(j + 1) * d];
        let (mut a0, mut a1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let mut i = 0;
        // SAFETY: the loads read x[i..i+16] / c[i..i+16] (or +8) with the end <= d.
        unsafe {
            while i + 16 <= d {
                let t0 = _mm256_sub_ps(_mm256_loadu_ps(xp.add(i)), _mm256_loadu_ps(c.as_ptr().add(i)));
                let t1 = _mm256_sub_ps(_mm256_loadu_ps(xp.add(i + 8)), _mm256_loadu_ps(c.as_ptr().add(i + 8)));
                a0 = _mm256_fmadd_ps(t0, t0, a0);
                a1 = _mm256_fmadd_ps(t1, t1, a1);
                i += 16;
            }
            if i + 8 <= d {
                let t0 = _mm256_sub_ps(_mm256_loadu_ps(xp.add(i)), _mm256_loadu_ps(c.as_ptr().add(i)));
                a0 = _mm256_fmadd_ps(t0, t0, a0);
                i += 8;
            }
        }
        let mut s = hsum_ps(_mm256_add_ps(a0, a1));
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
/// The CPU must support AVX2 and FMA; `d > 0`, `half_norms.len()` is a multiple of [`PANEL`],
/// `panels.len() >= half_norms.len() * d`, and `out.len() >= (queries.len() / d) * half_norms.len()`.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn scores(queries: &[f32], d: usize, panels: &[f32], half_norms: &[f32], out: &mut [f32]) {
    let mp = half_norms.len();
    let np = mp / PANEL;
    let n = queries.len() / d;
    let (pp, hp) = (panels.as_ptr(), half_norms.as_ptr());
    let mut q = 0;
    // SAFETY: query rows q..q+Q (q + Q <= n) and out rows q..q+Q exist; panels p..p+P
    // (p + P <= np) hold P * 16 * d values and P * 16 norms, columns inside mp.
    unsafe {
        while q + 6 <= n {
            let (x, o) = (queries.as_ptr().add(q * d), out.as_mut_ptr().add(q * mp));
            for p in 0..np {
                tile::<6, 1>(x, d, pp.add(p * PANEL * d), hp.add(p * PANEL), o.add(p * PANEL), mp);
            }
            q += 6;
        }
        while q < n {
            let (x, o) = (queries.as_ptr().add(q * d), out.as_mut_ptr().add(q * mp));
            let mut p = 0;
            while p + 4 <= np {
                tile::<1, 4>(x, d, pp.add(p * PANEL * d), hp.add(p * PANEL), o.add(p * PANEL), mp);
                p += 4;
            }
            while p < np {
                tile::<1, 1>(x, d, pp.add(p * PANEL * d), hp.add(p * PANEL), o.add(p * PANEL), mp);
                p += 1;
            }
            q += 1;
        }
    }
}

/// The register tile: `Q` queries times `P` panels (two ymm each): 12 accumulators at 6 x 1.
///
/// # Safety
/// AVX2+FMA; `x` has `Q * d` values, `panel` `P * 16 * d`, `hn` `P * 16`, and `out` `Q` rows
/// (stride `mp`) of `P * 16` writable values.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn tile<const Q: usize, const P: usize>(
    x: *const f32,
    d: usize,
    panel: *const f32,
    hn: *const f32,
    out: *mut f32,
    mp: usize,
) {
    let mut acc = [[[_mm256_setzero_ps(); 2]; P]; Q];
    // SAFETY: every offset is within the extents in the precondition.
    unsafe {
        for k in 0..d {
            let mut c = [[_mm256_setzero_ps(); 2]; P];
            for (p, cp) in c.iter_mut().enumerate() {
                let base = panel.add(p * PANEL * d + k * PANEL);
                *cp = [_mm256_loadu_ps(base), _mm256_loadu_ps(base.add(8))];
            }
            for (q, row) in acc.iter_mut().enumerate() {
                let xb = _mm256_broadcast_ss(&*x.add(q * d + k));
                for (a, cp) in row.iter_mut().zip(&c) {
                    a[0] = _mm256_fmadd_ps(xb, cp[0], a[0]);
                    a[1] = _mm256_fmadd_ps(xb, cp[1], a[1]);
                }
            }
        }
        for p in 0..P {
            let h0 = _mm256_loadu_ps(hn.add(p * PANEL));
            let h1 = _mm256_loadu_ps(hn.add(p * PANEL + 8));
            for (q, row) in acc.iter().enumerate() {
                let o = out.add(q * mp + p * PANEL);
                _mm256_storeu_ps(o, _mm256_sub_ps(h0, row[p][0]));
                _mm256_storeu_ps(o.add(8), _mm256_sub_ps(h1, row[p][1]));
            }
        }
    }
}

/// See [`crate::vq::argmin`].
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn argmin(values: &[f32]) -> Option<(usize, f32)> {
    let n = values.len();
    if n > i32::MAX as usize {
        return scalar::argmin(values);
    }
    let mut best = _mm256_set1_ps(f32::INFINITY);
    let mut bidx = _mm256_set1_epi32(i32::MAX);
    let mut idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let step = _mm256_set1_epi32(8);
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: reads values[i..i+8], i + 8 <= n.
        let v = unsafe { _mm256_loadu_ps(values.as_ptr().add(i)) };
        let m = _mm256_cmp_ps::<_CMP_LT_OQ>(v, best);
        best = _mm256_blendv_ps(best, v, m);
        bidx = _mm256_blendv_epi8(bidx, idx, _mm256_castps_si256(m));
        idx = _mm256_add_epi32(idx, step);
        i += 8;
    }
    let (mut bv, mut bi) = ([0f32; 8], [0i32; 8]);
    // SAFETY: both arrays hold 8 lanes.
    unsafe {
        _mm256_storeu_ps(bv.as_mut_ptr(), best);
        _mm256_storeu_si256(bi.as_mut_ptr().cast(), bidx);
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
        // All NaN, or the minimum is +inf: the scalar loop states those rules.
        None => scalar::argmin(values),
    }
}

/// See [`crate::vq::i8_sq_distances`].
///
/// # Safety
/// The CPU must support AVX2 and FMA; `codebook.len() >= out.len() * x.len()`.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn i8_sq_distances(x: &[i8], codebook: &[i8], out: &mut [u32]) {
    let d = x.len();
    for (j, o) in out.iter_mut().enumerate() {
        let c = &codebook[j * d..(j + 1) * d];
        let mut acc = _mm256_setzero_si256();
        let mut i = 0;
        while i + 16 <= d {
            // SAFETY: reads x[i..i+16] and c[i..i+16], i + 16 <= d.
            let (xv, cv) =
                unsafe { (_mm_loadu_si128(x.as_ptr().add(i).cast()), _mm_loadu_si128(c.as_ptr().add(i).cast())) };
            let t = _mm256_sub_epi16(_mm256_cvtepi8_epi16(xv), _mm256_cvtepi8_epi16(cv));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(t, t));
            i += 16;
        }
        let mut s = hsum_epi32(acc) as u32;
        for k in i..d {
            let t = x[k] as i32 - c[k] as i32;
            s = s.wrapping_add((t * t) as u32);
        }
        *o = s;
    }
}

/// See [`crate::vq::i8_dots`].
///
/// # Safety
/// The CPU must support AVX2 and FMA; `codebook.len() >= out.len() * x.len()`.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn i8_dots(x: &[i8], codebook: &[i8], out: &mut [i32]) {
    let d = x.len();
    for (j, o) in out.iter_mut().enumerate() {
        let c = &codebook[j * d..(j + 1) * d];
        let mut acc = _mm256_setzero_si256();
        let mut i = 0;
        while i + 16 <= d {
            // SAFETY: reads x[i..i+16] and c[i..i+16], i + 16 <= d.
            let (xv, cv) =
                unsafe { (_mm_loadu_si128(x.as_ptr().add(i).cast()), _mm_loadu_si128(c.as_ptr().add(i).cast())) };
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_cvtepi8_epi16(xv), _mm256_cvtepi8_epi16(cv)));
            i += 16;
        }
        let mut s = hsum_epi32(acc);
        for k in i..d {
            s = s.wrapping_add(x[k] as i32 * c[k] as i32);
        }
        *o = s;
    }
}
