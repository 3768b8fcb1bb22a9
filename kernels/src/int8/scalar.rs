//! The scalar reference for the int8 kernels: TFLite's integer arithmetic written plainly.
//! Every SIMD path is tested against these functions.

/// gemmlowp's `SaturatingRoundingDoublingHighMul`: `round(a * b / 2^31)` with ties away from
/// zero, saturating the one overflowing case `a == b == i32::MIN` to `i32::MAX` (as ARM's
/// `VQRDMULH`).
///
/// ```
/// use fvae_kernels::int8::scalar::saturating_rounding_doubling_high_mul as srdhm;
/// assert_eq!(srdhm(1 << 30, 1 << 30), 1 << 29);
/// assert_eq!(srdhm(i32::MIN, i32::MIN), i32::MAX);
/// ```
#[inline]
pub fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == b && a == i32::MIN {
        return i32::MAX;
    }
    let ab = a as i64 * b as i64;
    let nudge = if ab >= 0 { 1i64 << 30 } else { 1 - (1i64 << 30) };
    // Division truncating toward zero, as C++'s `/`.
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// gemmlowp's `RoundingDivideByPOT`: `x / 2^exponent` rounded to nearest, ties away from zero.
/// `exponent` is taken modulo 32 (callers keep it in 0..=31).
///
/// ```
/// use fvae_kernels::int8::scalar::rounding_divide_by_pot as rdbp;
/// assert_eq!((rdbp(5, 1), rdbp(-5, 1), rdbp(7, 2), rdbp(-6, 2)), (3, -3, 2, -2));
/// ```
#[inline]
pub fn rounding_divide_by_pot(x: i32, exponent: i32) -> i32 {
    let exponent = (exponent & 31) as u32;
    let mask = ((1i64 << exponent) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + (x < 0) as i32;
    (x >> exponent) + (remainder > threshold) as i32
}

/// TFLite's `MultiplyByQuantizedMultiplier` with the default double rounding: a left shift
/// for a positive `shift` (wrapping, as the C++ does in practice), then
/// [`saturating_rounding_doubling_high_mul`], then [`rounding_divide_by_pot`] for a negative
/// `shift`. The real factor is `multiplier / 2^31 * 2^shift`.
///
/// ```
/// use fvae_kernels::int8::scalar::multiply_by_quantized_multiplier as mbqm;
/// // 0.75 = (3 << 29) / 2^31 * 2^0: 100 * 0.75 = 75.
/// assert_eq!(mbqm(100, 3 << 29, 0), 75);
/// // 0.375 = 0.75 * 2^-1: 10 * 0.375 = 3.75 -> 4.
/// assert_eq!(mbqm(10, 3 << 29, -1), 4);
/// ```
#[inline]
pub fn multiply_by_quantized_multiplier(x: i32, multiplier: i32, shift: i32) -> i32 {
    let left = if shift > 0 { shift } else { 0 };
    let right = if shift > 0 { 0 } else { -shift };
    let x = x.wrapping_mul(1i32.wrapping_shl(left as u32));
    rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x, multiplier), right)
}

/// `sum_j a[j] * b[j]` over the shorter length, wrapping in i32 like TFLite's accumulators.
pub fn dot(a: &[i8], b: &[i8]) -> i32 {
    a.iter().zip(b).fold(0i32, |acc, (&x, &y)| acc.wrapping_add(x as i32 * y as i32))
}

/// `out[r] = bias[r] + sum_j x[j] * w[r * D + j]` with `D = x.len()` (wrapping). Callers
/// guarantee `w.len() >= out.len() * D` and `bias.len() >= out.len()`.
pub fn matvec(x: &[i8], w: &[i8], bias: &[i32], out: &mut [i32]) {
    let d = x.len();
    for (r, o) in out.iter_mut().enumerate() {
        *o = bias[r].wrapping_add(dot(x, &w[r * d..r * d + d]));
    }
}

