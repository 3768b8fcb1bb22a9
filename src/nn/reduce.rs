//! MEAN and SUM, int8, over any set of axes up to rank 6, with or without `keep_dims` (TFLite
//! Micro's `QuantizedMeanOrSum`, the one int8 path it has for both).
//!
//! With `M * 2^shift = (f64)s_x / (f64)s_y` (`QuantizeMultiplier`), `n` the number of input
//! elements reduced into each output and `S` their i32 sum:
//! `y = clamp(zp_y + MultiplyByQuantizedMultiplier(S - zp_x * n, M', shift'), -128, 127)`,
//! where SUM takes `M' = M, shift' = shift` and MEAN folds the division into the multiplier:
//! `k = min(floor(log2 n), 32, 31 + shift)`, `M' = (M << k) / n` (i64, truncated),
//! `shift' = shift - k`. Axes may be negative and repeat (counted once).
//!
//! The sums are accumulated in `scratch_words` (one i32 per output) in the arena; the input's
//! dimensions and, per dimension, the output stride (0 along a reduced axis) are
//! [`REDUCE_WORDS`] persistent words.

use super::quant::quantize_multiplier;
use super::{as_i8, w32, Kind, OpDesc, Run, Setup, MAX_RANK};
use crate::formats::tflite::TensorType;
use crate::kernels::int8::multiply_by_quantized_multiplier as mbqm;
use crate::{Error, Result};

/// Persistent words: the input's dimensions, then each dimension's output stride.
const REDUCE_WORDS: usize = 2 * MAX_RANK;

#[inline(never)] // set-up only: its own stack frame
pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let sum = kind_of(s)? == Kind::Sum;
    let keep_dims = s.op.reducer_keep_dims()?;
    let (x, axes, y) = (s.need_input(0)?, s.need_input(1)?, s.output()?);
    if s.op.inputs().len() != 2 {
        return Err(s.unsupported("MEAN/SUM without exactly two inputs (input, axes)"));
    }
    s.check_i8(&x)?;
    s.check_i8(&y)?;
    s.expect_activation(&x)?;
    s.expect_type(&axes, TensorType::Int32)?;
    let reduced = reduced_axes(s, &axes, x.rank)?;
    // The output's shape: the input's with the reduced axes 1 (keep_dims) or removed.
    let (mut want, mut want_rank, mut n) = ([0usize; MAX_RANK], 0usize, 1usize);
    for (&r, &dim) in reduced.iter().zip(&x.dims).take(x.rank) {
        if r {
            n = n.saturating_mul(dim);
            if !keep_dims {
                continue;
            }
        }
        if let Some(slot) = want.get_mut(want_rank) {
            *slot = if r { 1 } else { dim };
        }
        want_rank += 1;
    }
    if y.rank != want_rank || y.dims.get(..want_rank) != want.get(..want_rank) {
        return Err(s.shape(want.iter().take(want_rank).product(), y.numel));
    }
    let (mut mult, mut shift) = quantize_multiplier(x.scale as f64 / y.scale as f64);
    if !sum && n > 0 {
        // The reference folds 1/n into the multiplier (the shift bounded so that it stays >= -31).
        let k = (usize::BITS - 1 - n.leading_zeros()).min(32) as i32;
        let k = k.min(31 + shift).max(0);
        mult = (((mult as i64) << k) / n as i64) as i32;
        shift -= k;
    }
    Ok(OpDesc {
        kind: if sum { Kind::Sum } else { Kind::Mean } as i32,
        input: x.index,
        input2: -1,
        output: y.index,
        in_len: w32(s, x.numel)?,
        out_len: w32(s, y.numel)?,
        pers_words: REDUCE_WORDS as i32,
        scratch_words: w32(s, y.numel)?,
        in_zp: x.zero_point,
        out_zp: y.zero_point,
        mult,
        shift,
        in_c: w32(s, n)?,
        ..OpDesc::default()
    })
}

