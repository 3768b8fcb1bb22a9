//! SQUARED_DIFFERENCE, int8 with broadcasting up to rank 6 (TFLite Micro's quantised
//! `SquaredDifference`).
//!
//! With `left_shift = 7`, `twice_max = 2 * max(s_a, s_b)` (f64), `M_a = s_a / twice_max`,
//! `M_b = s_b / twice_max` (`QuantizeMultiplierSmallerThanOneExp`) and
//! `M_y = twice_max^2 / (2^14 * s_y)` (`QuantizeMultiplier`), all in f64:
//!
//! `a' = MultiplyByQuantizedMultiplier((a - zp_a) * 2^7, M_a)`, likewise `b'`,
//! `y = clamp(zp_y + MultiplyByQuantizedMultiplier((a' - b')^2, M_y), -128, 127)`.

use super::add::rescaled;
use super::broadcast::{self, Scales};
use super::quant::{quantize_multiplier, quantize_multiplier_below_one};
use super::{Kind, OpDesc, Run, Setup};
use crate::kernels::int8::multiply_by_quantized_multiplier as mbqm;
use crate::Result;

const LEFT_SHIFT: i32 = 7;

#[inline(never)] // set-up only: its own stack frame
pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let (mut d, Scales { a, b, y, .. }) = broadcast::describe(s, Kind::SquaredDifference)?;
    let twice_max = 2.0 * a.max(b) as f64;
    d.left_shift = LEFT_SHIFT;
    (d.mult, d.shift) = quantize_multiplier_below_one(s, a as f64 / twice_max)?;
    (d.mult2, d.shift2) = quantize_multiplier_below_one(s, b as f64 / twice_max)?;
    let denominator = (1u32 << (2 * LEFT_SHIFT)) as f64 * y as f64;
    (d.mult3, d.shift3) = quantize_multiplier(twice_max * twice_max / denominator);
    Ok(d)
}

#[inline(always)]
fn element(d: &OpDesc, x: i8, z: i8) -> i8 {
    let a_scaled = rescaled(x, d.in_zp, LEFT_SHIFT, d.mult, d.shift);
    let diff = a_scaled.wrapping_sub(rescaled(z, d.in2_zp, LEFT_SHIFT, d.mult2, d.shift2));
    let r = mbqm(diff.wrapping_mul(diff), d.mult3, d.shift3).wrapping_add(d.out_zp);
    r.clamp(-128, 127) as i8
}

#[inline(never)] // set-up only: its own stack frame
pub(crate) fn prepare(s: &Setup<'_, '_>, d: &OpDesc, pers: &mut [i32], lut: &mut [u8]) -> Result<()> {
    broadcast::prepare(s, d, pers, lut, |x, z| element(d, x, z))
}

pub(crate) fn eval(d: &OpDesc, run: &Run<'_>, in1: &[u8], in2: &[u8], output: &mut [u8]) -> Result<()> {
    broadcast::eval(d, run, in1, in2, output, |x, z| element(d, x, z))
}
