//! Single-query latency of `Codebook::nearest` (packed codebook), for benches/faiss_vq.sh.
//!
//! `cargo run --release --features std --example vq_latency -- CODEBOOK.safetensors X.npy [QUERIES]`
//! prints the mean nanoseconds per call over QUERIES (default 20 000) single-query searches.

use fvae::formats::npy::Npy;
use fvae::formats::safetensors::SafeTensors;
use fvae::formats::AlignedBuf;
use fvae::vq::Codebook;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        return Err("usage: vq_latency CODEBOOK.safetensors X.npy [QUERIES]".into());
    }
    let file = AlignedBuf::read(&args[1])?;
    let cb = Codebook::from_safetensors(&SafeTensors::parse(file.as_bytes())?)?;
    let xbuf = AlignedBuf::read(&args[2])?;
    let x = Npy::parse(xbuf.as_bytes())?.to_f32_vec("x")?;
    let n = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(20_000usize).min(x.len() / cb.d());
    let mut storage = vec![0.0; Codebook::packed_len(cb.m(), cb.d())];
    let cb = cb.pack(&mut storage)?;
    let d = cb.d();
    let mut check = 0u64;
    // Warm up caches and the CPU-level detection, then time.
    for q in x.chunks_exact(d).take(1000) {
        check += cb.nearest(q)?.index as u64;
    }
    let start = Instant::now();
    for q in x.chunks_exact(d).take(n) {
        check += std::hint::black_box(cb.nearest(std::hint::black_box(q))?).index as u64;
    }
    let ns = start.elapsed().as_nanos() as f64 / n as f64;
    println!("ns_per_query={ns:.1} queries={n} checksum={check}");
    Ok(())
}
