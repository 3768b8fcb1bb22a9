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

#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
pub mod aarch64;

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod wasm32;

#[cfg(any(fvae_arm_dsp, fvae_arm_fpu))]
pub mod arm;

#[cfg(target_arch = "x86_64")]
use crate::cpu::{x86_level, X86Level};

/// Whether this build defines f32 search results by the *direct f32 form*: a codeword's distance is
/// `sum_d (x[d] - c[d])^2` evaluated in f32, element by element in index order, each subtraction,
/// square and sum rounded (exactly [`scalar::sq_distances`]), and the nearest is the first smallest
/// of those values. `true` on Cortex-M cores with a single-precision FPU (cfg `fvae_arm_fpu`: M4F,
/// M7, M33F), which have no double-precision hardware: the f64 re-check of near ties that the
/// other targets use (see [`sq_distance_exact`]) would cost more than the whole scan there. The
/// direct form has no cancellation (every term is a square), so its relative error against the
/// real-number distance is at most `(D + 1) 2^-24` (about 1e-6 for D = 16); it is the same value
/// on every path of such a build. `false` elsewhere (f64-rounded distances).
///
/// ```
/// let direct = fvae_kernels::vq::F32_DIRECT;
/// # let _ = direct;
/// ```
pub const F32_DIRECT: bool = cfg!(fvae_arm_fpu);

/// The nearest codeword in the direct f32 form (see [`F32_DIRECT`]): the index of the first
/// smallest `sum_d (x[d] - c_j[d])^2` computed as [`scalar::sq_distances`] does, and that value; NaN
/// distances are skipped. `M = codebook.len() / x.len()` (a partial last row is ignored); `None`
/// when `M = 0`, `x` is empty or every distance is NaN. Every path gives the same bits. On Cortex-M
/// FPU cores, D a multiple of 8 runs a fused assembly scan (39 instructions per codeword at D = 16,
/// about 2.5 per value otherwise; nothing stored).
///
/// ```
/// use fvae_kernels::vq::nearest_direct;
/// assert_eq!(nearest_direct(&[1.0, 2.0], &[0.0, 0.0, 1.0, 3.0, 1.0, 1.0]), Some((1, 1.0)));
/// ```
pub fn nearest_direct(x: &[f32], codebook: &[f32]) -> Option<(usize, f32)> {
    #[cfg(fvae_arm_fpu)]
    {
        return arm::m4f::nearest_direct(x, codebook);
    }
    #[allow(unreachable_code)]
    scalar::nearest_direct(x, codebook)
}

/// An int8 codebook packed for a fast exact nearest search: per codeword its squared norm `|c|^2`
/// (one i32) then its `ceil(D / 4)` words of bytes (little-endian, zero-padded), and after the
/// last codeword a sentinel entry `[i32::MIN, 0, ...]`. Made only by [`i8_pack`], which keeps the
/// storage borrowed, so its contents are always what `i8_pack` wrote.
///
/// The search ranks by `|c|^2 - 2 x.c` (`|x|^2` is common to all codewords) and returns
/// `|x|^2 + |c|^2 - 2 x.c`: the exact integer distance, the same as [`i8_sq_distances`] gives.
/// Memory: `(M + 1) (4 + 4 ceil(D / 4))` bytes, 5 140 for M = 256, D = 16 (the codebook itself is
/// 4 096): a norm per codeword, and a copy of the codewords placed next to it so that one `ldm`
/// loads both.
#[derive(Debug, Clone, Copy)]
pub struct I8Packed<'a> {
    words: &'a [i32],
    m: usize,
    d: usize,
}

impl<'a> I8Packed<'a> {
    /// Number of codewords M.
    pub fn m(&self) -> usize {
        self.m
    }

    /// Codeword dimension D.
    pub fn d(&self) -> usize {
        self.d
    }

    /// The packed words: `M + 1` entries of `1 + ceil(D / 4)` words (see the type's notes).
    pub fn words(&self) -> &'a [i32] {
        self.words
    }
}

/// Words of storage [`i8_pack`] needs for M codewords of dimension D:
/// `(M + 1) (1 + ceil(D / 4))`.
///
/// ```
/// assert_eq!(fvae_kernels::vq::i8_packed_len(256, 16), 257 * 5);
/// ```
pub const fn i8_packed_len(m: usize, d: usize) -> usize {
    (m + 1) * (1 + d.div_ceil(4))
}

