//! Property tests for the shared elementary functions (`fvae_kernels::math`) and the vector `exp`
//! of every Gaussian-family SIMD path that uses them.
//!
//! Bounds (ε = 2^-23):
//! - `math::exp` against the true value (f64 `exp`, correctly rounded to far below f32's ULP):
//!   relative error below [`EXP_REL`] = 2e-7 on [-87, 88.72] as its documentation states (the
//!   degree-6 polynomial's own error is ~1e-8 on |r| <= ln2/2; the rest is the f32 rounding of
//!   the reduction `r = x - n ln2` in two parts and of the Horner steps, a few u), and within
//!   1 ULP of the true value rounded to f32 (`exp_accuracy_exhaustive` measured every f32 there:
//!   worst 8.3e-8 relative, 1 ULP). Exactly: 0 below
//!   -87 (the documented flush), +inf above 88.72283, NaN for NaN, and 1 for ±0.
//! - `math::sqrt`: correctly rounded (0 ULP from the f64 root rounded to f32, which is itself
//!   correctly rounded because 53 >= 2 * 24 + 2), NaN for negative arguments, ±0 kept.
//! - vector `exp` of every path (SSE2, AVX2, AVX-512, NEON, simd128): within 1 ULP of `math::exp`
//!   (the same reduction and polynomial; FMA rounds once where the scalar rounds twice, and the
//!   SIMD paths round `n` half to even) on any f32 bit pattern, the same arguments flushed to 0,
//!   overflowing to +inf, and NaN. gaussian_paths.rs `exp_exhaustive` checked every f32 in
//!   [-88, 89] once; these cases add arbitrary bit patterns, lengths and offsets.

mod common;

use common::{config, ulps, Shifted};
use fvae_kernels::math;
use proptest::prelude::*;

/// The documented relative accuracy of `math::exp` on [-87, 88.72].
const EXP_REL: f64 = 2e-7;

type ExpFn = unsafe fn(&mut [f32]);

// Pushes are cfg-gated per target; on some targets the first follows creation directly.
#[allow(clippy::vec_init_then_push)]
fn exp_paths() -> Vec<(&'static str, ExpFn)> {
    #[allow(unused_mut)]
    let mut v: Vec<(&'static str, ExpFn)> = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        use fvae_kernels::gaussian::x86_64::{avx2, avx512, sse2};
        v.push(("sse2", sse2::exp));
        if fvae_kernels::cpu::detected_x86_level() >= fvae_kernels::cpu::X86Level::Avx2Fma {
            v.push(("avx2+fma", avx2::exp));
        }
        if fvae_kernels::cpu::detected_x86_level() >= fvae_kernels::cpu::X86Level::Avx512 {
            v.push(("avx512f", avx512::exp));
        }
    }
    #[cfg(target_arch = "aarch64")]
    v.push(("neon", fvae_kernels::gaussian::aarch64::neon::exp));
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    v.push(("simd128", fvae_kernels::gaussian::wasm32::simd128::exp));
    v
}

/// Checks `math::exp(x)` against its contract; `Err` names the argument.
fn check_exp(x: f32) -> Result<(), TestCaseError> {
    let got = math::exp(x);
    if x.is_nan() {
        prop_assert!(got.is_nan(), "exp(NaN) = {}", got);
    } else if x < math::EXP_MIN {
        prop_assert_eq!(got.to_bits(), 0, "exp({:e}) must flush to +0", x);
    } else if x > math::EXP_MAX {
        prop_assert_eq!(got, f32::INFINITY, "exp({:e})", x);
    } else {
        let want = (x as f64).exp();
        let rel = (got as f64 - want).abs() / want;
        prop_assert!(rel < EXP_REL, "exp({:e}) = {:e}, true {:e}: relative error {:e}", x, got, want, rel);
        prop_assert!(ulps(got, want as f32) <= 1, "exp({:e}) = {:e}, true {:e}", x, got, want);
    }
    Ok(())
}

