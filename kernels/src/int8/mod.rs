//! int8 kernels for quantised networks: dot products and matrix-vector products with int32
//! accumulators, and TFLite's requantisation (fixed-point multiplier, double rounding).
//!
//! Each public function is the one dispatch point for its kernel: it makes the slice lengths
//! consistent, then runs the best path this CPU or build has. [`scalar`] is the reference; the
//! SIMD paths compute exactly the same integers (wrapping i32 sums are associative, so any
//! summation order gives the same bits).
//!
//! | path | where | how |
//! | --- | --- | --- |
//! | `x86_64::avx512` VNNI | AVX-512 VNNI | `vpdpbusd` on `x ^ 0x80` (unsigned) and the weights, minus `128 * sum(w)` |
//! | `x86_64::avx512` BW | AVX-512 BW | sign-extend to i16, `vpmaddwd` |
//! | `x86_64::avx2` | AVX2 | sign-extend to i16, `vpmaddwd` |
//! | `aarch64::neon` | aarch64 | `smull`/`smull2` (i8 x i8 -> i16), `sadalp` into i32 |
//! | `arm::dsp` | Cortex-M4/M7/M33 (`fvae_arm_dsp`) | `sxtb16` + `smlad`, two MACs per instruction; [`fully_connected`] in assembly |
//! | `wasm32::simd128` | wasm32 built with `+simd128` | sign-extend to i16, `i32x4.dot_i16x8_s` |

pub mod pairs;
mod path;
pub mod scalar;

#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
pub mod aarch64;
#[cfg(all(target_arch = "arm", fvae_arm_dsp))]
pub mod arm;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod wasm32;
#[cfg(target_arch = "x86_64")]
pub mod x86_64;

#[cfg(target_arch = "x86_64")]
use crate::cpu::{x86_level, X86Level};

pub use path::{fully_connected_path, kernel_path, Kernel, Path};
pub use scalar::{
    fc_double, fc_header, fc_row, fc_slot, multiply_by_quantized_multiplier, pack, pack_rows_by, pack_with, packed_len,
    rounding_divide_by_pot, saturating_rounding_doubling_high_mul, FC_HEADER_WORDS, FC_ROW_WORDS, PACK_DEPTH,
    PACK_ROWS,
};

/// Whether [`matvec_packed`] has a SIMD path here that beats [`matvec`] on row-major weights
/// (x86_64 with AVX2 or better, aarch64 with NEON). Where it is false (Cortex-M, scalar targets), models
/// keep their weights row-major in place (in flash) instead of packing a copy into RAM.
///
/// ```
/// let _ = fvae_kernels::int8::prefers_packed();
/// ```
pub fn prefers_packed() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        x86_level() >= X86Level::Avx2Fma
    }
    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    {
        true
    }
    #[cfg(not(any(target_arch = "x86_64", all(target_arch = "aarch64", target_feature = "neon"))))]
    {
        false
    }
}

