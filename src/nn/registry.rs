//! The operator registry: which `.tflite` builtin each operator implements, and the dispatch from
//! an operator's [`Kind`] to its set-up and run-time code.
//!
//! To add an operator:
//! 1. write `src/nn/<name>.rs` with `pub(crate) fn describe(s: &Setup) -> Result<OpDesc>` (checks
//!    the operator and decodes what it needs at run time; `kind: Kind::<Name> as i32`), its
//!    `eval`, and a `prepare` if it precomputes constants into the arena; add `mod <name>;` to
//!    `src/nn/mod.rs`;
//! 2. add one line to the `operators!` list below: its `Kind` variant and number, its builtin
//!    code and its module;
//! 3. add its arm to [`eval`] (and to [`prepare`] if it has one).
//!
//! Builtins without a `Kind` of their own are dispatched in [`describe`]: EXPAND_DIMS and
//! SQUEEZE run as RESHAPE, PADV2 as PAD, and SHAPE, STRIDED_SLICE and PACK with int32 outputs
//! are folded at plan time (`fold.rs`: kind 0, never stored or run). A builtin in neither
//! place is refused with its schema name ([`Error::UnsupportedOperator`]).

use super::desc::{at, OpDesc, HEAD_WORDS};
use super::run::Run;
use super::setup::Setup;
use super::{
    add, arg_min_max, concatenation, conv2d, depth_space, depthwise_conv2d, dequantize, elu, fold, fully_connected,
    gather, gelu, hard_swish, leaky_relu, logistic, maximum_minimum, mul, pad, pool, prelu, quantize, reduce, relu,
    relu6, reshape, resize_bilinear, resize_nearest, softmax, split, split_v, squared_difference, sub, tanh, tile,
    transpose, transpose_conv, unpack,
};
use crate::formats::tflite::{op, Model, SubGraph, TensorType};
use crate::{Error, Result};

/// Defines [`Kind`] (numbered from 1, consecutively: [`Kind::from_i32`] is a table lookup) and
/// [`describe`]'s dispatch on the builtin operator code.
macro_rules! operators {
    ($($kind:ident = $number:literal, $builtin:path => $module:ident;)*) => {
        /// Operator kinds, stored in [`OpDesc::kind`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(i32)]
        pub(crate) enum Kind {
            $($kind = $number,)*
        }

        const ALL_KINDS: [Kind; [$(Kind::$kind),*].len()] = [$(Kind::$kind),*];

        /// The operator's [`OpDesc`], from its `describe` (an operator fvae does not have is
        /// unsupported).
        fn describe_builtin(builtin: i32, s: &Setup<'_, '_>) -> Result<OpDesc> {
            match builtin {
                $($builtin => $module::describe(s),)*
                _ => Err(refuse(s.name, s)),
            }
        }
    };
}

operators! {
    FullyConnected = 1, op::FULLY_CONNECTED => fully_connected;
    Conv2d = 2, op::CONV_2D => conv2d;
    TransposeConv = 3, op::TRANSPOSE_CONV => transpose_conv;
    DepthwiseConv2d = 4, op::DEPTHWISE_CONV_2D => depthwise_conv2d;
    Reshape = 5, op::RESHAPE => reshape;
    Logistic = 6, op::LOGISTIC => logistic;
    Tanh = 7, op::TANH => tanh;
    Relu = 8, op::RELU => relu;
    Relu6 = 9, op::RELU6 => relu6;
    Add = 10, op::ADD => add;
    ResizeNearest = 11, op::RESIZE_NEAREST_NEIGHBOR => resize_nearest;
    Quantize = 12, op::QUANTIZE => quantize;
    Dequantize = 13, op::DEQUANTIZE => dequantize;
    LeakyRelu = 14, op::LEAKY_RELU => leaky_relu;
    Mul = 15, op::MUL => mul;
    Sub = 16, op::SUB => sub;
    Prelu = 17, op::PRELU => prelu;
    HardSwish = 18, op::HARD_SWISH => hard_swish;
    Elu = 19, op::ELU => elu;
    Maximum = 20, op::MAXIMUM => maximum_minimum;
    Minimum = 21, op::MINIMUM => maximum_minimum;
    SquaredDifference = 22, op::SQUARED_DIFFERENCE => squared_difference;
    Gelu = 23, op::GELU => gelu;
    Concatenation = 24, op::CONCATENATION => concatenation;
    Pad = 25, op::PAD => pad;
    Transpose = 26, op::TRANSPOSE => transpose;
    Mean = 27, op::MEAN => reduce;
    Sum = 28, op::SUM => reduce;
    AveragePool2d = 29, op::AVERAGE_POOL_2D => pool;
    MaxPool2d = 30, op::MAX_POOL_2D => pool;
    Softmax = 31, op::SOFTMAX => softmax;
    ResizeBilinear = 32, op::RESIZE_BILINEAR => resize_bilinear;
    DepthToSpace = 33, op::DEPTH_TO_SPACE => depth_space;
    SpaceToDepth = 34, op::SPACE_TO_DEPTH => depth_space;
    ArgMax = 35, op::ARG_MAX => arg_min_max;
    ArgMin = 36, op::ARG_MIN => arg_min_max;
    Tile = 37, op::TILE => tile;
    Split = 38, op::SPLIT => split;
    SplitV = 39, op::SPLIT_V => split_v;
    Unpack = 40, op::UNPACK => unpack;
    Gather = 41, op::GATHER => gather;
}

