//! Elementary functions for model set-up and normalisation: libm by default, micromath's fast
//! approximations with the `micromath` feature (relative error about 1e-3 for ln, 1e-4 for
//! sqrt; see micromath's documentation), for firmware short of flash.

#[cfg(not(feature = "micromath"))]
pub(crate) fn ln(x: f32) -> f32 {
    libm::logf(x)
}

#[cfg(all(not(feature = "micromath"), not(all(miri, feature = "std"))))]
pub(crate) fn sqrt(x: f32) -> f32 {
    // libm's on most targets, one `vsqrt.f32` on Cortex-M cores with an FPU (the same result).
    fvae_kernels::math::sqrt(x)
}

/// Under Miri (scripts/sanitize.sh): libm's x86 sqrtf is inline assembly, which Miri cannot run;
/// std's sqrt is the same correctly rounded IEEE operation.
#[cfg(all(not(feature = "micromath"), miri, feature = "std"))]
pub(crate) fn sqrt(x: f32) -> f32 {
    x.sqrt()
}

/// f64 square root (VQ bounds): libm's, or std's under Miri as for [`sqrt`].
pub(crate) fn sqrt_f64(x: f64) -> f64 {
    #[cfg(all(miri, feature = "std"))]
    return x.sqrt();
    #[cfg(not(all(miri, feature = "std")))]
    libm::sqrt(x)
}

#[cfg(feature = "micromath")]
pub(crate) fn ln(x: f32) -> f32 {
    micromath::F32Ext::ln(x)
}

#[cfg(feature = "micromath")]
pub(crate) fn sqrt(x: f32) -> f32 {
    micromath::F32Ext::sqrt(x)
}

/// f64 `exp` (the posteriors of the few components the Fisher accumulator refines).
pub(crate) fn exp_f64(x: f64) -> f64 {
    libm::exp(x)
}

/// |x|^alpha with the sign of x (the power normalisation of Fisher vectors).
pub(crate) fn signed_pow(x: f32, alpha: f32) -> f32 {
    let m = if alpha == 0.5 { sqrt(x.abs()) } else { libm::powf(x.abs(), alpha) };
    if x < 0.0 {
        -m
    } else {
        m
    }
}

/// An unevaluated sum `hi + lo` of two f32 (about 48 significant bits): the accuracy model set-up needs
/// from f64, without software double precision on cores whose FPU is single precision (Cortex-M4F: the
/// f64 routines were about 2.3 KB of flash). Knuth's two-sum and Dekker's product, no FMA needed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct F32x2 {
    pub hi: f32,
    pub lo: f32,
}

