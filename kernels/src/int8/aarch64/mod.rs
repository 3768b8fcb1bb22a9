//! aarch64 int8 paths (NEON is part of the base architecture).

pub mod neon;
