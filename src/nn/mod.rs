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
//! RESIZE_NEAREST_NEIGHBOR, QUANTIZE, DEQUANTIZE, CONCATENATION, PAD, PADV2, TRANSPOSE,
//! EXPAND_DIMS and SQUEEZE;
//! SHAPE, STRIDED_SLICE, PACK and int32 CONCATENATION (shape arithmetic) are folded at plan
//! time and run nothing (`fold.rs`). Requantisation is TFLite's:
//! `SaturatingRoundingDoublingHighMul` then `RoundingDivideByPOT`
//! ([`crate::kernels::int8::multiply_by_quantized_multiplier`]).
//!
//! ```
//! use fvae::nn::Network;
//! let model = include_bytes!("../../tests/data/tflite/mlp_encoder.tflite");
//! let net = Network::new(model)?;
//! let mut arena = vec![0u8; net.required_arena()]; // on a device: a static array of that size
//! let mut it = net.interpreter(&mut arena)?;
//! it.input_i8_mut(0)?.fill(-128); // a black 8x8 image
//! it.invoke()?;
//! assert_eq!(it.output_i8(0)?.len(), 8);
//! # Ok::<(), fvae::Error>(())
//! ```

mod add;
mod concatenation;
mod conv2d;
mod depthwise_conv2d;
mod dequantize;
mod fold;
mod fully_connected;
mod logistic;
mod pack;
mod pad;
pub mod quant;
mod quantize;
mod relu;
mod relu6;
mod reshape;
mod resize_nearest;
mod shape;
mod strided_slice;
mod tanh;
mod transpose;
mod transpose_conv;

use crate::formats::tflite::{op, Model, SubGraph, TensorType};
use crate::formats::{cast_slice, cast_slice_mut};
use crate::{Error, Result};

/// Most tensors (constants included) a subgraph may have: the memory plan keeps one offset per
/// tensor inline in [`Network`].
pub const MAX_TENSORS: usize = 128;
/// Most dimensions of a tensor fvae computes with.
pub const MAX_RANK: usize = 6;
const UNPLANNED: u32 = u32::MAX;

macro_rules! op_desc {
    ($($field:ident),* $(,)?) => {
        /// Everything an operator needs at run time, decoded once from the flatbuffer and kept
        /// in the arena as i32 words (so `invoke` does no flatbuffer lookups).
        #[derive(Debug, Clone, Copy, Default)]
        pub(crate) struct OpDesc { $(pub $field: i32,)* }
        const DESC_FIELDS: &[&str] = &[$(stringify!($field)),*];
        const DESC_WORDS: usize = DESC_FIELDS.len();
        impl OpDesc {
            fn write(&self, w: &mut [i32; DESC_WORDS]) {
                let mut it = w.iter_mut();
                $( if let Some(slot) = it.next() { *slot = self.$field; } )*
            }
            /// A plain copy of the words (no iterator, no zeroing first).
            #[inline]
            fn read(w: &[i32; DESC_WORDS]) -> Self {
                let [$($field),*] = *w;
                OpDesc { $($field,)* }
            }
        }
    };
}

op_desc!(
    kind,
    index,
    input,
    input2,
    output,
    in_len,
    in2_len,
    out_len,
    w_off,
    w_len,
    pers_words,
    lut_bytes,
    scratch_words,
    scratch_bytes,
    batches,
    in_h,
    in_w,
    in_c,
    out_h,
    out_w,
    out_c,
    k_h,
    k_w,
    stride_h,
    stride_w,
    dil_h,
    dil_w,
    pad_h,
    pad_w,
    depth_mult,
    in_zp,
    in2_zp,
    out_zp,
    act_min,
    act_max,
    mult,
    shift,
    mult2,
    shift2,
    mult3,
    shift3,
    left_shift,
    flags,
    fscale,
    tile,
    a0,
    a1,
    a2,
    a3,
    b0,
    b1,
    b2,
    b3,
    o0,
    o1,
    o2,
    o3,
);

/// The word of field `name` in a stored [`OpDesc`] (evaluated at compile time: an unknown name
/// does not build).
const fn desc_at(name: &str) -> usize {
    let mut i = 0;
    while i < DESC_WORDS {
        let f = DESC_FIELDS[i].as_bytes();
        let n = name.as_bytes();
        if f.len() == n.len() {
            let mut k = 0;
            while k < n.len() && f[k] == n[k] {
                k += 1;
            }
            if k == n.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("not an OpDesc field")
}

/// Word indices of the [`OpDesc`] fields `invoke` reads directly (without copying the whole
/// descriptor, which cost more than a small layer).
pub(crate) mod at {
    use super::desc_at;
    pub const KIND: usize = desc_at("kind");
    pub const INDEX: usize = desc_at("index");
    pub const INPUT: usize = desc_at("input");
    pub const INPUT2: usize = desc_at("input2");
    pub const OUTPUT: usize = desc_at("output");
    pub const IN_LEN: usize = desc_at("in_len");
    pub const IN2_LEN: usize = desc_at("in2_len");
    pub const OUT_LEN: usize = desc_at("out_len");
    pub const PERS_WORDS: usize = desc_at("pers_words");
    pub const LUT_BYTES: usize = desc_at("lut_bytes");
    pub const FLAGS: usize = desc_at("flags");
    pub const W_OFF: usize = desc_at("w_off");
    pub const W_LEN: usize = desc_at("w_len");
    pub const IN_C: usize = desc_at("in_c");
    pub const OUT_C: usize = desc_at("out_c");
    pub const ACT_MIN: usize = desc_at("act_min");
    pub const ACT_MAX: usize = desc_at("act_max");
}

/// A tensor as the operators see it at set-up time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TensorRef<'m> {
    pub index: i32,
    pub dtype: TensorType,
    pub dims: [usize; MAX_RANK],
    pub rank: usize,
    pub numel: usize,
    pub scale: f32,
    pub zero_point: i32,
    pub quant: Option<crate::formats::tflite::Quantization<'m>>,
    /// Constant data inside the model buffer: (byte offset, length).
    pub data: Option<(usize, usize)>,
}

impl TensorRef<'_> {
    pub fn bytes(&self) -> usize {
        self.numel * self.dtype.size().unwrap_or(1)
    }
}

