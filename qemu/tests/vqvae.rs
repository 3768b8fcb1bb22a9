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
    // Each step in a frame of its own, after the networks are read: on the Cortex-M0 (16K of RAM,
    // 10K of it stack) one frame holding the codecs beside the networks' set-up overflowed the stack.
    let mut radio = [0u8; IMAGES * packed_len(L, M)];
    encode_f32(&mut s, &enc_net, ENC_ARENA, &mut radio);
    decode(&mut s, &dec_net, DEC_ARENA, &radio);
    encode_i8(&mut s, &enc_net, ENC_ARENA);
    fvae_qemu::hprintln!("vqvae: {} digits, {} bytes sent per digit", IMAGES, packed_len(L, M));
    s.finish()
}

/// The f32 codebook, read in place.
fn codebook<'a>(s: &mut Suite, file: &'a Option<SafeTensors<'a>>) -> Option<Codebook<'a>> {
    s.ok("codebook", Codebook::from_safetensors(file.as_ref()?))
}

/// Encodes every digit with the f32 codebook (indices against the host's) and packs each digit's
/// indices into its slot of `radio`.
#[inline(never)]
fn encode_f32(s: &mut Suite, net: &Network<'_>, arena: &mut [u8], radio: &mut [u8]) {
    let file = s.ok("codebook", SafeTensors::parse(&fx::CODEBOOK.0));
    let Some(codebook) = codebook(s, &file) else { return };
    let mut z = [0f32; L * 4];
    let Some(mut enc) = s.ok("VqVaeEncoder", VqVaeEncoder::new(net, arena, &mut z, codebook)) else { return };
    encode_all(s, &mut enc, radio);
}

/// The encoding loop of [`encode_f32`], out of line: with it inlined, the encoder's set-up and its
/// run shared one frame.
#[inline(never)]
fn encode_all(s: &mut Suite, enc: &mut VqVaeEncoder<'_, '_>, radio: &mut [u8]) {
    let mut idx = [0u32; L];
    let mut wrong = 0;
    for (r, (x, packed)) in fx::X.chunks_exact(PIXELS).zip(radio.chunks_exact_mut(packed_len(L, M))).enumerate() {
        if s.ok("encode", enc.encode(x, &mut idx)).is_none() || s.ok("pack", pack_indices(&idx, M, packed)).is_none() {
            return;
        }
        wrong += differ(&idx, &fx::INDICES[r * L..(r + 1) * L]) as u32;
    }
    check!(s, wrong == 0, "{} of {} digits' indices differ from the host's", wrong, IMAGES);
}

/// Unpacks and decodes every digit; each int8 reconstruction against TFLite Micro's.
#[inline(never)]
fn decode(s: &mut Suite, net: &Network<'_>, arena: &mut [u8], radio: &[u8]) {
    let file = s.ok("codebook", SafeTensors::parse(&fx::CODEBOOK.0));
    let Some(codebook) = codebook(s, &file) else { return };
    let Some(mut dec) = s.ok("VqVaeDecoder", VqVaeDecoder::new(net, arena, codebook)) else { return };
    decode_all(s, &mut dec, radio);
}

/// The decoding loop of [`decode`], out of line (as [`encode_all`]).
#[inline(never)]
fn decode_all(s: &mut Suite, dec: &mut VqVaeDecoder<'_, '_, '_>, radio: &[u8]) {
    let mut received = [0u32; L];
    let mut wrong = 0;
    for (r, packed) in radio.chunks_exact(packed_len(L, M)).enumerate() {
        if s.ok("unpack", unpack_indices(packed, M, &mut received)).is_none() {
            return;
        }
        let Some(y) = s.ok("decode", dec.decode_i8(&received)) else { return };
        wrong += (y != &fx::DECODED[r * PIXELS..(r + 1) * PIXELS]) as u32;
    }
    check!(s, wrong == 0, "{} of {} reconstructions differ from TFLite Micro", wrong, IMAGES);
}

/// The int8 codebook's exact integer search, in the encoder's arena.
#[inline(never)]
fn encode_i8(s: &mut Suite, net: &Network<'_>, arena: &mut [u8]) {
    let Some(file) = s.ok("int8 codebook", SafeTensors::parse(&fx::CODEBOOK_I8.0)) else { return };
    let Some(codebook) = s.ok("int8 codebook", CodebookI8::from_safetensors(&file)) else { return };
    let mut z = [0f32; L * 4];
    let Some(mut enc) = s.ok("VqVaeEncoderI8", VqVaeEncoderI8::new(net, arena, &mut z, codebook)) else { return };
    encode_all_i8(s, &mut enc);
}

/// The loop of [`encode_i8`], out of line (as [`encode_all`]).
#[inline(never)]
fn encode_all_i8(s: &mut Suite, enc: &mut VqVaeEncoderI8<'_, '_, '_>) {
    let mut idx = [0u32; L];
    let mut wrong = 0;
    for (r, x) in fx::X.chunks_exact(PIXELS).enumerate() {
        if s.ok("encode i8", enc.encode(x, &mut idx)).is_none() {
            return;
        }
        wrong += differ(&idx, &fx::INDICES[r * L..(r + 1) * L]) as u32;
    }
    check!(s, wrong == 0, "{} of {} digits' int8-codebook indices differ from the host's", wrong, IMAGES);
}
