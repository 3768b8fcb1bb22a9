//! FULLY_CONNECTED, int8 (TFLite's `reference_integer_ops::FullyConnected`).
//!
//! Quantisation (input `x`, weights `w` symmetric int8 per tensor or per output channel, bias
//! int32 with scale `s_x * s_w[o]`, output `y`):
//!
//! `acc[o] = bias[o] + sum_j (x[j] - zp_x) * w[o][j]`  (wrapping int32)
//! `y[o] = clamp(zp_y + MultiplyByQuantizedMultiplier(acc[o], M[o], shift[o]), act_min, act_max)`
//! with `M[o] * 2^shift[o] = s_x * s_w[o] / s_y` (computed in f64 as TFLite does) and the clamp
//! range from the fused activation.
//!
//! Set-up folds the input zero point into the bias, `bias'[o] = bias[o] - zp_x * sum_j w[o][j]`
//! (identical integers: wrapping sums are associative), and precomputes each row's multiplier and
//! shift. Where the kernels prefer it ([`crate::kernels::int8::prefers_packed`]: x86_64 AVX2+,
//! aarch64) the weights are copied into the arena in the packed layout and the input is offset
//! to unsigned (`u = x + 128`), with `bias'[o] = bias[o] - (zp_x + 128) * sum_j w[o][j]`: run time
//! is one [`crate::kernels::int8::matvec_packed`] and one requantisation per input row.
//! Elsewhere (Cortex-M, scalar targets) the weights stay in place (in flash) and run time is one
//! fused [`crate::kernels::int8::fully_connected`] call per input row, on parameters prepared
//! for it ([`crate::kernels::int8::fc_row`], [`crate::kernels::int8::fc_double`]: on a Cortex-M
//! with the DSP extension, one assembly loop with the requantisation folded in).

use super::quant::{activation_range, quantize_multiplier};
use super::{as_i8, as_i8_mut, at, w32, Kind, OpDesc, Run, Setup};
use crate::kernels::int8;
use crate::Result;

pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let opts = s.op.fully_connected_options()?;
    if opts.weights_format != 0 {
        return Err(s.unsupported("FULLY_CONNECTED shuffled weights format"));
    }
    let (x, w, y) = (s.need_input(0)?, s.need_input(1)?, s.output()?);
    let (w_off, w_len) = s.check_weighted(&x, &w, &y)?;
    if w.rank != 2 {
        return Err(s.shape(2, w.rank));
    }
    let (rows, d) = (w.dims[0], w.dims[1]);
    s.check_filter_and_bias(&w, rows, 0, 2)?;
    if d == 0 || x.numel % d != 0 {
        return Err(s.shape(d, x.numel));
    }
    let batches = x.numel / d;
    if y.numel != batches * rows {
        return Err(s.shape(batches * rows, y.numel));
    }
    let (act_min, act_max) = activation_range(opts.activation, y.scale, y.zero_point, s.index)?;
    let packed = int8::prefers_packed() && rows >= MIN_PACKED_ROWS;
    // Packed: the input offset into the patch, accumulators, then one requantisation. Otherwise
    // one fused kernel call per input row, with i32 scratch for its widened input.
    let (pers, scratch_words, scratch_bytes) = if packed {
        (3 * rows, rows, d)
    } else {
        (int8::FC_HEADER_WORDS + int8::FC_ROW_WORDS * rows, int8::fc_scratch_words(d), 0)
    };
    Ok(OpDesc {
        kind: Kind::FullyConnected as i32,
        flags: packed as i32 * PACKED,
        lut_bytes: if packed { w32(s, int8::packed_len(rows, d))? } else { 0 },
        scratch_bytes: w32(s, scratch_bytes)?,
        input: x.index,
        input2: -1,
        output: y.index,
        in_len: w32(s, x.numel)?,
        out_len: w32(s, y.numel)?,
        w_off: w32(s, w_off)?,
        w_len: w32(s, w_len)?,
        pers_words: w32(s, pers)?,
        scratch_words: w32(s, scratch_words)?,
        batches: w32(s, batches)?,
        in_c: w32(s, d)?,
        out_c: w32(s, rows)?,
        in_zp: x.zero_point,
        out_zp: y.zero_point,
        act_min,
        act_max,
        ..OpDesc::default()
    })
}

