//! STRIDED_SLICE of an int32 vector known at plan time (the batch size taken from a SHAPE):
//! computed when the model is planned, run nothing ([`super::fold`]). TFLite's rules for one
//! dimension: a negative index counts from the end, indices are clamped to the dimension,
//! `begin_mask` / `end_mask` take the whole range, `shrink_axis_mask` takes the single element
//! at `begin` and drops the dimension. Ellipsis, new-axis and offset masks are refused.

use super::fold::{self, Known};
use super::Setup;
use crate::Result;

pub(crate) fn fold(s: &Setup<'_, '_>, steps: &mut usize) -> Result<Known> {
    let o = s.op.strided_slice_options()?;
    if o.ellipsis_mask != 0 || o.new_axis_mask != 0 || o.offset {
        return Err(s.unsupported("STRIDED_SLICE with ellipsis, new-axis or offset masks"));
    }
    let x = fold::input(s, 0, steps)?;
    let (begin, end, strides) = (fold::input(s, 1, steps)?, fold::input(s, 2, steps)?, fold::input(s, 3, steps)?);
    if x.scalar || begin.len != 1 || end.len != 1 || strides.len != 1 {
        return Err(s.unsupported("STRIDED_SLICE of a value known at plan time: only rank 1"));
    }
    let n = x.len as i64;
    let (b, e, st) = (begin.vals[0] as i64, end.vals[0] as i64, strides.vals[0] as i64);
    if st == 0 {
        return Err(s.unsupported("STRIDED_SLICE stride 0"));
    }
    // TFLite's StartForAxis / StopForAxis for one axis.
    let clamp = |v: i64| if st > 0 { v.max(0).min(n) } else { v.max(-1).min(n - 1) };
    let wrap = |v: i64| if v < 0 { v + n } else { v };
    let start = if o.begin_mask & 1 != 0 {
        if st > 0 {
            0
        } else {
            n - 1
        }
    } else {
        clamp(wrap(b))
    };
    let shrink = o.shrink_axis_mask & 1 != 0;
    let stop = if shrink {
        start + 1
    } else if o.end_mask & 1 != 0 {
        if st > 0 {
            n
        } else {
            -1
        }
    } else {
        clamp(wrap(e))
    };
    let (mut vals, mut len) = ([0i32; fold::MAX_KNOWN], 0usize);
    let mut i = start;
    while (st > 0 && i < stop) || (st < 0 && i > stop) {
        let v = x.values().get(i as usize).copied().ok_or(s.shape(x.len, i as usize))?;
        *vals.get_mut(len).ok_or(s.shape(fold::MAX_KNOWN, len + 1))? = v;
        len += 1;
        i += st;
    }
    Known::of(&vals[..len], shrink).ok_or(s.shape(fold::MAX_KNOWN, len))
}
