//! `mlp_encoder`: the fixture int8 encoder (an 8x8 image, 64 -> 64 -> 8: FULLY_CONNECTED x2), run
//! as `src/common/nn.rs` describes.
#![no_std]
#![no_main]

use fvae::formats::Aligned;

#[path = "../common/nn.rs"]
mod nn;

static MODEL: &Aligned<[u8]> = &Aligned(*include_bytes!("../../../../tests/data/tflite/mlp_encoder.tflite"));
static INPUT: &Aligned<[u8]> = &Aligned(*include_bytes!("../../../../tests/data/tflite/mlp_encoder_input.npy"));
static EXPECTED: &Aligned<[u8]> = &Aligned(*include_bytes!("../../../../tests/data/tflite/mlp_encoder_expected.npy"));

#[fp::entry]
fn main() -> ! {
    static mut ARENA: [u8; 8192] = [0; 8192];
    nn::run("mlp_encoder", &MODEL.0, &INPUT.0, &EXPECTED.0, ARENA)
}