/// `out[i] = clamp(zero_point + multiply_by_quantized_multiplier(acc[i], mult[c], shift[c]),
/// min, max)` with `c = i % channels` (`channels = mult.len()`). Callers guarantee
/// `mult.len() == shift.len() >= 1` and `acc.len() >= out.len()`.
pub fn requantize(acc: &[i32], mult: &[i32], shift: &[i32], zero_point: i32, min: i32, max: i32, out: &mut [i8]) {
    let channels = mult.len();
    for (i, o) in out.iter_mut().enumerate() {
        let c = i % channels;
        let v = multiply_by_quantized_multiplier(acc[i], mult[c], shift[c]).wrapping_add(zero_point);
        *o = v.clamp(min, max) as i8;
    }
}

/// Rows per block of the packed weight layout.
pub const PACK_ROWS: usize = 16;
/// Depth (input elements) per group of the packed weight layout.
pub const PACK_DEPTH: usize = 4;

/// Bytes of the packed layout of a `[rows, d]` weight matrix.
pub const fn packed_len(rows: usize, d: usize) -> usize {
    rows.div_ceil(PACK_ROWS) * PACK_ROWS * d.div_ceil(PACK_DEPTH) * PACK_DEPTH
}

/// Packs row-major `w` `[rows, d]` into blocks of 16 rows: for each block, for each group of 4
/// inputs, the 4 weights of row 0, then of row 1, ... of row 15 (64 bytes, zero-padded past
/// the last row or input). One 64-byte load then feeds 16 output rows x 4 inputs, so the SIMD
/// paths accumulate whole output vectors with no horizontal sums.
pub fn pack(w: &[i8], rows: usize, d: usize, out: &mut [i8]) {
    pack_rows_by(w, rows, d, |r| r, out)
}

/// [`pack`] with the rows reordered: packed row `r` is row `src_row(r)` of `w` (rows past the
/// end of `w` read as zeros).
pub fn pack_rows_by(w: &[i8], rows: usize, d: usize, src_row: impl Fn(usize) -> usize, out: &mut [i8]) {
    let groups = d.div_ceil(PACK_DEPTH);
    for (i, o) in out.iter_mut().enumerate() {
        let block = i / (groups * PACK_ROWS * PACK_DEPTH);
        let rem = i % (groups * PACK_ROWS * PACK_DEPTH);
        let (g, rem) = (rem / (PACK_ROWS * PACK_DEPTH), rem % (PACK_ROWS * PACK_DEPTH));
        let (r, k) = (block * PACK_ROWS + rem / PACK_DEPTH, g * PACK_DEPTH + rem % PACK_DEPTH);
        *o = if r < rows && k < d { w.get(src_row(r) * d + k).copied().unwrap_or(0) } else { 0 };
    }
}

/// `out[r] = bias[r] + sum_j u[j] * w[r][j]` with unsigned inputs `u` and `w` in the
/// [`pack`]ed layout. Callers guarantee `packed.len() >= packed_len(out.len(), u.len())` and
/// `bias.len() >= out.len()`.
pub fn matvec_packed(u: &[u8], packed: &[i8], bias: &[i32], out: &mut [i32]) {
    let d = u.len();
    let groups = d.div_ceil(PACK_DEPTH);
    for (r, o) in out.iter_mut().enumerate() {
        let base = (r / PACK_ROWS) * groups * PACK_ROWS * PACK_DEPTH + (r % PACK_ROWS) * PACK_DEPTH;
        let mut acc = bias[r];
        for (j, &x) in u.iter().enumerate() {
            let w = packed[base + (j / PACK_DEPTH) * PACK_ROWS * PACK_DEPTH + j % PACK_DEPTH];
            acc = acc.wrapping_add(x as i32 * w as i32);
        }
        *o = acc;
    }
}

/// Words before the rows in the prepared parameters of [`fully_connected`]: the form, then the
/// output zero point.
pub const FC_HEADER_WORDS: usize = 2;
/// Words per output row in the prepared parameters of [`fully_connected`].
pub const FC_ROW_WORDS: usize = 4;
/// Header form: rows are `[bias, multiplier, shift, 0]`.
pub(crate) const FC_PLAIN: i32 = 0;
/// Header form: rows are `[2 bias, multiplier, e - 1, (1 + 2 zero_point) << (e - 1)]` with the right
/// shift `e = -shift >= 1` (the form the Cortex-M DSP kernel computes with; see `arm::dsp`).
pub(crate) const FC_DOUBLED: i32 = 1;

