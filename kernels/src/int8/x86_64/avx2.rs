//! AVX2 int8 dot products: 16 bytes at a time sign-extended to i16 (`vpmovsxbw`), multiplied
//! and pairwise added into i32 by `vpmaddwd`. Exact: a pair of i8 products is at most 2 * 2^14,
//! far inside i32; the running sums wrap like the scalar reference.

use super::tail_word;
use core::arch::x86_64::*;

/// Sum of the eight i32 lanes.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn hsum(v: __m256i) -> i32 {
    let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    _mm_cvtsi128_si32(s)
}

/// Loads 16 bytes at `p` and sign-extends them to 16 i16 lanes.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn load16(p: *const i8) -> __m256i {
    // SAFETY: the caller guarantees 16 readable bytes at `p`; loadu has no alignment need.
    _mm256_cvtepi8_epi16(unsafe { _mm_loadu_si128(p.cast()) })
}

/// `sum a[j] * b[j]` for `a.len() == b.len()` (the dispatcher makes them equal).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
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
    // SAFETY: AVX2 and FMA are enabled for this function.
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
/// The CPU must support AVX2 and FMA. `w.len() >= out.len() * x.len()` and `bias.len() >= out.len()`.
#[target_feature(enable = "avx2,fma")]
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
            // SAFETY: AVX2 and FMA are enabled for this function.
            let mut s = unsafe { hsum(*a) };
            for t in body..d {
                s = s.wrapping_add(x[t] as i32 * row[t] as i32);
            }
            out[r + k] = bias[r + k].wrapping_add(s);
        }
        r += 4;
    }
    while r < rows {
        // SAFETY: AVX2 and FMA are enabled for this function; the row lies inside w.
        out[r] = bias[r].wrapping_add(unsafe { dot(x, &w[r * d..(r + 1) * d]) });
        r += 1;
    }
}

/// [`crate::int8::matvec_packed`], AVX2 path: per group of 4 inputs, the 64 weight bytes are
/// sign-extended 16 at a time (4 rows x 4 inputs) and multiplied with the 4 unsigned inputs by
/// `vpmaddwd` (exact: |u w| <= 255 * 128), giving two partial sums per row that a final
/// `vphaddd` combines.
///
/// # Safety
/// The CPU must support AVX2 and FMA; `packed.len() >= packed_len(out.len(), u.len())`,
/// `bias.len() >= out.len()`.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn matvec_packed(u: &[u8], packed: &[i8], bias: &[i32], out: &mut [i32]) {
    let d = u.len();
    let groups = d.div_ceil(4);
    let rows = out.len().min(bias.len());
    let mut b = 0;
    while b * 16 < rows {
        let mut acc = [_mm256_setzero_si256(); 4];
        for g in 0..groups {
            let x = |k: usize| u.get(4 * g + k).copied().unwrap_or(0) as i16;
            let (x0, x1, x2, x3) = (x(0), x(1), x(2), x(3));
            let xp = _mm256_setr_epi16(x0, x1, x2, x3, x0, x1, x2, x3, x0, x1, x2, x3, x0, x1, x2, x3);
            for (c, a) in acc.iter_mut().enumerate() {
                // SAFETY: block b, group g, chunk c lies inside `packed` (caller's contract).
                let w = unsafe { load16(packed.as_ptr().add((b * groups + g) * 64 + 16 * c)) };
                *a = _mm256_add_epi32(*a, _mm256_madd_epi16(w, xp));
            }
        }
        let lo = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_hadd_epi32(acc[0], acc[1]));
        let hi = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_hadd_epi32(acc[2], acc[3]));
        let mut sums = [0i32; 16];
        // SAFETY: `sums` holds 16 i32, two unaligned 8-lane stores.
        unsafe {
            _mm256_storeu_si256(sums.as_mut_ptr().cast(), lo);
            _mm256_storeu_si256(sums.as_mut_ptr().add(8).cast(), hi);
        }
        let live = (rows - b * 16).min(16);
        for k in 0..live {
            out[b * 16 + k] = bias[b * 16 + k].wrapping_add(sums[k]);
        }
        b += 1;
    }
}

