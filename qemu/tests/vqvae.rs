//! The VQ-VAE codec on a Cortex-M core, against TFLite Micro (tests/data/vqvae/g4_m64: 4x4 grid of
//! 4-value latents, M = 64): the first 64 test digits, held in flash, are encoded to codeword
//! indices (f32 codebook and int8 codebook: both must equal the host's), packed at 6 bits each (12
//! bytes per digit) and unpacked, then decoded; every int8 reconstruction must equal TFLite Micro's
//! bit for bit. Models and codebooks are read in place from flash.
//!
//! RAM: an arena for the encoders (2 KiB, the f32-codebook one, then the int8 one) and one for the
//! decoder (4 KiB); checked.
#![no_std]
#![no_main]

use fvae::formats::safetensors::SafeTensors;
use fvae::nn::Network;
use fvae::vq::{Codebook, CodebookI8};
use fvae::vqvae::{pack_indices, packed_len, unpack_indices, VqVaeDecoder, VqVaeEncoder, VqVaeEncoderI8};
use fvae_qemu::{check, entry, Suite};

mod fx {
    fvae_qemu::fixtures!("vqvae");
}

const ENC_ARENA_LEN: usize = 2048;
const DEC_ARENA_LEN: usize = 4096;
const IMAGES: usize = 64;
const PIXELS: usize = 64;
const L: usize = 16;
const M: usize = 64;

fn differ(got: &[u32], want: &[u8]) -> bool {
    got.iter().zip(want).any(|(&a, &b)| a != b as u32)
}

#[entry]
fn main() -> ! {
    static mut ENC_ARENA: [u8; ENC_ARENA_LEN] = [0; ENC_ARENA_LEN];
    static mut DEC_ARENA: [u8; DEC_ARENA_LEN] = [0; DEC_ARENA_LEN];
    let mut s = Suite::new("vqvae");
    check!(s, fx::X_SHAPE == [IMAGES, PIXELS], "x shape {:?}", fx::X_SHAPE);
    check!(s, fx::INDICES_SHAPE == [IMAGES, L], "indices shape {:?}", fx::INDICES_SHAPE);

    let Some(enc_net) = s.ok("encoder", Network::new(&fx::ENCODER.0)) else { s.finish() };
    let Some(dec_net) = s.ok("decoder", Network::new(&fx::DECODER.0)) else { s.finish() };
    let (enc_need, dec_need) = (enc_net.required_arena(), dec_net.required_arena());
    fvae_qemu::hprintln!("vqvae: encoder arena {} bytes, decoder arena {} bytes", enc_need, dec_need);
    if !check!(s, enc_need <= ENC_ARENA_LEN && dec_need <= DEC_ARENA_LEN, "arenas {} and {} bytes", enc_need, dec_need)
    {
        s.finish()
    }
    let Some(file) = s.ok("codebook", SafeTensors::parse(&fx::CODEBOOK.0)) else { s.finish() };
    let Some(codebook) = s.ok("codebook", Codebook::from_safetensors(&file)) else { s.finish() };
    let Some(file_i8) = s.ok("int8 codebook", SafeTensors::parse(&fx::CODEBOOK_I8.0)) else { s.finish() };
    let Some(codebook_i8) = s.ok("int8 codebook", CodebookI8::from_safetensors(&file_i8)) else { s.finish() };

    let (mut z, mut z_i8) = ([0f32; L * 4], [0f32; L * 4]);
    let Some(mut enc) = s.ok("VqVaeEncoder", VqVaeEncoder::new(&enc_net, ENC_ARENA, &mut z, codebook)) else {
        s.finish()
    };
    let Some(mut dec) = s.ok("VqVaeDecoder", VqVaeDecoder::new(&dec_net, DEC_ARENA, codebook)) else { s.finish() };
    let (mut wrong, mut wrong_decoded) = (0, 0);
    let (mut idx, mut received) = ([0u32; L], [0u32; L]);
    let mut radio = [0u8; packed_len(L, M)];
    for (r, x) in fx::X.chunks_exact(PIXELS).enumerate() {
        if s.ok("encode", enc.encode(x, &mut idx)).is_none() {
            break;
        }
        wrong += differ(&idx, &fx::INDICES[r * L..(r + 1) * L]) as u32;
        if s.ok("pack", pack_indices(&idx, M, &mut radio)).is_none()
            || s.ok("unpack", unpack_indices(&radio, M, &mut received)).is_none()
        {
            break;
        }
        let Some(y) = s.ok("decode", dec.decode_i8(&received)) else { break };
        wrong_decoded += (y != &fx::DECODED[r * PIXELS..(r + 1) * PIXELS]) as u32;
    }
    check!(s, wrong == 0, "{} of {} digits' indices differ from the host's", wrong, IMAGES);
    check!(s, wrong_decoded == 0, "{} of {} reconstructions differ from TFLite Micro", wrong_decoded, IMAGES);

    // The int8 codebook's exact integer search, in the same arena.
    drop(enc);
    let Some(mut enc_i8) = s.ok("VqVaeEncoderI8", VqVaeEncoderI8::new(&enc_net, ENC_ARENA, &mut z_i8, codebook_i8))
    else {
        s.finish()
    };
    let mut wrong_i8 = 0;
    for (r, x) in fx::X.chunks_exact(PIXELS).enumerate() {
        if s.ok("encode i8", enc_i8.encode(x, &mut idx)).is_none() {
            break;
        }
        wrong_i8 += differ(&idx, &fx::INDICES[r * L..(r + 1) * L]) as u32;
    }
    check!(s, wrong_i8 == 0, "{} of {} digits' int8-codebook indices differ from the host's", wrong_i8, IMAGES);
    fvae_qemu::hprintln!("vqvae: {} digits, {} bytes sent per digit, first {:?}", IMAGES, radio.len(), &radio[..4]);
    s.finish()
}
