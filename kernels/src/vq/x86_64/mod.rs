//! x86_64 paths: AVX2+FMA (8 lanes) and AVX-512 (16 lanes; int8 with VNNI).

pub mod avx2;
pub mod avx512;
