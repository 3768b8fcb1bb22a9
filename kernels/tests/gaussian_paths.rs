//! Every SIMD path of the Gaussian-mixture kernels that this CPU has, called directly, against
//! the scalar reference (`gaussian::scalar`), plus the dispatching functions.
//!
//! Paths: x86_64 SSE2 always, AVX2+FMA and AVX-512F when the CPU has them (the test prints
//! which ran); aarch64 NEON (`cargo test --target aarch64-unknown-linux-gnu`, under qemu-user);
//! wasm32 simd128 (`--target wasm32-wasip1` with `-C target-feature=+simd128`, under Node's WASI).
//!
//! Tolerances (ε = `f32::EPSILON` = 2^-23, u = ε/2 the unit roundoff), each an a-priori bound
//! from the arithmetic, not a fitted number:
//! - `exp`: at most [`EXP_ULPS`] ULP from `math::exp` (the same reduction, the polynomial
//!   with FMA on AVX2/AVX-512/NEON, `n` rounded half to even). Exactly the same arguments
//!   give 0 (below -87), infinity and NaN.
//! - `sq_mahalanobis`: `|simd - scalar| <= D ε |scalar|`. Both sum the same D non-negative
//!   terms `t^2` (t is computed identically: a subtraction, then a multiplication), in
//!   different orders and with or without FMA; each is within about D u of the exact sum.
//! - `softmax`: each posterior within `(EXP_ULPS + 4 + K) ε` relative (the exps differ by
//!   EXP_ULPS ULP, the two sums of K positive terms by at most (K - 1) ε, then one division
//!   and one multiplication), plus 2^-148 absolute for subnormal posteriors; zeros exactly
//!   where the reference has them; the log-sum-exp within `K ε + 2 ε |lse|`.
//! - `accumulate`: `s1` within `2 ε (|s1| + |q t|)`, `s2` within
//!   `3 ε (|s2| + |q| (t^2 + 1))` per update (one fused rounding instead of two or three);
//!   paths without FMA (SSE2) are bit-identical. Rows with `q == 0` are never touched.
//! - `accumulate_compensated`: bit-identical on every path (element-wise, no FMA).

use fvae_kernels::gaussian::{self, scalar};
use fvae_kernels::math;
use proptest::prelude::*;

/// The ULP bound of the vector `exp` against `math::exp`, exhaustively checked by
/// `exp_exhaustive` (SSE2 differs only at ties of the rounding of `n`).
const EXP_ULPS: u32 = 1;

type SqFn = unsafe fn(&[f32], &[f32], &[f32], &mut [f32]);
type SoftmaxFn = unsafe fn(&mut [f32]) -> f32;
type AccFn = unsafe fn(&[f32], &[f32], &[f32], &[f32], &mut [f32], &mut [f32]);
type ExpFn = unsafe fn(&mut [f32]);
type AccCompFn = unsafe fn(&[f32], &[f32], &[f32], &[f32], &mut [f32], &mut [f32], &mut [f32], &mut [f32]);

/// One SIMD path, listed only if this CPU can run it.
#[derive(Clone, Copy)]
struct Path {
    name: &'static str,
    /// Whether the path fuses multiply-adds (without, `accumulate` must be bit-exact).
    fused: bool,
    sq: SqFn,
    softmax: SoftmaxFn,
    acc: AccFn,
    acc_comp: AccCompFn,
    exp: ExpFn,
}

impl Path {
    fn sq(&self, x: &[f32], means: &[f32], inv_sigma: &[f32], out: &mut [f32]) {
        // SAFETY: `paths()` lists a path only when the CPU has its features.
        unsafe { (self.sq)(x, means, inv_sigma, out) }
    }
    fn softmax(&self, v: &mut [f32]) -> f32 {
        // SAFETY: as above.
        unsafe { (self.softmax)(v) }
    }
    fn acc(&self, x: &[f32], means: &[f32], inv_sigma: &[f32], q: &[f32], s1: &mut [f32], s2: &mut [f32]) {
        // SAFETY: as above.
        unsafe { (self.acc)(x, means, inv_sigma, q, s1, s2) }
    }
    #[allow(clippy::too_many_arguments)]
    fn acc_comp(
        &self,
        x: &[f32],
        means: &[f32],
        inv_sigma: &[f32],
        q: &[f32],
        s1: &mut [f32],
        c1: &mut [f32],
        s2: &mut [f32],
        c2: &mut [f32],
    ) {
        // SAFETY: as above.
        unsafe { (self.acc_comp)(x, means, inv_sigma, q, s1, c1, s2, c2) }
    }
    fn exp(&self, v: &mut [f32]) {
        // SAFETY: as above.
        unsafe { (self.exp)(v) }
    }
}