/// Packed: per output channel `[bias' (rows), multiplier (rows), shift (rows)]`, with
/// `bias'[o] = bias[o] - (zp_x + 128) * sum_j w[o][j]`. Otherwise the parameters of
/// [`int8::fully_connected`]: its header, then per row [`int8::fc_row`] of
/// `(bias[o] - zp_x * sum_j w[o][j], multiplier, shift)`, doubled ([`int8::fc_double`]) where
/// the layer allows.
pub(crate) fn prepare(s: &Setup<'_, '_>, d: &OpDesc, pers: &mut [i32], packed: &mut [u8]) -> Result<()> {
    let (x, w, y) = (s.need_input(0)?, s.need_input(1)?, s.output()?);
    let bias = s.input(2)?;
    let weights = as_i8(s.const_bytes(&w)?)?;
    if d.flags & PACKED != 0 {
        return fill_channel_params(s, d, &x, &w, &y, bias.as_ref(), weights, pers, packed);
    }
    let rows = d.out_c as usize;
    let (head, body) = pers.split_at_mut(int8::FC_HEADER_WORDS.min(pers.len()));
    head.copy_from_slice(&int8::fc_header(y.zero_point)[..head.len()]);
    for (o, slot) in body.chunks_exact_mut(int8::FC_ROW_WORDS).enumerate().take(rows) {
        let (b, m, sh) = channel_param(s, &x, &w, &y, bias.as_ref(), weights, rows, o, x.zero_point)?;
        slot.copy_from_slice(&int8::fc_row(b, m, sh));
    }
    // The form the Cortex-M DSP kernel takes, where the layer allows it (harmless elsewhere).
    int8::fc_double(pers, weights);
    Ok(())
}

/// Fewest output rows for which the packed kernel (16 rows per SIMD block) beats the row-major
/// one (which reduces each row horizontally); below it weights stay in place.
pub(crate) const MIN_PACKED_ROWS: usize = 8;

/// `flags` bit: weights packed in the arena, input offset to unsigned.
pub(crate) const PACKED: i32 = 1;

/// `flags` bit (CONV_2D, TRANSPOSE_CONV): the pairs form, where the small side (a transposed
/// convolution's input, a convolution's filter) is widened once to i16 pairs
/// ([`int8::pairs`]) and only the taps inside the image are computed.
pub(crate) const PAIRS: i32 = 2;

/// Words per output channel of the pairs forms' parameters: `[bias, multiplier, shift, K]`
/// (see [`double_requant`]).
pub(crate) const PAIRS_PARAM_WORDS: usize = 4;

/// Rewrites the pairs forms' `[bias (oc), multiplier (oc), shift (oc), K (oc)]` (K zero) into
/// the doubled requantisation ([`int8::scalar::requant_doubled`]: shift becomes `e - 1`, K is
/// set) when every channel allows it and no accumulator can reach 2^30 (`|bias| + 256 sum |w| <
/// 2^30`, `|x - zp_x| <= 255`); otherwise leaves them as they are. `filters` holds one filter
/// row per output channel.
pub(crate) fn double_requant(pers: &mut [i32], oc: usize, filters: &[i8], zero_point: i32) {
    let row = filters.len() / oc.max(1);
    let doubled = |pers: &[i32], o: usize| {
        let (b, m, sh) = (pers.get(o)?, pers.get(oc + o)?, pers.get(2 * oc + o)?);
        let w = filters.get(o * row..(o + 1) * row)?;
        let bounded = (*b as i64).abs() + 256 * w.iter().map(|&v| (v as i64).abs()).sum::<i64>() < 1 << 30;
        int8::scalar::requant_doubled(*m, *sh, zero_point).filter(|_| bounded)
    };
    if !(0..oc).all(|o| doubled(pers, o).is_some()) {
        return;
    }
    for o in 0..oc {
        if let Some([_, e1, k]) = doubled(pers, o) {
            for (at, v) in [(2 * oc + o, e1), (3 * oc + o, k)] {
                if let Some(slot) = pers.get_mut(at) {
                    *slot = v;
                }
            }
        }
    }
}

