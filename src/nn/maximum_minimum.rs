//! MAXIMUM and MINIMUM, int8 with broadcasting up to rank 6 (TFLite Micro's
//! `MaximumMinimumBroadcastSlow`): the larger (smaller) of the two stored bytes. Like TFLite
//! Micro, no requantisation: the converter gives both inputs and the output one quantisation.

use super::broadcast;
use super::{as_i8, as_i8_mut, Kind, OpDesc, Run, Setup};
use crate::formats::tflite::op;
use crate::Result;

/// MAXIMUM's or MINIMUM's description, by the operator's builtin code.
pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let builtin = s.model.operator_code(s.op.opcode_index())?.builtin;
    let kind = if builtin == op::MAXIMUM { Kind::Maximum } else { Kind::Minimum };
    Ok(broadcast::describe(s, kind)?.0)
}

pub(crate) fn eval(d: &OpDesc, run: &Run<'_>, in1: &[u8], in2: &[u8], output: &mut [u8]) -> Result<()> {
    let (a, b) = broadcast::operands(d, run, in1, in2)?;
    let (a, b, y) = (as_i8(a)?, as_i8(b)?, as_i8_mut(output)?);
    if d.kind == Kind::Maximum as i32 {
        broadcast::apply(d, run.params, a, b, y, |x: i8, z: i8| x.max(z))
    } else {
        broadcast::apply(d, run.params, a, b, y, |x: i8, z: i8| x.min(z))
    }
}
