//! LOGISTIC, int8 (TFLite Micro's `reference_integer_ops::Logistic`). The output is fixed at
//! scale 1/256, zero point -128 (TFLite requires it).
//!
//! For `v = x - zp_x`: below `-radius` the output is -128, above `radius` 127; otherwise
//! `q4 = MultiplyByQuantizedMultiplier(v, M, left_shift)` is the input in Q4.27 (with
//! `M * 2^left_shift = s_x * 2^27` from `frexp`, and
//! `radius = floor(15 * 2^27 / 2^left_shift)`), `p = gemmlowp::logistic(q4)` in Q0.31 and
//! `y = clamp(RoundingDivideByPOT(p, 23) - 128, -128, 127)`.
//!
//! The input has 256 possible values, so set-up evaluates this for each and run time is a
//! table lookup (shared with TANH).
//!
//! f32 (the converter can leave LOGISTIC in float after a DEQUANTIZE): TFLite's
//! `reference_ops::Logistic`, `1` above 16.619047, `expf(x)` below -9, else `1 / (1 + expf(-x))`.
//! `expf` as glibc's (within 0.502 ulp, so nearly always the correctly rounded value): `exp` in
//! f64 rounded to f32. `libm`'s f32 `expf` (FreeBSD's) is 1 ulp off on about one input in six.

use super::quant::fill_sigmoid_lut;
use super::{w32, Kind, OpDesc, Run, Setup};
use crate::formats::tflite::TensorType;
use crate::{Error, Result};

pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    if s.need_input(0)?.dtype == TensorType::Float32 {
        return super::relu::describe_f32(s, Kind::Logistic);
    }
    describe_lut(s, Kind::Logistic)
}

/// `e^v` rounded to f32 (through f64: see the module comment).
fn expf(v: f32) -> f32 {
    libm::exp(v as f64) as f32
}

/// The f32 LOGISTIC (flags [`super::relu::FLOAT`]).
pub(crate) fn eval_f32(input: &[u8], output: &mut [u8]) {
    super::relu::map_f32(input, output, |v| {
        if v > 16.619_047 {
            1.0
        } else if v < -9.0 {
            expf(v)
        } else {
            1.0 / (1.0 + expf(-v))
        }
    });
}

pub(crate) fn describe_lut(s: &Setup<'_, '_>, kind: Kind) -> Result<OpDesc> {
    let (x, y) = (s.need_input(0)?, s.output()?);
    s.check_i8(&x)?;
    s.check_i8(&y)?;
    s.expect_activation(&x)?;
    if kind == Kind::Logistic && y.zero_point != -128 {
        return Err(Error::Value { what: "LOGISTIC output zero point", index: s.index, reason: "must be -128" });
    }
    if x.numel != y.numel {
        return Err(s.shape(x.numel, y.numel));
    }
    Ok(OpDesc {
        kind: kind as i32,
        input: x.index,
        input2: -1,
        output: y.index,
        in_len: w32(s, x.numel)?,
        out_len: w32(s, y.numel)?,
        lut_bytes: 256,
        in_zp: x.zero_point,
        ..OpDesc::default()
    })
}

pub(crate) fn prepare(s: &Setup<'_, '_>, d: &OpDesc, lut: &mut [u8]) -> Result<()> {
    if d.flags & super::relu::FLOAT != 0 {
        return Ok(());
    }
    let x = s.need_input(0)?;
    fill_sigmoid_lut(lut, d.in_zp, x.scale, false, s.index)
}

/// `y[i] = table[x[i] as u8]` (LOGISTIC and TANH; the table is indexed by the input byte), four
/// bytes per step.
pub(crate) fn eval_lut(run: &Run<'_>, input: &[u8], output: &mut [u8]) -> Result<()> {
    let table: &[u8; 256] =
        run.lut.try_into().map_err(|_| Error::Shape { what: "lookup table", expected: 256, found: run.lut.len() })?;
    let mut y = output.chunks_exact_mut(4);
    let mut x = input.chunks_exact(4);
    for (o, v) in (&mut y).zip(&mut x) {
        o.copy_from_slice(&[table[v[0] as usize], table[v[1] as usize], table[v[2] as usize], table[v[3] as usize]]);
    }
    for (o, &v) in y.into_remainder().iter_mut().zip(x.remainder()) {
        *o = table[v as usize];
    }
    Ok(())
}
