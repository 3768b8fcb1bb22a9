//! PACK of int32 scalars known at plan time (the batch size and the other dimensions of a new
//! shape) along axis 0: computed when the model is planned, runs nothing ([`super::fold`]).

use super::fold::{self, Known};
use super::Setup;
use crate::Result;

pub(crate) fn fold(s: &Setup<'_, '_>, steps: &mut usize) -> Result<Known> {
    let o = s.op.pack_options()?;
    let n = s.op.inputs().len();
    if o.axis != 0 || o.values_count as usize != n {
        return Err(s.unsupported("PACK of values known at plan time: only scalars along axis 0"));
    }
    let mut vals = [0i32; fold::MAX_KNOWN];
    for k in 0..n {
        let v = fold::input(s, k, steps)?;
        if !v.scalar {
            return Err(s.unsupported("PACK of values known at plan time: only scalars along axis 0"));
        }
        *vals.get_mut(k).ok_or(s.shape(fold::MAX_KNOWN, n))? = v.vals[0];
    }
    Known::of(&vals[..n.min(fold::MAX_KNOWN)], false).ok_or(s.shape(fold::MAX_KNOWN, n))
}