/// [`matvec_packed`] for `P` input rows at once (one dispatch): `u` is row-major `[P, D]`,
/// `out` row-major `[P, R]` with `R = bias.len()`; `P = out.len() / R`, reduced to what `u`
/// holds. Used for convolutions, whose im2col patches are the input rows.
///
/// ```
/// use fvae_kernels::int8::{matmul_packed, pack, packed_len};
/// let w = [1i8, -1]; // [1, 2]
/// let mut p = vec![0i8; packed_len(1, 2)];
/// pack(&w, 1, 2, &mut p);
/// let mut out = [0; 3];
/// matmul_packed(&[5, 2, 0, 9, 7, 7], 2, &p, &[1], &mut out);
/// assert_eq!(out, [4, -8, 1]);
/// ```
pub fn matmul_packed(u: &[u8], d: usize, packed: &[i8], bias: &[i32], out: &mut [i32]) {
    let r = bias.len();
    if r == 0 || packed_len(r, d) > packed.len() {
        return;
    }
    let p = (out.len() / r).min(u.len().checked_div(d).unwrap_or(usize::MAX));
    // Rows by output chunk: with D = 0 every row is empty (and gets its bias), which
    // `u.chunks_exact` would not yield at all.
    // `get`: `p` fits both, which the optimiser cannot see through the divisions (never `None`).
    let (Some(u), Some(out)) = (u.get(..p * d), out.get_mut(..p * r)) else { return };
    let mut rows = |f: &dyn Fn(&[u8], &mut [i32])| {
        for (i, o) in out.chunks_exact_mut(r).enumerate() {
            f(u.get(i * d..(i + 1) * d).unwrap_or(&[]), o)
        }
    };
    #[cfg(target_arch = "x86_64")]
    match x86_level() {
        // SAFETY: x86_level() reports a level only where the CPU and OS have its features;
        // each row has D inputs, R outputs and `packed` holds packed_len(R, D) bytes (checked
        // above).
        X86Level::Avx512Vnni => {
            // Four rows per pass share each weight load; the last `p % 4` rows go one by one.
            let quads = p / 4;
            for (x, o) in
                u.chunks_exact(4 * d.max(1)).zip(out.chunks_exact_mut(4 * r)).take(if d == 0 { 0 } else { quads })
            {
                // SAFETY: as above; `x` holds 4 rows of D, `o` 4 rows of R.
                unsafe { x86_64::avx512::matmul4_packed_vnni(x, d, packed, bias, o) }
            }
            let done = if d == 0 { 0 } else { quads * 4 };
            for i in done..p {
                let (Some(x), Some(o)) = (u.get(i * d..(i + 1) * d), out.get_mut(i * r..(i + 1) * r)) else { return };
                // SAFETY: as above.
                unsafe { x86_64::avx512::matvec_packed_vnni(x, packed, bias, o) }
            }
            return;
        }
        X86Level::Avx512 | X86Level::Avx2Fma => {
            // Four rows per pass share each widened weight chunk, as above.
            let quads = if d == 0 { 0 } else { p / 4 };
            for (x, o) in u.chunks_exact(4 * d.max(1)).zip(out.chunks_exact_mut(4 * r)).take(quads) {
                // SAFETY: as above; `x` holds 4 rows of D, `o` 4 rows of R.
                unsafe { x86_64::avx2::matmul4_packed(x, d, packed, bias, o) }
            }
            for i in quads * 4..p {
                let (Some(x), Some(o)) = (u.get(i * d..(i + 1) * d), out.get_mut(i * r..(i + 1) * r)) else { return };
                // SAFETY: as above.
                unsafe { x86_64::avx2::matvec_packed(x, packed, bias, o) }
            }
            return;
        }
        X86Level::Sse2 => {}
    }
    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    {
        return rows(&|x, o| aarch64::neon::matvec_packed(x, packed, bias, o));
    }
    #[allow(unreachable_code)]
    rows(&|x, o| scalar::matvec_packed(x, packed, bias, o))
}

/// Matrix-vector product on [`pack`]ed weights with unsigned inputs:
/// `out[r] = bias[r] + sum_j u[j] * w[r][j]`, `u` being the int8 input plus 128 (`x ^ 0x80`),
/// wrapping i32. Callers fold `-128 * sum_j w[r][j]` into the bias to get the signed product.
///
/// `R = out.len()`, reduced to what `bias` holds and `packed` holds for `D = u.len()`.
///
/// ```
/// use fvae_kernels::int8::{matvec_packed, pack, packed_len};
/// let w = [1i8, 2, 3, -4, 5, 6]; // [2, 3]
/// let mut p = vec![0i8; packed_len(2, 3)];
/// pack(&w, 2, 3, &mut p);
/// let mut out = [0; 2];
/// matvec_packed(&[1, 1, 2], &p, &[0, 100], &mut out);
/// assert_eq!(out, [1 + 2 + 6, 100 - 4 + 5 + 12]);
/// ```
pub fn matvec_packed(u: &[u8], packed: &[i8], bias: &[i32], out: &mut [i32]) {
    let d = u.len();
    let mut rows = out.len().min(bias.len());
    while rows > 0 && packed_len(rows, d) > packed.len() {
        rows -= 1;
    }
    let (Some(bias), Some(out)) = (bias.get(..rows), out.get_mut(..rows)) else { return };
    #[cfg(target_arch = "x86_64")]
    match x86_level() {
        // SAFETY: x86_level() reports a level only where the CPU and OS have its features;
        // lengths consistent (made so above).
        X86Level::Avx512Vnni => return unsafe { x86_64::avx512::matvec_packed_vnni(u, packed, bias, out) },
        // SAFETY: as above.
        X86Level::Avx512 | X86Level::Avx2Fma => return unsafe { x86_64::avx2::matvec_packed(u, packed, bias, out) },
        X86Level::Sse2 => {}
    }
    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    {
        return aarch64::neon::matvec_packed(u, packed, bias, out);
    }
    #[allow(unreachable_code)]
    scalar::matvec_packed(u, packed, bias, out)
}

