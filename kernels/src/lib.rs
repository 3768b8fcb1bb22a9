//! Primitive loops behind [`fvae`](https://docs.rs/fvae): slices in, numbers out.
//!
//! Each kernel family is a module with one readable scalar reference (`scalar.rs`, the truth
//! every test compares against) and hand-written paths per architecture beside it
//! (`x86_64/{sse2,avx2,avx512}.rs`, `aarch64/neon.rs`, ...). The family's `mod.rs` holds the one
//! dispatch point per kernel: on x86_64 a match on the CPU level, detected once (`cpuid`, no
//! `std` needed) and cached ([`cpu`]); elsewhere `cfg(target_feature)`.
//!
//! The kernels know nothing of models. They never panic: where slice lengths disagree they work
//! on the largest consistent prefix, which the documentation of each kernel states.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

#[cfg(feature = "std")]
extern crate std;

/// The directives that end every assembly block which sets `.fpu` or `.arch`: `.arch` back to the
/// target's own architecture (which resets the FPU and extensions) and `.fpu` back to the target's
/// own FPU (from `build.rs`), what the target declares to the assembler. Without them the setting
/// would leak into assembly that follows in the same module (another crate's, under LTO), where
/// on a Cortex-M33 `.fpu fpv4-sp-d16` or `.arch armv7e-m` would reject FPv5 or v8-M instructions.
#[cfg(any(fvae_arm_fpu, fvae_arm_dsp))]
macro_rules! restore_asm_state {
    () => {
        concat!(".arch ", env!("FVAE_ASM_ARCH"), "\n", env!("FVAE_ASM_FPU_LINE"))
    };
}
#[cfg(any(fvae_arm_fpu, fvae_arm_dsp))]
pub(crate) use restore_asm_state;

pub mod cpu;
pub mod gaussian;
pub mod int8;
pub mod math;
pub mod vq;
