//! int8 networks on a Cortex-M core, against TFLite Micro: `mlp_decoder`, `conv_decoder` and
//! `mlp_encoder` (tests/data/tflite), read in place from flash, run on all 128 inputs; every
//! output must equal TFLite Micro's to the bit. On thumbv7em the int8 dot products run on the DSP
//! path (`sxtb16`/`smlad`), on thumbv6m on the scalar reference; the dispatched kernels are also
//! checked against the scalar reference on adversarial rows (odd lengths, -128/127 extremes).
//!
//! RAM: one arena, reused by the three models (the largest needs `ARENA` bytes at most; checked).
#![no_std]
#![no_main]

use fvae::kernels::int8 as k;
use fvae::nn::Network;
use fvae_qemu::{check, entry, Suite};

mod fx {
    fvae_qemu::fixtures!("nn");
}

const ARENA: usize = 5200;

fn run(s: &mut Suite, name: &str, model: &[u8], input: &[i8], expected: &[i8], arena: &mut [u8]) {
    let Some(net) = s.ok(name, Network::new(model)) else { return };
    let need = net.required_arena();
    if !check!(s, need <= arena.len(), "{}: arena needs {} bytes, have {}", name, need, arena.len()) {
        return;
    }
    fvae_qemu::hprintln!(
        "{}: {} operators, arena {} bytes (activations {})",
        name,
        net.operators(),
        need,
        net.activation_bytes()
    );
    let Some(mut it) = s.ok(name, net.interpreter(arena)) else { return };
    let (din, dout) = (input.len() / 128, expected.len() / 128);
    let mut wrong = 0;
    for r in 0..128 {
        let Some(x) = s.ok("input", it.input_i8_mut(0)) else { return };
        x.copy_from_slice(&input[r * din..(r + 1) * din]);
        if s.ok("invoke", it.invoke()).is_none() {
            return;
        }
        let Some(y) = s.ok("output", it.output_i8(0)) else { return };
        wrong += (y != &expected[r * dout..(r + 1) * dout]) as u32;
    }
    check!(s, wrong == 0, "{}: {} of 128 rows differ from TFLite Micro", name, wrong);
}

#[entry]
fn main() -> ! {
    static mut ARENA_BUF: [u8; ARENA] = [0; ARENA];
    let mut s = Suite::new("nn");
    run(&mut s, "mlp_decoder", &fx::MLP_DECODER.0, &fx::MLP_DECODER_IN, &fx::MLP_DECODER_OUT, ARENA_BUF);
    run(&mut s, "conv_decoder", &fx::CONV_DECODER.0, &fx::CONV_DECODER_IN, &fx::CONV_DECODER_OUT, ARENA_BUF);
    run(&mut s, "mlp_encoder", &fx::MLP_ENCODER.0, &fx::MLP_ENCODER_IN, &fx::MLP_ENCODER_OUT, ARENA_BUF);

    // The dispatched int8 kernels against the scalar reference, bit for bit.
    let mut seed = 0x9e37_79b9u32;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    let (mut x, mut w) = ([0i8; 67], [0i8; 67 * 5]);
    let mut wrong = 0;
    for n in 0..67 {
        for case in 0..4 {
            for v in x.iter_mut().chain(w.iter_mut()) {
                *v = match case {
                    0 => next() as i8,
                    1 => -128,
                    2 => 127,
                    _ => {
                        if next() & 1 == 0 {
                            -128
                        } else {
                            127
                        }
                    }
                };
            }
            let off = case & 1; // unaligned slices half the time
            let xs = &x[off..off + n.min(66)];
            let d = xs.len();
            wrong += (k::dot(xs, &w[..d]) != k::scalar::dot(xs, &w[..d])) as u32;
            let bias = [next() as i32, -7, 0, i32::MAX, i32::MIN];
            let (mut a, mut b) = ([0i32; 5], [0i32; 5]);
            k::matvec(xs, &w[..5 * d], &bias, &mut a);
            k::scalar::matvec(xs, &w[..5 * d], &bias, &mut b);
            wrong += (a != b) as u32;
        }
    }
    check!(s, wrong == 0, "{} kernel results differ from the scalar reference ({} path)", wrong, k::path_name());
    s.finish()
}
