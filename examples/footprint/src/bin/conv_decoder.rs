//! `conv_decoder`: the fixture int8 convolutional VAE decoder (latent 8 -> FULLY_CONNECTED 128 -> RESHAPE 4x4x8 ->
//! TRANSPOSE_CONV 3x3 stride 2 to 8x8x16 -> CONV_2D 3x3 to 8x8x1 -> LOGISTIC -> RESHAPE 64), run
//! as `src/common/nn.rs` describes.
#![no_std]
#![no_main]

use fvae::formats::Aligned;

#[path = "../common/nn.rs"]
mod nn;

static MODEL: &Aligned<[u8]> = &Aligned(*include_bytes!("../../../../tests/data/tflite/conv_decoder.tflite"));
static INPUT: &Aligned<[u8]> = &Aligned(*include_bytes!("../../../../tests/data/tflite/conv_decoder_input.npy"));
static EXPECTED: &Aligned<[u8]> = &Aligned(*include_bytes!("../../../../tests/data/tflite/conv_decoder_expected.npy"));

#[fp::entry]
fn main() -> ! {
    static mut ARENA: [u8; 8192] = [0; 8192];
    nn::run("conv_decoder", &MODEL.0, &INPUT.0, &EXPECTED.0, ARENA)
}
