//! int8 networks on a Cortex-M core, against TFLite Micro: `mlp_decoder`, `conv_decoder` and
//! `mlp_encoder` (tests/data/tflite), read in place from flash, run on their first 32 inputs (the
//! host tests run all 128; 32 keep the M0's debug image inside the micro:bit's 256K of flash); every
//! output must equal TFLite Micro's to the bit. On thumbv7em the int8 dot products run on the DSP
//! path (`sxtb16`/`smlad`), on thumbv6m on the scalar reference; the dispatched kernels are also
//! checked against the scalar reference on adversarial rows (odd lengths, -128/127 extremes).
//!
//! Then the three smallest real-converter models of tests/data/real (two of them with two graph
//! outputs), their first 32 rows, every output.
//!
//! RAM: one arena, reused by every model (the largest needs `ARENA` bytes at most; checked).
#![no_std]
#![no_main]

use fvae::kernels::int8 as k;
use fvae::nn::Network;
use fvae_qemu::{check, entry, Suite};

mod fx {
    fvae_qemu::fixtures!("nn");
}

const ARENA: usize = 6144;

fn run(s: &mut Suite, name: &str, model: &[u8], input: &[i8], expected: &[i8], arena: &mut [u8]) {
    fvae_qemu::run_network(s, name, model, input, expected, 32, arena);
}

/// A real-converter model (tests/data/real): 32 rows, every graph output against TFLite Micro's.
fn run_real(s: &mut Suite, name: &str, model: &[u8], input: &[i8], expected: &[&[i8]], arena: &mut [u8]) {
    const ROWS: usize = 32;
    let Some(net) = s.ok(name, Network::new(model)) else { return };
    let need = net.required_arena();
    if !check!(s, need <= arena.len(), "{}: arena needs {} bytes, have {}", name, need, arena.len()) {
        return;
    }
    fvae_qemu::hprintln!("{}: {} operators, arena {} bytes", name, net.operators(), need);
    let Some(mut it) = s.ok(name, net.interpreter(arena)) else { return };
    let din = input.len() / ROWS;
    let mut wrong = 0;
    for r in 0..ROWS {
        let Some(x) = s.ok("input", it.input_i8_mut(0)) else { return };
        x.copy_from_slice(&input[r * din..(r + 1) * din]);
        if s.ok("invoke", it.invoke()).is_none() {
            return;
        }
        for (k, want) in expected.iter().enumerate() {
            let dout = want.len() / ROWS;
            let Some(y) = s.ok("output", it.output_i8(k)) else { return };
            wrong += (y != &want[r * dout..(r + 1) * dout]) as u32;
        }
    }
    check!(s, wrong == 0, "{}: {} row outputs of {} rows differ from TFLite Micro", name, wrong, ROWS);
}

#[entry]
fn main() -> ! {
    static mut ARENA_BUF: [u8; ARENA] = [0; ARENA];
    let mut s = Suite::new("nn");
    run(&mut s, "mlp_decoder", &fx::MLP_DECODER.0, &fx::MLP_DECODER_IN, &fx::MLP_DECODER_OUT, ARENA_BUF);
    run(&mut s, "conv_decoder", &fx::CONV_DECODER.0, &fx::CONV_DECODER_IN, &fx::CONV_DECODER_OUT, ARENA_BUF);
    run(&mut s, "mlp_encoder", &fx::MLP_ENCODER.0, &fx::MLP_ENCODER_IN, &fx::MLP_ENCODER_OUT, ARENA_BUF);
    let (enc, enc_in) = (&fx::REAL_MLP_ENCODER.0, &fx::REAL_MLP_ENCODER_IN);
    run_real(
        &mut s,
        "real mlp_encoder_b1",
        enc,
        enc_in,
        &[&fx::REAL_MLP_ENCODER_OUT0, &fx::REAL_MLP_ENCODER_OUT1],
        ARENA_BUF,
    );
    let (enc, enc_in) = (&fx::REAL_TORCH_ENCODER.0, &fx::REAL_TORCH_ENCODER_IN);
    let outs: [&[i8]; 2] = [&fx::REAL_TORCH_ENCODER_OUT0, &fx::REAL_TORCH_ENCODER_OUT1];
    run_real(&mut s, "real torch_mlp_encoder_b1", enc, enc_in, &outs, ARENA_BUF);
    let (vq, vq_in) = (&fx::REAL_VQ_ENCODER.0, &fx::REAL_VQ_ENCODER_IN);
    run_real(&mut s, "real vq_encoder_b1", vq, vq_in, &[&fx::REAL_VQ_ENCODER_OUT0], ARENA_BUF);
    // Per-operator models: tables filled in f32 (soft float on thumbv6m), f32 ELU between
    // DEQUANTIZE and QUANTIZE, 16-bit HARD_SWISH, broadcasting, a one-element constant.
    let ops: [(&str, &[u8], &[i8], &[i8]); 6] = [
        ("gelu", &fx::OP_GELU.0, &fx::OP_GELU_IN, &fx::OP_GELU_OUT),
        ("dequantize_elu_quantize", &fx::OP_ELU_F32.0, &fx::OP_ELU_F32_IN, &fx::OP_ELU_F32_OUT),
        ("hard_swish", &fx::OP_HARD_SWISH.0, &fx::OP_HARD_SWISH_IN, &fx::OP_HARD_SWISH_OUT),
        ("prelu_shared_axes", &fx::OP_PRELU.0, &fx::OP_PRELU_IN, &fx::OP_PRELU_OUT),
        ("add_constant_scalar", &fx::OP_ADD_SCALAR.0, &fx::OP_ADD_SCALAR_IN, &fx::OP_ADD_SCALAR_OUT),
        ("mul_constant_first", &fx::OP_MUL_BROADCAST.0, &fx::OP_MUL_BROADCAST_IN, &fx::OP_MUL_BROADCAST_OUT),
    ];
    for (name, model, input, expected) in ops {
        fvae_qemu::run_network(&mut s, name, model, input, expected, 16, ARENA_BUF);
    }

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
    let (cases, fast, wrong) = fully_connected_cases(&mut next);
    fvae_qemu::hprintln!("fully_connected: {} cases, {} of them in the fast path's form", cases, fast);
    check!(s, fast > cases / 5, "fully_connected: only {} of {} cases in the fast path's form", fast, cases);
    check!(s, wrong == 0, "fully_connected: {} of {} cases differ from matvec + requantize", wrong, cases);
    let (cases, wrong) = pairs_cases(&mut next);
    check!(s, wrong == 0, "pairs: {} of {} cases differ from the scalar reference", wrong, cases);
    s.finish()
}

