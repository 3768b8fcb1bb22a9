//! AVX-512 int8 dot products.
//!
//! * BW: 32 bytes at a time sign-extended to i16 (`vpmovsxbw`) and `vpmaddwd` into 16 i32 lanes.
//! * VNNI: `vpdpbusd` multiplies unsigned by signed bytes, 64 at a time, four products per i32
//!   lane. The input is made unsigned by flipping its sign bit (`x ^ 0x80 = x + 128`), so the
//!   sum is `sum (x + 128) w = sum x w + 128 sum w`; a second `vpdpbusd` of a vector of 128s
//!   with the same weights gives `128 sum w`, which is subtracted. Exact in wrapping i32.
//!
//! Tails use masked loads (bytes past the end read as 0 and contribute nothing).

use super::tail_word;
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
/// The CPU must support AVX-512F, BW and VL (`X86Level::Avx512`), BW, VL and VNNI (`X86Level::Avx512Vnni`).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
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
/// The CPU must support AVX-512F, BW and VL (`X86Level::Avx512`), BW and VL (`X86Level::Avx512`).
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
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
/// The CPU must support AVX-512F, BW and VL (`X86Level::Avx512`), BW, VL and VNNI (`X86Level::Avx512Vnni`). `w.len() >= out.len() * x.len()`,
/// `bias.len() >= out.len()`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
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
/// The CPU must support AVX-512F, BW and VL (`X86Level::Avx512`), BW and VL (`X86Level::Avx512`). `w.len() >= out.len() * x.len()`, `bias.len() >= out.len()`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
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

/// [`crate::int8::matvec_packed`], VNNI path: per block of 16 rows, one `vpdpbusd` per group of
/// 4 inputs (the 4 input bytes broadcast to every lane), two accumulators to hide latency.
///
/// # Safety
/// The CPU must support AVX-512F, BW and VL (`X86Level::Avx512`), BW, VL and VNNI (`X86Level::Avx512Vnni`); `packed.len() >= packed_len(out.len(), u.len())`,
/// `bias.len() >= out.len()`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
pub unsafe fn matvec_packed_vnni(u: &[u8], packed: &[i8], bias: &[i32], out: &mut [i32]) {
    let d = u.len();
    let groups = d.div_ceil(4);
    let rows = out.len().min(bias.len());
    let full = d / 4;
    let tail = tail_word(u);
    let mut b = 0;
    while b * 16 < rows {
        let live = (rows - b * 16).min(16);
        let m = lanes16(live);
        // SAFETY: block b holds groups * 64 bytes inside `packed` (caller's length contract);
        // the masked bias load and output store touch only rows < rows.
        unsafe {
            let wb = packed.as_ptr().add(b * groups * 64);
            let mut acc0 = _mm512_maskz_loadu_epi32(m, bias.as_ptr().add(b * 16));
            let mut acc1 = _mm512_setzero_si512();
            let mut g = 0;
            while g + 2 <= full {
                // Bytes 4g..4g + 8 < 4 * full <= d: inside `u`.
                let x0 = u.as_ptr().add(4 * g).cast::<i32>().read_unaligned();
                let x1 = u.as_ptr().add(4 * g + 4).cast::<i32>().read_unaligned();
                acc0 = _mm512_dpbusd_epi32(acc0, _mm512_set1_epi32(x0), _mm512_loadu_si512(wb.add(g * 64).cast()));
                acc1 = _mm512_dpbusd_epi32(acc1, _mm512_set1_epi32(x1), _mm512_loadu_si512(wb.add(g * 64 + 64).cast()));
                g += 2;
            }
            if g < full {
                let x0 = u.as_ptr().add(4 * g).cast::<i32>().read_unaligned();
                acc0 = _mm512_dpbusd_epi32(acc0, _mm512_set1_epi32(x0), _mm512_loadu_si512(wb.add(g * 64).cast()));
            }
            if groups > full {
                acc1 = _mm512_dpbusd_epi32(acc1, _mm512_set1_epi32(tail), _mm512_loadu_si512(wb.add(full * 64).cast()));
            }
            _mm512_mask_storeu_epi32(out.as_mut_ptr().add(b * 16), m, _mm512_add_epi32(acc0, acc1));
        }
        b += 1;
    }
}

