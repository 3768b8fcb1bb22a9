//! What every object shares: caller storage (`FVAE_ALIGN`, headers, data regions), handle checks
//! (non-null, aligned, the right magic), C arrays as slices, and `.safetensors` shape queries.

use crate::status::{
    code, status_of, Status, FVAE_ERR_BUFFER_TOO_SMALL, FVAE_ERR_INVALID_HANDLE, FVAE_ERR_MISALIGNED, FVAE_ERR_NULL,
    FVAE_ERR_SHAPE,
};
use core::ffi::c_void;
use core::mem::size_of;
use core::ptr;
use core::slice;
use fvae::formats::safetensors::SafeTensors;

/// Alignment in bytes every object storage buffer must have.
pub const FVAE_ALIGN: usize = 8;

pub(crate) const fn header_len(size: usize) -> usize {
    size.div_ceil(FVAE_ALIGN) * FVAE_ALIGN
}

/// Checks that a C array of `len` (> 0) elements can be a slice: non-null, aligned, at most
/// `isize::MAX` bytes.
fn check_array<T>(p: *const T, len: usize) -> Status<()> {
    if p.is_null() {
        return Err(FVAE_ERR_NULL);
    }
    if !p.is_aligned() {
        return Err(FVAE_ERR_MISALIGNED);
    }
    if len.checked_mul(size_of::<T>()).is_none_or(|b| b > isize::MAX as usize) {
        return Err(FVAE_ERR_SHAPE);
    }
    Ok(())
}

/// A slice from a C pointer and an element count, after checking null, alignment and size.
///
/// # Safety
/// When non-null and aligned, `p` must point at `len` readable elements that stay valid and
/// unmodified for `'a`.
pub(crate) unsafe fn c_slice<'a, T>(p: *const T, len: usize) -> Status<&'a [T]> {
    if len == 0 {
        return Ok(&[]);
    }
    check_array(p, len)?;
    // SAFETY: non-null, aligned, size fits isize; validity for `len` elements is the caller's contract.
    Ok(unsafe { slice::from_raw_parts(p, len) })
}

/// The mutable counterpart of [`c_slice`].
///
/// # Safety
/// When non-null and aligned, `p` must point at `len` writable elements, not aliased for `'a`.
pub(crate) unsafe fn c_slice_mut<'a, T>(p: *mut T, len: usize) -> Status<&'a mut [T]> {
    if len == 0 {
        return Ok(&mut []);
    }
    check_array(p, len)?;
    // SAFETY: as in c_slice; exclusivity for `len` elements is the caller's contract.
    Ok(unsafe { slice::from_raw_parts_mut(p, len) })
}

/// Checks a storage buffer (non-null, `FVAE_ALIGN`-aligned, at least `need` bytes) and returns it.
pub(crate) fn check_storage(storage: *mut c_void, storage_len: usize, need: usize) -> Status<*mut u8> {
    if storage.is_null() {
        return Err(FVAE_ERR_NULL);
    }
    if !(storage as usize).is_multiple_of(FVAE_ALIGN) {
        return Err(FVAE_ERR_MISALIGNED);
    }
    if need == 0 {
        return Err(FVAE_ERR_SHAPE);
    }
    if storage_len < need || storage_len > isize::MAX as usize {
        return Err(FVAE_ERR_BUFFER_TOO_SMALL);
    }
    // An init that fails after this point may have overwritten part of an older object here: clear
    // its magic (offset 0 of every object) so a stale handle to it is FVAE_ERR_INVALID_HANDLE.
    // SAFETY: non-null, aligned, and `need` (> 4, a whole header) writable bytes per the caller.
    unsafe { storage.cast::<u32>().write(0) };
    Ok(storage.cast::<u8>())
}

/// Checks a handle (non-null, aligned, the right magic) and returns it as a raw object pointer,
/// `const` as the handle is: a read-only function (a `*const` handle) cannot write through it or
/// make a `&mut` of it without a cast, and the crate's one such cast is [`checked_mut`], which
/// takes a `*mut` handle (the `capi_const_handles_stay_shared` test keeps it so).
///
/// # Safety
/// A non-null, aligned `h` points at least at a `u32` of storage the caller owns.
pub(crate) unsafe fn checked<T>(h: *const c_void, magic: u32) -> Status<*const T> {
    if h.is_null() {
        return Err(FVAE_ERR_NULL);
    }
    if !(h as usize).is_multiple_of(FVAE_ALIGN) {
        return Err(FVAE_ERR_MISALIGNED);
    }
    // SAFETY: aligned and non-null; the magic (a plain u32 at offset 0 of every repr(C) object)
    // is read before the rest is trusted.
    if unsafe { h.cast::<u32>().read() } != magic {
        return Err(FVAE_ERR_INVALID_HANDLE);
    }
    Ok(h.cast::<T>())
}

