//! AVX2 int8 dot products: 16 bytes at a time sign-extended to i16 (`vpmovsxbw`), multiplied
//! and pairwise added into i32 by `vpmaddwd`. Exact: a pair of i8 products is at most 2 * 2^14,
//! far inside i32; the running sums wrap like the scalar reference.

use core::arch::x86_64::*;

/// Sum of the eight i32 lanes.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn hsum(v: __m256i) -> i32 {
    let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    _mm_cvtsi128_si32(s)
}

/// Loads 16 bytes at `p` and sign-extends them to 16 i16 lanes.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load16(p: *const i8) -> __m256i {
    // SAFETY: the caller guarantees 16 readable bytes at `p`; loadu has no alignment need.
    _mm256_cvtepi8_epi16(unsafe { _mm_loadu_si128(p.cast()) })
}

/// `sum a[j] * b[j]` for `a.len() == b.len()` (the dispatcher makes them equal).
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub unsafe fn dot(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let mut acc = _mm256_setzero_si256();
    let mut j = 0;
    while j + 16 <= n {
        // SAFETY: j + 16 <= n <= len of both slices.
        let (va, vb) = unsafe { (load16(a.as_ptr().add(j)), load16(b.as_ptr().add(j))) };
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(va, vb));
        j += 16;
    }
    // SAFETY: AVX2 is enabled for this function.
    let mut s = unsafe { hsum(acc) };
    for k in j..n {
        s = s.wrapping_add(a[k] as i32 * b[k] as i32);
    }
    s
}

/// `out[r] = bias[r] + sum_j x[j] * w[r * D + j]`, four rows at a time so that each load of
/// `x` serves four rows.
///
/// # Safety
/// The CPU must support AVX2. `w.len() >= out.len() * x.len()` and `bias.len() >= out.len()`.
#[target_feature(enable = "avx2")]
pub unsafe fn matvec(x: &[i8], w: &[i8], bias: &[i32], out: &mut [i32]) {
    let d = x.len();
    let rows = out.len().min(bias.len()).min(w.len().checked_div(d).unwrap_or(usize::MAX));
    let body = d / 16 * 16;
    let mut r = 0;
    while r + 4 <= rows {
        let mut acc = [_mm256_setzero_si256(); 4];
        let mut j = 0;
        while j < body {
            // SAFETY: j + 16 <= d, and rows r..r+4 lie inside w (rows <= w.len() / d).
            unsafe {
                let vx = load16(x.as_ptr().add(j));
                for (k, a) in acc.iter_mut().enumerate() {
                    let vw = load16(w.as_ptr().add((r + k) * d + j));
                    *a = _mm256_add_epi32(*a, _mm256_madd_epi16(vx, vw));
                }
            }
            j += 16;
        }
        for (k, a) in acc.iter().enumerate() {
            let row = &w[(r + k) * d..(r + k + 1) * d];
            // SAFETY: AVX2 is enabled for this function.
            let mut s = unsafe { hsum(*a) };
            for t in body..d {
                s = s.wrapping_add(x[t] as i32 * row[t] as i32);
            }
            out[r + k] = bias[r + k].wrapping_add(s);
        }
        r += 4;
    }
    while r < rows {
        // SAFETY: AVX2 is enabled for this function; the row lies inside w.
        out[r] = bias[r].wrapping_add(unsafe { dot(x, &w[r * d..(r + 1) * d]) });
        r += 1;
    }
}