/// `a + b = s + e` exactly (any magnitudes, barring overflow).
fn two_sum(a: f32, b: f32) -> (f32, f32) {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

/// `a = h + l` with `h` holding the high 12 bits (Veltkamp's split).
fn split(a: f32) -> (f32, f32) {
    let c = 4097.0 * a;
    let h = c - (c - a);
    (h, a - h)
}

/// `a * b = p + e` exactly (Dekker; barring overflow and underflow).
fn two_prod(a: f32, b: f32) -> (f32, f32) {
    let p = a * b;
    let ((ah, al), (bh, bl)) = (split(a), split(b));
    (p, ((ah * bh - p) + ah * bl + al * bh) + al * bl)
}

/// `s * s * v - 1` for `s` near `1 / sqrt(v)`, to about 1e-14 where the f32 product would round
/// it to 0 or 6e-8: the relative error of the rounded inverse square root's square.
pub(crate) fn square_times_minus_one(s: f32, v: f32) -> f32 {
    let (p, pe) = two_prod(s, s);
    let (r, re) = two_prod(p, v);
    // r is within a few ulps of 1, so r - 1 is exact.
    (r - 1.0) + (re + pe * v)
}

/// ln(2) as an f32 pair.
const LN_2: F32x2 = F32x2 { hi: core::f32::consts::LN_2, lo: -1.904_654_3e-9 };

impl F32x2 {
    pub const ZERO: F32x2 = F32x2 { hi: 0.0, lo: 0.0 };

    /// `ln(v)` for a finite `v > 0` to about 1e-9 absolute (f32's own `ln` is off by up to half an
    /// ulp of the result, 5e-7 at `ln(1e-6)`, which the log-determinant of a GMM fitted with a
    /// variance floor adds up over D dimensions). `v = m 2^e` with `m` in [sqrt(1/2), sqrt(2)):
    /// `e ln 2` as a pair, and `ln m = 2 atanh(s)`, `s = (m - 1) / (m + 1)`, whose leading `2 s`
    /// is kept as a pair and whose series tail (below 0.004) is an f32 polynomial.
    pub fn ln(v: f32) -> F32x2 {
        // Subnormals scaled into the normal range first (exact).
        let (v, bias) = if v < f32::MIN_POSITIVE { (v * 16_777_216.0, -24) } else { (v, 0) };
        let bits = v.to_bits();
        let mut e = ((bits >> 23) & 0xff) as i32 - 127 + bias;
        let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000); // [1, 2)
        if m > core::f32::consts::SQRT_2 {
            m *= 0.5;
            e += 1;
        }
        let num = m - 1.0; // exact (Sterbenz)
        let (dh, dl) = two_sum(m, 1.0);
        let s = num / dh;
        let (p, pe) = two_prod(s, dh);
        let s_lo = (((num - p) - pe) - s * dl) / dh;
        let s2 = s * s;
        let tail = 2.0
            * s
            * s2
            * (1.0 / 3.0 + s2 * (1.0 / 5.0 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0 + s2 * (1.0 / 11.0 + s2 / 13.0)))));
        F32x2::renorm(2.0 * s, 2.0 * s_lo).add_f32(tail).add(LN_2.mul_f32(e as f32))
    }

    /// `s + e` with `|e|` small against `|s|`, renormalised so that `hi` is `s + e` rounded.
    fn renorm(s: f32, e: f32) -> F32x2 {
        let hi = s + e;
        F32x2 { hi, lo: e - (hi - s) }
    }

    pub fn add_f32(self, b: f32) -> F32x2 {
        let (s, e) = two_sum(self.hi, b);
        Self::renorm(s, e + self.lo)
    }

    pub fn add(self, o: F32x2) -> F32x2 {
        let (s, e) = two_sum(self.hi, o.hi);
        Self::renorm(s, e + (self.lo + o.lo))
    }

    pub fn mul_f32(self, b: f32) -> F32x2 {
        let (p, e) = two_prod(self.hi, b);
        Self::renorm(p, e + self.lo * b)
    }
}

#[cfg(test)]
mod tests {
    use super::F32x2;
    extern crate std;
    use std::vec;

    #[test]
    fn f32x2_ln_to_1e_9() {
        // Powers of two, values either side of sqrt(2), the variance floors EM uses, subnormals.
        let mut values = vec![1.0f32, 2.0, 0.5, 1e-6, 1e-3, 3.7e5, 1e-40, f32::MAX];
        let r2 = core::f32::consts::SQRT_2;
        values.extend([r2, f32::from_bits(r2.to_bits() + 1), f32::from_bits(r2.to_bits() - 1), 0.5 * r2]);
        values.extend((0..2000).map(|i| f32::from_bits(0x0080_0000 + i * 1_065_353_u32)));
        for v in values {
            let got = F32x2::ln(v);
            let want = (v as f64).ln();
            let err = (got.hi as f64 + got.lo as f64 - want).abs();
            assert!(err < 1e-9 + 1e-13 * want.abs(), "ln({v:e}) = {} + {} vs {want}: {err:e}", got.hi, got.lo);
        }
    }

    #[test]
    fn square_times_minus_one_to_1e_14() {
        for i in 0..2000u32 {
            let v = f32::from_bits(0x3380_0000 + i * 524_287); // 6e-8 up to about 1e4
            let s = 1.0 / v.sqrt();
            let want = (s as f64) * (s as f64) * (v as f64) - 1.0;
            let got = super::square_times_minus_one(s, v) as f64;
            assert!((got - want).abs() < 1e-14, "{v:e}: {got:e} vs {want:e}");
        }
    }

    #[test]
    fn f32x2_sums_and_products_to_f64_accuracy() {
        // ln(2 pi) * 64 + the ln of 64 variances, against f64.
        let ln_2pi = F32x2 { hi: 1.837_877, lo: 3.126_835_3e-8 };
        let mut sum = ln_2pi.mul_f32(64.0);
        let mut want = 64.0 * 1.837_877_066_409_345_5f64;
        for i in 0..64 {
            let v = (0.37 + i as f32 * 0.731).ln() * if i % 3 == 0 { -1.0 } else { 1.0 };
            sum = sum.add_f32(v);
            want += v as f64;
        }
        let got = sum.hi as f64 + sum.lo as f64;
        assert!((got - want).abs() < 1e-12 * want.abs(), "{got} vs {want}");
        assert_eq!(sum.hi, want as f32);
        let two = sum.add(sum);
        assert!((two.hi as f64 + two.lo as f64 - 2.0 * want).abs() < 2e-12 * want.abs());
    }
}
