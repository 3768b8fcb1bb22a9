//! Property tests for the Gaussian-mixture kernels, extending kernels/tests/gaussian_paths.rs
//! (which has the sweeps of every D and K, the exp tests, and property tests of `sq_mahalanobis`
//! and `accumulate` on values in ±1e3 and of `softmax` on finite logits). Added here, for every
//! path this machine has (x86_64 SSE2, AVX2+FMA, AVX-512F; aarch64 NEON; wasm32 simd128):
//! - `sq_mahalanobis` on every magnitude class (subnormal, 1e-30, 1e15, signed zeros) and NaN/inf,
//! - `sq_mahalanobis_batch`: the AVX2 and AVX-512 batched paths bit for bit equal to their
//!   one-descriptor kernel on random N (0, 1, block tails), D, K and short outputs; the
//!   dispatcher within the distance bound of the scalar reference,
//! - `sq_mahalanobis_f64` against the f32 reference (each within its stated rounding of the
//!   exact value),
//! - `softmax` with -inf, +inf, NaN and huge logits sprinkled in at random places,
//! - `accumulate` on large and tiny magnitudes, `accumulate_compensated` bit for bit on them.
//!
//! Bounds (ε = 2^-23, u = ε/2), the ones gaussian_paths.rs states and derives, plus:
//! - `sq_mahalanobis`: `|simd - scalar| <= D ε |scalar| + D 2^-149` (the same terms
//!   `t = (x - μ) σ⁻¹`, computed identically, summed in different orders: each sum within
//!   `γ_D` of the exact one, so the bound grows with D; underflowing squares add up to 2^-150
//!   each). NaN exactly where the reference has NaN; overflow to +inf may differ only when the
//!   other result is within the bound of f32::MAX.
//! - `sq_mahalanobis_f64` vs the f32 reference: `|f32 - f64| <= 1.001 (D + 4) u f64 + D 2^-149`.
//!   Each f32 term `t^2` carries 5 roundings (subtract, multiply, square, and their effect
//!   squared: `(1+u)^5 - 1 ≈ 5u`) and the sequential sum `γ_{D-1}`: `(D + 4) u` relative to
//!   the exact value, of which the f64 form is within `(D + 4) 2^-53` (negligible).

mod common;

use common::{any_f32, config, finite_f32, Shifted, EPS, TINY};
use fvae_kernels::gaussian::{self, scalar};
use proptest::prelude::*;

type SqFn = unsafe fn(&[f32], &[f32], &[f32], &mut [f32]);
type BatchFn = unsafe fn(&[f32], usize, &[f32], &[f32], &mut [f32]);
type SoftmaxFn = unsafe fn(&mut [f32]) -> f32;
type AccFn = unsafe fn(&[f32], &[f32], &[f32], &[f32], &mut [f32], &mut [f32]);
type AccCompFn = unsafe fn(&[f32], &[f32], &[f32], &[f32], &mut [f32], &mut [f32], &mut [f32], &mut [f32]);

/// The exp ULP bound of the vector paths against `math::exp` (gaussian_paths.rs, prop_math.rs).
const EXP_ULPS: f32 = 1.0;

struct Path {
    name: &'static str,
    fused: bool,
    sq: SqFn,
    /// The batched kernel and its one-descriptor kernel must agree bit for bit (AVX2, AVX-512).
    batch: Option<BatchFn>,
    softmax: SoftmaxFn,
    acc: AccFn,
    acc_comp: AccCompFn,
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
            batch: None,
            softmax: sse2::softmax,
            acc: sse2::accumulate,
            acc_comp: sse2::accumulate_compensated,
        });
        if fvae_kernels::cpu::detected_x86_level() >= fvae_kernels::cpu::X86Level::Avx2Fma {
            v.push(Path {
                name: "avx2+fma",
                fused: true,
                sq: avx2::sq_mahalanobis,
                batch: Some(avx2::sq_mahalanobis_batch),
                softmax: avx2::softmax,
                acc: avx2::accumulate,
                acc_comp: avx2::accumulate_compensated,
            });
        }
        if fvae_kernels::cpu::detected_x86_level() >= fvae_kernels::cpu::X86Level::Avx512 {
            v.push(Path {
                name: "avx512f",
                fused: true,
                sq: avx512::sq_mahalanobis,
                batch: Some(avx512::sq_mahalanobis_batch),
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
            fused: true,
            sq: neon::sq_mahalanobis,
            batch: None,
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
            fused: false,
            sq: simd128::sq_mahalanobis,
            batch: None,
            softmax: simd128::softmax,
            acc: simd128::accumulate,
            acc_comp: simd128::accumulate_compensated,
        });
    }
    v
}

