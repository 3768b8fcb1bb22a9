//! Which instructions each int8 kernel of this module runs here: the answer of its dispatch, so
//! that a model can say, layer by layer, which path it takes (`fvae::nn::Interpreter::layer_paths`).
//!
//! The answers follow the dispatch of each kernel in `int8/mod.rs` arm for arm; the tests (on
//! hosts with every `FVAE_X86_LEVEL` cap, and on the Cortex-M cores under QEMU with aligned and
//! unaligned weights) check them against the CPU level and the fused kernel's conditions.

use super::{FC_HEADER_WORDS, FC_ROW_WORDS};
#[cfg(target_arch = "x86_64")]
use crate::cpu::{x86_level, X86Level};

/// An int8 kernel path: the instruction set one kernel call runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Path {
    /// The portable reference ([`super::scalar`]).
    Scalar,
    /// Cortex-M DSP extension: `sxtb16` + `smlad`, two multiply-accumulates per instruction.
    ArmDsp,
    /// The fused Cortex-M DSP fully-connected loop in assembly, weights read with two unaligned
    /// `ldr` per 8 bytes (weights at an address that is not a multiple of 4).
    ArmDspFused,
    /// The fused Cortex-M DSP fully-connected loop on 4-byte aligned weights, read 8 bytes per
    /// `ldm` (the fastest Cortex-M form).
    ArmDspFusedAligned,
    /// x86_64 AVX2: inputs and weights widened to i16, `vpmaddwd`.
    Avx2,
    /// x86_64 AVX-512 BW (with VL): as AVX2 on 512-bit registers.
    Avx512Bw,
    /// x86_64 AVX-512 VNNI: `vpdpbusd`.
    Avx512Vnni,
    /// aarch64 NEON: `smull`/`smull2` and `sadalp`.
    Neon,
    /// wasm32 simd128: `i32x4.dot_i16x8_s`.
    Simd128,
}

impl Path {
    /// A short name for logs: `scalar`, `arm-dsp`, `arm-dsp-fused`, `arm-dsp-fused-aligned`,
    /// `avx2`, `avx512bw`, `avx512vnni`, `neon` or `simd128`.
    ///
    /// ```
    /// use fvae_kernels::int8::Path;
    /// assert_eq!(Path::ArmDspFusedAligned.name(), "arm-dsp-fused-aligned");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Path::Scalar => "scalar",
            Path::ArmDsp => "arm-dsp",
            Path::ArmDspFused => "arm-dsp-fused",
            Path::ArmDspFusedAligned => "arm-dsp-fused-aligned",
            Path::Avx2 => "avx2",
            Path::Avx512Bw => "avx512bw",
            Path::Avx512Vnni => "avx512vnni",
            Path::Neon => "neon",
            Path::Simd128 => "simd128",
        }
    }
}

/// An int8 kernel whose path [`kernel_path`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kernel {
    /// [`super::dot`].
    Dot,
    /// [`super::matvec`]: row-major weights.
    Matvec,
    /// [`super::matvec_packed`] and [`super::matmul_packed`]: [`super::pack`]ed weights.
    Packed,
    /// [`super::pairs::dot`] and [`super::pairs::dot_taps`]: one side widened to i16 pairs.
    Pairs,
    /// [`super::fully_connected`] where its fused form does not apply (the row-by-row loop on
    /// [`super::dot`]); [`fully_connected_path`] says which form a given layer takes.
    FullyConnected,
}

/// The path `kernel` takes on this CPU and build (on x86_64 at the level in force,
/// [`crate::cpu::x86_level`], so after any `FVAE_X86_LEVEL` or [`crate::cpu::cap_x86_level`] cap).
///
/// ```
/// use fvae_kernels::int8::{kernel_path, Kernel, Path};
/// let p = kernel_path(Kernel::Matvec);
/// # #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm", target_arch = "wasm32")))]
/// assert_eq!(p, Path::Scalar);
/// assert!(!p.name().is_empty());
/// ```
pub fn kernel_path(kernel: Kernel) -> Path {
    #[cfg(target_arch = "x86_64")]
    {
        let packed = kernel == Kernel::Packed;
        match x86_level() {
            _ if kernel == Kernel::Pairs => Path::Scalar,
            X86Level::Avx512Vnni => Path::Avx512Vnni,
            // The packed kernels have no BW form: at AVX-512 BW they run AVX2.
            X86Level::Avx512 if packed => Path::Avx2,
            X86Level::Avx512 => Path::Avx512Bw,
            X86Level::Avx2Fma => Path::Avx2,
            X86Level::Sse2 => Path::Scalar,
        }
    }
    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    {
        if kernel == Kernel::Pairs {
            Path::Scalar
        } else {
            Path::Neon
        }
    }
    #[cfg(all(target_arch = "arm", fvae_arm_dsp))]
    {
        if kernel == Kernel::Packed {
            Path::Scalar
        } else {
            Path::ArmDsp
        }
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        if matches!(kernel, Kernel::Packed | Kernel::Pairs) {
            Path::Scalar
        } else {
            Path::Simd128
        }
    }
    #[cfg(not(any(
        target_arch = "x86_64",
        all(target_arch = "aarch64", target_feature = "neon"),
        all(target_arch = "arm", fvae_arm_dsp),
        all(target_arch = "wasm32", target_feature = "simd128")
    )))]
    {
        let _ = kernel;
        Path::Scalar
    }
}

/// The path [`super::fully_connected`] takes for an input of `d` elements, these weights and
/// parameters, an output of every row the parameters hold and [`super::fc_scratch_words`]`(d)`
/// words of scratch: on a Cortex-M with the DSP extension the fused assembly loop
/// ([`Path::ArmDspFusedAligned`] for 4-byte aligned weights, [`Path::ArmDspFused`] otherwise) when
/// the parameters are doubled ([`super::fc_double`]) for at least 2 rows and `d` is a non-zero
/// multiple of 8; otherwise [`kernel_path`]`(`[`Kernel::FullyConnected`]`)`.
///
/// ```
/// use fvae_kernels::int8::{fc_double, fc_header, fc_row, fully_connected_path, kernel_path, Kernel};
/// let w = [1i8; 2 * 8];
/// let mut params = fc_header(0).to_vec();
/// params.extend(fc_row(0, 1 << 30, -1));
/// params.extend(fc_row(0, 1 << 30, -1));
/// fc_double(&mut params, &w);
/// let p = fully_connected_path(8, &w, &params);
/// # #[cfg(not(target_arch = "arm"))]
/// assert_eq!(p, kernel_path(Kernel::FullyConnected));
/// ```
pub fn fully_connected_path(d: usize, w: &[i8], params: &[i32]) -> Path {
    let rows = (params.len().saturating_sub(FC_HEADER_WORDS) / FC_ROW_WORDS).min(w.len().checked_div(d).unwrap_or(0));
    // The fused loop's conditions, as `fully_connected` checks them.
    let fused =
        params.first().is_some_and(|&doubled| doubled as usize == rows) && rows >= 2 && d > 0 && d.is_multiple_of(8);
    #[cfg(all(target_arch = "arm", fvae_arm_dsp))]
    if fused {
        return if (w.as_ptr() as usize).is_multiple_of(4) { Path::ArmDspFusedAligned } else { Path::ArmDspFused };
    }
    let _ = fused;
    kernel_path(Kernel::FullyConnected)
}