/// The convolutions' pairs kernels (`int8::pairs::dot_taps`, `scalar::requantize_channels`,
/// `int8::pairs::requantize_doubled`)
/// against the scalar reference, bit for bit: tap lengths 0..=48 in steps of 4 (the DSP loop's
/// 8-element step and its 4-element tail), taps of 8 with shared pairs (the two-rows-per-pass
/// loop, over an odd number of rows), raw bytes at every alignment, row strides of 0 and not,
/// random and -128/127 contents with zero points -128..127, sums that wrap; the doubled
/// requantisation with no activation clamp, a lower one and both.
fn pairs_cases(next: &mut impl FnMut() -> u32) -> (u32, u32) {
    let (mut raw, mut src) = ([0i8; 5 * 64 + 3], [0i8; 64]);
    let mut widened = [0i32; 40];
    let (mut cases, mut wrong) = (0, 0);
    for len in (0..=48).step_by(4) {
        for case in 0..6u32 {
            for v in raw.iter_mut().chain(src.iter_mut()) {
                *v = match case {
                    1 => -128,
                    2 => 127,
                    3 => [-128, 127][(next() & 1) as usize],
                    _ => next() as i8,
                };
            }
            let zp = if case == 1 { 127 } else { (next() % 256) as i32 - 128 };
            k::pairs::widen(&src[..48], zp, &mut widened[..24]);
            let off = (case % 4) as usize;
            let (stride, pstride) = if case == 5 { (0, 4) } else { (len + 4, 0) };
            let taps = if case == 4 {
                [[off, 0, 8], [off + 4, 4, 8]]
            } else {
                [[off, 0, len], [off + 4, 2, len.saturating_sub(4)]]
            };
            let start = [i32::MAX - 5, -7, 0, i32::MIN, 3];
            let (mut got, mut want) = (start, start);
            let ok = k::pairs::dot_taps(&mut got, &raw, stride, &widened, pstride, &taps);
            k::scalar::dot_taps(&mut want, &raw, stride, &widened, pstride, &taps);
            wrong += (!ok || got != want) as u32;
            let (mult, shift) = ([(1 << 30) + (next() >> 2) as i32; 5], [-((next() % 32) as i32), 0, -1, -31, -7]);
            let (mut a, mut b) = ([0i8; 5], [0i8; 5]);
            k::scalar::requantize_channels(&got, &mult, &shift, zp, -128, 127, &mut a);
            k::scalar::requantize(&got, &mult, &shift, zp, -128, 127, &mut b);
            wrong += (a != b) as u32;
            // The doubled form (DSP: smmlar/ssat) on accumulators inside its +-2^30 bound.
            let zp2 = zp.clamp(-64, 63);
            let (lo, hi) = [(-128, 127), (zp2 - 3, 127), (zp2 - 3, zp2 + 5)][(case % 3) as usize];
            let acc2 = got.map(|v| v >> 2);
            for ((&acc, &m), &sh) in acc2.iter().zip(&mult).zip(&shift) {
                if let Some([m2, e1, k2]) = k::scalar::requant_doubled(m, sh, zp2) {
                    let (mut c, mut e) = ([0i8], [0i8]);
                    k::pairs::requantize_doubled(&[acc], &[m2], &[e1], &[k2], lo, hi, &mut c);
                    k::scalar::requantize(&[acc], &[m], &[sh], zp2, lo, hi, &mut e);
                    wrong += (c != e) as u32;
                }
            }
            cases += 1;
        }
    }
    (cases, wrong)
}

