//! int8 networks from .tflite buffers. The model buffer is read in place (not copied): the caller
//! keeps it alive and unmodified, as well as the arena given to fvae_net_prepare.

use crate::status::{code, status_of, Status, FVAE_ERR_MISALIGNED, FVAE_ERR_NULL, FVAE_ERR_SHAPE, FVAE_ERR_STATE};
use crate::storage::{c_slice, c_slice_mut, check_storage, checked, checked_mut, header_len, publish, FVAE_ALIGN};
use core::ffi::c_void;
use core::mem::{align_of, size_of};
use core::ptr;
use fvae::nn::{Interpreter, Network};

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
unsafe fn net_obj(h: *const FvaeNet) -> Status<*const NetObj> {
    // SAFETY: forwarded contract.
    unsafe { checked::<NetObj>(h.cast(), NET_MAGIC) }
}

/// [`net_obj`] for a `*mut` handle, writable.
///
/// # Safety
/// As [`object`].
unsafe fn net_obj_mut(h: *mut FvaeNet) -> Status<*mut NetObj> {
    // SAFETY: forwarded contract.
    unsafe { checked_mut::<NetObj>(h.cast(), NET_MAGIC) }
}

/// The validated network of a handle, for objects that run it in their own arena (the VQ-VAE codec).
///
/// # Safety
/// As [`object`]; the handle's storage outlives the returned borrow.
pub(crate) unsafe fn network_ref(h: *const FvaeNet) -> Status<&'static Network<'static>> {
    // SAFETY: the `net` field is only ever borrowed shared; the storage outlives the borrow by contract.
    Ok(unsafe { &*ptr::addr_of!((*net_obj(h)?).net) })
}

/// The prepared interpreter of a network handle.
///
/// # Safety
/// As [`object`]; no other reference to the interpreter is live during the call.
unsafe fn interp<'a>(h: *mut FvaeNet) -> Status<&'a mut Interpreter<'static, 'static>> {
    // SAFETY: the handle was checked; only the `interp` field is borrowed mutably, disjoint from
    // the `net` field the interpreter itself borrows.
    unsafe { (*ptr::addr_of_mut!((*net_obj_mut(h)?).interp)).as_mut() }.ok_or(FVAE_ERR_STATE)
}

/// The prepared interpreter of a network handle, shared: for the functions that only read it,
/// so a `const` handle never becomes a `&mut`.
///
/// # Safety
/// As [`object`]; no exclusive reference to the interpreter is live during the call.
unsafe fn interp_ref<'a>(h: *const FvaeNet) -> Status<&'a Interpreter<'static, 'static>> {
    // SAFETY: the handle was checked; the `interp` field is only borrowed shared here.
    unsafe { (*ptr::addr_of!((*net_obj(h)?).interp)).as_ref() }.ok_or(FVAE_ERR_STATE)
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
        let o = unsafe { net_obj_mut(net)? };
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
        let (it, out) = unsafe { (interp_ref(net)?, c_slice_mut(out, len)?) };
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
        let (it, out) = unsafe { (interp_ref(net)?, c_slice_mut(out, len)?) };
        it.output_f32(index, out).map_err(status_of)
    })())
}
