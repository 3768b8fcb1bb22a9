//! Property tests for every VQ kernel: each SIMD path this machine can run (x86_64 AVX2+FMA,
//! AVX-512F, AVX-512 VNNI; aarch64 NEON under qemu-user; wasm32 simd128 under Node), called
//! directly, against the scalar reference (`vq::scalar`), plus the dispatching functions, on random
//! shapes (0, 1, odd, not multiples of any lane count), slices offset by one element, and extreme
//! values.
//!
//! Bounds (ε = 2^-23, u = ε/2; each derived from how the paths differ, none fitted):
//! - `i8_sq_distances`, `i8_dots`, `i8_dot`: bit-exact (wrapping integer sums are associative).
//! - `sq_distances`: `|simd - scalar| <= D ε |scalar| + D 2^-149`. Both compute the same D
//!   differences `t = x - c` (one IEEE subtraction, identical), then sum the non-negative `t^2`
//!   in different orders, with or without FMA: each sum is within `γ_D ≈ D u` (relative) of the exact
//!   one, so the two within `2 D u = D ε`; products that underflow add at most 2^-150 each. The
//!   bound grows with D because the summation error does.
//! - `scores` (`h - x . c`): `|simd - scalar| <= 1.001 (D ε Σ|x_i c_i| + ε |scalar|) + D 2^-149`:
//!   the two dot products (different order, FMA or not) are each within `γ_D Σ|x_i c_i|` of
//!   the exact one (an absolute bound: the dot may cancel), then one rounded subtraction each.
//!   Padding codewords (`h = +inf`) are `+inf` exactly; `row_min` is exactly the smallest of
//!   the path's own row.
//! - `argmin`, `indices_at_most`, `top_k`, `argmin_u32`: exact (selection, no arithmetic);
//!   `top_k` against a stable sort, the others against the scalar reference.
//! - `indices_within`: exact (each bound is two products and a sum rounded in f32 on every path,
//!   then a minimum and comparisons): the same `hi` bits given to the threshold, the same count
//!   and indices.
//! - `screen_errors`: each bound at least the f64 distance of the codeword to its int8 copy (as
//!   `pack_screen` makes it: the same scales) and within 1e-6 relative of it.
//! - `sq_distance_exact`, `sq_norm_exact` (f64, one fixed order on every target): within
//!   `D 2^-52` relative of the plain f64 sum in index order (the same f64 terms summed in two
//!   orders, each within `γ_{D-1}` of their exact sum), and `sq_norm_exact(x)` is bit for bit
//!   `sq_distance_exact(x, 0)`.
//! - `pack_panels`: exactly the layout definition.

mod common;

use common::{any_f32, config, finite_f32, i8_extreme, Shifted, EPS, TINY};
use fvae_kernels::vq::{self, scalar, PANEL};
use proptest::prelude::*;

type SqFn = unsafe fn(&[f32], &[f32], &mut [f32]);
type ScoresFn = unsafe fn(&[f32], usize, &[f32], &[f32], &mut [f32], &mut [f32]);
type ArgminFn = unsafe fn(&[f32]) -> Option<(usize, f32)>;
type AtMostFn = unsafe fn(&[f32], f32, &mut [u32]) -> usize;
type I8SqFn = unsafe fn(&[i8], &[i8], &mut [u32]);
type I8DotFn = unsafe fn(&[i8], &[i8], &mut [i32]);

/// Paths whose `scores` leaves the row minima to the dispatcher, with the minima added.
#[allow(unused_macros)]
macro_rules! with_row_min {
    ($name:ident, $path:path) => {
        unsafe fn $name(q: &[f32], d: usize, p: &[f32], h: &[f32], out: &mut [f32], row_min: &mut [f32]) {
            // SAFETY: the caller checked the path's CPU features and the lengths.
            unsafe { $path(q, d, p, h, out) };
            for (row, m) in out.chunks_exact(h.len()).zip(row_min.iter_mut()) {
                *m = scalar::row_minimum(row);
            }
        }
    };
}
#[cfg(target_arch = "x86_64")]
with_row_min!(avx2_scores, fvae_kernels::vq::x86_64::avx2::scores);
#[cfg(target_arch = "aarch64")]
with_row_min!(neon_scores, fvae_kernels::vq::aarch64::neon::scores);
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
with_row_min!(simd128_scores, fvae_kernels::vq::wasm32::simd128::scores);

