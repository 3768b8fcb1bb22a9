//! ARG_MAX and ARG_MIN over one axis of an int8 tensor (TFLite's `reference_ops::ArgMinMax`):
//! the index of the first largest (smallest) value along the axis, the axis removed from the
//! shape. The axis is a constant int32 or int64 tensor (negative counts from the end); the
//! output is int32 (what TFLite Micro supports) or int64 (the converter's default for
//! `tf.argmax`, as LiteRT's reference kernel), read with [`super::Interpreter::output_i64`].

use super::{as_i8, w32, Kind, OpDesc, Setup};
use crate::formats::tflite::TensorType;
use crate::{Error, Result};

/// `flags`: ARG_MAX (else ARG_MIN).
const MAX: i32 = 1;
/// `flags`: int64 indices (else int32).
const WIDE: i32 = 2;

#[inline(never)] // set-up only: its own stack frame
pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let code = s.model.operator_code(s.op.opcode_index())?;
    let is_max = code.builtin == crate::formats::tflite::op::ARG_MAX;
    let (x, axis, y) = (s.need_input(0)?, s.need_input(1)?, s.output()?);
    s.check_i8(&x)?;
    s.expect_activation(&x)?;
    let wide = match y.dtype {
        TensorType::Int32 => false,
        TensorType::Int64 => true,
        _ => return Err(Error::DType { what: s.name, expected: "i32 or i64", found: y.dtype.name() }),
    };
    let a = match axis.dtype {
        TensorType::Int32 => s.i32_at(&axis, 0)? as i64,
        TensorType::Int64 => {
            let b = s.const_bytes(&axis)?;
            let b: [u8; 8] = b.get(..8).and_then(|b| b.try_into().ok()).ok_or(s.shape(1, 0))?;
            i64::from_le_bytes(b)
        }
        _ => return Err(Error::DType { what: s.name, expected: "i32 or i64", found: axis.dtype.name() }),
    };
    let k = if a < 0 { a + x.rank as i64 } else { a };
    if axis.numel != 1 || !(0..x.rank as i64).contains(&k) {
        return Err(Error::Value {
            what: s.name,
            index: s.index,
            reason: "axis not one value inside the input's rank",
        });
    }
    let k = k as usize;
    let size = *x.dims.get(k).ok_or(s.shape(x.rank, k))?;
    if size == 0 {
        return Err(Error::Value { what: s.name, index: s.index, reason: "empty axis" });
    }
    // The output's shape: the input's without the axis.
    let mut want = [0usize; super::MAX_RANK];
    for (j, slot) in want.iter_mut().take(x.rank - 1).enumerate() {
        *slot = x.dims.get(if j < k { j } else { j + 1 }).copied().unwrap_or(0);
    }
    if y.rank + 1 != x.rank || y.dims != want {
        return Err(s.shape(x.numel / size, y.numel));
    }
    let outer: usize = x.dims.iter().take(k).product();
    Ok(OpDesc {
        kind: if is_max { Kind::ArgMax } else { Kind::ArgMin } as i32,
        input: x.index,
        input2: -1,
        output: y.index,
        in_len: w32(s, x.numel)?,
        out_len: w32(s, y.bytes())?,
        batches: w32(s, outer)?,
        in_c: w32(s, size)?,
        in_w: w32(s, x.numel / size / outer.max(1))?,
        flags: if is_max { MAX } else { 0 } | if wide { WIDE } else { 0 },
        ..OpDesc::default()
    })
}

pub(crate) fn eval(d: &OpDesc, input: &[u8], output: &mut [u8]) -> Result<()> {
    let [outer, size, inner] = [d.batches, d.in_c, d.in_w].map(|v| v as usize);
    let x = as_i8(input)?;
    let (is_max, wide) = (d.flags & MAX != 0, d.flags & WIDE != 0);
    let bad = |at: usize| Error::Shape { what: "ARG_MAX/ARG_MIN", expected: outer * size * inner, found: at };
    let width = if wide { 8 } else { 4 };
    let mut out = output.chunks_exact_mut(width);
    for o in 0..outer {
        for i in 0..inner {
            let at = |j: usize| (o * size + j) * inner + i;
            let mut best = *x.get(at(0)).ok_or(bad(at(0)))?;
            let mut index = 0usize;
            for j in 1..size {
                let v = *x.get(at(j)).ok_or(bad(at(j)))?;
                if if is_max { v > best } else { v < best } {
                    (best, index) = (v, j);
                }
            }
            let slot = out.next().ok_or(bad(0))?;
            if wide {
                slot.copy_from_slice(&(index as i64).to_le_bytes());
            } else {
                slot.copy_from_slice(&(index as i32).to_le_bytes());
            }
        }
    }
    Ok(())
}
