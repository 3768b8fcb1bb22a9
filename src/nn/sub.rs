//! SUB, int8 with broadcasting up to rank 6 (TFLite Micro's `SubElementwise` /
//! `BroadcastQuantSubSlow`): ADD's formula ([`super::add`]) with `a' - b'` for `a' + b'`, the
//! same multipliers (in f64, as current TFLite Micro; older versions formed the quotients in f32,
//! which changes some outputs by one) and the same requirement that the output multiplier
//! be below 1.

use super::add::{describe_add_or_sub, element};
use super::broadcast;
use super::{Kind, OpDesc, Run, Setup};
use crate::Result;

pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    describe_add_or_sub(s, Kind::Sub, s.op.sub_activation()?)
}

#[inline(never)] // set-up only: its own stack frame
pub(crate) fn prepare(s: &Setup<'_, '_>, d: &OpDesc, pers: &mut [i32], lut: &mut [u8]) -> Result<()> {
    broadcast::prepare(s, d, pers, lut, |x, z| element::<true>(d, x, z))
}

pub(crate) fn eval(d: &OpDesc, run: &Run<'_>, in1: &[u8], in2: &[u8], output: &mut [u8]) -> Result<()> {
    broadcast::eval(d, run, in1, in2, output, |x, z| element::<true>(d, x, z))
}
