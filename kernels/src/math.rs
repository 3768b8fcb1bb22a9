//! Scalar elementary functions shared by the references of every kernel family.

/// `e^x` in f32 by range reduction and a degree-6 polynomial (the Cephes `expf` scheme),
/// with arguments below -87 flushed to exactly 0.
///
/// The flush is deliberate: `e^-87` is the last value above `f32::MIN_POSITIVE`, and denormal
/// results make posterior loops several times slower on well-separated data. Relative error
/// against the true value is below 2e-7 (about 2 ULP) on [-87, 88]; above 88.7 the result is
/// `+inf`; NaN gives NaN.
///
/// ```
/// use fvae_kernels::math::exp;
/// assert!((exp(1.0) - core::f32::consts::E).abs() < 1e-6);
/// assert_eq!(exp(-100.0), 0.0);
/// ```
#[inline]
pub fn exp(x: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    if x < EXP_MIN {
        return 0.0;
    }
    if x > EXP_MAX {
        return f32::INFINITY;
    }
    let t = x * LOG2E;
    // Round half away from zero; the SIMD paths round half to even, a difference only at
    // exact ties, where both reductions stay within the polynomial's range.
    let n = if t < 0.0 { (t - 0.5) as i32 } else { (t + 0.5) as i32 };
    let nf = n as f32;
    let r = x - nf * LN2_HI - nf * LN2_LO;
    let p = exp_poly(r);
    if n > 127 {
        // Only for x in (88.38, 88.72]: 2^128 is not a float, but p * 2^127 * 2 is.
        return p * pow2i(127) * 2.0;
    }
    p * pow2i(n)
}

/// Arguments below this give 0 (see [`exp`]).
pub const EXP_MIN: f32 = -87.0;
/// Arguments above this give infinity.
pub const EXP_MAX: f32 = 88.72283;
/// log2(e).
pub const LOG2E: f32 = core::f32::consts::LOG2_E;
/// High part of ln 2 (exact in 9 bits, so `n * LN2_HI` is exact).
pub const LN2_HI: f32 = 0.693_359_4;
/// Low part of ln 2.
pub const LN2_LO: f32 = -2.121_944_4e-4;
/// Polynomial coefficients of `(e^r - 1 - r) / r^2` on |r| <= ln2/2, highest degree first.
pub const EXP_POLY: [f32; 6] = [1.987_569_1e-4, 1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 1.666_666_5e-1, 0.5];

/// `e^r` for |r| <= ln2/2 (plus a little slack).
#[inline]
pub fn exp_poly(r: f32) -> f32 {
    let mut p = EXP_POLY[0];
    p = p * r + EXP_POLY[1];
    p = p * r + EXP_POLY[2];
    p = p * r + EXP_POLY[3];
    p = p * r + EXP_POLY[4];
    p = p * r + EXP_POLY[5];
    p * r * r + r + 1.0
}

/// 2^n for n in [-126, 127] as the bits of a normal float.
#[inline]
pub fn pow2i(n: i32) -> f32 {
    f32::from_bits(((n + 127) as u32) << 23)
}

/// Square root, correctly rounded (IEEE 754), as `libm::sqrtf`: one `vsqrt.f32` on Cortex-M
/// cores with a single-precision FPU (cfg `fvae_arm_fpu`, see `build.rs`), where libm's software
/// root costs about 480 bytes of flash; libm elsewhere. Negative arguments give NaN.
///
/// ```
/// use fvae_kernels::math::sqrt;
/// assert_eq!(sqrt(2.25), 1.5);
/// assert!(sqrt(-1.0).is_nan());
/// ```
#[inline]
pub fn sqrt(x: f32) -> f32 {
    #[cfg(fvae_arm_fpu)]
    {
        // SAFETY: `fvae_vsqrtf` (below) reads only s0 and writes only s0, as AAPCS-VFP allows.
        unsafe { fvae_vsqrtf(x) }
    }
    #[cfg(not(fvae_arm_fpu))]
    libm::sqrtf(x)
}

// An out-of-line `vsqrt.f32`: stable Rust has no inline-`asm!` register class for the S
// registers on these targets, so the instruction is a two-instruction naked function. Naked
// (like global) assembly is assembled without the target's FPU, hence `.fpu`, undone by
// `restore_asm_state!` so that it cannot leak into assembly after it.
#[cfg(fvae_arm_fpu)]
/// `sqrt(x)` by `vsqrt.f32` (AAPCS-VFP: x and the result in s0).
#[unsafe(naked)]
unsafe extern "C" fn fvae_vsqrtf(x: f32) -> f32 {
    core::arch::naked_asm!(".fpu fpv4-sp-d16", "    vsqrt.f32 s0, s0", "    bx lr", crate::restore_asm_state!(),)
}
