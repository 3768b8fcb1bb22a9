//! RELU, int8 (TFLite Micro's `ReluQuantized`): requantises from the input to the output
//! quantisation and clamps at the output's zero.
//!
//! `y = clamp(zp_y + MultiplyByQuantizedMultiplier(x - zp_x, M, shift), max(-128, zp_y), 127)`
//! with `M * 2^shift = s_x / s_y`.
//!
//! f32 (the converter can leave RELU in float after a DEQUANTIZE): TFLite Micro's `ReluFloat`,
//! `y = x < 0 ? 0 : x` (NaN and -0 pass through unchanged).

use super::quant::quantize_multiplier;
use super::{as_i8, as_i8_mut, w32, Kind, OpDesc, Setup};
use crate::formats::tflite::TensorType;
use crate::kernels::int8::multiply_by_quantized_multiplier;
use crate::Result;

/// `flags`: f32 input and output (RELU and RELU6).
pub(crate) const FLOAT: i32 = 1;

pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let (x, y) = (s.need_input(0)?, s.output()?);
    if x.dtype == TensorType::Float32 {
        return describe_f32(s, Kind::Relu);
    }
    s.check_i8(&x)?;
    s.check_i8(&y)?;
    s.expect_activation(&x)?;
    if x.numel != y.numel {
        return Err(s.shape(x.numel, y.numel));
    }
    let (mult, shift) = quantize_multiplier(x.scale as f64 / y.scale as f64);
    Ok(OpDesc {
        kind: Kind::Relu as i32,
        input: x.index,
        input2: -1,
        output: y.index,
        in_len: w32(s, x.numel)?,
        out_len: w32(s, y.numel)?,
        in_zp: x.zero_point,
        out_zp: y.zero_point,
        // roundf(0 / s_y) = 0; the upper bound is +inf.
        act_min: y.zero_point.max(-128),
        act_max: 127,
        mult,
        shift,
        ..OpDesc::default()
    })
}

/// The f32 RELU or RELU6 (`kind`): input and output f32 activations of one size.
#[inline(never)] // set-up only: its own stack frame
pub(crate) fn describe_f32(s: &Setup<'_, '_>, kind: Kind) -> Result<OpDesc> {
    let (x, y) = (s.need_input(0)?, s.output()?);
    s.expect_type(&y, TensorType::Float32)?;
    s.expect_activation(&x)?;
    if x.numel != y.numel {
        return Err(s.shape(x.numel, y.numel));
    }
    Ok(OpDesc {
        kind: kind as i32,
        input: x.index,
        input2: -1,
        output: y.index,
        in_len: w32(s, x.bytes())?,
        out_len: w32(s, y.bytes())?,
        flags: FLOAT,
        ..OpDesc::default()
    })
}

/// Applies `f` to each f32 of `input` (little-endian) into `output`.
pub(crate) fn map_f32(input: &[u8], output: &mut [u8], f: impl Fn(f32) -> f32) {
    for (o, c) in output.chunks_exact_mut(4).zip(input.chunks_exact(4)) {
        let v = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        o.copy_from_slice(&f(v).to_le_bytes());
    }
}

pub(crate) fn eval(d: &OpDesc, input: &[u8], output: &mut [u8]) -> Result<()> {
    if d.flags & FLOAT != 0 {
        map_f32(input, output, |v| if v < 0.0 { 0.0 } else { v });
        return Ok(());
    }
    let (x, y) = (as_i8(input)?, as_i8_mut(output)?);
    for (o, &v) in y.iter_mut().zip(x) {
        let r = d.out_zp.wrapping_add(multiply_by_quantized_multiplier(v as i32 - d.in_zp, d.mult, d.shift));
        *o = r.max(d.act_min).min(d.act_max) as i8;
    }
    Ok(())
}
