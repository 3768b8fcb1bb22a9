//! TANH, int8 (TFLite Micro's `reference_integer_ops::Tanh`); the output is in Q0.7 (scale
//! 1/128, zero point 0, as the converter writes it).
//!
//! For `v = x - zp_x`: below `-radius` -128, above `radius` 127; otherwise
//! `q4 = MultiplyByQuantizedMultiplier(v, M, left_shift)` (the input in Q4.27, parameters as
//! for LOGISTIC), `t = gemmlowp::tanh(q4)` in Q0.31 and
//! `y = clamp(RoundingDivideByPOT(t, 24), -128, 127)`. Evaluated for all 256 inputs at set-up.

use super::logistic::describe_lut;
use super::quant::fill_sigmoid_lut;
use super::{Kind, OpDesc, Setup};
use crate::Result;

pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    describe_lut(s, Kind::Tanh)
}

pub(crate) fn prepare(s: &Setup<'_, '_>, d: &OpDesc, lut: &mut [u8]) -> Result<()> {
    let x = s.need_input(0)?;
    fill_sigmoid_lut(lut, d.in_zp, x.scale, true, s.index)
}
