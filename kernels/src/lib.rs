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

pub mod cpu;
pub mod gaussian;
pub mod int8;
pub mod math;
pub mod vq;
