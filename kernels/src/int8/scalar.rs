//! The scalar reference for the int8 kernels: TFLite's integer arithmetic written plainly.
//! Every SIMD path is tested against these functions.

/// gemmlowp's `SaturatingRoundingDoublingHighMul`: `round(a * b / 2^31)` with ties rounded up
/// (away from zero for a positive product, toward zero for a negative one: gemmlowp's nudge),
/// saturating the one overflowing case `a == b == i32::MIN` to `i32::MAX` (as ARM's
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
    // In u32 (2^31 - 1 for 31): an i64 shift by a variable is a library call on 32-bit cores.
    let mask = 1u32.wrapping_shl(exponent).wrapping_sub(1) as i32;
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
    // Wrapping: `-i32::MIN` overflowed (a debug-build panic); every shift is taken modulo 32 below.
    let right = if shift > 0 { 0 } else { shift.wrapping_neg() };
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
    for (r, (o, &b)) in out.iter_mut().zip(bias).enumerate() {
        // `get`: the callers' guarantee makes it `Some`, which the optimiser cannot see.
        let Some(row) = w.get(r * d..r * d + d) else { return };
        *o = b.wrapping_add(dot(x, row));
    }
}

/// `out[i] = clamp(zero_point + multiply_by_quantized_multiplier(acc[i], mult[c], shift[c]),
/// min, max)` with `c = i % channels` (`channels = mult.len()`). Callers guarantee
/// `mult.len() == shift.len() >= 1` and `acc.len() >= out.len()`.
pub fn requantize(acc: &[i32], mult: &[i32], shift: &[i32], zero_point: i32, min: i32, max: i32, out: &mut [i8]) {
    let channels = mult.len().max(1);
    for (i, (o, &a)) in out.iter_mut().zip(acc).enumerate() {
        let c = i % channels;
        // (in range by the callers' guarantee: `get` keeps the check out of the no-panic image)
        let (Some(&m), Some(&s)) = (mult.get(c), shift.get(c)) else { return };
        let v = multiply_by_quantized_multiplier(a, m, s).wrapping_add(zero_point);
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
    pack_with(rows, d, |r, k| w.get(src_row(r) * d + k).copied().unwrap_or(0), out)
}

/// [`pack`] of the `[rows, d]` matrix whose element `(r, k)` is `at(r, k)` (a filter gathered
/// from another layout, without a row-major copy).
///
/// ```
/// use fvae_kernels::int8::{pack, pack_with, packed_len};
/// let w = [1i8, 2, 3, 4, 5, 6]; // [2, 3], here given as its transpose [3, 2]
/// let (mut a, mut b) = (vec![0i8; packed_len(2, 3)], vec![0i8; packed_len(2, 3)]);
/// pack(&w, 2, 3, &mut a);
/// let t = [1i8, 4, 2, 5, 3, 6];
/// pack_with(2, 3, |r, k| t[k * 2 + r], &mut b);
/// assert_eq!(a, b);
/// ```
pub fn pack_with(rows: usize, d: usize, at: impl Fn(usize, usize) -> i8, out: &mut [i8]) {
    let groups = d.div_ceil(PACK_DEPTH);
    for (i, o) in out.iter_mut().enumerate() {
        // `checked_`: with `d == 0` there is no block (and every value below is 0, as `k < d` fails).
        let block = i.checked_div(groups * PACK_ROWS * PACK_DEPTH).unwrap_or(0);
        let rem = i.checked_rem(groups * PACK_ROWS * PACK_DEPTH).unwrap_or(0);
        let (g, rem) = (rem / (PACK_ROWS * PACK_DEPTH), rem % (PACK_ROWS * PACK_DEPTH));
        let (r, k) = (block * PACK_ROWS + rem / PACK_DEPTH, g * PACK_DEPTH + rem % PACK_DEPTH);
        *o = if r < rows && k < d { at(r, k) } else { 0 };
    }
}

/// `out[r] = bias[r] + sum_j u[j] * w[r][j]` with unsigned inputs `u` and `w` in the
/// [`pack`]ed layout. Callers guarantee `packed.len() >= packed_len(out.len(), u.len())` and
/// `bias.len() >= out.len()`.
pub fn matvec_packed(u: &[u8], packed: &[i8], bias: &[i32], out: &mut [i32]) {
    let d = u.len();
    let groups = d.div_ceil(PACK_DEPTH);
    let block = groups * PACK_ROWS * PACK_DEPTH;
    for (r, (o, &b)) in out.iter_mut().zip(bias).enumerate() {
        // `get`, chunks and `zip`: the caller's guarantee makes `rows` `Some`, which the
        // optimiser cannot see; the row's 4 weights per group are then proven in range.
        let Some(rows) = packed.get((r / PACK_ROWS) * block..(r / PACK_ROWS + 1) * block) else { return };
        let lane = (r % PACK_ROWS) * PACK_DEPTH;
        let mut acc = b;
        for (g, xs) in rows.chunks_exact(PACK_ROWS * PACK_DEPTH).zip(u.chunks(PACK_DEPTH)) {
            let Some(ws) = g.get(lane..lane + PACK_DEPTH) else { return };
            for (&x, &w) in xs.iter().zip(ws) {
                acc = acc.wrapping_add(x as i32 * w as i32);
            }
        }
        *o = acc;
    }
}

/// Words before the rows in the prepared parameters of [`fully_connected`]: the form, then the
/// output zero point.
pub const FC_HEADER_WORDS: usize = 2;
/// Words per output row in the prepared parameters of [`fully_connected`].
pub const FC_ROW_WORDS: usize = 4;

/// The header of prepared fully-connected parameters (the plain form: rows `[bias, multiplier,
/// shift, 0]` in row order, as [`fc_row`] writes them).
pub fn fc_header(zero_point: i32) -> [i32; FC_HEADER_WORDS] {
    [0, zero_point]
}

/// One row of prepared fully-connected parameters, plain form.
pub fn fc_row(bias: i32, mult: i32, shift: i32) -> [i32; FC_ROW_WORDS] {
    [bias, mult, shift, 0]
}

/// Rewrites plain prepared parameters (`rows` rows, header first) into the doubled form the
/// Cortex-M DSP kernel computes with, if every row allows it; returns whether it did. `w` is the
/// layer's weights, row-major `[rows, D]`.
///
/// A row allows it when every partial sum of `2 (bias + sum_j x[j] w[j])` fits in i32 for any
/// int8 input (`|bias| + 128 sum_j |w[j]| < 2^30`), the multiplier is not negative, the right
/// shift `e = -shift` is 1..=30 and `(1 + 2 zp) 2^(e - 1)` fits in 2^29. The doubled form: header
/// word 0 is the row count `n`, and row `r` is `[2 bias, multiplier, e - 1, (1 + 2 zp) << (e - 1)]`
/// at slot [`fc_slot`]`(r, n)` (rows `p` and `p + n / 2` side by side, the order the kernel takes
/// them in).
///
/// ```
/// use fvae_kernels::int8::{fc_double, fc_header, fc_row};
/// let mut p = fc_header(-128).to_vec();
/// p.extend(fc_row(1000, 1 << 30, -7));
/// p.extend(fc_row(-5, 1 << 30, -3));
/// assert!(fc_double(&mut p, &[127; 128]));
/// assert_eq!(&p[..2], &[2, -128]);
/// assert_eq!(&p[2..6], &[2000, 1 << 30, 6, -255 << 6]);
/// let mut q = fc_header(0).to_vec();
/// q.extend(fc_row(1000, 1 << 30, 0)); // no right shift: stays plain
/// assert!(!fc_double(&mut q, &[1; 8]));
/// ```
pub fn fc_double(params: &mut [i32], w: &[i8]) -> bool {
    let rows = params.len().saturating_sub(FC_HEADER_WORDS) / FC_ROW_WORDS;
    let d = w.len().checked_div(rows).unwrap_or(0);
    if params.first() != Some(&0) || d == 0 || rows > i32::MAX as usize {
        return false;
    }
    let Some((head, body)) = params.split_at_mut_checked(FC_HEADER_WORDS) else { return false };
    let zp = head[1] as i64;
    let fits = |p: &[i32], w: &[i8]| {
        let (bias, mult, shift) = (p[0] as i64, p[1], p[2] as i64);
        let k = (1 + 2 * zp) << (-shift - 1).clamp(0, 40);
        let sum = w.iter().map(|&v| (v as i64).abs()).sum::<i64>();
        p[3] == 0 && bias.abs() + 128 * sum < 1 << 30 && mult >= 0 && (-30..=-1).contains(&shift) && k.abs() <= 1 << 29
    };
    if !body.chunks_exact(FC_ROW_WORDS).zip(w.chunks_exact(d)).all(|(p, w)| fits(p, w)) {
        return false;
    }
    // In place, along the cycles of the row -> slot permutation: a doubled row's last word is
    // odd times a power of two, never 0, which marks the slots already written.
    let row_at = |b: &[i32], i: usize| -> [i32; FC_ROW_WORDS] {
        let mut r = [0; FC_ROW_WORDS];
        for (k, v) in r.iter_mut().enumerate() {
            *v = b.get(i * FC_ROW_WORDS + k).copied().unwrap_or(0);
        }
        r
    };
    for start in 0..rows {
        if row_at(body, start)[3] != 0 {
            continue;
        }
        let (mut carry, mut r) = (row_at(body, start), start);
        loop {
            let to = fc_slot(r, rows);
            let next = row_at(body, to);
            let e1 = -carry[2] - 1;
            let new = [2 * carry[0], carry[1], e1, (1 + 2 * zp as i32) << e1];
            for (k, v) in new.into_iter().enumerate() {
                if let Some(slot) = body.get_mut(to * FC_ROW_WORDS + k) {
                    *slot = v;
                }
            }
            if to == start {
                break;
            }
            // Slot `to` held row `to` (plain rows are in row order).
            (carry, r) = (next, to);
        }
    }
    head[0] = rows as i32;
    true
}

/// The slot of row `r` among `n` doubled rows: rows `p` and `p + n / 2` side by side (slots
/// `2p`, `2p + 1`), an odd last row last.
///
/// ```
/// use fvae_kernels::int8::fc_slot;
/// assert_eq!((0..5).map(|r| fc_slot(r, 5)).collect::<Vec<_>>(), [0, 2, 1, 3, 4]);
/// ```
pub fn fc_slot(r: usize, n: usize) -> usize {
    let h = n / 2;
    if r < h {
        2 * r
    } else if r < 2 * h {
        2 * (r - h) + 1
    } else {
        r
    }
}

/// Row `r`'s `(bias, multiplier, shift)` from prepared parameters (either form); `None` past
/// the rows they hold.
#[inline]
pub(crate) fn fc_decode(params: &[i32], r: usize) -> Option<(i32, i32, i32)> {
    let n = *params.first()?;
    let slot = if n == 0 { r } else { fc_slot(r, n as usize) };
    let at = FC_HEADER_WORDS + slot * FC_ROW_WORDS;
    let p = params.get(at..at + 3)?;
    Some(if n == 0 { (p[0], p[1], p[2]) } else { (p[0] >> 1, p[1], -p[2] - 1) })
}

/// Fused fully-connected layer: `out[r] = clamp(zp + multiply_by_quantized_multiplier(bias[r] +
/// sum_j x[j] w[r * D + j], mult[r], shift[r]), min, max)` with the prepared parameters
/// `params` (header, then rows). Callers guarantee `w.len() >= out.len() * D`,
/// `params.len() >= FC_HEADER_WORDS + out.len() * FC_ROW_WORDS` and `-128 <= min <= max <= 127`.
pub fn fully_connected(x: &[i8], w: &[i8], params: &[i32], min: i32, max: i32, out: &mut [i8]) {
    fully_connected_from(0, x, w, params, min, max, out, dot)
}

/// [`fully_connected`] for rows `first..first + out.len()` (`out[0]` is row `first`), with the
/// dot product `dot` (the reference's, or the dispatched one: both exact, so the same bits).
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn fully_connected_from(
    first: usize,
    x: &[i8],
    w: &[i8],
    params: &[i32],
    min: i32,
    max: i32,
    out: &mut [i8],
    dot: impl Fn(&[i8], &[i8]) -> i32,
) {
    let (d, zp) = (x.len(), params.get(1).copied().unwrap_or(0));
    for (r, o) in (first..).zip(out.iter_mut()) {
        let (Some((bias, mult, shift)), Some(row)) = (fc_decode(params, r), w.get(r * d..r * d + d)) else {
            return;
        };
        let acc = bias.wrapping_add(dot(x, row));
        let v = multiply_by_quantized_multiplier(acc, mult, shift).wrapping_add(zp);
        // max then min (not clamp, which asserts min <= max): callers pass a non-empty range.
        *o = v.max(min).min(max) as i8;
    }
}

/// Widens `x[j] - offset` to the i16 pairs [`dot_pairs`] takes: per group of 4 elements, the
/// words `v0 | v2 << 16` and `v1 | v3 << 16` (the halves `sxtb16` gives of a 4-byte word and of
/// it rotated by 8). Writes `2 min(x.len() / 4, out.len() / 2)` words; a tail of fewer than 4
/// elements is not widened. `offset` is an int8 zero point, so every value fits i16.
pub fn widen_pairs(x: &[i8], offset: i32, out: &mut [i32]) {
    let half = |a: i8, b: i8| {
        let (a, b) = (a as i32 - offset, b as i32 - offset);
        (a & 0xffff) | (b << 16)
    };
    for (g, o) in x.chunks_exact(4).zip(out.chunks_exact_mut(2)) {
        o[0] = half(g[0], g[2]);
        o[1] = half(g[1], g[3]);
    }
}

/// `acc + sum_j raw[j] * v[j]` over `n = 4 min(raw.len() / 4, pairs.len() / 2)` elements, `v`
/// the i16 values [`widen_pairs`] packed into `pairs` (wrapping i32, as every int8 sum here).
pub fn dot_pairs(acc: i32, raw: &[i8], pairs: &[i32]) -> i32 {
    let lo = |w: i32| w as i16 as i32;
    let hi = |w: i32| w >> 16;
    raw.chunks_exact(4).zip(pairs.chunks_exact(2)).fold(acc, |acc, (r, p)| {
        let s = r[0] as i32 * lo(p[0]) + r[2] as i32 * hi(p[0]) + r[1] as i32 * lo(p[1]) + r[3] as i32 * hi(p[1]);
        acc.wrapping_add(s)
    })
}

/// One depthwise tap: `acc[o] += (x[o / multiplier] - offset) * w[o]` (wrapping i32), `offset`
/// an int8 zero point: one input pixel's channels (each feeding `multiplier` outputs) against
/// the tap's filter values, over the outputs that `acc`, `w` and `x` all reach.
pub fn depthwise_tap(acc: &mut [i32], x: &[i8], w: &[i8], offset: i32, multiplier: usize) {
    let m = multiplier.max(1);
    for ((ac, &x), wc) in acc.chunks_mut(m).zip(x).zip(w.chunks(m)) {
        let v = x as i32 - offset;
        for (a, &w) in ac.iter_mut().zip(wc) {
            *a = a.wrapping_add(v * w as i32);
        }
    }
}

/// [`dot_pairs`] over taps for `R = sums.len()` rows: for each tap `t = [raw offset, pairs
/// offset, length]` (length a multiple of 4), `sums[r] += dot_pairs` of
/// `raw[r * raw_stride + t[0]..][..t[2]]` and `pairs[r * pairs_stride + t[1]..][..t[2] / 2]`.
/// Callers check every range.
pub fn dot_taps(
    sums: &mut [i32],
    raw: &[i8],
    raw_stride: usize,
    pairs: &[i32],
    pairs_stride: usize,
    taps: &[[usize; 3]],
) {
    for (r, s) in sums.iter_mut().enumerate() {
        for t in taps {
            let (a, b) = (r * raw_stride + t[0], r * pairs_stride + t[1]);
            let (Some(x), Some(p)) = (raw.get(a..a + t[2]), pairs.get(b..b + t[2] / 2)) else { return };
            *s = dot_pairs(*s, x, p);
        }
    }
}

/// [`requantize`] for `c = mult.len()` channels with the same integers, computed in fewer steps
/// (what the row-major convolution paths call per output pixel): for a multiplier in
/// `[0, 2^31)` (all that `quantize_multiplier` makes), `SaturatingRoundingDoublingHighMul` is
/// `floor((x m + 2^30) / 2^31)` (one 64-bit multiply-add and a constant shift).
pub fn requantize_channels(
    acc: &[i32],
    mult: &[i32],
    shift: &[i32],
    zero_point: i32,
    min: i32,
    max: i32,
    out: &mut [i8],
) {
    for (((o, &a), &m), &s) in out.iter_mut().zip(acc).zip(mult).zip(shift) {
        let v = if m >= 0 && s <= 0 {
            let x = ((a as i64 * m as i64 + (1 << 30)) >> 31) as i32;
            // RoundingDivideByPOT(x, e), as `rounding_divide_by_pot` (written out: this is the
            // per-output step of the convolutions, where a call per value showed).
            let e = s.wrapping_neg() as u32 & 31;
            let mask = 1u32.wrapping_shl(e).wrapping_sub(1) as i32;
            (x >> e) + ((x & mask) > (mask >> 1) + (x < 0) as i32) as i32
        } else {
            multiply_by_quantized_multiplier(a, m, s)
        };
        *o = v.wrapping_add(zero_point).max(min).min(max) as i8;
    }
}

/// One channel's requantisation in the form [`requantize_doubled`] computes with, from TFLite's
/// `(multiplier, shift)` and the output zero point: `[multiplier, e - 1, (1 + 2 zp) 2^(e - 1)]`
/// with `e = -shift` the right shift, or `None` where that form does not hold (a negative
/// multiplier, `e` outside 1..=30, the last word above 2^29): the same conditions as
/// [`fc_double`]'s rows.
pub fn requant_doubled(mult: i32, shift: i32, zero_point: i32) -> Option<[i32; 3]> {
    let e = shift.checked_neg()?;
    if mult < 0 || !(1..=30).contains(&e) {
        return None;
    }
    let k = (1 + 2 * zero_point as i64) << (e - 1);
    (k.abs() <= 1 << 29).then_some([mult, e - 1, k as i32])
}

/// [`requantize_channels`] on [`requant_doubled`] parameters (`mult`, `e1`, `k`: one of each per
/// channel) for accumulators with `|acc| < 2^30`: `ssat8((R + floor((2 acc m + 2^31) / 2^32)) >> e1
/// >> 1)` with `R = k - [acc < 0]`, the identity the Cortex-M fully-connected kernel uses (see
/// `arm::dsp`), then clamped to `[min, max]`. Exactly TFLite's integers under those bounds.
pub fn requantize_doubled(acc: &[i32], mult: &[i32], e1: &[i32], k: &[i32], min: i32, max: i32, out: &mut [i8]) {
    for ((((o, &a), &m), &e1), &k) in out.iter_mut().zip(acc).zip(mult).zip(e1).zip(k) {
        *o = requantize_doubled_one(a, m, e1, k).max(min).min(max) as i8;
    }
}

/// One value of [`requantize_doubled`] before the activation clamp: in `-128..=127`.
#[inline]
pub fn requantize_doubled_one(acc: i32, mult: i32, e1: i32, k: i32) -> i32 {
    let r = k.wrapping_sub((acc < 0) as i32) as i64 + ((2 * acc as i64 * mult as i64 + (1 << 31)) >> 32);
    (((r as i32) >> (e1 & 31)) >> 1).clamp(-128, 127)
}

/// [`crate::int8::depthwise_taps`], the reference: per tap `[xo, wo]`,
/// `acc[o] += (x[xo + o] - zp) * w[wo + o]` for every channel `o < acc.len()`, wrapping i32.
/// The caller checked that every tap lies inside `x` and `w`.
pub fn depthwise_taps(acc: &mut [i32], x: &[i8], w: &[i8], zp: i32, taps: &[[usize; 2]]) {
    let n = acc.len();
    for &[xo, wo] in taps {
        let (Some(xs), Some(ws)) = (x.get(xo..xo + n), w.get(wo..wo + n)) else { return };
        for ((a, &xv), &wv) in acc.iter_mut().zip(xs).zip(ws) {
            *a = a.wrapping_add((xv as i32).wrapping_sub(zp).wrapping_mul(wv as i32));
        }
    }
}
