//! The VQ-VAE codec: an encoder (an int8 network and an f32 or int8 codebook: a signal in, one
//! codeword index per latent vector out), a decoder (an f32 codebook and an int8 network: indices
//! in, the signal out), and the radio format between them, indices packed at `ceil(log2 M)` bits
//! each, least significant bit first (`fvae::vqvae::pack_indices`).
//!
//! An encoder or decoder borrows a network handle's validated model (`fvae_net_init`; it need not
//! be prepared) and a codebook handle, and runs in its own caller arena: all of them stay alive
//! and unmoved while it is used.

use crate::nn::{network_ref, FvaeNet};
use crate::status::{code, status_of, Status, FVAE_ERR_NULL, FVAE_ERR_SHAPE};
use crate::storage::{c_slice, c_slice_mut, check_storage, checked_mut, header_len, object, publish, put, FVAE_ALIGN};
use crate::vq::{codebook_i8_ref, codebook_ref, FvaeCodebook, FvaeCodebookI8};
use core::ffi::c_void;
use core::mem::{align_of, size_of};
use fvae::nn::Network;
use fvae::vqvae::{VqVaeDecoder, VqVaeEncoder, VqVaeEncoderI8};

/// A VQ-VAE encoder (network, codebook, arena) living in caller storage (opaque).
pub struct FvaeVqVaeEncoder {
    _opaque: [u8; 0],
}

/// A VQ-VAE decoder (codebook, network, arena) living in caller storage (opaque).
pub struct FvaeVqVaeDecoder {
    _opaque: [u8; 0],
}

const ENCODER_MAGIC: u32 = 0x6676_6531; // "fve1"
const DECODER_MAGIC: u32 = 0x6676_6431; // "fvd1"

