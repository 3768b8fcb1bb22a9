//! [`Interpreter`]: runs a [`Network`] in caller memory, operator after operator.

use super::desc::{at, output_table, HEAD_WORDS};
use super::fold;
use super::network::Network;
use super::plan::plan_offset;
use super::registry::{self, describe};
use super::run::{split, split_mut, sub, sub_mut, Run};
use super::setup::{tensor_ref, Setup};
use crate::formats::tflite::TensorType;
use crate::formats::{cast_slice, cast_slice_mut};
use crate::{Error, Result};

/// Runs a [`Network`] in caller memory. Created by [`Network::interpreter`].
#[derive(Debug)]
pub struct Interpreter<'a, 'm> {
    pub(super) net: &'a Network<'m>,
    pub(super) words: &'a mut [i32],
    pub(super) bytes: &'a mut [u8],
}

impl<'a, 'm> Interpreter<'a, 'm> {
    /// Writes each operator's description and constants into the arena (once, at creation).
    pub(super) fn prepare(&mut self) -> Result<()> {
        let net = self.net;
        let (mut w, mut l) = (0usize, 0usize);
        let lut_base = net.scratch_bytes;
        for i in 0..net.ops {
            let d = describe(&net.model, &net.graph, i)?;
            if d.kind == fold::FOLDED {
                continue;
            }
            let n = d.stored_words();
            d.write(sub_mut(self.words, w..w + n)?);
            let pers = sub_mut(self.words, w + n..w + n + d.pers_words as usize)?;
            let lut = sub_mut(self.bytes, lut_base + l..lut_base + l + d.lut_bytes as usize)?;
            let op = net.graph.operator(i)?;
            // Several outputs: their (tensor, bytes) table first (see `desc.rs`).
            let n_out = d.outputs.max(0) as usize;
            let table = sub_mut(pers, 0..output_table(n_out))?;
            for (k, slot) in table.chunks_exact_mut(2).enumerate() {
                let t = op.outputs().get(k).ok_or(Error::Missing { format: "tflite", name: "operator output" })?;
                slot[0] = t;
                slot[1] = tensor_ref(&net.model, &net.graph, t)?.bytes() as i32;
            }
            let s = Setup { model: net.model, graph: &net.graph, op, index: i, name: "" };
            registry::prepare(&s, &d, pers, lut)?;
            w += n + d.pers_words as usize;
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

    /// Copies an int32 or int64 graph output `i` (ARG_MAX and ARG_MIN indices) into `out`,
    /// widened to i64.
    ///
    /// ```
    /// use fvae::nn::Network;
    /// let model = include_bytes!("../../tests/data/tflite_ops/arg_max_last_axis.tflite");
    /// let net = Network::new(model)?;
    /// let mut arena = vec![0u8; net.required_arena()];
    /// let mut it = net.interpreter(&mut arena)?;
    /// it.input_i8_mut(0)?.fill(0); // all equal: the first index along the axis
    /// it.invoke()?;
    /// let mut indices = [9i64; 6];
    /// it.output_i64(0, &mut indices)?;
    /// assert_eq!(indices, [0; 6]);
    /// # Ok::<(), fvae::Error>(())
    /// ```
    pub fn output_i64(&self, i: usize, out: &mut [i64]) -> Result<()> {
        let (off, len, dtype) = self.io_tensor(false, i)?;
        let width = match dtype {
            TensorType::Int32 => 4,
            TensorType::Int64 => 8,
            _ => return Err(Error::DType { what: "graph output", expected: "i32 or i64", found: dtype.name() }),
        };
        if out.len() * width != len {
            return Err(Error::Shape { what: "graph output", expected: len / width, found: out.len() });
        }
        for (chunk, v) in sub(self.bytes, off..off + len)?.chunks_exact(width).zip(out) {
            let mut b = [0u8; 8];
            b[..width].copy_from_slice(chunk);
            *v = if width == 4 { i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64 } else { i64::from_le_bytes(b) };
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
            let head: &[i32; HEAD_WORDS] = descs
                .get(w..w + HEAD_WORDS)
                .and_then(|s| s.try_into().ok())
                .ok_or(Error::BufferTooSmall { what: "nn arena", needed: w + HEAD_WORDS, given: descs.len() })?;
            let (n, pw) = (head[at::STORED] as usize, head[at::PERS_WORDS] as usize);
            let lut_bytes = head[at::LUT_BYTES] as usize;
            let (stored, params) = split(sub(descs, w..w + n + pw)?, n)?;
            let lut = sub(luts, l..l + lut_bytes)?;
            w += n + pw;
            l += lut_bytes;
            if head[at::OUTPUTS] > 1 {
                several_outputs(net, act, head, stored, params)?;
                continue;
            }
            let (in1, in2, out) = carve(net, act, head, head[at::OUTPUT], head[at::OUT_LEN])?;
            let mut run = Run { model, desc: stored, params, lut, acc: &mut *acc, patch: &mut *patch };
            registry::eval(head, &mut run, in1, in2, out)?;
        }
        Ok(())
    }
}

/// An operator with several outputs (SPLIT, SPLIT_V, UNPACK), off the common path: one call
/// per entry `(tensor, bytes)` of the outputs table its constants start with (see `desc.rs`).
#[inline(never)]
fn several_outputs(
    net: &Network<'_>,
    act: &mut [u8],
    head: &[i32; HEAD_WORDS],
    stored: &[i32],
    params: &[i32],
) -> Result<()> {
    let n = head[at::OUTPUTS] as usize;
    for (k, o) in params.chunks_exact(2).take(n).enumerate() {
        let (in1, _, out) = carve(net, act, head, o[0], o[1])?;
        registry::eval_output(head, stored, params, k, in1, out)?;
    }
    Ok(())
}

/// Output tensor `t` (`len` bytes) of the operator `head` describes, and its two inputs (absent:
/// empty), from the activation region.
#[inline(always)] // the common path's, inlined: one call per operator per inference
fn carve<'x>(
    net: &Network<'_>,
    act: &'x mut [u8],
    head: &[i32; HEAD_WORDS],
    t: i32,
    len: i32,
) -> Result<(&'x [u8], &'x [u8], &'x mut [u8])> {
    let out_off = plan_offset(net, t)?;
    let (before, rest) = split_mut(act, out_off)?;
    let (out, after) = split_mut(rest, len as usize)?;
    let (before, after): (&[u8], &[u8]) = (before, after);
    let in1 = pick(net, before, after, out_off, out.len(), head[at::INPUT], head[at::IN_LEN])?;
    let in2 = pick(net, before, after, out_off, out.len(), head[at::INPUT2], head[at::IN2_LEN])?;
    Ok((in1, in2, out))
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
