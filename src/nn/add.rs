//! ADD, int8 with broadcasting up to rank 6 (TFLite Micro's `AddElementwise` /
//! `BroadcastAdd6DSlow`).
//!
//! With `left_shift = 20`, `twice_max = 2 * max(s_a, s_b)` and multipliers (all in f64, then
//! `QuantizeMultiplierSmallerThanOneExp`) `M_a = s_a / twice_max`, `M_b = s_b / twice_max`,
//! `M_y = twice_max / (2^20 * s_y)`:
//!
//! `a' = MultiplyByQuantizedMultiplier((a - zp_a) * 2^20, M_a)`, likewise `b'`,
//! `y = clamp(zp_y + MultiplyByQuantizedMultiplier(a' + b', M_y), act_min, act_max)`.
//!
//! `M_y` must be below 1 (an output scale at least `twice_max / 2^20`), as TFLite Micro
//! requires. One input may be a constant tensor (read from the model in place).

use super::broadcast::{self, Scales};
use super::quant::{activation_range, quantize_multiplier_below_one};
use super::{Kind, OpDesc, Run, Setup};
use crate::formats::tflite::Activation;
use crate::kernels::int8::multiply_by_quantized_multiplier as mbqm;
use crate::Result;

const LEFT_SHIFT: i32 = 20;

pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    describe_add_or_sub(s, Kind::Add, s.op.add_activation()?)
}

/// ADD's or SUB's description (the same multipliers).
#[inline(never)] // set-up only: its own stack frame
pub(crate) fn describe_add_or_sub(s: &Setup<'_, '_>, kind: Kind, act: Activation) -> Result<OpDesc> {
    let (mut d, Scales { a, b, y, y_zero_point }) = broadcast::describe(s, kind)?;
    let twice_max = 2.0 * (a.max(b) as f64);
    d.left_shift = LEFT_SHIFT;
    (d.mult, d.shift) = quantize_multiplier_below_one(s, a as f64 / twice_max)?;
    (d.mult2, d.shift2) = quantize_multiplier_below_one(s, b as f64 / twice_max)?;
    (d.mult3, d.shift3) = quantize_multiplier_below_one(s, twice_max / ((1u32 << LEFT_SHIFT) as f64 * y as f64))?;
    (d.act_min, d.act_max) = activation_range(act, y, y_zero_point, s.index)?;
    Ok(d)
}

/// One input rescaled to the common scale: `MultiplyByQuantizedMultiplier((x - zp) * 2^left_shift, m, shift)`
/// (shared by ADD, SUB and SQUARED_DIFFERENCE).
#[inline(always)]
pub(crate) fn rescaled(x: i8, zp: i32, left_shift: i32, m: i32, shift: i32) -> i32 {
    mbqm((x as i32 - zp).wrapping_mul(1 << left_shift), m, shift)
}

/// ADD's output, or SUB's (`a' - b'`) with `SUBTRACT` (the description holds the multipliers).
#[inline(always)]
pub(crate) fn element<const SUBTRACT: bool>(d: &OpDesc, x: i8, z: i8) -> i8 {
    let sa = rescaled(x, d.in_zp, LEFT_SHIFT, d.mult, d.shift);
    let sb = rescaled(z, d.in2_zp, LEFT_SHIFT, d.mult2, d.shift2);
    let raw = if SUBTRACT { sa.wrapping_sub(sb) } else { sa.wrapping_add(sb) };
    let r = mbqm(raw, d.mult3, d.shift3).wrapping_add(d.out_zp);
    r.max(d.act_min).min(d.act_max) as i8
}

#[inline(never)] // set-up only: its own stack frame
pub(crate) fn prepare(s: &Setup<'_, '_>, d: &OpDesc, pers: &mut [i32], lut: &mut [u8]) -> Result<()> {
    broadcast::prepare(s, d, pers, lut, |x, z| element::<false>(d, x, z))
}

pub(crate) fn eval(d: &OpDesc, run: &Run<'_>, in1: &[u8], in2: &[u8], output: &mut [u8]) -> Result<()> {
    broadcast::eval(d, run, in1, in2, output, |x, z| element::<false>(d, x, z))
}