/// The refusal of an operator fvae does not have (or not in this form): the schema's name, the
/// operator code's version and the place.
fn refuse(name: &'static str, s: &Setup<'_, '_>) -> Error {
    let version = s.model.operator_code(s.op.opcode_index()).map_or(0, |c| c.version);
    Error::UnsupportedOperator { name, version, index: s.index, subgraph: 0 }
}

// `from_i32` indexes ALL_KINDS by `kind - 1`: the numbers must be 1, 2, 3, ... in list order.
const _: () = {
    let mut i = 0;
    while i < ALL_KINDS.len() {
        assert!(ALL_KINDS[i] as i32 == i as i32 + 1, "Kind numbers must be 1, 2, 3, ... in order");
        i += 1;
    }
};

impl Kind {
    pub(crate) fn from_i32(k: i32) -> Option<Kind> {
        // A table lookup (once per operator per inference), not a search.
        ALL_KINDS.get((k as usize).wrapping_sub(1)).copied()
    }
}

/// Checks operator `index` of `graph` and decodes its [`OpDesc`].
pub(crate) fn describe(model: &Model<'_>, graph: &SubGraph<'_>, index: usize) -> Result<OpDesc> {
    let op = graph.operator(index)?;
    let code = model.operator_code(op.opcode_index())?;
    let name = op::name(code.builtin);
    let s = Setup { model: *model, graph, op, index, name };
    if code.custom {
        return Err(refuse("custom operator", &s));
    }
    if op.has_custom_options()? {
        return Err(refuse(name, &s));
    }
    let mut d = match code.builtin {
        // Shape arithmetic: folded at plan time (int32 outputs only; on activations, refused).
        op::SHAPE | op::STRIDED_SLICE | op::PACK if s.output()?.dtype == TensorType::Int32 => fold::describe(&s)?,
        // EXPAND_DIMS and SQUEEZE only change the shape, as RESHAPE does.
        op::EXPAND_DIMS | op::SQUEEZE => reshape::describe(&s)?,
        op::PADV2 => pad::describe_v2(&s)?,
        _ => describe_builtin(code.builtin, &s)?,
    };
    d.index = index as i32;
    Ok(d)
}

/// Precomputes the operator's constants: `pers` (i32 words after its description) and `lut`
/// (bytes: a lookup table or packed weights), sized by its [`OpDesc::pers_words`] and
/// [`OpDesc::lut_bytes`]. Operators without constants have no arm.
#[inline] // once per operator at set-up, from `Interpreter::prepare` only
pub(crate) fn prepare(s: &Setup<'_, '_>, d: &OpDesc, pers: &mut [i32], lut: &mut [u8]) -> Result<()> {
    match Kind::from_i32(d.kind) {
        Some(Kind::FullyConnected) => fully_connected::prepare(s, d, pers, lut),
        Some(Kind::Conv2d) => conv2d::prepare(s, d, pers, lut),
        Some(Kind::TransposeConv) => transpose_conv::prepare(s, d, pers, lut),
        Some(Kind::DepthwiseConv2d) => depthwise_conv2d::prepare(s, d, pers),
        Some(Kind::Logistic) => logistic::prepare(s, d, lut),
        Some(Kind::Tanh) => tanh::prepare(s, d, lut),
        Some(Kind::LeakyRelu) => leaky_relu::prepare(s, d, lut),
        Some(Kind::HardSwish) => hard_swish::prepare(s, d, lut),
        Some(Kind::Elu) => elu::prepare(s, d, lut),
        Some(Kind::Gelu) => gelu::prepare(s, d, lut),
        Some(Kind::Add) => add::prepare(s, d, pers, lut),
        Some(Kind::Sub) => sub::prepare(s, d, pers, lut),
        Some(Kind::Mul) => mul::prepare(s, d, pers, lut),
        Some(Kind::Prelu) => prelu::prepare(s, d, pers, lut),
        Some(Kind::Maximum | Kind::Minimum) => maximum_minimum::prepare(s, d, pers, lut),
        Some(Kind::SquaredDifference) => squared_difference::prepare(s, d, pers, lut),
        Some(Kind::Mean | Kind::Sum) => reduce::prepare(s, pers),
        Some(Kind::Split | Kind::SplitV | Kind::Unpack) => split::prepare(d, pers),
        _ => Ok(()),
    }
}

