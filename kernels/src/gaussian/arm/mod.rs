//! Cortex-M paths of the Gaussian kernels.
//!
//! `m4f`: cores with a single-precision FPU (Cortex-M4F, M7, M33F; cfg `fvae_arm_fpu`, set by
//! `kernels/build.rs` for `thumbv7em-none-eabihf` and `thumbv8m.main-none-eabihf`).

pub mod m4f;
