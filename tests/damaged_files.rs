//! Damaged files: every fixture file type (.safetensors, .npy, .tflite) truncated, bit-flipped and
//! spliced with another file, fed to the library's entry points. Each attempt must end with a
//! valid result or an `Error` whose message is one line: no panic, no hang (every loop is bounded,
//! and each file's mutations must finish within a generous time limit).

mod common;
use common::*;
use fvae::fisher::{FisherAccumulator, FisherOptions, Layout, Normalization};
use fvae::formats::{npy::Npy, safetensors::SafeTensors, AlignedBuf};
use fvae::gmm::DiagGmm;
use fvae::nn::Network;
use fvae::vq::{Codebook, CodebookI8, ResidualVq};
use fvae::Error;
use std::time::{Duration, Instant};

const SAFETENSORS: &[&str] = &[
    "gmm/edge_k4/gmm.safetensors",
    "gmm/digits_k16/gmm.safetensors",
    "vq/digits_m64/codebook.safetensors",
    "vq/digits_m64/codebook_int8.safetensors",
    "vq/residual_digits_4x16/codebooks.safetensors",
];
const NPY: &[&str] = &[
    "gmm/edge_k4/x.npy",
    "vq/digits_m64/nearest.npy",
    "tflite/mlp_encoder_input.npy",
    "gmm/edge_k4/log_likelihood.npy",
];
const TFLITE: &[&str] = &[
    "tflite/mlp_encoder.tflite",
    "tflite/conv_decoder.tflite",
    "fvvae/encoder.tflite",
    "tflite_ops/depthwise_same_s2_relu6.tflite",
    "tflite_ops/transpose_conv_valid_nobias.tflite",
    "tflite_ops/resize_half_pixel.tflite",
];
/// Per file: its truncations, flips and splices together. A hang detector, not a speed test: other
/// architectures run emulated in CI (aarch64 under qemu-user, wasm32 under Node), 10-50x slower and
/// on a loaded machine, so they get ten times as long.
const TIME_LIMIT: Duration = Duration::from_secs(if cfg!(target_arch = "x86_64") { 60 } else { 600 });

fn one_line(e: &Error) {
    let msg = e.to_string();
    assert!(!msg.is_empty() && !msg.contains('\n'), "error message not one line: {msg:?}");
}

fn check<T>(r: Result<T, Error>) -> Option<T> {
    r.inspect_err(one_line).ok()
}

fn safetensors_entry_points(bytes: &[u8]) {
    let buf = AlignedBuf::from_bytes(bytes);
    let Some(file) = check(SafeTensors::parse(buf.as_bytes())) else { return };
    let mut constants = vec![0.0f32; 1 << 16];
    if let Some(gmm) = check(DiagGmm::from_safetensors(&file, &mut constants)) {
        let x = vec![0.25f32; gmm.d()];
        let mut q = vec![0.0f32; gmm.k()];
        check(gmm.posteriors(&x, &mut q));
        let mut storage = vec![0.0f32; FisherAccumulator::storage_len(gmm.k(), gmm.d())];
        let mut acc = FisherAccumulator::new(gmm, FisherOptions::default(), &mut storage).unwrap();
        check(acc.push(&x));
        let mut fv = vec![0.0f32; Layout::VlFeat.len(gmm.k(), gmm.d())];
        check(acc.finish(Layout::VlFeat, Normalization::IMPROVED, &mut fv));
    }
    if let Some(cb) = check(Codebook::from_safetensors(&file)) {
        check(cb.nearest(&vec![0.5f32; cb.d()]));
    }
    if let Some(cb) = check(CodebookI8::from_safetensors(&file)) {
        check(cb.nearest(&vec![1i8; cb.d()]));
    }
    if let Some(r) = check(ResidualVq::from_safetensors(&file)) {
        let (mut codes, mut residual) = (vec![0u32; r.stages()], vec![0.0f32; r.d()]);
        check(r.encode(&vec![0.5f32; r.d()], &mut codes, &mut residual));
    }
}