/// Whether a row's parameters fit the doubled form, given the row's weights `w`: every
/// partial sum of `2 (bias + sum_j x[j] w[j])` fits in i32 for any int8 input (`|bias| + 128
/// sum_j |w[j]| < 2^30`), the multiplier is not negative, the right shift is 1..=30 and the
/// rounding-and-zero-point term fits in 2^29.
///
/// ```
/// use fvae_kernels::int8::fc_row_doubles;
/// assert!(fc_row_doubles(1000, 1 << 30, -7, -128, &[127; 64]));
/// assert!(!fc_row_doubles(1000, 1 << 30, 0, -128, &[127; 64])); // no right shift
/// assert!(!fc_row_doubles(1 << 29, 1 << 30, -7, 0, &[-128; 40000])); // sums may overflow
/// ```
pub fn fc_row_doubles(bias: i32, mult: i32, shift: i32, zero_point: i32, w: &[i8]) -> bool {
    let k = (1 + 2 * zero_point as i64) << (-(shift as i64) - 1).clamp(0, 40);
    let bound = (bias as i64).abs() + 128 * w.iter().map(|&v| (v as i64).abs()).sum::<i64>();
    bound < 1 << 30 && mult >= 0 && (-30..=-1).contains(&shift) && k.abs() <= 1 << 29
}

/// The header of the prepared parameters: the form (doubled if every row
/// [`fc_row_doubles`]) and the output zero point.
pub fn fc_header(doubled: bool, zero_point: i32) -> [i32; FC_HEADER_WORDS] {
    [if doubled { FC_DOUBLED } else { FC_PLAIN }, zero_point]
}

/// One row of the prepared parameters (`doubled` as in the header; a row that does not
/// [`fc_row_doubles`] must not be written doubled).
pub fn fc_row(bias: i32, mult: i32, shift: i32, zero_point: i32, doubled: bool) -> [i32; FC_ROW_WORDS] {
    if doubled {
        let e1 = -shift - 1;
        [bias.wrapping_mul(2), mult, e1, (1 + 2 * zero_point).wrapping_shl(e1 as u32)]
    } else {
        [bias, mult, shift, 0]
    }
}

/// Row `r`'s `(bias, multiplier, shift)` decoded from the prepared parameters.
#[inline]
pub(crate) fn fc_decode(header: i32, row: &[i32]) -> (i32, i32, i32) {
    if header == FC_DOUBLED {
        (row[0] >> 1, row[1], -row[2] - 1)
    } else {
        (row[0], row[1], row[2])
    }
}

/// Fused fully-connected layer: `out[r] = clamp(zp + multiply_by_quantized_multiplier(bias[r] +
/// sum_j x[j] w[r * D + j], mult[r], shift[r]), min, max)` with the prepared parameters
/// `params` (header, then rows). Callers guarantee `w.len() >= out.len() * D`,
/// `params.len() >= FC_HEADER_WORDS + out.len() * FC_ROW_WORDS` and `-128 <= min <= max <= 127`.
pub fn fully_connected(x: &[i8], w: &[i8], params: &[i32], min: i32, max: i32, out: &mut [i8]) {
    let d = x.len();
    let (header, zp) = (params[0], params[1]);
    for (r, o) in out.iter_mut().enumerate() {
        let row = &params[FC_HEADER_WORDS + r * FC_ROW_WORDS..FC_HEADER_WORDS + (r + 1) * FC_ROW_WORDS];
        let (bias, mult, shift) = fc_decode(header, row);
        let acc = bias.wrapping_add(dot(x, &w[r * d..r * d + d]));
        let v = multiply_by_quantized_multiplier(acc, mult, shift).wrapping_add(zp);
        *o = v.clamp(min, max) as i8;
    }
}