/// Both NaN, or the same infinity, or (finite) within `bound`; one overflowing alone is
/// accepted only when the other is within the relative bound `rel` of f32::MAX.
fn close(got: f32, want: f32, bound: f32, rel: f32) -> bool {
    if got.is_nan() || want.is_nan() {
        return got.is_nan() && want.is_nan();
    }
    if got.is_infinite() || want.is_infinite() {
        if got == want {
            return true;
        }
        let finite = if got.is_infinite() { want } else { got };
        return finite.abs() >= f32::MAX * (1.0 - rel) && got.is_sign_negative() == want.is_sign_negative();
    }
    (got - want).abs() <= bound
}

fn sq_bound(d: usize, want: f32) -> f32 {
    d as f32 * EPS * want.abs() + d as f32 * TINY
}

/// x [D], means and inverse sigmas [K, D], an offset; values from `value`, inverse sigmas positive.
#[allow(clippy::type_complexity)]
fn model(
    max_d: usize,
    max_k: usize,
    value: BoxedStrategy<f32>,
    sigma: BoxedStrategy<f32>,
) -> impl Strategy<Value = (Vec<f32>, Vec<f32>, Vec<f32>, usize)> {
    (0..=max_d, 0..=max_k, 0..2usize).prop_flat_map(move |(d, k, offset)| {
        (
            prop::collection::vec(value.clone(), d),
            prop::collection::vec(value.clone(), k * d),
            prop::collection::vec(sigma.clone(), k * d),
            Just(offset),
        )
    })
}

fn k_of(d: usize, means: &[f32]) -> usize {
    means.len().checked_div(d).unwrap_or(3)
}

/// Inverse sigmas: ordinary, tiny variances (large 1/σ), huge variances, subnormal, and 0.
fn inv_sigma_any() -> BoxedStrategy<f32> {
    prop_oneof![6 => 1e-3f32..1e3, 1 => 1e3f32..1e6, 1 => 1e-20f32..1e-10, 1 => Just(0.0f32), 1 => Just(f32::from_bits(5))]
        .boxed()
}

