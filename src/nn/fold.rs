//! Values known when the model is planned. Converters emit SHAPE, STRIDED_SLICE, PACK and
//! int32 CONCATENATION whenever the batch dimension is unknown (`keras.Input(shape)`): they
//! compute the new shape of a RESHAPE or the output shape of a TRANSPOSE_CONV from the shape of
//! an activation. fvae's tensors all have static shapes (a dynamic batch dimension is 1), so
//! those values are constants: [`known`] computes them at plan time, the operators that make
//! them run nothing and get no memory, and their readers use their own static output shapes.

use super::setup::tensor_ref;
use super::{Setup, MAX_RANK};
use crate::formats::tflite::{op, Model, SubGraph, TensorType};
use crate::{Error, Result};

/// The most elements a folded int32 tensor may have (a shape or part of one).
pub(crate) const MAX_KNOWN: usize = 2 * MAX_RANK;
/// How many tensors one folded value may be computed from, all steps together (the Keras
/// pattern SHAPE, STRIDED_SLICE, PACK takes about ten): bounds the work per operator, whatever
/// the graph (a PACK of PACKs would otherwise fan out exponentially).
const MAX_STEPS: usize = 64;

/// A small int32 tensor whose value is known at plan time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Known {
    pub vals: [i32; MAX_KNOWN],
    pub len: usize,
    /// Rank 0 (a scalar) rather than rank 1.
    pub scalar: bool,
}

impl Known {
    pub fn values(&self) -> &[i32] {
        self.vals.get(..self.len).unwrap_or(&[])
    }
    /// A rank-0 or rank-1 value from `vals` (too many elements: `None`).
    pub fn of(vals: &[i32], scalar: bool) -> Option<Known> {
        let mut k = Known { vals: [0; MAX_KNOWN], len: vals.len(), scalar };
        k.vals.get_mut(..vals.len())?.copy_from_slice(vals);
        Some(k)
    }
}

/// The value of int32 tensor `t`: constant data, or what the operator writing it computes from
/// known values. An error if it is neither (a value that depends on activation data).
pub(crate) fn known(model: &Model<'_>, graph: &SubGraph<'_>, t: i32, steps: &mut usize) -> Result<Known> {
    let r = tensor_ref(model, graph, t)?;
    let not_known =
        Error::Unsupported { what: "int32 tensor whose value is not known when planning", index: t as usize };
    if r.dtype != TensorType::Int32 || r.rank > 1 {
        return Err(not_known);
    }
    if let Some((off, len)) = r.data {
        let bytes = model.bytes().get(off..off + len).ok_or(not_known)?;
        let mut vals = [0i32; MAX_KNOWN];
        if bytes.len() > 4 * MAX_KNOWN {
            return Err(not_known);
        }
        for (v, b) in vals.iter_mut().zip(bytes.chunks_exact(4)) {
            *v = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
        return Known::of(vals.get(..len / 4).ok_or(not_known)?, r.rank == 0).ok_or(not_known);
    }
    *steps += 1;
    if *steps > MAX_STEPS {
        return Err(not_known);
    }
    // The operator writing `t` (each tensor is written once; the planner checks that).
    for index in 0..graph.operators_len() {
        let o = graph.operator(index)?;
        if o.outputs().get(0) != Some(t) {
            continue;
        }
        let code = model.operator_code(o.opcode_index())?;
        let s = Setup { model: *model, graph, op: o, index, name: op::name(code.builtin) };
        let k = match code.builtin {
            op::SHAPE => super::shape::fold(&s)?,
            op::STRIDED_SLICE => super::strided_slice::fold(&s, steps)?,
            op::PACK => super::pack::fold(&s, steps)?,
            op::CONCATENATION => super::concatenation::fold(&s, steps)?,
            op::GATHER => super::gather::fold(&s, steps)?,
            _ => return Err(not_known),
        };
        if k.len != r.numel || k.scalar != (r.rank == 0) {
            return Err(Error::Shape { what: s.name, expected: r.numel, found: k.len });
        }
        return Ok(k);
    }
    Err(not_known)
}

/// Operator input `k` of `s`, as a value known at plan time.
pub(crate) fn input(s: &Setup<'_, '_>, k: usize, steps: &mut usize) -> Result<Known> {
    let t = s.need_input(k)?;
    known(&s.model, s.graph, t.index, steps)
}

/// The [`super::OpDesc::kind`] of an operator folded at plan time: no [`super::Kind`] (those
/// start at 1), so it is never stored or run.
pub(crate) const FOLDED: i32 = 0;

/// The description of an operator that runs nothing: its int32 output is known at plan time
/// (checked here by computing it).
#[inline(never)] // set-up only: keeps its frame off the common operators' set-up stack
pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<super::OpDesc> {
    let y = s.output()?;
    known(&s.model, s.graph, y.index, &mut 0)?;
    Ok(super::OpDesc { kind: FOLDED, input: -1, input2: -1, output: -1, ..Default::default() })
}
