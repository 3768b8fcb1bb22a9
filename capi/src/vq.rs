//! Vector quantisation: f32 and int8 codebooks, residual VQ. Codewords are copied into the
//! storage, as a GMM's parameters are. The three objects differ only in what `VqKind` and `Search`
//! name, so each operation below is one generic function and every exported symbol forwards to it.

use crate::status::{code, status_of, Status, FVAE_ERR_NULL, FVAE_ERR_SHAPE};
use crate::storage::{
    c_slice, c_slice_mut, check_storage, file_dims, header_len, object, publish, put, region, tensor_dims, FVAE_ALIGN,
};
use core::ffi::c_void;
use core::mem::{align_of, size_of};
use core::ptr;
use fvae::formats::safetensors::SafeTensors;
use fvae::vq::{Codebook, CodebookI8, ResidualVq};

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

/// The f32 codebook behind a handle, for the objects that keep one (the VQ-VAE codec).
///
/// # Safety
/// As [`object`].
pub(crate) unsafe fn codebook_ref<'a>(h: *const FvaeCodebook) -> Status<&'a Cb> {
    // SAFETY: forwarded contract.
    unsafe { vq_ref::<Cb>(h) }
}

/// The int8 codebook behind a handle, as [`codebook_ref`].
///
/// # Safety
/// As [`object`].
pub(crate) unsafe fn codebook_i8_ref<'a>(h: *const FvaeCodebookI8) -> Status<&'a CbI8> {
    // SAFETY: forwarded contract.
    unsafe { vq_ref::<CbI8>(h) }
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