/// Set-up context of one operator: the graph and the operator's index.
pub(crate) struct Setup<'g, 'm> {
    pub model: Model<'m>,
    pub graph: &'g SubGraph<'m>,
    pub op: crate::formats::tflite::Operator<'m>,
    pub index: usize,
    pub name: &'static str,
}

impl<'m> Setup<'_, 'm> {
    /// Operator input `k` (`None` if absent or -1).
    pub fn input(&self, k: usize) -> Result<Option<TensorRef<'m>>> {
        match self.op.inputs().get(k) {
            Some(t) if t >= 0 => tensor_ref(&self.model, self.graph, t).map(Some),
            _ => Ok(None),
        }
    }
    /// Operator input `k`, required.
    pub fn need_input(&self, k: usize) -> Result<TensorRef<'m>> {
        self.input(k)?.ok_or(Error::Unsupported { what: self.name, index: self.index })
    }
    /// Operator output 0.
    pub fn output(&self) -> Result<TensorRef<'m>> {
        match self.op.outputs().get(0) {
            Some(t) if t >= 0 && self.op.outputs().len() == 1 => tensor_ref(&self.model, self.graph, t),
            _ => Err(Error::Unsupported { what: self.name, index: self.index }),
        }
    }
    /// An unsupported-feature error for this operator.
    pub fn unsupported(&self, what: &'static str) -> Error {
        Error::Unsupported { what, index: self.index }
    }
    /// Requires `t` to have element type `want`.
    pub fn expect_type(&self, t: &TensorRef<'_>, want: TensorType) -> Result<()> {
        if t.dtype != want {
            return Err(Error::DType { what: self.name, expected: want.name(), found: t.dtype.name() });
        }
        Ok(())
    }
    /// Requires `t` to be an activation (not constant data).
    pub fn expect_activation(&self, t: &TensorRef<'_>) -> Result<()> {
        if t.data.is_some() {
            return Err(self.unsupported("constant tensor where an activation is expected"));
        }
        Ok(())
    }
    /// Requires `t` to be constant data.
    pub fn expect_constant(&self, t: &TensorRef<'_>) -> Result<(usize, usize)> {
        t.data.ok_or(self.unsupported("non-constant weights or parameters"))
    }
    /// A shape error naming this operator.
    pub fn shape(&self, expected: usize, found: usize) -> Error {
        Error::Shape { what: self.name, expected, found }
    }
    /// The i32 words of a constant int32 tensor, read little-endian.
    pub fn i32_at(&self, t: &TensorRef<'_>, i: usize) -> Result<i32> {
        let (off, len) = self.expect_constant(t)?;
        if t.dtype != TensorType::Int32 || (i + 1) * 4 > len {
            return Err(self.shape(i + 1, len / 4));
        }
        let b = self.model.bytes().get(off + 4 * i..off + 4 * i + 4).ok_or(self.shape(i + 1, len / 4))?;
        Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// Constant bytes of `t`.
    pub fn const_bytes(&self, t: &TensorRef<'_>) -> Result<&'m [u8]> {
        let (off, len) = self.expect_constant(t)?;
        sub(self.model.bytes(), off..off + len)
    }
    /// The per-channel scale `c` of `t` (per-tensor: the single scale).
    pub fn channel_scale(&self, t: &TensorRef<'_>, c: usize) -> Result<f32> {
        let q = t.quant.ok_or(self.unsupported("tensor without quantization parameters"))?;
        let s = if q.scale.len() == 1 { q.scale.get(0) } else { q.scale.get(c) };
        s.ok_or(self.unsupported("per-channel scale count"))
    }
    /// Checks the filter's quantisation: int8, symmetric (all zero points 0), one scale or one
    /// per output channel along dimension `dim`.
    pub fn check_filter(&self, f: &TensorRef<'_>, channels: usize, dim: i32) -> Result<()> {
        self.expect_type(f, TensorType::Int8)?;
        let q = f.quant.ok_or(self.unsupported("filter without quantization parameters"))?;
        if q.scale.len() != 1 && (q.scale.len() != channels || q.quantized_dimension != dim) {
            return Err(self.unsupported("filter quantization is neither per-tensor nor per-output-channel"));
        }
        for i in 0..q.zero_point.len() {
            if q.zero_point.get(i) != Some(0) {
                return Err(self.unsupported("asymmetric (non-zero zero point) int8 weights"));
            }
        }
        for i in 0..q.scale.len() {
            match q.scale.get(i) {
                Some(s) if s.is_finite() && s > 0.0 => {}
                _ => return Err(Error::Value { what: "filter scale", index: i, reason: "not finite and positive" }),
            }
        }
        Ok(())
    }
    /// The checks every weighted operator (FULLY_CONNECTED, CONV_2D, DEPTHWISE_CONV_2D,
    /// TRANSPOSE_CONV) starts with: int8 input `x` and output `y` ([`Setup::check_i8`]), `x` an
    /// activation, `w` constant. Returns the weights' (offset, length) in the model.
    pub fn check_weighted(&self, x: &TensorRef<'_>, w: &TensorRef<'_>, y: &TensorRef<'_>) -> Result<(usize, usize)> {
        self.check_i8(x)?;
        self.check_i8(y)?;
        self.expect_activation(x)?;
        self.expect_constant(w)
    }
    /// [`Setup::check_filter`], then the optional bias (operator input `bias_input`): constant
    /// int32 with one value per output channel.
    pub fn check_filter_and_bias(&self, w: &TensorRef<'_>, channels: usize, dim: i32, bias_input: usize) -> Result<()> {
        self.check_filter(w, channels, dim)?;
        if let Some(b) = self.input(bias_input)? {
            self.expect_type(&b, TensorType::Int32)?;
            self.expect_constant(&b)?;
            if b.numel != channels {
                return Err(self.shape(channels, b.numel));
            }
        }
        Ok(())
    }
    /// Checks an int8 activation's quantisation (one finite positive scale, zero point in i8).
    pub fn check_i8(&self, t: &TensorRef<'_>) -> Result<()> {
        self.expect_type(t, TensorType::Int8)?;
        check_scale(self, t)
    }
}

fn check_scale(s: &Setup<'_, '_>, t: &TensorRef<'_>) -> Result<()> {
    if t.quant.is_none() {
        return Err(s.unsupported("int8 tensor without quantization parameters"));
    }
    if !(t.scale.is_finite() && t.scale > 0.0) {
        return Err(Error::Value { what: "tensor scale", index: t.index as usize, reason: "not finite and positive" });
    }
    if !(-128..=127).contains(&t.zero_point) {
        return Err(Error::Value { what: "int8 zero point", index: t.index as usize, reason: "outside [-128, 127]" });
    }
    Ok(())
}

pub(crate) fn tensor_ref<'m>(model: &Model<'m>, graph: &SubGraph<'m>, index: i32) -> Result<TensorRef<'m>> {
    let t = graph.tensor(index)?;
    if t.is_sparse()? {
        return Err(Error::Unsupported { what: "sparse tensor", index: index as usize });
    }
    if t.is_variable()? {
        return Err(Error::Unsupported { what: "variable (stateful) tensor", index: index as usize });
    }
    let shape = t.shape()?;
    if shape.len() > MAX_RANK {
        return Err(Error::Unsupported { what: "tensor rank above 6", index: index as usize });
    }
    let mut dims = [0usize; MAX_RANK];
    let mut numel = 1usize;
    for (i, d) in shape.iter().enumerate() {
        if d < 0 {
            return Err(Error::Unsupported { what: "dynamic (negative) tensor dimension", index: index as usize });
        }
        if let Some(v) = dims.get_mut(i) {
            *v = d as usize; // always: the rank was checked above
        }
        numel = numel.checked_mul(d as usize).ok_or(Error::Value {
            what: "tensor shape",
            index: index as usize,
            reason: "element count overflows",
        })?;
    }
    let size = t.dtype().size().ok_or(Error::Unsupported { what: "tensor element type", index: index as usize })?;
    let bytes = numel.checked_mul(size).filter(|&b| b <= u32::MAX as usize / 2).ok_or(Error::Value {
        what: "tensor shape",
        index: index as usize,
        reason: "too large",
    })?;
    let buf = model.buffer(t.buffer() as usize)?;
    let data = if buf.is_empty() {
        None
    } else {
        if buf.len() != bytes {
            return Err(Error::Shape { what: "tflite constant tensor bytes", expected: bytes, found: buf.len() });
        }
        Some((buf.as_ptr() as usize - model.bytes().as_ptr() as usize, buf.len()))
    };
    let quant = t.quantization()?;
    let (scale, zero_point) = match quant {
        Some(q) => {
            let zp = q.zero_point.get(0).unwrap_or(0);
            (q.scale.get(0).unwrap_or(0.0), zp.clamp(i32::MIN as i64, i32::MAX as i64) as i32)
        }
        None => (0.0, 0),
    };
    Ok(TensorRef { index, dtype: t.dtype(), dims, rank: shape.len(), numel, scale, zero_point, quant, data })
}

/// Operator kinds, stored in [`OpDesc::kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub(crate) enum Kind {
    FullyConnected = 1,
    Conv2d,
    TransposeConv,
    DepthwiseConv2d,
    Reshape,
    Logistic,
    Tanh,
    Relu,
    Relu6,
    Add,
    ResizeNearest,
    Quantize,
    Dequantize,
    Concatenation,
    Pad,
    Transpose,
    /// Runs nothing: its int32 output is known at plan time ([`fold`]); never stored.
    Folded,
}

