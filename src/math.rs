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

impl F32x2 {
    pub const ZERO: F32x2 = F32x2 { hi: 0.0, lo: 0.0 };

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
