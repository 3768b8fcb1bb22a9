//! `.tflite` flatbuffers read in place: the tables of the TFLite schema fvae needs (`Model`,
//! `OperatorCode`, `SubGraph`, `Tensor`, `QuantizationParameters`, `Buffer`, `Operator` and the
//! builtin options of the operators in [`crate::nn`]).
//!
//! A flatbuffer is a graph of tables addressed by 32-bit offsets. Each table starts with a signed
//! offset to its vtable, which lists, per field, the field's offset inside the table (0 = absent,
//! use the schema's default). The reader follows these offsets directly in the caller's bytes (a
//! model in flash works) and never allocates. [`Model::parse`] walks every table fvae reads once
//! and checks every offset and length against the buffer, so a malformed file is an
//! [`Error::Format`] naming the byte offset, never a panic; accessors check again (cheaply) and
//! return `Result` so that no path can index out of bounds.
//!
//! Multi-byte values are read with `from_le_bytes`, so the buffer needs no alignment.
//!
//! ```
//! use fvae::formats::tflite::{Model, TensorType};
//! let bytes = include_bytes!("../../tests/data/tflite/mlp_encoder.tflite");
//! let model = Model::parse(bytes)?;
//! let graph = model.subgraph(0)?;
//! let input = graph.tensor(graph.inputs()?.get(0).unwrap_or(-1))?;
//! assert_eq!(input.dtype(), TensorType::Int8);
//! assert_eq!(input.shape()?.get(1), Some(64));
//! # Ok::<(), fvae::Error>(())
//! ```

use crate::{Error, Result};

const FORMAT: &str = "tflite";

fn err(offset: usize, reason: &'static str) -> Error {
    Error::Format { format: FORMAT, offset, reason }
}

/// Builtin operator codes (the `BuiltinOperator` enum of the schema) that fvae knows by name.
pub mod op {
    /// ADD.
    pub const ADD: i32 = 0;
    /// CONV_2D.
    pub const CONV_2D: i32 = 3;
    /// DEPTHWISE_CONV_2D.
    pub const DEPTHWISE_CONV_2D: i32 = 4;
    /// DEQUANTIZE.
    pub const DEQUANTIZE: i32 = 6;
    /// FULLY_CONNECTED.
    pub const FULLY_CONNECTED: i32 = 9;
    /// LOGISTIC.
    pub const LOGISTIC: i32 = 14;
    /// RELU.
    pub const RELU: i32 = 19;
    /// RELU6.
    pub const RELU6: i32 = 21;
    /// RESHAPE.
    pub const RESHAPE: i32 = 22;
    /// TANH.
    pub const TANH: i32 = 28;
    /// TRANSPOSE_CONV.
    pub const TRANSPOSE_CONV: i32 = 67;
    /// RESIZE_NEAREST_NEIGHBOR.
    pub const RESIZE_NEAREST_NEIGHBOR: i32 = 97;
    /// QUANTIZE.
    pub const QUANTIZE: i32 = 114;
    /// MUL.
    pub const MUL: i32 = 18;
    /// SUB.
    pub const SUB: i32 = 41;
    /// PRELU.
    pub const PRELU: i32 = 54;
    /// MAXIMUM.
    pub const MAXIMUM: i32 = 55;
    /// MINIMUM.
    pub const MINIMUM: i32 = 57;
    /// LEAKY_RELU.
    pub const LEAKY_RELU: i32 = 98;
    /// SQUARED_DIFFERENCE.
    pub const SQUARED_DIFFERENCE: i32 = 99;
    /// ELU.
    pub const ELU: i32 = 111;
    /// HARD_SWISH.
    pub const HARD_SWISH: i32 = 117;
    /// GELU.
    pub const GELU: i32 = 150;
    /// CONCATENATION.
    pub const CONCATENATION: i32 = 2;
    /// STRIDED_SLICE.
    pub const STRIDED_SLICE: i32 = 45;
    /// SHAPE.
    pub const SHAPE: i32 = 77;
    /// PACK.
    pub const PACK: i32 = 83;
    /// PAD.
    pub const PAD: i32 = 34;
    /// PADV2.
    pub const PADV2: i32 = 60;
    /// TRANSPOSE.
    pub const TRANSPOSE: i32 = 39;
    /// SQUEEZE.
    pub const SQUEEZE: i32 = 43;
    /// EXPAND_DIMS.
    pub const EXPAND_DIMS: i32 = 70;
    /// MEAN.
    pub const MEAN: i32 = 40;
    /// SUM.
    pub const SUM: i32 = 74;
    /// AVERAGE_POOL_2D.
    pub const AVERAGE_POOL_2D: i32 = 1;
    /// MAX_POOL_2D.
    pub const MAX_POOL_2D: i32 = 17;
    /// SOFTMAX.
    pub const SOFTMAX: i32 = 25;
    /// RESIZE_BILINEAR.
    pub const RESIZE_BILINEAR: i32 = 23;
    /// DEPTH_TO_SPACE.
    pub const DEPTH_TO_SPACE: i32 = 5;
    /// SPACE_TO_DEPTH.
    pub const SPACE_TO_DEPTH: i32 = 26;
    /// ARG_MAX.
    pub const ARG_MAX: i32 = 56;
    /// ARG_MIN.
    pub const ARG_MIN: i32 = 79;
    /// TILE.
    pub const TILE: i32 = 69;
    /// SPLIT.
    pub const SPLIT: i32 = 49;
    /// SPLIT_V.
    pub const SPLIT_V: i32 = 102;
    /// UNPACK.
    pub const UNPACK: i32 = 88;
    /// GATHER.
    pub const GATHER: i32 = 36;

