//! UNPACK: the input cut into its slices along an axis, the axis dropped, one output each
//! (TFLite Micro's `UnpackImpl`); runs as SPLIT ([`mod@super::split`]: the bytes copied unchanged).

use super::split::{axis_of, describe_parts, Parts};
use super::{Kind, OpDesc, Setup};
use crate::{Error, Result};

#[inline(never)] // set-up only: its own stack frame
pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let x = s.need_input(0)?;
    let o = s.op.unpack_options()?;
    let k = axis_of(s, o.axis as i64, x.rank)?;
    let dim = x.dims.get(k).copied().unwrap_or(0);
    if o.values_count < 0 || o.values_count as usize != dim {
        return Err(Error::Value { what: s.name, index: s.index, reason: "num is not the axis' size" });
    }
    describe_parts(s, Kind::Unpack, &x, k, dim, Parts::Slices)
}
