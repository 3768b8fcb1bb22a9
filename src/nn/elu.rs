//! ELU, int8 and f32 (TFLite Micro's `elu.cc`): `x` for `x >= 0`, `e^x - 1` below.
//!
//! * int8: a 256-entry table filled in f32 as TFLite Micro's `PopulateLookupTable`
//!   ([`super::quant::fill_float_lut`]) with `expf(x) - 1` for the negative side.
//! * f32 (the converter leaves ELU in float between DEQUANTIZE and QUANTIZE):
//!   `reference_ops::Elu`, `expm1f(x)` for `x < 0`. `libm`'s `expf` and `expm1f` (ports of
//!   musl's) give the same bits as glibc's on the tested inputs.

use super::logistic::{describe_lut, eval_lut};
use super::quant::fill_float_lut;
use super::{w32, Kind, OpDesc, Run, Setup};
use crate::formats::tflite::TensorType;
use crate::Result;

/// `flags`: f32 input and output.
const FLOAT: i32 = 1;

#[inline(never)] // set-up only: its own stack frame
pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let (x, y) = (s.need_input(0)?, s.output()?);
    if x.dtype != TensorType::Float32 {
        return describe_lut(s, Kind::Elu);
    }
    s.expect_type(&y, TensorType::Float32)?;
    s.expect_activation(&x)?;
    if x.numel != y.numel {
        return Err(s.shape(x.numel, y.numel));
    }
    Ok(OpDesc {
        kind: Kind::Elu as i32,
        input: x.index,
        input2: -1,
        output: y.index,
        in_len: w32(s, x.bytes())?,
        out_len: w32(s, y.bytes())?,
        flags: FLOAT,
        ..OpDesc::default()
    })
}

#[inline(never)] // set-up only: its own stack frame
pub(crate) fn prepare(s: &Setup<'_, '_>, d: &OpDesc, lut: &mut [u8]) -> Result<()> {
    if d.flags & FLOAT != 0 {
        return Ok(());
    }
    let (x, y) = (s.need_input(0)?, s.output()?);
    fill_float_lut(
        lut,
        x.scale,
        x.zero_point,
        y.scale,
        y.zero_point,
        |v| if v < 0.0 { libm::expf(v) - 1.0 } else { v },
    );
    Ok(())
}

pub(crate) fn eval(d: &OpDesc, run: &Run<'_>, input: &[u8], output: &mut [u8]) -> Result<()> {
    if d.flags & FLOAT == 0 {
        return eval_lut(run, input, output);
    }
    for (o, c) in output.chunks_exact_mut(4).zip(input.chunks_exact(4)) {
        let v = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        let r = if v < 0.0 { libm::expm1f(v) } else { v };
        o.copy_from_slice(&r.to_le_bytes());
    }
    Ok(())
}
