//! Criterion benches of the Gaussian-mixture kernels, per path and size, and of the whole
//! per-descriptor Fisher-vector push.
//!
//! Kernels (`sq_mahalanobis`, `softmax`, `accumulate`, `accumulate_compensated`) are timed on
//! every path this CPU has, called directly, beside the scalar reference, at (D, K) = (64, 256),
//! (128, 64), (16, 16) and (32, 16). One iteration is one descriptor, so criterion's
//! "elem/s" is descriptors per second. `sq_mahalanobis_batch` takes 64 descriptors per call
//! through the dispatch (its name says which path ran).
//!
//! `fv_push` times `FisherAccumulator::push` (checks, log-densities, softmax, statistics) at
//! (64, 256) and (128, 64) through the dispatch, whose path is cached once per process: run it
//! once per level with `FVAE_X86_LEVEL=sse2|avx2|avx512` (the bench name says which ran).
//!
//! `fv_push_batch` times `FisherAccumulator::push_batch` on blocks of 64 descriptors (distances
//! 8 rows per pass over the model, certainly-zero posteriors pruned exactly at D >= 96).
//!
//! Data: a random diagonal mixture and descriptors sampled from it, as
//! `benches/fv_vs_skimage.py` makes them (weights U(0.5, 1.5) normalised, means N(0, 3^2),
//! variances U(0.5, 2)): "separated", where a descriptor has one or a few nonzero posteriors.
//! "overlapping" (means N(0, 0.05^2)) gives every component a nonzero posterior: the worst case
//! for the statistics update.
//!
//! ```sh
//! cargo bench --bench gaussian                              # kernels on every path + fv_push on the best
//! FVAE_X86_LEVEL=avx2 cargo bench --bench gaussian -- "fv_push|batch"
//! python3 benches/gaussian_summary.py                       # table: median and best-sample desc/s
//! ```

use core::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fvae::fisher::{FisherAccumulator, FisherOptions};
use fvae::gmm::DiagGmm;
use fvae_kernels::gaussian::scalar;

type SqFn = unsafe fn(&[f32], &[f32], &[f32], &mut [f32]);
type SoftmaxFn = unsafe fn(&mut [f32]) -> f32;
type AccFn = unsafe fn(&[f32], &[f32], &[f32], &[f32], &mut [f32], &mut [f32]);
type AccCompFn = unsafe fn(&[f32], &[f32], &[f32], &[f32], &mut [f32], &mut [f32], &mut [f32], &mut [f32]);

/// One path of the kernels; listed only when this CPU can run it.
#[derive(Clone, Copy)]
struct Path {
    name: &'static str,
    sq: SqFn,
    softmax: SoftmaxFn,
    acc: AccFn,
    acc_comp: AccCompFn,
}

fn paths() -> Vec<Path> {
    #[allow(unused_mut)]
    let mut v = vec![Path {
        name: "scalar",
        sq: scalar::sq_mahalanobis,
        softmax: scalar::softmax,
        acc: scalar::accumulate,
        acc_comp: scalar::accumulate_compensated,
    }];
    #[cfg(target_arch = "x86_64")]
    {
        use fvae_kernels::gaussian::x86_64::{avx2, avx512, sse2};
        v.push(Path {
            name: "sse2",
            sq: sse2::sq_mahalanobis,
            softmax: sse2::softmax,
            acc: sse2::accumulate,
            acc_comp: sse2::accumulate_compensated,
        });
        // Listed by the dispatch's own level, which checks every feature each path enables.
        let level = fvae_kernels::cpu::detected_x86_level();
        if level >= fvae_kernels::cpu::X86Level::Avx2Fma {
            v.push(Path {
                name: "avx2+fma",
                sq: avx2::sq_mahalanobis,
                softmax: avx2::softmax,
                acc: avx2::accumulate,
                acc_comp: avx2::accumulate_compensated,
            });
        }
        if level >= fvae_kernels::cpu::X86Level::Avx512 {
            v.push(Path {
                name: "avx512f",
                sq: avx512::sq_mahalanobis,
                softmax: avx512::softmax,
                acc: avx512::accumulate,
                acc_comp: avx512::accumulate_compensated,
            });
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        use fvae_kernels::gaussian::aarch64::neon;
        v.push(Path {
            name: "neon",
            sq: neon::sq_mahalanobis,
            softmax: neon::softmax,
            acc: neon::accumulate,
            acc_comp: neon::accumulate_compensated,
        });
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        use fvae_kernels::gaussian::wasm32::simd128;
        v.push(Path {
            name: "simd128",
            sq: simd128::sq_mahalanobis,
            softmax: simd128::softmax,
            acc: simd128::accumulate,
            acc_comp: simd128::accumulate_compensated,
        });
    }
    v
}

/// xorshift64* with Box-Muller normals: no dependency, same data every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn uniform(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        (-2.0 * self.uniform().ln()).sqrt() * (2.0 * core::f64::consts::PI * self.uniform()).cos()
    }
}

