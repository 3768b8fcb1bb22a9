//! GELU, int8, as LiteRT's (TensorFlow Lite's) reference kernel: a 256-entry table filled in
//! f32 by `LUTPopulate` ([`super::quant::fill_float_lut`]) with
//!
//! * `0.5 x erfc(-x / sqrt 2)` (the default, `approximate = false`), or
//! * `0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))` (`approximate = true`),
//!
//! each evaluated in f32 with `libm`'s `erfcf` / `tanhf`. TFLite Micro has no int8 GELU; these
//! models run here all the same.

use super::logistic::describe_lut;
use super::quant::fill_float_lut;
use super::{Kind, OpDesc, Setup};
use crate::Result;

#[inline(never)] // set-up only: its own stack frame
pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    s.op.gelu_approximate()?;
    describe_lut(s, Kind::Gelu)
}

/// sqrt(2 / pi), as the f32 constant `M_2_SQRTPI * M_SQRT1_2`.
const SQRT_2_OVER_PI: f32 = (core::f64::consts::FRAC_2_SQRT_PI * core::f64::consts::FRAC_1_SQRT_2) as f32;

fn gelu_erfc(x: f32) -> f32 {
    0.5 * x * libm::erfcf(x * -core::f32::consts::FRAC_1_SQRT_2)
}

fn gelu_tanh(x: f32) -> f32 {
    0.5 * x * (1.0 + libm::tanhf(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))
}

#[inline(never)] // set-up only: its own stack frame
pub(crate) fn prepare(s: &Setup<'_, '_>, _d: &OpDesc, lut: &mut [u8]) -> Result<()> {
    let (x, y) = (s.need_input(0)?, s.output()?);
    let f = if s.op.gelu_approximate()? { gelu_tanh } else { gelu_erfc };
    fill_float_lut(lut, x.scale, x.zero_point, y.scale, y.zero_point, f);
    Ok(())
}
