//! QUANTIZE (TFLite Micro's `AffineQuantize` and `Requantize`).
//!
//! * f32 -> int8: `y = clamp(round(x / s_y) + zp_y, -128, 127)`, f32 division, ties away from
//!   zero (NaN becomes `zp_y`).
//! * int8 -> int8: `y = clamp(zp_y + MultiplyByQuantizedMultiplier(x - zp_x, M, shift), -128, 127)`
//!   with `M * 2^shift = s_x / s_y` (computed in f64).

use super::quant::quantize_multiplier;
use super::{as_i8, as_i8_mut, w32, Kind, OpDesc, Setup};
use crate::formats::tflite::TensorType;
use crate::kernels::int8::multiply_by_quantized_multiplier;
use crate::Result;

pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let (x, y) = (s.need_input(0)?, s.output()?);
    s.check_i8(&y)?;
    s.expect_activation(&x)?;
    if x.numel != y.numel {
        return Err(s.shape(x.numel, y.numel));
    }
    let mut d = OpDesc {
        kind: Kind::Quantize as i32,
        input: x.index,
        input2: -1,
        output: y.index,
        in_len: w32(s, x.bytes())?,
        out_len: w32(s, y.numel)?,
        out_zp: y.zero_point,
        fscale: y.scale.to_bits() as i32,
        ..OpDesc::default()
    };
    match x.dtype {
        TensorType::Float32 => d.flags = 0,
        TensorType::Int8 => {
            s.check_i8(&x)?;
            let (m, sh) = quantize_multiplier(x.scale as f64 / y.scale as f64);
            d.flags = 1;
            d.in_zp = x.zero_point;
            d.mult = m;
            d.shift = sh;
        }
        other => {
            return Err(crate::Error::DType { what: "QUANTIZE input", expected: "f32 or i8", found: other.name() })
        }
    }
    Ok(d)
}

pub(crate) fn eval(d: &OpDesc, input: &[u8], output: &mut [u8]) -> Result<()> {
    let y = as_i8_mut(output)?;
    if d.flags == 1 {
        for (o, &v) in y.iter_mut().zip(as_i8(input)?) {
            let r = d.out_zp.wrapping_add(multiply_by_quantized_multiplier(v as i32 - d.in_zp, d.mult, d.shift));
            *o = r.clamp(-128, 127) as i8;
        }
    } else {
        let scale = f32::from_bits(d.fscale as u32);
        for (o, c) in y.iter_mut().zip(input.chunks_exact(4)) {
            let v = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            let r = (libm::roundf(v / scale) as i32).saturating_add(d.out_zp);
            *o = r.clamp(-128, 127) as i8;
        }
    }
    Ok(())
}
