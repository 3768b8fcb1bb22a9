//! Diagonal-Gaussian kernels: squared Mahalanobis distances to K means, a stable softmax, and
//! the Fisher-vector statistics update.
//!
//! Each public function is the single dispatch point for its kernel: it makes the slice lengths
//! consistent (so the paths below may index without checks), then runs the best path this CPU
//! or build has. [`scalar`] is the reference; the architecture modules hold the SIMD paths.
//!
//! | target | path |
//! | --- | --- |
//! | x86_64 | [`cpu::x86_level`]: `x86_64::avx512` (AVX-512F/BW/VL), `x86_64::avx2` (AVX2+FMA), `x86_64::sse2` |
//! | aarch64 with NEON | `aarch64::neon` |
//! | Cortex-M4F/M7/M33F (cfg `fvae_arm_fpu`, from `build.rs`) | `arm::m4f` (bit for bit the reference) |
//! | wasm32 built with `+simd128` | `wasm32::simd128` |
//! | anything else | [`scalar`] |
//!
//! The SIMD paths agree with the reference to rounding: they sum in a different order and
//! fuse multiply-adds (tests/gaussian_paths.rs states the bounds), while exactly the same
//! `exp` arguments are flushed to 0. [`accumulate_compensated`] is bit-identical on every path.
//!
//! Speed (benches/gaussian.rs): at D = 64, K = 256 the means and inverse sigmas are 128 KB, more
//! than L1, and streaming them once per descriptor bounds [`sq_mahalanobis`] (AVX2 and AVX-512
//! measure the same there); [`sq_mahalanobis_batch`] reads them once per 8 descriptors
//! (AVX2, AVX-512).

#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
pub mod aarch64;
#[cfg(fvae_arm_fpu)]
pub mod arm;
pub mod scalar;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod wasm32;
#[cfg(target_arch = "x86_64")]
pub mod x86_64;

#[cfg(target_arch = "x86_64")]
use crate::cpu::{self, X86Level};

/// How many rows of length `d` the slices allow, given `rows` wanted (never more than `rows`).
#[inline]
pub(crate) fn rows_available(rows: usize, d: usize, lens: &[usize]) -> usize {
    if d == 0 {
        return rows;
    }
    lens.iter().fold(rows, |k, &len| k.min(len / d))
}

/// Calls `f(k, q[k])` for every `q[k]` that is not ±0 (NaN included, as `q[k] != 0.0`), in
/// order. Zero runs are skipped 16 at a time by one mask test, not a compare and branch per
/// value: with sharply peaked posteriors (one nonzero in 64 is common) that scan, mispredicted
/// once per descriptor, was a quarter of the statistics update.
#[inline(always)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // used by the AVX2 and AVX-512 paths
pub(crate) fn for_nonzero(q: &[f32], mut f: impl FnMut(usize, f32)) {
    for (b, chunk) in q.chunks(16).enumerate() {
        // Bit j is set iff chunk[j] has a nonzero magnitude (the sign bit shifted out).
        let mut bits = chunk.iter().enumerate().fold(0u32, |m, (j, v)| m | (((v.to_bits() << 1) != 0) as u32) << j);
        while bits != 0 {
            let j = bits.trailing_zeros() as usize;
            if let Some(&v) = chunk.get(j) {
                f(b * 16 + j, v);
            }
            bits &= bits - 1;
        }
    }
}

