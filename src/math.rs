//! Elementary functions for model set-up and normalisation: libm by default, micromath's fast
//! approximations with the `micromath` feature (relative error about 1e-3 for ln, 1e-4 for
//! sqrt; see micromath's documentation), for firmware short of flash.

#[cfg(not(feature = "micromath"))]
pub(crate) fn ln(x: f32) -> f32 {
    libm::logf(x)
}

#[cfg(all(not(feature = "micromath"), not(all(miri, feature = "std"))))]
pub(crate) fn sqrt(x: f32) -> f32 {
    libm::sqrtf(x)
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