/// Requantises one output pixel of a pairs form from its `[multiplier, shift, K]` columns
/// (`params` after the biases): the doubled form where [`double_requant`] wrote it (K is odd
/// times a power of two, never 0), else TFLite's formula.
pub(crate) fn requantize_pixel(d: &OpDesc, params: &[i32], acc: &[i32], out: &mut [i8]) -> Result<()> {
    let oc = acc.len();
    let (mult, rest) = super::split(params, oc)?;
    let (shift, k) = super::split(rest, oc)?;
    if k.first().is_some_and(|&k| k != 0) {
        int8::pairs::requantize_doubled(acc, mult, shift, k, d.act_min, d.act_max, out);
    } else {
        int8::scalar::requantize_channels(acc, mult, shift, d.out_zp, d.act_min, d.act_max, out);
    }
    Ok(())
}

/// `[bias (oc), multiplier (oc), shift (oc)]` with the bias as stored (not folded: the callers
/// skip the taps outside the image and subtract the input zero point themselves).
pub(crate) fn raw_channel_params(
    s: &Setup<'_, '_>,
    x: &super::TensorRef<'_>,
    w: &super::TensorRef<'_>,
    y: &super::TensorRef<'_>,
    bias: Option<&super::TensorRef<'_>>,
    oc: usize,
    pers: &mut [i32],
) -> Result<()> {
    let (b, rest) = super::split_mut(pers, oc)?;
    let (m, sh) = super::split_mut(rest, oc)?;
    for (o, ((b, m), sh)) in b.iter_mut().zip(m.iter_mut()).zip(sh.iter_mut()).enumerate() {
        *b = match bias {
            Some(t) => s.i32_at(t, o)?,
            None => 0,
        };
        (*m, *sh) = quantize_multiplier(x.scale as f64 * s.channel_scale(w, o)? as f64 / y.scale as f64);
    }
    Ok(())
}

/// The byte the patch holds for an int8 value `v` (offset to unsigned when packed).
#[inline]
pub(crate) fn patch_byte(d: &OpDesc, v: i8) -> u8 {
    if d.flags & PACKED != 0 {
        (v as u8) ^ 0x80
    } else {
        v as u8
    }
}

/// Copies int8 input bytes into the patch (offset to unsigned when packed), 8 bytes at a time:
/// patches are built from many short runs (one per filter tap), where a `memcpy` call per run
/// would cost more than the copy.
#[inline]
pub(crate) fn copy_in(d: &OpDesc, dst: &mut [u8], src: &[u8]) {
    let flip = if d.flags & PACKED != 0 { 0x8080_8080_8080_8080u64 } else { 0 };
    let mut o = dst.chunks_exact_mut(8);
    let mut i = src.chunks_exact(8);
    for (a, b) in (&mut o).zip(&mut i) {
        let v = u64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) ^ flip;
        a.copy_from_slice(&v.to_ne_bytes());
    }
    for (a, &b) in o.into_remainder().iter_mut().zip(i.remainder()) {
        *a = b ^ flip as u8;
    }
}

/// Fills patch bytes with `v`, 8 bytes at a time (see [`copy_in`]).
#[inline]
pub(crate) fn fill(dst: &mut [u8], v: u8) {
    let word = u64::from_ne_bytes([v; 8]).to_ne_bytes();
    let mut o = dst.chunks_exact_mut(8);
    for a in &mut o {
        a.copy_from_slice(&word);
    }
    o.into_remainder().fill(v);
}

/// `out = requantize(bias' + W patch[..depth])` for `rows` output channels: the shared inner
/// step of FULLY_CONNECTED, CONV_2D and TRANSPOSE_CONV.
pub(crate) fn project(d: &OpDesc, run: &mut Run<'_>, depth: usize, out: &mut [i8]) -> Result<()> {
    let rows = d.out_c as usize;
    let weights = if d.flags & PACKED != 0 { &[][..] } else { run.weights(d)? };
    let (bias, rest) = super::split(run.params, rows)?;
    let (mult, shift) = super::split(rest, rows)?;
    let acc = super::sub_mut(run.acc, 0..rows)?;
    if d.flags & PACKED != 0 {
        int8::matvec_packed(super::sub(run.patch, 0..depth)?, as_i8(run.lut)?, bias, acc);
    } else {
        int8::matvec(as_i8(super::sub(run.patch, 0..depth)?)?, weights, bias, acc);
    }
    int8::requantize(acc, mult, shift, d.out_zp, d.act_min, d.act_max, out);
    Ok(())
}