/// Packs the int8 codebook `[M, D]` (row-major, `M = codebook.len() / d`, a partial last row
/// ignored) into `storage` for [`i8_nearest_packed`]. `None` when `d == 0`, `d > 32 768` (the
/// ranking score `|c|^2 - 2 x.c` must fit an i32 on every path) or `storage` is shorter than
/// [`i8_packed_len`]`(M, d)`.
///
/// ```
/// use fvae_kernels::vq::{i8_nearest_packed, i8_pack, i8_packed_len};
/// let codebook = [0i8, 0, 10, -10, 3, 4];
/// let mut storage = [0i32; i8_packed_len(3, 2)];
/// let packed = i8_pack(&codebook, 2, &mut storage).unwrap();
/// assert_eq!(i8_nearest_packed(&[2, 5], &packed), Some((2, 1 + 1)));
/// ```
pub fn i8_pack<'a>(codebook: &[i8], d: usize, storage: &'a mut [i32]) -> Option<I8Packed<'a>> {
    if d == 0 || d > 32_768 {
        return None;
    }
    let m = codebook.len() / d;
    let stride = 1 + d.div_ceil(4);
    let storage = storage.get_mut(..i8_packed_len(m, d))?;
    for (e, c) in storage.chunks_exact_mut(stride).zip(codebook.chunks_exact(d).chain([&[][..]])) {
        // The sentinel (the last entry, no codeword): i32::MIN then zeros.
        let norm = if c.is_empty() { i32::MIN } else { c.iter().map(|&v| v as i32 * v as i32).sum() };
        if let Some((first, words)) = e.split_first_mut() {
            *first = norm;
            for (w, bytes) in words.iter_mut().zip(c.chunks(4).chain(core::iter::repeat(&[][..]))) {
                *w = bytes.iter().rev().fold(0u32, |acc, &b| (acc << 8) | b as u8 as u32) as i32;
            }
        }
    }
    Some(I8Packed { words: storage, m, d })
}

