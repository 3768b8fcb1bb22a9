//! PRELU, int8, the slope `alpha` broadcast against the input up to rank 6 (TFLite Micro's
//! `BroadcastPrelu4DSlow`).
//!
//! With `M_1 * 2^shift_1 = s_x / s_y` and `M_2 * 2^shift_2 = s_x * s_alpha / s_y` (f64,
//! `QuantizeMultiplier`) and `v = x - zp_x`:
//! `y = clamp(zp_y + MultiplyByQuantizedMultiplier(v, M_1, shift_1), -128, 127)` for `v >= 0`,
//! `y = clamp(zp_y + MultiplyByQuantizedMultiplier(v * (alpha - zp_alpha), M_2, shift_2), -128, 127)`
//! otherwise. `alpha` (usually a constant) has one scale.

use super::broadcast::{self, Scales};
use super::quant::quantize_multiplier;
use super::{Kind, OpDesc, Run, Setup};
use crate::kernels::int8::multiply_by_quantized_multiplier as mbqm;
use crate::Result;

#[inline(never)] // set-up only: its own stack frame
pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let (mut d, Scales { a: x, b: alpha, y, .. }) = broadcast::describe(s, Kind::Prelu)?;
    if s.need_input(1)?.quant.is_some_and(|q| q.scale.len() != 1) {
        return Err(s.unsupported("PRELU alpha with per-channel quantization"));
    }
    (d.mult, d.shift) = quantize_multiplier(x as f64 / y as f64);
    (d.mult2, d.shift2) = quantize_multiplier(x as f64 * alpha as f64 / y as f64);
    Ok(d)
}

/// The output for input `v` and slope `a`.
#[inline(always)]
fn element(d: &OpDesc, v: i8, a: i8) -> i8 {
    let v = v as i32 - d.in_zp;
    let r = if v >= 0 {
        mbqm(v, d.mult, d.shift)
    } else {
        mbqm(v * (a as i32 - d.in2_zp), d.mult2, d.shift2) // at most 255 * 255
    };
    r.wrapping_add(d.out_zp).clamp(-128, 127) as i8
}

#[inline(never)] // set-up only: its own stack frame
pub(crate) fn prepare(s: &Setup<'_, '_>, d: &OpDesc, pers: &mut [i32], lut: &mut [u8]) -> Result<()> {
    broadcast::prepare(s, d, pers, lut, |v, a| element(d, v, a))
}

pub(crate) fn eval(d: &OpDesc, run: &Run<'_>, in1: &[u8], in2: &[u8], output: &mut [u8]) -> Result<()> {
    broadcast::eval(d, run, in1, in2, output, |v, a| element(d, v, a))
}