/// The encoder with either codebook (`fvae_vqvae_encoder_init` or `fvae_vqvae_encoder_i8_init`).
enum AnyEncoder {
    F32(VqVaeEncoder<'static, 'static>),
    I8(VqVaeEncoderI8<'static, 'static, 'static>),
}

#[repr(C)]
struct EncoderObj {
    magic: u32,
    enc: AnyEncoder,
}

#[repr(C)]
struct DecoderObj {
    magic: u32,
    dec: VqVaeDecoder<'static, 'static, 'static>,
}

const _: () = assert!(align_of::<EncoderObj>() <= FVAE_ALIGN && align_of::<DecoderObj>() <= FVAE_ALIGN);

/// Bytes of storage an encoder handle needs (the same for every model).
#[no_mangle]
pub extern "C" fn fvae_vqvae_encoder_size() -> usize {
    header_len(size_of::<EncoderObj>())
}

/// Bytes of storage a decoder handle needs (the same for every model).
#[no_mangle]
pub extern "C" fn fvae_vqvae_decoder_size() -> usize {
    header_len(size_of::<DecoderObj>())
}

/// What both encoder inits share: the checks of storage, network, arena and latent, then `make`.
///
/// # Safety
/// As `fvae_vqvae_encoder_init`.
#[allow(clippy::too_many_arguments)]
unsafe fn encoder_init(
    storage: *mut c_void,
    storage_len: usize,
    net: *const FvaeNet,
    arena: *mut c_void,
    arena_len: usize,
    latent: *mut f32,
    latent_len: usize,
    out: *mut *mut FvaeVqVaeEncoder,
    make: impl FnOnce(&'static Network<'static>, &'static mut [u8], &'static mut [f32]) -> Status<AnyEncoder>,
) -> i32 {
    code((|| {
        if out.is_null() || arena.is_null() || latent.is_null() {
            return Err(FVAE_ERR_NULL);
        }
        let storage = check_storage(storage, storage_len, fvae_vqvae_encoder_size())?;
        // SAFETY: the caller gives a network handle, arena_len writable bytes and latent_len
        // writable floats, all outliving the encoder.
        let (net, arena, latent) = unsafe {
            (network_ref(net)?, c_slice_mut(arena.cast::<u8>(), arena_len)?, c_slice_mut(latent, latent_len)?)
        };
        let enc = make(net, arena, latent)?;
        // SAFETY: checked storage, non-null out.
        unsafe { publish(storage, EncoderObj { magic: ENCODER_MAGIC, enc }, out) };
        Ok(())
    })())
}

/// Makes an encoder in `storage` (`fvae_vqvae_encoder_size()` bytes, `FVAE_ALIGN`-aligned) from the
/// encoder network `net` and the f32 codebook `cb`, running in `arena` (at least
/// `fvae_net_arena_size(net)` bytes, any alignment); `latent` [latent_len, at least the network
/// output's length L c] receives each dequantised latent. The network's output must be
/// `[1, h, w, c]` or `[1, L c]` with `c` the codebook's `d` (else `FVAE_ERR_SHAPE`).
#[no_mangle]
pub unsafe extern "C" fn fvae_vqvae_encoder_init(
    storage: *mut c_void,
    storage_len: usize,
    net: *const FvaeNet,
    cb: *const FvaeCodebook,
    arena: *mut c_void,
    arena_len: usize,
    latent: *mut f32,
    latent_len: usize,
    out: *mut *mut FvaeVqVaeEncoder,
) -> i32 {
    // SAFETY: forwarded contract; the codebook handle outlives the encoder.
    unsafe {
        encoder_init(storage, storage_len, net, arena, arena_len, latent, latent_len, out, |net, arena, latent| {
            let cb = *codebook_ref(cb)?;
            VqVaeEncoder::new(net, arena, latent, cb).map(AnyEncoder::F32).map_err(status_of)
        })
    }
}

/// As `fvae_vqvae_encoder_init` with an int8 codebook on the encoder output's own grid: the exact
/// integer nearest-codeword search on the network's int8 output. A codebook scale other than the
/// output's is `FVAE_ERR_VALUE`, an output zero point other than 0 `FVAE_ERR_UNSUPPORTED`.
#[no_mangle]
pub unsafe extern "C" fn fvae_vqvae_encoder_i8_init(
    storage: *mut c_void,
    storage_len: usize,
    net: *const FvaeNet,
    cb: *const FvaeCodebookI8,
    arena: *mut c_void,
    arena_len: usize,
    latent: *mut f32,
    latent_len: usize,
    out: *mut *mut FvaeVqVaeEncoder,
) -> i32 {
    // SAFETY: forwarded contract; the codebook handle outlives the encoder.
    unsafe {
        encoder_init(storage, storage_len, net, arena, arena_len, latent, latent_len, out, |net, arena, latent| {
            let cb = *codebook_i8_ref(cb)?;
            VqVaeEncoderI8::new(net, arena, latent, cb).map(AnyEncoder::I8).map_err(status_of)
        })
    }
}

/// The encoder object behind a handle.
///
/// # Safety
/// As `crate::storage::checked`; no other reference to the object is live during the borrow.
unsafe fn encoder<'a>(h: *mut FvaeVqVaeEncoder) -> Status<&'a mut AnyEncoder> {
    // SAFETY: the magic says an encoder init wrote an EncoderObj there.
    Ok(unsafe { &mut (*checked_mut::<EncoderObj>(h.cast(), ENCODER_MAGIC)?).enc })
}

/// The encoder object behind a handle, shared: for the read-only functions (a `const` handle).
///
/// # Safety
/// As `crate::storage::object`.
unsafe fn encoder_ref<'a>(h: *const FvaeVqVaeEncoder) -> Status<&'a AnyEncoder> {
    // SAFETY: the magic says an encoder init wrote an EncoderObj there.
    Ok(unsafe { &object::<EncoderObj>(h.cast(), ENCODER_MAGIC)?.enc })
}

/// The decoder object behind a handle, shared, as [`encoder_ref`].
///
/// # Safety
/// As `crate::storage::object`.
unsafe fn decoder_ref<'a>(h: *const FvaeVqVaeDecoder) -> Status<&'a VqVaeDecoder<'static, 'static, 'static>> {
    // SAFETY: the magic says the decoder init wrote a DecoderObj there.
    Ok(unsafe { &object::<DecoderObj>(h.cast(), DECODER_MAGIC)?.dec })
}

/// The decoder object behind a handle, as [`encoder`].
///
/// # Safety
/// As [`encoder`].
unsafe fn decoder<'a>(h: *mut FvaeVqVaeDecoder) -> Status<&'a mut VqVaeDecoder<'static, 'static, 'static>> {
    // SAFETY: the magic says the decoder init wrote a DecoderObj there.
    Ok(unsafe { &mut (*checked_mut::<DecoderObj>(h.cast(), DECODER_MAGIC)?).dec })
}