impl Kind {
    fn from_i32(k: i32) -> Option<Kind> {
        use Kind::*;
        // A table lookup (once per operator per inference), not a search.
        const ALL: [Kind; 17] = [
            FullyConnected,
            Conv2d,
            TransposeConv,
            DepthwiseConv2d,
            Reshape,
            Logistic,
            Tanh,
            Relu,
            Relu6,
            Add,
            ResizeNearest,
            Quantize,
            Dequantize,
            Concatenation,
            Pad,
            Transpose,
            Folded,
        ];
        ALL.get((k as usize).wrapping_sub(1)).copied()
    }
}

fn describe(model: &Model<'_>, graph: &SubGraph<'_>, index: usize) -> Result<OpDesc> {
    let op = graph.operator(index)?;
    let code = model.operator_code(op.opcode_index())?;
    let name = op::name(code.builtin);
    let refuse = |name| Error::UnsupportedOperator { name, version: code.version, index, subgraph: 0 };
    if code.custom {
        return Err(refuse("custom operator"));
    }
    if op.has_custom_options()? {
        return Err(Error::Unsupported { what: name, index });
    }
    let s = Setup { model: *model, graph, op, index, name };
    let mut d = match code.builtin {
        op::FULLY_CONNECTED => fully_connected::describe(&s)?,
        op::CONV_2D => conv2d::describe(&s)?,
        op::TRANSPOSE_CONV => transpose_conv::describe(&s)?,
        op::DEPTHWISE_CONV_2D => depthwise_conv2d::describe(&s)?,
        // EXPAND_DIMS and SQUEEZE only change the shape, as RESHAPE does.
        op::RESHAPE | op::EXPAND_DIMS | op::SQUEEZE => reshape::describe(&s)?,
        op::LOGISTIC => logistic::describe(&s)?,
        op::TANH => tanh::describe(&s)?,
        op::RELU => relu::describe(&s)?,
        op::RELU6 => relu6::describe(&s)?,
        op::ADD => add::describe(&s)?,
        op::RESIZE_NEAREST_NEIGHBOR => resize_nearest::describe(&s)?,
        op::QUANTIZE => quantize::describe(&s)?,
        op::DEQUANTIZE => dequantize::describe(&s)?,
        op::CONCATENATION => concatenation::describe(&s)?,
        op::PAD => pad::describe(&s, false)?,
        op::PADV2 => pad::describe(&s, true)?,
        op::TRANSPOSE => transpose::describe(&s)?,
        // Shape arithmetic: folded at plan time (int32 outputs only; on activations, refused).
        op::SHAPE | op::STRIDED_SLICE | op::PACK if s.output()?.dtype == TensorType::Int32 => fold::describe(&s)?,
        _ => return Err(refuse(name)),
    };
    d.index = index as i32;
    Ok(d)
}

