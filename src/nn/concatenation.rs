//! CONCATENATION. int32 vectors known at plan time (parts of a new shape) are joined when the
//! model is planned and run nothing ([`super::fold`]). int8 activations: two inputs joined
//! along any axis; as in TFLite Micro the bytes are copied unchanged, so every input must have
//! the output's scale and zero point (the converter gives them the same; other models are
//! refused rather than requantised differently) and the fused activation must be none.

use super::fold::{self, Known};
use super::{w32, Kind, OpDesc, Setup};
use crate::formats::tflite::{Activation, TensorType};
use crate::{Error, Result};

/// Joins int32 values known at plan time (rank 1, axis 0).
pub(crate) fn fold(s: &Setup<'_, '_>, steps: &mut usize) -> Result<Known> {
    let (axis, _) = s.op.concatenation_options()?;
    let mut vals = [0i32; fold::MAX_KNOWN];
    let mut len = 0usize;
    for k in 0..s.op.inputs().len() {
        let v = fold::input(s, k, steps)?;
        if v.scalar || axis != 0 {
            return Err(s.unsupported("CONCATENATION of values known at plan time: only rank 1, axis 0"));
        }
        let dst = vals.get_mut(len..len + v.len).ok_or(s.shape(fold::MAX_KNOWN, len + v.len))?;
        for (d, &x) in dst.iter_mut().zip(v.values()) {
            *d = x;
        }
        len += v.len;
    }
    Known::of(&vals[..len], false).ok_or(s.shape(fold::MAX_KNOWN, len))
}

pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let y = s.output()?;
    if y.dtype == TensorType::Int32 {
        return fold::describe(s);
    }
    let (axis, act) = s.op.concatenation_options()?;
    if act != Activation::None {
        return Err(s.unsupported("CONCATENATION with a fused activation"));
    }
    if s.op.inputs().len() != 2 {
        return Err(s.unsupported("CONCATENATION of other than two int8 inputs"));
    }
    let (a, b) = (s.need_input(0)?, s.need_input(1)?);
    for t in [&a, &b] {
        s.check_i8(t)?;
        s.expect_activation(t)?;
        if t.rank != y.rank {
            return Err(s.shape(y.rank, t.rank));
        }
        if t.scale.to_bits() != y.scale.to_bits() || t.zero_point != y.zero_point {
            return Err(s.unsupported("CONCATENATION inputs quantised unlike the output"));
        }
    }
    s.check_i8(&y)?;
    let axis = if axis < 0 { axis + y.rank as i32 } else { axis };
    if axis < 0 || axis as usize >= y.rank {
        return Err(Error::Value { what: "CONCATENATION axis", index: s.index, reason: "outside the rank" });
    }
    let axis = axis as usize;
    // Every dimension but the axis agrees; the axis adds up.
    for (d, ((&da, &db), &dy)) in a.dims.iter().zip(&b.dims).zip(&y.dims).enumerate().take(y.rank) {
        let want = if d == axis { da + db } else { da };
        if db != da && d != axis || dy != want {
            return Err(s.shape(want, dy));
        }
    }
    let outer: usize = y.dims.iter().take(axis).product();
    let inner: usize = y.dims.iter().take(y.rank).skip(axis + 1).product();
    let (a_axis, b_axis) = (a.dims.get(axis).copied().unwrap_or(0), b.dims.get(axis).copied().unwrap_or(0));
    Ok(OpDesc {
        kind: Kind::Concatenation as i32,
        input: a.index,
        input2: b.index,
        output: y.index,
        in_len: w32(s, a.bytes())?,
        in2_len: w32(s, b.bytes())?,
        out_len: w32(s, y.bytes())?,
        batches: w32(s, outer)?,
        a0: w32(s, a_axis * inner)?,
        a1: w32(s, b_axis * inner)?,
        ..OpDesc::default()
    })
}

/// For each of the `batches` outer positions: the first input's `a0` bytes, then the second's
/// `a1`.
pub(crate) fn eval(d: &OpDesc, a: &[u8], b: &[u8], out: &mut [u8]) -> Result<()> {
    let (na, nb) = (d.a0 as usize, d.a1 as usize);
    if na == 0 && nb == 0 {
        return Ok(());
    }
    let rows = d.batches as usize;
    if a.len() != rows * na || b.len() != rows * nb || out.len() != rows * (na + nb) {
        return Err(Error::Shape { what: "CONCATENATION", expected: out.len(), found: a.len() + b.len() });
    }
    if na == 0 || nb == 0 {
        // One input is empty: the output is the other.
        for (d, &v) in out.iter_mut().zip(if na == 0 { b } else { a }) {
            *d = v;
        }
        return Ok(());
    }
    // (`max(1)`: both are non-zero here, which the optimiser does not carry over.)
    let (ca, cb) = (a.chunks_exact(na.max(1)), b.chunks_exact(nb.max(1)));
    for (o, (ra, rb)) in out.chunks_exact_mut((na + nb).max(1)).zip(ca.zip(cb)) {
        let (oa, ob) = super::split_mut(o, na)?;
        for (d, &v) in oa.iter_mut().zip(ra).chain(ob.iter_mut().zip(rb)) {
            *d = v;
        }
    }
    Ok(())
}
