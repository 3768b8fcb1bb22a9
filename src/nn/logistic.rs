//! LOGISTIC, int8 (TFLite Micro's `reference_integer_ops::Logistic`). The output is fixed at
//! scale 1/256, zero point -128 (TFLite requires it).
//!
//! For `v = x - zp_x`: below `-radius` the output is -128, above `radius` 127; otherwise
//! `q4 = MultiplyByQuantizedMultiplier(v, M, left_shift)` is the input in Q4.27 (with
//! `M * 2^left_shift = s_x * 2^27` from `frexp`, and
//! `radius = floor(15 * 2^27 / 2^left_shift)`), `p = gemmlowp::logistic(q4)` in Q0.31 and
//! `y = clamp(RoundingDivideByPOT(p, 23) - 128, -128, 127)`.
//!
//! The input has 256 possible values, so set-up evaluates this for each and run time is a
//! table lookup (shared with TANH).
//!
//! f32 (the converter can leave LOGISTIC in float after a DEQUANTIZE): TFLite's
//! `reference_ops::Logistic`, `1` above 16.619047, `expf(x)` below -9, else `1 / (1 + expf(-x))`.
//! `expf` as glibc's, whose bits TFLite Micro's outputs carry on the host: `e^x = 2^(k/32) 2^(r/32)`
//! evaluated in f64 (a 32-entry table of `2^(i/32)`, a cubic in `r`), rounded once to f32. On
//! every f32 in [-87, 87] it gives glibc's bits but on 2 of 2.2e9 (1 ulp, at |x| > 32).
//! `libm`'s `expf` (FreeBSD's) is 1 ulp off glibc's on about one input in six; `exp` in f64
//! rounded to f32 on 7 in 100 000.

use super::quant::fill_sigmoid_lut;
use super::{w32, Kind, OpDesc, Run, Setup};
use crate::formats::tflite::TensorType;
use crate::{Error, Result};

pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    if s.need_input(0)?.dtype == TensorType::Float32 {
        return super::relu::describe_f32(s, Kind::Logistic);
    }
    describe_lut(s, Kind::Logistic)
}

/// `2^(i/32)` (correctly rounded f64 bits) minus `i << 52 / 32`, so that adding `k << 47` to
/// entry `k % 32` scales it by `2^(k / 32)` (integer part into the exponent).
const EXP2_TABLE: [u64; 32] = [
    0x3ff0_0000_0000_0000,
    0x3fef_d9b0_d315_8574,
    0x3fef_b558_6cf9_890f,
    0x3fef_9301_d012_5b51,
    0x3fef_72b8_3c7d_517b,
    0x3fef_5487_3168_b9aa,
    0x3fef_387a_6e75_6238,
    0x3fef_1e9d_f51f_dee1,
    0x3fef_06fe_0a31_b715,
    0x3fee_f1a7_373a_a9cb,
    0x3fee_dea6_4c12_3422,
    0x3fee_ce08_6061_892d,
    0x3fee_bfda_d536_2a27,
    0x3fee_b42b_569d_4f82,
    0x3fee_ab07_dd48_5429,
    0x3fee_a47e_b03a_5585,
    0x3fee_a09e_667f_3bcd,
    0x3fee_9f75_e8ec_5f74,
    0x3fee_a114_73eb_0187,
    0x3fee_a589_994c_ce13,
    0x3fee_ace5_422a_a0db,
    0x3fee_b737_b0cd_c5e5,
    0x3fee_c491_82a3_f090,
    0x3fee_d503_b23e_255d,
    0x3fee_e89f_995a_d3ad,
    0x3fee_ff76_f2fb_5e47,
    0x3fef_199b_dd85_529c,
    0x3fef_3720_dcef_9069,
    0x3fef_5818_dcfb_a487,
    0x3fef_7c97_337b_9b5f,
    0x3fef_a4af_a2a4_90da,
    0x3fef_d076_5b6e_4540,
];

