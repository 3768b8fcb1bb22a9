//! RESHAPE, and EXPAND_DIMS and SQUEEZE, which are reshapes too: the same bytes under a new
//! shape (no requantisation, as TFLite; the element count must match). Input 1 (the new shape,
//! or EXPAND_DIMS's axis) and the options are only a hint: the output tensor's own shape is
//! what counts.

use super::{w32, Kind, OpDesc, Setup};
use crate::{Error, Result};

pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let (x, y) = (s.need_input(0)?, s.output()?);
    s.expect_activation(&x)?;
    if x.dtype != y.dtype {
        return Err(Error::DType { what: "RESHAPE output", expected: x.dtype.name(), found: y.dtype.name() });
    }
    if x.numel != y.numel {
        return Err(s.shape(x.numel, y.numel));
    }
    Ok(OpDesc {
        kind: Kind::Reshape as i32,
        input: x.index,
        input2: -1,
        output: y.index,
        in_len: w32(s, x.bytes())?,
        out_len: w32(s, y.bytes())?,
        ..OpDesc::default()
    })
}

pub(crate) fn eval(input: &[u8], output: &mut [u8]) -> Result<()> {
    if input.len() != output.len() {
        return Err(Error::Shape { what: "RESHAPE", expected: output.len(), found: input.len() });
    }
    output.copy_from_slice(input);
    Ok(())
}