fn paths() -> Vec<Path> {
    #[allow(unused_mut)]
    let mut v: Vec<Path> = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        use fvae_kernels::gaussian::x86_64::{avx2, avx512, sse2};
        v.push(Path {
            name: "sse2",
            fused: false,
            sq: sse2::sq_mahalanobis,
            softmax: sse2::softmax,
            acc: sse2::accumulate,
            acc_comp: sse2::accumulate_compensated,
            exp: sse2::exp,
        });
        if fvae_kernels::cpu::detected_x86_level() >= fvae_kernels::cpu::X86Level::Avx2Fma {
            v.push(Path {
                name: "avx2+fma",
                fused: true,
                sq: avx2::sq_mahalanobis,
                softmax: avx2::softmax,
                acc: avx2::accumulate,
                acc_comp: avx2::accumulate_compensated,
                exp: avx2::exp,
            });
        }
        if fvae_kernels::cpu::detected_x86_level() >= fvae_kernels::cpu::X86Level::Avx512 {
            v.push(Path {
                name: "avx512f",
                fused: true,
                sq: avx512::sq_mahalanobis,
                softmax: avx512::softmax,
                acc: avx512::accumulate,
                acc_comp: avx512::accumulate_compensated,
                exp: avx512::exp,
            });
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        use fvae_kernels::gaussian::aarch64::neon;
        v.push(Path {
            name: "neon",
            fused: true,
            sq: neon::sq_mahalanobis,
            softmax: neon::softmax,
            acc: neon::accumulate,
            acc_comp: neon::accumulate_compensated,
            exp: neon::exp,
        });
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        use fvae_kernels::gaussian::wasm32::simd128;
        v.push(Path {
            name: "simd128",
            fused: false,
            sq: simd128::sq_mahalanobis,
            softmax: simd128::softmax,
            acc: simd128::accumulate,
            acc_comp: simd128::accumulate_compensated,
            exp: simd128::exp,
        });
    }
    v
}

/// A small deterministic generator (xorshift64*), so sweeps need no seeds from outside.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in [lo, hi).
    fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * ((self.next() >> 40) as f32 / (1u64 << 24) as f32)
    }
    fn vec(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| self.uniform(lo, hi)).collect()
    }
}

/// `data` copied behind `offset` leading elements, so the slice returned by `shifted` starts
/// `offset` floats (4 bytes each) past the allocation's alignment.
struct Shifted {
    buf: Vec<f32>,
    offset: usize,
}

impl Shifted {
    fn new(data: &[f32], offset: usize) -> Self {
        let mut buf = vec![f32::NAN; offset];
        buf.extend_from_slice(data);
        Shifted { buf, offset }
    }
    fn get(&self) -> &[f32] {
        &self.buf[self.offset..]
    }
    fn get_mut(&mut self) -> &mut [f32] {
        &mut self.buf[self.offset..]
    }
}

fn ulps(a: f32, b: f32) -> u32 {
    if a == b || (a.is_nan() && b.is_nan()) {
        0
    } else if a.is_nan() || b.is_nan() || a.is_sign_negative() != b.is_sign_negative() {
        u32::MAX
    } else {
        a.to_bits().abs_diff(b.to_bits())
    }
}

const EPS: f32 = f32::EPSILON;

// ---------------------------------------------------------------- sq_mahalanobis

/// Runs one path and the reference on the same inputs (each slice shifted by `offset`) and
/// returns the largest error in units of the stated bound (<= 1 passes).
fn check_sq(p: &Path, x: &[f32], means: &[f32], inv_sigma: &[f32], k: usize, offset: usize) -> Result<f64, String> {
    let d = x.len();
    let mut want = vec![0.0; k];
    scalar::sq_mahalanobis(x, means, inv_sigma, &mut want);
    let (xs, ms, ss) = (Shifted::new(x, offset), Shifted::new(means, offset), Shifted::new(inv_sigma, offset));
    let mut got = Shifted::new(&vec![-7.0; k], offset);
    p.sq(xs.get(), ms.get(), ss.get(), got.get_mut());
    let mut worst = 0.0f64;
    for (c, (&g, &w)) in got.get().iter().zip(&want).enumerate() {
        let bound = d as f32 * EPS * w.abs();
        let ok = if w.is_finite() { (g - w).abs() <= bound } else { g.to_bits() == w.to_bits() };
        if !ok {
            return Err(format!("{}: sq_mahalanobis D={d} K={k} offset={offset} k={c}: got {g}, want {w}", p.name));
        }
        if bound > 0.0 {
            worst = worst.max(((g - w).abs() / bound) as f64);
        } else if g != w {
            return Err(format!("{}: sq_mahalanobis D={d} k={c}: got {g}, want exactly {w}", p.name));
        }
    }
    Ok(worst)
}

#[test]
fn sq_mahalanobis_every_d_and_k_tail() {
    let paths = paths();
    eprintln!("paths tested: {:?}", paths.iter().map(|p| p.name).collect::<Vec<_>>());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut worst = vec![0.0f64; paths.len()];
    for d in 1..=130 {
        for k in [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33] {
            let x = rng.vec(d, -3.0, 3.0);
            let means = rng.vec(k * d, -3.0, 3.0);
            let inv_sigma = rng.vec(k * d, 0.1, 4.0);
            for (p, w) in paths.iter().zip(&mut worst) {
                for offset in [0, 1] {
                    *w = w.max(check_sq(p, &x, &means, &inv_sigma, k, offset).unwrap());
                }
            }
        }
    }
    for (p, w) in paths.iter().zip(&worst) {
        eprintln!("{}: sq_mahalanobis worst error {w:.4} of the bound D eps |v|", p.name);
    }
}

#[test]
fn sq_mahalanobis_extremes() {
    let mut rng = Rng(7);
    for p in &paths() {
        for d in [1, 3, 8, 16, 17, 48, 64, 127, 128, 130] {
            let k = 13;
            // Data far from zero with tiny variances: the case the expanded form gets wrong.
            let x: Vec<f32> = (0..d).map(|i| 1e4 + i as f32 * 0.25).collect();
            let means: Vec<f32> = (0..k * d).map(|j| x[j % d] + rng.uniform(-0.01, 0.01)).collect();
            let inv_sigma = vec![1.0 / 1e-5f32.sqrt(); k * d];
            check_sq(p, &x, &means, &inv_sigma, k, 1).unwrap();
            // Exactly zero distances (x on the means) stay exactly zero.
            let means: Vec<f32> = (0..k * d).map(|j| x[j % d]).collect();
            let mut out = vec![1.0; k];
            p.sq(&x, &means, &inv_sigma, &mut out);
            assert!(out.iter().all(|&v| v == 0.0), "{}: D={d}: {out:?}", p.name);
            // Overflow to +inf in both.
            let far = vec![-3e38f32; k * d];
            check_sq(p, &x, &far, &inv_sigma, k, 0).unwrap();
            // Far from each other and zeros mixed in.
            let x: Vec<f32> = (0..d).map(|i| if i % 3 == 0 { 0.0 } else { -1e4 }).collect();
            let means = rng.vec(k * d, -1e4, 1e4);
            let inv_sigma = rng.vec(k * d, 1e-3, 300.0);
            check_sq(p, &x, &means, &inv_sigma, k, 1).unwrap();
        }
    }
}

