//! Vector quantisation: nearest codewords (f32 and int8 codebooks), top-k, and residual VQ.
//!
//! Definitions (DESIGN.md): squared Euclidean distance; ties go to the lowest index (as faiss
//! and numpy's `argmin`); the distance returned is the true one. Precisely: a result's distance
//! is `sum_d (x_d - c_d)^2` computed in f64 from the f32 values (in the fixed order of
//! [`fvae_kernels::vq::sq_distance_exact`]) and rounded to f32, and results are ordered by
//! (that f32 distance, index). **Ties are on the returned f32 value**: two codewords whose f64
//! distances differ but round to the same f32 (this happens at |x| ~ 1e8) tie, and the lower
//! index wins, on every path (of this f64 definition; Cortex-M FPU cores: below). Every SIMD path
//! and the scalar reference give the same indices and
//! distances, because fast arithmetic only *ranks*: codewords whose fast score is within a
//! proven error bound of the best, widened by the f32 rounding margin of the distance, are
//! re-checked with the exact distance.
//!
//! On x86_64 CPUs with AVX-512 VNNI a packed codebook also carries an int8 copy, and
//! [`Codebook::nearest`] / [`Codebook::nearest_batch`] rank with int8 dot products first
//! (`vpdpbusd`, a quarter of the instructions of f32): the bound is `||x - x^|| ||c|| +
//! ||x^|| ||c - c^||` plus float slack, per query, and a query whose window holds too many
//! codewords falls back to the f32 scores. Results are the same as every other path's.
//!
//! On Cortex-M cores with a single-precision FPU only (M4F, M7, M33F:
//! [`fvae_kernels::vq::F32_DIRECT`] is `true`), f64 is software and the re-check would cost more
//! than the scan, so there the distance is defined in f32, directly: `sum_d (x_d - c_d)^2` with
//! each difference, square and sum rounded to f32, in index order (no cancellation: relative error
//! at most `(D + 1) 2^-24` against the real number), and results are ordered by (that distance,
//! index). Every path of such a build (packed or not, nearest, top-k, batch, residual) gives the
//! same indices and distances; they may differ from the host's in the last bits of a distance, and
//! so in the order of codewords whose distances are that close.
//!
//! - [`Codebook`]: an f32 codebook `[M, D]` borrowed from slices or a `.safetensors` buffer
//!   (tensor `codebook`), searched in the direct form `sum (x - c)^2`. [`Codebook::pack`] adds
//!   precomputed half norms and a panel layout (caller memory, [`Codebook::packed_len`] floats)
//!   so a batch of queries runs as a register-tiled matrix product on the ranking score
//!   `||c||^2 / 2 - x . c`: the fast path on hosts.
//! - [`CodebookI8`]: an int8 codebook with its `scale`, exact integer distances.
//! - [`ResidualVq`]: S stages of `[M, D]` codebooks (`codebooks` `[S, M, D]`), greedy encoding to
//!   S indices and decoding by summing codewords (as SoundStream and EnCodec use).
//! - [`CodebookOwned`] and [`CodebookI8Owned`]: const-generic owned forms for firmware.
//!
//! ```
//! use fvae::vq::Codebook;
//! let codebook = [0.0, 0.0, 1.0, 1.0, 4.0, 4.0];
//! let cb = Codebook::new(&codebook, 2)?;
//! let n = cb.nearest(&[0.9, 1.2])?;
//! assert_eq!(n.index, 1);
//! assert!((n.distance - 0.05).abs() < 1e-6);
//! # Ok::<(), fvae::Error>(())
//! ```

mod codebook;
mod codebook_i8;
mod residual;
mod search;

pub use codebook::{Codebook, CodebookOwned};
pub use codebook_i8::{quantize_i8, CodebookI8, CodebookI8Owned};
pub use residual::ResidualVq;

/// The nearest codeword of an f32 search: its index and exact squared distance.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Nearest {
    /// Index of the codeword (the lowest among equal distances).
    pub index: u32,
    /// `sum_d (x_d - c_d)^2`, computed in f64 and rounded to f32 (in f32 directly on Cortex-M FPU
    /// cores: see the module notes).
    pub distance: f32,
}

/// The nearest codeword of an int8 search: its index and exact integer squared distance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NearestI8 {
    /// Index of the codeword (the lowest among equal distances).
    pub index: u32,
    /// `sum_d (x_d - c_d)^2`, exact.
    pub distance: u32,
}