proptest! {
    #![proptest_config(config(96))]

    /// Every magnitude class, NaN and infinities in x and the means.
    #[test]
    fn sq_mahalanobis_extremes((x, means, inv_sigma, offset) in model(70, 9, any_f32(1e15).boxed(), inv_sigma_any())) {
        let (d, k) = (x.len(), k_of(x.len(), &means));
        let mut want = vec![0.0f32; k];
        scalar::sq_mahalanobis(&x, &means, &inv_sigma, &mut want);
        let (xs, ms, ss) = (Shifted::new(&x, offset), Shifted::new(&means, offset), Shifted::new(&inv_sigma, offset));
        for p in paths() {
            let mut got = Shifted::new(&vec![-7.0f32; k + 1], offset);
            // SAFETY: paths() lists a path only when the CPU has its features.
            unsafe { (p.sq)(xs.get(), ms.get(), ss.get(), &mut got.get_mut()[..k]) };
            let got = got.get();
            prop_assert_eq!(got[k], -7.0);
            for c in 0..k {
                let ok = close(got[c], want[c], sq_bound(d, want[c]), d as f32 * EPS);
                prop_assert!(ok, "{}: D={} K={} offset={} k={}: {:e} vs {:e}", p.name, d, k, offset, c, got[c], want[c]);
            }
        }
    }

    /// The batched distances: bit for bit their path's one-descriptor kernel; dispatched, within
    /// the distance bound of the reference; rows past what `out` holds untouched.
    #[test]
    fn sq_mahalanobis_batch_paths(
        (d, k, n) in (0..=70usize, 0..=12usize, 0..=20usize),
        pool in prop::collection::vec(finite_f32(1e6), 97),
        sig in prop::collection::vec(1e-3f32..1e2, 31),
        spare in 0..3usize,
        offset in 0..2usize,
    ) {
        let xs: Vec<f32> = (0..n * d).map(|i| pool[(i * 13) % 97]).collect();
        let means: Vec<f32> = (0..k * d).map(|i| pool[(i * 7 + 3) % 97]).collect();
        let inv_sigma: Vec<f32> = (0..k * d).map(|i| sig[i % 31]).collect();
        let (sx, sm, ss) = (Shifted::new(&xs, offset), Shifted::new(&means, offset), Shifted::new(&inv_sigma, offset));
        // out holds N - spare whole rows plus half a row (short outputs), or N rows and a spare value.
        let out_len = if spare == 0 { n * k + 1 } else { (n.saturating_sub(spare)) * k + k / 2 };
        let rows = out_len.checked_div(k).unwrap_or(0).min(n);
        let mut want = vec![0.0f32; n * k];
        scalar::sq_mahalanobis_batch(&xs, d, &means, &inv_sigma, &mut want);
        let mut got = vec![-7.0f32; out_len];
        gaussian::sq_mahalanobis_batch(sx.get(), d, sm.get(), ss.get(), &mut got);
        for j in 0..out_len {
            if d > 0 && j < rows * k {
                prop_assert!(close(got[j], want[j], sq_bound(d, want[j]), d as f32 * EPS), "dispatch [{}]: {} vs {}", j, got[j], want[j]);
            } else {
                prop_assert_eq!(got[j], -7.0, "dispatch wrote [{}] (D={} K={} N={} out {})", j, d, k, n, out_len);
            }
        }
        for p in paths() {
            let Some(batch) = p.batch else { continue };
            let mut rows_want = vec![-7.0f32; out_len];
            if d > 0 && k > 0 {
                for (x, o) in xs.chunks_exact(d).zip(rows_want.chunks_exact_mut(k)) {
                    // SAFETY: the CPU has the path's features.
                    unsafe { (p.sq)(x, &means, &inv_sigma, o) };
                }
            }
            let mut got = vec![-7.0f32; out_len];
            // SAFETY: as above; the batched path cuts every length itself.
            unsafe { batch(sx.get(), d, sm.get(), ss.get(), &mut got) };
            for j in 0..out_len {
                prop_assert_eq!(got[j].to_bits(), rows_want[j].to_bits(), "{}: batch vs rows [{}] D={} K={} N={}", p.name, j, d, k, n);
            }
        }
    }

    /// The f64 form against the f32 reference, each within its rounding of the exact value.
    #[test]
    fn sq_mahalanobis_f64_vs_f32((x, means, inv_sigma, offset) in model(150, 6, finite_f32(1e15).boxed(), inv_sigma_any())) {
        let (d, k) = (x.len(), k_of(x.len(), &means));
        let mut want32 = vec![0.0f32; k];
        scalar::sq_mahalanobis(&x, &means, &inv_sigma, &mut want32);
        let mut got = vec![-7.0f64; k + 1];
        gaussian::sq_mahalanobis_f64(Shifted::new(&x, offset).get(), &means, &inv_sigma, &mut got);
        if d > 0 {
            prop_assert_eq!(got[k], -7.0);
        }
        for c in 0..k {
            let (g, w) = (got[c], want32[c]);
            prop_assert!(g >= 0.0);
            let rel = (d + 4) as f64 * EPS as f64 / 2.0;
            let bound = 1.001 * rel * g + d as f64 * TINY as f64;
            if w.is_infinite() {
                prop_assert!(g >= f32::MAX as f64 * (1.0 - rel), "f32 overflowed, f64 {:e}", g);
            } else {
                prop_assert!((w as f64 - g).abs() <= bound, "D={} k={}: f32 {:e}, f64 {:e}, bound {:e}", d, c, w, g, bound);
            }
        }
    }

    /// Softmax with -inf, +inf, NaN and huge logits at random places (the bounds of
    /// gaussian_paths.rs: posteriors within `(EXP_ULPS + 4 + K) ε` relative plus 2^-148, the
    /// log-sum-exp within `K ε + 2 ε |lse|`; non-finite maxima reported, `v` unchanged).
    #[test]
    fn softmax_paths_with_specials(
        base in prop::collection::vec(-120f32..20.0, 0..150),
        specials in prop::collection::vec((any::<prop::sample::Index>(), prop_oneof![
            4 => Just(f32::NEG_INFINITY), 1 => Just(f32::INFINITY), 1 => Just(f32::NAN),
            2 => -1e30f32..-1e20, 2 => -3.4e38f32..-1e38,
        ]), 0..4),
        offset in 0..2usize,
    ) {
        let mut v = base;
        if !v.is_empty() {
            for (at, s) in &specials {
                let i = at.index(v.len());
                v[i] = *s;
            }
        }
        let k = v.len();
        let mut want = v.clone();
        let want_lse = scalar::softmax(&mut want);
        for p in paths() {
            let mut got = Shifted::new(&v, offset);
            // SAFETY: the CPU has the path's features.
            let lse = unsafe { (p.softmax)(got.get_mut()) };
            let got = got.get();
            if !want_lse.is_finite() {
                prop_assert!(lse.to_bits() == want_lse.to_bits() || (lse.is_nan() && want_lse.is_nan()), "{}: {} vs {}", p.name, lse, want_lse);
                prop_assert!(got.iter().zip(&v).all(|(a, b)| a.to_bits() == b.to_bits()), "{}: v changed", p.name);
                continue;
            }
            prop_assert!((lse - want_lse).abs() <= k as f32 * EPS + 2.0 * EPS * want_lse.abs(), "{}: lse {} vs {}", p.name, lse, want_lse);
            let rel = (EXP_ULPS + 4.0 + k as f32) * EPS;
            for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
                prop_assert!((g == 0.0) == (w == 0.0) && (g - w).abs() <= rel * w + 2.0 * TINY, "{}: [{}] {:e} vs {:e}", p.name, i, g, w);
            }
        }
    }

    /// Statistics updates on large and tiny magnitudes (no overflow: |t| < 2e18, t^2 < 4e36):
    /// plain within the bounds of gaussian_paths.rs (bit for bit without FMA), compensated bit for
    /// bit on every path, skipped components (q == ±0) untouched.
    #[test]
    fn accumulate_paths_magnitudes(
        (x, means, inv_sigma, offset) in model(40, 6, finite_f32(1e15).boxed(), prop_oneof![1e-3f32..1e3, Just(0.0f32)].boxed()),
        qs in prop::collection::vec(prop_oneof![3 => 0.0f32..1.0, 1 => Just(0.0f32), 1 => Just(-0.0f32), 1 => 1e-38f32..1e-30, 1 => Just(1e-45f32)], 6),
        start in prop::collection::vec(finite_f32(1e30), 4),
    ) {
        let (d, k) = (x.len(), k_of(x.len(), &means));
        let k = if d == 0 { 0 } else { k };
        let q = &qs[..k];
        let init: Vec<Vec<f32>> = start.iter().map(|&s| (0..k * d).map(|i| s * (1.0 + i as f32 * 0.125)).collect()).collect();
        // Compensations are small against their sums.
        let comp: Vec<f32> = init[1].iter().map(|c| c * 1e-8).collect();
        let comp2: Vec<f32> = init[3].iter().map(|c| c * 1e-8).collect();
        let (mut w1, mut w2) = (init[0].clone(), init[2].clone());
        scalar::accumulate(&x, &means, &inv_sigma, q, &mut w1, &mut w2);
        let mut wc = [init[0].clone(), comp.clone(), init[2].clone(), comp2.clone()];
        {
            let [a, b, c, e] = &mut wc;
            scalar::accumulate_compensated(&x, &means, &inv_sigma, q, a, b, c, e);
        }
        let (sx, sm, ss, sq) = (Shifted::new(&x, offset), Shifted::new(&means, offset), Shifted::new(&inv_sigma, offset), Shifted::new(q, offset));
        for p in paths() {
            let (mut g1, mut g2) = (Shifted::new(&init[0], offset), Shifted::new(&init[2], offset));
            // SAFETY: the CPU has the path's features.
            unsafe { (p.acc)(sx.get(), sm.get(), ss.get(), sq.get(), g1.get_mut(), g2.get_mut()) };
            for j in 0..k * d {
                let (c, i) = (j / d, j % d);
                let (a1, b1, a2, b2) = (g1.get()[j], w1[j], g2.get()[j], w2[j]);
                if q[c] == 0.0 || !p.fused {
                    prop_assert!(a1.to_bits() == b1.to_bits() && a2.to_bits() == b2.to_bits(), "{}: [{}][{}] ({:e}, {:e}) vs exactly ({:e}, {:e})", p.name, c, i, a1, a2, b1, b2);
                    continue;
                }
                let t = (x[i] - means[j]) * inv_sigma[j];
                let qc = q[c].abs();
                let bound1 = 2.0 * EPS * (init[0][j].abs() + qc * t.abs()) + 2.0 * TINY;
                let bound2 = 3.0 * EPS * (init[2][j].abs() + qc * (t * t + 1.0)) + 2.0 * TINY;
                prop_assert!((a1 - b1).abs() <= bound1 && (a2 - b2).abs() <= bound2, "{}: [{}][{}] ({:e}, {:e}) vs ({:e}, {:e})", p.name, c, i, a1, a2, b1, b2);
            }
            let mut gc: Vec<Shifted<f32>> = [&init[0], &comp, &init[2], &comp2].iter().map(|v| Shifted::new(v, offset)).collect();
            if let [a, b, c, e] = &mut gc[..] {
                // SAFETY: the CPU has the path's features.
                unsafe { (p.acc_comp)(sx.get(), sm.get(), ss.get(), sq.get(), a.get_mut(), b.get_mut(), c.get_mut(), e.get_mut()) };
            }
            for (which, (g, w)) in gc.iter().zip(&wc).enumerate() {
                for (j, (a, b)) in g.get().iter().zip(w).enumerate() {
                    prop_assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()), "{}: compensated array {} [{}]: {:e} vs {:e}", p.name, which, j, a, b);
                }
            }
        }
    }
}