/// Which builtin this is (MEAN or SUM share the file).
fn kind_of(s: &Setup<'_, '_>) -> Result<Kind> {
    let code = s.model.operator_code(s.op.opcode_index())?;
    Ok(if code.builtin == crate::formats::tflite::op::SUM { Kind::Sum } else { Kind::Mean })
}

/// The axes tensor as a mask over the input's dimensions (negative axes count from the end).
fn reduced_axes(s: &Setup<'_, '_>, axes: &super::TensorRef<'_>, rank: usize) -> Result<[bool; MAX_RANK]> {
    let mut reduced = [false; MAX_RANK];
    for i in 0..axes.numel {
        let a = s.i32_at(axes, i)?;
        let k = if a < 0 { a + rank as i32 } else { a };
        match reduced.get_mut(k as usize) {
            Some(slot) if (0..rank as i32).contains(&k) => *slot = true,
            _ => return Err(Error::Value { what: s.name, index: s.index, reason: "axis outside the input's rank" }),
        }
    }
    Ok(reduced)
}

#[inline(never)] // set-up only: its own stack frame
pub(crate) fn prepare(s: &Setup<'_, '_>, pers: &mut [i32]) -> Result<()> {
    let (x, axes) = (s.need_input(0)?, s.need_input(1)?);
    let reduced = reduced_axes(s, &axes, x.rank)?;
    let (mut dims, mut strides) = ([0i32; MAX_RANK], [0i32; MAX_RANK]);
    let mut stride = 1usize;
    for k in (0..x.rank.min(MAX_RANK)).rev() {
        let (Some(dim), Some(st), Some(&size), Some(&r)) =
            (dims.get_mut(k), strides.get_mut(k), x.dims.get(k), reduced.get(k))
        else {
            continue;
        };
        *dim = w32(s, size)?;
        if !r {
            *st = w32(s, stride)?;
            stride = stride.saturating_mul(size); // at most the output's element count
        }
    }
    let words = dims.into_iter().chain(strides);
    for (slot, v) in pers.iter_mut().zip(words) {
        *slot = v;
    }
    Ok(())
}

pub(crate) fn eval(d: &OpDesc, run: &mut Run<'_>, input: &[u8], output: &mut [u8]) -> Result<()> {
    let bad = Error::Shape { what: "MEAN/SUM", expected: REDUCE_WORDS, found: run.params.len() };
    let words = run.params.get(..REDUCE_WORDS).ok_or(bad)?;
    let (dims, strides) = words.split_at(MAX_RANK);
    let sums = run.acc.get_mut(..output.len()).ok_or(Error::Shape {
        what: "MEAN/SUM scratch",
        expected: output.len(),
        found: 0,
    })?;
    sums.fill(0);
    if input.is_empty() {
        output.fill(0); // as the reference: an empty input gives zeros, not the zero point
        return Ok(());
    }
    {
        // A row-major walk of the input; `at` is the output element it adds into.
        let (mut index, mut at) = ([0i32; MAX_RANK], 0usize);
        for &v in as_i8(input)? {
            let slot = sums.get_mut(at).ok_or(Error::Shape { what: "MEAN/SUM", expected: at, found: 0 })?;
            *slot = slot.wrapping_add(v as i32);
            for k in (0..MAX_RANK).rev() {
                let (Some(i), Some(&dim), Some(&st)) = (index.get_mut(k), dims.get(k), strides.get(k)) else { break };
                if dim == 0 {
                    continue; // beyond the rank
                }
                *i += 1;
                at = at.wrapping_add(st as usize);
                if *i < dim {
                    break;
                }
                *i = 0;
                at = at.wrapping_sub((st as usize).wrapping_mul(dim as usize));
            }
        }
    }
    let offset = (d.in_zp as i64 * d.in_c as i64) as i32;
    for (o, &sum) in output.iter_mut().zip(sums.iter()) {
        let r = d.out_zp.wrapping_add(mbqm(sum.wrapping_sub(offset), d.mult, d.shift));
        *o = r.clamp(-128, 127) as i8 as u8;
    }
    Ok(())
}
