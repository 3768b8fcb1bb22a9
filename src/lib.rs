//! # fvae
//!
//! Allocation-free compute kernels for probabilistic encoding on microcontrollers and hosts:
//! Gaussian-mixture scoring, soft assignments and Fisher vectors, with more encoders to come.
//!
//! The crate is `#![no_std]` and never allocates. Models are views over borrowed memory (slices,
//! or a `.safetensors` buffer in flash), or const-generic owned values for firmware that knows
//! its sizes. Scratch memory is the caller's. The loops themselves live in
//! [`fvae_kernels`](fvae_kernels), which picks a SIMD path per target.
//!
//! ```
//! use fvae::gmm::DiagGmm;
//! use fvae::fisher::{FisherAccumulator, FisherOptions, Layout, Normalization};
//!
//! // Two components in two dimensions.
//! let weights = [0.5, 0.5];
//! let means = [0.0, 0.0, 4.0, 4.0];
//! let variances = [1.0, 1.0, 1.0, 1.0];
//! let mut consts = [0.0; DiagGmm::constants_len(2, 2)];
//! let gmm = DiagGmm::new(&weights, &means, &variances, &mut consts)?;
//!
//! let mut storage = [0.0; FisherAccumulator::storage_len(2, 2)];
//! let mut acc = FisherAccumulator::new(gmm, FisherOptions::default(), &mut storage)?;
//! acc.push(&[0.1, -0.2])?;
//! acc.push(&[3.9, 4.2])?;
//! let mut fv = [0.0; 8];
//! acc.finish(Layout::VlFeat, Normalization::IMPROVED, &mut fv)?;
//! let norm: f32 = fv.iter().map(|v| v * v).sum();
//! assert!((norm - 1.0).abs() < 1e-5);
//! # Ok::<(), fvae::Error>(())
//! ```
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

#[cfg(feature = "std")]
extern crate std;

pub mod adapt;
pub mod bow;
pub mod error;
pub mod fisher;
#[cfg(feature = "std")]
pub mod fit;
pub mod formats;
#[cfg(feature = "nalgebra")]
pub mod full_cov;
pub mod fvvae;
pub mod gmm;
mod math;
pub mod nn;
pub mod vae;
pub mod vlad;
pub mod vq;
pub mod vqvae;

pub use error::{Error, Result};
pub use fvae_kernels as kernels;