/// A validated network with its memory plan: subgraph 0 of a `.tflite` model, read in place.
#[derive(Debug, Clone)]
pub struct Network<'m> {
    model: Model<'m>,
    graph: SubGraph<'m>,
    ops: usize,
    /// The operators that run (the others are folded at plan time and stored nowhere).
    runs: usize,
    /// Byte offset of each activation tensor inside the activation region.
    offsets: [u32; MAX_TENSORS],
    activation_bytes: usize,
    persistent_words: usize,
    scratch_words: usize,
    scratch_bytes: usize,
    lut_bytes: usize,
}

/// What a graph input or output is: element type, shape and quantisation.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TensorInfo {
    /// The element type.
    pub dtype: TensorType,
    /// The shape (the first `rank` entries).
    pub dims: [usize; MAX_RANK],
    /// The number of dimensions.
    pub rank: usize,
    /// The number of elements.
    pub len: usize,
    /// `real = scale * (q - zero_point)` (0 for float tensors).
    pub scale: f32,
    /// The zero point.
    pub zero_point: i32,
}

impl TensorInfo {
    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.dims[..self.rank]
    }
}

impl<'m> Network<'m> {
    /// Parses the model, checks every operator of subgraph 0 and plans the activation memory.
    ///
    /// Errors: a malformed buffer ([`Error::Format`]), an operator, element type or option
    /// fvae does not implement ([`Error::Unsupported`] with the operator index), inconsistent
    /// shapes ([`Error::Shape`]), more than [`MAX_TENSORS`] tensors.
    pub fn new(bytes: &'m [u8]) -> Result<Self> {
        let model = Model::parse(bytes)?;
        let graph = model.subgraph(0)?;
        let n_tensors = graph.tensors_len();
        if n_tensors > MAX_TENSORS {
            return Err(Error::Unsupported { what: "more than MAX_TENSORS (128) tensors", index: n_tensors });
        }
        let ops = graph.operators_len();
        if ops == 0 {
            return Err(Error::Empty { what: "tflite subgraph (no operators)" });
        }
        // Every operator writes a tensor of its own, so a valid graph has no more operators than
        // tensors; saying so first bounds the plan-time folding's searches ([`fold`]).
        if ops > n_tensors {
            return Err(Error::Unsupported { what: "more operators than tensors", index: ops });
        }
        // Lifetimes of activation tensors: [first op writing (0 for graph inputs), last op
        // reading (ops for graph outputs)].
        if ops >= u16::MAX as usize {
            return Err(Error::Unsupported { what: "more than 65534 operators", index: ops });
        }
        // u16 op indices keep this set-up frame small on a microcontroller's stack.
        let mut first = [u16::MAX; MAX_TENSORS];
        let mut last = [0u16; MAX_TENSORS];
        let mut size = [0u32; MAX_TENSORS];
        let mut persistent_words = 0usize;
        let mut runs = 0usize;
        let (mut scratch_words, mut scratch_bytes, mut lut_bytes) = (0usize, 0usize, 0usize);
        let mut mark = |t: i32, at: u16, write: bool| -> Result<()> {
            let r = tensor_ref(&model, &graph, t)?;
            if r.data.is_some() {
                return Ok(());
            }
            let i = t as usize;
            // `get_mut`: `tensor_ref` checked the index, which the optimiser cannot see.
            let (Some(size), Some(first), Some(last)) = (size.get_mut(i), first.get_mut(i), last.get_mut(i)) else {
                return Err(Error::Unsupported { what: "tensor index", index: i });
            };
            *size = r.bytes() as u32;
            if write {
                if *first != u16::MAX {
                    return Err(Error::Unsupported { what: "tensor written twice", index: i });
                }
                *first = at;
            } else if *first == u16::MAX || *first > at {
                return Err(Error::Value { what: "tflite tensor", index: i, reason: "read before it is written" });
            }
            *last = (*last).max(at);
            Ok(())
        };
        for t in graph.inputs()?.iter() {
            mark(t, 0, true)?;
        }
        for i in 0..ops {
            let d = describe(&model, &graph, i)?;
            if d.kind == Kind::Folded as i32 {
                continue;
            }
            runs += 1;
            persistent_words = persistent_words.saturating_add(DESC_WORDS + d.pers_words as usize);
            scratch_words = scratch_words.max(d.scratch_words as usize);
            scratch_bytes = scratch_bytes.max(d.scratch_bytes as usize);
            lut_bytes = lut_bytes.saturating_add(d.lut_bytes as usize);
            for t in [d.input, d.input2] {
                if t >= 0 {
                    mark(t, i as u16, false)?;
                }
            }
            mark(d.output, i as u16, true)?;
        }
        for t in graph.outputs()?.iter() {
            mark(t, ops as u16, false)?;
        }
        let mut offsets = [UNPLANNED; MAX_TENSORS];
        let activation_bytes = plan(&first, &last, &size, &mut offsets[..n_tensors]);
        Ok(Network {
            model,
            graph,
            ops,
            runs,
            offsets,
            activation_bytes,
            persistent_words,
            scratch_words,
            scratch_bytes,
            lut_bytes,
        })
    }