/// The int8 path the kernels take here, for logs and benchmarks.
///
/// ```
/// let p = fvae_kernels::int8::path_name();
/// assert!(["scalar", "avx2", "avx512bw", "avx512vnni", "neon", "arm-dsp", "simd128"].contains(&p));
/// ```
pub fn path_name() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        match x86_level() {
            X86Level::Avx512Vnni => "avx512vnni",
            X86Level::Avx512 => "avx512bw",
            X86Level::Avx2Fma => "avx2",
            X86Level::Sse2 => "scalar",
        }
    }
    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    {
        "neon"
    }
    #[cfg(all(target_arch = "arm", fvae_arm_dsp))]
    {
        "arm-dsp"
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        "simd128"
    }
    #[cfg(not(any(
        target_arch = "x86_64",
        all(target_arch = "aarch64", target_feature = "neon"),
        all(target_arch = "arm", fvae_arm_dsp),
        all(target_arch = "wasm32", target_feature = "simd128")
    )))]
    {
        "scalar"
    }
}

/// `sum_j a[j] * b[j]` over the shorter of the two lengths, as a wrapping i32 sum.
///
/// ```
/// assert_eq!(fvae_kernels::int8::dot(&[1, -2, 3], &[4, 5, -6, 100]), 4 - 10 - 18);
/// ```
pub fn dot(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    #[cfg(target_arch = "x86_64")]
    match x86_level() {
        // SAFETY: x86_level() reports a level only where the CPU and OS have its features.
        X86Level::Avx512Vnni => return unsafe { x86_64::avx512::dot_vnni(a, b) },
        // SAFETY: as above.
        X86Level::Avx512 => return unsafe { x86_64::avx512::dot_bw(a, b) },
        // SAFETY: as above.
        X86Level::Avx2Fma => return unsafe { x86_64::avx2::dot(a, b) },
        X86Level::Sse2 => {}
    }
    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    {
        return aarch64::neon::dot(a, b);
    }
    #[cfg(all(target_arch = "arm", fvae_arm_dsp))]
    {
        return arm::dsp::dot(a, b);
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        // SAFETY: the build enables simd128.
        return unsafe { wasm32::simd128::dot(a, b) };
    }
    #[allow(unreachable_code)]
    scalar::dot(a, b)
}