/// Squared Mahalanobis distance of `x` to each of K diagonal Gaussians:
/// `out[k] = sum_d ((x[d] - means[k][d]) * inv_sigma[k][d])^2`, with `D = x.len()`,
/// `means` and `inv_sigma` row-major `[K, D]` and `inv_sigma = 1 / sqrt(variance)`.
///
/// This is the direct (centred) form: it keeps its accuracy on data far from zero, where the
/// expanded `x^2/var - 2 x mu/var + mu^2/var` loses every digit in f32.
/// `K` is `out.len()`, reduced if `means` or `inv_sigma` hold fewer than `K * D` values; the
/// rest of `out` is left unchanged.
///
/// ```
/// use fvae_kernels::gaussian::sq_mahalanobis;
/// let x = [1.0, 2.0];
/// let means = [0.0, 0.0, 1.0, 2.0];
/// let inv_sigma = [1.0, 0.5, 1.0, 1.0];
/// let mut out = [0.0; 2];
/// sq_mahalanobis(&x, &means, &inv_sigma, &mut out);
/// assert_eq!(out, [2.0, 0.0]);
/// ```
pub fn sq_mahalanobis(x: &[f32], means: &[f32], inv_sigma: &[f32], out: &mut [f32]) {
    let d = x.len();
    let k = rows_available(out.len(), d, &[means.len(), inv_sigma.len()]);
    // `get`: `k` fits every slice, which the optimiser cannot see through the division (never `None`).
    let (Some(means), Some(inv_sigma), Some(out)) = (means.get(..k * d), inv_sigma.get(..k * d), out.get_mut(..k))
    else {
        return;
    };
    #[cfg(target_arch = "x86_64")]
    match cpu::x86_level() {
        // SAFETY: x86_level() reports a level only where the CPU and OS have its features;
        // every path is sound for any slice lengths.
        X86Level::Avx512 | X86Level::Avx512Vnni => unsafe { x86_64::avx512::sq_mahalanobis(x, means, inv_sigma, out) },
        // SAFETY: as above.
        X86Level::Avx2Fma => unsafe { x86_64::avx2::sq_mahalanobis(x, means, inv_sigma, out) },
        // SAFETY: SSE2 is part of every x86_64 CPU.
        X86Level::Sse2 => unsafe { x86_64::sse2::sq_mahalanobis(x, means, inv_sigma, out) },
    }
    // SAFETY: the build targets NEON (cfg above); the path is sound for any slice lengths.
    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    unsafe {
        aarch64::neon::sq_mahalanobis(x, means, inv_sigma, out)
    }
    #[cfg(fvae_arm_fpu)]
    {
        arm::m4f::sq_mahalanobis(x, means, inv_sigma, out)
    }
    // SAFETY: the build targets simd128 (cfg); the path is sound for any slice lengths.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    unsafe {
        wasm32::simd128::sq_mahalanobis(x, means, inv_sigma, out)
    }
    #[cfg(not(any(
        target_arch = "x86_64",
        all(target_arch = "aarch64", target_feature = "neon"),
        all(target_arch = "wasm32", target_feature = "simd128"),
        fvae_arm_fpu
    )))]
    scalar::sq_mahalanobis(x, means, inv_sigma, out)
}

/// Descriptors [`sq_mahalanobis_batch`] reads the model once for on this build's batched paths:
/// 8 on x86_64 (AVX2, AVX-512; SSE2 runs row by row), 1 elsewhere, where the batch form is
/// the one-descriptor kernel row by row. Callers size a batch scratch by it, so targets without
/// a batched path (Cortex-M, with its small stacks) need none.
pub const BATCH_ROWS: usize = if cfg!(target_arch = "x86_64") { 8 } else { 1 };

/// [`sq_mahalanobis`] for N descriptors at once: `out[n * K + k]` is the squared Mahalanobis
/// distance of row `n` of `xs` ([N, D] row-major, D = `d`) to component `k`, with
/// K = `means.len() / d` (reduced to what `inv_sigma` holds) and N = `xs.len() / d` reduced to
/// what `out` holds; the rest of `out` is left unchanged. `d == 0` writes nothing.
///
/// The values are bit for bit those of [`sq_mahalanobis`] on each row. On AVX-512 and AVX2
/// each component row is read once per 8 descriptors instead of once per descriptor: once the
/// model outgrows the L1 cache (D = 64, K = 256 is 128 KB of means and inverse sigmas) the
/// one-descriptor kernel is bound by that traffic, not by arithmetic. Other paths run the
/// one-descriptor kernel row by row.
///
/// ```
/// use fvae_kernels::gaussian::sq_mahalanobis_batch;
/// let xs = [1.0, 2.0, 0.0, 0.0]; // two descriptors of D = 2
/// let (means, inv_sigma) = ([0.0, 0.0, 1.0, 2.0], [1.0, 0.5, 1.0, 1.0]);
/// let mut out = [0.0; 4];
/// sq_mahalanobis_batch(&xs, 2, &means, &inv_sigma, &mut out);
/// assert_eq!(out, [2.0, 0.0, 0.0, 5.0]);
/// ```
pub fn sq_mahalanobis_batch(xs: &[f32], d: usize, means: &[f32], inv_sigma: &[f32], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    match cpu::x86_level() {
        // SAFETY: x86_level() reports a level only where the CPU and OS have its features;
        // every path is sound for any slice lengths.
        X86Level::Avx512 | X86Level::Avx512Vnni => {
            return unsafe { x86_64::avx512::sq_mahalanobis_batch(xs, d, means, inv_sigma, out) }
        }
        // SAFETY: as above.
        X86Level::Avx2Fma => return unsafe { x86_64::avx2::sq_mahalanobis_batch(xs, d, means, inv_sigma, out) },
        X86Level::Sse2 => {}
    }
    if d == 0 {
        return;
    }
    let k = means.len().min(inv_sigma.len()) / d;
    let (Some(means), Some(inv_sigma)) = (means.get(..k * d), inv_sigma.get(..k * d)) else { return };
    if k == 0 {
        return;
    }
    for (x, o) in xs.chunks_exact(d).zip(out.chunks_exact_mut(k)) {
        sq_mahalanobis(x, means, inv_sigma, o);
    }
}

