//! AVX-512 int8 dot products.
//!
//! * BW: 32 bytes at a time sign-extended to i16 (`vpmovsxbw`) and `vpmaddwd` into 16 i32 lanes.
//! * VNNI: `vpdpbusd` multiplies unsigned by signed bytes, 64 at a time, four products per i32
//!   lane. The input is made unsigned by flipping its sign bit (`x ^ 0x80 = x + 128`), so the
//!   sum is `sum (x + 128) w = sum x w + 128 sum w`; a second `vpdpbusd` of a vector of 128s
//!   with the same weights gives `128 sum w`, which is subtracted. Exact in wrapping i32.
//!
//! Tails use masked loads (bytes past the end read as 0 and contribute nothing).

use core::arch::x86_64::*;

#[inline]
fn tail_mask(n: usize) -> __mmask64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// `sum a[j] * b[j]` over the common length, VNNI path.
///
/// # Safety
/// The CPU must support AVX-512F, AVX-512BW and AVX-512 VNNI.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub unsafe fn dot_vnni(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let flip = _mm512_set1_epi8(-128);
    let (mut acc, mut corr) = (_mm512_setzero_si512(), _mm512_setzero_si512());
    let mut j = 0;
    while j < n {
        let m = tail_mask(n - j);
        // SAFETY: the mask covers only bytes j..n, inside both slices; masked-off bytes are
        // not read.
        let (va, vb) = unsafe {
            (_mm512_maskz_loadu_epi8(m, a.as_ptr().add(j).cast()), _mm512_maskz_loadu_epi8(m, b.as_ptr().add(j).cast()))
        };
        // Masked-off lanes of `va` are 0 and would flip to 128: flip only the live lanes (the
        // weights there are 0 anyway, but keep both sums exact lane by lane).
        let half = _mm512_maskz_mov_epi8(m, flip);
        acc = _mm512_dpbusd_epi32(acc, _mm512_xor_si512(va, half), vb);
        corr = _mm512_dpbusd_epi32(corr, half, vb);
        j += 64;
    }
    _mm512_reduce_add_epi32(_mm512_sub_epi32(acc, corr))
}

/// `sum a[j] * b[j]` over the common length, AVX-512BW path.
///
/// # Safety
/// The CPU must support AVX-512F and AVX-512BW.
#[target_feature(enable = "avx512f,avx512bw")]
pub unsafe fn dot_bw(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let mut acc = _mm512_setzero_si512();
    let mut j = 0;
    while j < n {
        let m = tail_mask(n - j) as __mmask32;
        // SAFETY: the mask covers only bytes j..n (at most 32), inside both slices.
        let (va, vb) = unsafe {
            (
                _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, a.as_ptr().add(j).cast())),
                _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, b.as_ptr().add(j).cast())),
            )
        };
        acc = _mm512_add_epi32(acc, _mm512_madd_epi16(va, vb));
        j += 32;
    }
    _mm512_reduce_add_epi32(acc)
}

/// `out[r] = bias[r] + sum_j x[j] * w[r * D + j]`, VNNI path. The unsigned input and the
/// per-chunk masks are prepared once and reused for every row; four rows run together.
///
/// # Safety
/// The CPU must support AVX-512F/BW/VNNI. `w.len() >= out.len() * x.len()`,
/// `bias.len() >= out.len()`.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub unsafe fn matvec_vnni(x: &[i8], w: &[i8], bias: &[i32], out: &mut [i32]) {
    let d = x.len();
    let rows = out.len().min(bias.len()).min(w.len().checked_div(d).unwrap_or(usize::MAX));
    if d == 0 {
        out[..rows].copy_from_slice(&bias[..rows]);
        return;
    }
    let flip = _mm512_set1_epi8(-128);
    let mut r = 0;
    while r + 4 <= rows {
        let mut acc = [_mm512_setzero_si512(); 4];
        let mut corr = [_mm512_setzero_si512(); 4];
        let mut j = 0;
        while j < d {
            let m = tail_mask(d - j);
            // SAFETY: the mask covers bytes j..d of x and of rows r..r+4 of w, all in bounds.
            unsafe {
                let vx = _mm512_maskz_loadu_epi8(m, x.as_ptr().add(j).cast());
                let half = _mm512_maskz_mov_epi8(m, flip);
                let ux = _mm512_xor_si512(vx, half);
                for k in 0..4 {
                    let vw = _mm512_maskz_loadu_epi8(m, w.as_ptr().add((r + k) * d + j).cast());
                    acc[k] = _mm512_dpbusd_epi32(acc[k], ux, vw);
                    corr[k] = _mm512_dpbusd_epi32(corr[k], half, vw);
                }
            }
            j += 64;
        }
        for k in 0..4 {
            out[r + k] = bias[r + k].wrapping_add(_mm512_reduce_add_epi32(_mm512_sub_epi32(acc[k], corr[k])));
        }
        r += 4;
    }
    while r < rows {
        // SAFETY: same CPU features; the row lies inside w.
        out[r] = bias[r].wrapping_add(unsafe { dot_vnni(x, &w[r * d..(r + 1) * d]) });
        r += 1;
    }
}

/// `out[r] = bias[r] + sum_j x[j] * w[r * D + j]`, AVX-512BW path, four rows at a time.
///
/// # Safety
/// The CPU must support AVX-512F/BW. `w.len() >= out.len() * x.len()`, `bias.len() >= out.len()`.
#[target_feature(enable = "avx512f,avx512bw")]
pub unsafe fn matvec_bw(x: &[i8], w: &[i8], bias: &[i32], out: &mut [i32]) {
    let d = x.len();
    let rows = out.len().min(bias.len()).min(w.len().checked_div(d).unwrap_or(usize::MAX));
    if d == 0 {
        out[..rows].copy_from_slice(&bias[..rows]);
        return;
    }
    let mut r = 0;
    while r + 4 <= rows {
        let mut acc = [_mm512_setzero_si512(); 4];
        let mut j = 0;
        while j < d {
            let m = tail_mask(d - j) as __mmask32;
            // SAFETY: the mask covers bytes j..d of x and of rows r..r+4 of w, all in bounds.
            unsafe {
                let vx = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, x.as_ptr().add(j).cast()));
                for (k, a) in acc.iter_mut().enumerate() {
                    let vw = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, w.as_ptr().add((r + k) * d + j).cast()));
                    *a = _mm512_add_epi32(*a, _mm512_madd_epi16(vx, vw));
                }
            }
            j += 32;
        }
        for (k, a) in acc.iter().enumerate() {
            out[r + k] = bias[r + k].wrapping_add(_mm512_reduce_add_epi32(*a));
        }
        r += 4;
    }
    while r < rows {
        // SAFETY: same CPU features; the row lies inside w.
        out[r] = bias[r].wrapping_add(unsafe { dot_bw(x, &w[r * d..(r + 1) * d]) });
        r += 1;
    }
}
