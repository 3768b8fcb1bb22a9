//! RELU6, int8 (TFLite Micro's `Relu6Quantized`): no requantisation (the output keeps the
//! input's quantisation); `y = x > six ? six : (x < zero ? zero : x)` with `zero = zp_x` and
//! `six = clamp(round(6 / s_x) + zp_x, -128, 127)` (f32 division, ties away from zero).
//!
//! f32: TFLite Micro's `Relu6Float`, `y = x > 6 ? 6 : (x < 0 ? 0 : x)` (NaN and -0 pass through).

use super::relu::{describe_f32, map_f32, FLOAT};
use super::{as_i8, as_i8_mut, w32, Kind, OpDesc, Setup};
use crate::formats::tflite::TensorType;
use crate::Result;

pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let (x, y) = (s.need_input(0)?, s.output()?);
    if x.dtype == TensorType::Float32 {
        return describe_f32(s, Kind::Relu6);
    }
    s.check_i8(&x)?;
    s.check_i8(&y)?;
    s.expect_activation(&x)?;
    if x.numel != y.numel {
        return Err(s.shape(x.numel, y.numel));
    }
    let six = (libm::roundf(6.0 / x.scale) as i32).saturating_add(x.zero_point).clamp(-128, 127);
    Ok(OpDesc {
        kind: Kind::Relu6 as i32,
        input: x.index,
        input2: -1,
        output: y.index,
        in_len: w32(s, x.numel)?,
        out_len: w32(s, y.numel)?,
        act_min: x.zero_point,
        act_max: six,
        ..OpDesc::default()
    })
}

pub(crate) fn eval(d: &OpDesc, input: &[u8], output: &mut [u8]) -> Result<()> {
    if d.flags & FLOAT != 0 {
        // `clamp` keeps NaN and -0, as the reference's comparisons do.
        map_f32(input, output, |v| v.clamp(0.0, 6.0));
        return Ok(());
    }
    let (x, y) = (as_i8(input)?, as_i8_mut(output)?);
    for (o, &v) in y.iter_mut().zip(x) {
        let v = v as i32;
        *o = if v > d.act_max {
            d.act_max
        } else if v < d.act_min {
            d.act_min
        } else {
            v
        } as i8;
    }
    Ok(())
}