/// Whether [`sq_mahalanobis_batch_prefix`] computes real bounds here (AVX2 or AVX-512) rather
/// than zeros, which prune nothing and only add a pass.
///
/// ```
/// // Without a bounding path the bounds are all 0.
/// let _ = fvae_kernels::gaussian::has_prefix_bounds();
/// ```
pub fn has_prefix_bounds() -> bool {
    #[cfg(target_arch = "x86_64")]
    return !matches!(cpu::x86_level(), X86Level::Sse2);
    #[allow(unreachable_code)]
    false
}

/// Cheap lower bounds of [`sq_mahalanobis_batch`]'s values, laid out as it lays them out:
/// `out[n * K + k]` is at most, bit for bit in f32, the distance [`sq_mahalanobis_batch`] and
/// [`sq_mahalanobis`] give for row `n` and component `k` on this build. On AVX-512 and AVX2 it
/// is the partial sum over the first `p` columns (`p` rounded down to a multiple of 16, at
/// most `d`): the same lanes in the same order and the same reduction the full sum goes
/// through, which only adds non-negative terms after them (rounding is monotone). Elsewhere it
/// is 0. Lengths as [`sq_mahalanobis_batch`].
///
/// A caller can tell from the bound alone that a component's posterior is exactly 0 in f32
/// (its log-density is far below the best one's), and skip the rest of that distance.
///
/// ```
/// use fvae_kernels::gaussian::{sq_mahalanobis_batch, sq_mahalanobis_batch_prefix};
/// let xs = [1.0f32; 64];
/// let (means, inv_sigma) = ([0.0f32; 32], [1.0f32; 32]); // one component, D = 32
/// let (mut low, mut full) = ([0.0; 2], [0.0; 2]);
/// sq_mahalanobis_batch_prefix(&xs, 32, 16, &means, &inv_sigma, &mut low);
/// sq_mahalanobis_batch(&xs, 32, &means, &inv_sigma, &mut full);
/// assert!(low[0] <= full[0] && full == [32.0, 32.0]);
/// ```
pub fn sq_mahalanobis_batch_prefix(xs: &[f32], d: usize, p: usize, means: &[f32], inv_sigma: &[f32], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    match cpu::x86_level() {
        // SAFETY: x86_level() reports a level only where the CPU and OS have its features;
        // every path is sound for any slice lengths.
        X86Level::Avx512 | X86Level::Avx512Vnni => {
            return unsafe { x86_64::avx512::sq_mahalanobis_batch_prefix(xs, d, p, means, inv_sigma, out) }
        }
        // SAFETY: as above.
        X86Level::Avx2Fma => {
            return unsafe { x86_64::avx2::sq_mahalanobis_batch_prefix(xs, d, p, means, inv_sigma, out) }
        }
        X86Level::Sse2 => {}
    }
    let _ = p;
    if d == 0 {
        return;
    }
    let k = means.len().min(inv_sigma.len()) / d;
    let n = xs.len() / d;
    if let Some(o) = out.get_mut(..n.saturating_mul(k).min(out.len() / k.max(1) * k)) {
        o.iter_mut().for_each(|v| *v = 0.0);
    }
}

