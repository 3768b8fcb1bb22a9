//! TFLite's quantisation arithmetic on the set-up side: turning float scales into fixed-point
//! multipliers, activation clamp ranges, and gemmlowp's fixed-point logistic and tanh (used to
//! fill 256-entry lookup tables, so the per-element cost at run time is one load).

use crate::formats::tflite::Activation;
use crate::kernels::int8::{rounding_divide_by_pot as rdbp, saturating_rounding_doubling_high_mul as srdhm};
use crate::{Error, Result};

/// TFLite's `QuantizeMultiplier`: `m = q * 2^shift` with `q` in [0.5, 1) stored as
/// `round(q * 2^31)` (ties away from zero); a `q` that rounds up to 2^31 is halved with the
/// shift raised; shifts below -31 flush to zero; shifts above 30 saturate (as current TFLite).
///
/// ```
/// use fvae::nn::quant::quantize_multiplier;
/// assert_eq!(quantize_multiplier(0.75), (3 << 29, 0));
/// assert_eq!(quantize_multiplier(0.0), (0, 0));
/// ```
pub fn quantize_multiplier(m: f64) -> (i32, i32) {
    if m == 0.0 || !m.is_finite() {
        return (0, 0);
    }
    let (q, mut shift) = libm::frexp(m);
    let mut q_fixed = libm::round(q * (1u64 << 31) as f64) as i64;
    if q_fixed == 1i64 << 31 {
        q_fixed /= 2;
        shift += 1;
    }
    if shift < -31 {
        shift = 0;
        q_fixed = 0;
    }
    if shift > 30 {
        shift = 30;
        q_fixed = (1i64 << 31) - 1;
    }
    (q_fixed as i32, shift)
}

/// TFLite's `QuantizeMultiplierSmallerThanOneExp`: [`quantize_multiplier`] of an `m` in (0, 1)
/// whose shift comes out at most 0. TFLite Micro aborts on any other `m`; here it is an
/// [`Error::Value`] naming the operator's index.
pub(crate) fn quantize_multiplier_below_one(s: &super::Setup<'_, '_>, m: f64) -> Result<(i32, i32)> {
    let (q, shift) = quantize_multiplier(m);
    if !(m > 0.0 && m < 1.0) || shift > 0 {
        return Err(Error::Value {
            what: s.name,
            index: s.index,
            reason: "scales give a rescaling multiplier not in (0, 1)",
        });
    }
    Ok((q, shift))
}

/// TFLite's `LUTPopulate` for int8 (also TFLite Micro ELU's table): for every input byte `x`,
/// `dequantized = s_x * (x - zp_x)` and `y = clamp(round(f(dequantized) * (1 / s_y)) + zp_y)`
/// in f32 (rounding half away from zero; the sum cast to i32 saturates, as on Arm). Entry
/// `x as u8` holds `y`.
pub(crate) fn fill_float_lut(lut: &mut [u8], sx: f32, zx: i32, sy: f32, zy: i32, f: impl Fn(f32) -> f32) {
    let inverse_scale = 1.0 / sy;
    for x in -128i32..=127 {
        let Some(slot) = lut.get_mut(x as u8 as usize) else { continue };
        let dequantized = sx * (x - zx) as f32;
        let rescaled = libm::roundf(f(dequantized) * inverse_scale);
        let q = (rescaled + zy as f32) as i32;
        *slot = q.clamp(-128, 127) as i8 as u8;
    }
}

/// The int8 clamp range of a fused activation, as TFLite's `CalculateActivationRangeQuantized`:
/// the bounds `zero_point + round(f / scale)` (f32 division, ties away from zero) intersected
/// with [-128, 127]. TANH and SIGN_BIT cannot be fused: [`Error::Unsupported`] at `index`.
///
/// ```
/// use fvae::formats::tflite::Activation;
/// use fvae::nn::quant::activation_range;
/// assert_eq!(activation_range(Activation::Relu6, 0.05, -128, 0)?, (-128, -8));
/// # Ok::<(), fvae::Error>(())
/// ```
pub fn activation_range(act: Activation, scale: f32, zero_point: i32, index: usize) -> Result<(i32, i32)> {
    let q = |f: f32| zero_point.saturating_add(libm::roundf(f / scale) as i32);
    let (lo, hi) = match act {
        Activation::None => (-128, 127),
        Activation::Relu => (q(0.0).max(-128), 127),
        Activation::Relu6 => (q(0.0).max(-128), q(6.0).min(127)),
        Activation::ReluN1To1 => (q(-1.0).max(-128), q(1.0).min(127)),
        Activation::Other(_) => return Err(Error::Unsupported { what: "fused activation TANH/SIGN_BIT", index }),
    };
    Ok((lo, hi))
}