    /// Every `BuiltinOperator` name of TFLite's `schema.fbs`, indexed by its code (0 ..= 209),
    /// so a refusal names the operator whether fvae implements it or not.
    pub const NAMES: [&str; 210] = [
        "ADD",
        "AVERAGE_POOL_2D",
        "CONCATENATION",
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "DEPTH_TO_SPACE",
        "DEQUANTIZE",
        "EMBEDDING_LOOKUP",
        "FLOOR",
        "FULLY_CONNECTED",
        "HASHTABLE_LOOKUP",
        "L2_NORMALIZATION",
        "L2_POOL_2D",
        "LOCAL_RESPONSE_NORMALIZATION",
        "LOGISTIC",
        "LSH_PROJECTION",
        "LSTM",
        "MAX_POOL_2D",
        "MUL",
        "RELU",
        "RELU_N1_TO_1",
        "RELU6",
        "RESHAPE",
        "RESIZE_BILINEAR",
        "RNN",
        "SOFTMAX",
        "SPACE_TO_DEPTH",
        "SVDF",
        "TANH",
        "CONCAT_EMBEDDINGS",
        "SKIP_GRAM",
        "CALL",
        "CUSTOM",
        "EMBEDDING_LOOKUP_SPARSE",
        "PAD",
        "UNIDIRECTIONAL_SEQUENCE_RNN",
        "GATHER",
        "BATCH_TO_SPACE_ND",
        "SPACE_TO_BATCH_ND",
        "TRANSPOSE",
        "MEAN",
        "SUB",
        "DIV",
        "SQUEEZE",
        "UNIDIRECTIONAL_SEQUENCE_LSTM",
        "STRIDED_SLICE",
        "BIDIRECTIONAL_SEQUENCE_RNN",
        "EXP",
        "TOPK_V2",
        "SPLIT",
        "LOG_SOFTMAX",
        "DELEGATE",
        "BIDIRECTIONAL_SEQUENCE_LSTM",
        "CAST",
        "PRELU",
        "MAXIMUM",
        "ARG_MAX",
        "MINIMUM",
        "LESS",
        "NEG",
        "PADV2",
        "GREATER",
        "GREATER_EQUAL",
        "LESS_EQUAL",
        "SELECT",
        "SLICE",
        "SIN",
        "TRANSPOSE_CONV",
        "SPARSE_TO_DENSE",
        "TILE",
        "EXPAND_DIMS",
        "EQUAL",
        "NOT_EQUAL",
        "LOG",
        "SUM",
        "SQRT",
        "RSQRT",
        "SHAPE",
        "POW",
        "ARG_MIN",
        "FAKE_QUANT",
        "REDUCE_PROD",
        "REDUCE_MAX",
        "PACK",
        "LOGICAL_OR",
        "ONE_HOT",
        "LOGICAL_AND",
        "LOGICAL_NOT",
        "UNPACK",
        "REDUCE_MIN",
        "FLOOR_DIV",
        "REDUCE_ANY",
        "SQUARE",
        "ZEROS_LIKE",
        "FILL",
        "FLOOR_MOD",
        "RANGE",
        "RESIZE_NEAREST_NEIGHBOR",
        "LEAKY_RELU",
        "SQUARED_DIFFERENCE",
        "MIRROR_PAD",
        "ABS",
        "SPLIT_V",
        "UNIQUE",
        "CEIL",
        "REVERSE_V2",
        "ADD_N",
        "GATHER_ND",
        "COS",
        "WHERE",
        "RANK",
        "ELU",
        "REVERSE_SEQUENCE",
        "MATRIX_DIAG",
        "QUANTIZE",
        "MATRIX_SET_DIAG",
        "ROUND",
        "HARD_SWISH",
        "IF",
        "WHILE",
        "NON_MAX_SUPPRESSION_V4",
        "NON_MAX_SUPPRESSION_V5",
        "SCATTER_ND",
        "SELECT_V2",
        "DENSIFY",
        "SEGMENT_SUM",
        "BATCH_MATMUL",
        "PLACEHOLDER_FOR_GREATER_OP_CODES",
        "CUMSUM",
        "CALL_ONCE",
        "BROADCAST_TO",
        "RFFT2D",
        "CONV_3D",
        "IMAG",
        "REAL",
        "COMPLEX_ABS",
        "HASHTABLE",
        "HASHTABLE_FIND",
        "HASHTABLE_IMPORT",
        "HASHTABLE_SIZE",
        "REDUCE_ALL",
        "CONV_3D_TRANSPOSE",
        "VAR_HANDLE",
        "READ_VARIABLE",
        "ASSIGN_VARIABLE",
        "BROADCAST_ARGS",
        "RANDOM_STANDARD_NORMAL",
        "BUCKETIZE",
        "RANDOM_UNIFORM",
        "MULTINOMIAL",
        "GELU",
        "DYNAMIC_UPDATE_SLICE",
        "RELU_0_TO_1",
        "UNSORTED_SEGMENT_PROD",
        "UNSORTED_SEGMENT_MAX",
        "UNSORTED_SEGMENT_SUM",
        "ATAN2",
        "UNSORTED_SEGMENT_MIN",
        "SIGN",
        "BITCAST",
        "BITWISE_XOR",
        "RIGHT_SHIFT",
        "STABLEHLO_LOGISTIC",
        "STABLEHLO_ADD",
        "STABLEHLO_DIVIDE",
        "STABLEHLO_MULTIPLY",
        "STABLEHLO_MAXIMUM",
        "STABLEHLO_RESHAPE",
        "STABLEHLO_CLAMP",
        "STABLEHLO_CONCATENATE",
        "STABLEHLO_BROADCAST_IN_DIM",
        "STABLEHLO_CONVOLUTION",
        "STABLEHLO_SLICE",
        "STABLEHLO_CUSTOM_CALL",
        "STABLEHLO_REDUCE",
        "STABLEHLO_ABS",
        "STABLEHLO_AND",
        "STABLEHLO_COSINE",
        "STABLEHLO_EXPONENTIAL",
        "STABLEHLO_FLOOR",
        "STABLEHLO_LOG",
        "STABLEHLO_MINIMUM",
        "STABLEHLO_NEGATE",
        "STABLEHLO_OR",
        "STABLEHLO_POWER",
        "STABLEHLO_REMAINDER",
        "STABLEHLO_RSQRT",
        "STABLEHLO_SELECT",
        "STABLEHLO_SUBTRACT",
        "STABLEHLO_TANH",
        "STABLEHLO_SCATTER",
        "STABLEHLO_COMPARE",
        "STABLEHLO_CONVERT",
        "STABLEHLO_DYNAMIC_SLICE",
        "STABLEHLO_DYNAMIC_UPDATE_SLICE",
        "STABLEHLO_PAD",
        "STABLEHLO_IOTA",
        "STABLEHLO_DOT_GENERAL",
        "STABLEHLO_REDUCE_WINDOW",
        "STABLEHLO_SORT",
        "STABLEHLO_WHILE",
        "STABLEHLO_GATHER",
        "STABLEHLO_TRANSPOSE",
        "DILATE",
        "STABLEHLO_RNG_BIT_GENERATOR",
        "REDUCE_WINDOW",
        "STABLEHLO_COMPOSITE",
        "STABLEHLO_SHIFT_LEFT",
        "STABLEHLO_CBRT",
        "STABLEHLO_CASE",
    ];

    /// The schema's name of a builtin operator code, for error messages (`"BUILTIN_OPERATOR"`
    /// for a code newer than this table).
    ///
    /// ```
    /// use fvae::formats::tflite::op;
    /// assert_eq!(op::name(9), "FULLY_CONNECTED");
    /// assert_eq!(op::name(98), "LEAKY_RELU");
    /// assert_eq!(op::name(1000), "BUILTIN_OPERATOR");
    /// ```
    pub const fn name(code: i32) -> &'static str {
        if code >= 0 && (code as usize) < NAMES.len() {
            NAMES[code as usize]
        } else {
            "BUILTIN_OPERATOR"
        }
    }
}

/// Element types of tensors (the `TensorType` enum of the schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TensorType {
    /// FLOAT32 (0).
    Float32,
    /// INT32 (2).
    Int32,
    /// UINT8 (3).
    UInt8,
    /// INT64 (4).
    Int64,
    /// INT16 (7).
    Int16,
    /// INT8 (9).
    Int8,
    /// Any other type code (fvae does not compute with it).
    Other(i8),
}

impl TensorType {
    fn from_code(c: i8) -> Self {
        match c {
            0 => TensorType::Float32,
            2 => TensorType::Int32,
            3 => TensorType::UInt8,
            4 => TensorType::Int64,
            7 => TensorType::Int16,
            9 => TensorType::Int8,
            c => TensorType::Other(c),
        }
    }

    /// Bytes per element, or `None` for types fvae does not size.
    ///
    /// ```
    /// assert_eq!(fvae::formats::tflite::TensorType::Int8.size(), Some(1));
    /// ```
    pub const fn size(self) -> Option<usize> {
        match self {
            TensorType::Float32 | TensorType::Int32 => Some(4),
            TensorType::UInt8 | TensorType::Int8 => Some(1),
            TensorType::Int64 => Some(8),
            TensorType::Int16 => Some(2),
            TensorType::Other(_) => None,
        }
    }

