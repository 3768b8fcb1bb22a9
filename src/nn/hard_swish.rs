//! HARD_SWISH, int8 (TFLite's `reference_ops::HardSwish`, quantised form), `x * relu6(x + 3) / 6`
//! in 16-bit fixed point.
//!
//! Set-up as TFLite Micro: `hires = s_x / 128` (f32), the output multiplier `hires / s_y` and
//! the "reluish" multiplier `hires / (3 / 32768)` (f64 quotients of the f32 values), each through
//! `QuantizeMultiplier` and rounded to 16 bits (`DownScaleInt32ToInt16Multiplier`); the output multiplier's exponent must be at
//! most 0. Per input, with `v = (x - zp_x) * 128` (i16): the output-scale value
//! `p = SaturatingRoundingDoublingHighMul(v, m_out)`; the reluish value `r` is `v` scaled by the
//! reluish multiplier (saturating shifts around a rounding doubling high multiply for a positive
//! exponent, a rounding right shift for a negative one) and mapped from [-1, 1] to [0, 1] by
//! `(r + 2^15) >> 1`; then `y = RoundingDivideByPOT(r * p >> 15, -e_out) + zp_y`, clamped to int8.
//!
//! The input has 256 possible values, so set-up evaluates this for each and run time is a
//! table lookup.

use super::logistic::describe_lut;
use super::quant::quantize_multiplier;
use super::{Kind, OpDesc, Setup};
use crate::{Error, Result};

#[inline(never)] // set-up only: its own stack frame
pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let d = describe_lut(s, Kind::HardSwish)?;
    let (x, y) = (s.need_input(0)?, s.output()?);
    let ((_, e_out), _) = multipliers(x.scale, y.scale);
    if e_out > 0 {
        return Err(Error::Value {
            what: "HARD_SWISH",
            index: s.index,
            reason: "output scale below input scale / 128",
        });
    }
    Ok(d)
}

/// `((m_out, e_out), (m_reluish, e_reluish))`, 16-bit multipliers with their exponents.
fn multipliers(sx: f32, sy: f32) -> ((i16, i32), (i16, i32)) {
    let hires = (1.0f32 / 128.0) * sx;
    let reluish_scale = 3.0f32 / 32768.0;
    let down = |(m, e): (i32, i32)| (downscale_to_i16(m), e);
    let (hires, sy, reluish_scale) = (hires as f64, sy as f64, reluish_scale as f64);
    (down(quantize_multiplier(hires / sy)), down(quantize_multiplier(hires / reluish_scale)))
}

/// TFLite's `DownScaleInt32ToInt16Multiplier`: the top 16 bits, rounded (saturating).
fn downscale_to_i16(m: i32) -> i16 {
    const ROUND: i32 = 1 << 15;
    if m >= i32::MAX - ROUND {
        return i16::MAX;
    }
    ((m + ROUND) >> 16) as i16
}

/// gemmlowp's `SaturatingRoundingDoublingHighMul` for i16.
fn srdhm16(a: i16, b: i16) -> i16 {
    if a == i16::MIN && b == i16::MIN {
        return i16::MAX;
    }
    let ab = a as i32 * b as i32;
    let nudge = if ab >= 0 { 1 << 14 } else { 1 - (1 << 14) };
    ((ab + nudge) / (1 << 15)) as i16
}

/// TFLite's truncating `SaturatingDoublingHighMul` for i16 (no rounding nudge).
fn doubling_high_mul16(a: i16, b: i16) -> i16 {
    if a == i16::MIN && b == i16::MIN {
        return i16::MAX;
    }
    ((a as i32 * b as i32) / (1 << 15)) as i16
}

/// gemmlowp's `RoundingDivideByPOT` for i16, exponent in [0, 31], in 16-bit arithmetic (the
/// mask truncated to 16 bits as gemmlowp's).
fn rdbp16(x: i16, exponent: i32) -> i16 {
    let e = exponent.clamp(0, 31) as u32;
    let mask = ((1i64 << e) - 1) as i16;
    let remainder = x & mask;
    let threshold = (mask >> 1).wrapping_add((x < 0) as i16);
    (((x as i32) >> e) as i16).wrapping_add((remainder > threshold) as i16)
}

/// TFLite's `SaturatingLeftShift` for i16.
fn saturating_shl16(x: i16, amount: i32) -> i16 {
    let r = (x as i64) << amount.clamp(0, 40);
    r.clamp(i16::MIN as i64, i16::MAX as i64) as i16
}

#[inline(never)] // set-up only: its own stack frame
pub(crate) fn prepare(s: &Setup<'_, '_>, d: &OpDesc, lut: &mut [u8]) -> Result<()> {
    let (x, y) = (s.need_input(0)?, s.output()?);
    let ((m_out, e_out), (m_rel, e_rel)) = multipliers(x.scale, y.scale);
    for q in -128i32..=127 {
        let Some(slot) = lut.get_mut(q as u8 as usize) else { continue };
        let hires = ((q - d.in_zp) as i16).wrapping_mul(128); // |q - zp| <= 255: no wrap
        let on_output_scale = srdhm16(hires, m_out);
        let mut reluish = hires;
        if e_rel > 0 {
            reluish = saturating_shl16(reluish, e_rel - 1);
        }
        reluish = srdhm16(reluish, m_rel);
        if e_rel > 0 {
            reluish = saturating_shl16(reluish, 1);
        }
        if e_rel < 0 {
            reluish = rdbp16(reluish, -e_rel);
        }
        let reluish = ((reluish as i32 + (1 << 15)) >> 1) as i16;
        let pre = doubling_high_mul16(reluish, on_output_scale);
        let out = rdbp16(pre, -e_out).wrapping_add(y.zero_point as i16);
        *slot = out.clamp(-128, 127) as i8 as u8;
    }
    Ok(())
}