/// gemmlowp's `SaturatingRoundingMultiplyByPOT` for a positive exponent: a left shift that
/// saturates instead of overflowing.
fn sat_shl(x: i32, e: u32) -> i32 {
    let threshold = ((1i64 << (31 - e)) - 1) as i32;
    if x > threshold {
        i32::MAX
    } else if x < -threshold {
        i32::MIN
    } else {
        x << e
    }
}

/// `exp(a)` for `a` in [-1/4, 0), both Q0.31, by gemmlowp's Taylor expansion around -1/8.
fn exp_on_interval_between_negative_one_quarter_and_0_excl(a: i32) -> i32 {
    const CONSTANT_TERM: i32 = 1_895_147_668; // exp(-1/8)
    const ONE_THIRD: i32 = 715_827_883;
    let x = a.wrapping_add(1 << 28);
    let x2 = srdhm(x, x);
    let x3 = srdhm(x2, x);
    let x4 = srdhm(x2, x2);
    let x4_over_4 = rdbp(x4, 2);
    let poly = rdbp(srdhm(x4_over_4.wrapping_add(x3), ONE_THIRD).wrapping_add(x2), 1);
    CONSTANT_TERM.wrapping_add(srdhm(CONSTANT_TERM, x.wrapping_add(poly)))
}

/// `exp(a)` for `a <= 0` in Q`int_bits`, result Q0.31 (gemmlowp's `exp_on_negative_values`).
pub(crate) fn exp_on_negative_values(a: i32, int_bits: u32) -> i32 {
    let frac_bits = 31 - int_bits;
    let one_quarter = 1i32 << (frac_bits - 2);
    let mask = one_quarter - 1;
    let a_mod_quarter_minus_one_quarter = (a & mask).wrapping_sub(one_quarter);
    let mut result =
        exp_on_interval_between_negative_one_quarter_and_0_excl(sat_shl(a_mod_quarter_minus_one_quarter, int_bits));
    let remainder = a_mod_quarter_minus_one_quarter.wrapping_sub(a);
    // exp(-2^k) for k = -2..=4, Q0.31.
    const BARREL: [(i32, i32); 7] = [
        (-2, 1_672_461_947),
        (-1, 1_302_514_674),
        (0, 790_015_084),
        (1, 290_630_308),
        (2, 39_332_535),
        (3, 720_401),
        (4, 242),
    ];
    for (exponent, multiplier) in BARREL {
        if int_bits as i32 > exponent {
            let shift = (frac_bits as i32 + exponent) as u32;
            if remainder & (1i32 << shift) != 0 {
                result = srdhm(result, multiplier);
            }
        }
    }
    if int_bits > 5 {
        let clamp = -(1i32 << (36 - int_bits));
        if a < clamp {
            result = 0;
        }
    }
    if a == 0 {
        result = i32::MAX;
    }
    result
}

/// gemmlowp's `RoundingHalfSum` for i32.
fn rounding_half_sum(a: i32, b: i32) -> i32 {
    let sum = a as i64 + b as i64;
    let sign = if sum >= 0 { 1 } else { -1 };
    ((sum + sign) / 2) as i32
}

/// Newton-Raphson division shared by gemmlowp's logistic and tanh: for `a` in (0, 1) Q0.31,
/// the Q2.29 estimate of `1 / d` with `d = (1 + a) / 2` (three iterations from the initial
/// guess 48/17 - 32/17 d).
fn newton_one_over_half_denominator(a: i32) -> i32 {
    const C48_17: i32 = 1_515_870_810; // Q2.29
    const NEG_C32_17: i32 = -1_010_580_540; // Q2.29
    const ONE_Q2: i32 = 1 << 29;
    let half_denominator = rounding_half_sum(a, i32::MAX);
    let mut x = C48_17.wrapping_add(srdhm(half_denominator, NEG_C32_17));
    for _ in 0..3 {
        let half_denominator_times_x = srdhm(half_denominator, x);
        let one_minus = ONE_Q2.wrapping_sub(half_denominator_times_x);
        x = x.wrapping_add(sat_shl(srdhm(x, one_minus), 2));
    }
    x
}

/// gemmlowp's `one_over_one_plus_x_for_x_in_0_1`: `1 / (1 + a)` for `a` in [0, 1), Q0.31 in
/// and out.
pub(crate) fn one_over_one_plus_x(a: i32) -> i32 {
    sat_shl(newton_one_over_half_denominator(a), 1)
}