/// Every path of each kernel this CPU can run, by name. Listed only when the CPU has the path's
/// features, which is the only precondition besides lengths (made consistent by each check).
#[derive(Default)]
struct Paths {
    sq: Vec<(&'static str, SqFn)>,
    scores: Vec<(&'static str, ScoresFn)>,
    argmin: Vec<(&'static str, ArgminFn)>,
    at_most: Vec<(&'static str, AtMostFn)>,
    i8_sq: Vec<(&'static str, I8SqFn)>,
    i8_dot: Vec<(&'static str, I8DotFn)>,
}

fn paths() -> Paths {
    #[allow(unused_mut)]
    let mut p = Paths::default();
    #[cfg(target_arch = "x86_64")]
    {
        use fvae_kernels::vq::x86_64::{avx2, avx512};
        if fvae_kernels::cpu::detected_x86_level() >= fvae_kernels::cpu::X86Level::Avx2Fma {
            p.sq.push(("avx2", avx2::sq_distances));
            p.scores.push(("avx2", avx2_scores));
            p.argmin.push(("avx2", avx2::argmin));
            p.i8_sq.push(("avx2", avx2::i8_sq_distances));
            p.i8_dot.push(("avx2", avx2::i8_dots));
        }
        if fvae_kernels::cpu::detected_x86_level() >= fvae_kernels::cpu::X86Level::Avx512 {
            p.sq.push(("avx512f", avx512::sq_distances));
            p.scores.push(("avx512f", avx512::scores));
            p.argmin.push(("avx512f", avx512::argmin));
            p.at_most.push(("avx512f", avx512::indices_at_most));
        }
        if fvae_kernels::cpu::detected_x86_level() >= fvae_kernels::cpu::X86Level::Avx512Vnni {
            p.i8_sq.push(("avx512vnni", avx512::i8_sq_distances));
            p.i8_dot.push(("avx512vnni", avx512::i8_dots));
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        use fvae_kernels::vq::aarch64::neon;
        p.sq.push(("neon", neon::sq_distances));
        p.scores.push(("neon", neon_scores));
        p.argmin.push(("neon", neon::argmin));
        p.i8_sq.push(("neon", neon::i8_sq_distances));
        p.i8_dot.push(("neon", neon::i8_dots));
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        use fvae_kernels::vq::wasm32::simd128;
        p.sq.push(("simd128", simd128::sq_distances));
        p.scores.push(("simd128", simd128_scores));
        p.argmin.push(("simd128", simd128::argmin));
        p.i8_sq.push(("simd128", simd128::i8_sq_distances));
        p.i8_dot.push(("simd128", simd128::i8_dots));
    }
    p
}

#[test]
fn paths_under_test() {
    let p = paths();
    let names = |v: Vec<&'static str>| v.join(", ");
    eprintln!("f32: {}", names(p.sq.iter().map(|x| x.0).collect()));
    eprintln!("int8: {}", names(p.i8_sq.iter().map(|x| x.0).collect()));
    #[cfg(target_arch = "x86_64")]
    if std::env::var("FVAE_REQUIRE_AVX512").is_ok() {
        assert!(p.sq.len() == 2 && p.i8_sq.len() == 2 && p.at_most.len() == 1, "AVX-512 paths required");
    }
}

// ---------------------------------------------------------------- f32 distances

/// One query, a codebook of `m` rows, and the offset (0 or 1) every slice is shifted by.
fn sq_case(
    max_d: usize,
    max_m: usize,
    value: BoxedStrategy<f32>,
) -> impl Strategy<Value = (Vec<f32>, Vec<f32>, usize)> {
    (0..=max_d, 0..=max_m, 0..2usize).prop_flat_map(move |(d, m, offset)| {
        (prop::collection::vec(value.clone(), d), prop::collection::vec(value.clone(), m * d), Just(offset))
    })
}

/// Checks `got` against `want` (scalar) under the `sq_distances` bound for dimension `d`.
fn sq_close(got: f32, want: f32, d: usize) -> bool {
    let d = d as f32;
    if got.is_nan() || want.is_nan() {
        return got.is_nan() && want.is_nan();
    }
    if got.is_infinite() || want.is_infinite() {
        // Sums near f32::MAX may overflow in one order only: the finite one must be within the
        // bound of overflowing.
        let finite = if got.is_infinite() { want } else { got };
        return finite == f32::INFINITY || finite >= f32::MAX * (1.0 - d * EPS);
    }
    (got - want).abs() <= d * EPS * want.abs() + d * TINY
}

fn check_sq(p: &Paths, x: &[f32], c: &[f32], offset: usize) -> Result<(), TestCaseError> {
    let d = x.len();
    let m = c.len().checked_div(d).unwrap_or(3);
    let mut want = vec![0.0f32; m];
    scalar::sq_distances(x, &c[..m * d], &mut want);
    let (xs, cs) = (Shifted::new(x, offset), Shifted::new(c, offset));
    for (name, f) in &p.sq {
        // One spare output: paths write exactly m values.
        let mut got = Shifted::new(&vec![-7.0f32; m + 1], offset);
        // SAFETY: the CPU has the path's features (paths()); the codebook holds m rows of d.
        unsafe { f(xs.get(), &cs.get()[..m * d], &mut got.get_mut()[..m]) };
        let got = got.get();
        prop_assert_eq!(got[m], -7.0, "{} wrote past M", name);
        for j in 0..m {
            prop_assert!(
                sq_close(got[j], want[j], d),
                "{name}: sq D={d} M={m} offset={offset} j={j}: {} vs {}",
                got[j],
                want[j]
            );
        }
    }
    // The dispatcher, with an out longer than the codebook: the rest untouched.
    let mut got = vec![-7.0f32; m + 2];
    vq::sq_distances(xs.get(), cs.get(), &mut got);
    for j in 0..m {
        prop_assert!(sq_close(got[j], want[j], d), "dispatch sq D={d} j={j}: {} vs {}", got[j], want[j]);
    }
    if d > 0 {
        prop_assert_eq!(&got[m..], &[-7.0, -7.0][..]);
    }
    Ok(())
}

// ---------------------------------------------------------------- scores

/// The `scores` bound of one entry (see the module notes): `s_abs = Σ|x_i c_i|` in f64.
fn scores_bound(d: usize, s_abs: f64, want: f32) -> f64 {
    1.001 * (d as f64 * EPS as f64 * s_abs + EPS as f64 * want.abs() as f64) + d as f64 * TINY as f64
}

fn check_scores(p: &Paths, q: &[f32], c: &[f32], d: usize, m: usize, offset: usize) -> Result<(), TestCaseError> {
    let n = q.len() / d;
    let mp = vq::padded_m(m);
    let mut panels = vec![f32::NAN; mp * d];
    prop_assert_eq!(vq::pack_panels(c, d, &mut panels), mp * d);
    let mut hn = vec![f32::INFINITY; mp];
    for j in 0..m {
        hn[j] = 0.5 * c[j * d..(j + 1) * d].iter().map(|v| v * v).sum::<f32>();
    }
    let mut want = vec![0.0f32; n * mp];
    let mut want_min = vec![0.0f32; n];
    scalar::scores(q, d, &panels, &hn, &mut want, &mut want_min);
    let (qs, ps, hs) = (Shifted::new(q, offset), Shifted::new(&panels, offset), Shifted::new(&hn, offset));
    let abs_dot = |qi: usize, j: usize| -> f64 {
        if j >= m {
            return 0.0;
        }
        (0..d).map(|i| (q[qi * d + i] as f64 * c[j * d + i] as f64).abs()).sum()
    };
    let mut all: Vec<(&str, ScoresFn)> = p.scores.clone();
    all.push(("dispatch", dispatch_scores));
    for (name, f) in all {
        let mut got = Shifted::new(&vec![-7.0f32; n * mp + 1], offset);
        let mut mins = vec![-7.0f32; n + 1];
        // SAFETY: the CPU has the path's features; d > 0, mp whole panels of d rows, out holds
        // n * mp and row_min n (plus one spare each).
        unsafe { f(qs.get(), d, ps.get(), hs.get(), &mut got.get_mut()[..n * mp], &mut mins[..n]) };
        let got = got.get();
        prop_assert_eq!(got[n * mp], -7.0, "{} wrote past N * MP", name);
        prop_assert_eq!(mins[n], -7.0, "{} wrote past N minima", name);
        for qi in 0..n {
            let row = &got[qi * mp..(qi + 1) * mp];
            prop_assert_eq!(mins[qi].to_bits(), scalar::row_minimum(row).to_bits(), "{} row_min q={}", name, qi);
            for j in 0..mp {
                let (g, w) = (row[j], want[qi * mp + j]);
                if j >= m {
                    prop_assert_eq!(g, f32::INFINITY, "{} padding", name);
                    continue;
                }
                let bound = scores_bound(d, abs_dot(qi, j), w);
                prop_assert!(
                    ((g - w) as f64).abs() <= bound,
                    "{name}: scores D={d} M={m} N={n} offset={offset} q={qi} j={j}: {g} vs {w} (bound {bound:e})"
                );
            }
        }
    }
    Ok(())
}

/// The dispatcher under the path signature.
unsafe fn dispatch_scores(q: &[f32], d: usize, p: &[f32], h: &[f32], out: &mut [f32], row_min: &mut [f32]) {
    vq::scores(q, d, p, h, out, row_min)
}

// ---------------------------------------------------------------- selection

fn check_argmin(p: &Paths, v: &[f32], offset: usize) -> Result<(), TestCaseError> {
    let want = scalar::argmin(v);
    let vs = Shifted::new(v, offset);
    let mut all: Vec<(&str, ArgminFn)> = p.argmin.clone();
    all.push(("dispatch", dispatch_argmin));
    for (name, f) in all {
        // SAFETY: the CPU has the path's features.
        let got = unsafe { f(vs.get()) };
        match (got, want) {
            (Some((i, a)), Some((j, b))) => {
                prop_assert_eq!(i, j, "{}: argmin index of {:?}", name, v);
                prop_assert_eq!(a.to_bits(), b.to_bits(), "{}: argmin value of {:?}", name, v);
            }
            (None, None) => {}
            _ => prop_assert!(false, "{name}: argmin of {v:?}: {got:?} vs {want:?}"),
        }
    }
    Ok(())
}

unsafe fn dispatch_argmin(v: &[f32]) -> Option<(usize, f32)> {
    vq::argmin(v)
}

unsafe fn dispatch_at_most(v: &[f32], t: f32, out: &mut [u32]) -> usize {
    vq::indices_at_most(v, t, out)
}

fn check_at_most(p: &Paths, v: &[f32], t: f32, cap: usize, offset: usize) -> Result<(), TestCaseError> {
    let mut want = vec![u32::MAX; cap];
    let n = scalar::indices_at_most(v, t, &mut want);
    // The definition itself: ascending indices of values <= t, NaN never.
    let def: Vec<u32> = (0..v.len()).filter(|&i| v[i] <= t).map(|i| i as u32).collect();
    prop_assert_eq!(n, def.len());
    prop_assert_eq!(&want[..n.min(cap)], &def[..n.min(cap)]);
    let vs = Shifted::new(v, offset);
    let mut all: Vec<(&str, AtMostFn)> = p.at_most.clone();
    all.push(("dispatch", dispatch_at_most));
    for (name, f) in all {
        let mut got = vec![u32::MAX; cap];
        // SAFETY: the CPU has the path's features.
        let k = unsafe { f(vs.get(), t, &mut got) };
        prop_assert_eq!(k, n, "{}: count", name);
        prop_assert_eq!(&got, &want, "{}: indices", name);
    }
    Ok(())
}

/// `indices_within` on every path against the scalar reference and the definition.
fn check_within(v: &[f32], bounds: &[(f32, f32)], a: f32, b: f32, delta: f32, cap: usize) -> Result<(), TestCaseError> {
    let n = v.len().min(bounds.len());
    let (norms, errs): (Vec<f32>, Vec<f32>) = bounds[..n].iter().copied().unzip();
    let v = &v[..n];
    let e: Vec<f32> = (0..n).map(|j| a * norms[j] + b * errs[j]).collect();
    let hi_def = (0..n).map(|j| v[j] + e[j]).fold(f32::INFINITY, |m, u| if u < m { u } else { m });
    let t_def = hi_def + delta;
    let def: Vec<u32> = (0..n).filter(|&j| v[j] - e[j] <= t_def).map(|j| j as u32).collect();
    let mut want = vec![u32::MAX; cap];
    let mut hi_seen = f32::NAN;
    let count = scalar::indices_within(
        v,
        &norms,
        &errs,
        a,
        b,
        |hi| {
            hi_seen = hi;
            hi + delta
        },
        &mut want,
    );
    prop_assert_eq!(hi_seen.to_bits(), hi_def.to_bits());
    prop_assert_eq!(count, def.len());
    prop_assert_eq!(&want[..count.min(cap)], &def[..count.min(cap)]);
    type WithinFn = fn(&[f32], &[f32], &[f32], f32, f32, &mut dyn FnMut(f32) -> f32, &mut [u32]) -> usize;
    #[allow(unused_mut)] // pushed to on x86_64 only
    let mut all: Vec<(&str, WithinFn)> =
        vec![("dispatch", |v, n, e, a, b, t, out| vq::indices_within(v, n, e, a, b, t, out))];
    #[cfg(target_arch = "x86_64")]
    if fvae_kernels::cpu::detected_x86_level() >= fvae_kernels::cpu::X86Level::Avx512 {
        // SAFETY: the CPU has AVX-512F, BW and VL (checked above); the slices have one length.
        all.push(("avx512f", |v, n, e, a, b, t, out| unsafe {
            fvae_kernels::vq::x86_64::avx512::indices_within(v, n, e, a, b, t, out)
        }));
    }
    for (name, f) in all {
        let mut got = vec![u32::MAX; cap];
        let mut hi_got = f32::NAN;
        let k = f(
            v,
            &norms,
            &errs,
            a,
            b,
            &mut |hi| {
                hi_got = hi;
                hi + delta
            },
            &mut got,
        );
        prop_assert_eq!(hi_got.to_bits(), hi_def.to_bits(), "{}: hi", name);
        prop_assert_eq!(k, count, "{}: count", name);
        prop_assert_eq!(&got, &want, "{}: indices", name);
    }
    Ok(())
}

/// Values with many ties (small integers), signed zeros, NaN and both infinities.
fn select_value() -> impl Strategy<Value = f32> {
    prop_oneof![
        4 => (-3i32..4).prop_map(|v| v as f32),
        3 => any_f32(1e30),
        1 => prop_oneof![Just(0.0f32), Just(-0.0f32), Just(f32::NAN), Just(f32::INFINITY), Just(f32::NEG_INFINITY)],
    ]
}

// ---------------------------------------------------------------- int8

fn check_i8(p: &Paths, x: &[i8], c: &[i8], offset: usize) -> Result<(), TestCaseError> {
    let d = x.len();
    let m = c.len().checked_div(d).unwrap_or(2);
    let c = &c[..m * d];
    let (mut want_sq, mut want_dot) = (vec![0u32; m], vec![0i32; m]);
    scalar::i8_sq_distances(x, c, &mut want_sq);
    scalar::i8_dots(x, c, &mut want_dot);
    // The reference itself against the definition in i64 (exact for these lengths).
    for j in 0..m {
        let row = &c[j * d..(j + 1) * d];
        let sq: i64 = x.iter().zip(row).map(|(&a, &b)| (a as i64 - b as i64).pow(2)).sum();
        let dot: i64 = x.iter().zip(row).map(|(&a, &b)| a as i64 * b as i64).sum();
        prop_assert_eq!(want_sq[j] as i64, sq);
        prop_assert_eq!(want_dot[j] as i64, dot);
    }
    let (xs, cs) = (Shifted::new(x, offset), Shifted::new(c, offset));
    for (name, f) in &p.i8_sq {
        let mut got = vec![7u32; m + 1];
        // SAFETY: the CPU has the path's features; m rows of d.
        unsafe { f(xs.get(), cs.get(), &mut got[..m]) };
        prop_assert_eq!(&got[..m], &want_sq[..], "{} i8 sq D={} M={}", name, d, m);
        prop_assert_eq!(got[m], 7);
    }
    for (name, f) in &p.i8_dot {
        let mut got = vec![7i32; m + 1];
        // SAFETY: the CPU has the path's features; m rows of d.
        unsafe { f(xs.get(), cs.get(), &mut got[..m]) };
        prop_assert_eq!(&got[..m], &want_dot[..], "{} i8 dots D={} M={}", name, d, m);
        prop_assert_eq!(got[m], 7);
    }
    let mut got = vec![7u32; m];
    vq::i8_sq_distances(xs.get(), cs.get(), &mut got);
    prop_assert_eq!(&got, &want_sq);
    let mut got = vec![7i32; m];
    vq::i8_dots(xs.get(), cs.get(), &mut got);
    prop_assert_eq!(&got, &want_dot);
    if m > 0 {
        prop_assert_eq!(vq::i8_dot(xs.get(), &cs.get()[..d]), want_dot[0]);
    }
    Ok(())
}

fn i8_case(max_d: usize, max_m: usize) -> impl Strategy<Value = (Vec<i8>, Vec<i8>, usize)> {
    (0..=max_d, 0..=max_m, 0..2usize).prop_flat_map(|(d, m, offset)| {
        (prop::collection::vec(i8_extreme(), d), prop::collection::vec(i8_extreme(), m * d), Just(offset))
    })
}

/// Signed zeros in every lane position, both orders: the reduction of `-0.0` and `+0.0` may give
/// either, so a path must return the value at the first index, sign included.
#[test]
fn argmin_signed_zeros() {
    let p = paths();
    for n in [2usize, 17, 33, 64, 70] {
        for first in 0..n {
            for lead in [-0.0f32, 0.0] {
                let mut v: Vec<f32> = (0..n).map(|i| if i % 2 == 0 { 1.0 } else { -lead }).collect();
                v[first] = lead;
                for x in v.iter_mut().skip(first + 1) {
                    if *x == 1.0 {
                        *x = -lead;
                    }
                }
                check_argmin(&p, &v, 0).unwrap();
                check_argmin(&p, &v, 1).unwrap();
            }
        }
    }
}

proptest! {
    #![proptest_config(config(96))]

    /// Ordinary values: the bound's D ε term is what is checked.
    #[test]
    fn sq_distances_paths(case in sq_case(150, 20, (-100f32..100.0).boxed())) {
        let (x, c, offset) = case;
        check_sq(&paths(), &x, &c, offset)?;
    }

    /// Every magnitude class, NaN and infinities: classification (NaN, overflow) agrees too.
    #[test]
    fn sq_distances_extremes(case in sq_case(70, 9, any_f32(1e19).boxed())) {
        let (x, c, offset) = case;
        check_sq(&paths(), &x, &c, offset)?;
    }

    /// Scores of N queries against a packed codebook: every tile shape (6-query tiles, blocks,
    /// the rest) comes up for N up to 60; values of mixed magnitude so the dot products cancel.
    #[test]
    fn scores_paths(
        (d, m, n) in (1..=40usize, 1..=40usize, 0..=60usize),
        seed in prop::collection::vec(finite_f32(1e6), 64),
        offset in 0..2usize,
    ) {
        // Cycle a 64-value pool (cheaper to generate than N D + M D values; the stride 61 is
        // coprime with 64, so neighbouring rows differ).
        let pick = |i: usize| seed[(i * 61 + i / 64) % 64];
        let q: Vec<f32> = (0..n * d).map(pick).collect();
        let c: Vec<f32> = (0..m * d).map(|i| pick(i + 7)).collect();
        check_scores(&paths(), &q, &c, d, m, offset)?;
    }

    #[test]
    fn argmin_paths(v in prop::collection::vec(select_value(), 0..300), offset in 0..2usize) {
        check_argmin(&paths(), &v, offset)?;
    }

    #[test]
    fn indices_at_most_paths(
        v in prop::collection::vec(select_value(), 0..200),
        t in select_value(),
        cap in 0..40usize,
        offset in 0..2usize,
    ) {
        check_at_most(&paths(), &v, t, cap, offset)?;
    }

    /// Per-codeword windows: ties, NaN and infinite values, zero and huge bounds, tails.
    #[test]
    fn indices_within_paths(
        v in prop::collection::vec(select_value(), 0..200),
        bounds in prop::collection::vec((prop_oneof![Just(0.0f32), 0.0f32..4.0, any_f32(1e30)],
                                         prop_oneof![Just(0.0f32), 0.0f32..0.1]), 0..200),
        a in prop_oneof![Just(0.0f32), 0.0f32..2.0],
        b in prop_oneof![Just(0.0f32), 0.0f32..2.0],
        delta in prop_oneof![Just(0.0f32), 0.0f32..1.0, Just(f32::NAN), Just(f32::INFINITY)],
        cap in 0..40usize,
    ) {
        check_within(&v, &bounds, a, b, delta, cap)?;
    }

    /// The per-codeword quantisation error bounds hold (and are tight) for any codebook.
    #[test]
    fn screen_errors_bound_the_int8_copy(
        (d, c) in (1usize..40).prop_flat_map(|d| (Just(d), prop::collection::vec(finite_f32(1e3), d..=4 * d))),
    ) {
        let m = c.len() / d;
        let mut errs = vec![f32::NAN; m + 1];
        vq::screen_errors(&c, d, &mut errs);
        prop_assert_eq!(errs[m], 0.0, "a codeword past the data has no error");
        for (j, cj) in c.chunks_exact(d).enumerate() {
            let (t, inv) = scalar::screen_scale(cj.iter().fold(0.0f32, |mx, v| mx.max(v.abs())));
            let exact: f64 = cj.iter().map(|&v| v as f64 - scalar::screen_q(v, inv) as f64 * t as f64).map(|r| r * r).sum::<f64>().sqrt();
            prop_assert!(errs[j] as f64 >= exact && errs[j] as f64 <= exact * (1.0 + 1e-6) + 1e-38, "codeword {}: {} vs {}", j, errs[j], exact);
        }
    }

    /// `top_k` (scalar on every target) against a stable sort of the non-NaN values.
    #[test]
    fn top_k_is_a_stable_sort_prefix(v in prop::collection::vec(select_value(), 0..200), k in 0..50usize) {
        let mut sorted: Vec<(u32, f32)> =
            v.iter().enumerate().filter(|(_, x)| !x.is_nan()).map(|(i, &x)| (i as u32, x)).collect();
        sorted.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap());
        let want = &sorted[..k.min(sorted.len())];
        let (mut idx, mut val) = (vec![u32::MAX; k], vec![f32::NAN; k]);
        let n = vq::top_k(&v, &mut idx, &mut val);
        prop_assert_eq!(n, want.len());
        for (r, &(i, x)) in want.iter().enumerate() {
            // Equal values (0.0 and -0.0 included) keep index order; the stable sort does too.
            prop_assert_eq!(idx[r], i, "rank {}", r);
            prop_assert_eq!(val[r].to_bits(), x.to_bits(), "rank {}", r);
        }
    }

    #[test]
    fn argmin_u32_is_the_first_minimum(v in prop::collection::vec(prop_oneof![0u32..4, any::<u32>()], 0..100)) {
        let want = v.iter().copied().enumerate().min_by_key(|&(i, x)| (x, i));
        prop_assert_eq!(vq::argmin_u32(&v), want);
    }

    #[test]
    fn i8_kernels_paths(case in i8_case(300, 12)) {
        let (x, c, offset) = case;
        check_i8(&paths(), &x, &c, offset)?;
    }

    /// The f64 distances: one fixed order, close to the index-order f64 sum. Both sum the same
    /// f64 terms `(x - c)^2` (computed identically), each order within `γ_{D-1}` of the exact
    /// sum, so within `2 (D - 1) 2^-53 < D 2^-52` relative of each other.
    #[test]
    fn exact_distances_match_index_order(
        (x, c) in (0..100usize).prop_flat_map(|d| {
            (prop::collection::vec(finite_f32(1e15), d), prop::collection::vec(finite_f32(1e15), d))
        }),
    ) {
        let d = x.len();
        let plain: f64 = x.iter().zip(&c).map(|(&a, &b)| (a as f64 - b as f64).powi(2)).sum();
        let got = vq::sq_distance_exact(&x, &c);
        prop_assert!((got - plain).abs() <= d as f64 * f64::EPSILON * plain, "{} vs {}", got, plain);
        let zero = vec![0.0f32; d];
        prop_assert_eq!(vq::sq_norm_exact(&x).to_bits(), vq::sq_distance_exact(&x, &zero).to_bits());
        // Shorter second argument: the common length.
        prop_assert_eq!(vq::sq_distance_exact(&x, &c[..d / 2]), vq::sq_distance_exact(&x[..d / 2], &c[..d / 2]));
    }

    /// `pack_panels` against the layout definition, with short output buffers.
    #[test]
    fn pack_panels_layout((d, m) in (0..20usize, 0..40usize), room in 0..3usize) {
        let c: Vec<f32> = (0..m * d).map(|i| i as f32 + 0.5).collect();
        let mp = vq::padded_m(m);
        // Room for all panels, one panel fewer, or none.
        let panels_fit = [mp / PANEL, (mp / PANEL).saturating_sub(1), 0][room];
        let mut panels = vec![f32::NAN; panels_fit * PANEL * d + 3];
        let written = vq::pack_panels(&c, d, &mut panels);
        prop_assert_eq!(written, if d == 0 { 0 } else { panels_fit * PANEL * d });
        for (i, &v) in panels[..written].iter().enumerate() {
            let (p, r) = (i / (PANEL * d), i % (PANEL * d));
            let (dim, j) = (r / PANEL, r % PANEL);
            let row = p * PANEL + j;
            let want = if row < m { c[row * d + dim] } else { 0.0 };
            prop_assert_eq!(v.to_bits(), want.to_bits());
        }
        prop_assert!(panels[written..].iter().all(|v| v.is_nan()));
    }
}

/// The int8 distance at its stated limit, once per path (too long for a property case).
#[test]
fn i8_sq_distances_exact_past_i32() {
    // 66 051 * 255^2 = 4 294 966 275, just below 2^32: the longest D the u32 contract covers.
    let d = 66_051;
    let (x, c) = (vec![-128i8; d + 1], vec![127i8; d + 1]);
    let want = 66_051u64 * 255 * 255;
    assert!(want < 1 << 32);
    let mut got = [0u32];
    vq::i8_sq_distances(&x[1..], &c[1..], &mut got);
    assert_eq!(got[0] as u64, want);
    for (name, f) in &paths().i8_sq {
        // SAFETY: the CPU has the path's features; one row of d.
        unsafe { f(&x[1..], &c[1..], &mut got) };
        assert_eq!(got[0] as u64, want, "{name}");
    }
}
