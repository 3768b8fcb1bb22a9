//! The main job: encode scikit-learn's 8x8 digits (1 797 images, the fixture in tests/data)
//! into improved Fisher vectors with the 16-component GMM shipped beside them, and print a
//! summary: throughput, the agreement with the float64 reference, a two-way split merged back,
//! and one vector per block of digits.
//!
//! Run: `cargo run --release --example encode_digits --features std`

use fvae::fisher::{FisherAccumulator, FisherOptions, Layout, Normalization};
use fvae::formats::npy::Npy;
use fvae::formats::safetensors::SafeTensors;
use fvae::formats::AlignedBuf;
use fvae::gmm::DiagGmm;
use std::path::Path;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/gmm/digits_k16");
    let file = AlignedBuf::read(dir.join("gmm.safetensors"))?;
    let st = SafeTensors::parse(file.as_bytes())?;
    let (k, d) = (16, 64);
    let mut constants = vec![0.0; DiagGmm::constants_len(k, d)];
    let gmm = DiagGmm::from_safetensors(&st, &mut constants)?;
    let x_file = AlignedBuf::read(dir.join("x.npy"))?;
    let x = Npy::parse(x_file.as_bytes())?;
    let xs = x.as_f32("x.npy")?;
    let n = xs.len() / d;
    println!("fvae {} — kernels on the {} path", env!("CARGO_PKG_VERSION"), fvae::kernels::cpu::float_path_name());
    println!("GMM: K = {k} components, D = {d}; data: {n} digits (8x8 pixels)");

    // One improved Fisher vector over every digit.
    let mut storage = vec![0.0; FisherAccumulator::storage_len(k, d)];
    let mut acc = FisherAccumulator::new(gmm, FisherOptions::default(), &mut storage)?;
    let start = Instant::now();
    acc.push_batch(xs)?;
    let mut fv = vec![0.0; Layout::VlFeat.len(k, d)];
    acc.finish(Layout::VlFeat, Normalization::IMPROVED, &mut fv)?;
    let elapsed = start.elapsed();
    let ref_file = AlignedBuf::read(dir.join("fv_vlfeat_improved.npy"))?;
    let reference = Npy::parse(ref_file.as_bytes())?.to_f64_vec("reference")?;
    let err = {
        let num: f64 = fv.iter().zip(&reference).map(|(&a, &b)| (a as f64 - b).powi(2)).sum();
        (num / reference.iter().map(|b| b * b).sum::<f64>()).sqrt()
    };
    println!(
        "one improved FV over all {n} digits: {} values in {:.2} ms ({:.0} descriptors/s); relative L2 error vs float64 reference: {err:.1e}",
        fv.len(),
        elapsed.as_secs_f64() * 1e3,
        n as f64 / elapsed.as_secs_f64()
    );

    // The same stream split over two accumulators (two cores, or two devices) and merged.
    let mut storage_b = vec![0.0; FisherAccumulator::storage_len(k, d)];
    let mut first = FisherAccumulator::new(gmm, FisherOptions::default(), &mut storage)?;
    let mut second = FisherAccumulator::new(gmm, FisherOptions::default(), &mut storage_b)?;
    let half = n / 2 * d;
    first.push_batch(&xs[..half])?;
    second.push_batch(&xs[half..])?;
    first.merge(&second)?;
    let mut merged = vec![0.0; fv.len()];
    first.finish(Layout::VlFeat, Normalization::IMPROVED, &mut merged)?;
    let diff = merged.iter().zip(&fv).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    println!("two halves merged: {} descriptors, largest difference from the single stream {diff:.1e}", first.count());

    // Ten vectors, one per block of consecutive digits, and how alike they are.
    let blocks: Vec<Vec<f32>> = xs
        .chunks(n.div_ceil(10) * d)
        .map(|block| {
            first.reset();
            first.push_batch(block)?;
            let mut v = vec![0.0; fv.len()];
            first.finish(Layout::VlFeat, Normalization::IMPROVED, &mut v)?;
            Ok(v)
        })
        .collect::<Result<_, fvae::Error>>()?;
    let cos: Vec<f32> = blocks.windows(2).map(|w| w[0].iter().zip(&w[1]).map(|(a, b)| a * b).sum()).collect();
    println!("cosine similarity of consecutive blocks of ~180 digits: {cos:.2?}");
    if err > 1e-4 {
        return Err(format!("FV differs from the float64 reference by {err:e}").into());
    }
    Ok(())
}