    /// A short name for messages.
    ///
    /// ```
    /// assert_eq!(fvae::formats::tflite::TensorType::Float32.name(), "f32");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            TensorType::Float32 => "f32",
            TensorType::Int32 => "i32",
            TensorType::UInt8 => "u8",
            TensorType::Int64 => "i64",
            TensorType::Int16 => "i16",
            TensorType::Int8 => "i8",
            TensorType::Other(_) => "other",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Raw flatbuffer access.

fn bytes_at<const N: usize>(buf: &[u8], pos: usize) -> Result<[u8; N]> {
    pos.checked_add(N)
        .and_then(|end| buf.get(pos..end))
        .and_then(|s| s.try_into().ok())
        .ok_or(err(pos, "read past the end of the buffer"))
}
fn u16_at(buf: &[u8], pos: usize) -> Result<u16> {
    bytes_at::<2>(buf, pos).map(u16::from_le_bytes)
}
fn u32_at(buf: &[u8], pos: usize) -> Result<u32> {
    bytes_at::<4>(buf, pos).map(u32::from_le_bytes)
}

/// Follows the unsigned 32-bit offset stored at `pos` (relative to `pos`).
fn follow(buf: &[u8], pos: usize) -> Result<usize> {
    let off = u32_at(buf, pos)? as usize;
    match pos.checked_add(off) {
        Some(t) if t < buf.len() && off != 0 => Ok(t),
        _ => Err(err(pos, "offset points outside the buffer")),
    }
}

/// Deepest chain of tables the reader follows (the schema's deepest is Model, SubGraph, Tensor,
/// QuantizationParameters: 4), as the flatbuffers verifier's `max_depth`. The reader follows
/// the schema, never a file's own nesting, so this holds by construction; the check keeps it so
/// if a table that nests itself (a subgraph inside an operator) is ever read.
const MAX_DEPTH: u8 = 8;

/// Vector entries one [`Model::parse`] may walk: one per 4 bytes of the file, plus a few for the
/// root's fields. Each entry walked (a table offset, a tensor index) is 4 distinct bytes in a
/// file whose vectors do not share entries, so a real model stays far below it; a file whose
/// vectors point many entries at one table (S subgraphs x O operators x I inputs from a few
/// kilobytes) reaches it after work linear in its size. The flatbuffers verifier bounds the same
/// with `max_tables`.
pub const fn visit_budget(file_len: usize) -> usize {
    file_len / 4 + 64
}

/// A table: its position and its vtable, both checked to lie inside the buffer.
#[derive(Debug, Clone, Copy)]
struct Table<'a> {
    buf: &'a [u8],
    pos: usize,
    vtable: usize,
    // u16 (as stored) and u8: handles embed these views, so they are kept small.
    vt_len: u16,
    tbl_len: u16,
    /// 1 for the root, one more per table followed.
    depth: u8,
}

impl<'a> Table<'a> {
    fn at(buf: &'a [u8], pos: usize, depth: u8) -> Result<Self> {
        if depth > MAX_DEPTH {
            return Err(err(pos, "tables nested deeper than the schema allows"));
        }
        let soff = bytes_at::<4>(buf, pos).map(i32::from_le_bytes)? as i64;
        let vtable = pos as i64 - soff;
        if vtable < 0 || vtable as u64 > buf.len() as u64 {
            return Err(err(pos, "vtable offset points outside the buffer"));
        }
        let vtable = vtable as usize;
        let vt_len = u16_at(buf, vtable)?;
        let tbl_len = u16_at(buf, vtable + 2)?;
        if vt_len < 4 || !vt_len.is_multiple_of(2) || vtable + vt_len as usize > buf.len() {
            return Err(err(vtable, "vtable length is malformed"));
        }
        if tbl_len < 4 || pos.checked_add(tbl_len as usize).is_none_or(|e| e > buf.len()) {
            return Err(err(vtable, "table length runs past the end of the buffer"));
        }
        Ok(Table { buf, pos, vtable, vt_len, tbl_len, depth })
    }

    /// Absolute position of field `slot` holding `size` bytes, or `None` if absent.
    fn field(&self, slot: usize, size: usize) -> Result<Option<usize>> {
        let entry = 4 + 2 * slot;
        if entry + 2 > self.vt_len as usize {
            return Ok(None);
        }
        let off = u16_at(self.buf, self.vtable + entry)? as usize;
        if off == 0 {
            return Ok(None);
        }
        if off + size > self.tbl_len as usize {
            return Err(err(self.vtable + entry, "field lies outside its table"));
        }
        Ok(Some(self.pos + off))
    }

    fn scalar<const N: usize>(&self, slot: usize) -> Result<Option<[u8; N]>> {
        match self.field(slot, N)? {
            Some(p) => bytes_at::<N>(self.buf, p).map(Some),
            None => Ok(None),
        }
    }
    fn u8(&self, slot: usize, default: u8) -> Result<u8> {
        Ok(self.scalar::<1>(slot)?.map_or(default, |b| b[0]))
    }
    fn i8(&self, slot: usize, default: i8) -> Result<i8> {
        Ok(self.scalar::<1>(slot)?.map_or(default, |b| b[0] as i8))
    }
    fn bool(&self, slot: usize) -> Result<bool> {
        Ok(self.u8(slot, 0)? != 0)
    }
    fn i32(&self, slot: usize, default: i32) -> Result<i32> {
        Ok(self.scalar::<4>(slot)?.map_or(default, i32::from_le_bytes))
    }
    fn f32(&self, slot: usize, default: f32) -> Result<f32> {
        Ok(self.scalar::<4>(slot)?.map_or(default, f32::from_le_bytes))
    }
    fn u32(&self, slot: usize, default: u32) -> Result<u32> {
        Ok(self.scalar::<4>(slot)?.map_or(default, u32::from_le_bytes))
    }
    fn u64(&self, slot: usize, default: u64) -> Result<u64> {
        Ok(self.scalar::<8>(slot)?.map_or(default, u64::from_le_bytes))
    }

    fn table(&self, slot: usize) -> Result<Option<Table<'a>>> {
        match self.field(slot, 4)? {
            Some(p) => Table::at(self.buf, follow(self.buf, p)?, self.depth + 1).map(Some),
            None => Ok(None),
        }
    }

    fn vector(&self, slot: usize, elem: u8) -> Result<Option<Vector<'a>>> {
        match self.field(slot, 4)? {
            Some(p) => Vector::at(self.buf, follow(self.buf, p)?, elem, self.depth).map(Some),
            None => Ok(None),
        }
    }
}

/// A vector: a 32-bit length, then `len` elements of `elem` bytes, checked to fit.
#[derive(Debug, Clone, Copy)]
struct Vector<'a> {
    buf: &'a [u8],
    start: usize,
    len: usize,
    /// Bytes per element (1, 4 or 8).
    elem: u8,
    /// The depth of the table holding the vector.
    depth: u8,
}

impl<'a> Vector<'a> {
    fn at(buf: &'a [u8], pos: usize, elem: u8, depth: u8) -> Result<Self> {
        let len = u32_at(buf, pos)? as usize;
        let start = pos + 4;
        let end = len.checked_mul(elem as usize).and_then(|n| n.checked_add(start));
        if end.is_none_or(|e| e > buf.len()) {
            return Err(err(pos, "vector runs past the end of the buffer"));
        }
        Ok(Vector { buf, start, len, elem, depth })
    }
    const EMPTY: Vector<'static> = Vector { buf: &[], start: 0, len: 0, elem: 4, depth: 0 };

    fn bytes(&self) -> &'a [u8] {
        // In bounds: checked in `at` (and empty for EMPTY).
        self.buf.get(self.start..self.start + self.len * self.elem as usize).unwrap_or(&[])
    }
    fn raw<const N: usize>(&self, i: usize) -> Option<[u8; N]> {
        if i >= self.len || N != self.elem as usize {
            return None;
        }
        self.bytes().get(i * N..i * N + N).and_then(|s| s.try_into().ok())
    }
    fn table(&self, i: usize) -> Result<Table<'a>> {
        if i >= self.len {
            return Err(err(self.start, "vector index out of range"));
        }
        Table::at(self.buf, follow(self.buf, self.start + 4 * i)?, self.depth + 1)
    }
}