/// 4-byte aligned weights, so that the cases cover both aligned weights and (offset by one byte)
/// unaligned ones, which the DSP fully-connected kernel takes alike.
#[repr(align(4))]
struct Aligned<T>(T);

/// The fused fully-connected kernel against the scalar matvec + requantize, bit for bit: input
/// lengths around the kernel's 8-element step (and odd ones), odd and even row counts, random
/// and -128/127 inputs and weights, aligned and unaligned inputs and weights, per-row multipliers and
/// shifts (some outside the doubled form), fused activation ranges.
fn fully_connected_cases(next: &mut impl FnMut() -> u32) -> (u32, u32, u32) {
    const D: usize = 136;
    const R: usize = 7;
    static mut W: Aligned<[i8; D * R + 4]> = Aligned([0; D * R + 4]);
    // SAFETY: single-threaded test program; nothing else refers to W.
    let w = unsafe { &mut (*core::ptr::addr_of_mut!(W)).0 };
    let mut x = [0i8; D + 1];
    let (mut cases, mut fast, mut wrong) = (0, 0, 0);
    for d in [0usize, 1, 4, 7, 8, 9, 16, 24, 32, 40, 48, 56, 64, 72, 128, 136] {
        for rows in [1usize, 2, 3, 4, 7] {
            for case in 0..7u32 {
                for v in x.iter_mut().chain(w.iter_mut()) {
                    *v = match case {
                        1 => -128,
                        2 => 127,
                        3 => [-128, 127][(next() & 1) as usize],
                        _ => next() as i8,
                    };
                }
                let zp = (next() % 256) as i32 - 128;
                let (lo, hi) = if case == 4 { (zp.max(-128), 127) } else { (-128, 127) };
                // Case 5: input and weights unaligned; case 6: only the input. The DSP path reads
                // both with word loads (unaligned ones are fine on ARMv7-M and v8-M Mainline).
                let (xo, wo) = ((case >= 5) as usize, (case == 5) as usize);
                let (xs, ws) = (&x[xo..xo + d], &w[wo..wo + rows * d]);
                let (mut bias, mut mult, mut shift) = ([0i32; R], [0i32; R], [0i32; R]);
                // One case in four has a row outside the doubled form (huge bias, no right shift).
                let plain = next().is_multiple_of(4);
                for r in 0..rows {
                    bias[r] = match (plain, next() % 4) {
                        (true, 0) => i32::MAX - (next() % 4) as i32,
                        (_, 1) => -(1 << 20),
                        _ => (next() as i32) >> 12,
                    };
                    mult[r] = (1 << 30) + (next() >> 2) as i32;
                    shift[r] = match (plain, next() % 4) {
                        (true, 0) => 0,
                        (true, 1) => 2,
                        (true, 2) => -31,
                        _ => -1 - (next() % 12) as i32,
                    };
                }
                let mut params = [0i32; k::FC_HEADER_WORDS + R * k::FC_ROW_WORDS];
                params[..k::FC_HEADER_WORDS].copy_from_slice(&k::fc_header(zp));
                for r in 0..rows {
                    let at = k::FC_HEADER_WORDS + r * k::FC_ROW_WORDS;
                    params[at..at + k::FC_ROW_WORDS].copy_from_slice(&k::fc_row(bias[r], mult[r], shift[r]));
                }
                let params = &mut params[..k::FC_HEADER_WORDS + rows * k::FC_ROW_WORDS];
                let doubled = k::fc_double(params, ws);
                let mut scratch = [0i32; D / 2];
                let (mut got, mut want) = ([0i8; R], [0i8; R]);
                k::fully_connected(xs, ws, params, lo, hi, &mut scratch, &mut got[..rows]);
                let mut acc = [0i32; R];
                k::scalar::matvec(xs, ws, &bias[..rows], &mut acc[..rows]);
                for r in 0..rows {
                    k::scalar::requantize(
                        &acc[r..r + 1],
                        &mult[r..r + 1],
                        &shift[r..r + 1],
                        zp,
                        lo,
                        hi,
                        &mut want[r..r + 1],
                    );
                }
                cases += 1;
                let fused = doubled && d % 8 == 0 && d > 0 && rows > 1;
                fast += fused as u32;
                wrong += (got != want) as u32;
                // The path reported for the layer is the one these conditions select: the fused
                // loop (its `ldm` form on aligned weights) on DSP cores, else the dot product.
                let want_path = match (k::path_name() == "arm-dsp", fused, (ws.as_ptr() as usize) % 4 == 0) {
                    (false, _, _) => k::Path::Scalar,
                    (true, false, _) => k::Path::ArmDsp,
                    (true, true, true) => k::Path::ArmDspFusedAligned,
                    (true, true, false) => k::Path::ArmDspFused,
                };
                wrong += (k::fully_connected_path(d, ws, params) != want_path) as u32;
            }
        }
    }
    (cases, fast, wrong)
}