#[test]
fn sq_mahalanobis_inconsistent_lengths() {
    let mut rng = Rng(11);
    for p in &paths() {
        for d in [1, 5, 16, 33] {
            // Means for 6 rows, inv_sigma for 5 (plus a partial row), out for 9: K = 5, the
            // last 4 outputs untouched.
            let x = rng.vec(d, -1.0, 1.0);
            let means = rng.vec(6 * d, -1.0, 1.0);
            let inv_sigma = rng.vec(5 * d + d / 2, 0.5, 2.0);
            let mut want = vec![-1.0; 9];
            gaussian::scalar::sq_mahalanobis(&x, &means[..5 * d], &inv_sigma[..5 * d], &mut want[..5]);
            let mut got = vec![-1.0; 9];
            p.sq(&x, &means, &inv_sigma, &mut got);
            assert_eq!(&got[5..], &[-1.0; 4], "{}", p.name);
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= d as f32 * EPS * w.abs(), "{}: {got:?} vs {want:?}", p.name);
            }
        }
    }
}

/// The batched distances: on AVX2 and AVX-512 bit for bit the one-descriptor kernel row by row (every
/// block size and tail of N, odd D, unaligned rows); dispatched, within the bound above of
/// the scalar reference; rows beyond what `out` holds untouched.
#[test]
fn sq_mahalanobis_batch_matches_rows() {
    let mut rng = Rng(23);
    #[cfg(target_arch = "x86_64")]
    let avx512 = fvae_kernels::cpu::detected_x86_level() >= fvae_kernels::cpu::X86Level::Avx512;
    #[cfg(target_arch = "x86_64")]
    let avx2 = fvae_kernels::cpu::detected_x86_level() >= fvae_kernels::cpu::X86Level::Avx2Fma;
    for d in (1..=130).step_by(3).chain([16, 64, 128]) {
        for (n, k) in [(0, 3), (1, 1), (3, 5), (8, 4), (9, 7), (17, 9), (20, 2)] {
            let xs = rng.vec(n * d, -3.0, 3.0);
            let means = rng.vec(k * d, -3.0, 3.0);
            let inv_sigma = rng.vec(k * d, 0.1, 4.0);
            let mut want = vec![0.0; n * k];
            scalar::sq_mahalanobis_batch(&xs, d, &means, &inv_sigma, &mut want);
            // One spare row in out: left as it was.
            let mut got = vec![-1.0; n * k + k];
            let xs1 = Shifted::new(&xs, 1);
            gaussian::sq_mahalanobis_batch(xs1.get(), d, &means, &inv_sigma, &mut got);
            assert!(got[n * k..].iter().all(|&v| v == -1.0), "D={d} N={n} K={k}");
            for (j, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!((g - w).abs() <= d as f32 * EPS * w.abs(), "D={d} N={n} K={k} [{j}]: {g} vs {w}");
            }
            #[cfg(target_arch = "x86_64")]
            {
                use fvae_kernels::gaussian::x86_64::{avx2, avx512};
                type Batch = unsafe fn(&[f32], usize, &[f32], &[f32], &mut [f32]);
                let mut batched: Vec<(&str, SqFn, Batch)> = Vec::new();
                if avx2 {
                    batched.push(("avx2+fma", avx2::sq_mahalanobis, avx2::sq_mahalanobis_batch));
                }
                if avx512 {
                    batched.push(("avx512f", avx512::sq_mahalanobis, avx512::sq_mahalanobis_batch));
                }
                for (name, one, batch) in batched {
                    let mut rows = vec![0.0; n * k];
                    for (x, o) in xs.chunks_exact(d).zip(rows.chunks_exact_mut(k)) {
                        // SAFETY: the CPU has the path's features (checked above).
                        unsafe { one(x, &means, &inv_sigma, o) };
                    }
                    let mut got = vec![0.0; n * k];
                    // SAFETY: as above.
                    unsafe { batch(xs1.get(), d, &means, &inv_sigma, &mut got) };
                    let same = got.iter().zip(&rows).all(|(a, b)| a.to_bits() == b.to_bits());
                    assert!(same, "{name} batch vs rows: D={d} N={n} K={k}");
                    // out too short for N rows: only the whole rows it holds are written.
                    let mut short = vec![-1.0; n * k / 2 + 1];
                    // SAFETY: as above.
                    unsafe { batch(&xs, d, &means, &inv_sigma, &mut short) };
                    let whole = (n * k / 2 + 1) / k * k;
                    assert!(short[..whole].iter().zip(&rows).all(|(a, b)| a.to_bits() == b.to_bits()), "{name}");
                    assert!(short[whole..].iter().all(|&v| v == -1.0), "{name}");
                }
            }
        }
    }
    // d == 0 and empty models write nothing.
    let mut out = [7.0; 3];
    gaussian::sq_mahalanobis_batch(&[1.0, 2.0], 0, &[], &[], &mut out);
    gaussian::sq_mahalanobis_batch(&[1.0, 2.0], 2, &[1.0], &[1.0], &mut out);
    assert_eq!(out, [7.0; 3]);
}

