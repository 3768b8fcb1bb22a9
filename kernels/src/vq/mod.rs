//! Vector-quantisation kernels: squared distances from a query to M codewords (f32 and exact
//! int8), the ranking scores `||c||^2 / 2 - x . c` of a batch of queries against a codebook
//! packed in panels (a small matrix product), argmin / top-k with ties to the lowest index, and
//! int8 dot products.
//!
//! Each public function is the single dispatch point for its kernel: it cuts the slices to
//! consistent lengths (stated per function), then runs the best path this CPU or build has.
//! [`scalar`] is the reference. Paths: x86_64 AVX2+FMA and AVX-512F (f32), AVX2 and AVX-512
//! VNNI (int8), aarch64 NEON (f32, int8 by widening multiplies), wasm32 simd128 (f32, int8 by
//! `i32x4.dot_i16x8_s`; builds with `+simd128`), and on Cortex-M4/M7 (cfg
//! `fvae_arm_dsp`, set by `build.rs` for `thumbv7em*` targets) `smlad`/`sxtb16` for int8.
//!
//! ## Exactness of the int8 kernels
//! A squared difference of two i8 values is at most `255^2 = 65025` (`254^2 = 64516` when
//! values stay in [-127, 127], as [`fvae`](https://docs.rs/fvae)'s quantiser keeps them). The
//! distances accumulate in wrapping 32-bit lanes and are returned as `u32`: exact while the true
//! sum is below 2^32, that is for **D <= 66 051** (any i8 values), which covers D = 65 536. Read
//! as *i32* the same sum would only be safe up to D = 33 025 (33 286 for [-127, 127]): this is
//! why the distance type is `u32`. Dot products are at most `128 * 128 * D = 2^14 D` in
//! magnitude and exact in `i32` for **D <= 131 071**.

pub mod scalar;

#[cfg(target_arch = "x86_64")]
pub mod x86_64;

#[cfg(target_arch = "aarch64")]
pub mod aarch64;

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod wasm32;

#[cfg(fvae_arm_dsp)]
pub mod arm;

/// Codewords per panel in the packed layout of [`scores`]: the panel of codewords
/// `16p..16p+16` is `D` rows of 16 values (`panels[p*16*D + d*16 + j] = c_{16p+j}[d]`), so a
/// SIMD register holds one dimension of 16 (or 8, or 4) codewords.
pub const PANEL: usize = 16;

/// `M` rounded up to a whole number of panels.
///
/// ```
/// assert_eq!(fvae_kernels::vq::padded_m(17), 32);
/// ```
pub const fn padded_m(m: usize) -> usize {
    m.div_ceil(PANEL) * PANEL
}

/// How many rows of length `d` the slices allow, given `rows` wanted (never more than `rows`).
#[inline]
fn rows_available(rows: usize, d: usize, lens: &[usize]) -> usize {
    if d == 0 {
        return rows;
    }
    lens.iter().fold(rows, |k, &len| k.min(len / d))
}