/// Shared by FULLY_CONNECTED, CONV_2D and TRANSPOSE_CONV (weights `[out, ...]`, one row per
/// output channel): folded bias, multipliers and shifts.
#[allow(clippy::too_many_arguments)]
pub(crate) fn fill_channel_params(
    s: &Setup<'_, '_>,
    d: &OpDesc,
    x: &super::TensorRef<'_>,
    w: &super::TensorRef<'_>,
    y: &super::TensorRef<'_>,
    bias: Option<&super::TensorRef<'_>>,
    weights: &[i8],
    pers: &mut [i32],
    packed: &mut [u8],
) -> Result<()> {
    let channels = d.out_c as usize;
    let row = weights.len() / channels.max(1);
    let offset = if d.flags & PACKED != 0 {
        int8::pack(weights, channels, row, as_i8_mut(packed)?);
        x.zero_point + 128
    } else {
        x.zero_point
    };
    let (b, rest) = super::split_mut(pers, channels)?;
    let (m, sh) = super::split_mut(rest, channels)?;
    // (`zip` over the channels: `pers` was sized for them, which the optimiser cannot see.)
    for (o, ((b, m), sh)) in b.iter_mut().zip(m.iter_mut()).zip(sh.iter_mut()).enumerate() {
        (*b, *m, *sh) = channel_param(s, x, w, y, bias, weights, channels, o, offset)?;
    }
    Ok(())
}

/// Output channel `o`'s `(bias[o] - offset * sum_j w[o][j], multiplier, shift)`, the weights
/// being `channels` rows.
#[allow(clippy::too_many_arguments)]
fn channel_param(
    s: &Setup<'_, '_>,
    x: &super::TensorRef<'_>,
    w: &super::TensorRef<'_>,
    y: &super::TensorRef<'_>,
    bias: Option<&super::TensorRef<'_>>,
    weights: &[i8],
    channels: usize,
    o: usize,
    offset: i32,
) -> Result<(i32, i32, i32)> {
    let row = weights.len() / channels.max(1);
    let raw_bias = match bias {
        Some(t) => s.i32_at(t, o)?,
        None => 0,
    };
    let w_row = weights.chunks_exact(row.max(1)).nth(o).unwrap_or(&[]);
    let sum = w_row.iter().fold(0i32, |a, &v| a.wrapping_add(v as i32));
    let real = x.scale as f64 * s.channel_scale(w, o)? as f64 / y.scale as f64;
    let (mult, shift) = quantize_multiplier(real);
    Ok((raw_bias.wrapping_sub(offset.wrapping_mul(sum)), mult, shift))
}

/// The packed FULLY_CONNECTED (`invoke` sends the unpacked one to [`eval_fused`]).
pub(crate) fn eval(d: &OpDesc, run: &mut Run<'_>, input: &[u8], output: &mut [u8]) -> Result<()> {
    let (rows, depth) = (d.out_c as usize, d.in_c as usize);
    let y = as_i8_mut(output)?;
    // `max(1)`: a zero size was rejected by `prepare`, which the optimiser cannot see.
    for (xb, yb) in input.chunks_exact(depth.max(1)).zip(y.chunks_exact_mut(rows.max(1))) {
        copy_in(d, super::sub_mut(run.patch, 0..depth)?, xb);
        project(d, run, depth, yb)?;
    }
    Ok(())
}

/// The unpacked FULLY_CONNECTED: one fused [`int8::fully_connected`] call per input row,
/// reading its fields from the stored descriptor in place.
pub(crate) fn eval_fused(
    head: &[i32; super::HEAD_WORDS],
    run: &mut Run<'_>,
    input: &[u8],
    output: &mut [u8],
) -> Result<()> {
    let (rows, depth) = (head[at::OUT_C] as usize, head[at::IN_C] as usize);
    let (x, y, w) = (as_i8(input)?, as_i8_mut(output)?, run.weights_at(head[at::W_OFF], head[at::W_LEN])?);
    let (min, max) = (head[at::ACT_MIN], head[at::ACT_MAX]);
    for (xb, yb) in x.chunks_exact(depth.max(1)).zip(y.chunks_exact_mut(rows.max(1))) {
        int8::fully_connected(xb, w, run.params, min, max, run.acc, yb);
    }
    Ok(())
}
