//! x86_64 paths of the Gaussian-mixture kernels, one file per instruction-set level.
//!
//! Each path is a `pub unsafe fn` whose only precondition is that the CPU has its features
//! (tests call them directly); lengths are made consistent inside, as in the dispatch
//! functions, so any slices are sound.

pub mod avx2;
pub mod avx512;
pub mod sse2;
