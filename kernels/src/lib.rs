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

/// The directive that ends every assembly block which sets `.fpu` or `.arch`: `.arch` back to the
/// target's own architecture (from `build.rs`), which also resets the FPU and extensions to that
/// architecture's defaults, the state the assembler starts in. Without it the setting would
/// leak into assembly that follows in the same module (another crate's, under LTO).
#[cfg(any(fvae_arm_fpu, fvae_arm_dsp))]
macro_rules! restore_asm_state {
    () => {
        concat!(".arch ", env!("FVAE_ASM_ARCH"))
    };
}
#[cfg(any(fvae_arm_fpu, fvae_arm_dsp))]
pub(crate) use restore_asm_state;

pub mod cpu;
pub mod gaussian;
pub mod int8;
pub mod math;
pub mod vq;
