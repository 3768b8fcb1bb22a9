//! RELU, int8 (TFLite Micro's `ReluQuantized`): requantises from the input to the output
//! quantisation and clamps at the output's zero.
//!
//! `y = clamp(zp_y + MultiplyByQuantizedMultiplier(x - zp_x, M, shift), max(-128, zp_y), 127)`
//! with `M * 2^shift = s_x / s_y`.

use super::quant::quantize_multiplier;
use super::{as_i8, as_i8_mut, w32, Kind, OpDesc, Setup};
use crate::kernels::int8::multiply_by_quantized_multiplier;
use crate::Result;

pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let (x, y) = (s.need_input(0)?, s.output()?);
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

pub(crate) fn eval(d: &OpDesc, input: &[u8], output: &mut [u8]) -> Result<()> {
    let (x, y) = (as_i8(input)?, as_i8_mut(output)?);
    for (o, &v) in y.iter_mut().zip(x) {
        let r = d.out_zp.wrapping_add(multiply_by_quantized_multiplier(v as i32 - d.in_zp, d.mult, d.shift));
        *o = r.max(d.act_min).min(d.act_max) as i8;
    }
    Ok(())
}