/// Matrix-vector product with bias: `out[r] = bias[r] + sum_j x[j] * w[r * D + j]` for
/// `D = x.len()`, `w` row-major `[R, D]` (TFLite's `[out, in]` weight layout). Wrapping i32.
///
/// `R` is `out.len()`, reduced to the rows `w` and `bias` hold; the rest of `out` is left
/// unchanged.
///
/// ```
/// let x = [1, 2];
/// let w = [1, 1, -3, 4];
/// let mut out = [0; 2];
/// fvae_kernels::int8::matvec(&x, &w, &[10, 0], &mut out);
/// assert_eq!(out, [13, 5]);
/// ```
pub fn matvec(x: &[i8], w: &[i8], bias: &[i32], out: &mut [i32]) {
    let d = x.len();
    let rows = out.len().min(bias.len()).min(w.len().checked_div(d).unwrap_or(usize::MAX));
    // `get`: `rows` fits every slice, which the optimiser cannot see through the division (never `None`).
    let (Some(w), Some(bias), Some(out)) = (w.get(..rows * d), bias.get(..rows), out.get_mut(..rows)) else { return };
    #[cfg(target_arch = "x86_64")]
    match x86_level() {
        // SAFETY: x86_level() reports a level only where the CPU and OS have its features;
        // lengths consistent (made so above).
        X86Level::Avx512Vnni => return unsafe { x86_64::avx512::matvec_vnni(x, w, bias, out) },
        // SAFETY: as above.
        X86Level::Avx512 => return unsafe { x86_64::avx512::matvec_bw(x, w, bias, out) },
        // SAFETY: as above.
        X86Level::Avx2Fma => return unsafe { x86_64::avx2::matvec(x, w, bias, out) },
        X86Level::Sse2 => {}
    }
    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    {
        return aarch64::neon::matvec(x, w, bias, out);
    }
    #[cfg(all(target_arch = "arm", fvae_arm_dsp))]
    {
        return arm::dsp::matvec(x, w, bias, out);
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        // SAFETY: the build enables simd128; lengths consistent (made so above).
        return unsafe { wasm32::simd128::matvec(x, w, bias, out) };
    }
    #[allow(unreachable_code)]
    scalar::matvec(x, w, bias, out)
}

/// TFLite requantisation of int32 accumulators to int8:
/// `out[i] = clamp(zero_point + MultiplyByQuantizedMultiplier(acc[i], mult[c], shift[c]), min, max)`
/// with channel `c = i % mult.len()` (one multiplier for per-tensor, one per output channel
/// for per-channel quantisation, channels innermost as in NHWC).
///
/// `mult` and `shift` are cut to their common length; if that is 0, or the clamp range (intersected
/// with i8) is empty, nothing is written. `out.len()` is reduced to `acc.len()`.
///
/// ```
/// let mut out = [0i8; 3];
/// // Multiplier 0.5 (1 << 30 with shift 0), zero point -1, clamp to [-128, 127].
/// fvae_kernels::int8::requantize(&[10, 301, -7], &[1 << 30], &[0], -1, -128, 127, &mut out);
/// // -7 * 0.5 = -3.5: the high multiply rounds negative ties toward zero, to -3.
/// assert_eq!(out, [4, 127, -4]);
/// ```
pub fn requantize(acc: &[i32], mult: &[i32], shift: &[i32], zero_point: i32, min: i32, max: i32, out: &mut [i8]) {
    let c = mult.len().min(shift.len());
    let (lo, hi) = (min.max(-128), max.min(127));
    if c == 0 || lo > hi {
        return;
    }
    let n = out.len().min(acc.len());
    let (acc, mult, shift, out) = (&acc[..n], &mult[..c], &shift[..c], &mut out[..n]);
    // The SIMD paths take one multiplier, one per element, or whole groups of their lane count.
    #[cfg(target_arch = "x86_64")]
    let (lanes16, lanes8) = (
        c == 1 || c == n || (n.is_multiple_of(c) && c.is_multiple_of(16)),
        c == 1 || c == n || (n.is_multiple_of(c) && c.is_multiple_of(8)),
    );
    #[cfg(target_arch = "x86_64")]
    match x86_level() {
        // SAFETY: x86_level() reports a level only where the CPU and OS have its features;
        // lengths consistent and clamp range inside i8 (made so above).
        X86Level::Avx512 | X86Level::Avx512Vnni if lanes16 => {
            return unsafe { x86_64::avx512::requantize(acc, mult, shift, zero_point, lo, hi, out) }
        }
        // SAFETY: as above (every AVX-512 level includes AVX2).
        X86Level::Avx512 | X86Level::Avx512Vnni | X86Level::Avx2Fma if lanes8 => {
            return unsafe { x86_64::avx2::requantize(acc, mult, shift, zero_point, lo, hi, out) }
        }
        _ => {}
    }
    // Cortex-M: whole groups of `c` channels in requantize_channels' fewer steps (the same integers).
    #[cfg(target_arch = "arm")]
    if n.is_multiple_of(c) {
        for (a, o) in acc.chunks_exact(c).zip(out.chunks_exact_mut(c)) {
            scalar::requantize_channels(a, mult, shift, zero_point, lo, hi, o);
        }
        return;
    }
    scalar::requantize(acc, mult, shift, zero_point, lo, hi, out)
}