/// Replaces `v` by `softmax(v)`, subtracting the maximum first so that no exponential
/// overflows and a vector whose every entry is very negative still gets exact weights, and
/// returns `log sum_k exp v[k]`. Exponentials of arguments below -87 are exactly 0.
///
/// If the maximum is not finite (empty, all `-inf`, any `+inf` or NaN), `v` is left unchanged
/// and that maximum is returned, so a caller can detect it with `is_finite()`.
///
/// ```
/// use fvae_kernels::gaussian::softmax;
/// // exp(-1000) underflows, yet the weights are exact: 1 / (1 + e) and e / (1 + e).
/// let mut v = [-1000.0, -999.0];
/// let lse = softmax(&mut v);
/// let e = core::f32::consts::E;
/// assert!((v[0] - 1.0 / (1.0 + e)).abs() < 1e-6 && (v[1] - e / (1.0 + e)).abs() < 1e-6);
/// assert!((lse - (-999.0 + (1.0 + 1.0 / e).ln())).abs() < 1e-4);
/// ```
pub fn softmax(v: &mut [f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    match cpu::x86_level() {
        // SAFETY: x86_level() reports a level only where the CPU and OS have its features.
        X86Level::Avx512 | X86Level::Avx512Vnni => unsafe { x86_64::avx512::softmax(v) },
        // SAFETY: as above.
        X86Level::Avx2Fma => unsafe { x86_64::avx2::softmax(v) },
        // SAFETY: SSE2 is part of every x86_64 CPU.
        X86Level::Sse2 => unsafe { x86_64::sse2::softmax(v) },
    }
    // SAFETY: the build targets NEON (cfg above).
    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    unsafe {
        aarch64::neon::softmax(v)
    }
    #[cfg(fvae_arm_fpu)]
    {
        arm::m4f::softmax(v)
    }
    // SAFETY: the build targets simd128 (cfg); the path is sound for any slice lengths.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    unsafe {
        wasm32::simd128::softmax(v)
    }
    #[cfg(not(any(
        target_arch = "x86_64",
        all(target_arch = "aarch64", target_feature = "neon"),
        all(target_arch = "wasm32", target_feature = "simd128"),
        fvae_arm_fpu
    )))]
    scalar::softmax(v)
}

/// Adds one descriptor's Fisher-vector statistics: for every component `k` with `q[k] != 0`
/// and `t = (x - means[k]) * inv_sigma[k]`, `s1[k] += q[k] * t` and
/// `s2[k] += q[k] * (t * t - 1)` (rows of length `D = x.len()`). Components with a zero
/// posterior cost nothing, which is what makes thresholds and hard assignment fast.
///
/// `K` is `q.len()`, reduced to what the other slices hold.
///
/// ```
/// use fvae_kernels::gaussian::accumulate;
/// let (x, means, inv_sigma) = ([3.0], [1.0, 0.0], [0.5, 1.0]);
/// let q = [1.0, 0.0];
/// let (mut s1, mut s2) = ([0.0; 2], [0.0; 2]);
/// accumulate(&x, &means, &inv_sigma, &q, &mut s1, &mut s2);
/// assert_eq!((s1, s2), ([1.0, 0.0], [0.0, 0.0]));
/// ```
pub fn accumulate(x: &[f32], means: &[f32], inv_sigma: &[f32], q: &[f32], s1: &mut [f32], s2: &mut [f32]) {
    let d = x.len();
    let k = rows_available(q.len(), d, &[means.len(), inv_sigma.len(), s1.len(), s2.len()]);
    let (Some(means), Some(inv_sigma), Some(q)) = (means.get(..k * d), inv_sigma.get(..k * d), q.get(..k)) else {
        return;
    };
    let (Some(s1), Some(s2)) = (s1.get_mut(..k * d), s2.get_mut(..k * d)) else { return };
    #[cfg(target_arch = "x86_64")]
    match cpu::x86_level() {
        // SAFETY: x86_level() reports a level only where the CPU and OS have its features;
        // every path is sound for any slice lengths.
        X86Level::Avx512 | X86Level::Avx512Vnni => unsafe {
            x86_64::avx512::accumulate(x, means, inv_sigma, q, s1, s2)
        },
        // SAFETY: as above.
        X86Level::Avx2Fma => unsafe { x86_64::avx2::accumulate(x, means, inv_sigma, q, s1, s2) },
        // SAFETY: SSE2 is part of every x86_64 CPU.
        X86Level::Sse2 => unsafe { x86_64::sse2::accumulate(x, means, inv_sigma, q, s1, s2) },
    }
    // SAFETY: the build targets NEON (cfg above); the path is sound for any slice lengths.
    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    unsafe {
        aarch64::neon::accumulate(x, means, inv_sigma, q, s1, s2)
    }
    #[cfg(fvae_arm_fpu)]
    {
        arm::m4f::accumulate(x, means, inv_sigma, q, s1, s2)
    }
    // SAFETY: the build targets simd128 (cfg); the path is sound for any slice lengths.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    unsafe {
        wasm32::simd128::accumulate(x, means, inv_sigma, q, s1, s2)
    }
    #[cfg(not(any(
        target_arch = "x86_64",
        all(target_arch = "aarch64", target_feature = "neon"),
        all(target_arch = "wasm32", target_feature = "simd128"),
        fvae_arm_fpu
    )))]
    scalar::accumulate(x, means, inv_sigma, q, s1, s2)
}