/// [`matvec_packed`] for 4 input rows at once (`u` row-major `[4, d]`, `out` row-major `[4, R]`,
/// `R = bias.len()`): each 16-byte weight chunk, sign-extended once, feeds four `vpmaddwd`, one per
/// input row, so a convolution tile widens its packed filter a quarter as often. Half a block
/// (8 output rows, two chunks per group) per pass keeps the 8 sums, 2 weights and 4 inputs in
/// the 16 registers.
///
/// # Safety
/// The CPU must support AVX2 and FMA; `u.len() >= 4 * d`, `out.len() >= 4 * R`,
/// `packed.len() >= packed_len(R, d)`.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn matmul4_packed(u: &[u8], d: usize, packed: &[i8], bias: &[i32], out: &mut [i32]) {
    let groups = d.div_ceil(4);
    let full = d / 4;
    let rows = bias.len();
    let tails = [0, 1, 2, 3].map(|i| tail_word(u.get(i * d..(i + 1) * d).unwrap_or_default()));
    // The 4 inputs of group g of row i, as i16, repeated for the 4 rows of a chunk.
    let inputs = |i: usize, g: usize| {
        let word = if g < full {
            // SAFETY: group g < full of row i lies in u[i * d..(i + 1) * d] (caller's contract).
            unsafe { u.as_ptr().add(i * d + 4 * g).cast::<i32>().read_unaligned() }
        } else {
            tails[i]
        };
        _mm256_cvtepu8_epi16(_mm_set1_epi32(word))
    };
    let mut b = 0;
    while b * 16 < rows {
        for half in 0..2 {
            let base = b * 16 + half * 8;
            if base >= rows {
                break;
            }
            let mut acc = [[_mm256_setzero_si256(); 2]; 4];
            for g in 0..groups {
                // SAFETY: block b, group g, chunks 2 * half and 2 * half + 1 lie inside `packed`.
                let (w0, w1) = unsafe {
                    let p = packed.as_ptr().add((b * groups + g) * 64 + 32 * half);
                    (load16(p), load16(p.add(16)))
                };
                for (i, a) in acc.iter_mut().enumerate() {
                    let x = inputs(i, g);
                    a[0] = _mm256_add_epi32(a[0], _mm256_madd_epi16(w0, x));
                    a[1] = _mm256_add_epi32(a[1], _mm256_madd_epi16(w1, x));
                }
            }
            let live = (rows - base).min(8);
            for (i, a) in acc.iter().enumerate() {
                // Adjacent lanes are the two halves of one output row's sum.
                let s = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_hadd_epi32(a[0], a[1]));
                let mut sums = [0i32; 8];
                // SAFETY: `sums` holds 8 i32.
                unsafe { _mm256_storeu_si256(sums.as_mut_ptr().cast(), s) };
                let row = &mut out[i * rows + base..i * rows + base + live];
                for ((o, &v), &bv) in row.iter_mut().zip(&sums).zip(&bias[base..base + live]) {
                    *o = bv.wrapping_add(v);
                }
            }
        }
        b += 1;
    }
}

/// TFLite requantisation of 8 lanes (see the AVX-512 version for the steps).
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn requant8(acc: __m256i, m: __m256i, s: __m256i, zp: __m256i, lo: __m256i, hi: __m256i) -> __m256i {
    let zero = _mm256_setzero_si256();
    let k31 = _mm256_set1_epi32(31);
    let left = _mm256_and_si256(_mm256_max_epi32(s, zero), k31);
    let right = _mm256_and_si256(_mm256_max_epi32(_mm256_sub_epi32(zero, s), zero), k31);
    let x = _mm256_sllv_epi32(acc, left);
    let high = |p: __m256i| {
        let neg = _mm256_cmpgt_epi64(zero, p);
        let nudge = _mm256_blendv_epi8(_mm256_set1_epi64x(1 << 30), _mm256_set1_epi64x(1 - (1 << 30)), neg);
        let q = _mm256_add_epi64(p, nudge);
        let qneg = _mm256_cmpgt_epi64(zero, q);
        let q = _mm256_add_epi64(q, _mm256_and_si256(qneg, _mm256_set1_epi64x((1 << 31) - 1)));
        _mm256_srli_epi64::<31>(q)
    };
    let even = high(_mm256_mul_epi32(x, m));
    let odd = high(_mm256_mul_epi32(_mm256_srli_epi64::<32>(x), _mm256_srli_epi64::<32>(m)));
    let r = _mm256_blend_epi32::<0b1010_1010>(even, _mm256_slli_epi64::<32>(odd));
    let min = _mm256_set1_epi32(i32::MIN);
    let overflow = _mm256_and_si256(_mm256_cmpeq_epi32(x, min), _mm256_cmpeq_epi32(m, min));
    let r = _mm256_blendv_epi8(r, _mm256_set1_epi32(i32::MAX), overflow);
    let one = _mm256_set1_epi32(1);
    let mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, right), one);
    let rem = _mm256_and_si256(r, mask);
    let thr = _mm256_add_epi32(_mm256_srli_epi32::<1>(mask), _mm256_and_si256(_mm256_cmpgt_epi32(zero, r), one));
    let r = _mm256_add_epi32(_mm256_srav_epi32(r, right), _mm256_and_si256(_mm256_cmpgt_epi32(rem, thr), one));
    _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(r, zp), lo), hi)
}

