//! DEQUANTIZE, int8 -> f32 (TFLite's `reference_ops::Dequantize`):
//! `y = (f32)((f64)s_x * (x - zp_x))`.

use super::{as_i8, w32, Kind, OpDesc, Setup};
use crate::formats::tflite::TensorType;
use crate::Result;

pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let (x, y) = (s.need_input(0)?, s.output()?);
    s.check_i8(&x)?;
    s.expect_type(&y, TensorType::Float32)?;
    s.expect_activation(&x)?;
    if x.numel != y.numel {
        return Err(s.shape(x.numel, y.numel));
    }
    Ok(OpDesc {
        kind: Kind::Dequantize as i32,
        input: x.index,
        input2: -1,
        output: y.index,
        in_len: w32(s, x.numel)?,
        out_len: w32(s, y.bytes())?,
        in_zp: x.zero_point,
        fscale: x.scale.to_bits() as i32,
        ..OpDesc::default()
    })
}

pub(crate) fn eval(d: &OpDesc, input: &[u8], output: &mut [u8]) -> Result<()> {
    let scale = f32::from_bits(d.fscale as u32) as f64;
    for (o, &v) in output.chunks_exact_mut(4).zip(as_i8(input)?) {
        let y = (scale * (v as i32 - d.in_zp) as f64) as f32;
        o.copy_from_slice(&y.to_le_bytes());
    }
    Ok(())
}
