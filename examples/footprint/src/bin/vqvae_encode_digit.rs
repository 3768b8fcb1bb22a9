//! `vqvae_encode_digit`: the VQ-VAE sensor side on one 8x8 digit. The int8 encoder of
//! tests/data/vqvae/g4_m64 (CONV_2D, CONV_2D, TANH: 64 pixels -> a 4x4 grid of 4-value latents) and
//! its int8 codebook (M = 64, the exact integer search) are read in place from flash; per image the
//! f32 pixels are quantised, the network runs, each of the 16 latent vectors gets its nearest
//! codeword, and the 16 indices are packed at 6 bits (`bytes_sent_per_image`, 12). The first 32 test
//! digits are encoded and their indices checked against the host's (`test_indices.npy`).
//! `arena_bytes` is `Network::required_arena()`.
#![no_std]
#![no_main]

use fvae::formats::{npy::Npy, safetensors::SafeTensors, Aligned};
use fvae::nn::Network;
use fvae::vq::CodebookI8;
use fvae::vqvae::{pack_indices, packed_len, VqVaeEncoderI8};

static MODEL: &Aligned<[u8]> = &Aligned(*include_bytes!("../../../../tests/data/vqvae/g4_m64/encoder.tflite"));
static CODEBOOK: &Aligned<[u8]> =
    &Aligned(*include_bytes!("../../../../tests/data/vqvae/g4_m64/codebook_i8.safetensors"));
static IMAGES: &Aligned<[u8]> = &Aligned(*include_bytes!("../../../../tests/data/vqvae/test_x64.npy"));
static EXPECTED: &Aligned<[u8]> = &Aligned(*include_bytes!("../../../../tests/data/vqvae/g4_m64/test_indices.npy"));

/// Images encoded (of the 64 in flash).
const CASES: usize = 32;
const PIXELS: usize = 64;
const L: usize = 16;
const M: usize = 64;

#[fp::entry]
fn main() -> ! {
    static mut ARENA: [u8; 2048] = [0; 2048];
    const NAME: &str = "vqvae_encode_digit";
    fp::begin(NAME, "image");
    let (Ok(images), Ok(expected)) = (Npy::parse(&IMAGES.0), Npy::parse(&EXPECTED.0)) else { fp::fail("npy") };
    let Ok(images) = images.as_f32("images") else { fp::fail("npy f32") };
    if fp::BASELINE {
        fp::keep(&MODEL.0);
        fp::keep(&CODEBOOK.0);
        fp::keep(images);
        fp::keep(expected.bytes());
        let ((), stack) = fp::stack_of(|| {
            fp::start();
            fp::end();
        });
        fp::report(NAME, "stack_bytes", stack);
        fp::done();
    }
    let arena: &'static mut [u8] = ARENA;
    let (result, stack) = fp::stack_of(|| -> Result<(usize, usize), fvae::Error> {
        let net = Network::new(&MODEL.0)?;
        let need = net.required_arena();
        let codebook = CodebookI8::from_safetensors(&SafeTensors::parse(&CODEBOOK.0)?)?;
        let mut latent = [0f32; L * 4];
        let mut enc = VqVaeEncoderI8::new(&net, arena, &mut latent, codebook)?;
        let (mut indices, mut radio, mut wrong) = ([0u32; L], [0u8; packed_len(L, M)], 0);
        // The host's indices, int64 little-endian, read from the .npy bytes in place.
        let want = expected.bytes().chunks_exact(8).map(|b| b[0] as u32 | (b[1] as u32) << 8);
        let mut want = want.take(CASES * L);
        for x in images.chunks_exact(PIXELS).take(CASES) {
            fp::start();
            let r = enc.encode(x, &mut indices).and_then(|()| pack_indices(&indices, M, &mut radio));
            fp::end();
            r?;
            wrong += indices.iter().any(|&i| want.next() != Some(i)) as usize;
        }
        Ok((need, wrong))
    });
    let arena_bytes = match result {
        Ok((need, 0)) => need,
        Ok(_) => fp::fail("indices differ from the host's"),
        Err(_) => fp::fail("the encoder failed"),
    };
    fp::report(NAME, "stack_bytes", stack);
    fp::report(NAME, "arena_bytes", arena_bytes);
    fp::report(NAME, "bytes_sent_per_image", packed_len(L, M));
    fp::done()
}