/// A K x D diagonal mixture and N descriptors sampled from it, with each descriptor's
/// log-weighted log-densities (softmax input) and posteriors (statistics input).
struct Case {
    d: usize,
    k: usize,
    weights: Vec<f32>,
    means: Vec<f32>,
    variances: Vec<f32>,
    inv_sigma: Vec<f32>,
    xs: Vec<f32>,
    logits: Vec<f32>,
    posteriors: Vec<f32>,
}

const N: usize = 1024;

impl Case {
    fn new(d: usize, k: usize, mean_sd: f64, seed: u64) -> Case {
        let mut rng = Rng(seed);
        let w: Vec<f64> = (0..k).map(|_| 0.5 + rng.uniform()).collect();
        let total: f64 = w.iter().sum();
        let weights: Vec<f32> = w.iter().map(|v| (v / total) as f32).collect();
        let means: Vec<f32> = (0..k * d).map(|_| (mean_sd * rng.normal()) as f32).collect();
        let variances: Vec<f32> = (0..k * d).map(|_| (0.5 + 1.5 * rng.uniform()) as f32).collect();
        let inv_sigma: Vec<f32> = variances.iter().map(|v| 1.0 / v.sqrt()).collect();
        let mut xs = Vec::with_capacity(N * d);
        for _ in 0..N {
            let c = (rng.next() % k as u64) as usize;
            for i in 0..d {
                let j = c * d + i;
                xs.push((means[j] as f64 + (variances[j] as f64).sqrt() * rng.normal()) as f32);
            }
        }
        let mut consts = vec![0.0; DiagGmm::constants_len(k, d)];
        let gmm = DiagGmm::new(&weights, &means, &variances, &mut consts).expect("valid mixture");
        let (mut logits, mut posteriors) = (vec![0.0; N * k], vec![0.0; N * k]);
        for (x, (l, p)) in xs.chunks_exact(d).zip(logits.chunks_exact_mut(k).zip(posteriors.chunks_exact_mut(k))) {
            gmm.posteriors(x, p).expect("finite");
            // The softmax input: posteriors recover log w + log N up to a constant per row,
            // which is all softmax sees; rebuild it from the f32 distances as the model does.
            scalar::sq_mahalanobis(x, &means, &inv_sigma, l);
            for (c, v) in l.iter_mut().enumerate() {
                *v = weights[c].ln()
                    - 0.5 * *v
                    - 0.5 * variances[c * d..(c + 1) * d].iter().map(|s| s.ln()).sum::<f32>();
            }
        }
        Case { d, k, weights, means, variances, inv_sigma, xs, logits, posteriors }
    }

    fn label(&self) -> String {
        format!("D{}K{}", self.d, self.k)
    }

    /// Mean number of nonzero posteriors per descriptor.
    fn nonzero(&self) -> f64 {
        self.posteriors.iter().filter(|&&p| p != 0.0).count() as f64 / N as f64
    }
}

const SIZES: [(usize, usize); 4] = [(64, 256), (128, 64), (16, 16), (32, 16)];

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(400))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20)
}

