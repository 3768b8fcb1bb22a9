//! C API of fvae: GMM scoring, Fisher vectors, vector quantisation (f32 and int8 codebooks,
//! residual VQ), int8 `.tflite` networks and the VQ-VAE codec over caller memory, no malloc.
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

// cbindgen writes include/fvae.h in the order it reads items: module by module as declared here
// (one per block, so that rustfmt keeps the order), each module's items in source order. The
// header must not change when code moves, so `message` (fvae_status_message, the header's last
// function) comes last. The modules are public so that rustc counts their C items (constants only
// the header uses included) as used.

// Status codes and the mapping from `fvae::Error`.
pub mod status;

// Storage, handle and C-array checks every object uses.
pub mod storage;

// GMM scoring and the Fisher-vector accumulator.
pub mod gmm;

// f32 and int8 codebooks, residual VQ.
pub mod vq;

// int8 `.tflite` networks.
pub mod nn;

// The VQ-VAE codec: encoder, decoder and packed indices.
pub mod vqvae;
// The kernels' instruction-set paths.
pub mod cpu;

// fvae_status_message.
pub mod message;

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
