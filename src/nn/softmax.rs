//! SOFTMAX, int8 in and int8 out along the last dimension (TFLite Micro's `reference_ops::Softmax`
//! with gemmlowp's fixed point). The output is quantised with scale 1/256 and zero point -128
//! (TFLite Micro requires exactly that).
//!
//! Set-up (`PreprocessSoftmaxScaling`, `CalculateInputRadius`): `M * 2^shift` is
//! `QuantizeMultiplier(min(beta * s_x * 2^26, 2^31 - 1))` (f64, `shift >= 0` required) and
//! `diff_min = -floor(31 * 2^26 / 2^shift)`. Per row, with `d = x - max(row)`:
//! `e(d) = exp_on_negative_values(MultiplyByQuantizedMultiplier(d, M, shift))` (Q5.26 in, Q0.31
//! out) for `d >= diff_min`, else nothing; `S = sum RoundingDivideByPOT(e, 12)` (Q12.19);
//! `r = one_over_one_plus_x(S << h - 1)` with `h = clz(S)` and `k = 12 - h + 23`;
//! `y = clamp(RoundingDivideByPOT(SRDHM(r, e(d)), k) - 128, -128, 127)` (and -128 where
//! `d < diff_min`).

use super::quant::{exp_on_negative_values, one_over_one_plus_x, quantize_multiplier};
use super::{as_i8, w32, Kind, OpDesc, Setup};
use crate::kernels::int8::{
    multiply_by_quantized_multiplier as mbqm, rounding_divide_by_pot as rdbp,
    saturating_rounding_doubling_high_mul as srdhm,
};
use crate::{Error, Result};

#[inline(never)] // set-up only: its own stack frame
pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let beta = s.op.softmax_beta()?;
    let (x, y) = (s.need_input(0)?, s.output()?);
    s.check_i8(&x)?;
    s.check_i8(&y)?;
    s.expect_activation(&x)?;
    if y.zero_point != -128 || y.scale != 1.0 / 256.0 {
        return Err(s.unsupported("SOFTMAX int8 output not quantised with scale 1/256 and zero point -128"));
    }
    if x.rank < 1 || x.rank != y.rank || x.dims != y.dims {
        return Err(s.shape(x.numel, y.numel));
    }
    let depth = *x.dims.get(x.rank - 1).ok_or(s.shape(1, 0))?;
    let real = (beta as f64 * x.scale as f64 * (1u64 << 26) as f64).min((1u64 << 31) as f64 - 1.0);
    let (mult, shift) = quantize_multiplier(real);
    if real.is_nan() || real <= 1.0 || shift < 0 {
        return Err(Error::Value { what: s.name, index: s.index, reason: "beta * input scale too small" });
    }
    let radius = libm::floor(31.0 * (1u64 << 26) as f64 / (1u64 << shift) as f64);
    Ok(OpDesc {
        kind: Kind::Softmax as i32,
        input: x.index,
        input2: -1,
        output: y.index,
        in_len: w32(s, x.numel)?,
        out_len: w32(s, y.numel)?,
        in_c: w32(s, depth)?,
        mult,
        shift,
        act_min: -(radius as i32),
        ..OpDesc::default()
    })
}

pub(crate) fn eval(d: &OpDesc, input: &[u8], output: &mut [u8]) -> Result<()> {
    let depth = (d.in_c as usize).max(1);
    let diff_min = d.act_min;
    let exp = |diff: i32| exp_on_negative_values(mbqm(diff, d.mult, d.shift), 5);
    for (row, out) in as_i8(input)?.chunks_exact(depth).zip(output.chunks_exact_mut(depth)) {
        let max = row.iter().copied().max().unwrap_or(i8::MIN) as i32;
        let mut sum = 0i32;
        for &v in row {
            let diff = v as i32 - max;
            if diff >= diff_min {
                sum = sum.wrapping_add(rdbp(exp(diff), 12));
            }
        }
        // GetReciprocal: the sum's headroom, 1 / sum as 1 / (1 + x) with x in [0, 1).
        let headroom = (sum as u32).leading_zeros();
        let bits_over_unit = 12 - headroom as i32;
        let shifted_minus_one = ((sum as u32).wrapping_shl(headroom)).wrapping_sub(1 << 31) as i32;
        let reciprocal = one_over_one_plus_x(shifted_minus_one);
        let exponent = bits_over_unit + 31 - 8;
        if !(0..=31).contains(&exponent) {
            return Err(Error::Value { what: "SOFTMAX", index: d.index as usize, reason: "row sum out of range" });
        }
        for (o, &v) in out.iter_mut().zip(row) {
            let diff = v as i32 - max;
            let r = if diff >= diff_min { rdbp(srdhm(reciprocal, exp(diff)), exponent) - 128 } else { -128 };
            *o = r.clamp(-128, 127) as i8 as u8;
        }
    }
    Ok(())
}
