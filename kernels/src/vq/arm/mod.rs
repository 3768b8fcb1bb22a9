//! 32-bit Arm paths, through `asm!` and naked functions because `core::arch::arm`'s DSP intrinsics are
//! unstable and stable Rust has no `asm!` register class for the S registers:
//! - `dsp`: the Cortex-M DSP extension (`thumbv7em`, cfg `fvae_arm_dsp` from `build.rs`) for int8;
//! - `m4f`: the single-precision FPU (Cortex-M4F, M7, M33F; cfg `fvae_arm_fpu`) for f32.

#[cfg(fvae_arm_dsp)]
pub mod dsp;
#[cfg(fvae_arm_fpu)]
pub mod m4f;