/// [`accumulate`] with Kahan-compensated sums (`c1`, `c2` hold what `s1`, `s2` lost; the true
/// sums are `s - c`): the accuracy of f64 accumulation at f32 cost. Lengths as [`accumulate`].
/// Every path gives the scalar reference's results bit for bit (element-wise, no FMA).
///
/// ```
/// use fvae_kernels::gaussian::accumulate_compensated;
/// let (x, means, inv_sigma, q) = ([1.0], [0.0], [1.0], [1e-8]);
/// let (mut s1, mut c1, mut s2, mut c2) = ([1.0], [0.0], [0.0], [0.0]);
/// for _ in 0..1000 {
///     accumulate_compensated(&x, &means, &inv_sigma, &q, &mut s1, &mut c1, &mut s2, &mut c2);
/// }
/// assert!(((s1[0] - c1[0]) as f64 - (1.0 + 1e-5)).abs() < 1e-7); // plain f32 would stay at 1.0
/// ```
#[allow(clippy::too_many_arguments)]
pub fn accumulate_compensated(
    x: &[f32],
    means: &[f32],
    inv_sigma: &[f32],
    q: &[f32],
    s1: &mut [f32],
    c1: &mut [f32],
    s2: &mut [f32],
    c2: &mut [f32],
) {
    let d = x.len();
    let lens = [means.len(), inv_sigma.len(), s1.len(), c1.len(), s2.len(), c2.len()];
    let k = rows_available(q.len(), d, &lens);
    let (Some(means), Some(inv_sigma), Some(q)) = (means.get(..k * d), inv_sigma.get(..k * d), q.get(..k)) else {
        return;
    };
    let (Some(s1), Some(c1)) = (s1.get_mut(..k * d), c1.get_mut(..k * d)) else { return };
    let (Some(s2), Some(c2)) = (s2.get_mut(..k * d), c2.get_mut(..k * d)) else { return };
    #[cfg(target_arch = "x86_64")]
    match cpu::x86_level() {
        // SAFETY: x86_level() reports a level only where the CPU and OS have its features;
        // every path is sound for any slice lengths.
        X86Level::Avx512 | X86Level::Avx512Vnni => unsafe {
            x86_64::avx512::accumulate_compensated(x, means, inv_sigma, q, s1, c1, s2, c2)
        },
        // SAFETY: as above.
        X86Level::Avx2Fma => unsafe { x86_64::avx2::accumulate_compensated(x, means, inv_sigma, q, s1, c1, s2, c2) },
        // SAFETY: SSE2 is part of every x86_64 CPU.
        X86Level::Sse2 => unsafe { x86_64::sse2::accumulate_compensated(x, means, inv_sigma, q, s1, c1, s2, c2) },
    }
    // SAFETY: the build targets NEON (cfg above); the path is sound for any slice lengths.
    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    unsafe {
        aarch64::neon::accumulate_compensated(x, means, inv_sigma, q, s1, c1, s2, c2)
    }
    #[cfg(fvae_arm_fpu)]
    {
        arm::m4f::accumulate_compensated(x, means, inv_sigma, q, s1, c1, s2, c2)
    }
    // SAFETY: the build targets simd128 (cfg); the path is sound for any slice lengths.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    unsafe {
        wasm32::simd128::accumulate_compensated(x, means, inv_sigma, q, s1, c1, s2, c2)
    }
    #[cfg(not(any(
        target_arch = "x86_64",
        all(target_arch = "aarch64", target_feature = "neon"),
        all(target_arch = "wasm32", target_feature = "simd128"),
        fvae_arm_fpu
    )))]
    scalar::accumulate_compensated(x, means, inv_sigma, q, s1, c1, s2, c2)
}

