//! LEAKY_RELU, int8 (TFLite Micro's `QuantizeLeakyRelu`).
//!
//! With `M_id * 2^shift_id = s_x / s_y` and `M_a * 2^shift_a = s_x * alpha / s_y` (in f64,
//! `QuantizeMultiplier`) and `v = x - zp_x`: `y = clamp(zp_y + MultiplyByQuantizedMultiplier(v, M_id, shift_id))` for
//! `v >= 0`, else `zp_y + sign(alpha) * MultiplyByQuantizedMultiplier(v, |M_a|, shift_a)` (a
//! negative `alpha` gives a negative `M_a`; the multiply takes its magnitude).
//!
//! The input has 256 possible values, so set-up evaluates this for each and run time is a
//! table lookup.

use super::logistic::describe_lut;
use super::quant::quantize_multiplier;
use super::{Kind, OpDesc, Setup};
use crate::kernels::int8::multiply_by_quantized_multiplier as mbqm;
use crate::{Error, Result};

#[inline(never)] // set-up only: its own stack frame
pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    if !s.op.leaky_relu_alpha()?.is_finite() {
        return Err(Error::Value { what: "LEAKY_RELU alpha", index: s.index, reason: "not finite" });
    }
    describe_lut(s, Kind::LeakyRelu)
}

#[inline(never)] // set-up only: its own stack frame
pub(crate) fn prepare(s: &Setup<'_, '_>, d: &OpDesc, lut: &mut [u8]) -> Result<()> {
    let (x, y, alpha) = (s.need_input(0)?, s.output()?, s.op.leaky_relu_alpha()?);
    let (m_id, shift_id) = quantize_multiplier(x.scale as f64 / y.scale as f64);
    let (m_alpha, shift_alpha) = quantize_multiplier(x.scale as f64 * alpha as f64 / y.scale as f64);
    let negative = m_alpha < 0;
    let m_alpha = m_alpha.wrapping_abs();
    for v in -128i32..=127 {
        let Some(slot) = lut.get_mut(v as u8 as usize) else { continue };
        let v = v - d.in_zp;
        let r = if v >= 0 {
            mbqm(v, m_id, shift_id)
        } else {
            let t = mbqm(v, m_alpha, shift_alpha);
            if negative {
                t.wrapping_neg()
            } else {
                t
            }
        };
        *slot = y.zero_point.wrapping_add(r).clamp(-128, 127) as i8 as u8;
    }
    Ok(())
}
