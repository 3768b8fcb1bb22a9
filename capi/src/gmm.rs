//! Diagonal GMMs (`fvae_gmm_*`) and streaming Fisher-vector accumulators (`fvae_fisher_*`). GMM
//! parameters are copied into the GMM's storage; an accumulator keeps its sums in its own.

use crate::status::{
    code, status_of, Status, FVAE_ERR_INVALID_ARGUMENT, FVAE_ERR_MISALIGNED, FVAE_ERR_NULL, FVAE_ERR_SHAPE,
    FVAE_ERR_VALUE,
};
use crate::storage::{
    c_slice, c_slice_mut, check_storage, checked_mut, file_dims, header_len, object, publish, region, FVAE_ALIGN,
};
use core::ffi::c_void;
use core::mem::{align_of, size_of};
use core::ptr;
use fvae::fisher::{FisherAccumulator, FisherOptions, Layout, Normalization};
use fvae::formats::safetensors::SafeTensors;
use fvae::gmm::{Assignment, DiagGmm};

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

fn gmm_floats(k: usize, d: usize) -> Option<usize> {
    // weights [K], means [K, D], constants [DiagGmm::constants_len: at most 2 K D + 3 K].
    let kd = k.checked_mul(d)?;
    kd.checked_mul(3)?.checked_add(k.checked_mul(4)?)
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
        let options = FisherOptions::DEFAULT
            .with_assignment(if o.hard != 0 { Assignment::Hard } else { Assignment::Soft { threshold: o.threshold } })
            .with_compensated(o.compensated != 0);
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
    Ok(unsafe { &mut (*checked_mut::<FisherObj>(h.cast::<c_void>(), FISHER_MAGIC)?).acc })
}

/// The accumulator behind a handle, shared: for the functions that only read it, so a `const`
/// handle never becomes a `&mut`.
///
/// # Safety
/// A non-null, aligned `h` points at least at the header of storage the caller owns, and no
/// exclusive reference to that object is live during the call.
unsafe fn fisher_ref<'a>(h: *const FvaeFisher) -> Status<&'a FisherAccumulator<'static, 'static>> {
    // SAFETY: the magic says fvae_fisher_init wrote a FisherObj there; sharing per the contract.
    Ok(&unsafe { object::<FisherObj>(h.cast::<c_void>(), FISHER_MAGIC)? }.acc)
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
        let (d, s) = unsafe { (fisher_mut(dst)?, fisher_ref(src)?) };
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
        // SAFETY: handle contract of fisher_ref.
        let acc = unsafe { fisher_ref(fisher)? };
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
        let (acc, out) = unsafe { (fisher_ref(fisher)?, c_slice_mut(out, out_len)?) };
        acc.finish(layout, norm, out).map_err(status_of)
    })())
}
