//! GATHER: slices of `params` along `axis` picked by `indices` (TFLite Micro's `Gather`, with
//! `batch_dims`): for each batch `b` (the first `batch_dims` dimensions, shared by both), each
//! position before the axis and each index `i` of batch `b`, the slice `params[.., i, ..]` of all
//! the positions after the axis, copied unchanged (int8, int16, int32, f32).
//!
//! Indices are int32 (TFLite Micro) or int64 (LiteRT's reference kernel); an index outside the
//! axis is an error at run time (as LiteRT; TFLite Micro leaves it undefined). Either input may
//! be an activation or a constant read from the model in place: a VQ-VAE looks its codebook up
//! with activation indices (ARG_MIN then GATHER). An int32 GATHER of values known at plan time
//! (a dimension of a shape) is folded ([`super::fold`]) and runs nothing.

use super::fold::{self, Known};
use super::split::axis_of;
use super::{sub, sub_mut, w32, Kind, OpDesc, Setup, MAX_RANK};
use crate::formats::tflite::TensorType;
use crate::{Error, Result};

/// `flags`: `params` is a constant (at `w_off`, `w_len` bytes) rather than input 1.
const PARAMS_CONST: i32 = 1;
/// `flags`: `indices` is a constant (at `b0`, `b1` bytes) rather than input 2.
const INDICES_CONST: i32 = 2;
/// `flags`: int64 indices (else int32).
const WIDE: i32 = 4;

#[inline(never)] // set-up only: its own stack frame
pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let (p, idx, y) = (s.need_input(0)?, s.need_input(1)?, s.output()?);
    if y.dtype == TensorType::Int32 && fold::known(&s.model, s.graph, y.index, &mut 0).is_ok() {
        return fold::describe(s);
    }
    if !matches!(p.dtype, TensorType::Int8 | TensorType::Int16 | TensorType::Int32 | TensorType::Float32) {
        return Err(Error::DType { what: s.name, expected: "i8, i16, i32 or f32", found: p.dtype.name() });
    }
    s.expect_type(&y, p.dtype)?;
    let wide = match idx.dtype {
        TensorType::Int32 => false,
        TensorType::Int64 => true,
        _ => return Err(Error::DType { what: s.name, expected: "i32 or i64", found: idx.dtype.name() }),
    };
    let (axis, batch_dims) = s.op.gather_options()?;
    let axis = axis_of(s, axis as i64, p.rank)?;
    let bd = if batch_dims < 0 { batch_dims as i64 + idx.rank as i64 } else { batch_dims as i64 };
    // TFLite Micro's checks: 0 <= batch_dims <= axis, batch_dims < rank(params) and <=
    // rank(indices), the batch dimensions equal.
    if bd < 0
        || bd as usize > axis
        || bd as usize > idx.rank
        || p.dims.iter().zip(&idx.dims).take(bd as usize).any(|(a, b)| a != b)
    {
        return Err(Error::Value { what: s.name, index: s.index, reason: "batch_dims unlike the inputs' shapes" });
    }
    let bd = bd as usize;
    // The output's shape: params' before the axis, indices' after the batch dimensions,
    // params' after the axis.
    let (mut want, mut rank) = ([0usize; MAX_RANK], 0usize);
    let dims = p.dims.iter().take(axis).chain(idx.dims.iter().take(idx.rank).skip(bd));
    for &v in dims.chain(p.dims.iter().take(p.rank).skip(axis + 1)) {
        *want.get_mut(rank).ok_or(s.shape(MAX_RANK, rank + 1))? = v;
        rank += 1;
    }
    if y.rank != rank || y.dims != want {
        return Err(s.shape(y.numel, y.numel));
    }
    let batches: usize = p.dims.iter().take(bd).product();
    let outer: usize = p.dims.iter().take(axis).skip(bd).product();
    let inner: usize = p.dims.iter().take(p.rank).skip(axis + 1).product();
    let coords: usize = idx.dims.iter().take(idx.rank).skip(bd).product();
    // Constant indices are checked here, once.
    let axis_size = p.dims.get(axis).copied().unwrap_or(0) as i64;
    if let Some(b) = idx.data.map(|_| s.const_bytes(&idx)).transpose()? {
        if b.chunks_exact(if wide { 8 } else { 4 }).any(|i| !(0..axis_size).contains(&index(i))) {
            return Err(Error::Value { what: s.name, index: s.index, reason: "a constant index outside the axis" });
        }
    }
    let (p_off, p_len) = p.data.unwrap_or((0, 0));
    let (i_off, i_len) = idx.data.unwrap_or((0, 0));
    Ok(OpDesc {
        kind: Kind::Gather as i32,
        flags: (p.data.is_some() as i32 * PARAMS_CONST)
            | (idx.data.is_some() as i32 * INDICES_CONST)
            | (wide as i32 * WIDE),
        input: if p.data.is_some() { -1 } else { p.index },
        input2: if idx.data.is_some() { -1 } else { idx.index },
        output: y.index,
        in_len: w32(s, p.bytes())?,
        in2_len: w32(s, idx.bytes())?,
        out_len: w32(s, y.bytes())?,
        w_off: w32(s, p_off)?,
        w_len: w32(s, p_len)?,
        b0: w32(s, i_off)?,
        b1: w32(s, i_len)?,
        batches: w32(s, batches)?,
        a0: w32(s, outer)?,
        a1: w32(s, p.dims.get(axis).copied().unwrap_or(0))?,
        a2: w32(s, coords)?,
        a3: w32(s, inner * p.dtype.size().unwrap_or(1))?,
        ..OpDesc::default()
    })
}

