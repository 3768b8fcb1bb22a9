//! SPLIT: the input cut into `num_splits` equal parts along a constant axis, one output each
//! (TFLite Micro's `SplitImpl`). SPLIT_V (`split_v.rs`, parts of given sizes) and UNPACK
//! (`unpack.rs`, parts of size 1 with the axis dropped) are the same copy and run as this
//! operator: for each of the `batches` positions before the axis, output `k` takes one
//! contiguous run of the input's row (all the positions after the axis of its part).
//!
//! As in TFLite Micro the bytes are copied unchanged, for int8, int16, int32 and f32 (int8
//! outputs keep the input's quantisation: the converter gives them the same, and TFLite Micro
//! does not requantise).

use super::desc::output_table;
use super::{sub, w32, Kind, OpDesc, Setup, TensorRef, MAX_RANK};
use crate::formats::tflite::TensorType;
use crate::{Error, Result};

#[inline(never)] // set-up only: its own stack frame
pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let (axis, x) = (s.need_input(0)?, s.need_input(1)?);
    let k = axis_of(s, s.i32_at(&axis, 0)? as i64, x.rank)?;
    let n = s.op.num_splits(false)?;
    let dim = x.dims.get(k).copied().unwrap_or(0);
    if n <= 0 || dim % n as usize != 0 {
        return Err(Error::Value { what: s.name, index: s.index, reason: "num_splits does not divide the axis" });
    }
    describe_parts(s, Kind::Split, &x, k, n as usize, Parts::Equal(dim / n as usize))
}

/// The sizes of the parts along the axis.
pub(crate) enum Parts<'t, 'm> {
    /// All of this size (SPLIT).
    Equal(usize),
    /// A constant int32 vector's, its -1 standing for `rest` (SPLIT_V).
    Given(&'t TensorRef<'m>, usize),
    /// All of size 1, the axis dropped from the outputs (UNPACK).
    Slices,
}

impl Parts<'_, '_> {
    fn size(&self, s: &Setup<'_, '_>, j: usize) -> Result<usize> {
        Ok(match *self {
            Parts::Equal(v) => v,
            Parts::Given(t, rest) => usize::try_from(s.i32_at(t, j)?).unwrap_or(rest),
            Parts::Slices => 1,
        })
    }
}

/// The axis `a` of a tensor of rank `rank` (negative counts from the end), checked.
pub(crate) fn axis_of(s: &Setup<'_, '_>, a: i64, rank: usize) -> Result<usize> {
    let k = if a < 0 { a + rank as i64 } else { a };
    if !(0..rank as i64).contains(&k) {
        return Err(Error::Value { what: s.name, index: s.index, reason: "axis outside the input's rank" });
    }
    Ok(k as usize)
}

/// The description shared by SPLIT, SPLIT_V and UNPACK: `n` outputs, output `j` the input
/// with dimension `axis` replaced by part `j`'s size (UNPACK: removed).
#[inline(never)] // set-up only, one copy for the three operators
pub(crate) fn describe_parts(
    s: &Setup<'_, '_>,
    kind: Kind,
    x: &TensorRef<'_>,
    axis: usize,
    n: usize,
    parts: Parts<'_, '_>,
) -> Result<OpDesc> {
    let squeeze = matches!(parts, Parts::Slices);
    if !matches!(x.dtype, TensorType::Int8 | TensorType::Int16 | TensorType::Int32 | TensorType::Float32) {
        return Err(Error::DType { what: s.name, expected: "i8, i16, i32 or f32", found: x.dtype.name() });
    }
    s.expect_activation(x)?;
    if s.op.outputs().len() != n || n == 0 {
        return Err(s.shape(n, s.op.outputs().len()));
    }
    let mut total = 0usize;
    for j in 0..n {
        let y = s.output_at(j)?;
        s.expect_type(&y, x.dtype)?;
        let size = parts.size(s, j)?;
        // The expected shape of output j.
        let (mut want, mut rank) = ([0usize; MAX_RANK], 0usize);
        for (d, &v) in x.dims.iter().enumerate().take(x.rank) {
            if d == axis && squeeze {
                continue;
            }
            if let Some(slot) = want.get_mut(rank) {
                *slot = if d == axis { size } else { v };
            }
            rank += 1;
        }
        if y.rank != rank || y.dims != want {
            return Err(s.shape(x.numel, y.numel));
        }
        total = total.saturating_add(size);
    }
    if total != x.dims.get(axis).copied().unwrap_or(0) {
        return Err(Error::Value { what: s.name, index: s.index, reason: "the parts do not add up to the axis" });
    }
    let outer: usize = x.dims.iter().take(axis).product();
    let y0 = s.output_at(0)?;
    Ok(OpDesc {
        kind: kind as i32,
        input: x.index,
        input2: -1,
        output: y0.index,
        in_len: w32(s, x.bytes())?,
        out_len: w32(s, y0.bytes())?,
        outputs: w32(s, n)?,
        // The outputs table, then where each output's run starts in an input row.
        pers_words: w32(s, output_table(n) + n)?,
        batches: w32(s, outer)?,
        ..OpDesc::default()
    })
}

/// The start of each output's run inside an input row, after the outputs table: the sum of the
/// runs before it (a run is the output's bytes over `batches`).
pub(crate) fn prepare(d: &OpDesc, pers: &mut [i32]) -> Result<()> {
    let n = d.outputs.max(0) as usize;
    let outer = d.batches.max(1) as usize;
    let (table, starts) = super::split_mut(pers, output_table(n))?;
    // (One output: no table, its run starts at 0.)
    let mut start = 0i32;
    for (j, slot) in starts.iter_mut().enumerate() {
        *slot = start;
        start += table.get(2 * j + 1).copied().unwrap_or(0) / outer as i32;
    }
    Ok(())
}

/// Output `k`: its run of each of the `batches` input rows (`params`: the outputs table, then
/// the runs' starts).
pub(crate) fn eval(d: &OpDesc, params: &[i32], k: usize, x: &[u8], out: &mut [u8]) -> Result<()> {
    let n = d.outputs.max(0) as usize;
    let outer = d.batches as usize;
    let start = params.get(output_table(n) + k).copied().unwrap_or(0) as usize;
    if outer == 0 || out.is_empty() {
        return Ok(());
    }
    let (row, len) = (x.len() / outer, out.len() / outer);
    if row * outer != x.len() || len * outer != out.len() || start + len > row {
        return Err(Error::Shape { what: "SPLIT", expected: row * outer, found: x.len() });
    }
    // (`max(1)`: both non-zero here, which the optimiser does not carry over.)
    for (o, r) in out.chunks_exact_mut(len.max(1)).zip(x.chunks_exact(row.max(1))) {
        for (d, &v) in o.iter_mut().zip(sub(r, start..start + len)?) {
            *d = v;
        }
    }
    Ok(())
}
