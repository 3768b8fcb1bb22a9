//! int8 networks from `.tflite` files, bit-exact with the TFLite Micro reference interpreter.
//!
//! [`Network::new`] reads a full-integer `.tflite` in place, checks every operator of subgraph 0
//! (an unsupported operator, element type or option is an [`Error::Unsupported`] naming the
//! operator and its index) and plans the memory of the intermediate tensors from their
//! lifetimes. [`Network::required_arena`] says how many bytes of caller memory that takes;
//! [`Network::interpreter`] takes that arena, precomputes each operator's constants into it
//! (per-channel multipliers, folded biases, lookup tables) and gives an [`Interpreter`] whose
//! [`Interpreter::invoke`] runs the graph without allocating.
//!
//! Operators (one file each, the quantisation formulas documented at each): FULLY_CONNECTED,
//! CONV_2D, TRANSPOSE_CONV, DEPTHWISE_CONV_2D, RESHAPE, LOGISTIC, TANH, RELU, RELU6, ADD,
//! RESIZE_NEAREST_NEIGHBOR, QUANTIZE, DEQUANTIZE, LEAKY_RELU, PRELU, HARD_SWISH, ELU (int8 and
//! f32), MUL, SUB, MAXIMUM, MINIMUM, SQUARED_DIFFERENCE (these and ADD broadcasting up to rank
//! 6), GELU (int8, as LiteRT's reference kernel), CONCATENATION, PAD, PADV2, TRANSPOSE,
//! EXPAND_DIMS, SQUEEZE, MEAN, SUM, AVERAGE_POOL_2D, MAX_POOL_2D, SOFTMAX, RESIZE_BILINEAR,
//! DEPTH_TO_SPACE, SPACE_TO_DEPTH, ARG_MAX, ARG_MIN (int32 or int64 indices), TILE, SPLIT,
//! SPLIT_V and UNPACK (several outputs) and GATHER (int32 or int64 indices, `batch_dims`); SHAPE,
//! STRIDED_SLICE, PACK, int32 CONCATENATION and int32 GATHER (shape arithmetic) are folded at
//! plan time and run nothing (`fold.rs`). Requantisation is TFLite's:
//! `SaturatingRoundingDoublingHighMul` then `RoundingDivideByPOT`
//! ([`crate::kernels::int8::multiply_by_quantized_multiplier`]).
//!
//! ```
//! use fvae::formats::Aligned;
//! use fvae::nn::Network;
//! // 4-byte aligned, so that the Cortex-M fully-connected kernel reads the weights with `ldm`.
//! static MODEL: &Aligned<[u8]> = &Aligned(*include_bytes!("../../tests/data/tflite/mlp_encoder.tflite"));
//! let net = Network::new(&MODEL.0)?;
//! let mut arena = vec![0u8; net.required_arena()]; // on a device: a static array of that size
//! let mut it = net.interpreter(&mut arena)?;
//! it.input_i8_mut(0)?.fill(-128); // a black 8x8 image
//! it.invoke()?;
//! assert_eq!(it.output_i8(0)?.len(), 8);
//! # Ok::<(), fvae::Error>(())
//! ```

// The network and its run-time (public), and what every operator shares.
mod desc;
mod interpreter;
mod network;
mod paths;
mod plan;
mod registry;
mod run;
mod setup;

// Operators, one file each; each is listed in `registry.rs` (see there to add one).
mod add;
mod arg_min_max;
mod concatenation;
mod conv2d;
mod depth_space;
mod depthwise_conv2d;
mod dequantize;
mod elu;
mod fold;
mod fully_connected;
mod gather;
mod gelu;
mod hard_swish;
mod leaky_relu;
mod logistic;
mod maximum_minimum;
mod mul;
mod pack;
mod pad;
mod pool;
mod prelu;
pub mod quant;
mod quantize;
mod reduce;
mod relu;
mod relu6;
mod reshape;
mod resize_bilinear;
mod resize_nearest;
mod shape;
mod softmax;
mod split;
mod split_v;
mod squared_difference;
mod strided_slice;
mod sub;
mod tanh;
mod tile;
mod transpose;
mod transpose_conv;
mod transpose_conv_f32;
mod unpack;
// Shared by the two-input elementwise operators (operands, broadcasting).
mod broadcast;

pub use interpreter::Interpreter;
pub use network::{Network, TensorInfo, MAX_RANK, MAX_TENSORS};
pub use paths::LayerPath;

// What the operator files use (`use super::{...}`).
pub(crate) use desc::{at, OpDesc, HEAD_WORDS};
pub(crate) use registry::Kind;
pub(crate) use run::{as_i8, as_i8_mut, split, split_mut, sub, sub_mut, Run};
pub(crate) use setup::{out_size_and_padding, positive, w32, Setup, TensorRef};
