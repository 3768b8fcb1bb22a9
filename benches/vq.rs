//! VQ kernels and searches per size: `cargo bench --features std --bench vq`.
//!
//! Kernels on one query (f32 direct distances, packed scores, the int8 screen, the candidate scans
//! with the shared and the per-codeword window, exact distances, argmin, int8 distances and dots),
//! packing a codebook, single-query latency of `Codebook::nearest` (packed and not) and of the int8
//! search, and batch throughput of `nearest_batch` and `nearest_indices_batch` at the sizes
//! benches/faiss_vq.sh compares with faiss.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fvae::kernels::vq as kv;
use fvae::vq::{Codebook, CodebookI8};
use std::hint::black_box;

struct Rng(u64);
impl Rng {
    fn f32(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
    fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.f32()).collect()
    }
}

const SIZES: [(usize, usize); 3] = [(16, 256), (64, 512), (128, 1024)];

fn kernels(c: &mut Criterion) {
    let mut g = c.benchmark_group("vq_kernels");
    let mut rng = Rng(1);
    for (d, m) in SIZES {
        let cb = rng.vec(m * d);
        let x = rng.vec(d);
        let id = format!("d{d}_m{m}");
        g.throughput(Throughput::Elements(m as u64));
        let mut out = vec![0f32; m];
        g.bench_function(BenchmarkId::new("sq_distances_f32", &id), |b| {
            b.iter(|| kv::sq_distances(black_box(&x), black_box(&cb), &mut out))
        });
        let mp = kv::padded_m(m);
        let mut panels = vec![0f32; mp * d];
        kv::pack_panels(&cb, d, &mut panels);
        let hn: Vec<f32> = cb.chunks_exact(d).map(|c| 0.5 * c.iter().map(|v| v * v).sum::<f32>()).collect();
        let (mut s, mut mins) = (vec![0f32; mp], [0f32; 1]);
        g.bench_function(BenchmarkId::new("scores_1_query", &id), |b| {
            b.iter(|| kv::scores(black_box(&x), d, &panels, &hn, &mut s, &mut mins))
        });
        g.bench_function(BenchmarkId::new("argmin", &id), |b| b.iter(|| kv::argmin(black_box(&out))));
        // The int8 screen of one query (AVX-512 VNNI only; elsewhere it declines at once).
        let mut hnp = vec![f32::INFINITY; mp];
        hnp[..m].copy_from_slice(&hn);
        let mut words = vec![0f32; mp * kv::screen_words(d)];
        let (mut sc, mut cs) = (vec![0f32; mp], vec![0f32; mp]);
        kv::pack_screen(&cb, d, &mut sc, &mut cs, &mut words);
        let mut info = [kv::ScreenQuery::default()];
        g.bench_function(BenchmarkId::new("screen_1_query", &id), |b| {
            b.iter(|| kv::screen(black_box(&x), d, &words, &sc, &cs, &hnp, &mut s, &mut mins, &mut info))
        });
        // The candidate scans over the screen's scores: the shared window and each codeword's
        // own (norms and quantisation errors of the codebook; the bound of a query near 1/127).
        kv::screen(&x, d, &words, &sc, &cs, &hnp, &mut s, &mut mins, &mut info);
        let norms: Vec<f32> = cb.chunks_exact(d).map(|c| c.iter().map(|v| v * v).sum::<f32>().sqrt()).collect();
        let mut errs = vec![0f32; m];
        kv::screen_errors(&cb, d, &mut errs);
        let mut cand = [0u32; 32];
        let t = mins[0] + 0.01;
        g.bench_function(BenchmarkId::new("indices_at_most", &id), |b| {
            b.iter(|| kv::indices_at_most(black_box(&s[..m]), t, &mut cand))
        });
        g.bench_function(BenchmarkId::new("indices_within", &id), |b| {
            b.iter(|| kv::indices_within(black_box(&s[..m]), &norms, &errs, 0.01, 1.0, |hi| hi, &mut cand))
        });
        g.bench_function(BenchmarkId::new("sq_distance_exact_x_m", &id), |b| {
            b.iter(|| cb.chunks_exact(d).map(|c| kv::sq_distance_exact(black_box(&x), c)).sum::<f64>())
        });
        let cq: Vec<i8> = cb.iter().map(|v| (v * 127.0) as i8).collect();
        let xq: Vec<i8> = x.iter().map(|v| (v * 127.0) as i8).collect();
        let mut o8 = vec![0u32; m];
        g.bench_function(BenchmarkId::new("i8_sq_distances", &id), |b| {
            b.iter(|| kv::i8_sq_distances(black_box(&xq), black_box(&cq), &mut o8))
        });
        let mut od = vec![0i32; m];
        g.bench_function(BenchmarkId::new("i8_dots", &id), |b| {
            b.iter(|| kv::i8_dots(black_box(&xq), black_box(&cq), &mut od))
        });
    }
    g.finish();
}

fn searches(c: &mut Criterion) {
    let mut g = c.benchmark_group("vq_search");
    let mut rng = Rng(2);
    for (d, m) in SIZES {
        let data = rng.vec(m * d);
        let queries = rng.vec(1024 * d);
        let id = format!("d{d}_m{m}");
        let plain = Codebook::new(&data, d).unwrap();
        let mut storage = vec![0.0; Codebook::packed_len(m, d)];
        let x = &queries[..d];
        // Packing (half norms, f32 panels, the int8 copy): part of `fvae vq --timing`.
        g.throughput(Throughput::Elements(m as u64));
        g.bench_function(BenchmarkId::new("pack", &id), |b| {
            b.iter(|| plain.pack(black_box(&mut storage[..])).map(|p| p.m()).unwrap())
        });
        let packed = plain.pack(&mut storage).unwrap();
        g.throughput(Throughput::Elements(1));
        g.bench_function(BenchmarkId::new("nearest_single_packed", &id), |b| {
            b.iter(|| packed.nearest(black_box(x)).unwrap())
        });
        g.bench_function(BenchmarkId::new("nearest_single_unpacked", &id), |b| {
            b.iter(|| plain.nearest(black_box(x)).unwrap())
        });
        let cq: Vec<i8> = data.iter().map(|v| (v * 127.0) as i8).collect();
        let cb8 = CodebookI8::new(&cq, d, 1.0 / 127.0).unwrap();
        let mut xq = vec![0i8; d];
        cb8.quantize(x, &mut xq).unwrap();
        g.bench_function(BenchmarkId::new("nearest_single_i8", &id), |b| {
            b.iter(|| cb8.nearest(black_box(&xq)).unwrap())
        });
        let n = queries.len() / d;
        g.throughput(Throughput::Elements(n as u64));
        let (mut idx, mut dist) = (vec![0u32; n], vec![0f32; n]);
        let mut scratch = vec![0.0; packed.batch_scratch_len()];
        g.bench_function(BenchmarkId::new("nearest_batch_packed", &id), |b| {
            b.iter(|| packed.nearest_batch(black_box(&queries), &mut idx, &mut dist, &mut scratch).unwrap())
        });
        g.bench_function(BenchmarkId::new("nearest_indices_batch_packed", &id), |b| {
            b.iter(|| packed.nearest_indices_batch(black_box(&queries), &mut idx, &mut scratch).unwrap())
        });
        g.bench_function(BenchmarkId::new("top4_batch_packed", &id), |b| {
            let (mut i4, mut d4) = (vec![0u32; 4 * n], vec![0f32; 4 * n]);
            b.iter(|| packed.top_k_batch(black_box(&queries), 4, &mut i4, &mut d4, &mut scratch).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, kernels, searches);
criterion_main!(benches);
