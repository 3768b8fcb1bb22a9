//! C API of fvae: GMM scoring, Fisher vectors, vector quantisation (f32 and int8 codebooks,
//! residual VQ) and int8 `.tflite` networks over caller memory, no malloc.
//!
//! Every object lives in storage the caller provides: ask `fvae_*_size(k, d)` for the bytes,
//! give storage aligned to `FVAE_ALIGN`, get a handle (a pointer into that storage). Handles hold
//! pointers to their own storage (and a Fisher accumulator to its GMM's storage), so the caller
//! keeps every storage buffer alive and unmoved while a handle is in use. GMM parameters and
//! codebooks are copied into their storage; a network reads its `.tflite` buffer in place and
//! runs in a caller arena, both of which must outlive its handle.
//!
//! Every function returns an `int32_t` status: `FVAE_OK` (0) or a negative `FVAE_ERR_*` code;
//! `fvae_status_message` gives a static string for each. Null pointers, wrong lengths,
//! misaligned buffers and handles that were never initialised are statuses, never a crash.
// Bare-metal targets get no_std and the panic handler below; hosted targets link std, whose
// precompiled core unwinds, so that debug builds of the workspace (`cargo build`, clippy) work.
// Release builds use the workspace's panic = "abort" either way: nothing unwinds into C.
#![cfg_attr(target_os = "none", no_std)]
#![deny(unsafe_op_in_unsafe_fn)]
#![allow(clippy::missing_safety_doc)] // the safety contract of every function is in the header docs

use core::ffi::c_void;
use core::mem::{align_of, size_of};
use core::ptr;
use core::slice;

use fvae::fisher::{FisherAccumulator, FisherOptions, Layout, Normalization};
use fvae::formats::safetensors::SafeTensors;
use fvae::gmm::{Assignment, DiagGmm};
use fvae::nn::{Interpreter, Network};
use fvae::vq::{Codebook, CodebookI8, ResidualVq};
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

/// Alignment in bytes every object storage buffer must have.
pub const FVAE_ALIGN: usize = 8;

/// Fisher-vector layout: `[G_mu (K x D), G_sigma (K x D)]`, length 2KD, as VLFeat.
pub const FVAE_LAYOUT_VLFEAT: u32 = 0;
/// Fisher-vector layout: `[G_w (K), G_mu (K x D), -G_sigma (K x D)]`, length 2KD + K, as scikit-image.
pub const FVAE_LAYOUT_SKIMAGE: u32 = 1;

/// A diagonal GMM living in caller storage (opaque).
pub struct FvaeGmm {
    _opaque: [u8; 0],
}

/// A streaming Fisher-vector accumulator living in caller storage (opaque).
pub struct FvaeFisher {
    _opaque: [u8; 0],
}

/// How a Fisher accumulator assigns descriptors and sums.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct FvaeFisherOptions {
    /// Soft posteriors strictly below this become 0 (VLFeat uses 1e-6; 0 keeps all). Ignored when `hard`.
    pub threshold: f32,
    /// Nonzero: one-hot assignment at the most likely component (VLFeat's fast mode).
    pub hard: u32,
    /// Nonzero: Kahan-compensated sums (recommended; needed for long streams).
    pub compensated: u32,
}

/// Normalisation applied by `fvae_fisher_finish`: first `sign(z)|z|^power` when `power > 0`,
/// then division by the L2 norm when `l2` is nonzero. The improved Fisher vector is `{0.5f, 1}`,
/// the raw gradient `{0.0f, 0}`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct FvaeNormalization {
    /// Exponent of the power step; 0 (or less) skips it.
    pub power: f32,
    /// Nonzero: L2-normalise.
    pub l2: u32,
}

const GMM_MAGIC: u32 = 0x6676_6731; // "fvg1"
const FISHER_MAGIC: u32 = 0x6676_6631; // "fvf1"

/// The header at the start of a GMM's storage; the f32 parameters and constants follow it.
#[repr(C)]
struct GmmObj {
    magic: u32,
    gmm: DiagGmm<'static>,
}

/// The header at the start of a Fisher accumulator's storage; the f32 sums follow it.
#[repr(C)]
struct FisherObj {
    magic: u32,
    acc: FisherAccumulator<'static, 'static>,
}

// The headers must fit the alignment the caller is told to give.
const _: () = assert!(align_of::<GmmObj>() <= FVAE_ALIGN && align_of::<FisherObj>() <= FVAE_ALIGN);

const fn header_len(size: usize) -> usize {
    size.div_ceil(FVAE_ALIGN) * FVAE_ALIGN
}

type Status<T> = core::result::Result<T, i32>;

fn status_of(e: Error) -> i32 {
    match e {
        Error::Shape { .. } => FVAE_ERR_SHAPE,
        Error::Value { .. } => FVAE_ERR_VALUE,
        Error::Format { .. } => FVAE_ERR_FORMAT,
        Error::Missing { .. } => FVAE_ERR_MISSING,
        Error::DType { .. } => FVAE_ERR_DTYPE,
        Error::Unsupported { .. } | Error::UnsupportedOperator { .. } => FVAE_ERR_UNSUPPORTED,
        Error::BufferTooSmall { .. } => FVAE_ERR_BUFFER_TOO_SMALL,
        Error::Misaligned { .. } => FVAE_ERR_MISALIGNED,
        Error::Empty { .. } => FVAE_ERR_EMPTY,
        _ => FVAE_ERR_UNKNOWN,
    }
}