/// `i32` words of scratch [`fully_connected`] uses for an input of `d` elements (the input
/// widened to i16 pairs once per call, for the Cortex-M DSP kernel).
///
/// ```
/// assert_eq!(fvae_kernels::int8::fc_scratch_words(64), 32);
/// ```
pub const fn fc_scratch_words(d: usize) -> usize {
    d.div_ceil(2)
}

/// A whole int8 fully-connected layer for one input row, requantised:
/// `out[r] = clamp(zp + MultiplyByQuantizedMultiplier(bias[r] + sum_j x[j] w[r * D + j], mult[r],
/// shift[r]), min, max)`, `D = x.len()`, `w` row-major `[R, D]`, with the per-row constants
/// prepared once in `params`: the [`fc_header`], then one [`fc_row`] per output row, possibly
/// rewritten by [`fc_double`]. Wrapping i32 sums, TFLite's rounding: bit-exact with [`matvec`]
/// followed by [`requantize`].
///
/// `R = out.len()`, reduced to the rows `w` and `params` hold. Nothing is written if the clamp
/// range (intersected with i8) is empty. `scratch` ([`fc_scratch_words`]`(D)` words) is where the
/// Cortex-M DSP path widens the input; elsewhere, or if it is shorter, it is not used.
///
/// On Cortex-M with the DSP extension (`fvae_arm_dsp`) this is one assembly loop (two rows per
/// pass, `smlad` on weights read 8 bytes per `ldm`, the requantisation fused) when the
/// parameters are doubled for all `R` rows and `D` is a multiple of 8, wherever `w` is (the
/// weights are read with unaligned word loads, so a model from a bare `include_bytes!` takes it);
/// with `D` a multiple of 4 only, the same arithmetic row by row.
///
/// ```
/// use fvae_kernels::int8::{fc_header, fc_row, fully_connected};
/// // Multiplier 0.25 (1 << 30 is 0.5, shift -1 halves it), zero point 3.
/// let mut params = fc_header(3).to_vec();
/// params.extend(fc_row(10, 1 << 30, -1));
/// params.extend(fc_row(0, 1 << 30, -1));
/// let mut out = [0i8; 2];
/// fully_connected(&[1, 2], &[4, 4, -8, 0], &params, -128, 127, &mut [], &mut out);
/// // (10 + 12) * 0.25 = 5.5 -> 6, + 3; -8 * 0.25 = -2, + 3.
/// assert_eq!(out, [9, 1]);
/// ```
pub fn fully_connected(x: &[i8], w: &[i8], params: &[i32], min: i32, max: i32, scratch: &mut [i32], out: &mut [i8]) {
    let d = x.len();
    let (lo, hi) = (min.max(-128), max.min(127));
    let in_params = params.len().saturating_sub(FC_HEADER_WORDS) / FC_ROW_WORDS;
    let rows = out.len().min(in_params).min(w.len().checked_div(d).unwrap_or(usize::MAX));
    if lo > hi || rows == 0 {
        return;
    }
    // `get` (never `None`: `rows` fits both), so no index below is left to panic.
    let (Some(w), Some(out)) = (w.get(..rows * d), out.get_mut(..rows)) else { return };
    #[cfg(all(target_arch = "arm", fvae_arm_dsp))]
    if let (Some(&doubled), Some(rows_params), Some(widened)) =
        (params.first(), params.get(FC_HEADER_WORDS..), scratch.get_mut(..d / 2))
    {
        if doubled as usize == rows && rows >= 2 && d.is_multiple_of(8) && d > 0 {
            let even = rows & !1;
            // SAFETY: D is a non-zero multiple of 8, `w` holds `rows` rows,
            // `params` holds `rows` doubled rows in fc_slot order, `widened` D / 2 words (checked).
            unsafe { arm::dsp::fully_connected_pairs(x, w, rows_params, widened, out) };
            if let Some(odd) = out.get_mut(even..).filter(|o| !o.is_empty()) {
                scalar::fully_connected_from(even, x, w, params, lo, hi, odd, scalar::dot);
            }
            // The assembly saturates to i8; a fused activation narrows that further.
            if (lo, hi) != (-128, 127) {
                for o in out.iter_mut().take(even) {
                    *o = (*o as i32).clamp(lo, hi) as i8;
                }
            }
            return;
        }
        if doubled as usize == rows && d.is_multiple_of(4) && d > 0 {
            // A multiple of 4 only (a small latent input): row by row, the same arithmetic.
            arm::dsp::fully_connected_by4(x, w, rows_params, widened, out);
            if (lo, hi) != (-128, 127) {
                for o in out.iter_mut() {
                    *o = (*o as i32).clamp(lo, hi) as i8;
                }
            }
            return;
        }
    }
    let _ = scratch;
    fully_connected_rows(x, w, params, lo, hi, out)
}

