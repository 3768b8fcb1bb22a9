//! The convolutions on a Cortex-M core, against TFLite Micro: per-operator models in the shapes a
//! small decoder has (tests/data/tflite_ops: CONV_2D 3x3 stride 2 to one channel and 3x3 to three
//! with RELU, TRANSPOSE_CONV 3x3 stride 2 to one channel, DEPTHWISE_CONV_2D with depth multiplier 1
//! and 2), 16 rows each, and a real converter's depthwise convolution (tests/data/real
//! torch_vq_encoder_b1: one input channel, multiplier 8) and a swish decoder (mlp_decoder_swish_b1:
//! a fully-connected layer on a 4-value latent, MUL), 64 rows; every output to the bit. On thumbv7em and thumbv8m.main they take the DSP
//! pairs forms and the DSP depthwise tap; on thumbv6m the scalar reference. Then the depthwise tap
//! kernel as dispatched against its scalar reference on random and -128/127 rows of every length
//! 0..=17, multipliers 1, 2, 4 and 8, unaligned, with zero points -128..127 and sums that wrap.
//!
//! A program of its own (not part of `nn`): with these fixtures the `nn` image no longer fitted the
//! micro:bit's 256K of flash.
#![no_std]
#![no_main]

use fvae::kernels::int8 as k;
use fvae_qemu::{check, entry, Rng, Suite};

mod fx {
    fvae_qemu::fixtures!("conv");
}

const ARENA: usize = 4096;
#[entry]
fn main() -> ! {
    static mut ARENA_BUF: [u8; ARENA] = [0; ARENA];
    let mut s = Suite::new("conv");
    let ops: [(&str, &[u8], &[i8], &[i8]); 6] = [
        ("conv_same_s2_one_channel", &fx::OP_CONV_S2_1.0, &fx::OP_CONV_S2_1_IN, &fx::OP_CONV_S2_1_OUT),
        ("conv_same_three_channels_relu", &fx::OP_CONV_3.0, &fx::OP_CONV_3_IN, &fx::OP_CONV_3_OUT),
        ("transpose_conv_same_s2_one_channel", &fx::OP_TCONV_S2_1.0, &fx::OP_TCONV_S2_1_IN, &fx::OP_TCONV_S2_1_OUT),
        ("depthwise_valid_dilated", &fx::OP_DW_DILATED.0, &fx::OP_DW_DILATED_IN, &fx::OP_DW_DILATED_OUT),
        ("depthwise_same_s2_six_channels", &fx::OP_DW_SIX.0, &fx::OP_DW_SIX_IN, &fx::OP_DW_SIX_OUT),
        ("depthwise_same_s2_relu6", &fx::OP_DW_MULT2.0, &fx::OP_DW_MULT2_IN, &fx::OP_DW_MULT2_OUT),
    ];
    for (name, model, input, expected) in ops {
        fvae_qemu::run_network(&mut s, name, model, input, expected, 16, ARENA_BUF);
    }
    let (vq, vq_in, vq_out) = (&fx::REAL_TORCH_VQ.0, &fx::REAL_TORCH_VQ_IN, &fx::REAL_TORCH_VQ_OUT);
    fvae_qemu::run_network(&mut s, "real torch_vq_encoder_b1", vq, vq_in, vq_out, 64, ARENA_BUF);
    // The DSP paths of the operators around them in real models: a fully-connected layer on a
    // 4-value latent (a multiple of 4, not of 8) and MUL's doubled requantisation.
    let (sw, sw_in, sw_out) = (&fx::REAL_SWISH.0, &fx::REAL_SWISH_IN, &fx::REAL_SWISH_OUT);
    fvae_qemu::run_network(&mut s, "real mlp_decoder_swish_b1", sw, sw_in, sw_out, 64, ARENA_BUF);

    // The depthwise tap as dispatched against the scalar reference.
    let mut rng = Rng(0x1b87_3593);
    let (mut x, mut w) = ([0i8; 19], [0i8; 19]);
    let (mut cases, mut wrong) = (0, 0);
    for (n, case, m) in (0..=17usize).flat_map(|n| (0..5u32).flat_map(move |c| [1usize, 2, 4, 8].map(|m| (n, c, m)))) {
        for v in x.iter_mut().chain(w.iter_mut()) {
            *v = match case {
                1 => -128,
                2 => 127,
                3 => [-128, 127][(rng.next() & 1) as usize],
                _ => rng.next() as i8,
            };
        }
        let offset = match case {
            1 => 127,
            2 => -128,
            _ => (rng.next() % 256) as i32 - 128,
        };
        let (xo, wo) = ((case & 1) as usize, (case >> 1 & 1) as usize); // unaligned slices
        let start = [i32::MAX - 40_000, i32::MIN + 3, -7, 0, 12_345, i32::MAX, i32::MIN, 1, -1];
        let (mut got, mut want) = ([0i32; 17], [0i32; 17]);
        for (i, (g, v)) in got.iter_mut().zip(want.iter_mut()).enumerate() {
            (*g, *v) = (start[i % start.len()], start[i % start.len()]);
        }
        // `n` outputs from `n.div_ceil(m)` input channels.
        let xs = &x[xo..xo + n.div_ceil(m)];
        k::pairs::depthwise_tap(&mut got[..n], xs, &w[wo..wo + n], offset, m);
        k::scalar::depthwise_tap(&mut want[..n], xs, &w[wo..wo + n], offset, m);
        wrong += (got != want) as u32;
        cases += 1;
    }
    check!(
        s,
        wrong == 0,
        "depthwise_tap: {} of {} cases differ from the scalar reference ({} path)",
        wrong,
        cases,
        k::path_name()
    );
    s.finish()
}
