//! `fvae_status_message`: the text of each status code.

use crate::status::{
    FVAE_ERR_BUFFER_TOO_SMALL, FVAE_ERR_DTYPE, FVAE_ERR_EMPTY, FVAE_ERR_FORMAT, FVAE_ERR_INVALID_ARGUMENT,
    FVAE_ERR_INVALID_HANDLE, FVAE_ERR_MISALIGNED, FVAE_ERR_MISSING, FVAE_ERR_NULL, FVAE_ERR_SHAPE, FVAE_ERR_STATE,
    FVAE_ERR_UNKNOWN, FVAE_ERR_UNSUPPORTED, FVAE_ERR_VALUE, FVAE_OK,
};

/// A static NUL-terminated description of a status code.
#[no_mangle]
pub extern "C" fn fvae_status_message(status: i32) -> *const core::ffi::c_char {
    let s: &'static core::ffi::CStr = match status {
        FVAE_OK => c"ok",
        FVAE_ERR_NULL => c"a required pointer is NULL",
        FVAE_ERR_MISALIGNED => c"a buffer is not aligned enough",
        FVAE_ERR_BUFFER_TOO_SMALL => c"a caller buffer is too small",
        FVAE_ERR_SHAPE => c"a length or dimension does not match",
        FVAE_ERR_VALUE => c"a value is outside its domain",
        FVAE_ERR_FORMAT => c"malformed file bytes",
        FVAE_ERR_MISSING => c"a tensor is missing from the file",
        FVAE_ERR_DTYPE => c"a tensor has the wrong element type",
        FVAE_ERR_UNSUPPORTED => c"unsupported option or input",
        FVAE_ERR_EMPTY => c"nothing to compute from",
        FVAE_ERR_INVALID_HANDLE => c"the handle is not an initialised object of this kind",
        FVAE_ERR_INVALID_ARGUMENT => c"invalid argument",
        FVAE_ERR_UNKNOWN => c"unknown error",
        FVAE_ERR_STATE => c"the object is not ready for this call",
        _ => c"not an fvae status code",
    };
    s.as_ptr()
}