/// The encoder's input length and L, its number of indices per input.
#[no_mangle]
pub unsafe extern "C" fn fvae_vqvae_encoder_dims(
    enc: *const FvaeVqVaeEncoder,
    input_len: *mut usize,
    positions: *mut usize,
) -> i32 {
    code((|| {
        // SAFETY: handle contract (only read).
        let dims = match unsafe { encoder_ref(enc)? } {
            AnyEncoder::F32(e) => (e.input_len(), e.positions()),
            AnyEncoder::I8(e) => (e.input_len(), e.positions()),
        };
        if input_len.is_null() || positions.is_null() {
            return Err(FVAE_ERR_NULL);
        }
        // SAFETY: non-null writable slots per the caller's contract.
        unsafe { (put(input_len, dims.0), put(positions, dims.1)) };
        Ok(())
    })())
}

/// Encodes the f32 input `x` [len] (quantised with the encoder input's scale and zero point) into
/// `indices` [n = L]. A wrong length is `FVAE_ERR_SHAPE`, a non-finite value `FVAE_ERR_VALUE`.
#[no_mangle]
pub unsafe extern "C" fn fvae_vqvae_encode(
    enc: *mut FvaeVqVaeEncoder,
    x: *const f32,
    len: usize,
    indices: *mut u32,
    n: usize,
) -> i32 {
    code((|| {
        // SAFETY: handle and array contracts documented above.
        let (enc, x, indices) = unsafe { (encoder(enc)?, c_slice(x, len)?, c_slice_mut(indices, n)?) };
        match enc {
            AnyEncoder::F32(e) => e.encode(x, indices),
            AnyEncoder::I8(e) => e.encode(x, indices),
        }
        .map_err(status_of)
    })())
}

/// Encodes an input already quantised with the encoder input's scale and zero point, `xq` [len],
/// into `indices` [n = L].
#[no_mangle]
pub unsafe extern "C" fn fvae_vqvae_encode_i8(
    enc: *mut FvaeVqVaeEncoder,
    xq: *const i8,
    len: usize,
    indices: *mut u32,
    n: usize,
) -> i32 {
    code((|| {
        // SAFETY: handle and array contracts documented above.
        let (enc, xq, indices) = unsafe { (encoder(enc)?, c_slice(xq, len)?, c_slice_mut(indices, n)?) };
        match enc {
            AnyEncoder::F32(e) => e.encode_quantized(xq, indices),
            AnyEncoder::I8(e) => e.encode_quantized(xq, indices),
        }
        .map_err(status_of)
    })())
}

/// Makes a decoder in `storage` (`fvae_vqvae_decoder_size()` bytes, `FVAE_ALIGN`-aligned) from the
/// f32 codebook `cb` and the decoder network `net`, running in `arena` (at least
/// `fvae_net_arena_size(net)` bytes, any alignment). The network's input must be `[1, h, w, c]` or
/// `[1, L c]` with `c` the codebook's `d` (else `FVAE_ERR_SHAPE`).
#[no_mangle]
pub unsafe extern "C" fn fvae_vqvae_decoder_init(
    storage: *mut c_void,
    storage_len: usize,
    net: *const FvaeNet,
    cb: *const FvaeCodebook,
    arena: *mut c_void,
    arena_len: usize,
    out: *mut *mut FvaeVqVaeDecoder,
) -> i32 {
    code((|| {
        if out.is_null() || arena.is_null() {
            return Err(FVAE_ERR_NULL);
        }
        let storage = check_storage(storage, storage_len, fvae_vqvae_decoder_size())?;
        // SAFETY: the caller gives network and codebook handles and arena_len writable bytes, all
        // outliving the decoder.
        let (net, cb, arena) =
            unsafe { (network_ref(net)?, *codebook_ref(cb)?, c_slice_mut(arena.cast::<u8>(), arena_len)?) };
        let dec = VqVaeDecoder::new(net, arena, cb).map_err(status_of)?;
        // SAFETY: checked storage, non-null out.
        unsafe { publish(storage, DecoderObj { magic: DECODER_MAGIC, dec }, out) };
        Ok(())
    })())
}