    /// Bytes of caller memory [`Network::interpreter`] needs: operator constants (multipliers,
    /// folded biases, lookup tables), scratch for the largest operator, and the activations as
    /// planned from tensor lifetimes (tensors whose lifetimes do not overlap share memory),
    /// plus 3 bytes of slack to align the start to 4 bytes.
    pub fn required_arena(&self) -> usize {
        3 + 4 * (self.persistent_words + self.scratch_words)
            + self.scratch_bytes
            + self.lut_bytes
            + self.activation_bytes
    }

    /// Bytes the activations alone take (the planned peak of simultaneously live tensors).
    pub fn activation_bytes(&self) -> usize {
        self.activation_bytes
    }

    /// The number of operators.
    pub fn operators(&self) -> usize {
        self.ops
    }

    /// The model.
    pub fn model(&self) -> &Model<'m> {
        &self.model
    }

    fn io_info(&self, list: crate::formats::tflite::I32s<'m>, i: usize, what: &'static str) -> Result<TensorInfo> {
        let t = list.get(i).ok_or(Error::Missing { format: "tflite", name: what })?;
        let r = tensor_ref(&self.model, &self.graph, t)?;
        Ok(TensorInfo {
            dtype: r.dtype,
            dims: r.dims,
            rank: r.rank,
            len: r.numel,
            scale: r.scale,
            zero_point: r.zero_point,
        })
    }

    /// Graph input `i`.
    pub fn input(&self, i: usize) -> Result<TensorInfo> {
        self.io_info(self.graph.inputs()?, i, "graph input")
    }

    /// Graph output `i`.
    pub fn output(&self, i: usize) -> Result<TensorInfo> {
        self.io_info(self.graph.outputs()?, i, "graph output")
    }

    /// Prepares an interpreter in `arena` (at least [`Network::required_arena`] bytes):
    /// writes each operator's run-time description and constants into it.
    pub fn interpreter<'a>(&'a self, arena: &'a mut [u8]) -> Result<Interpreter<'a, 'm>> {
        let needed = self.required_arena();
        if arena.len() < needed {
            return Err(Error::BufferTooSmall { what: "nn arena", needed, given: arena.len() });
        }
        let skip = arena.as_ptr().align_offset(4).min(3);
        // `_checked` and `get_mut`: `required_arena` covers these (never an error).
        let too_small = Error::BufferTooSmall { what: "nn arena", needed, given: arena.len() };
        let arena = arena.get_mut(skip..).ok_or(too_small)?;
        let word_bytes = 4 * (self.persistent_words + self.scratch_words);
        let (words, bytes) = arena.split_at_mut_checked(word_bytes).ok_or(too_small)?;
        let words: &mut [i32] = cast_slice_mut("nn arena", words)?;
        let bytes = bytes.get_mut(..self.scratch_bytes + self.lut_bytes + self.activation_bytes).ok_or(too_small)?;
        let mut it = Interpreter { net: self, words, bytes };
        it.prepare()?;
        Ok(it)
    }
}

