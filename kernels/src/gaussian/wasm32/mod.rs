//! wasm32 paths of the Gaussian-mixture kernels (simd128, selected at compile time by
//! `-C target-feature=+simd128`: WebAssembly has no run-time feature detection).
//!
//! Each path is a `pub unsafe fn` whose only precondition is that the engine runs simd128;
//! lengths are made consistent inside, so any slices are sound.

pub mod simd128;