/// gemmlowp's fixed-point logistic of a Q4.27 input, Q0.31 output.
pub(crate) fn logistic_q4(a: i32) -> i32 {
    if a == 0 {
        return 1 << 30;
    }
    let abs = if a > 0 { a } else { a.wrapping_neg() };
    let e = exp_on_negative_values(abs.wrapping_neg(), 4);
    // one_over_one_plus_x_for_x_in_0_1: Rescale<0>(ExactMulByPot<-1>(x)).
    let positive = one_over_one_plus_x(e);
    if a > 0 {
        positive
    } else {
        i32::MAX.wrapping_sub(positive)
    }
}

/// gemmlowp's fixed-point tanh of a Q4.27 input, Q0.31 output.
pub(crate) fn tanh_q4(a: i32) -> i32 {
    if a == 0 {
        return 0;
    }
    let negative = a < 0;
    let n = if negative { a } else { a.wrapping_neg() };
    // neg_tanh_on_negative_values: exp of 2n (the same raw bits read as Q5.26).
    let e = exp_on_negative_values(n, 5);
    // one_minus_x_over_one_plus_x_for_x_in_0_1: Rescale<0>(x - 1) from Q2.29.
    let t = sat_shl(newton_one_over_half_denominator(e).wrapping_sub(1 << 29), 2);
    if negative {
        t.wrapping_neg()
    } else {
        t
    }
}

/// Input rescaling of TFLite's int8 LOGISTIC and TANH: `(multiplier, left_shift, radius)` for
/// the Q4.27 fixed-point input, as TFLite Micro's prepare step computes them (`frexp` of
/// `scale * 2^27`, no rounding fix-up, `radius = floor(15 * 2^27 / 2^left_shift)`).
pub(crate) fn q4_input_params(scale: f32, index: usize) -> Result<(i32, i32, i32)> {
    let real = scale as f64 * (1u64 << 27) as f64;
    let (q, shift) = libm::frexp(real);
    if !(0..=40).contains(&shift) {
        return Err(Error::Unsupported { what: "LOGISTIC/TANH input scale out of range", index });
    }
    let multiplier = libm::round(q * (1u64 << 31) as f64) as i64;
    let multiplier = multiplier.min(i32::MAX as i64) as i32;
    let radius = libm::floor(15.0 * (1u64 << 27) as f64 / (1u64 << shift) as f64);
    Ok((multiplier, shift, radius.min(i32::MAX as f64) as i32))
}

/// Fills a 256-entry table (entry `x + 128` for input `x`) of TFLite's int8 LOGISTIC (`tanh == false`, output
/// zero point -128, scale 1/256) or TANH (output zero point 0, scale 1/128).
pub(crate) fn fill_sigmoid_lut(lut: &mut [u8], zero_point: i32, scale: f32, tanh: bool, index: usize) -> Result<()> {
    let (multiplier, shift, radius) = q4_input_params(scale, index)?;
    // Indexed by the input's byte (`x as u8`), so that the lookup needs no offset.
    for x in -128i32..=127 {
        let Some(slot) = lut.get_mut(x as u8 as usize) else { continue };
        let input = x - zero_point;
        let y = if input <= -radius {
            -128
        } else if input >= radius {
            127
        } else {
            let q4 = crate::kernels::int8::multiply_by_quantized_multiplier(input, multiplier, shift);
            if tanh {
                rdbp(tanh_q4(q4), 24).clamp(-128, 127)
            } else {
                (rdbp(logistic_q4(q4), 23) - 128).clamp(-128, 127)
            }
        };
        *slot = y as i8 as u8;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_functions_track_the_real_ones() {
        for i in -200..=200 {
            let x = i as f64 / 16.0;
            let q4 = (x * (1u64 << 27) as f64) as i32;
            let l = logistic_q4(q4) as f64 / 2f64.powi(31);
            let t = tanh_q4(q4) as f64 / 2f64.powi(31);
            assert!((l - 1.0 / (1.0 + libm::exp(-x))).abs() < 1e-6, "logistic({x}) = {l}");
            assert!((t - libm::tanh(x)).abs() < 1e-6, "tanh({x}) = {t}");
        }
    }

    #[test]
    fn multipliers() {
        let (m, s) = quantize_multiplier(0.0031134947 * 0.017625947 / 0.07694206);
        let back = m as f64 / 2f64.powi(31) * 2f64.powi(s);
        assert!((back - 0.0031134947 * 0.017625947 / 0.07694206).abs() < 1e-12);
        assert_eq!(quantize_multiplier(1e-12), (0, 0));
        assert_eq!(quantize_multiplier(1e12), (i32::MAX, 30));
    }
}