/// Greedy placement by decreasing size (ties by index): each tensor goes at the lowest offset
/// (4-aligned) free of every already placed tensor whose lifetime overlaps. Returns the total.
fn plan(first: &[u16], last: &[u16], size: &[u32], offsets: &mut [u32]) -> usize {
    // (The min: every index below is then provably in range; the four have the same length anyway.)
    let n = offsets.len().min(first.len()).min(last.len()).min(size.len());
    let live = |i: usize| first[i] != u16::MAX;
    let overlaps = |a: usize, b: usize| first[a] <= last[b] && first[b] <= last[a];
    let align = |x: u64| (x + 3) & !3;
    let mut total = 0u64;
    for _ in 0..n {
        // The largest unplaced live tensor.
        let mut pick = None;
        for i in 0..n {
            if live(i) && offsets[i] == UNPLANNED && pick.is_none_or(|p: usize| size[i] > size[p]) {
                pick = Some(i);
            }
        }
        let Some(t) = pick.filter(|&t| t < n) else { break }; // (always `< n`; the optimiser needs it said)
        let sz = align(size[t] as u64);
        let fits = |at: u64| {
            (0..n).all(|p| {
                offsets[p] == UNPLANNED
                    || !overlaps(p, t)
                    || at + sz <= offsets[p] as u64
                    || offsets[p] as u64 + align(size[p] as u64) <= at
            })
        };
        let mut best = if fits(0) { 0 } else { u64::MAX };
        for p in 0..n {
            if offsets[p] != UNPLANNED && overlaps(p, t) {
                let at = offsets[p] as u64 + align(size[p] as u64);
                if at < best && fits(at) {
                    best = at;
                }
            }
        }
        if let Some(o) = offsets.get_mut(t) {
            *o = best as u32; // always: `t < n`
        }
        total = total.max(best + sz);
    }
    total as usize
}

/// `&v[r]` as an error instead of a panic. The planner sized every buffer and `prepare` checked
/// every shape, so this never fails, but the optimiser cannot prove that, and the no-panic link
/// check (nopanic/) wants no panic path at all.
pub(crate) fn sub<T>(v: &[T], r: core::ops::Range<usize>) -> Result<&[T]> {
    let found = v.len();
    v.get(r.start..r.end).ok_or(Error::Shape { what: "nn buffer", expected: r.end, found })
}

/// [`sub`] for `&mut v[r]`.
pub(crate) fn sub_mut<T>(v: &mut [T], r: core::ops::Range<usize>) -> Result<&mut [T]> {
    let found = v.len();
    v.get_mut(r.start..r.end).ok_or(Error::Shape { what: "nn buffer", expected: r.end, found })
}

/// [`sub`] for `v.split_at_mut(at)`.
pub(crate) fn split_mut<T>(v: &mut [T], at: usize) -> Result<(&mut [T], &mut [T])> {
    let found = v.len();
    v.split_at_mut_checked(at).ok_or(Error::Shape { what: "nn buffer", expected: at, found })
}

/// [`sub`] for `v.split_at(at)`.
pub(crate) fn split<T>(v: &[T], at: usize) -> Result<(&[T], &[T])> {
    v.split_at_checked(at).ok_or(Error::Shape { what: "nn buffer", expected: at, found: v.len() })
}

/// Run-time context handed to an operator's `eval`.
pub(crate) struct Run<'x> {
    /// The model's bytes (weights are read in place).
    pub model: &'x [u8],
    /// This operator's constants (after its description).
    pub params: &'x [i32],
    /// This operator's constant bytes: a lookup table, or weights packed for the SIMD kernels.
    pub lut: &'x [u8],
    /// i32 scratch (accumulators).
    pub acc: &'x mut [i32],
    /// Byte scratch (the input row or im2col patch, int8 or offset to unsigned).
    pub patch: &'x mut [u8],
}

impl<'x> Run<'x> {
    /// The constant weights of the operator, as i8.
    pub fn weights(&self, d: &OpDesc) -> Result<&'x [i8]> {
        self.weights_at(d.w_off, d.w_len)
    }

    /// The `len` constant weight bytes at model offset `off`, as i8.
    pub fn weights_at(&self, off: i32, len: i32) -> Result<&'x [i8]> {
        let (off, len) = (off as usize, len as usize);
        let model: &'x [u8] = self.model;
        let b = model.get(off..off + len).ok_or(Error::Shape { what: "weights", expected: len, found: 0 })?;
        cast_slice("weights", b)
    }
}

/// Runs a [`Network`] in caller memory. Created by [`Network::interpreter`].
#[derive(Debug)]
pub struct Interpreter<'a, 'm> {
    net: &'a Network<'m>,
    words: &'a mut [i32],
    bytes: &'a mut [u8],
}

impl<'a, 'm> Interpreter<'a, 'm> {
    fn prepare(&mut self) -> Result<()> {
        let net = self.net;
        let (mut w, mut l) = (0usize, 0usize);
        let lut_base = net.scratch_bytes;
        for i in 0..net.ops {
            let d = describe(&net.model, &net.graph, i)?;
            if d.kind == Kind::Folded as i32 {
                continue;
            }
            let desc: &mut [i32; DESC_WORDS] = sub_mut(self.words, w..w + DESC_WORDS)?
                .try_into()
                .map_err(|_| Error::BufferTooSmall { what: "nn arena", needed: w + DESC_WORDS, given: 0 })?;
            d.write(desc);
            let pers = sub_mut(self.words, w + DESC_WORDS..w + DESC_WORDS + d.pers_words as usize)?;
            let lut = sub_mut(self.bytes, lut_base + l..lut_base + l + d.lut_bytes as usize)?;
            let op = net.graph.operator(i)?;
            let s = Setup { model: net.model, graph: &net.graph, op, index: i, name: "" };
            match Kind::from_i32(d.kind) {
                Some(Kind::FullyConnected) => fully_connected::prepare(&s, &d, pers, lut)?,
                Some(Kind::Conv2d) => conv2d::prepare(&s, &d, pers, lut)?,
                Some(Kind::TransposeConv) => transpose_conv::prepare(&s, &d, pers, lut)?,
                Some(Kind::DepthwiseConv2d) => depthwise_conv2d::prepare(&s, &d, pers)?,
                Some(Kind::Logistic) => logistic::prepare(&s, &d, lut)?,
                Some(Kind::Tanh) => tanh::prepare(&s, &d, lut)?,
                _ => {}
            }
            w += DESC_WORDS + d.pers_words as usize;
            l += d.lut_bytes as usize;
        }
        Ok(())
    }