/// A vector of `i32` inside the buffer (shapes, tensor indices).
#[derive(Debug, Clone, Copy)]
pub struct I32s<'a>(Vector<'a>);

impl<'a> I32s<'a> {
    /// The number of elements.
    pub fn len(&self) -> usize {
        self.0.len
    }
    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.0.len == 0
    }
    /// Element `i`, or `None` past the end.
    pub fn get(&self, i: usize) -> Option<i32> {
        self.0.raw::<4>(i).map(i32::from_le_bytes)
    }
    /// The elements in order.
    pub fn iter(&self) -> impl Iterator<Item = i32> + 'a {
        let v = *self;
        (0..v.len()).filter_map(move |i| v.get(i))
    }
}

/// A vector of `f32` inside the buffer (quantisation scales).
#[derive(Debug, Clone, Copy)]
pub struct F32s<'a>(Vector<'a>);

impl F32s<'_> {
    /// The number of elements.
    pub fn len(&self) -> usize {
        self.0.len
    }
    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.0.len == 0
    }
    /// Element `i`, or `None` past the end.
    pub fn get(&self, i: usize) -> Option<f32> {
        self.0.raw::<4>(i).map(f32::from_le_bytes)
    }
}

/// A vector of `i64` inside the buffer (quantisation zero points).
#[derive(Debug, Clone, Copy)]
pub struct I64s<'a>(Vector<'a>);

impl I64s<'_> {
    /// The number of elements.
    pub fn len(&self) -> usize {
        self.0.len
    }
    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.0.len == 0
    }
    /// Element `i`, or `None` past the end.
    pub fn get(&self, i: usize) -> Option<i64> {
        self.0.raw::<8>(i).map(i64::from_le_bytes)
    }
}

// ---------------------------------------------------------------------------------------------
// Schema tables.

/// A `.tflite` model read in place.
#[derive(Debug, Clone, Copy)]
pub struct Model<'a> {
    buf: &'a [u8],
    root: Table<'a>,
}

/// An `OperatorCode`: which builtin (or custom) operator an operator index refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct OperatorCode {
    /// The builtin code: the larger of `deprecated_builtin_code` (an int8 kept for files older
    /// than schema 3a) and `builtin_code` (the int32 field), as TFLite's `GetBuiltinCode` does.
    pub builtin: i32,
    /// The operator version.
    pub version: i32,
    /// Whether this is a custom operator (a `custom_code` string is present).
    pub custom: bool,
}

/// A subgraph: tensors, operators, and its input and output tensor indices.
#[derive(Debug, Clone, Copy)]
pub struct SubGraph<'a> {
    model: Model<'a>,
    tensors: Vector<'a>,
    inputs: Vector<'a>,
    outputs: Vector<'a>,
    operators: Vector<'a>,
}

/// A tensor's description: shape, element type, buffer index, quantisation.
#[derive(Debug, Clone, Copy)]
pub struct Tensor<'a> {
    table: Table<'a>,
    dtype: TensorType,
    buffer: u32,
}

/// Affine quantisation parameters: `real = scale * (q - zero_point)`, per tensor (one scale) or
/// per channel along `quantized_dimension`.
#[derive(Debug, Clone, Copy)]
pub struct Quantization<'a> {
    /// The scales.
    pub scale: F32s<'a>,
    /// The zero points (as many as scales, or none).
    pub zero_point: I64s<'a>,
    /// The channel dimension for per-channel quantisation.
    pub quantized_dimension: i32,
}

/// An operator: its operator-code index, input and output tensor indices (-1 = optional input
/// absent) and builtin options.
#[derive(Debug, Clone, Copy)]
pub struct Operator<'a> {
    table: Table<'a>,
    opcode_index: u32,
    inputs: Vector<'a>,
    outputs: Vector<'a>,
}

/// Padding of convolutions (the schema's `Padding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Padding {
    /// SAME (0): output size `ceil(in / stride)`.
    Same,
    /// VALID (1): no padding.
    Valid,
}

/// A fused activation (the schema's `ActivationFunctionType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Activation {
    /// NONE (0).
    None,
    /// RELU (1).
    Relu,
    /// RELU_N1_TO_1 (2).
    ReluN1To1,
    /// RELU6 (3).
    Relu6,
    /// TANH (4), SIGN_BIT (5) or an unknown code: not fusable in fvae.
    Other(i8),
}

impl Activation {
    fn from_code(c: i8) -> Self {
        match c {
            0 => Activation::None,
            1 => Activation::Relu,
            2 => Activation::ReluN1To1,
            3 => Activation::Relu6,
            c => Activation::Other(c),
        }
    }
}

fn padding(table: &Table<'_>, slot: usize) -> Result<Padding> {
    match table.i8(slot, 0)? {
        0 => Ok(Padding::Same),
        1 => Ok(Padding::Valid),
        _ => Err(err(table.pos, "unknown padding code")),
    }
}

/// `Conv2DOptions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Conv2DOptions {
    /// Padding.
    pub padding: Padding,
    /// Stride along the width.
    pub stride_w: i32,
    /// Stride along the height.
    pub stride_h: i32,
    /// Fused activation.
    pub activation: Activation,
    /// Dilation along the width (default 1).
    pub dilation_w: i32,
    /// Dilation along the height (default 1).
    pub dilation_h: i32,
}

/// `DepthwiseConv2DOptions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DepthwiseConv2DOptions {
    /// Padding.
    pub padding: Padding,
    /// Stride along the width.
    pub stride_w: i32,
    /// Stride along the height.
    pub stride_h: i32,
    /// Output channels per input channel (the converter also writes it into the filter shape).
    pub depth_multiplier: i32,
    /// Fused activation.
    pub activation: Activation,
    /// Dilation along the width (default 1).
    pub dilation_w: i32,
    /// Dilation along the height (default 1).
    pub dilation_h: i32,
}

/// `TransposeConvOptions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TransposeConvOptions {
    /// Padding.
    pub padding: Padding,
    /// Stride along the width.
    pub stride_w: i32,
    /// Stride along the height.
    pub stride_h: i32,
    /// Fused activation (added to the schema in 2023; absent means NONE).
    pub activation: Activation,
}

/// `FullyConnectedOptions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FullyConnectedOptions {
    /// Fused activation.
    pub activation: Activation,
    /// Weights format: 0 = DEFAULT, 1 = SHUFFLED4x16INT8.
    pub weights_format: i8,
    /// Whether the output keeps the input's leading dimensions.
    pub keep_num_dims: bool,
    /// Hybrid (float input, int8 weights) models: not supported by fvae.
    pub asymmetric_quantize_inputs: bool,
}

/// `ResizeNearestNeighborOptions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ResizeNearestNeighborOptions {
    /// Align the corner pixels of input and output.
    pub align_corners: bool,
    /// Sample at pixel centres.
    pub half_pixel_centers: bool,
}

/// `Pool2DOptions` (AVERAGE_POOL_2D, MAX_POOL_2D).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Pool2DOptions {
    /// Padding.
    pub padding: Padding,
    /// Stride along the width.
    pub stride_w: i32,
    /// Stride along the height.
    pub stride_h: i32,
    /// Window width.
    pub filter_w: i32,
    /// Window height.
    pub filter_h: i32,
    /// Fused activation.
    pub activation: Activation,
}

