//! x86_64 int8 paths: AVX2 and AVX-512 (BW, and VNNI where present).

pub mod avx2;
pub mod avx512;
