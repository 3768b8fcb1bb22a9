//! SPLIT_V: the input cut along a constant axis into parts of the sizes a constant int32
//! vector gives (one size may be -1: the rest of the axis), one output each; runs as SPLIT
//! ([`mod@super::split`]: the bytes copied unchanged, as TFLite Micro does).

use super::split::{axis_of, describe_parts, Parts};
use super::{Kind, OpDesc, Setup, MAX_TENSORS};
use crate::{Error, Result};

#[inline(never)] // set-up only: its own stack frame
pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let (x, sizes, axis) = (s.need_input(0)?, s.need_input(1)?, s.need_input(2)?);
    let k = axis_of(s, s.i32_at(&axis, 0)? as i64, x.rank)?;
    let n = sizes.numel;
    if n > MAX_TENSORS || s.op.num_splits(true)? as usize != n {
        return Err(Error::Value { what: s.name, index: s.index, reason: "num_splits is not the number of sizes" });
    }
    let dim = x.dims.get(k).copied().unwrap_or(0);
    // What the sizes other than one -1 leave of the axis.
    let (mut known, mut minus_ones) = (0usize, 0usize);
    for j in 0..n {
        match s.i32_at(&sizes, j)? {
            -1 => minus_ones += 1,
            v if v >= 0 => known = known.saturating_add(v as usize),
            _ => minus_ones = 2,
        }
    }
    if minus_ones > 1 {
        return Err(Error::Value { what: s.name, index: s.index, reason: "a size below -1, or two -1" });
    }
    let rest = dim.checked_sub(known).ok_or(s.shape(dim, known))?;
    describe_parts(s, Kind::SplitV, &x, k, n, Parts::Given(&sizes, rest))
}
