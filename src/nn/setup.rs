//! Operator set-up: the tensors an operator sees at set-up time ([`TensorRef`]) and the checks
//! every operator's `describe` shares ([`Setup`]).

use super::network::MAX_RANK;
use super::run::sub;
use crate::formats::tflite::{Model, SubGraph, TensorType};
use crate::{Error, Result};

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
    /// Output `k` of an operator with several (SPLIT, SPLIT_V, UNPACK).
    pub fn output_at(&self, k: usize) -> Result<TensorRef<'m>> {
        match self.op.outputs().get(k) {
            Some(t) if t >= 0 => tensor_ref(&self.model, self.graph, t),
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
