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
//! Set-up folds the input zero point into the bias, `bias'[o] = bias[o] - zp_x * sum_j w[o][j]`,
//! so that run time is one int8 matrix-vector product ([`crate::kernels::int8::matvec`]) and
//! one requantisation per input row (identical integers: wrapping sums are associative).

use super::quant::{activation_range, quantize_multiplier};
use super::{as_i8, as_i8_mut, w32, Kind, OpDesc, Run, Setup};
use crate::formats::tflite::TensorType;
use crate::kernels::int8;
use crate::Result;

pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let opts = s.op.fully_connected_options()?;
    if opts.weights_format != 0 {
        return Err(s.unsupported("FULLY_CONNECTED shuffled weights format"));
    }
    let (x, w, y) = (s.need_input(0)?, s.need_input(1)?, s.output()?);
    s.check_i8(&x)?;
    s.check_i8(&y)?;
    s.expect_activation(&x)?;
    let (w_off, w_len) = s.expect_constant(&w)?;
    if w.rank != 2 {
        return Err(s.shape(2, w.rank));
    }
    let (rows, d) = (w.dims[0], w.dims[1]);
    s.check_filter(&w, rows, 0)?;
    if let Some(b) = s.input(2)? {
        s.expect_type(&b, TensorType::Int32)?;
        s.expect_constant(&b)?;
        if b.numel != rows {
            return Err(s.shape(rows, b.numel));
        }
    }
    if d == 0 || x.numel % d != 0 {
        return Err(s.shape(d, x.numel));
    }
    let batches = x.numel / d;
    if y.numel != batches * rows {
        return Err(s.shape(batches * rows, y.numel));
    }
    let (act_min, act_max) = activation_range(opts.activation, y.scale, y.zero_point, s.index)?;
    Ok(OpDesc {
        kind: Kind::FullyConnected as i32,
        input: x.index,
        input2: -1,
        output: y.index,
        in_len: w32(s, x.numel)?,
        out_len: w32(s, y.numel)?,
        w_off: w32(s, w_off)?,
        w_len: w32(s, w_len)?,
        pers_words: w32(s, 3 * rows)?,
        scratch_words: w32(s, rows)?,
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

/// Per output channel: `[bias' (rows), multiplier (rows), shift (rows)]`, with
/// `bias'[o] = bias[o] - zp_x * sum_j w[o][j]`.
pub(crate) fn prepare(s: &Setup<'_, '_>, d: &OpDesc, pers: &mut [i32]) -> Result<()> {
    let (x, w, y) = (s.need_input(0)?, s.need_input(1)?, s.output()?);
    let bias = s.input(2)?;
    let weights = as_i8(s.const_bytes(&w)?)?;
    fill_channel_params(s, &x, &w, &y, bias.as_ref(), weights, d.out_c as usize, pers)
}

/// Shared by FULLY_CONNECTED, CONV_2D and TRANSPOSE_CONV (weights `[out, ...]`, one row per
/// output channel): folded bias, multipliers and shifts.
#[allow(clippy::too_many_arguments)]
pub(crate) fn fill_channel_params(
    s: &Setup<'_, '_>,
    x: &super::TensorRef<'_>,
    w: &super::TensorRef<'_>,
    y: &super::TensorRef<'_>,
    bias: Option<&super::TensorRef<'_>>,
    weights: &[i8],
    channels: usize,
    pers: &mut [i32],
) -> Result<()> {
    let row = weights.len() / channels.max(1);
    let (b, rest) = pers.split_at_mut(channels);
    let (m, sh) = rest.split_at_mut(channels);
    for o in 0..channels {
        let raw_bias = match bias {
            Some(t) => s.i32_at(t, o)?,
            None => 0,
        };
        let sum = weights[o * row..(o + 1) * row].iter().fold(0i32, |a, &v| a.wrapping_add(v as i32));
        b[o] = raw_bias.wrapping_sub(x.zero_point.wrapping_mul(sum));
        let real = x.scale as f64 * s.channel_scale(w, o)? as f64 / y.scale as f64;
        let (mult, shift) = quantize_multiplier(real);
        m[o] = mult;
        sh[o] = shift;
    }
    Ok(())
}

pub(crate) fn eval(d: &OpDesc, run: &mut Run<'_>, input: &[u8], output: &mut [u8]) -> Result<()> {
    let (rows, depth) = (d.out_c as usize, d.in_c as usize);
    let w = run.weights(d)?;
    let (bias, rest) = run.params.split_at(rows);
    let (mult, shift) = rest.split_at(rows);
    let x = as_i8(input)?;
    let y = as_i8_mut(output)?;
    let acc = &mut run.acc[..rows];
    for (xb, yb) in x.chunks_exact(depth).zip(y.chunks_exact_mut(rows)) {
        int8::matvec(xb, w, bias, acc);
        int8::requantize(acc, mult, shift, d.out_zp, d.act_min, d.act_max, yb);
    }
    Ok(())
}
