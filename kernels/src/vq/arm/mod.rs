//! 32-bit Arm paths: the Cortex-M DSP extension (`thumbv7em`, cfg `fvae_arm_dsp` from
//! `build.rs`) for int8, through `asm!` because `core::arch::arm`'s DSP intrinsics are unstable.

pub mod dsp;