/// [`fully_connected`] as the reference's loop, with the dispatched dot product (SIMD where there
/// is one). Out of line, so that the DSP path's caller stays small.
#[inline(never)]
fn fully_connected_rows(x: &[i8], w: &[i8], params: &[i32], lo: i32, hi: i32, out: &mut [i8]) {
    scalar::fully_connected_from(0, x, w, params, lo, hi, out, dot)
}

/// One output pixel of a depthwise convolution: for every tap `[xo, wo]` (an input pixel's
/// channels at `x[xo..]`, the filter tap's at `w[wo..]`), `acc[o] += (x[xo + o] - zp) * w[wo + o]`
/// for every channel `o < acc.len()`, wrapping i32 (accumulated into what `acc` holds: the bias,
/// or earlier taps).
///
/// Returns false, changing nothing, if a tap reaches past `x` or `w`. `zp` is an int8 zero
/// point; outside -128..=127 the reference runs.
///
/// ```
/// let mut acc = [10, 0];
/// let x = [3i8, 4, 5, 6]; // two pixels of two channels
/// let w = [1i8, -1, 2, 2]; // two taps
/// assert!(fvae_kernels::int8::depthwise_taps(&mut acc, &x, &w, 1, &[[0, 0], [2, 2]]));
/// assert_eq!(acc, [10 + 2 + 8, -3 + 10]);
/// ```
pub fn depthwise_taps(acc: &mut [i32], x: &[i8], w: &[i8], zp: i32, taps: &[[usize; 2]]) -> bool {
    let n = acc.len();
    let inside = |start: usize, len: usize| start.checked_add(n).is_some_and(|e| e <= len);
    if !taps.iter().all(|&[xo, wo]| inside(xo, x.len()) && inside(wo, w.len())) {
        return false;
    }
    let i8_zp = (-128..=127).contains(&zp);
    #[cfg(target_arch = "x86_64")]
    match x86_level() {
        // SAFETY: x86_level() reports a level only where the CPU and OS have its features; every
        // tap is inside `x` and `w` and the zero point is an int8 value (checked above).
        X86Level::Avx512 | X86Level::Avx512Vnni if i8_zp => {
            unsafe { x86_64::avx512::depthwise_taps(acc, x, w, zp, taps) };
            return true;
        }
        // SAFETY: as above.
        X86Level::Avx2Fma if i8_zp => {
            unsafe { x86_64::avx2::depthwise_taps(acc, x, w, zp, taps) };
            return true;
        }
        _ => {}
    }
    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    if i8_zp {
        aarch64::neon::depthwise_taps(acc, x, w, zp, taps);
        return true;
    }
    let _ = i8_zp;
    scalar::depthwise_taps(acc, x, w, zp, taps);
    true
}

#[cfg(test)]
mod tests;
