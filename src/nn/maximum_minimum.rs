//! MAXIMUM and MINIMUM, int8 with broadcasting up to rank 6 (TFLite Micro's
//! `MaximumMinimumBroadcastSlow`): the larger (smaller) of the two stored bytes. Like TFLite
//! Micro, no requantisation: the converter gives both inputs and the output one quantisation.

use super::broadcast;
use super::{Kind, OpDesc, Run, Setup};
use crate::formats::tflite::op;
use crate::Result;

/// MAXIMUM's or MINIMUM's description, by the operator's builtin code.
#[inline(never)] // set-up only: its own stack frame
pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let builtin = s.model.operator_code(s.op.opcode_index())?.builtin;
    let kind = if builtin == op::MAXIMUM { Kind::Maximum } else { Kind::Minimum };
    Ok(broadcast::describe(s, kind)?.0)
}

#[inline(never)] // set-up only: its own stack frame
pub(crate) fn prepare(s: &Setup<'_, '_>, d: &OpDesc, pers: &mut [i32], lut: &mut [u8]) -> Result<()> {
    if d.kind == Kind::Maximum as i32 {
        broadcast::prepare(s, d, pers, lut, i8::max)
    } else {
        broadcast::prepare(s, d, pers, lut, i8::min)
    }
}

pub(crate) fn eval(d: &OpDesc, run: &Run<'_>, in1: &[u8], in2: &[u8], output: &mut [u8]) -> Result<()> {
    if d.kind == Kind::Maximum as i32 {
        broadcast::eval(d, run, in1, in2, output, i8::max)
    } else {
        broadcast::eval(d, run, in1, in2, output, i8::min)
    }
}