/// TFLite requantisation of 16 lanes: `clamp(zp + MultiplyByQuantizedMultiplier(acc, m, s))`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
unsafe fn requant16(acc: __m512i, m: __m512i, s: __m512i, zp: __m512i, lo: __m512i, hi: __m512i) -> __m512i {
    let zero = _mm512_setzero_si512();
    let k31 = _mm512_set1_epi32(31);
    let left = _mm512_and_si512(_mm512_max_epi32(s, zero), k31);
    let right = _mm512_and_si512(_mm512_max_epi32(_mm512_sub_epi32(zero, s), zero), k31);
    let x = _mm512_sllv_epi32(acc, left);
    // SaturatingRoundingDoublingHighMul on even and odd lanes as 64-bit products.
    let high = |p: __m512i| {
        let neg = _mm512_cmplt_epi64_mask(p, zero);
        let nudge = _mm512_mask_blend_epi64(neg, _mm512_set1_epi64(1 << 30), _mm512_set1_epi64(1 - (1 << 30)));
        let q = _mm512_add_epi64(p, nudge);
        // Division by 2^31 truncating toward zero; only the low 32 bits of the quotient are kept,
        // so a logical shift gives the same bits as an arithmetic one.
        let qneg = _mm512_cmplt_epi64_mask(q, zero);
        let q = _mm512_mask_add_epi64(q, qneg, q, _mm512_set1_epi64((1 << 31) - 1));
        _mm512_srli_epi64::<31>(q)
    };
    let even = high(_mm512_mul_epi32(x, m));
    let odd = high(_mm512_mul_epi32(_mm512_srli_epi64::<32>(x), _mm512_srli_epi64::<32>(m)));
    let mut r = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64::<32>(odd));
    let min = _mm512_set1_epi32(i32::MIN);
    let overflow = _mm512_cmpeq_epi32_mask(x, min) & _mm512_cmpeq_epi32_mask(m, min);
    r = _mm512_mask_mov_epi32(r, overflow, _mm512_set1_epi32(i32::MAX));
    // RoundingDivideByPOT.
    let mask = _mm512_sub_epi32(_mm512_sllv_epi32(_mm512_set1_epi32(1), right), _mm512_set1_epi32(1));
    let rem = _mm512_and_si512(r, mask);
    let thr = _mm512_mask_add_epi32(
        _mm512_srli_epi32::<1>(mask),
        _mm512_cmplt_epi32_mask(r, zero),
        _mm512_srli_epi32::<1>(mask),
        _mm512_set1_epi32(1),
    );
    let r = _mm512_mask_add_epi32(
        _mm512_srav_epi32(r, right),
        _mm512_cmpgt_epi32_mask(rem, thr),
        _mm512_srav_epi32(r, right),
        _mm512_set1_epi32(1),
    );
    _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(r, zp), lo), hi)
}

/// [`crate::int8::requantize`], AVX-512 path for `c = mult.len() == shift.len()` equal to 1, to
/// `out.len()`, or a multiple of 16 dividing `out.len()` (the dispatcher sends other channel
/// counts to the scalar reference).
///
/// # Safety
/// The CPU must support AVX-512F, BW and VL (`X86Level::Avx512`), BW and VL (`X86Level::Avx512`); `acc.len() >= out.len()`; `-128 <= min <= max <= 127`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
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
    let (zp, lo, hi) = (_mm512_set1_epi32(zero_point), _mm512_set1_epi32(min), _mm512_set1_epi32(max));
    let (m1, s1) = (_mm512_set1_epi32(mult[0]), _mm512_set1_epi32(shift[0]));
    let mut i = 0;
    // The channel of element i (i % c, kept as a running index: a division per chunk costs more
    // than the requantisation of a short channel list).
    let mut ch = 0;
    while i < n {
        let live = (n - i).min(16);
        let k = lanes16(live);
        // SAFETY: masked loads/stores touch only elements i..i + live < n of acc/out, and
        // ch..ch + live <= c of mult/shift (c == n, or c a multiple of 16 so a 16-chunk never
        // straddles the end of the channel list: the dispatcher checks).
        unsafe {
            let a = _mm512_maskz_loadu_epi32(k, acc.as_ptr().add(i));
            let (m, s) = if per_channel {
                (
                    _mm512_maskz_loadu_epi32(k, mult.as_ptr().add(ch)),
                    _mm512_maskz_loadu_epi32(k, shift.as_ptr().add(ch)),
                )
            } else {
                (m1, s1)
            };
            let r = requant16(a, m, s, zp, lo, hi);
            _mm512_mask_cvtepi32_storeu_epi8(out.as_mut_ptr().add(i).cast(), k, r);
        }
        i += 16;
        ch += 16;
        if ch >= c {
            ch = 0;
        }
    }
}

/// A mask of the first `live` (<= 16) of 16 lanes.
#[inline(always)]
fn lanes16(live: usize) -> __mmask16 {
    if live >= 16 {
        0xFFFF
    } else {
        (1u16 << live) - 1
    }
}

