//! SHAPE: the dimensions of its input as an int32 vector. fvae's tensors have static shapes (a
//! dynamic batch dimension is 1), so the value is known when the model is planned: the operator
//! runs nothing ([`super::fold`]).

use super::fold::Known;
use super::Setup;
use crate::formats::tflite::TensorType;
use crate::{Error, Result};

pub(crate) fn fold(s: &Setup<'_, '_>) -> Result<Known> {
    let x = s.need_input(0)?;
    let y = s.output()?;
    if y.dtype != TensorType::Int32 {
        return Err(Error::DType { what: "SHAPE output", expected: "i32", found: y.dtype.name() });
    }
    let mut dims = [0i32; super::MAX_RANK];
    for (d, &v) in dims.iter_mut().zip(&x.dims[..x.rank.min(super::MAX_RANK)]) {
        *d = super::w32(s, v)?;
    }
    Known::of(&dims[..x.rank.min(super::MAX_RANK)], false).ok_or(s.shape(super::MAX_RANK, x.rank))
}
