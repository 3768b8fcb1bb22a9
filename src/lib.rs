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
mod compensated;
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

/// Every public type can move to and be shared between threads (or an interrupt handler and
/// the main loop): none holds a `Cell`, a raw pointer or an `Rc`. Checked when the crate
/// compiles, so a field that would lose this fails the build.
const fn assert_send_sync<T: Send + Sync>() {}
const _: () = {
    use crate::*;
    assert_send_sync::<Error>();
    assert_send_sync::<adapt::MapOptions>();
    assert_send_sync::<adapt::AdaptiveGmm<2, 2>>();
    assert_send_sync::<adapt::OnlineKMeans<2, 2>>();
    assert_send_sync::<bow::BowAssignment>();
    assert_send_sync::<bow::BowNormalization>();
    assert_send_sync::<bow::BowAccumulator<'static, 'static>>();
    assert_send_sync::<fisher::Layout>();
    assert_send_sync::<fisher::Normalization>();
    assert_send_sync::<fisher::FisherOptions>();
    assert_send_sync::<fisher::FisherAccumulator<'static, 'static>>();
    assert_send_sync::<fisher::FisherStorage<2, 2>>();
    assert_send_sync::<fisher::PlainFisherStorage<2, 2>>();
    assert_send_sync::<fvvae::Encoder<'static, 'static>>();
    assert_send_sync::<fvvae::DecoderLayer<'static>>();
    assert_send_sync::<fvvae::FvVaeOptions>();
    assert_send_sync::<fvvae::FvVaeAccumulator<'static, 'static>>();
    assert_send_sync::<gmm::Assignment>();
    assert_send_sync::<gmm::DiagGmm<'static>>();
    assert_send_sync::<gmm::DiagGmmOwned<2, 2>>();
    assert_send_sync::<vae::Decoder<'static, 'static>>();
    assert_send_sync::<vlad::VladNormalization>();
    assert_send_sync::<vlad::VladAccumulator<'static, 'static>>();
    assert_send_sync::<vq::Nearest>();
    assert_send_sync::<vq::NearestI8>();
    assert_send_sync::<vq::Codebook<'static>>();
    assert_send_sync::<vq::CodebookOwned<2, 2>>();
    assert_send_sync::<vq::CodebookI8<'static>>();
    assert_send_sync::<vq::CodebookI8Owned<2, 2>>();
    assert_send_sync::<vq::ResidualVq<'static>>();
    assert_send_sync::<nn::Network<'static>>();
    assert_send_sync::<nn::TensorInfo>();
    assert_send_sync::<nn::Interpreter<'static, 'static>>();
    assert_send_sync::<formats::Aligned<[u8; 4]>>();
    assert_send_sync::<formats::DType>();
    assert_send_sync::<formats::Shape>();
    assert_send_sync::<formats::npy::Npy<'static>>();
    assert_send_sync::<formats::npy::Header>();
    assert_send_sync::<formats::safetensors::SafeTensors<'static>>();
    assert_send_sync::<formats::safetensors::TensorView<'static>>();
    assert_send_sync::<formats::tflite::Model<'static>>();
    assert_send_sync::<formats::tflite::Limits>();
    assert_send_sync::<formats::tflite::SubGraph<'static>>();
    assert_send_sync::<formats::tflite::Tensor<'static>>();
    assert_send_sync::<formats::tflite::Operator<'static>>();
    assert_send_sync::<formats::tflite::Quantization<'static>>();
};
#[cfg(feature = "std")]
const _: () = {
    assert_send_sync::<formats::AlignedBuf>();
    assert_send_sync::<fit::GmmFitOptions>();
    assert_send_sync::<fit::FittedGmm>();
    assert_send_sync::<fit::KMeansOptions>();
    assert_send_sync::<fit::KMeans>();
    assert_send_sync::<fit::ResidualKMeans>();
};
