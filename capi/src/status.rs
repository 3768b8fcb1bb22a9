//! Status codes (`FVAE_OK`, `FVAE_ERR_*`) and how an [`fvae::Error`] maps to one.

use fvae::Error;

/// Success.
pub const FVAE_OK: i32 = 0;
/// A required pointer argument is NULL.
pub const FVAE_ERR_NULL: i32 = -1;
/// A buffer is not aligned enough (storage: `FVAE_ALIGN`; float arrays: 4; `.safetensors`: 4).
pub const FVAE_ERR_MISALIGNED: i32 = -2;
/// A caller buffer (storage, output) is too small.
pub const FVAE_ERR_BUFFER_TOO_SMALL: i32 = -3;
/// A length or dimension does not match the model.
pub const FVAE_ERR_SHAPE: i32 = -4;
/// A value is outside its domain (NaN, negative variance, weights not summing to 1, ...).
pub const FVAE_ERR_VALUE: i32 = -5;
/// Malformed file bytes.
pub const FVAE_ERR_FORMAT: i32 = -6;
/// A tensor is missing from the file.
pub const FVAE_ERR_MISSING: i32 = -7;
/// A tensor has the wrong element type.
pub const FVAE_ERR_DTYPE: i32 = -8;
/// An option or input feature fvae does not implement.
pub const FVAE_ERR_UNSUPPORTED: i32 = -9;
/// Nothing to compute from (for example finishing an accumulator with no descriptor).
pub const FVAE_ERR_EMPTY: i32 = -10;
/// The handle does not point at an initialised object of the right kind.
pub const FVAE_ERR_INVALID_HANDLE: i32 = -11;
/// An argument is invalid (unknown layout, merging an accumulator into itself, ...).
pub const FVAE_ERR_INVALID_ARGUMENT: i32 = -12;
/// An error this version of the C API does not know how to name.
pub const FVAE_ERR_UNKNOWN: i32 = -13;
/// The object is not ready for this call (a network used before `fvae_net_prepare`).
pub const FVAE_ERR_STATE: i32 = -14;

pub(crate) type Status<T> = core::result::Result<T, i32>;

pub(crate) fn status_of(e: Error) -> i32 {
    match e {
        Error::Shape { .. } => FVAE_ERR_SHAPE,
        Error::Value { .. } => FVAE_ERR_VALUE,
        Error::Format { .. } => FVAE_ERR_FORMAT,
        Error::Missing { .. } => FVAE_ERR_MISSING,
        Error::DType { .. } => FVAE_ERR_DTYPE,
        Error::Unsupported { .. } => FVAE_ERR_UNSUPPORTED,
        Error::BufferTooSmall { .. } => FVAE_ERR_BUFFER_TOO_SMALL,
        Error::Misaligned { .. } => FVAE_ERR_MISALIGNED,
        Error::Empty { .. } => FVAE_ERR_EMPTY,
        _ => FVAE_ERR_UNKNOWN,
    }
}

pub(crate) fn code(r: Status<()>) -> i32 {
    match r {
        Ok(()) => FVAE_OK,
        Err(c) => c,
    }
}