/// Writes output `k` of an operator with several outputs (see `desc.rs`) from its stored
/// description (`head`, the first words of `stored`), its constants `params` and its input `in1`.
pub(crate) fn eval_output(
    head: &[i32; HEAD_WORDS],
    stored: &[i32],
    params: &[i32],
    k: usize,
    in1: &[u8],
    out: &mut [u8],
) -> Result<()> {
    match Kind::from_i32(head[at::KIND]) {
        Some(Kind::Split | Kind::SplitV | Kind::Unpack) => split::eval(&OpDesc::read(stored), params, k, in1, out),
        _ => Err(Error::Unsupported { what: "operator kind with several outputs", index: head[at::INDEX] as usize }),
    }
}

/// Runs one operator from its stored description (`head`, the first words of `run.desc`): inputs `in1`, `in2` (empty if absent),
/// output `out`.
#[inline] // once per operator per inference, from `Interpreter::invoke` only
pub(crate) fn eval(head: &[i32; HEAD_WORDS], run: &mut Run<'_>, in1: &[u8], in2: &[u8], out: &mut [u8]) -> Result<()> {
    let kind = Kind::from_i32(head[at::KIND]);
    // The common cases read their few fields in place; the rest get a decoded copy.
    match kind {
        Some(Kind::FullyConnected) if head[at::FLAGS] & fully_connected::PACKED == 0 => {
            return fully_connected::eval_fused(head, run, in1, out);
        }
        Some(Kind::Logistic) if head[at::FLAGS] & relu::FLOAT != 0 => {
            logistic::eval_f32(in1, out);
            return Ok(());
        }
        Some(Kind::Logistic | Kind::Tanh | Kind::LeakyRelu | Kind::HardSwish | Kind::Gelu) => {
            return logistic::eval_lut(run, in1, out)
        }
        Some(Kind::Reshape) => return reshape::eval(in1, out),
        _ => {}
    }
    let d = OpDesc::read(run.desc);
    match kind {
        Some(Kind::FullyConnected) => fully_connected::eval(&d, run, in1, out),
        Some(Kind::Conv2d) => conv2d::eval(&d, run, in1, out),
        Some(Kind::TransposeConv) => transpose_conv::eval(&d, run, in1, out),
        Some(Kind::DepthwiseConv2d) => depthwise_conv2d::eval(&d, run, in1, out),
        Some(Kind::Logistic | Kind::Tanh | Kind::LeakyRelu | Kind::HardSwish | Kind::Gelu) => {
            logistic::eval_lut(run, in1, out)
        }
        Some(Kind::Reshape) => reshape::eval(in1, out),
        Some(Kind::Relu) => relu::eval(&d, in1, out),
        Some(Kind::Relu6) => relu6::eval(&d, in1, out),
        Some(Kind::Add) => add::eval(&d, run, in1, in2, out),
        Some(Kind::ResizeNearest) => resize_nearest::eval(&d, in1, out),
        Some(Kind::Quantize) => quantize::eval(&d, in1, out),
        Some(Kind::Dequantize) => dequantize::eval(&d, in1, out),
        Some(Kind::Elu) => elu::eval(&d, run, in1, out),
        Some(Kind::Sub) => sub::eval(&d, run, in1, in2, out),
        Some(Kind::Mul) => mul::eval(&d, run, in1, in2, out),
        Some(Kind::Prelu) => prelu::eval(&d, run, in1, in2, out),
        Some(Kind::Maximum | Kind::Minimum) => maximum_minimum::eval(&d, run, in1, in2, out),
        Some(Kind::SquaredDifference) => squared_difference::eval(&d, run, in1, in2, out),
        Some(Kind::Concatenation) => concatenation::eval(&d, in1, in2, out),
        Some(Kind::Pad) => pad::eval(&d, in1, out),
        Some(Kind::Transpose) => transpose::eval(&d, in1, out),
        Some(Kind::Mean | Kind::Sum) => reduce::eval(&d, run, in1, out),
        Some(Kind::AveragePool2d | Kind::MaxPool2d) => pool::eval(&d, in1, out),
        Some(Kind::Softmax) => softmax::eval(&d, in1, out),
        Some(Kind::ResizeBilinear) => resize_bilinear::eval(&d, in1, out),
        Some(Kind::DepthToSpace | Kind::SpaceToDepth) => depth_space::eval(&d, in1, out),
        Some(Kind::ArgMax | Kind::ArgMin) => arg_min_max::eval(&d, in1, out),
        Some(Kind::Tile) => tile::eval(&d, in1, out),
        Some(Kind::Split | Kind::SplitV | Kind::Unpack) => split::eval(&d, run.params, 0, in1, out),
        Some(Kind::Gather) => gather::eval(&d, run, in1, in2, out),
        None => Err(Error::Unsupported { what: "operator kind", index: head[at::INDEX] as usize }),
    }
}