/// [`matvec_packed_vnni`] for 4 input rows at once (`u` row-major `[4, d]`, `out` row-major
/// `[4, R]`, `R = bias.len()`): each 64-byte weight load feeds four `vpdpbusd`, one per row,
/// so a convolution tile reads its packed filter a quarter as often.
///
/// # Safety
/// As [`matvec_packed_vnni`]; `u.len() >= 4 * d`, `out.len() >= 4 * R`,
/// `packed.len() >= packed_len(R, d)`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
pub unsafe fn matmul4_packed_vnni(u: &[u8], d: usize, packed: &[i8], bias: &[i32], out: &mut [i32]) {
    let groups = d.div_ceil(4);
    let full = d / 4;
    let rows = bias.len();
    let tails = [0, 1, 2, 3].map(|i| tail_word(u.get(i * d..(i + 1) * d).unwrap_or_default()));
    let mut b = 0;
    while b * 16 < rows {
        let live = (rows - b * 16).min(16);
        let m = lanes16(live);
        // SAFETY: block b holds groups * 64 bytes inside `packed`; row i's group g < full lies in
        // u[i * d..(i + 1) * d]; the masked loads and stores touch only channels < rows.
        unsafe {
            let wb = packed.as_ptr().add(b * groups * 64);
            let bv = _mm512_maskz_loadu_epi32(m, bias.as_ptr().add(b * 16));
            let (mut a0, mut a1, mut a2, mut a3) = (bv, bv, bv, bv);
            let (p0, p1, p2, p3) = (u.as_ptr(), u.as_ptr().add(d), u.as_ptr().add(2 * d), u.as_ptr().add(3 * d));
            for g in 0..full {
                let w = _mm512_loadu_si512(wb.add(g * 64).cast());
                let x = |p: *const u8| _mm512_set1_epi32(p.add(4 * g).cast::<i32>().read_unaligned());
                a0 = _mm512_dpbusd_epi32(a0, x(p0), w);
                a1 = _mm512_dpbusd_epi32(a1, x(p1), w);
                a2 = _mm512_dpbusd_epi32(a2, x(p2), w);
                a3 = _mm512_dpbusd_epi32(a3, x(p3), w);
            }
            if groups > full {
                let w = _mm512_loadu_si512(wb.add(full * 64).cast());
                a0 = _mm512_dpbusd_epi32(a0, _mm512_set1_epi32(tails[0]), w);
                a1 = _mm512_dpbusd_epi32(a1, _mm512_set1_epi32(tails[1]), w);
                a2 = _mm512_dpbusd_epi32(a2, _mm512_set1_epi32(tails[2]), w);
                a3 = _mm512_dpbusd_epi32(a3, _mm512_set1_epi32(tails[3]), w);
            }
            let o = out.as_mut_ptr().add(b * 16);
            _mm512_mask_storeu_epi32(o, m, a0);
            _mm512_mask_storeu_epi32(o.add(rows), m, a1);
            _mm512_mask_storeu_epi32(o.add(2 * rows), m, a2);
            _mm512_mask_storeu_epi32(o.add(3 * rows), m, a3);
        }
        b += 1;
    }
}

/// [`crate::int8::depthwise_taps`], AVX-512BW path: 32 channels at a time (the last chunk
/// masked), their accumulators in two registers across all taps; `(x - zp) * w` exact in i16
/// (`|x - zp| <= 255`, `|w| <= 128`), sign-extended into 16-lane i32 sums.
///
/// # Safety
/// The CPU must support AVX-512F, BW and VL (`X86Level::Avx512`); every tap `[xo, wo]` has
/// `xo + acc.len() <= x.len()` and `wo + acc.len() <= w.len()`; `-128 <= zp <= 127`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
pub unsafe fn depthwise_taps(acc: &mut [i32], x: &[i8], w: &[i8], zp: i32, taps: &[[usize; 2]]) {
    let n = acc.len();
    let z = _mm512_set1_epi16(zp as i16);
    let mut o = 0;
    while o < n {
        let live = (n - o).min(32);
        let m = tail_mask(live) as __mmask32;
        let (m0, m1) = (lanes16(live), lanes16(live.saturating_sub(16)));
        // SAFETY: the masks cover channels o..o + live <= n of `acc`, and of every tap's `x` and
        // `w` ranges; masked-off lanes are neither read nor written.
        unsafe {
            let mut lo = _mm512_maskz_loadu_epi32(m0, acc.as_ptr().add(o));
            let mut hi = _mm512_maskz_loadu_epi32(m1, acc.as_ptr().add(o + 16));
            for &[xo, wo] in taps {
                let xv = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, x.as_ptr().add(xo + o).cast()));
                let wv = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, w.as_ptr().add(wo + o).cast()));
                let p = _mm512_mullo_epi16(_mm512_sub_epi16(xv, z), wv);
                lo = _mm512_add_epi32(lo, _mm512_cvtepi16_epi32(_mm512_castsi512_si256(p)));
                hi = _mm512_add_epi32(hi, _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64::<1>(p)));
            }
            _mm512_mask_storeu_epi32(acc.as_mut_ptr().add(o), m0, lo);
            _mm512_mask_storeu_epi32(acc.as_mut_ptr().add(o + 16), m1, hi);
        }
        o += 32;
    }
}