fn npy_entry_points(bytes: &[u8]) {
    let buf = AlignedBuf::from_bytes(bytes);
    let Some(a) = check(Npy::parse(buf.as_bytes())) else { return };
    let (rows, cols) = a.rows_cols();
    let n = a.shape().numel().unwrap();
    assert_eq!(rows * cols, n);
    if let Some(v) = check(a.to_f32_vec("x")) {
        assert_eq!(v.len(), n);
    }
    if let Some(v) = check(a.as_i8("x")) {
        assert_eq!(v.len(), n);
    }
    check(a.to_i64_vec("x"));
}

fn tflite_entry_points(bytes: &[u8]) {
    let buf = AlignedBuf::from_bytes(bytes);
    let Some(net) = check(Network::new(buf.as_bytes())) else { return };
    if net.required_arena() > 8 << 20 {
        return; // a damaged size can plan a huge arena; refusing it is the caller's choice
    }
    let mut arena = vec![0u8; net.required_arena()];
    let Some(mut it) = check(net.interpreter(&mut arena)) else { return };
    if let Some(x) = check(it.input_i8_mut(0)) {
        x.fill(3);
    }
    check(it.invoke());
    check(it.output_i8(0).map(|o| o.len()));
}

/// Every prefix length for the first 256 bytes (headers), then 64 evenly spaced ones.
fn truncations(len: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..len.min(256)).collect();
    v.extend((0..64).map(|i| 256 + i * len.saturating_sub(256) / 64).filter(|&n| n < len));
    v
}

fn damage(files: &[&str], others: &[&str], run: fn(&[u8])) {
    let mut rng = Rng(0x5EED_0008);
    for rel in files {
        let start = Instant::now();
        let orig = std::fs::read(data(rel)).unwrap();
        run(&orig); // the intact file works
        for n in truncations(orig.len()) {
            run(&orig[..n]);
        }
        // Single bit flips: the header (where parsing decides) densely, the rest sparsely.
        let mut flipped = orig.clone();
        for i in 0..600 {
            let pos = if i < 400 {
                rng.next_u64() as usize % orig.len().min(512)
            } else {
                rng.next_u64() as usize % orig.len()
            };
            let bit = 1u8 << (rng.next_u64() % 8);
            flipped[pos] ^= bit;
            run(&flipped);
            flipped[pos] ^= bit;
        }
        // Bytes set to extremes (0x00, 0xff, 0x7f, 0x80): lengths, offsets, counts.
        for _ in 0..200 {
            let pos = rng.next_u64() as usize % orig.len().min(1024);
            let saved = flipped[pos];
            flipped[pos] = [0x00, 0xff, 0x7f, 0x80][(rng.next_u64() % 4) as usize];
            run(&flipped);
            flipped[pos] = saved;
        }
        // Splices: the head of this file and the tail of another (same type, and other types).
        for other in others.iter().chain(SAFETENSORS).chain(NPY).chain(TFLITE).take(12) {
            let b = std::fs::read(data(other)).unwrap();
            for _ in 0..8 {
                let (cut_a, cut_b) = (rng.next_u64() as usize % orig.len(), rng.next_u64() as usize % b.len());
                let mut spliced = orig[..cut_a].to_vec();
                spliced.extend_from_slice(&b[cut_b..]);
                run(&spliced);
            }
        }
        assert!(start.elapsed() < TIME_LIMIT, "{rel}: damaged copies took {:?}", start.elapsed());
    }
}

#[test]
fn damaged_safetensors_are_errors_or_models() {
    damage(SAFETENSORS, SAFETENSORS, safetensors_entry_points);
}

#[test]
fn damaged_npy_are_errors_or_arrays() {
    damage(NPY, NPY, npy_entry_points);
}

#[test]
fn damaged_tflite_are_errors_or_run() {
    damage(TFLITE, TFLITE, tflite_entry_points);
}

#[test]
fn every_fixture_type_fed_to_every_reader() {
    // A file of one type handed to another's reader (a common mistake on the command line).
    for rel in SAFETENSORS.iter().chain(NPY).chain(TFLITE) {
        let bytes = std::fs::read(data(rel)).unwrap();
        safetensors_entry_points(&bytes);
        npy_entry_points(&bytes);
        tflite_entry_points(&bytes);
    }
}