/// The decoder's L (indices per signal) and its output length.
#[no_mangle]
pub unsafe extern "C" fn fvae_vqvae_decoder_dims(
    dec: *const FvaeVqVaeDecoder,
    positions: *mut usize,
    output_len: *mut usize,
) -> i32 {
    code((|| {
        // SAFETY: handle contract (only read).
        let dec = unsafe { decoder_ref(dec)? };
        if positions.is_null() || output_len.is_null() {
            return Err(FVAE_ERR_NULL);
        }
        // SAFETY: non-null writable slots per the caller's contract.
        unsafe { (put(positions, dec.positions()), put(output_len, dec.output_len())) };
        Ok(())
    })())
}

/// Decodes `indices` [n = L] into `out` [len = the output length], dequantised. An index past the
/// codebook is `FVAE_ERR_VALUE`.
#[no_mangle]
pub unsafe extern "C" fn fvae_vqvae_decode(
    dec: *mut FvaeVqVaeDecoder,
    indices: *const u32,
    n: usize,
    out: *mut f32,
    len: usize,
) -> i32 {
    code((|| {
        // SAFETY: handle and array contracts documented above.
        let (dec, indices, out) = unsafe { (decoder(dec)?, c_slice(indices, n)?, c_slice_mut(out, len)?) };
        dec.decode(indices, out).map_err(status_of)
    })())
}

/// Decodes `indices` [n = L] into the decoder network's int8 output, copied to `out` [len = the
/// output length], as computed (bit-exact with TFLite Micro).
#[no_mangle]
pub unsafe extern "C" fn fvae_vqvae_decode_i8(
    dec: *mut FvaeVqVaeDecoder,
    indices: *const u32,
    n: usize,
    out: *mut i8,
    len: usize,
) -> i32 {
    code((|| {
        // SAFETY: handle and array contracts documented above.
        let (dec, indices, out) = unsafe { (decoder(dec)?, c_slice(indices, n)?, c_slice_mut(out, len)?) };
        let y = dec.decode_i8(indices).map_err(status_of)?;
        if y.len() != out.len() {
            return Err(FVAE_ERR_SHAPE);
        }
        out.copy_from_slice(y);
        Ok(())
    })())
}

/// Bytes `fvae_vqvae_pack_indices` writes for `n` indices into a codebook of `m` codewords:
/// `ceil(n ceil(log2 m) / 8)`.
#[no_mangle]
pub extern "C" fn fvae_vqvae_packed_len(n: usize, m: usize) -> usize {
    n.checked_mul(fvae::vqvae::index_bits(m) as usize).map_or(0, |bits| bits.div_ceil(8))
}

/// Packs `indices` [n] (each below `m`) into `out` [out_len], `ceil(log2 m)` bits per index,
/// least significant bit first; the last byte's unused bits are 0. `*written` (unless NULL) gets
/// the byte count, `fvae_vqvae_packed_len(n, m)`. An index `>= m` is `FVAE_ERR_VALUE`; a short
/// `out` is `FVAE_ERR_BUFFER_TOO_SMALL`.
#[no_mangle]
pub unsafe extern "C" fn fvae_vqvae_pack_indices(
    indices: *const u32,
    n: usize,
    m: usize,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> i32 {
    code((|| {
        // SAFETY: the caller gives n readable indices and out_len writable bytes.
        let (indices, out) = unsafe { (c_slice(indices, n)?, c_slice_mut(out, out_len)?) };
        let len = fvae::vqvae::pack_indices(indices, m, out).map_err(status_of)?;
        if !written.is_null() {
            // SAFETY: non-null; the caller gives a writable size_t.
            unsafe { written.write(len) };
        }
        Ok(())
    })())
}

/// Unpacks `n` indices from `bytes` [len] (exactly `fvae_vqvae_packed_len(n, m)` bytes, else
/// `FVAE_ERR_SHAPE`) into `out` [n]. An index `>= m` is `FVAE_ERR_VALUE`.
#[no_mangle]
pub unsafe extern "C" fn fvae_vqvae_unpack_indices(
    bytes: *const u8,
    len: usize,
    m: usize,
    out: *mut u32,
    n: usize,
) -> i32 {
    code((|| {
        // SAFETY: the caller gives len readable bytes and n writable indices.
        let (bytes, out) = unsafe { (c_slice(bytes, len)?, c_slice_mut(out, n)?) };
        fvae::vqvae::unpack_indices(bytes, m, out).map_err(status_of)
    })())
}