/// `StridedSliceOptions`: bit `i` of a mask applies to dimension `i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct StridedSliceOptions {
    /// Ignore `begin[i]`: start at the first (last, for a negative stride) element.
    pub begin_mask: i32,
    /// Ignore `end[i]`: run to the end.
    pub end_mask: i32,
    /// An ellipsis stands for the unnamed dimensions.
    pub ellipsis_mask: i32,
    /// Insert a dimension of 1.
    pub new_axis_mask: i32,
    /// Take one element and drop the dimension.
    pub shrink_axis_mask: i32,
    /// `end` is relative to `begin`.
    pub offset: bool,
}

/// `PackOptions` (and `UnpackOptions`: the count, then the axis).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PackOptions {
    /// How many tensors are stacked.
    pub values_count: i32,
    /// The new dimension.
    pub axis: i32,
}

// BuiltinOptions union type codes.
const OPT_CONCATENATION: u8 = 10;
const OPT_STRIDED_SLICE: u8 = 32;
const OPT_PACK: u8 = 59;
const OPT_CONV2D: u8 = 1;
const OPT_DEPTHWISE: u8 = 2;
const OPT_FULLY_CONNECTED: u8 = 8;
const OPT_ADD: u8 = 11;
const OPT_RESHAPE: u8 = 17;
const OPT_TRANSPOSE_CONV: u8 = 49;
const OPT_RESIZE_NEAREST: u8 = 74;
const OPT_MUL: u8 = 21;
const OPT_SUB: u8 = 28;
const OPT_LEAKY_RELU: u8 = 75;
const OPT_GELU: u8 = 116;
const OPT_POOL2D: u8 = 5;
const OPT_REDUCER: u8 = 27;
const OPT_SOFTMAX: u8 = 9;
const OPT_RESIZE_BILINEAR: u8 = 15;
const OPT_SPACE_TO_DEPTH: u8 = 19;
const OPT_DEPTH_TO_SPACE: u8 = 94;
const OPT_GATHER: u8 = 23;
const OPT_SPLIT: u8 = 35;
const OPT_UNPACK: u8 = 64;
const OPT_SPLIT_V: u8 = 79;

/// Counts a model may have, checked by [`Model::parse_with`] before it walks what they count,
/// so a file claiming more is refused after reading only the counts. `usize::MAX` means no limit
/// beyond the file's size.
///
/// ```
/// use fvae::formats::tflite::{Limits, Model};
/// let bytes = include_bytes!("../../tests/data/tflite/mlp_encoder.tflite");
/// let few = Limits::NONE.with_operators(1);
/// assert!(Model::parse_with(bytes, &few).is_err());
/// assert!(Model::parse_with(bytes, &Limits::NONE).is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Limits {
    /// Most subgraphs.
    pub subgraphs: usize,
    /// Most tensors in any subgraph.
    pub tensors: usize,
    /// Most operators in any subgraph.
    pub operators: usize,
}

impl Limits {
    /// No limit but the file's size (what [`Model::parse`] uses).
    pub const NONE: Limits = Limits { subgraphs: usize::MAX, tensors: usize::MAX, operators: usize::MAX };

    /// These limits with at most `n` subgraphs.
    ///
    /// ```
    /// let l = fvae::formats::tflite::Limits::NONE.with_subgraphs(1);
    /// assert_eq!(l.subgraphs, 1);
    /// ```
    pub const fn with_subgraphs(mut self, n: usize) -> Self {
        self.subgraphs = n;
        self
    }
    /// These limits with at most `n` tensors per subgraph.
    ///
    /// ```
    /// let l = fvae::formats::tflite::Limits::NONE.with_tensors(128);
    /// assert_eq!(l.tensors, 128);
    /// ```
    pub const fn with_tensors(mut self, n: usize) -> Self {
        self.tensors = n;
        self
    }
    /// These limits with at most `n` operators per subgraph.
    ///
    /// ```
    /// let l = fvae::formats::tflite::Limits::NONE.with_operators(64);
    /// assert_eq!(l.operators, 64);
    /// ```
    pub const fn with_operators(mut self, n: usize) -> Self {
        self.operators = n;
        self
    }
}

/// The vector entries a parse may still walk ([`visit_budget`]), charged in one place before
/// each walk over a vector.
struct Budget {
    left: usize,
}

impl Budget {
    /// Charges `n` entries of the vector at `pos`, or refuses the file.
    fn spend(&mut self, n: usize, pos: usize) -> Result<()> {
        self.left = self.left.checked_sub(n).ok_or(err(pos, BUDGET_EXCEEDED))?;
        Ok(())
    }
}

/// The reason of the error for a file that asks more visits than [`visit_budget`] allows.
pub const BUDGET_EXCEEDED: &str = "more table visits than the file's size allows (vectors share their entries)";

fn over_limit(what: &'static str, count: usize, limit: usize) -> Result<()> {
    if count > limit {
        return Err(Error::Unsupported { what, index: count });
    }
    Ok(())
}

impl<'a> Model<'a> {
    /// Reads the root table, checks the `TFL3` identifier and walks every subgraph, tensor,
    /// operator, operator code and buffer once, checking every offset and length. The walk does
    /// work linear in the file's size whatever its offsets say ([`visit_budget`]).
    pub fn parse(buf: &'a [u8]) -> Result<Self> {
        Self::parse_with(buf, &Limits::NONE)
    }

    /// [`Model::parse`], refusing a model with more subgraphs, tensors or operators than
    /// `limits` before walking them ([`Error::Unsupported`] with the count).
    pub fn parse_with(buf: &'a [u8], limits: &Limits) -> Result<Self> {
        if buf.len() < 8 {
            return Err(err(0, "shorter than a flatbuffer header"));
        }
        if buf.get(4..8) != Some(b"TFL3".as_slice()) {
            return Err(err(4, "file identifier is not TFL3"));
        }
        let root = Table::at(buf, follow(buf, 0)?, 1)?;
        let model = Model { buf, root };
        model.validate(limits, &mut Budget { left: visit_budget(buf.len()) })?;
        Ok(model)
    }

