//! 32-bit Arm int8 paths: the Cortex-M DSP extension (thumbv7em, thumbv8m.main), selected by
//! the `fvae_arm_dsp` cfg that `build.rs` sets from the target name.

pub mod dsp;