/// The nearest codeword of the int8 query `x` in a packed codebook: its index (the first among
/// equal distances) and exact squared distance, equal to what [`i8_sq_distances`] and
/// [`argmin_u32`] give. `None` when `x.len() != packed.d()` or `M = 0`. On Cortex-M4/M7/M33 (cfg
/// `fvae_arm_dsp`) with `ceil(D / 4) = 4` (D = 13..16) it runs an `smlad` assembly scan (20
/// instructions per codeword), up to D = 256 a Rust loop of `smlad` over the query expanded once;
/// elsewhere the portable loop (the packed form is meant for those cores).
///
/// ```
/// use fvae_kernels::vq::{i8_nearest_packed, i8_pack, i8_packed_len};
/// let mut storage = [0i32; i8_packed_len(2, 1)];
/// let packed = i8_pack(&[-128, 127], 1, &mut storage).unwrap();
/// assert_eq!(i8_nearest_packed(&[127], &packed), Some((1, 0)));
/// assert_eq!(i8_nearest_packed(&[0, 0], &packed), None);
/// ```
pub fn i8_nearest_packed(x: &[i8], packed: &I8Packed<'_>) -> Option<(usize, u32)> {
    if x.len() != packed.d || packed.m == 0 {
        return None;
    }
    #[cfg(fvae_arm_dsp)]
    {
        return arm::dsp::i8_nearest_packed(x, packed);
    }
    #[allow(unreachable_code)]
    scalar::i8_nearest_packed(x, packed)
}

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
    match x86_level() {
        // SAFETY: x86_level() reports a level only where the CPU and OS have its features;
        // lengths are consistent (m rows of d).
        X86Level::Avx512 | X86Level::Avx512Vnni => return unsafe { x86_64::avx512::sq_distances(x, codebook, out) },
        // SAFETY: as above.
        X86Level::Avx2Fma => return unsafe { x86_64::avx2::sq_distances(x, codebook, out) },
        X86Level::Sse2 => {}
    }
    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    {
        // SAFETY: the build targets NEON (cfg above); lengths are consistent.
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
    match x86_level() {
        // SAFETY: x86_level() reports a level only where the CPU and OS have its features;
        // n queries of d, mp = whole panels of d rows, out = n * mp, row_min = n (cut above).
        X86Level::Avx512 | X86Level::Avx512Vnni => {
            return unsafe { x86_64::avx512::scores(queries, d, panels, half_norms, out, row_min) }
        }
        X86Level::Avx2Fma => {
            // SAFETY: as above.
            unsafe { x86_64::avx2::scores(queries, d, panels, half_norms, out) };
            return row_mins(out, mp, row_min);
        }
        X86Level::Sse2 => {}
    }
    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    {
        // SAFETY: the build targets NEON (cfg above); lengths as above.
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
    match x86_level() {
        // SAFETY: x86_level() reports a level only where the CPU and OS have its features.
        X86Level::Avx512 | X86Level::Avx512Vnni => return unsafe { x86_64::avx512::argmin(values) },
        // SAFETY: as above.
        X86Level::Avx2Fma => return unsafe { x86_64::avx2::argmin(values) },
        X86Level::Sse2 => {}
    }
    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    {
        // SAFETY: the build targets NEON (cfg above).
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
    match x86_level() {
        // SAFETY: x86_level() reports a level only where the CPU and OS have its features.
        X86Level::Avx512 | X86Level::Avx512Vnni => {
            return unsafe { x86_64::avx512::indices_at_most(values, threshold, out) }
        }
        X86Level::Avx2Fma | X86Level::Sse2 => {}
    }
    scalar::indices_at_most(values, threshold, out)
}

/// The candidate scan with an error bound per codeword: each value `v_j` lies within
/// `e_j = a * norms[j] + b * errs[j]` of its true score (computed in f32: two products and a sum,
/// each rounded; the caller inflates `a` and `b` to cover that), `hi = min_j (v_j + e_j)` (NaN
/// skipped, `+inf` if none) bounds the best true score from above, `t = threshold(hi)`, and the
/// indices of the values with `v_j - e_j <= t` are written ascending into `out` (as many as fit).
/// Returns how many there are in all. The length is the shortest of `values`, `norms`, `errs`.
/// Where the bound of a screened codebook depends on each codeword's norm and quantisation error,
/// this window is far narrower than the one of the largest codeword ([`indices_at_most`]): on PCA'd
/// image patches with a k-means codebook (D = 16, M = 256) 1.3 candidates per query instead of 49.
///
/// ```
/// use fvae_kernels::vq::indices_within;
/// let mut out = [0u32; 4];
/// // Values 1, 2, 5 within 0.5, 2, 0.1: hi = 1.5, and 2 - 2 <= 1.5, 5 - 0.1 > 1.5.
/// assert_eq!(indices_within(&[1.0, 2.0, 5.0], &[0.5, 2.0, 0.1], &[0.0; 3], 1.0, 0.0, |hi| hi, &mut out), 2);
/// assert_eq!(out[..2], [0, 1]);
/// ```
pub fn indices_within(
    values: &[f32],
    norms: &[f32],
    errs: &[f32],
    a: f32,
    b: f32,
    threshold: impl FnOnce(f32) -> f32,
    out: &mut [u32],
) -> usize {
    let n = values.len().min(norms.len()).min(errs.len());
    let (values, norms, errs) = (&values[..n], &norms[..n], &errs[..n]);
    #[cfg(target_arch = "x86_64")]
    match x86_level() {
        // SAFETY: x86_level() reports a level only where the CPU and OS have its features; the
        // three slices have the same length.
        X86Level::Avx512 | X86Level::Avx512Vnni => {
            return unsafe { x86_64::avx512::indices_within(values, norms, errs, a, b, threshold, out) }
        }
        X86Level::Avx2Fma | X86Level::Sse2 => {}
    }
    scalar::indices_within(values, norms, errs, a, b, threshold, out)
}

/// Per codeword of `codebook` `[M, D]` (`M = errs.len()`; codewords past the data get 0): an
/// upper bound on `||c_j - c^_j||`, the distance to its int8 copy made by [`pack_screen`] (the
/// same scale and rounding), rounded up to f32; with [`indices_within`], the per-codeword window.
///
/// ```
/// let mut errs = [9.0; 2];
/// fvae_kernels::vq::screen_errors(&[254.0, 1.0], 2, &mut errs);
/// assert!(errs[0] >= 1.0 && errs[0] < 1.0001 && errs[1] == 0.0);
/// ```
pub fn screen_errors(codebook: &[f32], d: usize, errs: &mut [f32]) {
    if d != 0 {
        scalar::screen_errors(codebook, d, errs)
    }
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
    #[cfg(target_arch = "x86_64")]
    match x86_level() {
        // SAFETY: x86_level() reports a level only where the CPU and OS have its features; the
        // path reads the shorter length.
        X86Level::Avx512 | X86Level::Avx512Vnni => return unsafe { x86_64::avx512::sq_distance_exact(x, c) },
        X86Level::Avx2Fma | X86Level::Sse2 => {}
    }
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
    match x86_level() {
        // SAFETY: x86_level() reports a level only where the CPU and OS have its features;
        // m rows of d.
        X86Level::Avx512Vnni => return unsafe { x86_64::avx512::i8_sq_distances(x, codebook, out) },
        // SAFETY: as above.
        X86Level::Avx512 | X86Level::Avx2Fma => return unsafe { x86_64::avx2::i8_sq_distances(x, codebook, out) },
        X86Level::Sse2 => {}
    }
    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    {
        // SAFETY: the build targets NEON (cfg above); m rows of d.
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
    match x86_level() {
        // SAFETY: x86_level() reports a level only where the CPU and OS have its features;
        // m rows of d.
        X86Level::Avx512Vnni => return unsafe { x86_64::avx512::i8_dots(x, codebook, out) },
        // SAFETY: as above.
        X86Level::Avx512 | X86Level::Avx2Fma => return unsafe { x86_64::avx2::i8_dots(x, codebook, out) },
        X86Level::Sse2 => {}
    }
    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    {
        // SAFETY: the build targets NEON (cfg above); m rows of d.
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

/// Largest codeword dimension the int8 screening kernels take (their query buffer is on the
/// stack).
pub const SCREEN_MAX_D: usize = 1024;

/// 32-bit words per codeword (and per query) in the int8 screening layout: 4 dimensions per
/// word, the four bytes a `vpdpbusd` lane multiplies, zero past D.
///
/// ```
/// assert_eq!(fvae_kernels::vq::screen_words(9), 3);
/// ```
pub const fn screen_words(d: usize) -> usize {
    d.div_ceil(4)
}

/// What [`screen`] reports per query, for the caller's error bound. The query `q` is quantised
/// as `q^ = scale * qi` with integer `qi` in [-127, 127].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ScreenQuery {
    /// `t = max |q_d| / 127` (0 for a zero query).
    pub scale: f32,
    /// An upper bound on `||q - q^||`.
    pub err: f64,
    /// An upper bound on `||q^||`.
    pub norm: f64,
}

/// Quantises a codebook `[M, D]` for the int8 screening pass of [`screen`]: codeword `j`
/// becomes `c^_j = scales[j] * ci_j` with `scales[j] = max |c_j| / 127` and integer `ci_j` in
/// [-127, 127] (round half to even), `colsums[j] = sum ci_j`, and the bytes of `ci_j` go into
/// `words` in panels of [`PANEL`] codewords: `words[(p * G + k) * 16 + l]` holds dimensions
/// `4k..4k+4` of codeword `16p + l` (`G = screen_words(D)`), as f32 bit patterns (so the
/// layout can live in the same f32 storage as the rest of a packed codebook; it is never read
/// as floats). Codewords past M (up to `scales.len()`) are zero.
///
/// `MP = scales.len()`, reduced to what `colsums` holds and to whole panels that `words` holds.
/// Returns an upper bound on `max_j ||c_j - c^_j||` (0 when nothing was written).
///
/// ```
/// use fvae_kernels::vq::{pack_screen, PANEL};
/// let (mut s, mut cs, mut w) = ([0.0; PANEL], [0.0; PANEL], [0.0; PANEL]);
/// let err = pack_screen(&[254.0, -1.0], 2, &mut s, &mut cs, &mut w);
/// assert_eq!((s[0], cs[0], w[0].to_bits()), (2.0, 127.0, 0x0000_007f));
/// assert!(err >= 1.0 && err < 1.0001);
/// // A dimension whose panels overflow `usize` writes nothing (as on a 32-bit target).
/// assert_eq!(pack_screen(&[1.0], usize::MAX - 3, &mut s, &mut cs, &mut w), 0.0);
/// ```
pub fn pack_screen(codebook: &[f32], d: usize, scales: &mut [f32], colsums: &mut [f32], words: &mut [f32]) -> f64 {
    let g = screen_words(d);
    // Checked: on a 32-bit target a large `d` makes a panel's words overflow `usize`.
    let Some(panel_words) = g.checked_mul(PANEL).filter(|_| d != 0) else {
        return 0.0;
    };
    // `mp * g <= words.len()` by construction, so the slice below cannot overflow.
    let mp = scales.len().min(colsums.len()).min(words.len() / panel_words * PANEL) / PANEL * PANEL;
    scalar::pack_screen(codebook, d, &mut scales[..mp], &mut colsums[..mp], &mut words[..mp * g])
}

/// The int8 screening pass of a batch of queries against a codebook packed by
/// [`pack_screen`] (and half norms as for [`scores`]): each query `x_q` (rows of `d` values)
/// is quantised as [`ScreenQuery`] states (`info[q]`), and
/// `out[q*MP + j] = half_norms[j] - (t_q scales[j]) (qi_q . ci_j)`, with the integer dot
/// product exact (`vpdpbusd`, 64 multiply-adds per instruction). `row_min[q]` is the row's
/// smallest value.
///
/// Error: with `h_j = half_norms[j]`, `|out_j - (h_j - q^ . c^_j)| <= 2^-22 (|h_j| +
/// ||q^|| ||c^_j||) + 2^-100` (the conversion of the dot product, one product and one fused
/// multiply-add, each rounded once; underflow). The caller adds `||q - q^|| ||c|| + ||q^||
/// ||c - c^||` for the distance to the f32 scores `||c||^2 / 2 - q . c`.
///
/// `MP` is `half_norms.len()` reduced to `scales`, `colsums` and the whole panels of `words`,
/// rounded down to whole panels; the number of queries is `queries.len() / d` reduced to what
/// `out`, `row_min` and `info` hold. Returns `false`, writing nothing, where no SIMD path
/// exists (the f32 [`scores`] are faster then) or `d` is 0 or above [`SCREEN_MAX_D`]; the
/// scalar reference is [`scalar::screen`].
///
/// ```
/// use fvae_kernels::vq::{pack_screen, screen, ScreenQuery, PANEL};
/// let (mut s, mut cs, mut w) = ([0.0; PANEL], [0.0; PANEL], [0.0; PANEL]);
/// pack_screen(&[127.0, 0.0, 0.0, 127.0], 2, &mut s, &mut cs, &mut w);
/// let mut h = [f32::INFINITY; PANEL];
/// h[..2].copy_from_slice(&[8064.5, 8064.5]);
/// let (mut out, mut mn, mut info) = ([0.0; PANEL], [0.0], [ScreenQuery::default()]);
/// if screen(&[127.0, 0.0], 2, &w, &s, &cs, &h, &mut out, &mut mn, &mut info) {
///     assert_eq!((out[0], out[1], out[2], mn[0]), (-8064.5, 8064.5, f32::INFINITY, -8064.5));
///     assert_eq!((info[0].scale, info[0].err), (1.0, 0.0));
/// }
/// ```
#[allow(clippy::too_many_arguments)]
pub fn screen(
    queries: &[f32],
    d: usize,
    words: &[f32],
    scales: &[f32],
    colsums: &[f32],
    half_norms: &[f32],
    out: &mut [f32],
    row_min: &mut [f32],
    info: &mut [ScreenQuery],
) -> bool {
    if d == 0 || d > SCREEN_MAX_D {
        return false;
    }
    let g = screen_words(d);
    let mp =
        half_norms.len().min(scales.len()).min(colsums.len()).min(words.len() / (g * PANEL) * PANEL) / PANEL * PANEL;
    if mp == 0 {
        return false;
    }
    let n = (queries.len() / d).min(out.len() / mp).min(row_min.len()).min(info.len());
    // `get`: every range is within its slice by the cuts above (never `None`).
    let (Some(queries), Some(words), Some(scales), Some(colsums), Some(half_norms)) =
        (queries.get(..n * d), words.get(..mp * g), scales.get(..mp), colsums.get(..mp), half_norms.get(..mp))
    else {
        return false;
    };
    let (Some(out), Some(row_min), Some(info)) = (out.get_mut(..n * mp), row_min.get_mut(..n), info.get_mut(..n))
    else {
        return false;
    };
    #[cfg(target_arch = "x86_64")]
    match x86_level() {
        X86Level::Avx512Vnni => {
            // SAFETY: x86_level() reports a level only where the CPU and OS have its features;
            // 0 < d <= SCREEN_MAX_D, n queries of d, mp whole panels with mp * g words,
            // out = n * mp, row_min = info = n.
            unsafe { x86_64::avx512::screen(queries, d, words, scales, colsums, half_norms, out, row_min, info) };
            return true;
        }
        X86Level::Avx512 | X86Level::Avx2Fma | X86Level::Sse2 => {}
    }
    let _ = (queries, words, scales, colsums, half_norms, out, row_min, info);
    false
}

/// Largest padded codebook size [`screen_nearest`] takes (its scores live on the stack: 8 KB).
pub const SCREEN_ONE_MAX_M: usize = 2048;

/// [`screen`] of one query fused with the candidate scan, for single-query latency: the
/// query's scores (as [`screen`] gives them) go to a stack buffer, `threshold(row_min, &info)`
/// turns their minimum and the query's [`ScreenQuery`] into a window, and the indices `j < m`
/// of the scores at most that window are written as [`indices_at_most`] does (ascending, as
/// many as fit in `cand`). Returns `Some((count, info))`, `count` being how many there are in
/// all; `None`, writing nothing and not calling `threshold`, where [`screen`] would return
/// `false` or `MP` exceeds [`SCREEN_ONE_MAX_M`]. `MP` is as for [`screen`]; `m` is reduced to
/// it. The reference is [`scalar::screen_nearest`].
///
/// ```
/// use fvae_kernels::vq::{pack_screen, screen_nearest, PANEL};
/// let (mut s, mut cs, mut w) = ([0.0; PANEL], [0.0; PANEL], [0.0; PANEL]);
/// pack_screen(&[127.0, 0.0, 0.0, 127.0], 2, &mut s, &mut cs, &mut w);
/// let mut h = [f32::INFINITY; PANEL];
/// h[..2].copy_from_slice(&[8064.5, 8064.5]);
/// let mut cand = [0u32; 4];
/// if let Some((count, info)) = screen_nearest(&[127.0, 0.0], &w, &s, &cs, &h, 2, |mn, _| mn, &mut cand) {
///     assert_eq!((count, cand[0], info.scale), (1, 0, 1.0));
/// }
/// ```
#[allow(clippy::too_many_arguments)]
pub fn screen_nearest(
    query: &[f32],
    words: &[f32],
    scales: &[f32],
    colsums: &[f32],
    half_norms: &[f32],
    m: usize,
    threshold: impl FnOnce(f32, &ScreenQuery) -> f32,
    cand: &mut [u32],
) -> Option<(usize, ScreenQuery)> {
    let d = query.len();
    if d == 0 || d > SCREEN_MAX_D {
        return None;
    }
    let g = screen_words(d);
    let mp =
        half_norms.len().min(scales.len()).min(colsums.len()).min(words.len() / (g * PANEL) * PANEL) / PANEL * PANEL;
    if mp == 0 || mp > SCREEN_ONE_MAX_M {
        return None;
    }
    let m = m.min(mp);
    // `get`: every range is within its slice by the cuts above (never `None`).
    let (Some(words), Some(scales), Some(colsums), Some(half_norms)) =
        (words.get(..mp * g), scales.get(..mp), colsums.get(..mp), half_norms.get(..mp))
    else {
        return None;
    };
    #[cfg(target_arch = "x86_64")]
    match x86_level() {
        // SAFETY: x86_level() reports a level only where the CPU and OS have its features;
        // 0 < d <= SCREEN_MAX_D; mp whole panels (<= SCREEN_ONE_MAX_M) with mp * g words, mp
        // scales, colsums and norms; m <= mp.
        X86Level::Avx512Vnni => {
            return Some(unsafe {
                x86_64::avx512::screen_nearest(query, words, scales, colsums, half_norms, m, threshold, cand)
            })
        }
        X86Level::Avx512 | X86Level::Avx2Fma | X86Level::Sse2 => {}
    }
    let _ = (words, scales, colsums, half_norms, m, threshold, cand);
    None
}
