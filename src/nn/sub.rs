//! SUB, int8 with broadcasting up to rank 6 (TFLite Micro's `SubElementwise` /
//! `BroadcastQuantSubSlow`): ADD's formula ([`super::add`]) with `a' - b'` for `a' + b'`, the
//! same multipliers (in f64, as current TFLite Micro; older versions formed the quotients in f32,
//! which changes some outputs by one) and the same requirement that the output multiplier
//! be below 1.

use super::add::{describe_add_or_sub, eval_add_or_sub};
use super::{Kind, OpDesc, Run, Setup};
use crate::Result;

pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    describe_add_or_sub(s, Kind::Sub, s.op.sub_activation()?)
}

pub(crate) fn eval(d: &OpDesc, run: &Run<'_>, in1: &[u8], in2: &[u8], output: &mut [u8]) -> Result<()> {
    eval_add_or_sub::<true>(d, run, in1, in2, output)
}