/// `e^v` in f32 as glibc's `expf` (see the module comment); infinities, NaN and the overflow
/// and underflow ranges as IEEE `e^v` rounded.
fn expf(v: f32) -> f32 {
    // Beyond these e^v rounds to inf or 0 (glibc's overflow and underflow bounds).
    let (overflow, underflow) = (f32::from_bits(0x42b1_7217), f32::from_bits(0xc2cf_f1b4));
    if v.is_nan() {
        return v + v;
    }
    if v > overflow {
        return f32::INFINITY;
    }
    if v < underflow {
        return 0.0;
    }
    let shift = f64::from_bits(0x4338_0000_0000_0000); // 1.5 * 2^52: adding it rounds to an integer
    let z = f64::from_bits(0x4047_1547_652b_82fe) * v as f64; // 32 / ln 2
    let kd = z + shift;
    let ki = kd.to_bits();
    let r = z - (kd - shift);
    let t = EXP2_TABLE[(ki % 32) as usize].wrapping_add(ki << 47);
    let s = f64::from_bits(t);
    // 2^(r/32) - 1 as a cubic in r (coefficients of (ln 2 / 32)^3 / 6 and so on, fitted).
    let (c0, c1, c2) = (
        f64::from_bits(0x3ebc_6af8_4b91_2394),
        f64::from_bits(0x3f2e_bfce_50fa_c4f3),
        f64::from_bits(0x3f96_2e42_ff0c_52d6),
    );
    let p = c0 * r + c1;
    let y = c2 * r + 1.0;
    ((p * (r * r) + y) * s) as f32
}

/// The f32 LOGISTIC (flags [`super::relu::FLOAT`]).
pub(crate) fn eval_f32(input: &[u8], output: &mut [u8]) {
    super::relu::map_f32(input, output, |v| {
        if v > 16.619_047 {
            1.0
        } else if v < -9.0 {
            expf(v)
        } else {
            1.0 / (1.0 + expf(-v))
        }
    });
}

pub(crate) fn describe_lut(s: &Setup<'_, '_>, kind: Kind) -> Result<OpDesc> {
    let (x, y) = (s.need_input(0)?, s.output()?);
    s.check_i8(&x)?;
    s.check_i8(&y)?;
    s.expect_activation(&x)?;
    if kind == Kind::Logistic && y.zero_point != -128 {
        return Err(Error::Value { what: "LOGISTIC output zero point", index: s.index, reason: "must be -128" });
    }
    if x.numel != y.numel {
        return Err(s.shape(x.numel, y.numel));
    }
    Ok(OpDesc {
        kind: kind as i32,
        input: x.index,
        input2: -1,
        output: y.index,
        in_len: w32(s, x.numel)?,
        out_len: w32(s, y.numel)?,
        lut_bytes: 256,
        in_zp: x.zero_point,
        ..OpDesc::default()
    })
}

pub(crate) fn prepare(s: &Setup<'_, '_>, d: &OpDesc, lut: &mut [u8]) -> Result<()> {
    if d.flags & super::relu::FLOAT != 0 {
        return Ok(());
    }
    let x = s.need_input(0)?;
    fill_sigmoid_lut(lut, d.in_zp, x.scale, false, s.index)
}

/// `y[i] = table[x[i] as u8]` (LOGISTIC and TANH; the table is indexed by the input byte), four
/// bytes per step.
pub(crate) fn eval_lut(run: &Run<'_>, input: &[u8], output: &mut [u8]) -> Result<()> {
    let table: &[u8; 256] =
        run.lut.try_into().map_err(|_| Error::Shape { what: "lookup table", expected: 256, found: run.lut.len() })?;
    let mut y = output.chunks_exact_mut(4);
    let mut x = input.chunks_exact(4);
    for (o, v) in (&mut y).zip(&mut x) {
        o.copy_from_slice(&[table[v[0] as usize], table[v[1] as usize], table[v[2] as usize], table[v[3] as usize]]);
    }
    for (o, &v) in y.into_remainder().iter_mut().zip(x.remainder()) {
        *o = table[v as usize];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern "C" {
        /// The host C library's `expf` (glibc's on Linux, which TFLite Micro's outputs used).
        #[link_name = "expf"]
        fn host_expf(x: f32) -> f32;
    }

    #[test]
    fn expf_gives_the_host_c_librarys_bits() {
        let mut bad = 0;
        let mut n = 0;
        // One f32 bit pattern in 61 over the whole range, and the special values.
        for bits in (0..=u32::MAX).step_by(61).chain([0x7f80_0000, 0xff80_0000, 0x7fc0_0000, 0x42b1_7217, 0xc2cf_f1b4])
        {
            let v = f32::from_bits(bits);
            if v.is_nan() {
                assert!(super::expf(v).is_nan());
                continue;
            }
            let (a, b) = (super::expf(v), unsafe { host_expf(v) });
            n += 1;
            if a.to_bits() != b.to_bits() {
                bad += 1;
                assert!(v.abs() > 32.0 && a.to_bits().abs_diff(b.to_bits()) == 1, "expf({v:e}) = {a:e}, host {b:e}");
            }
        }
        assert!(bad <= 2, "{bad} of {n} differ");
    }
}