    fn location(&self, t: i32) -> Result<(usize, usize)> {
        let r = tensor_ref(&self.net.model, &self.net.graph, t)?;
        Ok((plan_offset(self.net, t)?, r.bytes()))
    }

    fn act_region(&self) -> usize {
        self.net.scratch_bytes + self.net.lut_bytes
    }

    fn io_tensor(&self, input: bool, i: usize) -> Result<(usize, usize, TensorType)> {
        let list = if input { self.net.graph.inputs()? } else { self.net.graph.outputs()? };
        let t = list
            .get(i)
            .ok_or(Error::Missing { format: "tflite", name: if input { "graph input" } else { "graph output" } })?;
        let (off, len) = self.location(t)?;
        let dtype = self.net.graph.tensor(t)?.dtype();
        Ok((self.act_region() + off, len, dtype))
    }

    /// Graph input `i` (int8) to fill before [`Interpreter::invoke`].
    pub fn input_i8_mut(&mut self, i: usize) -> Result<&mut [i8]> {
        let (off, len, dtype) = self.io_tensor(true, i)?;
        if dtype != TensorType::Int8 {
            return Err(Error::DType { what: "graph input", expected: "i8", found: dtype.name() });
        }
        cast_slice_mut("graph input", sub_mut(self.bytes, off..off + len)?)
    }

    /// Writes a float graph input `i` (for models that start with QUANTIZE).
    pub fn set_input_f32(&mut self, i: usize, values: &[f32]) -> Result<()> {
        let (off, len, dtype) = self.io_tensor(true, i)?;
        if dtype != TensorType::Float32 {
            return Err(Error::DType { what: "graph input", expected: "f32", found: dtype.name() });
        }
        if values.len() * 4 != len {
            return Err(Error::Shape { what: "graph input", expected: len / 4, found: values.len() });
        }
        for (chunk, v) in sub_mut(self.bytes, off..off + len)?.chunks_exact_mut(4).zip(values) {
            chunk.copy_from_slice(&v.to_le_bytes());
        }
        Ok(())
    }

    /// Graph output `i` (int8) after [`Interpreter::invoke`].
    pub fn output_i8(&self, i: usize) -> Result<&[i8]> {
        let (off, len, dtype) = self.io_tensor(false, i)?;
        if dtype != TensorType::Int8 {
            return Err(Error::DType { what: "graph output", expected: "i8", found: dtype.name() });
        }
        cast_slice("graph output", sub(self.bytes, off..off + len)?)
    }