/// Arguments over the whole f32 line, concentrated on the interesting range and its edges.
fn exp_arg() -> impl Strategy<Value = f32> {
    prop_oneof![
        6 => math::EXP_MIN..=math::EXP_MAX,
        2 => -1.0f32..1.0,
        1 => any::<u32>().prop_map(f32::from_bits),
        // Within a few thousand ULP of the flush and overflow points.
        1 => (-3000i32..3000).prop_map(|k| f32::from_bits((math::EXP_MIN.to_bits() as i32 + k) as u32)),
        1 => (-3000i32..3000).prop_map(|k| f32::from_bits((math::EXP_MAX.to_bits() as i32 + k) as u32)),
        1 => prop_oneof![Just(0.0f32), Just(-0.0f32), Just(f32::INFINITY), Just(f32::NEG_INFINITY), Just(f32::NAN)],
    ]
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn exp_within_documented_accuracy(x in exp_arg()) {
        check_exp(x)?;
        if x == 0.0 {
            prop_assert_eq!(math::exp(x), 1.0);
        }
    }

    #[test]
    fn sqrt_correctly_rounded(bits in any::<u32>()) {
        let x = f32::from_bits(bits);
        let got = math::sqrt(x);
        if x.is_nan() || x < 0.0 {
            prop_assert!(got.is_nan(), "sqrt({:e}) = {}", x, got);
        } else {
            let want = (x as f64).sqrt() as f32;
            prop_assert_eq!(got.to_bits(), want.to_bits(), "sqrt({:e})", x);
        }
    }
}

proptest! {
    #![proptest_config(config(128))]

    /// Every path's vector `exp` on any bit patterns, every length to 70 (all tail lengths of
    /// 4, 8 and 16 lanes), shifted by one element.
    #[test]
    fn vector_exp_paths(xs in prop::collection::vec(exp_arg(), 0..70), offset in 0..2usize) {
        for (name, f) in exp_paths() {
            let mut got = Shifted::new(&xs, offset);
            // SAFETY: exp_paths() lists a path only when the CPU has its features.
            unsafe { f(got.get_mut()) };
            for (&x, &g) in xs.iter().zip(got.get()) {
                let w = math::exp(x);
                prop_assert_eq!(g.is_nan(), w.is_nan(), "{}: exp({:e}) = {:e} vs {:e}", name, x, g, w);
                prop_assert_eq!(g == 0.0, w == 0.0, "{}: exp({:e}) = {:e} vs {:e}", name, x, g, w);
                prop_assert_eq!(g.is_infinite(), w.is_infinite(), "{}: exp({:e}) = {:e} vs {:e}", name, x, g, w);
                prop_assert!(ulps(g, w) <= 1, "{}: exp({:e}) = {:e} vs {:e}: {} ULP", name, x, g, w, ulps(g, w));
            }
        }
    }
}

/// Every f32 in [-87, 88.72] against the f64 exp: the measured worst relative error, which
/// [`EXP_REL`] bounds. About a minute in release:
/// `cargo test --release -p fvae-kernels --test prop_math -- --ignored`.
#[test]
#[ignore]
fn exp_accuracy_exhaustive() {
    let mut worst = (0.0f64, 0.0f32);
    let mut worst_ulps = 0u32;
    for (lo, hi) in [(0.0f32, math::EXP_MAX), (-0.0f32, math::EXP_MIN)] {
        for b in lo.to_bits()..=hi.to_bits() {
            let x = f32::from_bits(b);
            let got = math::exp(x);
            let want = (x as f64).exp();
            let rel = (got as f64 - want).abs() / want;
            if rel > worst.0 {
                worst = (rel, x);
            }
            worst_ulps = worst_ulps.max(ulps(got, want as f32));
        }
    }
    eprintln!(
        "math::exp worst relative error {:e} at {:e}; worst {} ULP from the rounded true value",
        worst.0, worst.1, worst_ulps
    );
    assert!(worst.0 < EXP_REL && worst_ulps <= 1);
}