/// [`crate::int8::requantize`], AVX2 path for one multiplier, one per element, or a multiple of 8
/// channels dividing `out.len()`.
///
/// # Safety
/// The CPU must support AVX2 and FMA; `acc.len() >= out.len()`; `c = mult.len() == shift.len()` is 1,
/// `out.len()`, or a multiple of 8 dividing `out.len()`; `-128 <= min <= max <= 127`.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn requantize(
    acc: &[i32],
    mult: &[i32],
    shift: &[i32],
    zero_point: i32,
    min: i32,
    max: i32,
    out: &mut [i8],
) {
    let n = out.len().min(acc.len());
    let c = mult.len().min(shift.len());
    let per_channel = c > 1;
    let (zp, lo, hi) = (_mm256_set1_epi32(zero_point), _mm256_set1_epi32(min), _mm256_set1_epi32(max));
    let mut i = 0;
    // The channel of element i (i % c as a running index: no division per chunk).
    let mut ch = 0;
    while i + 8 <= n && (!per_channel || ch + 8 <= c) {
        // SAFETY: elements i..i + 8 <= n of acc/out and ch..ch + 8 <= c of mult/shift.
        unsafe {
            let a = _mm256_loadu_si256(acc.as_ptr().add(i).cast());
            let (m, s) = if per_channel {
                (_mm256_loadu_si256(mult.as_ptr().add(ch).cast()), _mm256_loadu_si256(shift.as_ptr().add(ch).cast()))
            } else {
                (_mm256_set1_epi32(mult[0]), _mm256_set1_epi32(shift[0]))
            };
            let r = requant8(a, m, s, zp, lo, hi);
            let mut lanes = [0i32; 8];
            _mm256_storeu_si256(lanes.as_mut_ptr().cast(), r);
            for (o, v) in out[i..i + 8].iter_mut().zip(lanes) {
                *o = v as i8;
            }
        }
        i += 8;
        ch += 8;
        if ch >= c {
            ch = 0;
        }
    }
    // The rest (fewer than 8, or a channel list not a multiple of 8): scalar, channels rotated
    // to start at i % c.
    for k in i..n {
        let ch = if per_channel { k % c } else { 0 };
        let v = super::super::scalar::multiply_by_quantized_multiplier(acc[k], mult[ch], shift[ch]);
        out[k] = v.wrapping_add(zero_point).clamp(min, max) as i8;
    }
}

/// [`crate::int8::depthwise_taps`], AVX2 path: 16 channels at a time, their accumulators in
/// registers across all taps; `(x - zp) * w` is exact in i16 (`|x - zp| <= 255`, `|w| <= 128`),
/// then sign-extended into two 8-lane i32 sums. The last `acc.len() % 16` channels are scalar.
///
/// # Safety
/// The CPU must support AVX2 and FMA; every tap `[xo, wo]` has `xo + acc.len() <= x.len()` and
/// `wo + acc.len() <= w.len()`; `-128 <= zp <= 127`.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn depthwise_taps(acc: &mut [i32], x: &[i8], w: &[i8], zp: i32, taps: &[[usize; 2]]) {
    let n = acc.len();
    let z = _mm256_set1_epi16(zp as i16);
    let mut o = 0;
    while o + 16 <= n {
        // SAFETY: channels o..o + 16 <= n of `acc`, and of every tap's `x` and `w` ranges.
        unsafe {
            let mut lo = _mm256_loadu_si256(acc.as_ptr().add(o).cast());
            let mut hi = _mm256_loadu_si256(acc.as_ptr().add(o + 8).cast());
            for &[xo, wo] in taps {
                let xv = _mm256_sub_epi16(load16(x.as_ptr().add(xo + o)), z);
                let p = _mm256_mullo_epi16(xv, load16(w.as_ptr().add(wo + o)));
                lo = _mm256_add_epi32(lo, _mm256_cvtepi16_epi32(_mm256_castsi256_si128(p)));
                hi = _mm256_add_epi32(hi, _mm256_cvtepi16_epi32(_mm256_extracti128_si256::<1>(p)));
            }
            _mm256_storeu_si256(acc.as_mut_ptr().add(o).cast(), lo);
            _mm256_storeu_si256(acc.as_mut_ptr().add(o + 8).cast(), hi);
        }
        o += 16;
    }
    if o < n {
        for &[xo, wo] in taps {
            for k in o..n {
                acc[k] = acc[k].wrapping_add((x[xo + k] as i32 - zp) * w[wo + k] as i32);
            }
        }
    }
}
