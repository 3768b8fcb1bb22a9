//! `mlp_decoder`: the fixture int8 VAE decoder (latent 8 -> 64 -> 128 -> 64: FULLY_CONNECTED x3, LOGISTIC), run
//! as `src/common/nn.rs` describes.
#![no_std]
#![no_main]

use fvae::formats::Aligned;

#[path = "../common/nn.rs"]
mod nn;

static MODEL: &Aligned<[u8]> = &Aligned(*include_bytes!("../../../../tests/data/tflite/mlp_decoder.tflite"));
static INPUT: &Aligned<[u8]> = &Aligned(*include_bytes!("../../../../tests/data/tflite/mlp_decoder_input.npy"));
static EXPECTED: &Aligned<[u8]> = &Aligned(*include_bytes!("../../../../tests/data/tflite/mlp_decoder_expected.npy"));

#[fp::entry]
fn main() -> ! {
    static mut ARENA: [u8; 8192] = [0; 8192];
    nn::run("mlp_decoder", &MODEL.0, &INPUT.0, &EXPECTED.0, ARENA)
}