    fn validate(&self, limits: &Limits, budget: &mut Budget) -> Result<()> {
        let codes = self.operator_codes()?;
        budget.spend(codes.len, codes.start)?;
        for i in 0..codes.len {
            self.operator_code(i)?;
        }
        let buffers = self.buffers()?;
        budget.spend(buffers.len, buffers.start)?;
        for i in 0..buffers.len {
            self.buffer(i)?;
        }
        let subgraphs = self.subgraphs()?;
        if subgraphs.len == 0 {
            return Err(err(self.root.pos, "model has no subgraph"));
        }
        over_limit("tflite model with more subgraphs than its limit", subgraphs.len, limits.subgraphs)?;
        budget.spend(subgraphs.len, subgraphs.start)?;
        for g in 0..subgraphs.len {
            let sg = self.subgraph(g)?;
            over_limit("tflite subgraph with more tensors than its limit", sg.tensors.len, limits.tensors)?;
            over_limit("tflite subgraph with more operators than its limit", sg.operators.len, limits.operators)?;
            budget.spend(sg.tensors.len, sg.tensors.start)?;
            for t in 0..sg.tensors.len {
                let tensor = sg.tensor(t as i32)?;
                tensor.shape()?;
                tensor.name()?;
                tensor.quantization()?;
            }
            budget.spend(sg.operators.len, sg.operators.start)?;
            for o in 0..sg.operators.len {
                let opr = sg.operator(o)?;
                for v in [opr.inputs, opr.outputs] {
                    budget.spend(v.len, v.start)?;
                    for k in 0..v.len {
                        let t = v.raw::<4>(k).map(i32::from_le_bytes).unwrap_or(-1);
                        if t >= 0 {
                            sg.tensor(t)?;
                        }
                    }
                }
            }
            for v in [sg.inputs, sg.outputs] {
                budget.spend(v.len, v.start)?;
                for k in 0..v.len {
                    sg.tensor(v.raw::<4>(k).map(i32::from_le_bytes).unwrap_or(-1))?;
                }
            }
        }
        // Signature maps too: `signature_name` walks them, so a file may not share their entries.
        if let Some(defs) = self.root.vector(7, 4)? {
            budget.spend(defs.len, defs.start)?;
            for i in 0..defs.len {
                let def = defs.table(i)?;
                for slot in [0, 1] {
                    let Some(maps) = def.vector(slot, 4)? else { continue };
                    budget.spend(maps.len, maps.start)?;
                    for k in 0..maps.len {
                        maps.table(k)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The whole buffer.
    pub fn bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// The schema version (3 for every current converter).
    pub fn version(&self) -> Result<u32> {
        self.root.u32(0, 0)
    }

    fn operator_codes(&self) -> Result<Vector<'a>> {
        Ok(self.root.vector(1, 4)?.unwrap_or(Vector::EMPTY))
    }
    fn subgraphs(&self) -> Result<Vector<'a>> {
        Ok(self.root.vector(2, 4)?.unwrap_or(Vector::EMPTY))
    }
    fn buffers(&self) -> Result<Vector<'a>> {
        Ok(self.root.vector(4, 4)?.unwrap_or(Vector::EMPTY))
    }

    /// How many operator codes the model lists.
    pub fn operator_codes_len(&self) -> Result<usize> {
        Ok(self.operator_codes()?.len)
    }

    /// Operator code `i`.
    pub fn operator_code(&self, i: usize) -> Result<OperatorCode> {
        let t = self.operator_codes()?.table(i)?;
        let deprecated = t.i8(0, 0)? as i32;
        let custom = t.field(1, 4)?.is_some();
        let version = t.i32(2, 1)?;
        let builtin = t.i32(3, 0)?;
        Ok(OperatorCode { builtin: deprecated.max(builtin), version, custom })
    }

    /// How many subgraphs the model has (fvae runs subgraph 0).
    pub fn subgraphs_len(&self) -> Result<usize> {
        Ok(self.subgraphs()?.len)
    }

    /// Subgraph `i`.
    pub fn subgraph(&self, i: usize) -> Result<SubGraph<'a>> {
        let t = self.subgraphs()?.table(i)?;
        Ok(SubGraph {
            model: *self,
            tensors: t.vector(0, 4)?.unwrap_or(Vector::EMPTY),
            inputs: t.vector(1, 4)?.unwrap_or(Vector::EMPTY),
            outputs: t.vector(2, 4)?.unwrap_or(Vector::EMPTY),
            operators: t.vector(3, 4)?.unwrap_or(Vector::EMPTY),
        })
    }

    /// The signature's name for tensor `tensor` of subgraph `subgraph`, as an input (`input`)
    /// or output: what the user called it (Keras layer names such as `z_mean`; the tensor's own
    /// name is often the converter's `StatefulPartitionedCall:0`). `None` if no signature
    /// lists it.
    ///
    /// ```
    /// let model = include_bytes!("../../tests/data/tflite/mlp_encoder.tflite");
    /// let m = fvae::formats::tflite::Model::parse(model)?;
    /// let out = m.subgraph(0)?.outputs()?.get(0).unwrap();
    /// let name = m.signature_name(0, out, false)?;
    /// assert!(name.is_none() || !name.unwrap().is_empty());
    /// # Ok::<(), fvae::Error>(())
    /// ```
    pub fn signature_name(&self, subgraph: usize, tensor: i32, input: bool) -> Result<Option<&'a [u8]>> {
        let Some(defs) = self.root.vector(7, 4)? else { return Ok(None) };
        for i in 0..defs.len {
            let def = defs.table(i)?;
            if def.u32(4, 0)? as usize != subgraph {
                continue;
            }
            let Some(maps) = def.vector(if input { 0 } else { 1 }, 4)? else { continue };
            for k in 0..maps.len {
                let map = maps.table(k)?;
                if map.u32(1, 0)? as i64 == tensor as i64 {
                    return Ok(Some(map.vector(0, 1)?.map_or(&[][..], |v| v.bytes())));
                }
            }
        }
        Ok(None)
    }

    /// How many buffers the model has (buffer 0 is the empty sentinel).
    pub fn buffers_len(&self) -> Result<usize> {
        Ok(self.buffers()?.len)
    }

    /// The bytes of buffer `i`: its `data` vector, or for models above 2 GB the
    /// `offset`/`size` pair (relative to the start of the file). Empty if it has neither.
    pub fn buffer(&self, i: usize) -> Result<&'a [u8]> {
        let t = self.buffers()?.table(i)?;
        if let Some(v) = t.vector(0, 1)? {
            return Ok(v.bytes());
        }
        let offset = t.u64(1, 0)?;
        let size = t.u64(2, 0)?;
        if offset > 1 {
            let end = offset.checked_add(size).filter(|&e| e <= self.buf.len() as u64);
            return match end {
                Some(e) => self
                    .buf
                    .get(offset as usize..e as usize)
                    .ok_or(err(t.pos, "buffer offset/size runs past the end of the file")),
                None => Err(err(t.pos, "buffer offset/size runs past the end of the file")),
            };
        }
        Ok(&[])
    }
}

impl<'a> SubGraph<'a> {
    /// The model this subgraph belongs to.
    pub fn model(&self) -> Model<'a> {
        self.model
    }
    /// How many tensors the subgraph has.
    pub fn tensors_len(&self) -> usize {
        self.tensors.len
    }
    /// How many operators the subgraph has.
    pub fn operators_len(&self) -> usize {
        self.operators.len
    }
    /// The subgraph's input tensor indices.
    pub fn inputs(&self) -> Result<I32s<'a>> {
        Ok(I32s(self.inputs))
    }
    /// The subgraph's output tensor indices.
    pub fn outputs(&self) -> Result<I32s<'a>> {
        Ok(I32s(self.outputs))
    }

    /// Tensor `i` (an `i32` because operators use -1 for an absent optional input).
    pub fn tensor(&self, i: i32) -> Result<Tensor<'a>> {
        if i < 0 || i as usize >= self.tensors.len {
            return Err(Error::Value { what: "tflite tensor index", index: i as usize, reason: "out of range" });
        }
        let table = self.tensors.table(i as usize)?;
        let dtype = TensorType::from_code(table.i8(1, 0)?);
        let buffer = table.u32(2, 0)?;
        if buffer as usize >= self.model.buffers_len()?.max(1) {
            return Err(err(table.pos, "tensor refers to a buffer past the end of the buffer list"));
        }
        Ok(Tensor { table, dtype, buffer })
    }

    /// Operator `i`, in execution order.
    pub fn operator(&self, i: usize) -> Result<Operator<'a>> {
        let table = self.operators.table(i)?;
        let opcode_index = table.u32(0, 0)?;
        if opcode_index as usize >= self.model.operator_codes_len()? {
            return Err(err(table.pos, "operator refers to an operator code past the end of the list"));
        }
        let inputs = table.vector(1, 4)?.unwrap_or(Vector::EMPTY);
        let outputs = table.vector(2, 4)?.unwrap_or(Vector::EMPTY);
        Ok(Operator { table, opcode_index, inputs, outputs })
    }
}