/// The prefix lower bounds: on every path (dispatched, and AVX2 and AVX-512 directly) at most
/// the full distance bit for bit, equal to it when the prefix covers a D that is a multiple of
/// 16, exactly 0 on paths without a bound, and no row beyond what `out` holds written.
#[test]
fn sq_mahalanobis_batch_prefix_is_a_lower_bound() {
    let mut rng = Rng(29);
    type Prefix = unsafe fn(&[f32], usize, usize, &[f32], &[f32], &mut [f32]);
    type Full = unsafe fn(&[f32], usize, &[f32], &[f32], &mut [f32]);
    // Each path's bound against its own full distances (more paths on x86_64).
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
    let mut paths: Vec<(&str, Prefix, Full)> = vec![(
        "dispatched",
        |xs, d, p, m, s, o| gaussian::sq_mahalanobis_batch_prefix(xs, d, p, m, s, o),
        |xs, d, m, s, o| gaussian::sq_mahalanobis_batch(xs, d, m, s, o),
    )];
    #[cfg(target_arch = "x86_64")]
    {
        use fvae_kernels::gaussian::x86_64::{avx2, avx512};
        if fvae_kernels::cpu::detected_x86_level() >= fvae_kernels::cpu::X86Level::Avx2Fma {
            paths.push(("avx2+fma", avx2::sq_mahalanobis_batch_prefix, avx2::sq_mahalanobis_batch));
        }
        if fvae_kernels::cpu::detected_x86_level() >= fvae_kernels::cpu::X86Level::Avx512 {
            paths.push(("avx512f", avx512::sq_mahalanobis_batch_prefix, avx512::sq_mahalanobis_batch));
        }
    }
    for d in [1, 15, 16, 17, 31, 32, 33, 48, 64, 65, 96, 128, 130] {
        for (n, k) in [(1, 1), (3, 5), (8, 4), (9, 7), (17, 9)] {
            // Extremes: some columns huge (their squares overflow to infinity) or tiny.
            let mut xs = rng.vec(n * d, -3.0, 3.0);
            if d > 20 {
                xs[d / 2] = 3e19;
                xs[d - 1] = 1e-30;
            }
            let means = rng.vec(k * d, -3.0, 3.0);
            let inv_sigma = rng.vec(k * d, 0.1, 4.0);
            let xs1 = Shifted::new(&xs, 1);
            for p in [0, 15, 16, 32, 48, 200] {
                for (name, f, batch) in &paths {
                    let mut full = vec![0.0; n * k];
                    // SAFETY: the CPU has the path's features (checked above).
                    unsafe { batch(&xs, d, &means, &inv_sigma, &mut full) };
                    let mut low = vec![-1.0; n * k + k];
                    // SAFETY: the CPU has the path's features (checked above).
                    unsafe { f(xs1.get(), d, p, &means, &inv_sigma, &mut low) };
                    assert!(low[n * k..].iter().all(|&v| v == -1.0), "{name} D={d} N={n} K={k} p={p}");
                    for (j, (l, f)) in low.iter().zip(&full).enumerate() {
                        assert!(*l >= 0.0 && l <= f, "{name} D={d} N={n} K={k} p={p} [{j}]: {l} > {f}");
                    }
                    if *name != "dispatched" && p.min(d) == d && d % 16 == 0 {
                        assert!(low.iter().zip(&full).all(|(a, b)| a.to_bits() == b.to_bits()), "{name} D={d} p={p}");
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------- exp

/// Checks a path's `exp` against `math::exp` on `xs`; returns the largest ULP difference.
fn check_exp(p: &Path, xs: &[f32]) -> u32 {
    let mut got = Shifted::new(xs, 1);
    p.exp(got.get_mut());
    let mut worst = 0;
    for (&x, &g) in xs.iter().zip(got.get()) {
        let w = math::exp(x);
        assert_eq!(g == 0.0, w == 0.0, "{}: exp({x:e}) = {g:e}, reference {w:e}", p.name);
        assert_eq!(g.is_infinite(), w.is_infinite(), "{}: exp({x:e}) = {g:e}, reference {w:e}", p.name);
        assert_eq!(g.is_nan(), w.is_nan(), "{}: exp({x:e}) = {g:e}, reference {w:e}", p.name);
        let u = ulps(g, w);
        assert!(u <= EXP_ULPS, "{}: exp({x:e}) = {g:e}, reference {w:e}: {u} ULP", p.name);
        worst = worst.max(u);
    }
    worst
}

#[test]
fn exp_matches_scalar_within_ulps() {
    let mut rng = Rng(3);
    let mut xs = rng.vec(1 << 18, -90.0, 90.0);
    xs.extend(rng.vec(1 << 16, -1.0, 1.0));
    // Around the flush point, the overflow point, n = 128, and the specials.
    for centre in [math::EXP_MIN, math::EXP_MAX, 88.5, 0.0, -0.5 * core::f32::consts::LN_2] {
        let mut v = centre;
        let mut w = centre;
        for _ in 0..200 {
            xs.extend([v, w]);
            v = v.next_up();
            w = w.next_down();
        }
    }
    xs.extend([f32::NAN, -f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0, f32::MAX, f32::MIN, 1e-30, -1e-30]);
    for p in &paths() {
        // Every length up to 40, to run the tails.
        for n in 0..40 {
            check_exp(p, &xs[..n]);
        }
        let worst = check_exp(p, &xs);
        eprintln!("{}: exp worst {worst} ULP from math::exp", p.name);
    }
}

/// Every f32 from -88 to 89 (about 2.2e9 values) through every path's `exp`: the ULP bound
/// above is this test's measured maximum (1 ULP on SSE2, AVX2, AVX-512). About 5 minutes in release:
/// `cargo test --release -p fvae-kernels --test gaussian_paths -- --ignored`.
#[test]
#[ignore]
fn exp_exhaustive() {
    let (lo, hi) = (-88.0f32, 89.0f32);
    // Positive values from 0 up, negative from -0 down: bits in increasing order each way.
    let ranges = [(0.0f32.to_bits(), hi.to_bits()), ((-0.0f32).to_bits(), lo.to_bits())];
    for p in &paths() {
        let mut worst = 0;
        let mut buf = vec![0.0f32; 1 << 16];
        let mut args = vec![0.0f32; 1 << 16];
        for &(start, end) in &ranges {
            let mut b = start;
            while b <= end {
                let n = ((end - b + 1) as usize).min(buf.len());
                for (j, a) in args[..n].iter_mut().enumerate() {
                    *a = f32::from_bits(b + j as u32);
                }
                buf[..n].copy_from_slice(&args[..n]);
                p.exp(&mut buf[..n]);
                for (&x, &g) in args[..n].iter().zip(&buf[..n]) {
                    let w = math::exp(x);
                    let u = ulps(g, w);
                    assert!(u <= EXP_ULPS && (g == 0.0) == (w == 0.0), "{}: exp({x:e}) = {g:e} vs {w:e}", p.name);
                    worst = worst.max(u);
                }
                b += n as u32;
            }
        }
        eprintln!("{}: exp exhaustive worst {worst} ULP", p.name);
    }
}

// ---------------------------------------------------------------- softmax

/// Runs one path and the reference on `v` (shifted by `offset`); returns the largest posterior
/// error in units of the stated bound.
fn check_softmax(p: &Path, v: &[f32], offset: usize) -> Result<f64, String> {
    let k = v.len();
    let mut want = v.to_vec();
    let want_lse = scalar::softmax(&mut want);
    let mut got = Shifted::new(v, offset);
    let got_lse = p.softmax(got.get_mut());
    let got = got.get();
    let ctx = || format!("{}: softmax K={k} offset={offset} v={v:?}", p.name);
    if !want_lse.is_finite() {
        // Not finite: reported (NaN as NaN), and v left exactly as it was.
        let same = want_lse.to_bits() == got_lse.to_bits() || (want_lse.is_nan() && got_lse.is_nan());
        if !same || got.iter().zip(v).any(|(a, b)| a.to_bits() != b.to_bits()) {
            return Err(format!("{}: returned {got_lse} (want {want_lse}), v now {got:?}", ctx()));
        }
        return Ok(0.0);
    }
    let lse_bound = k as f32 * EPS + 2.0 * EPS * want_lse.abs();
    if (got_lse - want_lse).abs() > lse_bound {
        return Err(format!("{}: log-sum-exp {got_lse}, want {want_lse}", ctx()));
    }
    let rel = (EXP_ULPS as f32 + 4.0 + k as f32) * EPS;
    let mut worst = 0.0f64;
    for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
        let bound = rel * w + 2.0 * f32::from_bits(1);
        if (w == 0.0) != (g == 0.0) || (g - w).abs() > bound {
            return Err(format!("{}: posterior {i}: got {g:e}, want {w:e}", ctx()));
        }
        worst = worst.max(((g - w).abs() / bound) as f64);
    }
    Ok(worst)
}

#[test]
fn softmax_random_every_k() {
    let paths = paths();
    let mut rng = Rng(5);
    let mut worst = vec![0.0f64; paths.len()];
    for k in 0..=300 {
        for (lo, hi) in [(-5.0, 5.0), (-100.0, 0.0), (-1e4, -9e3)] {
            let v = rng.vec(k, lo, hi);
            for (p, w) in paths.iter().zip(&mut worst) {
                for offset in [0, 1] {
                    *w = w.max(check_softmax(p, &v, offset).unwrap());
                }
            }
        }
    }
    for (p, w) in paths.iter().zip(&worst) {
        eprintln!("{}: softmax worst posterior error {w:.4} of the bound", p.name);
    }
}

#[test]
fn softmax_flush_edge_and_extremes() {
    let mut rng = Rng(9);
    for p in &paths() {
        for k in [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 67] {
            let max_at = rng.next() as usize % k;
            // Differences to the maximum right at the -87 flush: some exps are exactly 0,
            // the others the smallest normal values; both paths must agree on which.
            for base in [0.0f32, -1e3, 55.5, -3e6] {
                let mut v: Vec<f32> = (0..k)
                    .map(|i| {
                        let mut a = base + math::EXP_MIN;
                        for _ in 0..(i % 9) {
                            a = if i % 2 == 0 { a.next_up() } else { a.next_down() };
                        }
                        a - (i % 4) as f32 * 0.3
                    })
                    .collect();
                v[max_at] = base;
                check_softmax(p, &v, 1).unwrap();
            }
            // Huge negative logits (every density underflowed): exact posteriors still.
            let v: Vec<f32> = (0..k).map(|i| -1e30 + (i % 3) as f32 * 1e23).collect();
            check_softmax(p, &v, 0).unwrap();
            let v = vec![-3.4e38f32; k];
            let mut got = v.clone();
            p.softmax(&mut got);
            assert!(got.iter().all(|&q| (q - 1.0 / k as f32).abs() <= 2.0 * EPS), "{}: {got:?}", p.name);
            // -inf entries are weight 0; all -inf is reported unchanged.
            let mut v = rng.vec(k, -3.0, 3.0);
            v[(max_at + 1) % k] = f32::NEG_INFINITY;
            check_softmax(p, &v, 1).unwrap();
            check_softmax(p, &vec![f32::NEG_INFINITY; k], 1).unwrap();
            // +inf and NaN anywhere (tails included): non-finite return, v unchanged.
            for bad in [f32::INFINITY, f32::NAN] {
                for at in 0..k {
                    let mut v = rng.vec(k, -3.0, 3.0);
                    v[at] = bad;
                    check_softmax(p, &v, at % 2).unwrap();
                    let mut w = v.clone();
                    let r = p.softmax(&mut w);
                    assert!(if bad.is_nan() { r.is_nan() } else { r == f32::INFINITY }, "{}", p.name);
                }
            }
            // NaN beside +inf is still NaN.
            let mut v = rng.vec(k, -3.0, 3.0);
            v[0] = f32::INFINITY;
            v[k - 1] = f32::NAN;
            assert!(p.softmax(&mut v).is_nan(), "{}", p.name);
        }
        // Empty: -inf, as the reference.
        assert_eq!(p.softmax(&mut []), f32::NEG_INFINITY, "{}", p.name);
    }
}

// ---------------------------------------------------------------- accumulate

/// Runs one path and the reference from the same starting statistics; checks the bound per
/// value and that rows with q == 0 are untouched (bit for bit, NaN sentinels included).
#[allow(clippy::too_many_arguments)]
fn check_acc(
    p: &Path,
    x: &[f32],
    means: &[f32],
    inv_sigma: &[f32],
    q: &[f32],
    s1: &[f32],
    s2: &[f32],
    offset: usize,
) -> Result<(), String> {
    let d = x.len();
    let (mut w1, mut w2) = (s1.to_vec(), s2.to_vec());
    scalar::accumulate(x, means, inv_sigma, q, &mut w1, &mut w2);
    let (xs, ms, ss, qs) = (
        Shifted::new(x, offset),
        Shifted::new(means, offset),
        Shifted::new(inv_sigma, offset),
        Shifted::new(q, offset),
    );
    let (mut g1, mut g2) = (Shifted::new(s1, offset), Shifted::new(s2, offset));
    p.acc(xs.get(), ms.get(), ss.get(), qs.get(), g1.get_mut(), g2.get_mut());
    let (g1, g2) = (g1.get(), g2.get());
    for (j, (((&a1, &b1), &a2), &b2)) in g1.iter().zip(&w1).zip(g2).zip(&w2).enumerate() {
        let (c, i) = (j / d, j % d);
        let ctx = || format!("{}: accumulate D={d} K={} offset={offset} at [{c}][{i}]", p.name, q.len());
        if q[c] == 0.0 || !p.fused {
            // Skipped rows untouched; without FMA the very same arithmetic.
            if a1.to_bits() != b1.to_bits() || a2.to_bits() != b2.to_bits() {
                return Err(format!("{}: got ({a1:e}, {a2:e}), want exactly ({b1:e}, {b2:e})", ctx()));
            }
            continue;
        }
        let t = (x[i] - means[j]) * inv_sigma[j];
        let qc = q[c].abs();
        let bound1 = 2.0 * EPS * (s1[j].abs() + qc * t.abs());
        let bound2 = 3.0 * EPS * (s2[j].abs() + qc * (t * t + 1.0));
        if (a1 - b1).abs() > bound1 || (a2 - b2).abs() > bound2 {
            return Err(format!("{}: got ({a1:e}, {a2:e}), want ({b1:e}, {b2:e})", ctx()));
        }
    }
    Ok(())
}

#[test]
fn accumulate_every_d_with_skipped_components() {
    let mut rng = Rng(13);
    for p in &paths() {
        for d in 1..=130 {
            for k in [1, 3, 4, 5, 9, 17, 40] {
                let x = rng.vec(d, -3.0, 3.0);
                let means = rng.vec(k * d, -3.0, 3.0);
                let inv_sigma = rng.vec(k * d, 0.1, 4.0);
                // Every third component has q == 0 (or -0.0), and NaN statistics that must
                // survive untouched.
                let q: Vec<f32> = (0..k)
                    .map(|c| match c % 3 {
                        0 => rng.uniform(0.0, 1.0),
                        1 => [0.0, -0.0][c % 2],
                        _ => rng.uniform(1e-7, 1e-3),
                    })
                    .collect();
                let mut s1 = rng.vec(k * d, -50.0, 50.0);
                let mut s2 = rng.vec(k * d, -50.0, 50.0);
                for c in (0..k).filter(|&c| q[c] == 0.0) {
                    s1[c * d..(c + 1) * d].fill(f32::NAN);
                    s2[c * d..(c + 1) * d].fill(f32::NAN);
                }
                for offset in [0, 1] {
                    check_acc(p, &x, &means, &inv_sigma, &q, &s1, &s2, offset).unwrap();
                }
            }
        }
    }
}

#[test]
fn accumulate_extremes_and_lengths() {
    let mut rng = Rng(17);
    for p in &paths() {
        for d in [1, 7, 8, 16, 31, 64, 65, 128, 130] {
            let k = 6;
            let x: Vec<f32> = (0..d).map(|i| 1e4 - i as f32).collect();
            let means: Vec<f32> = (0..k * d).map(|j| x[j % d] + rng.uniform(-0.1, 0.1)).collect();
            let inv_sigma = vec![1.0 / 1e-5f32.sqrt(); k * d];
            let q = [1.0, 0.0, 1e-30, 0.5, f32::MIN_POSITIVE, 1.0 - 1e-7];
            let s = vec![0.0; k * d];
            check_acc(p, &x, &means, &inv_sigma, &q, &s, &s, 1).unwrap();
            // A NaN posterior is not 0: it is accumulated, as by the reference.
            let q = [f32::NAN, 0.0, 1.0, 0.0, 0.0, 0.25];
            let mut want = (s.clone(), s.clone());
            scalar::accumulate(&x, &means, &inv_sigma, &q, &mut want.0, &mut want.1);
            let mut got = (s.clone(), s.clone());
            p.acc(&x, &means, &inv_sigma, &q, &mut got.0, &mut got.1);
            assert!(got.0[..d].iter().all(|v| v.is_nan()) && got.0[d..2 * d].iter().all(|&v| v == 0.0), "{}", p.name);
            // K limited by the shortest slice: s2 holds 4 rows and a half, so rows 4 and 5
            // of s1 stay as they are.
            let q = [1.0f32; 6];
            let mut s1 = vec![0.5; k * d];
            let mut s2 = vec![0.5; 4 * d + d / 2];
            p.acc(&x, &means, &inv_sigma, &q, &mut s1, &mut s2);
            assert!(s1[4 * d..].iter().all(|&v| v == 0.5) && s2[4 * d..].iter().all(|&v| v == 0.5), "{}", p.name);
        }
    }
}

/// The compensated update on one path against the reference: bit for bit, from the same
/// starting sums and compensations.
#[allow(clippy::too_many_arguments)]
fn check_acc_comp(
    p: &Path,
    x: &[f32],
    means: &[f32],
    inv_sigma: &[f32],
    q: &[f32],
    s: [&[f32]; 4],
    offset: usize,
) -> Result<(), String> {
    let mut want: Vec<Vec<f32>> = s.iter().map(|v| v.to_vec()).collect();
    if let [w1, e1, w2, e2] = &mut want[..] {
        scalar::accumulate_compensated(x, means, inv_sigma, q, w1, e1, w2, e2);
    }
    let (xs, ms, ss, qs) = (
        Shifted::new(x, offset),
        Shifted::new(means, offset),
        Shifted::new(inv_sigma, offset),
        Shifted::new(q, offset),
    );
    let mut got: Vec<Shifted> = s.iter().map(|v| Shifted::new(v, offset)).collect();
    if let [g1, h1, g2, h2] = &mut got[..] {
        p.acc_comp(xs.get(), ms.get(), ss.get(), qs.get(), g1.get_mut(), h1.get_mut(), g2.get_mut(), h2.get_mut());
    }
    for (which, (g, w)) in got.iter().zip(&want).enumerate() {
        if let Some(j) = g.get().iter().zip(w).position(|(a, b)| a.to_bits() != b.to_bits()) {
            return Err(format!(
                "{}: accumulate_compensated D={} K={} offset={offset}: array {which} [{j}]: {:e} vs {:e}",
                p.name,
                x.len(),
                q.len(),
                g.get()[j],
                w[j]
            ));
        }
    }
    Ok(())
}

#[test]
fn accumulate_compensated_bit_exact() {
    let mut rng = Rng(19);
    for p in &paths() {
        for d in 1..=130 {
            for k in [1, 4, 5, 9] {
                let x = rng.vec(d, -3.0, 3.0);
                let means = rng.vec(k * d, -3.0, 3.0);
                let inv_sigma = rng.vec(k * d, 0.1, 4.0);
                let q: Vec<f32> = (0..k).map(|c| if c % 3 == 1 { 0.0 } else { rng.uniform(0.0, 1.0) }).collect();
                let mut s: Vec<Vec<f32>> = (0..4).map(|_| rng.vec(k * d, -1e3, 1e3)).collect();
                // Compensations are small against their sums.
                for j in [1, 3] {
                    s[j].iter_mut().for_each(|c| *c *= 1e-7);
                }
                // Skipped rows carry NaN sentinels, which must survive.
                for c in (0..k).filter(|&c| q[c] == 0.0) {
                    s.iter_mut().for_each(|v| v[c * d..(c + 1) * d].fill(f32::NAN));
                }
                for offset in [0, 1] {
                    check_acc_comp(p, &x, &means, &inv_sigma, &q, [&s[0], &s[1], &s[2], &s[3]], offset).unwrap();
                }
            }
        }
        // Many small updates on a large sum: the case compensation exists for.
        let d = 37;
        let x = rng.vec(d, 9e3, 1e4);
        let means = rng.vec(2 * d, 9e3, 1e4);
        let inv_sigma = vec![1.0 / 1e-5f32.sqrt(); 2 * d];
        let mut want = vec![vec![1e6f32; 2 * d], vec![0.0; 2 * d], vec![-1e6f32; 2 * d], vec![0.0; 2 * d]];
        let mut got = want.clone();
        for step in 0..200 {
            let q = [1e-6 * step as f32, 0.5];
            if let ([w1, e1, w2, e2], [g1, h1, g2, h2]) = (&mut want[..], &mut got[..]) {
                scalar::accumulate_compensated(&x, &means, &inv_sigma, &q, w1, e1, w2, e2);
                p.acc_comp(&x, &means, &inv_sigma, &q, g1, h1, g2, h2);
            }
        }
        assert!(got.iter().flatten().zip(want.iter().flatten()).all(|(a, b)| a.to_bits() == b.to_bits()), "{}", p.name);
        // K limited by the shortest slice (c2 holds 1.5 rows): row 1 untouched everywhere.
        let q = [1.0f32, 1.0];
        let mut s = [vec![0.5f32; 2 * d], vec![0.5; 2 * d], vec![0.5; 2 * d], vec![0.5; d + d / 2]];
        let [s1, c1, s2, c2] = &mut s;
        p.acc_comp(&x, &means, &inv_sigma, &q, s1, c1, s2, c2);
        assert!(s.iter().all(|v| v[d..].iter().all(|&a| a == 0.5)), "{}", p.name);
    }
}

// ---------------------------------------------------------------- dispatch, property tests

#[test]
fn dispatch_runs_a_listed_path() {
    let name = fvae_kernels::cpu::float_path_name();
    eprintln!("dispatch path: {name}");
    let (x, means, inv_sigma) = ([1.0f32, 2.0, 3.0], [0.0f32; 15], [1.0f32; 15]);
    let mut out = [0.0; 5];
    gaussian::sq_mahalanobis(&x, &means, &inv_sigma, &mut out);
    assert_eq!(out, [14.0; 5]);
}

fn case(max_d: usize, max_k: usize) -> impl Strategy<Value = (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>, usize)> {
    (1..=max_d, 1..=max_k, 0..2usize).prop_flat_map(|(d, k, offset)| {
        (
            prop::collection::vec(-1e3f32..1e3, d),
            prop::collection::vec(-1e3f32..1e3, k * d),
            prop::collection::vec(1e-3f32..1e2, k * d),
            prop::collection::vec(prop_oneof![Just(0.0f32), 0.0f32..1.0], k),
            Just(offset),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn prop_paths_agree_with_scalar((x, means, inv_sigma, q, offset) in case(130, 40)) {
        let k = q.len();
        for p in &paths() {
            check_sq(p, &x, &means, &inv_sigma, k, offset).map_err(TestCaseError::fail)?;
            let zero = vec![0.0; k * x.len()];
            check_acc(p, &x, &means, &inv_sigma, &q, &zero, &zero, offset).map_err(TestCaseError::fail)?;
        }
        // The dispatched kernels agree too (they run one of the paths above).
        let mut want = vec![0.0; k];
        scalar::sq_mahalanobis(&x, &means, &inv_sigma, &mut want);
        let mut got = vec![0.0; k];
        gaussian::sq_mahalanobis(&x, &means, &inv_sigma, &mut got);
        for (g, w) in got.iter().zip(&want) {
            prop_assert!((g - w).abs() <= x.len() as f32 * EPS * w.abs());
        }
    }

    #[test]
    fn prop_softmax_agrees_and_sums_to_one(v in prop::collection::vec(-200f32..50.0, 1..300), offset in 0..2usize) {
        for p in &paths() {
            check_softmax(p, &v, offset).map_err(TestCaseError::fail)?;
        }
        let mut got = v.clone();
        let lse = gaussian::softmax(&mut got);
        prop_assert!(lse.is_finite());
        let sum: f32 = got.iter().sum();
        prop_assert!((sum - 1.0).abs() <= 2.0 * v.len() as f32 * EPS, "sum {}", sum);
    }
}

/// The f64-term update for one component keeps its pair `s - c` within the sum over updates of
/// 2^-47 of the running sum of its f64 terms (each addition re-splits the pair: the f32 `c`
/// rounds to 2^-24 of its own size, at most half an ulp of `s`), here over 500 updates of which
/// the mirrored pairs cancel in `s1`. Rows shorter than `x` bound D.
#[test]
fn accumulate_compensated_f64_keeps_near_cancelling_sums() {
    let mut rng = Rng(23);
    for d in [1, 7, 16, 64] {
        let means = rng.vec(d, -1.0, 1.0);
        let inv_sigma = rng.vec(d, 0.5, 1000.0);
        let (mut s1, mut c1, mut s2, mut c2) = (vec![0.0f32; d], vec![0.0f32; d], vec![0.0f32; d], vec![0.0f32; d]);
        let (mut want1, mut want2, mut mag) = (vec![0.0f64; d], vec![0.0f64; d], vec![0.0f64; d]);
        let (mut prev, mut q) = (vec![0.0f32; d], 0.0f64);
        for step in 0..500 {
            // Pairs of descriptors mirrored about the mean with one posterior: their s1 terms cancel.
            let x: Vec<f32> = if step % 2 == 0 {
                q = rng.uniform(0.01, 1.0) as f64;
                rng.vec(d, -1.0, 1.0)
            } else {
                (0..d).map(|j| 2.0 * means[j] - prev[j]).collect()
            };
            prev.clone_from(&x);
            gaussian::accumulate_compensated_f64(&x, &means, &inv_sigma, q, &mut s1, &mut c1, &mut s2, &mut c2);
            for j in 0..d {
                let t = (x[j] as f64 - means[j] as f64) * inv_sigma[j] as f64;
                want1[j] += q * t;
                want2[j] += q * (t * t - 1.0);
                mag[j] += want1[j].abs().max(want2[j].abs());
            }
        }
        for j in 0..d {
            for (s, c, want) in [(s1[j], c1[j], want1[j]), (s2[j], c2[j], want2[j])] {
                let got = s as f64 - c as f64;
                assert!((got - want).abs() <= 2f64.powi(-47) * mag[j], "d {d} [{j}]: {got:e} vs {want:e}");
            }
        }
    }
    // Inconsistent lengths: D is the shortest row; nothing past it is touched.
    let (mut s1, mut c1, mut s2, mut c2) = ([0.0f32; 3], [0.0f32; 3], [0.0f32; 3], [0.0f32; 3]);
    gaussian::accumulate_compensated_f64(&[1.0; 3], &[0.0; 2], &[1.0; 3], 1.0, &mut s1, &mut c1, &mut s2, &mut c2);
    assert_eq!((s1, s2), ([1.0, 1.0, 0.0], [0.0; 3]));
}
