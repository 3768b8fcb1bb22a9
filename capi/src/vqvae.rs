//! The VQ-VAE codec's radio format: codeword indices packed at `ceil(log2 M)` bits each, least
//! significant bit first (`fvae::vqvae::pack_indices`). The encoder and decoder networks run through
//! the `fvae_net_*` functions.

use crate::status::{code, status_of};
use crate::storage::{c_slice, c_slice_mut};

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