/// [`checked`] for a `*mut` handle (a function that changes the object): the object pointer,
/// writable.
///
/// # Safety
/// As [`checked`].
pub(crate) unsafe fn checked_mut<T>(h: *mut c_void, magic: u32) -> Status<*mut T> {
    // SAFETY: forwarded contract; the pointer comes from a `*mut` handle, so it may be written.
    Ok(unsafe { checked::<T>(h, magic)? }.cast_mut())
}

/// Checks a handle as [`checked`] and returns the object behind it.
///
/// # Safety
/// As [`checked`]; when the magic matches, an object of type `T` (whose first field is that
/// `u32`) was written there.
pub(crate) unsafe fn object<'a, T>(h: *const c_void, magic: u32) -> Status<&'a T> {
    // SAFETY: the magic says the matching init wrote a T here.
    Ok(unsafe { &*checked::<T>(h, magic)? })
}

/// Writes `value` at the start of `storage` and the handle to `out`.
///
/// # Safety
/// `storage` passed [`check_storage`] for at least `size_of::<T>()` bytes, and `out` is non-null
/// and writable.
pub(crate) unsafe fn publish<T, H>(storage: *mut u8, value: T, out: *mut *mut H) {
    // SAFETY: storage is FVAE_ALIGN-aligned (>= align of T, asserted above) and large enough; the
    // header bytes are disjoint from the data region the object borrows.
    unsafe {
        ptr::write(storage.cast::<T>(), value);
        out.write(storage.cast::<H>());
    }
}

/// The data region after the header of an object in `storage`, as `len` elements of `E`.
///
/// # Safety
/// `storage` passed [`check_storage`] for `header_len(header) + len * size_of::<E>()` bytes;
/// `E` needs at most `FVAE_ALIGN` alignment.
pub(crate) unsafe fn region<E>(storage: *mut u8, header: usize, len: usize) -> &'static mut [E] {
    // SAFETY: in bounds per the contract; the region starts FVAE_ALIGN-aligned.
    unsafe { slice::from_raw_parts_mut(storage.add(header_len(header)).cast::<E>(), len) }
}

/// Writes optional out-parameters (each skipped when NULL).
///
/// # Safety
/// Every non-null pointer is a writable, aligned slot.
pub(crate) unsafe fn put<T: Copy>(p: *mut T, v: T) {
    if !p.is_null() {
        // SAFETY: per the contract.
        unsafe { p.write(v) };
    }
}

/// The shape of a rank-`N` tensor, else a status (missing tensor, other rank: shape).
pub(crate) fn tensor_dims<const N: usize>(file: &SafeTensors<'_>, name: &'static str) -> Status<[usize; N]> {
    file.tensor(name).map_err(status_of)?.shape().dims().try_into().map_err(|_| FVAE_ERR_SHAPE)
}

/// `*_safetensors_dims`: the shape of tensor `name` (rank N) of a `.safetensors` buffer into `out`.
///
/// # Safety
/// The caller gives `bytes_len` readable bytes at `bytes`, and writable slots in `out`.
pub(crate) unsafe fn file_dims<const N: usize>(
    bytes: *const u8,
    bytes_len: usize,
    name: &'static str,
    out: [*mut usize; N],
) -> i32 {
    code((|| {
        if out.iter().any(|p| p.is_null()) {
            return Err(FVAE_ERR_NULL);
        }
        // SAFETY: the caller gives bytes_len readable bytes at `bytes`.
        let file = SafeTensors::parse(unsafe { c_slice(bytes, bytes_len)? }).map_err(status_of)?;
        for (p, v) in out.into_iter().zip(tensor_dims::<N>(&file, name)?) {
            // SAFETY: non-null (checked above); the caller gives writable size_t slots.
            unsafe { p.write(v) };
        }
        Ok(())
    })())
}
