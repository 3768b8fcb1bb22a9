//! wasm32 paths of the VQ kernels (simd128, chosen at compile time by `-C target-feature=+simd128`).

pub mod simd128;