/// [`accumulate_compensated`] for one component (`mean`, `inv_sigma` its rows, posterior `q`,
/// in f64 so that a caller may give it more exactly than f32 can) with the terms in f64 (see `scalar::accumulate_compensated_f64`): for the components carrying
/// most of a descriptor's weight, whose f32-rounded terms would otherwise remain in a
/// near-cancelling sum. Scalar on every target (f64 is software on single-precision FPUs; it runs
/// for a component or two per descriptor). D is `x.len()`, reduced to what the rows hold.
///
/// ```
/// use fvae_kernels::gaussian::accumulate_compensated_f64;
/// let (mut s1, mut c1, mut s2, mut c2) = ([0.0f32], [0.0f32], [0.0f32], [0.0f32]);
/// // 0.1 is not an f32: in f32 t = (0.1 - 0) * 3 would be rounded twice.
/// accumulate_compensated_f64(&[0.1], &[0.0], &[3.0], 1.0, &mut s1, &mut c1, &mut s2, &mut c2);
/// let t = 0.1f32 as f64 * 3.0;
/// assert!((s1[0] as f64 - c1[0] as f64 - t).abs() < 1e-15);
/// assert!((s2[0] as f64 - c2[0] as f64 - (t * t - 1.0)).abs() < 1e-15);
/// ```
#[allow(clippy::too_many_arguments)]
pub fn accumulate_compensated_f64(
    x: &[f32],
    mean: &[f32],
    inv_sigma: &[f32],
    q: f64,
    s1: &mut [f32],
    c1: &mut [f32],
    s2: &mut [f32],
    c2: &mut [f32],
) {
    let d =
        [mean.len(), inv_sigma.len(), s1.len(), c1.len(), s2.len(), c2.len()].iter().fold(x.len(), |d, &l| d.min(l));
    let (Some(x), Some(mean), Some(inv_sigma)) = (x.get(..d), mean.get(..d), inv_sigma.get(..d)) else { return };
    let (Some(s1), Some(c1), Some(s2), Some(c2)) = (s1.get_mut(..d), c1.get_mut(..d), s2.get_mut(..d), c2.get_mut(..d))
    else {
        return;
    };
    scalar::accumulate_compensated_f64(x, mean, inv_sigma, q, s1, c1, s2, c2)
}

/// [`sq_mahalanobis`] accumulated in f64, for accurate log-densities (see
/// `scalar::sq_mahalanobis_f64`). Scalar on every target: it serves outputs, not hot loops.
///
/// ```
/// use fvae_kernels::gaussian::sq_mahalanobis_f64;
/// let mut out = [0.0f64; 1];
/// sq_mahalanobis_f64(&[3.0], &[1.0], &[0.5], &mut out);
/// assert_eq!(out, [1.0]);
/// ```
pub fn sq_mahalanobis_f64(x: &[f32], means: &[f32], inv_sigma: &[f32], out: &mut [f64]) {
    let d = x.len();
    let k = rows_available(out.len(), d, &[means.len(), inv_sigma.len()]);
    let (Some(means), Some(inv_sigma), Some(out)) = (means.get(..k * d), inv_sigma.get(..k * d), out.get_mut(..k))
    else {
        return;
    };
    scalar::sq_mahalanobis_f64(x, means, inv_sigma, out)
}