    /// Copies a float graph output `i` (for models that end with DEQUANTIZE) into `out`.
    pub fn output_f32(&self, i: usize, out: &mut [f32]) -> Result<()> {
        let (off, len, dtype) = self.io_tensor(false, i)?;
        if dtype != TensorType::Float32 {
            return Err(Error::DType { what: "graph output", expected: "f32", found: dtype.name() });
        }
        if out.len() * 4 != len {
            return Err(Error::Shape { what: "graph output", expected: len / 4, found: out.len() });
        }
        for (chunk, v) in sub(self.bytes, off..off + len)?.chunks_exact(4).zip(out) {
            *v = f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        Ok(())
    }

    /// Runs every operator in order. The inputs must have been written; outputs are read with
    /// [`Interpreter::output_i8`] / [`Interpreter::output_f32`].
    pub fn invoke(&mut self) -> Result<()> {
        let net = self.net;
        let model = net.model.bytes();
        let (descs, acc) = split_mut(self.words, net.persistent_words)?;
        let (scratch, rest) = split_mut(self.bytes, net.scratch_bytes)?;
        let (luts, act) = split_mut(rest, net.lut_bytes)?;
        let patch = scratch;
        let (mut w, mut l) = (0usize, 0usize);
        for _ in 0..net.runs {
            let head: &[i32; DESC_WORDS] = descs
                .get(w..w + DESC_WORDS)
                .and_then(|s| s.try_into().ok())
                .ok_or(Error::BufferTooSmall { what: "nn arena", needed: w + DESC_WORDS, given: descs.len() })?;
            let pw = head[at::PERS_WORDS] as usize;
            let lut_bytes = head[at::LUT_BYTES] as usize;
            let params = sub(descs, w + DESC_WORDS..w + DESC_WORDS + pw)?;
            let lut = sub(luts, l..l + lut_bytes)?;
            w += DESC_WORDS + pw;
            l += lut_bytes;
            let out_off = plan_offset(net, head[at::OUTPUT])?;
            let (before, rest) = split_mut(act, out_off)?;
            let (out, after) = split_mut(rest, head[at::OUT_LEN] as usize)?;
            let (before, after): (&[u8], &[u8]) = (before, after);
            let in1 = pick(net, before, after, out_off, out.len(), head[at::INPUT], head[at::IN_LEN])?;
            let in2 = pick(net, before, after, out_off, out.len(), head[at::INPUT2], head[at::IN2_LEN])?;
            let mut run = Run { model, params, lut, acc: &mut *acc, patch: &mut *patch };
            let kind = Kind::from_i32(head[at::KIND]);
            // The common cases read their few fields in place; the rest get a decoded copy.
            match kind {
                Some(Kind::FullyConnected) if head[at::FLAGS] & fully_connected::PACKED == 0 => {
                    fully_connected::eval_fused(head, &mut run, in1, out)?;
                    continue;
                }
                Some(Kind::Logistic) | Some(Kind::Tanh) => {
                    logistic::eval_lut(&run, in1, out)?;
                    continue;
                }
                _ => {}
            }
            let d = OpDesc::read(head);
            match kind {
                Some(Kind::FullyConnected) => fully_connected::eval(&d, &mut run, in1, out)?,
                Some(Kind::Conv2d) => conv2d::eval(&d, &mut run, in1, out)?,
                Some(Kind::TransposeConv) => transpose_conv::eval(&d, &mut run, in1, out)?,
                Some(Kind::DepthwiseConv2d) => depthwise_conv2d::eval(&d, &mut run, in1, out)?,
                Some(Kind::Reshape) => reshape::eval(&d, in1, out)?,
                Some(Kind::Logistic) | Some(Kind::Tanh) => logistic::eval_lut(&run, in1, out)?,
                Some(Kind::Relu) => relu::eval(&d, in1, out)?,
                Some(Kind::Relu6) => relu6::eval(&d, in1, out)?,
                Some(Kind::Add) => add::eval(&d, &run, in1, in2, out)?,
                Some(Kind::ResizeNearest) => resize_nearest::eval(&d, in1, out)?,
                Some(Kind::Quantize) => quantize::eval(&d, in1, out)?,
                Some(Kind::Dequantize) => dequantize::eval(&d, in1, out)?,
                Some(Kind::Concatenation) => concatenation::eval(&d, in1, in2, out)?,
                Some(Kind::Pad) => pad::eval(&d, in1, out)?,
                Some(Kind::Transpose) => transpose::eval(&d, in1, out)?,
                Some(Kind::Folded) => {}
                None => return Err(Error::Unsupported { what: "operator kind", index: head[at::INDEX] as usize }),
            }
        }
        Ok(())
    }
}

fn plan_offset(net: &Network<'_>, t: i32) -> Result<usize> {
    match net.offsets.get(t as usize) {
        Some(&off) if off != UNPLANNED => Ok(off as usize),
        _ => Err(Error::Missing { format: "tflite", name: "planned activation tensor" }),
    }
}

/// The bytes of activation `t` (absent: empty), from the part of the activation region before
/// or after the operator's output (the plan never lets them overlap).
fn pick<'x>(
    net: &Network<'_>,
    before: &'x [u8],
    after: &'x [u8],
    out_off: usize,
    out_len: usize,
    t: i32,
    len: i32,
) -> Result<&'x [u8]> {
    if t < 0 {
        return Ok(&[]);
    }
    let off = plan_offset(net, t)?;
    let len = len as usize;
    let found = if off + len <= out_off {
        before.get(off..off + len)
    } else if off >= out_off + out_len {
        after.get(off - out_off - out_len..off - out_off - out_len + len)
    } else {
        return Err(Error::Value { what: "nn memory plan", index: t as usize, reason: "input overlaps output" });
    };
    found.ok_or(Error::Missing { format: "tflite", name: "activation bytes" })
}

/// i8 view of bytes.
pub(crate) fn as_i8(b: &[u8]) -> Result<&[i8]> {
    cast_slice("int8 tensor", b)
}

/// Mutable i8 view of bytes.
pub(crate) fn as_i8_mut(b: &mut [u8]) -> Result<&mut [i8]> {
    cast_slice_mut("int8 tensor", b)
}

/// TFLite's `ComputePaddingWithOffset` (before-padding only) and `ComputeOutSize`: the output
/// size and the leading padding of one spatial dimension.
pub(crate) fn out_size_and_padding(
    padding: crate::formats::tflite::Padding,
    in_size: usize,
    filter: usize,
    stride: usize,
    dilation: usize,
) -> (usize, usize) {
    use crate::formats::tflite::Padding;
    let effective = (filter.saturating_sub(1)) * dilation + 1;
    let out = match padding {
        Padding::Same => in_size.div_ceil(stride),
        Padding::Valid => (in_size + stride).saturating_sub(effective) / stride,
    };
    let total = ((out.saturating_sub(1)) * stride + effective) as i64 - in_size as i64;
    (out, (total.max(0) / 2) as usize)
}

/// Checks a strictly positive i32 option and returns it as usize.
pub(crate) fn positive(s: &Setup<'_, '_>, v: i32, what: &'static str) -> Result<usize> {
    if v <= 0 {
        return Err(s.unsupported(what));
    }
    Ok(v as usize)
}

/// Casts a usize to the i32 stored in an [`OpDesc`] (checked).
pub(crate) fn w32(s: &Setup<'_, '_>, v: usize) -> Result<i32> {
    i32::try_from(v).map_err(|_| s.unsupported("dimension too large"))
}