/// Copies, in output order, the `a3`-byte slice of `params` each index picks.
pub(crate) fn eval(d: &OpDesc, run: &super::Run<'_>, in1: &[u8], in2: &[u8], out: &mut [u8]) -> Result<()> {
    let params =
        if d.flags & PARAMS_CONST != 0 { sub(run.model, d.w_off as usize..(d.w_off + d.w_len) as usize)? } else { in1 };
    let indices =
        if d.flags & INDICES_CONST != 0 { sub(run.model, d.b0 as usize..(d.b0 + d.b1) as usize)? } else { in2 };
    let width = if d.flags & WIDE != 0 { 8 } else { 4 };
    let (outer, axis, coords, inner) = (d.a0 as usize, d.a1 as i64, d.a2 as usize, d.a3 as usize);
    let mut o = 0usize;
    for b in 0..d.batches as usize {
        for m in 0..outer {
            for c in 0..coords {
                let at = (b * coords + c) * width;
                let i = index(sub(indices, at..at + width)?);
                if !(0..axis).contains(&i) {
                    return Err(Error::Value {
                        what: "GATHER index",
                        index: b * coords + c,
                        reason: "outside the axis",
                    });
                }
                let from = ((b * outer + m) * axis as usize + i as usize) * inner;
                for (dst, &v) in sub_mut(out, o..o + inner)?.iter_mut().zip(sub(params, from..from + inner)?) {
                    *dst = v;
                }
                o += inner;
            }
        }
    }
    Ok(())
}

/// A little-endian int32 or int64 index.
fn index(b: &[u8]) -> i64 {
    let mut w = [0u8; 8];
    for (d, &v) in w.iter_mut().zip(b) {
        *d = v;
    }
    if b.len() == 4 {
        i32::from_le_bytes([w[0], w[1], w[2], w[3]]) as i64
    } else {
        i64::from_le_bytes(w)
    }
}

/// GATHER of int32 values known at plan time (axis 0 of a vector, int32 indices).
pub(crate) fn fold(s: &Setup<'_, '_>, steps: &mut usize) -> Result<Known> {
    let (axis, batch_dims) = s.op.gather_options()?;
    let (p, idx) = (fold::input(s, 0, steps)?, fold::input(s, 1, steps)?);
    if p.scalar || !(axis == 0 || axis == -1) || batch_dims != 0 {
        return Err(s.unsupported("GATHER of values known at plan time: only axis 0 of a vector"));
    }
    let mut vals = [0i32; fold::MAX_KNOWN];
    for (v, &i) in vals.iter_mut().zip(idx.values()) {
        *v = p
            .values()
            .get(usize::try_from(i).map_err(|_| s.shape(p.len, 0))?)
            .copied()
            .ok_or(s.shape(p.len, i as usize))?;
    }
    Known::of(&vals[..idx.len.min(fold::MAX_KNOWN)], idx.scalar).ok_or(s.shape(fold::MAX_KNOWN, idx.len))
}