impl<'a> Tensor<'a> {
    /// The shape (empty for a scalar).
    pub fn shape(&self) -> Result<I32s<'a>> {
        Ok(I32s(self.table.vector(0, 4)?.unwrap_or(Vector::EMPTY)))
    }
    /// The element type.
    pub fn dtype(&self) -> TensorType {
        self.dtype
    }
    /// The buffer index (0 = no constant data: an activation).
    pub fn buffer(&self) -> u32 {
        self.buffer
    }
    /// The tensor's name (bytes; TFLite writes UTF-8).
    pub fn name(&self) -> Result<&'a [u8]> {
        Ok(self.table.vector(3, 1)?.map_or(&[][..], |v| v.bytes()))
    }
    /// Affine quantisation parameters, if the tensor has scales.
    pub fn quantization(&self) -> Result<Option<Quantization<'a>>> {
        let Some(q) = self.table.table(4)? else { return Ok(None) };
        let scale = F32s(q.vector(2, 4)?.unwrap_or(Vector::EMPTY));
        let zero_point = I64s(q.vector(3, 8)?.unwrap_or(Vector { elem: 8, ..Vector::EMPTY }));
        if q.u8(4, 0)? != 0 {
            return Err(Error::Unsupported { what: "custom quantization details", index: self.table.pos });
        }
        let quantized_dimension = q.i32(6, 0)?;
        if scale.is_empty() {
            return Ok(None);
        }
        Ok(Some(Quantization { scale, zero_point, quantized_dimension }))
    }
    /// Whether the tensor is a variable (state): fvae runs stateless graphs only.
    pub fn is_variable(&self) -> Result<bool> {
        self.table.bool(5)
    }
    /// Whether sparsity parameters are present (fvae reads dense tensors only).
    pub fn is_sparse(&self) -> Result<bool> {
        Ok(self.table.field(6, 4)?.is_some())
    }
}

