//! MUL, int8 with broadcasting up to rank 6 (TFLite Micro's `reference_integer_ops::Mul` and
//! `BroadcastMul6DSlow`).
//!
//! With `M * 2^shift = (f64)s_a * (f64)s_b / (f64)s_y` (`QuantizeMultiplier`):
//! `y = clamp(zp_y + MultiplyByQuantizedMultiplier((a - zp_a) * (b - zp_b), M, shift), act_min, act_max)`.
//!
//! One input may be a constant tensor (read from the model in place).

use super::broadcast::{self, Scales};
use super::quant::{activation_range, quantize_multiplier};
use super::{Kind, OpDesc, Run, Setup};
use crate::kernels::int8;
use crate::kernels::int8::multiply_by_quantized_multiplier as mbqm;
use crate::Result;

#[inline(never)] // set-up only: its own stack frame
pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let act = s.op.mul_activation()?;
    let (mut d, Scales { a, b, y, y_zero_point }) = broadcast::describe(s, Kind::Mul)?;
    (d.mult, d.shift) = quantize_multiplier(a as f64 * b as f64 / y as f64);
    (d.act_min, d.act_max) = activation_range(act, y, y_zero_point, s.index)?;
    Ok(d)
}

#[inline(always)]
fn element(d: &OpDesc, x: i8, z: i8) -> i8 {
    let product = (x as i32 - d.in_zp) * (z as i32 - d.in2_zp); // at most 255 * 255
    let r = d.out_zp.wrapping_add(mbqm(product, d.mult, d.shift));
    r.max(d.act_min).min(d.act_max) as i8
}

#[inline(never)] // set-up only: its own stack frame
pub(crate) fn prepare(s: &Setup<'_, '_>, d: &OpDesc, pers: &mut [i32], lut: &mut [u8]) -> Result<()> {
    broadcast::prepare(s, d, pers, lut, |x, z| element(d, x, z))
}

pub(crate) fn eval(d: &OpDesc, run: &Run<'_>, in1: &[u8], in2: &[u8], output: &mut [u8]) -> Result<()> {
    // The products are at most 255 * 255, inside the doubled requantisation's bound: where the
    // multiplier allows that form (`smmlar`/`ssat` on Cortex-M DSP cores, where the per-element
    // requantisation was most of a swish's MUL), the same integers in fewer steps.
    if let Some([m, e1, k]) = int8::scalar::requant_doubled(d.mult, d.shift, d.out_zp) {
        return broadcast::eval(d, run, in1, in2, output, |x, z| {
            let product = (x as i32 - d.in_zp) * (z as i32 - d.in2_zp);
            int8::pairs::requantize_doubled_one(product, m, e1, k).max(d.act_min).min(d.act_max) as i8
        });
    }
    broadcast::eval(d, run, in1, in2, output, |x, z| element(d, x, z))
}