/// Squared Euclidean distances in the direct form: `out[j] = sum_d (x[d] - c_j[d])^2` for the
/// codebook `[M, D]` (row-major, `D = x.len()`). `M` is `out.len()`, reduced if `codebook` holds
/// fewer rows; the rest of `out` is left unchanged. SIMD paths sum in a different order than the
/// scalar reference, so results agree to rounding (relative error below `(D + 2) 2^-24`).
///
/// ```
/// use fvae_kernels::vq::sq_distances;
/// let mut out = [0.0; 2];
/// sq_distances(&[1.0, 2.0], &[1.0, 2.0, 0.0, 0.0], &mut out);
/// assert_eq!(out, [0.0, 5.0]);
/// ```
pub fn sq_distances(x: &[f32], codebook: &[f32], out: &mut [f32]) {
    let d = x.len();
    let m = rows_available(out.len(), d, &[codebook.len()]);
    // `get`: `m` fits both slices, which the optimiser cannot see through the division (never `None`).
    let (Some(codebook), Some(out)) = (codebook.get(..m * d), out.get_mut(..m)) else { return };
    #[cfg(target_arch = "x86_64")]
    {
        if crate::cpu::has_avx512f() {
            // SAFETY: the CPU (or build) has AVX-512F; lengths are consistent (m rows of d).
            return unsafe { x86_64::avx512::sq_distances(x, codebook, out) };
        }
        if crate::cpu::has_avx2_fma() {
            // SAFETY: the CPU (or build) has AVX2 and FMA; lengths are consistent.
            return unsafe { x86_64::avx2::sq_distances(x, codebook, out) };
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        // SAFETY: NEON is part of every aarch64 target; lengths are consistent.
        return unsafe { aarch64::neon::sq_distances(x, codebook, out) };
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        // SAFETY: the build enables simd128; lengths are consistent (m rows of d).
        return unsafe { wasm32::simd128::sq_distances(x, codebook, out) };
    }
    #[allow(unreachable_code)]
    scalar::sq_distances(x, codebook, out)
}

/// Packs a row-major codebook `[M, D]` into panels of [`PANEL`] codewords (the layout
/// [`scores`] reads), zero-filling the codewords past `M` up to [`padded_m`]. `M` is
/// `codebook.len() / d`, reduced to what `panels` holds; returns the number of values written.
///
/// ```
/// use fvae_kernels::vq::{pack_panels, PANEL};
/// let mut panels = [9.0; 2 * PANEL];
/// assert_eq!(pack_panels(&[1.0, 2.0, 3.0, 4.0], 2, &mut panels), 2 * PANEL);
/// assert_eq!((panels[0], panels[1], panels[2], panels[PANEL], panels[PANEL + 1]), (1.0, 3.0, 0.0, 2.0, 4.0));
/// ```
pub fn pack_panels(codebook: &[f32], d: usize, panels: &mut [f32]) -> usize {
    if d == 0 {
        return 0;
    }
    // `checked_div`: PANEL * d may wrap to 0 (no real codebook is that wide).
    let mp = (padded_m(codebook.len() / d)).min(panels.len().checked_div(PANEL * d).unwrap_or(0) * PANEL);
    for (p, panel) in panels.chunks_exact_mut((PANEL * d).max(1)).take(mp / PANEL).enumerate() {
        for (i, lanes) in panel.chunks_exact_mut(PANEL).enumerate() {
            for (j, v) in lanes.iter_mut().enumerate() {
                let row = p * PANEL + j;
                *v = codebook.get(row * d + i).copied().unwrap_or(0.0);
            }
        }
    }
    mp * d
}

/// Ranking scores of a batch of queries: `out[q*MP + j] = half_norms[j] - x_q . c_j` for the
/// queries `x_q` (rows of `d` values in `queries`) and the codewords packed by [`pack_panels`].
/// `half_norms[j]` is meant to be `||c_j||^2 / 2` (and `+inf` for padding), so the smallest score
/// is the nearest codeword: `||x - c||^2 = ||x||^2 + 2 score`. This is a matrix product with the
/// codewords in SIMD lanes, the fast path for many codewords; its float error is absolute, of
/// the order of `D 2^-24 (||x|| ||c|| + ||c||^2 / 2)`, so callers re-check near winners exactly.
/// `row_min[q]` receives the smallest non-NaN score of query q (`+inf` if none), fused into the
/// kernel where it pays (AVX-512), so the caller need not scan the row for it.
///
/// `MP` is `half_norms.len()`, reduced to what `panels` holds and rounded down to whole panels;
/// the number of queries is `queries.len() / d`, reduced to what `out` and `row_min` hold.
/// Nothing is written when `d == 0`.
///
/// ```
/// use fvae_kernels::vq::{pack_panels, scores, PANEL};
/// let codebook = [0.0, 0.0, 3.0, 4.0];
/// let mut panels = [0.0; 2 * PANEL];
/// pack_panels(&codebook, 2, &mut panels);
/// let mut half_norms = [f32::INFINITY; PANEL];
/// half_norms[..2].copy_from_slice(&[0.0, 12.5]);
/// let (mut out, mut row_min) = ([0.0; PANEL], [0.0]);
/// scores(&[3.0, 4.0], 2, &panels, &half_norms, &mut out, &mut row_min);
/// assert_eq!((out[0], out[1], out[2], row_min[0]), (0.0, -12.5, f32::INFINITY, -12.5));
/// ```
pub fn scores(queries: &[f32], d: usize, panels: &[f32], half_norms: &[f32], out: &mut [f32], row_min: &mut [f32]) {
    if d == 0 {
        return;
    }
    let mp = half_norms.len().min(panels.len() / d) / PANEL * PANEL;
    if mp == 0 {
        return;
    }
    let n = (queries.len() / d).min(out.len() / mp).min(row_min.len());
    // `get`: the sizes fit (computed above), which the optimiser cannot see (never `None`).
    let (Some(queries), Some(panels), Some(half_norms)) =
        (queries.get(..n * d), panels.get(..mp * d), half_norms.get(..mp))
    else {
        return;
    };
    let (Some(out), Some(row_min)) = (out.get_mut(..n * mp), row_min.get_mut(..n)) else { return };
    #[cfg(target_arch = "x86_64")]
    {
        if crate::cpu::has_avx512f() {
            // SAFETY: the CPU (or build) has AVX-512F; n queries of d, mp = whole panels of d
            // rows, out = n * mp, row_min = n (cut above).
            return unsafe { x86_64::avx512::scores(queries, d, panels, half_norms, out, row_min) };
        }
        if crate::cpu::has_avx2_fma() {
            // SAFETY: the CPU (or build) has AVX2 and FMA; lengths as above.
            unsafe { x86_64::avx2::scores(queries, d, panels, half_norms, out) };
            return row_mins(out, mp, row_min);
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        // SAFETY: NEON is part of every aarch64 target; lengths as above.
        unsafe { aarch64::neon::scores(queries, d, panels, half_norms, out) };
        return row_mins(out, mp, row_min);
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        // SAFETY: the build enables simd128; n queries of d, mp = whole panels of d rows,
        // out = n * mp (cut above).
        unsafe { wasm32::simd128::scores(queries, d, panels, half_norms, out) };
        return row_mins(out, mp, row_min);
    }
    #[allow(unreachable_code)]
    scalar::scores(queries, d, panels, half_norms, out, row_min)
}

/// `row_min[q]` = the smallest non-NaN value of row q of `out` (rows of `mp`), through
/// [`argmin`]'s SIMD paths.
#[allow(dead_code)] // not every target has a path that needs it
fn row_mins(out: &[f32], mp: usize, row_min: &mut [f32]) {
    for (row, m) in out.chunks_exact(mp).zip(row_min.iter_mut()) {
        *m = argmin(row).map_or(f32::INFINITY, |r| r.1);
    }
}

/// The index of the smallest value (the first one on ties, as numpy's `argmin`) and the value;
/// NaN values are skipped. `None` for an empty or all-NaN slice.
///
/// ```
/// use fvae_kernels::vq::argmin;
/// assert_eq!(argmin(&[3.0, 1.0, f32::NAN, 1.0]), Some((1, 1.0)));
/// assert_eq!(argmin(&[f32::NAN]), None);
/// ```
pub fn argmin(values: &[f32]) -> Option<(usize, f32)> {
    #[cfg(target_arch = "x86_64")]
    {
        if crate::cpu::has_avx512f() {
            // SAFETY: the CPU (or build) has AVX-512F.
            return unsafe { x86_64::avx512::argmin(values) };
        }
        if crate::cpu::has_avx2_fma() {
            // SAFETY: the CPU (or build) has AVX2.
            return unsafe { x86_64::avx2::argmin(values) };
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        // SAFETY: NEON is part of every aarch64 target.
        return unsafe { aarch64::neon::argmin(values) };
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        // SAFETY: the build enables simd128.
        return unsafe { wasm32::simd128::argmin(values) };
    }
    #[allow(unreachable_code)]
    scalar::argmin(values)
}

/// The index of the smallest `u32` (the first one on ties) and the value; `None` when empty.
///
/// ```
/// assert_eq!(fvae_kernels::vq::argmin_u32(&[7, 2, 2]), Some((1, 2)));
/// ```
pub fn argmin_u32(values: &[u32]) -> Option<(usize, u32)> {
    scalar::argmin_u32(values)
}

/// The `k = min(idx.len(), val.len())` smallest values in ascending order, ties by index, NaN
/// skipped: writes their indices to `idx` and values to `val`, returns how many (fewer than `k`
/// when `values` has fewer non-NaN entries). Insertion into a sorted list: `O(M k)` worst case,
/// `O(M)` when most values lose against the current k-th.
///
/// ```
/// use fvae_kernels::vq::top_k;
/// let (mut idx, mut val) = ([0u32; 3], [0.0; 3]);
/// assert_eq!(top_k(&[5.0, 1.0, 3.0, 1.0, 0.5], &mut idx, &mut val), 3);
/// assert_eq!((idx, val), ([4, 1, 3], [0.5, 1.0, 1.0]));
/// ```
pub fn top_k(values: &[f32], idx: &mut [u32], val: &mut [f32]) -> usize {
    scalar::top_k(values, idx, val)
}

/// Writes the indices `i` with `values[i] <= threshold`, ascending, into `out` (as many as fit)
/// and returns how many there are in all (which may exceed `out.len()`). NaN never qualifies.
///
/// ```
/// use fvae_kernels::vq::indices_at_most;
/// let mut out = [0u32; 1];
/// assert_eq!(indices_at_most(&[2.0, 0.5, 1.0, f32::NAN], 1.0, &mut out), 2);
/// assert_eq!(out, [1]);
/// ```
pub fn indices_at_most(values: &[f32], threshold: f32, out: &mut [u32]) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        if crate::cpu::has_avx512f() {
            // SAFETY: the CPU (or build) has AVX-512F.
            return unsafe { x86_64::avx512::indices_at_most(values, threshold, out) };
        }
    }
    scalar::indices_at_most(values, threshold, out)
}

/// The squared distance `sum_d (x[d] - c[d])^2` computed in f64 from f32 inputs (over the
/// shorter length): the exact value search results report, after candidates are ranked fast.
/// Its summation order is fixed (see [`scalar::sq_distance_exact`]), so it is the same number
/// on every target.
///
/// ```
/// assert_eq!(fvae_kernels::vq::sq_distance_exact(&[1.0, 1.0], &[0.0, 3.0]), 5.0);
/// ```
pub fn sq_distance_exact(x: &[f32], c: &[f32]) -> f64 {
    scalar::sq_distance_exact(x, c)
}

/// `sum_d x[d]^2` in f64, in the fixed order of [`sq_distance_exact`].
///
/// ```
/// assert_eq!(fvae_kernels::vq::sq_norm_exact(&[3.0, 4.0]), 25.0);
/// ```
pub fn sq_norm_exact(x: &[f32]) -> f64 {
    scalar::sq_norm_exact(x)
}

/// Exact squared distances of an int8 query to an int8 codebook `[M, D]` (row-major,
/// `D = x.len()`): `out[j] = sum_d (x[d] - c_j[d])^2`, exact for D <= 66 051 (see the module
/// notes). `M` is `out.len()`, reduced to the rows `codebook` holds. Every path gives the same
/// integers.
///
/// ```
/// use fvae_kernels::vq::i8_sq_distances;
/// let mut out = [0u32; 2];
/// i8_sq_distances(&[-128, 127], &[127, -128, -128, 127], &mut out);
/// assert_eq!(out, [2 * 255 * 255, 0]);
/// ```
pub fn i8_sq_distances(x: &[i8], codebook: &[i8], out: &mut [u32]) {
    let d = x.len();
    let m = rows_available(out.len(), d, &[codebook.len()]);
    // `get`: `m` fits both slices, which the optimiser cannot see through the division (never `None`).
    let (Some(codebook), Some(out)) = (codebook.get(..m * d), out.get_mut(..m)) else { return };
    #[cfg(target_arch = "x86_64")]
    {
        if crate::cpu::has_avx512_vnni() {
            // SAFETY: the CPU (or build) has AVX-512F/BW/VNNI; m rows of d.
            return unsafe { x86_64::avx512::i8_sq_distances(x, codebook, out) };
        }
        if crate::cpu::has_avx2_fma() {
            // SAFETY: the CPU (or build) has AVX2; m rows of d.
            return unsafe { x86_64::avx2::i8_sq_distances(x, codebook, out) };
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        // SAFETY: NEON is part of every aarch64 target; m rows of d.
        return unsafe { aarch64::neon::i8_sq_distances(x, codebook, out) };
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        // SAFETY: the build enables simd128; m rows of d.
        return unsafe { wasm32::simd128::i8_sq_distances(x, codebook, out) };
    }
    #[cfg(fvae_arm_dsp)]
    {
        return arm::dsp::i8_sq_distances(x, codebook, out);
    }
    #[allow(unreachable_code)]
    scalar::i8_sq_distances(x, codebook, out)
}

/// The int8 dot product `sum_d a[d] b[d]` over the shorter length, exact in i32 for lengths up
/// to 131 071.
///
/// ```
/// assert_eq!(fvae_kernels::vq::i8_dot(&[-128, 2, 3], &[-128, -1, 1]), 16384 - 2 + 3);
/// ```
pub fn i8_dot(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let mut out = [0i32];
    i8_dots(a.get(..n).unwrap_or(&[]), b.get(..n).unwrap_or(&[]), &mut out);
    out[0]
}

/// Dot products of an int8 query with every codeword of an int8 codebook `[M, D]`:
/// `out[j] = x . c_j`. `M` is `out.len()`, reduced to the rows `codebook` holds.
///
/// ```
/// let mut out = [0i32; 2];
/// fvae_kernels::vq::i8_dots(&[1, 2], &[3, 4, -5, 6], &mut out);
/// assert_eq!(out, [11, 7]);
/// ```
pub fn i8_dots(x: &[i8], codebook: &[i8], out: &mut [i32]) {
    let d = x.len();
    let m = rows_available(out.len(), d, &[codebook.len()]);
    let (Some(codebook), Some(out)) = (codebook.get(..m * d), out.get_mut(..m)) else { return };
    #[cfg(target_arch = "x86_64")]
    {
        if crate::cpu::has_avx512_vnni() {
            // SAFETY: the CPU (or build) has AVX-512F/BW/VNNI; m rows of d.
            return unsafe { x86_64::avx512::i8_dots(x, codebook, out) };
        }
        if crate::cpu::has_avx2_fma() {
            // SAFETY: the CPU (or build) has AVX2; m rows of d.
            return unsafe { x86_64::avx2::i8_dots(x, codebook, out) };
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        // SAFETY: NEON is part of every aarch64 target; m rows of d.
        return unsafe { aarch64::neon::i8_dots(x, codebook, out) };
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        // SAFETY: the build enables simd128; m rows of d.
        return unsafe { wasm32::simd128::i8_dots(x, codebook, out) };
    }
    #[cfg(fvae_arm_dsp)]
    {
        return arm::dsp::i8_dots(x, codebook, out);
    }
    #[allow(unreachable_code)]
    scalar::i8_dots(x, codebook, out)
}