fn code(r: Status<()>) -> i32 {
    match r {
        Ok(()) => FVAE_OK,
        Err(c) => c,
    }
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
unsafe fn c_slice<'a, T>(p: *const T, len: usize) -> Status<&'a [T]> {
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
unsafe fn c_slice_mut<'a, T>(p: *mut T, len: usize) -> Status<&'a mut [T]> {
    if len == 0 {
        return Ok(&mut []);
    }
    check_array(p, len)?;
    // SAFETY: as in c_slice; exclusivity for `len` elements is the caller's contract.
    Ok(unsafe { slice::from_raw_parts_mut(p, len) })
}

/// Checks a storage buffer (non-null, `FVAE_ALIGN`-aligned, at least `need` bytes) and returns it.
fn check_storage(storage: *mut c_void, storage_len: usize, need: usize) -> Status<*mut u8> {
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

/// Checks a handle (non-null, aligned, the right magic) and returns it as a raw object pointer
/// (no reference is made, so the caller may still write through it).
///
/// # Safety
/// A non-null, aligned `h` points at least at a `u32` of storage the caller owns.
unsafe fn checked<T>(h: *const c_void, magic: u32) -> Status<*mut T> {
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
    Ok(h.cast::<T>().cast_mut())
}

/// Checks a handle as [`checked`] and returns the object behind it.
///
/// # Safety
/// As [`checked`]; when the magic matches, an object of type `T` (whose first field is that
/// `u32`) was written there.
unsafe fn object<'a, T>(h: *const c_void, magic: u32) -> Status<&'a T> {
    // SAFETY: the magic says the matching init wrote a T here.
    Ok(unsafe { &*checked::<T>(h, magic)? })
}

/// Writes `value` at the start of `storage` and the handle to `out`.
///
/// # Safety
/// `storage` passed [`check_storage`] for at least `size_of::<T>()` bytes, and `out` is non-null
/// and writable.
unsafe fn publish<T, H>(storage: *mut u8, value: T, out: *mut *mut H) {
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
unsafe fn region<E>(storage: *mut u8, header: usize, len: usize) -> &'static mut [E] {
    // SAFETY: in bounds per the contract; the region starts FVAE_ALIGN-aligned.
    unsafe { slice::from_raw_parts_mut(storage.add(header_len(header)).cast::<E>(), len) }
}

/// Writes optional out-parameters (each skipped when NULL).
///
/// # Safety
/// Every non-null pointer is a writable, aligned slot.
unsafe fn put<T: Copy>(p: *mut T, v: T) {
    if !p.is_null() {
        // SAFETY: per the contract.
        unsafe { p.write(v) };
    }
}

/// The shape of a rank-`N` tensor, else a status (missing tensor, other rank: shape).
fn tensor_dims<const N: usize>(file: &SafeTensors<'_>, name: &'static str) -> Status<[usize; N]> {
    file.tensor(name).map_err(status_of)?.shape().dims().try_into().map_err(|_| FVAE_ERR_SHAPE)
}

/// `*_safetensors_dims`: the shape of tensor `name` (rank N) of a `.safetensors` buffer into `out`.
///
/// # Safety
/// The caller gives `bytes_len` readable bytes at `bytes`, and writable slots in `out`.
unsafe fn file_dims<const N: usize>(
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

fn gmm_floats(k: usize, d: usize) -> Option<usize> {
    // weights [K], means [K, D], constants [K D + 3 K].
    let kd = k.checked_mul(d)?;
    kd.checked_mul(2)?.checked_add(k.checked_mul(4)?)
}

fn gmm_size(k: usize, d: usize) -> Option<usize> {
    if k == 0 || d == 0 {
        return None;
    }
    gmm_floats(k, d)?.checked_mul(4)?.checked_add(header_len(size_of::<GmmObj>()))
}

fn fisher_size(k: usize, d: usize) -> Option<usize> {
    if k == 0 || d == 0 {
        return None;
    }
    // storage_len(k, d) = 4 K D + 3 K (compensated, the larger of the two modes).
    let floats = k.checked_mul(d)?.checked_mul(4)?.checked_add(k.checked_mul(3)?)?;
    floats.checked_mul(4)?.checked_add(header_len(size_of::<FisherObj>()))
}

/// Bytes of storage a GMM of `k` components in `d` dimensions needs; 0 if `k` or `d` is 0 or the size overflows.
#[no_mangle]
pub extern "C" fn fvae_gmm_size(k: usize, d: usize) -> usize {
    gmm_size(k, d).unwrap_or(0)
}

/// Bytes of storage a Fisher accumulator for a `k` x `d` GMM needs (enough for every option);
/// 0 if `k` or `d` is 0 or the size overflows.
#[no_mangle]
pub extern "C" fn fvae_fisher_size(k: usize, d: usize) -> usize {
    fisher_size(k, d).unwrap_or(0)
}

/// Length in floats of a Fisher vector in `layout` (`FVAE_LAYOUT_*`); 0 for an unknown layout.
#[no_mangle]
pub extern "C" fn fvae_fisher_vector_len(k: usize, d: usize, layout: u32) -> usize {
    match layout_of(layout) {
        Ok(l) => {
            // Layout::len does unchecked arithmetic: keep it to sizes a GMM can have.
            if gmm_size(k, d).is_some() {
                l.len(k, d)
            } else {
                0
            }
        }
        Err(_) => 0,
    }
}

fn layout_of(layout: u32) -> Status<Layout> {
    match layout {
        FVAE_LAYOUT_VLFEAT => Ok(Layout::VlFeat),
        FVAE_LAYOUT_SKIMAGE => Ok(Layout::SkImage),
        _ => Err(FVAE_ERR_INVALID_ARGUMENT),
    }
}

/// Builds the GMM object in `storage` from parameter slices (copied in) and publishes its handle.
///
/// # Safety
/// `storage` passed [`check_storage`] for `gmm_size(k, d)` bytes and is the caller's to write
/// and keep alive, unmoved, while the handle is used; `out` is non-null and writable.
unsafe fn build_gmm(
    storage: *mut u8,
    weights: &[f32],
    means: &[f32],
    variances: &[f32],
    out: *mut *mut FvaeGmm,
) -> Status<()> {
    let k = weights.len();
    let d = means.len().checked_div(k).unwrap_or(0);
    if k == 0 || d == 0 || means.len() != k * d {
        return Err(FVAE_ERR_SHAPE);
    }
    let floats = gmm_floats(k, d).ok_or(FVAE_ERR_SHAPE)?;
    // SAFETY: header_len(GmmObj) + 4 * floats bytes are in the checked storage.
    let (w, rest) = unsafe { region::<f32>(storage, size_of::<GmmObj>(), floats) }.split_at_mut(k);
    let (m, constants) = rest.split_at_mut(k * d);
    w.copy_from_slice(weights);
    m.copy_from_slice(means);
    let gmm = DiagGmm::new(w, m, variances, constants).map_err(status_of)?;
    // SAFETY: checked storage; out is non-null and writable per the contract.
    unsafe { publish(storage, GmmObj { magic: GMM_MAGIC, gmm }, out) };
    Ok(())
}

/// A GMM from raw arrays: `weights` [k], `means` [k*d], `variances` [k*d] (diagonal, row-major),
/// copied into `storage` (`fvae_gmm_size(k, d)` bytes, `FVAE_ALIGN`-aligned). On success `*out`
/// is the handle. The arrays may be freed afterwards; `storage` must stay alive and unmoved.
#[no_mangle]
pub unsafe extern "C" fn fvae_gmm_init(
    storage: *mut c_void,
    storage_len: usize,
    k: usize,
    d: usize,
    weights: *const f32,
    means: *const f32,
    variances: *const f32,
    out: *mut *mut FvaeGmm,
) -> i32 {
    code((|| {
        if out.is_null() || weights.is_null() || means.is_null() || variances.is_null() {
            return Err(FVAE_ERR_NULL);
        }
        let need = gmm_size(k, d).ok_or(FVAE_ERR_SHAPE)?;
        let storage = check_storage(storage, storage_len, need)?;
        // k * d cannot overflow: gmm_size checked it.
        let kd = k * d;
        // SAFETY: the caller gives k, k*d and k*d readable floats; c_slice checks null/alignment.
        let (w, m, v) = unsafe { (c_slice(weights, k)?, c_slice(means, kd)?, c_slice(variances, kd)?) };
        // SAFETY: storage checked for `need` bytes above; out is non-null.
        unsafe { build_gmm(storage, w, m, v, out) }
    })())
}

/// Reads `k` and `d` of the GMM in a `.safetensors` buffer (tensors `weights` [K], `means` [K, D],
/// `covariances` [K, D], f32), so the caller can size its storage.
#[no_mangle]
pub unsafe extern "C" fn fvae_gmm_safetensors_dims(
    bytes: *const u8,
    bytes_len: usize,
    k: *mut usize,
    d: *mut usize,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { file_dims(bytes, bytes_len, "means", [k, d]) }
}

/// A GMM from a `.safetensors` buffer (4-aligned; tensors `weights`, `means`, `covariances`, f32),
/// copied into `storage` (`fvae_gmm_size(k, d)` bytes, `FVAE_ALIGN`-aligned, with k and d from
/// `fvae_gmm_safetensors_dims`). The file buffer may be freed afterwards.
#[no_mangle]
pub unsafe extern "C" fn fvae_gmm_init_safetensors(
    storage: *mut c_void,
    storage_len: usize,
    bytes: *const u8,
    bytes_len: usize,
    out: *mut *mut FvaeGmm,
) -> i32 {
    code((|| {
        if out.is_null() {
            return Err(FVAE_ERR_NULL);
        }
        // SAFETY: the caller gives bytes_len readable bytes at `bytes`.
        let bytes = unsafe { c_slice(bytes, bytes_len)? };
        let file = SafeTensors::parse(bytes).map_err(status_of)?;
        let tensor = |name| -> Status<&[f32]> { file.tensor(name).and_then(|t| t.as_f32(name)).map_err(status_of) };
        let (w, m, v) = (tensor("weights")?, tensor("means")?, tensor("covariances")?);
        let k = w.len();
        let d = m.len().checked_div(k).unwrap_or(0);
        let need = gmm_size(k, d).ok_or(FVAE_ERR_SHAPE)?;
        let storage = check_storage(storage, storage_len, need)?;
        // SAFETY: storage checked for gmm_size(k, d) bytes (build_gmm checks the shapes); out is non-null.
        unsafe { build_gmm(storage, w, m, v, out) }
    })())
}

/// The GMM behind a handle, after checking it is non-null, aligned and initialised.
///
/// # Safety
/// A non-null, aligned `h` points at least at the header of storage the caller owns.
unsafe fn gmm_ref<'a>(h: *const FvaeGmm) -> Status<&'a DiagGmm<'static>> {
    // SAFETY: forwarded contract; the magic says fvae_gmm_init* wrote a GmmObj there.
    Ok(&unsafe { object::<GmmObj>(h.cast(), GMM_MAGIC)? }.gmm)
}

/// Number of components and dimensions of a GMM.
#[no_mangle]
pub unsafe extern "C" fn fvae_gmm_dims(gmm: *const FvaeGmm, k: *mut usize, d: *mut usize) -> i32 {
    code((|| {
        // SAFETY: handle contract of gmm_ref.
        let g = unsafe { gmm_ref(gmm)? };
        if k.is_null() || d.is_null() {
            return Err(FVAE_ERR_NULL);
        }
        // SAFETY: non-null writable slots per the caller's contract.
        unsafe {
            k.write(g.k());
            d.write(g.d());
        }
        Ok(())
    })())
}

/// Log-densities `log N(x | mu_k, var_k)` (mixture weights not included) of one descriptor
/// `x` [d] into `out` [k].
#[no_mangle]
pub unsafe extern "C" fn fvae_gmm_log_densities(
    gmm: *const FvaeGmm,
    x: *const f32,
    x_len: usize,
    out: *mut f32,
    out_len: usize,
) -> i32 {
    code((|| {
        // SAFETY: handle and array contracts documented above.
        let (g, x, out) = unsafe { (gmm_ref(gmm)?, c_slice(x, x_len)?, c_slice_mut(out, out_len)?) };
        g.log_densities(x, out).map_err(status_of)
    })())
}

/// Soft posteriors of one descriptor `x` [d] into `out` [k]; the log-likelihood
/// `log sum_k w_k N(x | k)` goes to `*log_likelihood` unless it is NULL.
#[no_mangle]
pub unsafe extern "C" fn fvae_gmm_posteriors(
    gmm: *const FvaeGmm,
    x: *const f32,
    x_len: usize,
    out: *mut f32,
    out_len: usize,
    log_likelihood: *mut f32,
) -> i32 {
    code((|| {
        // SAFETY: handle and array contracts documented above.
        let (g, x, out) = unsafe { (gmm_ref(gmm)?, c_slice(x, x_len)?, c_slice_mut(out, out_len)?) };
        let ll = g.posteriors(x, out).map_err(status_of)?;
        if !log_likelihood.is_null() {
            // SAFETY: non-null; the caller gives a writable float.
            unsafe { log_likelihood.write(ll) };
        }
        Ok(())
    })())
}

/// Default accumulator options: soft, no threshold, compensated sums.
#[no_mangle]
pub extern "C" fn fvae_fisher_options_default() -> FvaeFisherOptions {
    FvaeFisherOptions { threshold: 0.0, hard: 0, compensated: 1 }
}

/// An empty Fisher accumulator for `gmm` in `storage` (`fvae_fisher_size(k, d)` bytes,
/// `FVAE_ALIGN`-aligned). `options` NULL means `fvae_fisher_options_default()`. Both `storage` and
/// the GMM's storage must stay alive and unmoved while the accumulator is used.
#[no_mangle]
pub unsafe extern "C" fn fvae_fisher_init(
    storage: *mut c_void,
    storage_len: usize,
    gmm: *const FvaeGmm,
    options: *const FvaeFisherOptions,
    out: *mut *mut FvaeFisher,
) -> i32 {
    code((|| {
        if out.is_null() {
            return Err(FVAE_ERR_NULL);
        }
        // SAFETY: handle contract of gmm_ref.
        let g = *unsafe { gmm_ref(gmm)? };
        let o = if options.is_null() {
            fvae_fisher_options_default()
        } else if !options.is_aligned() {
            return Err(FVAE_ERR_MISALIGNED);
        } else {
            // SAFETY: non-null and aligned; every bit pattern is a valid FvaeFisherOptions.
            unsafe { options.read() }
        };
        let options = FisherOptions {
            assignment: if o.hard != 0 { Assignment::Hard } else { Assignment::Soft { threshold: o.threshold } },
            compensated: o.compensated != 0,
        };
        let need = fisher_size(g.k(), g.d()).ok_or(FVAE_ERR_SHAPE)?;
        let storage = check_storage(storage, storage_len, need)?;
        let floats = (need - header_len(size_of::<FisherObj>())) / 4;
        // SAFETY: `need` bytes (the header and `floats` floats) are in the checked storage.
        let sums = unsafe { region::<f32>(storage, size_of::<FisherObj>(), floats) };
        let acc = FisherAccumulator::new(g, options, sums).map_err(status_of)?;
        // SAFETY: checked storage; out is non-null and writable per the caller's contract.
        unsafe { publish(storage, FisherObj { magic: FISHER_MAGIC, acc }, out) };
        Ok(())
    })())
}

/// The accumulator behind a handle, after checking it.
///
/// # Safety
/// A non-null, aligned `h` points at least at the header of storage the caller owns, and no
/// other reference to that object is live during the call.
unsafe fn fisher_mut<'a>(h: *mut FvaeFisher) -> Status<&'a mut FisherAccumulator<'static, 'static>> {
    // SAFETY: the magic says fvae_fisher_init wrote a FisherObj there; exclusivity per the contract.
    Ok(unsafe { &mut (*checked::<FisherObj>(h.cast::<c_void>(), FISHER_MAGIC)?).acc })
}

/// Adds one descriptor `x` [d]; its log-likelihood goes to `*log_likelihood` unless NULL. A
/// rejected descriptor (wrong length, NaN/inf, too far from every component) leaves the
/// accumulator unchanged.
#[no_mangle]
pub unsafe extern "C" fn fvae_fisher_push(
    fisher: *mut FvaeFisher,
    x: *const f32,
    x_len: usize,
    log_likelihood: *mut f32,
) -> i32 {
    code((|| {
        // SAFETY: handle and array contracts documented above.
        let (acc, x) = unsafe { (fisher_mut(fisher)?, c_slice(x, x_len)?) };
        let ll = acc.push(x).map_err(status_of)?;
        if !log_likelihood.is_null() {
            // SAFETY: non-null; the caller gives a writable float.
            unsafe { log_likelihood.write(ll) };
        }
        Ok(())
    })())
}

/// Adds `xs_len / d` descriptors stored row-major in `xs` (`xs_len` must be a multiple of d).
#[no_mangle]
pub unsafe extern "C" fn fvae_fisher_push_batch(fisher: *mut FvaeFisher, xs: *const f32, xs_len: usize) -> i32 {
    code((|| {
        // SAFETY: handle and array contracts documented above.
        let (acc, xs) = unsafe { (fisher_mut(fisher)?, c_slice(xs, xs_len)?) };
        acc.push_batch(xs).map_err(status_of)
    })())
}

/// Adds everything `src` accumulated into `dst` (same GMM shape; `src` is unchanged). `dst` and
/// `src` must be different accumulators.
#[no_mangle]
pub unsafe extern "C" fn fvae_fisher_merge(dst: *mut FvaeFisher, src: *const FvaeFisher) -> i32 {
    code((|| {
        if ptr::eq(dst.cast_const(), src) {
            return Err(FVAE_ERR_INVALID_ARGUMENT);
        }
        // SAFETY: distinct handles (checked above) to distinct objects per the caller's contract,
        // so the exclusive and the shared reference do not alias.
        let (d, s) = unsafe { (fisher_mut(dst)?, fisher_mut(src.cast_mut())?) };
        d.merge(s).map_err(status_of)
    })())
}

/// Forgets every descriptor pushed so far.
#[no_mangle]
pub unsafe extern "C" fn fvae_fisher_reset(fisher: *mut FvaeFisher) -> i32 {
    code((|| {
        // SAFETY: handle contract of fisher_mut.
        unsafe { fisher_mut(fisher)? }.reset();
        Ok(())
    })())
}

/// Number of descriptors accumulated.
#[no_mangle]
pub unsafe extern "C" fn fvae_fisher_count(fisher: *const FvaeFisher, count: *mut u64) -> i32 {
    code((|| {
        // SAFETY: handle contract of fisher_mut (only read here).
        let acc = unsafe { fisher_mut(fisher.cast_mut())? };
        if count.is_null() {
            return Err(FVAE_ERR_NULL);
        }
        // SAFETY: non-null writable slot per the caller's contract.
        unsafe { count.write(acc.count()) };
        Ok(())
    })())
}

/// Writes the Fisher vector in `layout` (`FVAE_LAYOUT_*`) with `normalization` (NULL: raw) to
/// `out` (`fvae_fisher_vector_len(k, d, layout)` floats). The accumulator is unchanged.
#[no_mangle]
pub unsafe extern "C" fn fvae_fisher_finish(
    fisher: *const FvaeFisher,
    layout: u32,
    normalization: *const FvaeNormalization,
    out: *mut f32,
    out_len: usize,
) -> i32 {
    code((|| {
        let layout = layout_of(layout)?;
        let norm = if normalization.is_null() {
            Normalization::NONE
        } else if !normalization.is_aligned() {
            return Err(FVAE_ERR_MISALIGNED);
        } else {
            // SAFETY: non-null and aligned; every bit pattern is a valid FvaeNormalization.
            let n = unsafe { normalization.read() };
            if n.power.is_nan() {
                return Err(FVAE_ERR_VALUE);
            }
            Normalization { power: if n.power > 0.0 { Some(n.power) } else { None }, l2: n.l2 != 0 }
        };
        // SAFETY: handle and array contracts documented above.
        let (acc, out) = unsafe { (fisher_mut(fisher.cast_mut())?, c_slice_mut(out, out_len)?) };
        acc.finish(layout, norm, out).map_err(status_of)
    })())
}

// ---------------------------------------------------------------------------------------------
// Vector quantisation: f32 and int8 codebooks, residual VQ. Codewords are copied into the
// storage, as a GMM's parameters are. The three objects differ only in what `VqKind` and `Search`
// name, so each operation below is one generic function and every exported symbol forwards to it.

/// An f32 codebook `[M, D]` living in caller storage (opaque).
pub struct FvaeCodebook {
    _opaque: [u8; 0],
}

/// An int8 codebook `[M, D]` with its scale, living in caller storage (opaque).
pub struct FvaeCodebookI8 {
    _opaque: [u8; 0],
}

/// A residual VQ (S stages of `[M, D]` f32 codebooks) living in caller storage (opaque).
pub struct FvaeRvq {
    _opaque: [u8; 0],
}

type Cb = Codebook<'static>;
type CbI8 = CodebookI8<'static>;
type Rvq = ResidualVq<'static>;

/// The header at the start of a VQ object's storage; copied codewords follow it.
#[repr(C)]
struct VqObj<V> {
    magic: u32,
    vq: V,
}

const _: () = assert!(
    align_of::<VqObj<Cb>>() <= FVAE_ALIGN
        && align_of::<VqObj<CbI8>>() <= FVAE_ALIGN
        && align_of::<VqObj<Rvq>>() <= FVAE_ALIGN
);

/// What the f32 codebook, the int8 codebook and the residual VQ differ in when they are stored.
trait VqKind: Sized + 'static {
    /// The opaque C handle.
    type Handle;
    /// Element of the codewords (and of the queries).
    type Elem: Copy + 'static;
    /// What the constructor takes besides the codewords: D, (D, scale) or (S, D).
    type Params: Copy;
    /// Tells an initialised object of this kind from other memory (first field of [`VqObj`]).
    const MAGIC: u32;
    /// Elements per row of `[M, row]` data: D, or S*D (0 when that overflows).
    fn row(p: Self::Params) -> usize;
    fn new(data: &'static [Self::Elem], p: Self::Params) -> fvae::Result<Self>;
    /// The codewords and parameters of a `.safetensors` file, checked as far as the statuses of
    /// `*_init_safetensors` need before the storage is looked at.
    fn from_file(file: &SafeTensors<'static>) -> Status<(&'static [Self::Elem], Self::Params)>;
}

const CODEBOOK_MAGIC: u32 = 0x6676_7131; // "fvq1"
const CODEBOOK_I8_MAGIC: u32 = 0x6676_6931; // "fvi1"
const RVQ_MAGIC: u32 = 0x6676_7231; // "fvr1"

impl VqKind for Cb {
    type Handle = FvaeCodebook;
    type Elem = f32;
    type Params = usize;
    const MAGIC: u32 = CODEBOOK_MAGIC;
    fn row(d: usize) -> usize {
        d
    }
    fn new(data: &'static [f32], d: usize) -> fvae::Result<Self> {
        Codebook::new(data, d)
    }
    fn from_file(file: &SafeTensors<'static>) -> Status<(&'static [f32], usize)> {
        let [_, d] = tensor_dims(file, "codebook")?;
        let data = file.tensor("codebook").and_then(|t| t.as_f32("codebook")).map_err(status_of)?;
        Ok((data, d))
    }
}

impl VqKind for CbI8 {
    type Handle = FvaeCodebookI8;
    type Elem = i8;
    type Params = (usize, f32);
    const MAGIC: u32 = CODEBOOK_I8_MAGIC;
    fn row((d, _): (usize, f32)) -> usize {
        d
    }
    fn new(data: &'static [i8], (d, scale): (usize, f32)) -> fvae::Result<Self> {
        CodebookI8::new(data, d, scale)
    }
    fn from_file(file: &SafeTensors<'static>) -> Status<(&'static [i8], (usize, f32))> {
        // Validated (scale included) in place first, then copied.
        let cb = CodebookI8::from_safetensors(file).map_err(status_of)?;
        Ok((cb.data(), (cb.d(), cb.scale())))
    }
}

impl VqKind for Rvq {
    type Handle = FvaeRvq;
    type Elem = f32;
    type Params = (usize, usize);
    const MAGIC: u32 = RVQ_MAGIC;
    fn row((s, d): (usize, usize)) -> usize {
        s.checked_mul(d).unwrap_or(0)
    }
    fn new(data: &'static [f32], (s, d): (usize, usize)) -> fvae::Result<Self> {
        ResidualVq::new(data, s, d)
    }
    fn from_file(file: &SafeTensors<'static>) -> Status<(&'static [f32], (usize, usize))> {
        let rvq = ResidualVq::from_safetensors(file).map_err(status_of)?;
        let data = file.tensor("codebooks").and_then(|t| t.as_f32("codebooks")).map_err(status_of)?;
        Ok((data, (rvq.stages(), rvq.d())))
    }
}

/// The searches the f32 and the int8 codebook share (their distances are f32 and u32).
trait Search: VqKind {
    type Dist: Copy;
    fn find_nearest(&self, x: &[Self::Elem]) -> fvae::Result<(u32, Self::Dist)>;
    fn find_top_k(&self, x: &[Self::Elem], idx: &mut [u32], dist: &mut [Self::Dist]) -> fvae::Result<usize>;
    fn find_top_k_batch(
        &self,
        xs: &[Self::Elem],
        k: usize,
        idx: &mut [u32],
        dist: &mut [Self::Dist],
    ) -> fvae::Result<usize>;
}

impl Search for Cb {
    type Dist = f32;
    fn find_nearest(&self, x: &[f32]) -> fvae::Result<(u32, f32)> {
        self.nearest(x).map(|n| (n.index, n.distance))
    }
    fn find_top_k(&self, x: &[f32], idx: &mut [u32], dist: &mut [f32]) -> fvae::Result<usize> {
        self.top_k(x, idx, dist)
    }
    fn find_top_k_batch(&self, xs: &[f32], k: usize, idx: &mut [u32], dist: &mut [f32]) -> fvae::Result<usize> {
        // No scratch: the search scores 256 codewords at a time in a 1 KiB stack buffer.
        self.top_k_batch(xs, k, idx, dist, &mut [])
    }
}

impl Search for CbI8 {
    type Dist = u32;
    fn find_nearest(&self, x: &[i8]) -> fvae::Result<(u32, u32)> {
        self.nearest(x).map(|n| (n.index, n.distance))
    }
    fn find_top_k(&self, x: &[i8], idx: &mut [u32], dist: &mut [u32]) -> fvae::Result<usize> {
        self.top_k(x, idx, dist)
    }
    fn find_top_k_batch(&self, xs: &[i8], k: usize, idx: &mut [u32], dist: &mut [u32]) -> fvae::Result<usize> {
        self.top_k_batch(xs, k, idx, dist)
    }
}

/// Bytes of a header followed by `elems` elements of `elem` bytes; `None` for empty or overflowing shapes.
fn object_size(header: usize, dims: &[usize], elem: usize) -> Option<usize> {
    if dims.is_empty() {
        return Some(header_len(header)); // a view: the data stays where the caller has it
    }
    let mut n = 1usize;
    for &d in dims {
        if d == 0 {
            return None;
        }
        n = n.checked_mul(d)?;
    }
    let bytes = n.checked_mul(elem)?.checked_add(header_len(header))?;
    (bytes <= isize::MAX as usize).then_some(bytes)
}

/// Storage bytes of a `V` holding `dims` elements (`&[]`: a view); 0 for empty or overflowing shapes.
fn vq_size<V: VqKind>(dims: &[usize]) -> usize {
    object_size(size_of::<VqObj<V>>(), dims, size_of::<V::Elem>()).unwrap_or(0)
}

/// The model behind a VQ handle, after the checks of [`object`].
///
/// # Safety
/// As [`object`].
unsafe fn vq_ref<'a, V: VqKind>(h: *const V::Handle) -> Status<&'a V> {
    // SAFETY: forwarded contract; the magic says the init of this kind wrote a VqObj<V> there.
    Ok(&unsafe { object::<VqObj<V>>(h.cast(), V::MAGIC)? }.vq)
}

/// Stores a VQ object (codewords copied, or borrowed when `copy` is false) and publishes its handle.
///
/// # Safety
/// `out` non-null and writable; `storage`/`storage_len` as given by the caller; when borrowed,
/// `data` stays valid and unmodified while the handle is used.
unsafe fn vq_build<V: VqKind>(
    storage: *mut c_void,
    storage_len: usize,
    data: &'static [V::Elem],
    p: V::Params,
    copy: bool,
    out: *mut *mut V::Handle,
) -> Status<()> {
    let row = V::row(p);
    let m = data.len().checked_div(row).unwrap_or(0);
    if m * row != data.len() {
        return Err(FVAE_ERR_SHAPE);
    }
    let dims: &[usize] = if copy { &[m, row] } else { &[] };
    let need = object_size(size_of::<VqObj<V>>(), dims, size_of::<V::Elem>()).ok_or(FVAE_ERR_SHAPE)?;
    let storage = check_storage(storage, storage_len, need)?;
    let data: &'static [V::Elem] = if copy {
        // SAFETY: storage checked for the header and m * row elements (f32 or i8: aligned enough).
        let c = unsafe { region::<V::Elem>(storage, size_of::<VqObj<V>>(), data.len()) };
        c.copy_from_slice(data);
        c
    } else {
        data
    };
    let vq = V::new(data, p).map_err(status_of)?;
    // SAFETY: checked storage, non-null out.
    unsafe { publish(storage, VqObj { magic: V::MAGIC, vq }, out) };
    Ok(())
}

/// `*_init` (`copy`) and `*_view` from a raw array of `dims` (multiplied) elements.
///
/// # Safety
/// The caller gives that many readable elements at `data` (which outlive the handle when `copy`
/// is false) and a writable `out`; `storage`/`storage_len` as given by the caller.
unsafe fn vq_init_raw<V: VqKind>(
    storage: *mut c_void,
    storage_len: usize,
    dims: &[usize],
    data: *const V::Elem,
    p: V::Params,
    copy: bool,
    out: *mut *mut V::Handle,
) -> i32 {
    code((|| {
        if out.is_null() || data.is_null() {
            return Err(FVAE_ERR_NULL);
        }
        object_size(0, dims, size_of::<V::Elem>()).ok_or(FVAE_ERR_SHAPE)?;
        // SAFETY: the caller gives that many readable elements (the product checked not to
        // overflow above), which outlive the handle when borrowed.
        let data: &'static [V::Elem] = unsafe { c_slice(data, dims.iter().product())? };
        // SAFETY: out is non-null; when borrowed, `data` outlives the handle by contract.
        unsafe { vq_build::<V>(storage, storage_len, data, p, copy, out) }
    })())
}

/// `*_init_safetensors` (`copy`) and `*_view_safetensors`.
///
/// # Safety
/// The caller gives `bytes_len` readable bytes at `bytes` (which outlive the handle when `copy`
/// is false) and a writable `out`; `storage`/`storage_len` as given by the caller.
unsafe fn vq_init_file<V: VqKind>(
    storage: *mut c_void,
    storage_len: usize,
    bytes: *const u8,
    bytes_len: usize,
    copy: bool,
    out: *mut *mut V::Handle,
) -> i32 {
    code((|| {
        if out.is_null() {
            return Err(FVAE_ERR_NULL);
        }
        // SAFETY: the caller gives bytes_len readable bytes, which outlive the handle when borrowed.
        let bytes: &'static [u8] = unsafe { c_slice(bytes, bytes_len)? };
        let file = SafeTensors::parse(bytes).map_err(status_of)?;
        let (data, p) = V::from_file(&file)?;
        // SAFETY: out is non-null; when borrowed, the file outlives the handle by contract.
        unsafe { vq_build::<V>(storage, storage_len, data, p, copy, out) }
    })())
}

/// `*_nearest`: index and distance of the nearest codeword to optional out-pointers.
///
/// # Safety
/// The handle and array contracts of the exported functions.
unsafe fn vq_nearest<V: Search>(
    h: *const V::Handle,
    x: *const V::Elem,
    x_len: usize,
    index: *mut u32,
    distance: *mut V::Dist,
) -> i32 {
    code((|| {
        // SAFETY: handle and array contracts documented above.
        let (cb, x) = unsafe { (vq_ref::<V>(h)?, c_slice(x, x_len)?) };
        let (i, dist) = cb.find_nearest(x).map_err(status_of)?;
        // SAFETY: optional writable slots.
        unsafe { (put(index, i), put(distance, dist)) };
        Ok(())
    })())
}

/// `*_top_k`: `k` indices and distances, their count to the optional `found`.
///
/// # Safety
/// The handle and array contracts of the exported functions.
unsafe fn vq_top_k<V: Search>(
    h: *const V::Handle,
    x: *const V::Elem,
    x_len: usize,
    k: usize,
    idx: *mut u32,
    dist: *mut V::Dist,
    found: *mut usize,
) -> i32 {
    code((|| {
        // SAFETY: handle and array contracts documented above.
        let (cb, x, idx, dist) =
            unsafe { (vq_ref::<V>(h)?, c_slice(x, x_len)?, c_slice_mut(idx, k)?, c_slice_mut(dist, k)?) };
        let n = cb.find_top_k(x, idx, dist).map_err(status_of)?;
        // SAFETY: optional writable slot.
        unsafe { put(found, n) };
        Ok(())
    })())
}

/// `*_top_k_batch` (and with k = 1 and no `found`, `*_nearest_batch`).
///
/// # Safety
/// The handle and array contracts of the exported functions.
#[allow(clippy::too_many_arguments)] // the arguments of the C signature, one for one
unsafe fn vq_top_k_batch<V: Search>(
    h: *const V::Handle,
    xs: *const V::Elem,
    xs_len: usize,
    k: usize,
    idx: *mut u32,
    dist: *mut V::Dist,
    out_len: usize,
    found: *mut usize,
) -> i32 {
    code((|| {
        // SAFETY: handle and array contracts documented above.
        let (cb, xs, idx, dist) =
            unsafe { (vq_ref::<V>(h)?, c_slice(xs, xs_len)?, c_slice_mut(idx, out_len)?, c_slice_mut(dist, out_len)?) };
        let n = cb.find_top_k_batch(xs, k, idx, dist).map_err(status_of)?;
        // SAFETY: optional writable slot.
        unsafe { put(found, n) };
        Ok(())
    })())
}

/// Bytes of storage an f32 codebook of `m` codewords of dimension `d` needs; 0 if either is 0 or
/// the size overflows.
#[no_mangle]
pub extern "C" fn fvae_codebook_size(m: usize, d: usize) -> usize {
    vq_size::<Cb>(&[m, d])
}

/// Bytes of storage an int8 codebook of `m` codewords of dimension `d` needs; 0 if either is 0 or
/// the size overflows.
#[no_mangle]
pub extern "C" fn fvae_codebook_i8_size(m: usize, d: usize) -> usize {
    vq_size::<CbI8>(&[m, d])
}

/// Bytes of storage a residual VQ of `s` stages of `m` codewords of dimension `d` needs; 0 if any
/// is 0 or the size overflows.
#[no_mangle]
pub extern "C" fn fvae_rvq_size(s: usize, m: usize, d: usize) -> usize {
    vq_size::<Rvq>(&[s, m, d])
}

/// Reads `m` and `d` of the `codebook` tensor (`[M, D]`, f32 or i8) in a `.safetensors` buffer,
/// so the caller can size its storage.
#[no_mangle]
pub unsafe extern "C" fn fvae_codebook_safetensors_dims(
    bytes: *const u8,
    bytes_len: usize,
    m: *mut usize,
    d: *mut usize,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { file_dims(bytes, bytes_len, "codebook", [m, d]) }
}

/// An f32 codebook from `data` [m*d] (row-major), copied into `storage`
/// (`fvae_codebook_size(m, d)` bytes, `FVAE_ALIGN`-aligned). Non-finite values are
/// `FVAE_ERR_VALUE`. The array may be freed afterwards.
#[no_mangle]
pub unsafe extern "C" fn fvae_codebook_init(
    storage: *mut c_void,
    storage_len: usize,
    m: usize,
    d: usize,
    data: *const f32,
    out: *mut *mut FvaeCodebook,
) -> i32 {
    // SAFETY: forwarded contract (the array is copied).
    unsafe { vq_init_raw::<Cb>(storage, storage_len, &[m, d], data, d, true, out) }
}

/// An f32 codebook from the `codebook` tensor (f32 `[M, D]`) of a 4-aligned `.safetensors`
/// buffer, copied into `storage` (`fvae_codebook_size(m, d)` bytes with m, d from
/// `fvae_codebook_safetensors_dims`). The buffer may be freed afterwards.
#[no_mangle]
pub unsafe extern "C" fn fvae_codebook_init_safetensors(
    storage: *mut c_void,
    storage_len: usize,
    bytes: *const u8,
    bytes_len: usize,
    out: *mut *mut FvaeCodebook,
) -> i32 {
    // SAFETY: forwarded contract (the codewords are copied).
    unsafe { vq_init_file::<Cb>(storage, storage_len, bytes, bytes_len, true, out) }
}

/// Number of codewords and their dimension.
#[no_mangle]
pub unsafe extern "C" fn fvae_codebook_dims(cb: *const FvaeCodebook, m: *mut usize, d: *mut usize) -> i32 {
    code((|| {
        // SAFETY: handle contract of `object`.
        let cb = unsafe { vq_ref::<Cb>(cb)? };
        if m.is_null() || d.is_null() {
            return Err(FVAE_ERR_NULL);
        }
        // SAFETY: non-null writable slots per the caller's contract.
        unsafe { (put(m, cb.m()), put(d, cb.d())) };
        Ok(())
    })())
}

/// The nearest codeword of `x` [d]: its index (the lowest among equal distances) to `*index` and
/// its exact squared distance to `*distance` (either may be NULL).
#[no_mangle]
pub unsafe extern "C" fn fvae_codebook_nearest(
    cb: *const FvaeCodebook,
    x: *const f32,
    x_len: usize,
    index: *mut u32,
    distance: *mut f32,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { vq_nearest::<Cb>(cb, x, x_len, index, distance) }
}

/// The `k` nearest codewords of `x` [d], ascending distance, ties by index: indices to `idx` [k]
/// and exact squared distances to `dist` [k]. `*found` (unless NULL) gets `min(k, M)`; slots
/// past it are left as they were.
#[no_mangle]
pub unsafe extern "C" fn fvae_codebook_top_k(
    cb: *const FvaeCodebook,
    x: *const f32,
    x_len: usize,
    k: usize,
    idx: *mut u32,
    dist: *mut f32,
    found: *mut usize,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { vq_top_k::<Cb>(cb, x, x_len, k, idx, dist, found) }
}

/// The `k` nearest codewords of each of the `n` queries in `xs` [xs_len = n*d], row-major:
/// `idx` and `dist` are `[n, k]` (`out_len` = n*k elements each). `*found` as in
/// `fvae_codebook_top_k`. With k = 1 this is the batch nearest search.
#[no_mangle]
pub unsafe extern "C" fn fvae_codebook_top_k_batch(
    cb: *const FvaeCodebook,
    xs: *const f32,
    xs_len: usize,
    k: usize,
    idx: *mut u32,
    dist: *mut f32,
    out_len: usize,
    found: *mut usize,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { vq_top_k_batch::<Cb>(cb, xs, xs_len, k, idx, dist, out_len, found) }
}

/// Nearest codewords of the `n` queries in `xs` [n*d]: `idx` [n], `dist` [n] (`n` elements each).
#[no_mangle]
pub unsafe extern "C" fn fvae_codebook_nearest_batch(
    cb: *const FvaeCodebook,
    xs: *const f32,
    xs_len: usize,
    idx: *mut u32,
    dist: *mut f32,
    n: usize,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { vq_top_k_batch::<Cb>(cb, xs, xs_len, 1, idx, dist, n, ptr::null_mut()) }
}

/// Quantises `x` [len] to int8 with `scale` (`q = round(x / scale)`, half away from zero,
/// clamped to [-127, 127]) into `out` [out_len = len]. `scale` must be finite and > 0.
#[no_mangle]
pub unsafe extern "C" fn fvae_quantize_i8(x: *const f32, len: usize, scale: f32, out: *mut i8, out_len: usize) -> i32 {
    code((|| {
        // SAFETY: array contracts documented above.
        let (x, out) = unsafe { (c_slice(x, len)?, c_slice_mut(out, out_len)?) };
        fvae::vq::quantize_i8(x, scale, out).map_err(status_of)
    })())
}

/// An int8 codebook from `data` [m*d] (row-major) and its `scale` (`real = scale * q`, finite
/// and > 0), copied into `storage` (`fvae_codebook_i8_size(m, d)` bytes, `FVAE_ALIGN`-aligned).
#[no_mangle]
pub unsafe extern "C" fn fvae_codebook_i8_init(
    storage: *mut c_void,
    storage_len: usize,
    m: usize,
    d: usize,
    data: *const i8,
    scale: f32,
    out: *mut *mut FvaeCodebookI8,
) -> i32 {
    // SAFETY: forwarded contract (the array is copied).
    unsafe { vq_init_raw::<CbI8>(storage, storage_len, &[m, d], data, (d, scale), true, out) }
}

/// An int8 codebook from the `codebook` (i8 `[M, D]`) and `scale` (f32, one value) tensors of a
/// `.safetensors` buffer, copied into `storage` (`fvae_codebook_i8_size(m, d)` bytes).
#[no_mangle]
pub unsafe extern "C" fn fvae_codebook_i8_init_safetensors(
    storage: *mut c_void,
    storage_len: usize,
    bytes: *const u8,
    bytes_len: usize,
    out: *mut *mut FvaeCodebookI8,
) -> i32 {
    // SAFETY: forwarded contract (the codewords are copied).
    unsafe { vq_init_file::<CbI8>(storage, storage_len, bytes, bytes_len, true, out) }
}

/// Number of codewords, their dimension and the scale (any out-pointer may be NULL).
#[no_mangle]
pub unsafe extern "C" fn fvae_codebook_i8_dims(
    cb: *const FvaeCodebookI8,
    m: *mut usize,
    d: *mut usize,
    scale: *mut f32,
) -> i32 {
    code((|| {
        // SAFETY: handle contract of `object`.
        let cb = unsafe { vq_ref::<CbI8>(cb)? };
        // SAFETY: optional writable slots.
        unsafe { (put(m, cb.m()), put(d, cb.d()), put(scale, cb.scale())) };
        Ok(())
    })())
}

/// Quantises an f32 query `x` [d] to the codebook's scale into `out` [d] (see `fvae_quantize_i8`).
#[no_mangle]
pub unsafe extern "C" fn fvae_codebook_i8_quantize(
    cb: *const FvaeCodebookI8,
    x: *const f32,
    x_len: usize,
    out: *mut i8,
    out_len: usize,
) -> i32 {
    code((|| {
        // SAFETY: handle and array contracts documented above.
        let (cb, x, out) = unsafe { (vq_ref::<CbI8>(cb)?, c_slice(x, x_len)?, c_slice_mut(out, out_len)?) };
        cb.quantize(x, out).map_err(status_of)
    })())
}

/// The nearest codeword of the int8 query `x` [d]: index and exact integer squared distance
/// (either out-pointer may be NULL).
#[no_mangle]
pub unsafe extern "C" fn fvae_codebook_i8_nearest(
    cb: *const FvaeCodebookI8,
    x: *const i8,
    x_len: usize,
    index: *mut u32,
    distance: *mut u32,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { vq_nearest::<CbI8>(cb, x, x_len, index, distance) }
}

/// The `k` nearest codewords of the int8 query `x` [d] into `idx` [k] and `dist` [k];
/// `*found` (unless NULL) gets `min(k, M)`.
#[no_mangle]
pub unsafe extern "C" fn fvae_codebook_i8_top_k(
    cb: *const FvaeCodebookI8,
    x: *const i8,
    x_len: usize,
    k: usize,
    idx: *mut u32,
    dist: *mut u32,
    found: *mut usize,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { vq_top_k::<CbI8>(cb, x, x_len, k, idx, dist, found) }
}

/// The `k` nearest codewords of each of the `n` int8 queries in `xs` [n*d]: `idx`, `dist`
/// `[n, k]` (`out_len` = n*k elements each); `*found` as in `fvae_codebook_i8_top_k`.
#[no_mangle]
pub unsafe extern "C" fn fvae_codebook_i8_top_k_batch(
    cb: *const FvaeCodebookI8,
    xs: *const i8,
    xs_len: usize,
    k: usize,
    idx: *mut u32,
    dist: *mut u32,
    out_len: usize,
    found: *mut usize,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { vq_top_k_batch::<CbI8>(cb, xs, xs_len, k, idx, dist, out_len, found) }
}

/// Nearest codewords of the `n` int8 queries in `xs` [n*d]: `idx` [n], `dist` [n].
#[no_mangle]
pub unsafe extern "C" fn fvae_codebook_i8_nearest_batch(
    cb: *const FvaeCodebookI8,
    xs: *const i8,
    xs_len: usize,
    idx: *mut u32,
    dist: *mut u32,
    n: usize,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { vq_top_k_batch::<CbI8>(cb, xs, xs_len, 1, idx, dist, n, ptr::null_mut()) }
}

/// Bytes of storage a codebook **view** needs (`fvae_codebook_view*`, `fvae_codebook_i8_view*`,
/// `fvae_rvq_view*`): the handle only, the same for every size.
#[no_mangle]
pub extern "C" fn fvae_vq_view_size() -> usize {
    vq_size::<Cb>(&[]).max(vq_size::<CbI8>(&[])).max(vq_size::<Rvq>(&[]))
}

/// As `fvae_codebook_init`, but the codewords are read in place (a codebook in flash costs no RAM):
/// `storage` needs only `fvae_vq_view_size()` bytes, and `data` must stay valid and unmodified while
/// the handle is used.
#[no_mangle]
pub unsafe extern "C" fn fvae_codebook_view(
    storage: *mut c_void,
    storage_len: usize,
    m: usize,
    d: usize,
    data: *const f32,
    out: *mut *mut FvaeCodebook,
) -> i32 {
    // SAFETY: forwarded contract; `data` outlives the handle.
    unsafe { vq_init_raw::<Cb>(storage, storage_len, &[m, d], data, d, false, out) }
}

/// As `fvae_codebook_init_safetensors`, but the codewords are read in place from the 4-aligned
/// buffer, which must stay valid and unmodified while the handle is used (`fvae_vq_view_size()`
/// bytes of storage).
#[no_mangle]
pub unsafe extern "C" fn fvae_codebook_view_safetensors(
    storage: *mut c_void,
    storage_len: usize,
    bytes: *const u8,
    bytes_len: usize,
    out: *mut *mut FvaeCodebook,
) -> i32 {
    // SAFETY: forwarded contract; the buffer outlives the handle.
    unsafe { vq_init_file::<Cb>(storage, storage_len, bytes, bytes_len, false, out) }
}

/// As `fvae_codebook_i8_init`, but the codewords are read in place (see `fvae_codebook_view`).
#[no_mangle]
pub unsafe extern "C" fn fvae_codebook_i8_view(
    storage: *mut c_void,
    storage_len: usize,
    m: usize,
    d: usize,
    data: *const i8,
    scale: f32,
    out: *mut *mut FvaeCodebookI8,
) -> i32 {
    // SAFETY: forwarded contract; `data` outlives the handle.
    unsafe { vq_init_raw::<CbI8>(storage, storage_len, &[m, d], data, (d, scale), false, out) }
}

/// As `fvae_codebook_i8_init_safetensors`, but the codewords are read in place from the buffer
/// (see `fvae_codebook_view_safetensors`).
#[no_mangle]
pub unsafe extern "C" fn fvae_codebook_i8_view_safetensors(
    storage: *mut c_void,
    storage_len: usize,
    bytes: *const u8,
    bytes_len: usize,
    out: *mut *mut FvaeCodebookI8,
) -> i32 {
    // SAFETY: forwarded contract; the buffer outlives the handle.
    unsafe { vq_init_file::<CbI8>(storage, storage_len, bytes, bytes_len, false, out) }
}

/// Reads `s`, `m` and `d` of the `codebooks` tensor (f32 `[S, M, D]`) in a `.safetensors` buffer.
#[no_mangle]
pub unsafe extern "C" fn fvae_rvq_safetensors_dims(
    bytes: *const u8,
    bytes_len: usize,
    s: *mut usize,
    m: *mut usize,
    d: *mut usize,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { file_dims(bytes, bytes_len, "codebooks", [s, m, d]) }
}

/// A residual VQ from `data` [s*m*d] (S stages of `[M, D]`, row-major), copied into `storage`
/// (`fvae_rvq_size(s, m, d)` bytes, `FVAE_ALIGN`-aligned).
#[no_mangle]
pub unsafe extern "C" fn fvae_rvq_init(
    storage: *mut c_void,
    storage_len: usize,
    s: usize,
    m: usize,
    d: usize,
    data: *const f32,
    out: *mut *mut FvaeRvq,
) -> i32 {
    // SAFETY: forwarded contract (the array is copied).
    unsafe { vq_init_raw::<Rvq>(storage, storage_len, &[s, m, d], data, (s, d), true, out) }
}

/// A residual VQ from the `codebooks` tensor (f32 `[S, M, D]`) of a 4-aligned `.safetensors`
/// buffer, copied into `storage` (`fvae_rvq_size(s, m, d)` bytes).
#[no_mangle]
pub unsafe extern "C" fn fvae_rvq_init_safetensors(
    storage: *mut c_void,
    storage_len: usize,
    bytes: *const u8,
    bytes_len: usize,
    out: *mut *mut FvaeRvq,
) -> i32 {
    // SAFETY: forwarded contract (the codebooks are copied).
    unsafe { vq_init_file::<Rvq>(storage, storage_len, bytes, bytes_len, true, out) }
}

/// As `fvae_rvq_init`, but the codebooks are read in place (see `fvae_codebook_view`).
#[no_mangle]
pub unsafe extern "C" fn fvae_rvq_view(
    storage: *mut c_void,
    storage_len: usize,
    s: usize,
    m: usize,
    d: usize,
    data: *const f32,
    out: *mut *mut FvaeRvq,
) -> i32 {
    // SAFETY: forwarded contract; `data` outlives the handle.
    unsafe { vq_init_raw::<Rvq>(storage, storage_len, &[s, m, d], data, (s, d), false, out) }
}

/// As `fvae_rvq_init_safetensors`, but the codebooks are read in place from the 4-aligned buffer
/// (see `fvae_codebook_view_safetensors`).
#[no_mangle]
pub unsafe extern "C" fn fvae_rvq_view_safetensors(
    storage: *mut c_void,
    storage_len: usize,
    bytes: *const u8,
    bytes_len: usize,
    out: *mut *mut FvaeRvq,
) -> i32 {
    // SAFETY: forwarded contract; the buffer outlives the handle.
    unsafe { vq_init_file::<Rvq>(storage, storage_len, bytes, bytes_len, false, out) }
}

/// Stages, codewords per stage and dimension (any out-pointer may be NULL).
#[no_mangle]
pub unsafe extern "C" fn fvae_rvq_dims(rvq: *const FvaeRvq, s: *mut usize, m: *mut usize, d: *mut usize) -> i32 {
    code((|| {
        // SAFETY: handle contract of `object`.
        let rvq = unsafe { vq_ref::<Rvq>(rvq)? };
        // SAFETY: optional writable slots.
        unsafe { (put(s, rvq.stages()), put(m, rvq.m()), put(d, rvq.d())) };
        Ok(())
    })())
}

/// Greedy encoding of the `n` queries in `xs` [xs_len = n*d] into `codes` [codes_len = n*s]
/// (row i holds query i's S indices). `residual` [d] is scratch and ends holding the last
/// query's unexplained part, `x - decode(codes)`. One query is n = 1.
#[no_mangle]
pub unsafe extern "C" fn fvae_rvq_encode(
    rvq: *const FvaeRvq,
    xs: *const f32,
    xs_len: usize,
    codes: *mut u32,
    codes_len: usize,
    residual: *mut f32,
    residual_len: usize,
) -> i32 {
    code((|| {
        // SAFETY: handle and array contracts documented above.
        let (rvq, xs, codes, residual) = unsafe {
            (
                vq_ref::<Rvq>(rvq)?,
                c_slice(xs, xs_len)?,
                c_slice_mut(codes, codes_len)?,
                c_slice_mut(residual, residual_len)?,
            )
        };
        if xs.is_empty() || residual.len() != rvq.d() {
            return Err(FVAE_ERR_SHAPE);
        }
        rvq.encode_batch(xs, codes, residual).map_err(status_of)
    })())
}

/// Decodes `codes` [codes_len = n*s] (each row summed over the stages) into `out` [out_len = n*d].
/// An index not below M is `FVAE_ERR_VALUE`.
#[no_mangle]
pub unsafe extern "C" fn fvae_rvq_decode(
    rvq: *const FvaeRvq,
    codes: *const u32,
    codes_len: usize,
    out: *mut f32,
    out_len: usize,
) -> i32 {
    code((|| {
        // SAFETY: handle and array contracts documented above.
        let (rvq, codes, out) =
            unsafe { (vq_ref::<Rvq>(rvq)?, c_slice(codes, codes_len)?, c_slice_mut(out, out_len)?) };
        if codes.is_empty() {
            return Err(FVAE_ERR_SHAPE);
        }
        rvq.decode_batch(codes, out).map_err(status_of)
    })())
}

// ---------------------------------------------------------------------------------------------
// int8 networks from .tflite buffers. The model buffer is read in place (not copied): the caller
// keeps it alive and unmodified, as well as the arena given to fvae_net_prepare.

/// Most dimensions a network tensor has (`FvaeTensorInfo::dims`).
pub const FVAE_MAX_RANK: usize = 6;
const _: () = assert!(FVAE_MAX_RANK == fvae::nn::MAX_RANK);

/// Tensor element type code (TFLite's `TensorType`): float32.
pub const FVAE_TENSOR_FLOAT32: u32 = 0;
/// Tensor element type code (TFLite's `TensorType`): int8.
pub const FVAE_TENSOR_INT8: u32 = 9;

/// An int8 network (subgraph 0 of a `.tflite` model) living in caller storage (opaque).
pub struct FvaeNet {
    _opaque: [u8; 0],
}

/// A graph input or output: element type, shape and quantisation.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct FvaeTensorInfo {
    /// TFLite element type code (`FVAE_TENSOR_INT8`, `FVAE_TENSOR_FLOAT32`, ...).
    pub dtype: u32,
    /// Number of dimensions (the first `rank` entries of `dims`).
    pub rank: u32,
    /// The shape.
    pub dims: [usize; FVAE_MAX_RANK],
    /// Number of elements.
    pub len: usize,
    /// `real = scale * (q - zero_point)` (0 for float tensors).
    pub scale: f32,
    /// The zero point.
    pub zero_point: i32,
}

const NET_MAGIC: u32 = 0x6676_6e31; // "fvn1"

/// The whole network object: the validated network, and once an arena is attached, an
/// interpreter borrowing it (self-referential: valid because the storage never moves).
#[repr(C)]
struct NetObj {
    magic: u32,
    net: Network<'static>,
    interp: Option<Interpreter<'static, 'static>>,
}

const _: () = assert!(align_of::<NetObj>() <= FVAE_ALIGN);

/// Bytes of storage a network handle needs (the same for every model; the model's own memory
/// needs are `fvae_net_arena_size`).
#[no_mangle]
pub extern "C" fn fvae_net_size() -> usize {
    header_len(size_of::<NetObj>())
}

/// Parses and validates the `.tflite` model in `model` [model_len bytes, any alignment] into
/// `storage` (`fvae_net_size()` bytes, `FVAE_ALIGN`-aligned). The model is read in place: keep it
/// alive and unmodified while the handle is used. An operator, type or option fvae does not
/// implement is `FVAE_ERR_UNSUPPORTED`; malformed bytes are `FVAE_ERR_FORMAT`.
#[no_mangle]
pub unsafe extern "C" fn fvae_net_init(
    storage: *mut c_void,
    storage_len: usize,
    model: *const u8,
    model_len: usize,
    out: *mut *mut FvaeNet,
) -> i32 {
    code((|| {
        if out.is_null() || model.is_null() {
            return Err(FVAE_ERR_NULL);
        }
        let storage = check_storage(storage, storage_len, fvae_net_size())?;
        // SAFETY: the caller gives model_len readable bytes that outlive the handle.
        let bytes: &'static [u8] = unsafe { c_slice(model, model_len)? };
        let net = Network::new(bytes).map_err(status_of)?;
        // SAFETY: checked storage, non-null out.
        unsafe { publish(storage, NetObj { magic: NET_MAGIC, net, interp: None }, out) };
        Ok(())
    })())
}

/// The network object behind a handle, as a raw pointer after the checks of `object`.
///
/// # Safety
/// As [`object`].
unsafe fn net_obj(h: *const FvaeNet) -> Status<*mut NetObj> {
    // SAFETY: forwarded contract.
    unsafe { checked::<NetObj>(h.cast(), NET_MAGIC) }
}

/// The prepared interpreter of a network handle.
///
/// # Safety
/// As [`object`]; no other reference to the interpreter is live during the call.
unsafe fn interp<'a>(h: *const FvaeNet) -> Status<&'a mut Interpreter<'static, 'static>> {
    // SAFETY: the handle was checked; only the `interp` field is borrowed mutably, disjoint from
    // the `net` field the interpreter itself borrows.
    unsafe { (*ptr::addr_of_mut!((*net_obj(h)?).interp)).as_mut() }.ok_or(FVAE_ERR_STATE)
}

/// Bytes of arena `fvae_net_prepare` needs for this model (any alignment).
#[no_mangle]
pub unsafe extern "C" fn fvae_net_arena_size(net: *const FvaeNet, bytes: *mut usize) -> i32 {
    code((|| {
        // SAFETY: handle contract.
        let o = unsafe { net_obj(net)? };
        if bytes.is_null() {
            return Err(FVAE_ERR_NULL);
        }
        // SAFETY: the `net` field is only ever borrowed shared; `bytes` is non-null and writable.
        unsafe { bytes.write((*o).net.required_arena()) };
        Ok(())
    })())
}

/// Attaches `arena` (at least `fvae_net_arena_size` bytes, any alignment; alive and unmoved while
/// the handle is used) and precomputes each operator's constants into it. Calling it again
/// replaces the arena (inputs must be written again).
#[no_mangle]
pub unsafe extern "C" fn fvae_net_prepare(net: *mut FvaeNet, arena: *mut c_void, arena_len: usize) -> i32 {
    code((|| {
        // SAFETY: handle contract.
        let o = unsafe { net_obj(net)? };
        if arena.is_null() {
            return Err(FVAE_ERR_NULL);
        }
        // SAFETY: the caller gives arena_len writable bytes that outlive the handle.
        let arena: &'static mut [u8] = unsafe { c_slice_mut(arena.cast::<u8>(), arena_len)? };
        // SAFETY: the old interpreter (if any) is dropped first; the network lives in the unmoved
        // storage for as long as the handle, so a 'static borrow of it is sound by contract.
        unsafe {
            let slot = ptr::addr_of_mut!((*o).interp);
            *slot = None;
            let net: &'static Network<'static> = &*ptr::addr_of!((*o).net);
            *slot = Some(net.interpreter(arena).map_err(status_of)?);
        }
        Ok(())
    })())
}

fn tensor_info(t: fvae::nn::TensorInfo) -> FvaeTensorInfo {
    use fvae::formats::tflite::TensorType as T;
    let dtype = match t.dtype {
        T::Float32 => 0,
        T::Int32 => 2,
        T::UInt8 => 3,
        T::Int64 => 4,
        T::Int16 => 7,
        T::Int8 => 9,
        T::Other(c) => c as u8 as u32,
    };
    FvaeTensorInfo { dtype, rank: t.rank as u32, dims: t.dims, len: t.len, scale: t.scale, zero_point: t.zero_point }
}

/// Describes graph input `index` (`output` = 0) or output `index` (`output` != 0) into `*info`.
/// An index past the last is `FVAE_ERR_MISSING`.
#[no_mangle]
pub unsafe extern "C" fn fvae_net_tensor_info(
    net: *const FvaeNet,
    output: u32,
    index: usize,
    info: *mut FvaeTensorInfo,
) -> i32 {
    code((|| {
        // SAFETY: handle contract.
        let o = unsafe { net_obj(net)? };
        if info.is_null() {
            return Err(FVAE_ERR_NULL);
        }
        if !info.is_aligned() {
            return Err(FVAE_ERR_MISALIGNED);
        }
        // SAFETY: the `net` field is only ever borrowed shared.
        let n = unsafe { &(*o).net };
        let t = if output != 0 { n.output(index) } else { n.input(index) }.map_err(status_of)?;
        // SAFETY: non-null, aligned, writable per the caller's contract.
        unsafe { info.write(tensor_info(t)) };
        Ok(())
    })())
}

/// Copies `x` [len] into int8 graph input `index` (`len` must be its element count).
/// Needs `fvae_net_prepare` first (`FVAE_ERR_STATE`); a float input is `FVAE_ERR_DTYPE`.
#[no_mangle]
pub unsafe extern "C" fn fvae_net_set_input_i8(net: *mut FvaeNet, index: usize, x: *const i8, len: usize) -> i32 {
    code((|| {
        // SAFETY: handle and array contracts documented above.
        let (it, x) = unsafe { (interp(net)?, c_slice(x, len)?) };
        let input = it.input_i8_mut(index).map_err(status_of)?;
        if input.len() != x.len() {
            return Err(FVAE_ERR_SHAPE);
        }
        input.copy_from_slice(x);
        Ok(())
    })())
}

/// Writes float graph input `index` from `x` [len] (models that start with QUANTIZE).
#[no_mangle]
pub unsafe extern "C" fn fvae_net_set_input_f32(net: *mut FvaeNet, index: usize, x: *const f32, len: usize) -> i32 {
    code((|| {
        // SAFETY: handle and array contracts documented above.
        let (it, x) = unsafe { (interp(net)?, c_slice(x, len)?) };
        it.set_input_f32(index, x).map_err(status_of)
    })())
}

/// Runs every operator (bit-exact with TFLite Micro). Inputs must have been written.
#[no_mangle]
pub unsafe extern "C" fn fvae_net_invoke(net: *mut FvaeNet) -> i32 {
    code((|| {
        // SAFETY: handle contract.
        unsafe { interp(net)? }.invoke().map_err(status_of)
    })())
}

/// Copies int8 graph output `index` into `out` [len] (`len` must be its element count).
#[no_mangle]
pub unsafe extern "C" fn fvae_net_get_output_i8(net: *const FvaeNet, index: usize, out: *mut i8, len: usize) -> i32 {
    code((|| {
        // SAFETY: handle and array contracts documented above (the interpreter is only read).
        let (it, out) = unsafe { (interp(net)?, c_slice_mut(out, len)?) };
        let o = it.output_i8(index).map_err(status_of)?;
        if o.len() != out.len() {
            return Err(FVAE_ERR_SHAPE);
        }
        out.copy_from_slice(o);
        Ok(())
    })())
}

/// Copies float graph output `index` into `out` [len] (models that end with DEQUANTIZE).
#[no_mangle]
pub unsafe extern "C" fn fvae_net_get_output_f32(net: *const FvaeNet, index: usize, out: *mut f32, len: usize) -> i32 {
    code((|| {
        // SAFETY: handle and array contracts documented above (the interpreter is only read).
        let (it, out) = unsafe { (interp(net)?, c_slice_mut(out, len)?) };
        it.output_f32(index, out).map_err(status_of)
    })())
}

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

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // No panic is reachable from the API (every input is checked); if one were, abort through
    // the C runtime (newlib's abort) rather than spin or unwind into C.
    extern "C" {
        fn abort() -> !;
    }
    // SAFETY: abort takes no arguments and never returns.
    unsafe { abort() }
}
