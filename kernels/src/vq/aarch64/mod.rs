//! aarch64 paths: NEON (f32 and int8 by widening multiplies; SDOT is not stable in Rust).

pub mod neon;