impl<'a> Operator<'a> {
    /// Index into the model's operator codes.
    pub fn opcode_index(&self) -> usize {
        self.opcode_index as usize
    }
    /// Input tensor indices (-1 marks an absent optional input).
    pub fn inputs(&self) -> I32s<'a> {
        I32s(self.inputs)
    }
    /// Output tensor indices.
    pub fn outputs(&self) -> I32s<'a> {
        I32s(self.outputs)
    }
    /// The union type code of the builtin options (0 = none).
    pub fn builtin_options_type(&self) -> Result<u8> {
        self.table.u8(3, 0)
    }
    /// Whether custom options bytes are present.
    pub fn has_custom_options(&self) -> Result<bool> {
        Ok(self.table.field(5, 4)?.is_some())
    }

    /// The builtin options table if its union type is `want`; `None` if absent; an error if
    /// another options type is attached.
    fn options(&self, want: u8) -> Result<Option<Table<'a>>> {
        let ty = self.builtin_options_type()?;
        if ty == 0 {
            return Ok(None);
        }
        if ty != want {
            return Err(err(self.table.pos, "builtin options of the wrong type for the operator"));
        }
        self.table.table(4)
    }

    /// `Conv2DOptions` (defaults if absent).
    pub fn conv2d_options(&self) -> Result<Conv2DOptions> {
        let Some(t) = self.options(OPT_CONV2D)? else {
            return Ok(Conv2DOptions {
                padding: Padding::Same,
                stride_w: 0,
                stride_h: 0,
                activation: Activation::None,
                dilation_w: 1,
                dilation_h: 1,
            });
        };
        Ok(Conv2DOptions {
            padding: padding(&t, 0)?,
            stride_w: t.i32(1, 0)?,
            stride_h: t.i32(2, 0)?,
            activation: Activation::from_code(t.i8(3, 0)?),
            dilation_w: t.i32(4, 1)?,
            dilation_h: t.i32(5, 1)?,
        })
    }

    /// `DepthwiseConv2DOptions` (defaults if absent).
    pub fn depthwise_options(&self) -> Result<DepthwiseConv2DOptions> {
        let Some(t) = self.options(OPT_DEPTHWISE)? else {
            return Ok(DepthwiseConv2DOptions {
                padding: Padding::Same,
                stride_w: 0,
                stride_h: 0,
                depth_multiplier: 0,
                activation: Activation::None,
                dilation_w: 1,
                dilation_h: 1,
            });
        };
        Ok(DepthwiseConv2DOptions {
            padding: padding(&t, 0)?,
            stride_w: t.i32(1, 0)?,
            stride_h: t.i32(2, 0)?,
            depth_multiplier: t.i32(3, 0)?,
            activation: Activation::from_code(t.i8(4, 0)?),
            dilation_w: t.i32(5, 1)?,
            dilation_h: t.i32(6, 1)?,
        })
    }

    /// `TransposeConvOptions` (defaults if absent).
    pub fn transpose_conv_options(&self) -> Result<TransposeConvOptions> {
        let Some(t) = self.options(OPT_TRANSPOSE_CONV)? else {
            return Ok(TransposeConvOptions {
                padding: Padding::Same,
                stride_w: 0,
                stride_h: 0,
                activation: Activation::None,
            });
        };
        Ok(TransposeConvOptions {
            padding: padding(&t, 0)?,
            stride_w: t.i32(1, 0)?,
            stride_h: t.i32(2, 0)?,
            activation: Activation::from_code(t.i8(3, 0)?),
        })
    }

    /// `FullyConnectedOptions` (defaults if absent).
    pub fn fully_connected_options(&self) -> Result<FullyConnectedOptions> {
        let Some(t) = self.options(OPT_FULLY_CONNECTED)? else {
            return Ok(FullyConnectedOptions {
                activation: Activation::None,
                weights_format: 0,
                keep_num_dims: false,
                asymmetric_quantize_inputs: false,
            });
        };
        Ok(FullyConnectedOptions {
            activation: Activation::from_code(t.i8(0, 0)?),
            weights_format: t.i8(1, 0)?,
            keep_num_dims: t.bool(2)?,
            asymmetric_quantize_inputs: t.bool(3)?,
        })
    }

    /// The fused activation of `AddOptions` (NONE if absent).
    pub fn add_activation(&self) -> Result<Activation> {
        match self.options(OPT_ADD)? {
            Some(t) => Ok(Activation::from_code(t.i8(0, 0)?)),
            None => Ok(Activation::None),
        }
    }

    /// The fused activation of `MulOptions` (NONE if absent).
    pub fn mul_activation(&self) -> Result<Activation> {
        match self.options(OPT_MUL)? {
            Some(t) => Ok(Activation::from_code(t.i8(0, 0)?)),
            None => Ok(Activation::None),
        }
    }

    /// The fused activation of `SubOptions` (NONE if absent; `pot_scale_int16` only concerns
    /// int16 and is not read).
    pub fn sub_activation(&self) -> Result<Activation> {
        match self.options(OPT_SUB)? {
            Some(t) => Ok(Activation::from_code(t.i8(0, 0)?)),
            None => Ok(Activation::None),
        }
    }

    /// `LeakyReluOptions.alpha` (0 if absent, the schema's default).
    pub fn leaky_relu_alpha(&self) -> Result<f32> {
        match self.options(OPT_LEAKY_RELU)? {
            Some(t) => t.f32(0, 0.0),
            None => Ok(0.0),
        }
    }

    /// `GeluOptions.approximate` (false if absent): the tanh form instead of erf.
    pub fn gelu_approximate(&self) -> Result<bool> {
        match self.options(OPT_GELU)? {
            Some(t) => t.bool(0),
            None => Ok(false),
        }
    }

    /// `ReshapeOptions.new_shape`, if present.
    pub fn reshape_new_shape(&self) -> Result<Option<I32s<'a>>> {
        match self.options(OPT_RESHAPE)? {
            Some(t) => Ok(t.vector(0, 4)?.map(I32s)),
            None => Ok(None),
        }
    }

    /// `StridedSliceOptions` (all masks 0 if absent).
    pub fn strided_slice_options(&self) -> Result<StridedSliceOptions> {
        let Some(t) = self.options(OPT_STRIDED_SLICE)? else { return Ok(StridedSliceOptions::default()) };
        Ok(StridedSliceOptions {
            begin_mask: t.i32(0, 0)?,
            end_mask: t.i32(1, 0)?,
            ellipsis_mask: t.i32(2, 0)?,
            new_axis_mask: t.i32(3, 0)?,
            shrink_axis_mask: t.i32(4, 0)?,
            offset: t.bool(5)?,
        })
    }

    /// `PackOptions` (zeros if absent).
    pub fn pack_options(&self) -> Result<PackOptions> {
        let Some(t) = self.options(OPT_PACK)? else { return Ok(PackOptions::default()) };
        Ok(PackOptions { values_count: t.i32(0, 0)?, axis: t.i32(1, 0)? })
    }

    /// `UnpackOptions` (zeros if absent): the count and the axis.
    pub fn unpack_options(&self) -> Result<PackOptions> {
        let Some(t) = self.options(OPT_UNPACK)? else { return Ok(PackOptions::default()) };
        Ok(PackOptions { values_count: t.i32(0, 0)?, axis: t.i32(1, 0)? })
    }

    /// `num_splits` of `SplitOptions` (`split_v` false) or `SplitVOptions` (0 if absent).
    pub fn num_splits(&self, split_v: bool) -> Result<i32> {
        match self.options(if split_v { OPT_SPLIT_V } else { OPT_SPLIT })? {
            Some(t) => t.i32(0, 0),
            None => Ok(0),
        }
    }

    /// `GatherOptions`: the axis and `batch_dims` (both 0 if absent).
    pub fn gather_options(&self) -> Result<(i32, i32)> {
        let Some(t) = self.options(OPT_GATHER)? else { return Ok((0, 0)) };
        Ok((t.i32(0, 0)?, t.i32(1, 0)?))
    }

    /// `ConcatenationOptions`: the axis and the fused activation (axis 0, none if absent).
    pub fn concatenation_options(&self) -> Result<(i32, Activation)> {
        let Some(t) = self.options(OPT_CONCATENATION)? else { return Ok((0, Activation::None)) };
        Ok((t.i32(0, 0)?, Activation::from_code(t.i8(1, 0)?)))
    }

    /// `Pool2DOptions` (SAME padding, zero strides and window if absent: refused by the
    /// operators).
    pub fn pool2d_options(&self) -> Result<Pool2DOptions> {
        let Some(t) = self.options(OPT_POOL2D)? else {
            return Ok(Pool2DOptions {
                padding: Padding::Same,
                stride_w: 0,
                stride_h: 0,
                filter_w: 0,
                filter_h: 0,
                activation: Activation::None,
            });
        };
        Ok(Pool2DOptions {
            padding: padding(&t, 0)?,
            stride_w: t.i32(1, 0)?,
            stride_h: t.i32(2, 0)?,
            filter_w: t.i32(3, 0)?,
            filter_h: t.i32(4, 0)?,
            activation: Activation::from_code(t.i8(5, 0)?),
        })
    }

    /// `SoftmaxOptions.beta` (0 if absent, the schema's default).
    pub fn softmax_beta(&self) -> Result<f32> {
        match self.options(OPT_SOFTMAX)? {
            Some(t) => t.f32(0, 0.0),
            None => Ok(0.0),
        }
    }

    /// `ResizeBilinearOptions` (defaults if absent; the same two flags as nearest-neighbour's,
    /// after two deprecated fields).
    pub fn resize_bilinear_options(&self) -> Result<ResizeNearestNeighborOptions> {
        match self.options(OPT_RESIZE_BILINEAR)? {
            Some(t) => Ok(ResizeNearestNeighborOptions { align_corners: t.bool(2)?, half_pixel_centers: t.bool(3)? }),
            None => Ok(ResizeNearestNeighborOptions::default()),
        }
    }

    /// `block_size` of `DepthToSpaceOptions` (`depth_to_space`) or `SpaceToDepthOptions` (0 if
    /// absent: refused by the operators).
    pub fn block_size(&self, depth_to_space: bool) -> Result<i32> {
        match self.options(if depth_to_space { OPT_DEPTH_TO_SPACE } else { OPT_SPACE_TO_DEPTH })? {
            Some(t) => t.i32(0, 0),
            None => Ok(0),
        }
    }

    /// `ReducerOptions.keep_dims` (false if absent).
    pub fn reducer_keep_dims(&self) -> Result<bool> {
        match self.options(OPT_REDUCER)? {
            Some(t) => t.bool(0),
            None => Ok(false),
        }
    }

    /// `ResizeNearestNeighborOptions` (defaults if absent).
    pub fn resize_nearest_options(&self) -> Result<ResizeNearestNeighborOptions> {
        match self.options(OPT_RESIZE_NEAREST)? {
            Some(t) => Ok(ResizeNearestNeighborOptions { align_corners: t.bool(0)?, half_pixel_centers: t.bool(1)? }),
            None => Ok(ResizeNearestNeighborOptions::default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MLP: &[u8] = include_bytes!("../../tests/data/tflite/mlp_decoder.tflite");
    const CONV: &[u8] = include_bytes!("../../tests/data/tflite/conv_decoder.tflite");

    #[test]
    fn reads_fixture_structure() {
        for bytes in [MLP, CONV] {
            let m = Model::parse(bytes).unwrap();
            assert_eq!(m.version().unwrap(), 3);
            let g = m.subgraph(0).unwrap();
            assert_eq!(g.inputs().unwrap().len(), 1);
            assert!(g.operators_len() >= 2);
        }
    }

    /// Every truncation and every single-byte corruption of a real model must give `Ok` or an
    /// `Err`, never a panic (a cheap deterministic fuzz; cargo-fuzz would go further).
    #[test]
    fn corrupted_bytes_never_panic() {
        let mut buf = [0u8; 12000];
        let src = CONV;
        for cut in (0..src.len()).step_by(7) {
            let _ = Model::parse(&src[..cut]).map(|m| walk(&m));
        }
        buf[..src.len()].copy_from_slice(src);
        let mut state = 0x1234_5678u32;
        for _ in 0..3000 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let pos = state as usize % src.len();
            let old = buf[pos];
            buf[pos] = (state >> 8) as u8;
            let _ = Model::parse(&buf[..src.len()]).map(|m| walk(&m));
            buf[pos] = old;
        }
    }

    /// The real models' walk spends at most a quarter of the budget: it is far from a limit a
    /// converter's file could reach.
    #[test]
    fn real_models_stay_far_below_the_visit_budget() {
        for bytes in [MLP, CONV] {
            let m = Model::parse(bytes).unwrap();
            let mut unlimited = Budget { left: usize::MAX };
            m.validate(&Limits::NONE, &mut unlimited).unwrap();
            let spent = usize::MAX - unlimited.left;
            assert!(spent > 10 && spent * 4 <= visit_budget(bytes.len()), "{spent} of {}", visit_budget(bytes.len()));
        }
    }

    fn walk(m: &Model<'_>) {
        if let Ok(g) = m.subgraph(0) {
            for i in 0..g.operators_len() {
                if let Ok(o) = g.operator(i) {
                    let _ = o.conv2d_options();
                    let _ = o.transpose_conv_options();
                    let _ = o.fully_connected_options();
                    let _ = o.reshape_new_shape();
                    let _ = (o.mul_activation(), o.sub_activation(), o.leaky_relu_alpha(), o.gelu_approximate());
                }
            }
        }
    }
}
