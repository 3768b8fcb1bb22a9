//! wasm32 int8 paths (simd128, chosen at compile time by `-C target-feature=+simd128`).

pub mod simd128;
