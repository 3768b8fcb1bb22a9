//! aarch64 paths of the Gaussian-mixture kernels (NEON, which every aarch64 Linux target has).
//!
//! Each path is a `pub unsafe fn` whose only precondition is that the CPU has NEON; lengths
//! are made consistent inside, so any slices are sound.

pub mod neon;