fn kernels(c: &mut Criterion) {
    let paths = paths();
    for (d, k) in SIZES {
        for (regime, sd) in [("separated", 3.0), ("overlapping", 0.05)] {
            let case = Case::new(d, k, sd, 0x5eed ^ (d * 1000 + k) as u64);
            let tag = format!("{}/{regime}", case.label());
            eprintln!("{tag}: {:.2} nonzero posteriors per descriptor", case.nonzero());
            // Distances and softmax do not depend on the regime: time them once.
            if regime == "separated" {
                let mut g = c.benchmark_group(format!("sq_mahalanobis/{}", case.label()));
                g.throughput(Throughput::Elements(1));
                for p in &paths {
                    let mut out = vec![0.0; k];
                    let mut rows = case.xs.chunks_exact(d).cycle();
                    g.bench_function(BenchmarkId::from_parameter(p.name), |b| {
                        b.iter(|| {
                            let x = rows.next().unwrap_or(&[]);
                            // SAFETY: `paths()` lists only paths this CPU can run.
                            unsafe { (p.sq)(black_box(x), &case.means, &case.inv_sigma, &mut out) };
                            black_box(&out);
                        })
                    });
                }
                g.finish();
                // 64 descriptors per iteration, through the batched kernel (AVX-512: each
                // component row read once per 8 descriptors) and the dispatched one-row kernel.
                let mut g = c.benchmark_group(format!("sq_mahalanobis_batch/{}", case.label()));
                let rows = 64;
                g.throughput(Throughput::Elements(rows as u64));
                let mut out = vec![0.0; rows * k];
                let blocks: Vec<&[f32]> = case.xs.chunks_exact(rows * d).collect();
                let mut next = blocks.iter().cycle();
                g.bench_function(BenchmarkId::from_parameter(fvae_kernels::cpu::float_path_name()), |b| {
                    b.iter(|| {
                        let xs = next.next().map_or(&[][..], |v| v);
                        fvae_kernels::gaussian::sq_mahalanobis_batch(
                            black_box(xs),
                            d,
                            &case.means,
                            &case.inv_sigma,
                            &mut out,
                        );
                        black_box(&out);
                    })
                });
                g.finish();
                let mut g = c.benchmark_group(format!("softmax/{}", case.label()));
                g.throughput(Throughput::Elements(1));
                for p in &paths {
                    let mut v = vec![0.0; k];
                    let mut rows = case.logits.chunks_exact(k).cycle();
                    g.bench_function(BenchmarkId::from_parameter(p.name), |b| {
                        b.iter(|| {
                            v.copy_from_slice(rows.next().unwrap_or(&[]));
                            // SAFETY: as above.
                            black_box(unsafe { (p.softmax)(black_box(&mut v)) })
                        })
                    });
                }
                g.finish();
            }
            let mut g = c.benchmark_group(format!("accumulate/{tag}"));
            g.throughput(Throughput::Elements(1));
            for p in &paths {
                let (mut s1, mut s2) = (vec![0.0; k * d], vec![0.0; k * d]);
                let mut rows = case.xs.chunks_exact(d).zip(case.posteriors.chunks_exact(k)).cycle();
                g.bench_function(BenchmarkId::from_parameter(p.name), |b| {
                    b.iter(|| {
                        let (x, q) = rows.next().unwrap_or((&[], &[]));
                        // SAFETY: as above.
                        unsafe { (p.acc)(black_box(x), &case.means, &case.inv_sigma, q, &mut s1, &mut s2) };
                    })
                });
            }
            g.finish();
            let mut g = c.benchmark_group(format!("accumulate_compensated/{tag}"));
            g.throughput(Throughput::Elements(1));
            for p in &paths {
                let mut s: Vec<Vec<f32>> = (0..4).map(|_| vec![0.0; k * d]).collect();
                let mut rows = case.xs.chunks_exact(d).zip(case.posteriors.chunks_exact(k)).cycle();
                g.bench_function(BenchmarkId::from_parameter(p.name), |b| {
                    b.iter(|| {
                        let (x, q) = rows.next().unwrap_or((&[], &[]));
                        let [s1, c1, s2, c2] = &mut s[..] else { return };
                        // SAFETY: as above.
                        unsafe { (p.acc_comp)(black_box(x), &case.means, &case.inv_sigma, q, s1, c1, s2, c2) };
                    })
                });
            }
            g.finish();
        }
    }
}

fn fv_push(c: &mut Criterion) {
    let path = fvae_kernels::cpu::float_path_name();
    for (d, k) in [(64, 256), (128, 64)] {
        for (regime, sd) in [("separated", 3.0), ("overlapping", 0.05)] {
            let case = Case::new(d, k, sd, 0x5eed ^ (d * 1000 + k) as u64);
            let mut consts = vec![0.0; DiagGmm::constants_len(k, d)];
            let gmm = DiagGmm::new(&case.weights, &case.means, &case.variances, &mut consts).expect("valid mixture");
            let mut g = c.benchmark_group(format!("fv_push/{}/{regime}", case.label()));
            g.throughput(Throughput::Elements(1));
            for (what, compensated) in [("compensated", true), ("plain", false)] {
                let options = FisherOptions::DEFAULT.with_compensated(compensated);
                let mut storage = vec![0.0; FisherAccumulator::storage_len_with(k, d, options)];
                let mut acc = FisherAccumulator::new(gmm, options, &mut storage).expect("storage");
                let mut rows = case.xs.chunks_exact(d).cycle();
                g.bench_function(BenchmarkId::new(what, path), |b| {
                    b.iter(|| black_box(acc.push(black_box(rows.next().unwrap_or(&[])))))
                });
            }
            g.finish();
        }
    }
}

/// `FisherAccumulator::push_batch` over blocks of 64 descriptors: distances 8 rows per pass over
/// the model (with the exact pruning of certainly-zero posteriors at D >= 96), softmax and
/// statistics, checks included.
fn fv_push_batch(c: &mut Criterion) {
    let path = fvae_kernels::cpu::float_path_name();
    const B: usize = 64;
    for (d, k) in [(64, 256), (128, 64)] {
        for (regime, sd) in [("separated", 3.0), ("overlapping", 0.05)] {
            let case = Case::new(d, k, sd, 0x5eed ^ (d * 1000 + k) as u64);
            let mut consts = vec![0.0; DiagGmm::constants_len(k, d)];
            let gmm = DiagGmm::new(&case.weights, &case.means, &case.variances, &mut consts).expect("valid mixture");
            let mut storage = vec![0.0; FisherAccumulator::storage_len(k, d)];
            let mut acc = FisherAccumulator::new(gmm, FisherOptions::default(), &mut storage).expect("storage");
            let mut blocks = case.xs.chunks_exact(B * d).cycle();
            let mut g = c.benchmark_group(format!("fv_push_batch/{}/{regime}", case.label()));
            g.throughput(Throughput::Elements(B as u64));
            g.bench_function(BenchmarkId::new("compensated", path), |b| {
                b.iter(|| black_box(acc.push_batch(black_box(blocks.next().unwrap_or(&[])))))
            });
            g.finish();
        }
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = kernels, fv_push, fv_push_batch
}
criterion_main!(benches);
