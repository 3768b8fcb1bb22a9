//! An on-sensor VQ-VAE encoder for Cortex-M (M4F, M7, M0): digits in, 12 bytes each out.
//!
//! The device holds the int8 encoder of the digits VQ-VAE (tests/data/vqvae/g4_m64: 8x8 pixels -> a 4x4
//! grid of 4-value latents) and its int8 codebook (M = 64) in flash and reads both in place; 64 test
//! digits, also in flash, stand in for a sensor. Each digit is encoded as it "arrives": quantised, run
//! through the network (bit-exact with TFLite Micro), each latent vector replaced by its nearest codeword
//! (the exact integer search), and the 16 indices packed at 6 bits into the 12 bytes a radio would send
//! (instead of 64 floats). Every digit's indices are checked against the host's (`test_indices.npy`); the
//! exit code is the verdict. Logging is defmt over semihosting.
//!
//! RAM: the encoder's arena (a 2 KiB static) and the latent on the stack; the rest stays in flash.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use defmt_semihosting as _;
use fvae::formats::{npy::Npy, safetensors::SafeTensors, Aligned};
use fvae::nn::Network;
use fvae::vq::CodebookI8;
use fvae::vqvae::{pack_indices, packed_len, VqVaeEncoderI8};
use rt::exit;

#[path = "../rt.rs"]
mod rt;

static MODEL: &Aligned<[u8]> = &Aligned(*include_bytes!("../../../../tests/data/vqvae/g4_m64/encoder.tflite"));
static CODEBOOK: &Aligned<[u8]> =
    &Aligned(*include_bytes!("../../../../tests/data/vqvae/g4_m64/codebook_i8.safetensors"));
static DIGITS: &Aligned<[u8]> = &Aligned(*include_bytes!("../../../../tests/data/vqvae/test_x64.npy"));
/// The host's indices of these 64 test digits (int64; the first 64 rows of `test_indices.npy`, whose
/// 89 KB would not leave the whole interpreter room in 256K of flash; fvae on the host and TFLite
/// Micro agree on them).
static REFERENCE: &Aligned<[u8]> =
    &Aligned(*include_bytes!("../../../../tests/data/vqvae/g4_m64/test_indices_first64.npy"));

const PIXELS: usize = 64;
const L: usize = 16;
const M: usize = 64;
/// Digits between two progress lines.
const WINDOW: usize = 16;

#[entry]
fn main() -> ! {
    static mut ARENA: [u8; 2048] = [0; 2048];
    match encode(ARENA) {
        Ok((n, 0)) => {
            defmt::info!("PASS: all {=usize} digits' indices equal the host's", n);
            exit(true)
        }
        Ok((n, wrong)) => {
            defmt::error!("FAIL: {=usize} of {=usize} digits' indices differ from the host's", wrong, n);
            exit(false)
        }
        Err(e) => {
            defmt::error!("FAIL: {}", e);
            exit(false)
        }
    }
}

/// Encodes every digit; returns how many there were and how many differ from the host's indices.
fn encode(arena: &'static mut [u8]) -> fvae::Result<(usize, usize)> {
    let net = Network::new(&MODEL.0)?;
    let codebook = CodebookI8::from_safetensors(&SafeTensors::parse(&CODEBOOK.0)?)?;
    let arena_needed = net.required_arena();
    let mut latent = [0f32; L * 4];
    let mut enc = VqVaeEncoderI8::new(&net, arena, &mut latent, codebook)?;
    let digits = Npy::parse(&DIGITS.0)?;
    let reference = Npy::parse(&REFERENCE.0)?;
    let (n, d) = digits.rows_cols();
    if reference.bytes().len() < n * L * 8 {
        let found = reference.bytes().len();
        return Err(fvae::Error::Shape { what: "reference indices (i64)", expected: n * L * 8, found });
    }
    defmt::info!(
        "fvae vqvae firmware: encoder of {=usize} operators in place, arena {=usize} bytes; int8 codebook M={=usize} of {=usize}; {=usize} digits of {=usize} pixels",
        net.operators(),
        arena_needed,
        codebook.m(),
        codebook.d(),
        n,
        d
    );
    let mut want = reference.bytes().chunks_exact(8).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let (mut indices, mut radio, mut wrong, mut sent) = ([0u32; L], [0u8; packed_len(L, M)], 0usize, 0usize);
    for (i, x) in digits.as_f32("digits")?.chunks_exact(PIXELS).enumerate() {
        enc.encode(x, &mut indices)?;
        sent += pack_indices(&indices, M, &mut radio)?;
        wrong += indices.iter().any(|&k| want.next() != Some(k)) as usize;
        if i == 0 {
            defmt::info!("digit 0: indices {=[?]}, sent {=[u8]}", indices, radio);
        }
        if (i + 1) % WINDOW == 0 {
            defmt::info!("{=usize} digits encoded, {=usize} bytes sent", i + 1, sent);
        }
    }
    Ok((n, wrong))
}
