//! Which instruction-set path runs.
//!
//! On x86_64 with the `std` feature the CPU is asked once (`is_x86_feature_detected!`) and the
//! answer cached in an atomic; without `std` the level is what the build's target features allow
//! (`-C target-cpu=x86-64-v3` gives AVX2+FMA, `x86-64-v4` AVX-512). On aarch64 NEON is always
//! present; on wasm32 simd128 is a build choice (`-C target-feature=+simd128`). Other targets use the
//! scalar reference.

/// An x86_64 instruction-set level, ordered from least to most capable.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum X86Level {
    /// SSE2: every x86_64 CPU has it.
    Sse2 = 1,
    /// AVX2 with FMA (x86-64-v3).
    Avx2Fma = 2,
    /// AVX-512 Foundation (x86-64-v4 has it, with BW, DQ and VL).
    Avx512F = 3,
}

#[cfg(all(target_arch = "x86_64", feature = "std"))]
static X86_LEVEL: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);

/// The best x86_64 level this CPU (with `std`) or this build (without) supports.
///
/// ```
/// # #[cfg(target_arch = "x86_64")] {
/// use fvae_kernels::cpu::{x86_level, X86Level};
/// assert!(x86_level() >= X86Level::Sse2);
/// # }
/// ```
#[cfg(target_arch = "x86_64")]
#[inline]
pub fn x86_level() -> X86Level {
    #[cfg(feature = "std")]
    {
        use core::sync::atomic::Ordering;
        match X86_LEVEL.load(Ordering::Relaxed) {
            1 => X86Level::Sse2,
            2 => X86Level::Avx2Fma,
            3 => X86Level::Avx512F,
            _ => {
                let level = detect_x86_level();
                X86_LEVEL.store(level as u8, Ordering::Relaxed);
                level
            }
        }
    }
    #[cfg(not(feature = "std"))]
    {
        if cfg!(target_feature = "avx512f") {
            X86Level::Avx512F
        } else if cfg!(all(target_feature = "avx2", target_feature = "fma")) {
            X86Level::Avx2Fma
        } else {
            X86Level::Sse2
        }
    }
}

#[cfg(all(target_arch = "x86_64", feature = "std"))]
fn detect_x86_level() -> X86Level {
    // FVAE_X86_LEVEL caps the level (sse2, avx2, avx512) so benchmarks and tests can compare
    // paths in one binary on one machine.
    let cap = match std::env::var("FVAE_X86_LEVEL").as_deref() {
        Ok("sse2") => X86Level::Sse2,
        Ok("avx2") => X86Level::Avx2Fma,
        _ => X86Level::Avx512F,
    };
    let found = if std::is_x86_feature_detected!("avx512f") {
        X86Level::Avx512F
    } else if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        X86Level::Avx2Fma
    } else {
        X86Level::Sse2
    };
    found.min(cap)
}

/// Whether the AVX2+FMA path may run here (detected with `std`, compiled-in without).
#[cfg(target_arch = "x86_64")]
pub fn has_avx2_fma() -> bool {
    x86_level() >= X86Level::Avx2Fma
}

/// Whether the AVX-512F path may run here (detected with `std`, compiled-in without).
#[cfg(target_arch = "x86_64")]
pub fn has_avx512f() -> bool {
    x86_level() >= X86Level::Avx512F
}

/// Whether the AVX-512 int8 path may run here: AVX-512F, BW, VL and VNNI (`vpdpbusd`/`vpdpwssd`),
/// detected with `std` (and capped by `FVAE_X86_LEVEL` like the rest), compiled-in without.
#[cfg(target_arch = "x86_64")]
pub fn has_avx512_vnni() -> bool {
    #[cfg(feature = "std")]
    {
        has_avx512f()
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vl")
            && std::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(feature = "std"))]
    {
        cfg!(all(
            target_feature = "avx512f",
            target_feature = "avx512bw",
            target_feature = "avx512vl",
            target_feature = "avx512vnni"
        ))
    }
}

/// The name of the path the float kernels take on this machine, for logs and benchmarks.
///
/// ```
/// let name = fvae_kernels::cpu::float_path_name();
/// assert!(["scalar", "sse2", "avx2+fma", "avx512f", "neon", "simd128"].contains(&name));
/// ```
pub fn float_path_name() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        match x86_level() {
            X86Level::Sse2 => "sse2",
            X86Level::Avx2Fma => "avx2+fma",
            X86Level::Avx512F => "avx512f",
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        "neon"
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        "simd128"
    }
    #[cfg(not(any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        all(target_arch = "wasm32", target_feature = "simd128")
    )))]
    {
        "scalar"
    }
}

#[cfg(all(target_arch = "x86_64", feature = "std"))]
static X86_BW: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);

/// Whether the AVX-512 BW (byte/word) instructions the int8 kernels use may run here: the
/// AVX-512 level and AVX512BW (detected once and cached with `std`, compiled-in without).
///
/// ```
/// # #[cfg(target_arch = "x86_64")]
/// let _ = fvae_kernels::cpu::has_avx512bw();
/// ```
#[cfg(target_arch = "x86_64")]
pub fn has_avx512bw() -> bool {
    #[cfg(feature = "std")]
    {
        use core::sync::atomic::Ordering;
        match X86_BW.load(Ordering::Relaxed) {
            1 => false,
            2 => true,
            _ => {
                let bw = has_avx512f() && std::is_x86_feature_detected!("avx512bw");
                X86_BW.store(1 + bw as u8, Ordering::Relaxed);
                bw
            }
        }
    }
    #[cfg(not(feature = "std"))]
    {
        cfg!(all(target_feature = "avx512f", target_feature = "avx512bw"))
    }
}
