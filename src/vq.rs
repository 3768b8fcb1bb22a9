//! Vector quantisation: nearest codewords (f32 and int8 codebooks), top-k, and residual VQ.
//!
//! Definitions (DESIGN.md): squared Euclidean distance; ties go to the lowest index (as faiss
//! and numpy's `argmin`); the distance returned is the true one. Precisely: a result's distance
//! is `sum_d (x_d - c_d)^2` computed in f64 from the f32 values (in the fixed order of
//! [`fvae_kernels::vq::sq_distance_exact`]) and rounded to f32, and results are ordered by
//! (that f32 distance, index). **Ties are on the returned f32 value**: two codewords whose f64
//! distances differ but round to the same f32 (this happens at |x| ~ 1e8) tie, and the lower
//! index wins, on every path (of this f64 definition; Cortex-M FPU cores: below). Every SIMD path
//! and the scalar reference give the same indices and
//! distances, because fast arithmetic only *ranks*: codewords whose fast score is within a
//! proven error bound of the best, widened by the f32 rounding margin of the distance, are
//! re-checked with the exact distance.
//!
//! On x86_64 CPUs with AVX-512 VNNI a packed codebook also carries an int8 copy, and
//! [`Codebook::nearest`] / [`Codebook::nearest_batch`] rank with int8 dot products first
//! (`vpdpbusd`, a quarter of the instructions of f32): the bound is `||x - x^|| ||c|| +
//! ||x^|| ||c - c^||` plus float slack, per query, and a query whose window holds too many
//! codewords falls back to the f32 scores. Results are the same as every other path's.
//!
//! On Cortex-M cores with a single-precision FPU only (M4F, M7, M33F:
//! [`fvae_kernels::vq::F32_DIRECT`] is `true`), f64 is software and the re-check would cost more
//! than the scan, so there the distance is defined in f32, directly: `sum_d (x_d - c_d)^2` with
//! each difference, square and sum rounded to f32, in index order (no cancellation: relative error
//! at most `(D + 1) 2^-24` against the real number), and results are ordered by (that distance,
//! index). Every path of such a build (packed or not, nearest, top-k, batch, residual) gives the
//! same indices and distances; they may differ from the host's in the last bits of a distance, and
//! so in the order of codewords whose distances are that close.
//!
//! - [`Codebook`]: an f32 codebook `[M, D]` borrowed from slices or a `.safetensors` buffer
//!   (tensor `codebook`), searched in the direct form `sum (x - c)^2`. [`Codebook::pack`] adds
//!   precomputed half norms and a panel layout (caller memory, [`Codebook::packed_len`] floats)
//!   so a batch of queries runs as a register-tiled matrix product on the ranking score
//!   `||c||^2 / 2 - x . c`: the fast path on hosts.
//! - [`CodebookI8`]: an int8 codebook with its `scale`, exact integer distances.
//! - [`ResidualVq`]: S stages of `[M, D]` codebooks (`codebooks` `[S, M, D]`), greedy encoding to
//!   S indices and decoding by summing codewords (as SoundStream and EnCodec use).
//! - [`CodebookOwned`] and [`CodebookI8Owned`]: const-generic owned forms for firmware.
//!
//! ```
//! use fvae::vq::Codebook;
//! let codebook = [0.0, 0.0, 1.0, 1.0, 4.0, 4.0];
//! let cb = Codebook::new(&codebook, 2)?;
//! let n = cb.nearest(&[0.9, 1.2])?;
//! assert_eq!(n.index, 1);
//! assert!((n.distance - 0.05).abs() < 1e-6);
//! # Ok::<(), fvae::Error>(())
//! ```

use crate::formats::safetensors::{SafeTensors, TensorView};
use crate::formats::DType;
use crate::{Error, Result};
use fvae_kernels::vq as k;

/// The nearest codeword of an f32 search: its index and exact squared distance.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Nearest {
    /// Index of the codeword (the lowest among equal distances).
    pub index: u32,
    /// `sum_d (x_d - c_d)^2`, computed in f64 and rounded to f32 (in f32 directly on Cortex-M FPU
    /// cores: see the module notes).
    pub distance: f32,
}

/// The nearest codeword of an int8 search: its index and exact integer squared distance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NearestI8 {
    /// Index of the codeword (the lowest among equal distances).
    pub index: u32,
    /// `sum_d (x_d - c_d)^2`, exact.
    pub distance: u32,
}

/// Codewords scored per chunk when the caller gives no scratch (a 1 KB stack buffer).
const STACK_CHUNK: usize = 256;
/// Most queries scored together in one batch block.
const MAX_ROWS: usize = 48;
/// Queries per int8 screening block: their scores (12 rows of M) stay in L1 for the candidate
/// scan that follows (measured: 48 rows, 48 KB at M = 256, cost 10% more at D = 16).
const SCREEN_ROWS: usize = 12;
/// Candidates collected with SIMD before falling back to a plain scan.
const MAX_CANDIDATES: usize = 32;
/// Above this, `||x||^2` or `||c||^2` could overflow the f32 fast paths: search exactly.
const HUGE: f64 = 1e30;

/// Checks `d > 0` and a whole, non-empty `[M, D]` of finite values; returns M.
fn check_codebook(what: &'static str, len: usize, d: usize) -> Result<usize> {
    if d == 0 {
        return Err(Error::Empty { what: "codeword dimension" });
    }
    if len == 0 {
        return Err(Error::Empty { what });
    }
    if !len.is_multiple_of(d) {
        return Err(Error::Shape { what, expected: len / d * d + d, found: len });
    }
    Ok(len / d)
}

fn check_finite(what: &'static str, v: &[f32], offset: usize) -> Result<()> {
    // A branch-free pass first (it vectorises: the batch path checks every query value), the
    // position only when something is wrong.
    const EXP: u32 = 0x7f80_0000;
    if v.chunks(64).all(|c| c.iter().fold(0u32, |a, x| a | u32::from(x.to_bits() & EXP == EXP)) == 0) {
        return Ok(());
    }
    match v.iter().position(|x| !x.is_finite()) {
        Some(i) => Err(Error::Value { what, index: offset + i, reason: "not finite" }),
        None => Ok(()),
    }
}

/// `[M, D]` of a rank-2 tensor.
fn matrix_dims(what: &'static str, t: &TensorView<'_>) -> Result<(usize, usize)> {
    match t.shape().dims() {
        [m, d] => Ok((*m, *d)),
        dims => Err(Error::Shape { what, expected: 2, found: dims.len() }),
    }
}

/// The greatest `||c||` over the codewords (f64).
fn max_norm(data: &[f32], d: usize) -> f64 {
    let max = data.chunks_exact(d).map(|c| c.iter().map(|&v| v as f64 * v as f64).sum::<f64>()).fold(0.0, f64::max);
    crate::math::sqrt_f64(max)
}

/// Where the fast scores of a query live, and how far from the exact ones they can be.
#[derive(Clone, Copy)]
enum Bound {
    /// Ranking scores `s = ||c||^2/2 - x.c`, off by at most `e`; `nx = ||x||^2`.
    Score { nx: f64, e: f64 },
    /// Direct f32 distances, off by at most a relative `delta` (plus `tiny` for underflow).
    Direct { delta: f64, tiny: f64 },
    /// No fast bound (values too large for f32 scores): every codeword is checked exactly.
    Exhaustive,
}

impl Bound {
    /// The largest fast value that may still be the chunk's minimum, given the fast minimum:
    /// within the error bound of it, or (the `tie` term, in score units) so close that its exact
    /// distance may round to the same f32 as the minimum's, where the lower index wins.
    fn chunk(self, min: f32) -> f64 {
        match self {
            Bound::Score { nx, e } => {
                let min = min as f64;
                min + 2.0 * e + tie_slack(nx + 2.0 * (min + e))
            }
            Bound::Direct { delta, tiny } => min as f64 * (1.0 + 4.0 * delta) + tiny,
            Bound::Exhaustive => f64::INFINITY,
        }
    }

    /// The largest fast value whose exact distance may still be below `dist` (the current
    /// k-th best exact distance).
    fn below(self, dist: f32) -> f64 {
        let dist = dist as f64 * (1.0 + 1e-6);
        match self {
            Bound::Score { nx, e } => (dist - nx) / 2.0 + e,
            Bound::Direct { delta, tiny } => dist * (1.0 + 2.0 * delta) + tiny,
            Bound::Exhaustive => f64::INFINITY,
        }
    }
}

/// Half of a margin of four f32 ulps of a distance `dist` (bounds `>= dist` in, score units
/// out): two distances closer than this may round to the same f32, and then the lower index
/// wins, so a candidate window must reach that far past the best distance.
fn tie_slack(dist: f64) -> f64 {
    dist.max(0.0) * (1.0 / 4_194_304.0)
}

/// An f64 threshold as an f32 that is not smaller.
fn up32(t: f64) -> f32 {
    let f = t as f32;
    if (f as f64) < t {
        f + f.abs() * (1.0 / 8_388_608.0) + f32::MIN_POSITIVE
    } else {
        f
    }
}

/// The k best (exact distance, index) so far of one query, sorted, stored in the caller's
/// output slices.
struct Best<'o> {
    idx: &'o mut [u32],
    dist: &'o mut [f32],
    len: usize,
}

impl Best<'_> {
    /// Inserts codeword `j` at exact distance `e` if it belongs. Codewords arrive in ascending
    /// index order, so an equal distance goes after the ones already present.
    fn offer(&mut self, j: usize, e: f32) {
        let k = self.idx.len();
        // `e` may be NaN only if it is +inf - +inf, which never happens (exact distances are >= 0).
        // (`get`: `idx` and `dist` hold k >= 1 values and `p < k`, which the optimiser cannot see.)
        let last = self.dist.get(k.wrapping_sub(1));
        if self.len == k && last.is_none_or(|l| e.partial_cmp(l) != Some(core::cmp::Ordering::Less)) {
            return;
        }
        let mut p = if self.len == k { k - 1 } else { self.len };
        while p > 0 {
            let (Some(&dp), Some(&ip)) = (self.dist.get(p - 1), self.idx.get(p - 1)) else { break };
            if dp.partial_cmp(&e) != Some(core::cmp::Ordering::Greater) {
                break; // (as `!(dp > e)`: NaN never moves)
            }
            if let (Some(d), Some(i)) = (self.dist.get_mut(p), self.idx.get_mut(p)) {
                (*d, *i) = (dp, ip);
            }
            p -= 1;
        }
        if let (Some(d), Some(i)) = (self.dist.get_mut(p), self.idx.get_mut(p)) {
            (*d, *i) = (e, j as u32);
        }
        self.len = (self.len + 1).min(k);
    }

    fn threshold(&self, bound: Bound) -> f64 {
        match self.dist.get(self.len.wrapping_sub(1)) {
            Some(&last) if self.len == self.idx.len() => bound.below(last),
            _ => f64::INFINITY,
        }
    }
}

/// An f32 codebook `[M, D]` borrowed from memory, optionally packed for the fast batch path.
///
/// ```
/// use fvae::vq::Codebook;
/// let data = [0.0, 0.0, 1.0, 0.0, 0.0, 1.0];
/// let mut storage = [0.0; Codebook::packed_len(3, 2)];
/// let cb = Codebook::new(&data, 2)?.pack(&mut storage)?;
/// let (mut idx, mut dist) = ([0u32; 2], [0.0f32; 2]);
/// assert_eq!(cb.top_k(&[0.9, 0.2], &mut idx, &mut dist)?, 2);
/// assert_eq!(idx, [1, 0]);
/// # Ok::<(), fvae::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Codebook<'a> {
    m: usize,
    d: usize,
    data: &'a [f32],
    max_norm: f64,
    /// Half squared norms `[MP]` (+inf past M) and panels `[MP / 16, D, 16]`.
    packed: Option<(&'a [f32], &'a [f32])>,
    /// The int8 copy for the screening pass (x86_64 hosts with AVX-512 VNNI).
    screen: Option<Screen<'a>>,
}

/// The int8 copy of a packed codebook (see [`k::pack_screen`]).
#[derive(Debug, Clone, Copy)]
struct Screen<'a> {
    scales: &'a [f32],
    colsums: &'a [f32],
    words: &'a [f32],
    /// Upper bound on `max_j ||c_j - c^_j||`.
    err: f64,
}

/// Floats of packed storage the int8 screen takes: on x86_64 only (the one target with a
/// screening path), and for D up to the kernel's limit.
const fn screen_len(m: usize, d: usize) -> usize {
    if cfg!(target_arch = "x86_64") && d <= k::SCREEN_MAX_D {
        k::padded_m(m) * (2 + k::screen_words(d))
    } else {
        0
    }
}

impl<'a> Codebook<'a> {
    /// A codebook of `data.len() / d` codewords of dimension `d`, row-major.
    ///
    /// Errors: `d == 0` or empty data ([`Error::Empty`]), a length not a multiple of `d`
    /// ([`Error::Shape`]), a non-finite value ([`Error::Value`] with its flat index).
    pub fn new(data: &'a [f32], d: usize) -> Result<Self> {
        let m = check_codebook("codebook", data.len(), d)?;
        if m > u32::MAX as usize {
            return Err(Error::Unsupported { what: "more than 2^32 codewords", index: m });
        }
        check_finite("codebook", data, 0)?;
        Ok(Codebook { m, d, data, max_norm: max_norm(data, d), packed: None, screen: None })
    }

    /// The `codebook` tensor (f32 `[M, D]`) of a `.safetensors` file, read in place (the
    /// buffer must be 4-aligned, see [`Aligned`](crate::formats::Aligned)).
    ///
    /// ```
    /// # use fvae::formats::{Aligned, safetensors::SafeTensors};
    /// # let header = br#"{"codebook":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}} "#;
    /// # let mut file = Aligned([0u8; 8 + 64 + 8]);
    /// # file.0[..8].copy_from_slice(&(header.len() as u64).to_le_bytes());
    /// # file.0[8..8 + header.len()].copy_from_slice(header);
    /// # file.0[8 + header.len()..][..8].copy_from_slice(&[0, 0, 128, 63, 0, 0, 0, 64]);
    /// # let bytes = &file.0[..8 + header.len() + 8];
    /// let cb = fvae::vq::Codebook::from_safetensors(&SafeTensors::parse(bytes)?)?;
    /// assert_eq!((cb.m(), cb.d(), cb.codeword(0)), (1, 2, Some(&[1.0, 2.0][..])));
    /// # Ok::<(), fvae::Error>(())
    /// ```
    pub fn from_safetensors(file: &SafeTensors<'a>) -> Result<Self> {
        let t = file.tensor("codebook")?;
        let (_, d) = matrix_dims("codebook rank", &t)?;
        Self::new(t.as_f32("codebook")?, d)
    }

    /// Floats of storage [`pack`](Self::pack) needs for M codewords of dimension D:
    /// `padded(M) * (D + 1)`, with M rounded up to a multiple of 16; on x86_64 (D <= 1024) also
    /// `padded(M) * (2 + ceil(D / 4))` for the int8 screening copy.
    pub const fn packed_len(m: usize, d: usize) -> usize {
        k::padded_m(m) * (d + 1) + screen_len(m, d)
    }

    /// Precomputes the half squared norms and the panel layout into `storage` (at least
    /// [`packed_len(M, D)`](Self::packed_len) floats) and returns a codebook that searches
    /// through the register-tiled ranking kernel: several times faster for many codewords.
    /// Results are identical to the unpacked codebook's.
    pub fn pack(self, storage: &'a mut [f32]) -> Result<Self> {
        let mp = k::padded_m(self.m);
        // Checked: a size that overflows is storage no caller can give (the wrapped one could pass).
        let need = self
            .d
            .checked_add(1)
            .and_then(|d1| mp.checked_mul(d1))
            .and_then(|n| n.checked_add(screen_len(self.m, self.d)))
            .unwrap_or(usize::MAX);
        let given = storage.len();
        let too_small = Error::BufferTooSmall { what: "packed codebook storage", needed: need, given };
        if given < need {
            return Err(too_small);
        }
        let (norms, rest) = storage.split_at_mut_checked(mp).ok_or(too_small)?;
        let (panels, rest) = rest.split_at_mut_checked(mp * self.d).ok_or(too_small)?;
        for (j, h) in norms.iter_mut().enumerate() {
            *h = match self.codeword(j) {
                Some(c) => (0.5 * c.iter().map(|&v| v as f64 * v as f64).sum::<f64>()) as f32,
                None => f32::INFINITY,
            };
        }
        k::pack_panels(self.data, self.d, panels);
        let mut screen = None;
        // Codewords too large for f32 scores are searched exactly anyway: no screen then.
        if screen_len(self.m, self.d) > 0 && self.max_norm * self.max_norm <= HUGE {
            let (scales, rest) = rest.split_at_mut_checked(mp).ok_or(too_small)?;
            let (colsums, words) = rest.split_at_mut_checked(mp).ok_or(too_small)?;
            let words = words.get_mut(..mp * k::screen_words(self.d)).ok_or(too_small)?;
            let err = k::pack_screen(self.data, self.d, scales, colsums, words);
            screen = Some(Screen { scales, colsums, words, err });
        }
        Ok(Codebook { packed: Some((norms, panels)), screen, ..self })
    }

    /// Number of codewords M.
    pub fn m(&self) -> usize {
        self.m
    }

    /// Codeword dimension D.
    pub fn d(&self) -> usize {
        self.d
    }

    /// The codewords `[M, D]`, row-major.
    pub fn data(&self) -> &'a [f32] {
        self.data
    }

    /// Codeword `j`, if `j < M`.
    pub fn codeword(&self, j: usize) -> Option<&'a [f32]> {
        self.data.get(j * self.d..(j + 1) * self.d)
    }

    /// Whether [`pack`](Self::pack) was applied.
    pub fn is_packed(&self) -> bool {
        self.packed.is_some()
    }

    /// Floats of scratch that let [`nearest_batch`](Self::nearest_batch) score its best block
    /// of queries at once (any size works; smaller means smaller blocks).
    pub fn batch_scratch_len(&self) -> usize {
        let mp = k::padded_m(self.m);
        // Up to 128 KB of scores (L2), 6 to 48 queries: the AVX-512 kernel reads the codebook once
        // per block of 48, which matters more than keeping the scores in L1.
        let rows = (32768 / mp).clamp(6, MAX_ROWS) / 6 * 6;
        rows * mp
    }

    fn check_query(&self, x: &[f32], row: usize) -> Result<()> {
        if x.len() != self.d {
            return Err(Error::Shape { what: "query", expected: self.d, found: x.len() });
        }
        check_finite("query", x, row * self.d)
    }

    fn bound(&self, x: &[f32]) -> Bound {
        if k::F32_DIRECT {
            // The fast values are the direct f32 distances themselves (`search` skips the panels).
            return Bound::Direct { delta: 0.0, tiny: 0.0 };
        }
        let nx = k::sq_norm_exact(x);
        let c = self.max_norm;
        if nx > HUGE || c * c > HUGE {
            return Bound::Exhaustive;
        }
        // Forward error of an f32 dot product of length D (any order, with or without FMA) is
        // at most gamma_D ||x|| ||c||; the half norm and the subtraction add two roundings.
        // Twice that, with u = 2^-24: (D + 4) 2^-23.
        let u2 = (self.d as f64 + 4.0) / 8_388_608.0;
        match self.packed {
            Some(_) => Bound::Score { nx, e: u2 * (crate::math::sqrt_f64(nx) * c + 0.5 * c * c) + 1e-30 },
            None => Bound::Direct { delta: u2, tiny: self.d as f64 * f32::MIN_POSITIVE as f64 },
        }
    }

    /// Offers the candidates of one chunk of fast values (codewords `j0..j0 + fast.len()`, whose
    /// smallest non-NaN value is `chunk_min`).
    fn refine(&self, x: &[f32], bound: Bound, fast: &[f32], chunk_min: f32, j0: usize, best: &mut Best<'_>) {
        let exact = |j: usize| match self.codeword(j) {
            Some(c) if k::F32_DIRECT => {
                let mut e = [0f32];
                k::sq_distances(x, c, &mut e);
                e[0]
            }
            Some(c) => k::sq_distance_exact(x, c) as f32,
            None => f32::INFINITY,
        };
        let mut t = best.threshold(bound);
        if best.idx.len() == 1 {
            // +inf when every value is NaN: then nothing can be ranked and everything is checked.
            t = t.min(bound.chunk(chunk_min));
        }
        if matches!(bound, Bound::Exhaustive) {
            t = f64::INFINITY;
        }
        let mut cand = [0u32; MAX_CANDIDATES];
        let count = if t.is_finite() { k::indices_at_most(fast, up32(t), &mut cand) } else { usize::MAX };
        if count <= MAX_CANDIDATES {
            for &c in &cand[..count] {
                let j = j0 + c as usize;
                if fast.get(c as usize).is_some_and(|&f| f as f64 <= best.threshold(bound)) {
                    best.offer(j, exact(j));
                }
            }
        } else {
            for (c, &f) in fast.iter().enumerate() {
                let t = best.threshold(bound);
                // NaN fast values cannot be ranked: they are checked.
                if f.is_nan() || f as f64 <= t || matches!(bound, Bound::Exhaustive) {
                    best.offer(j0 + c, exact(j0 + c));
                }
            }
        }
    }

    /// Searches `rows` queries (`xs`, validated) for their `kk` best codewords, writing `kk`
    /// results per query; `buf` holds fast values. Returns how many results each query has.
    fn search(&self, xs: &[f32], kk: usize, idx: &mut [u32], dist: &mut [f32], buf: &mut [f32]) -> usize {
        match self.screen {
            // `cfg!`: elsewhere the screen is never built, and the path compiles away.
            Some(screen) if cfg!(target_arch = "x86_64") && kk == 1 && buf.len() >= k::padded_m(self.m) => {
                self.search_screened(screen, xs, idx, dist, buf);
                1
            }
            _ => self.search_f32(xs, kk, idx, dist, buf),
        }
    }

    /// The nearest codewords of the queries `xs` through the int8 screen: the int8 scores of
    /// a block of queries (exact integer dot products, 4 times fewer instructions than f32
    /// multiply-adds), a proven bound `E` on their distance from the true scores, then the
    /// exact distance of every codeword within `2E` (and the f32 tie margin) of the best. A
    /// query whose window holds more than [`MAX_CANDIDATES`] codewords, or whose values are
    /// too large for f32 scores, goes through [`search_f32`](Self::search_f32); so does
    /// everything where the CPU has no screening path. Same results as the f32 path.
    fn search_screened(&self, sc: Screen<'_>, xs: &[f32], idx: &mut [u32], dist: &mut [f32], buf: &mut [f32]) {
        let Some((norms, _)) = self.packed else {
            self.search_f32(xs, 1, idx, dist, buf);
            return;
        };
        // Every slice below is taken with `get` (or `chunks_exact`): the callers validated the
        // shapes, so none is ever `None`, but the optimiser cannot see that; D >= 1 likewise.
        let d = self.d.max(1);
        let n = xs.len() / d;
        let mp = k::padded_m(self.m);
        let rows_per = (buf.len() / mp).clamp(1, SCREEN_ROWS);
        let mut mins = [0f32; SCREEN_ROWS];
        let mut info = [k::ScreenQuery::default(); SCREEN_ROWS];
        let mut r0 = 0;
        while r0 < n {
            let rows = rows_per.min(n - r0);
            let block = &xs[r0 * d..(r0 + rows) * d];
            let out = &mut buf[..rows * mp];
            if !k::screen(block, d, sc.words, sc.scales, sc.colsums, norms, out, &mut mins[..rows], &mut info[..rows]) {
                self.search_f32(&xs[r0 * d..], 1, &mut idx[r0..], &mut dist[r0..], buf);
                return;
            }
            for r in 0..rows {
                let q = r0 + r;
                let x = &block[r * d..(r + 1) * d];
                let t = self.screen_window(sc, mins[r], &info[r]);
                let mut cand = [0u32; MAX_CANDIDATES];
                let row = &out[r * mp..r * mp + self.m];
                let count = k::indices_at_most(row, t, &mut cand);
                if count > 0 && count <= MAX_CANDIDATES {
                    (idx[q], dist[q]) = self.best_candidate(x, &cand[..count]);
                } else {
                    self.search_f32(x, 1, &mut idx[q..q + 1], &mut dist[q..q + 1], &mut [0f32; STACK_CHUNK]);
                }
            }
            r0 += rows;
        }
    }

    /// The candidate window of a screened query: every codeword whose int8 score is at most the
    /// returned value may be the nearest (`row_min` is the query's smallest score, `inf` its
    /// quantisation). NaN (no candidate, so the f32 path) where the values are too large for
    /// the bound.
    fn screen_window(&self, sc: Screen<'_>, row_min: f32, inf: &k::ScreenQuery) -> f32 {
        // ||c|| and ||c^|| <= ||c|| + ||c - c^||, rounded up; the codebook-wide part of E.
        let cn = self.max_norm * (1.0 + 1e-12);
        let chat = cn + sc.err;
        // ||x|| <= ||q^|| + ||x - q^||: an upper bound on ||x||^2 is all the guard and the tie
        // margin need.
        let nx = (inf.norm + inf.err) * (inf.norm + inf.err) * (1.0 + 1e-12);
        if !(nx <= HUGE && cn * cn <= HUGE) {
            return f32::NAN;
        }
        // |int8 score - f32-free score| <= ||q - q^|| ||c|| + ||q^|| ||c - c^|| plus the
        // kernel's float error 2^-22 (h + ||q^|| ||c^||) + 2^-100.
        let e = (inf.err * cn + inf.norm * sc.err) * (1.0 + 1e-12)
            + (0.5 * cn * cn + inf.norm * chat) * (1.0 / 4_194_304.0)
            + 1e-30;
        up32(Bound::Score { nx, e }.chunk(row_min))
    }

    /// The candidate (ascending indices) with the smallest exact distance, the lowest on ties.
    fn best_candidate(&self, x: &[f32], cand: &[u32]) -> (u32, f32) {
        let mut best = (0u32, f32::INFINITY);
        for &j in cand {
            let e = self.codeword(j as usize).map_or(f32::INFINITY, |c| k::sq_distance_exact(x, c) as f32);
            // Ascending indices: only a strictly smaller distance replaces.
            if e < best.1 {
                best = (j, e);
            }
        }
        best
    }

    /// [`nearest`](Self::nearest) through the fused single-query screen ([`k::screen_nearest`]:
    /// no score buffer to zero, no block arrays); `None` where it does not apply (no screen,
    /// a large codebook, a window of no or too many candidates), and the general path decides.
    fn nearest_screened(&self, x: &[f32]) -> Option<(u32, f32)> {
        let (Some(sc), Some((norms, _))) = (self.screen, self.packed) else { return None };
        if !cfg!(target_arch = "x86_64") {
            return None;
        }
        let mut cand = [0u32; MAX_CANDIDATES];
        let window = |mn: f32, inf: &k::ScreenQuery| self.screen_window(sc, mn, inf);
        let (count, _) = k::screen_nearest(x, sc.words, sc.scales, sc.colsums, norms, self.m, window, &mut cand)?;
        (count > 0 && count <= MAX_CANDIDATES).then(|| self.best_candidate(x, &cand[..count]))
    }

    /// [`search`](Self::search) through the f32 scores (or direct distances when unpacked).
    fn search_f32(&self, xs: &[f32], kk: usize, idx: &mut [u32], dist: &mut [f32], buf: &mut [f32]) -> usize {
        // Every slice below is taken with `get` (or `chunks_exact`): the callers validated the
        // shapes, so none is ever `None`, but the optimiser cannot see that; D >= 1 likewise.
        let d = self.d.max(1);
        let n = xs.len() / d;
        let kk_eff = kk.min(self.m);
        let mp = k::padded_m(self.m);
        let cols = (buf.len() / k::PANEL * k::PANEL).clamp(k::PANEL, mp.max(k::PANEL));
        let rows_per = (buf.len() / cols).clamp(1, MAX_ROWS);
        let mut lens = [0usize; MAX_ROWS];
        let mut mins = [0f32; MAX_ROWS];
        let mut r0 = 0;
        while r0 < n {
            let rows = rows_per.min(n - r0);
            lens.iter_mut().take(rows).for_each(|l| *l = 0);
            let Some(block) = xs.get(r0 * d..(r0 + rows) * d) else { break };
            let mut bounds = [Bound::Exhaustive; MAX_ROWS];
            for (b, x) in bounds.iter_mut().zip(block.chunks_exact(d)) {
                *b = self.bound(x);
            }
            let mut c0 = 0;
            while c0 < self.m {
                let c1 = (c0 + cols).min(mp);
                let real = c1.min(self.m) - c0;
                let width = c1 - c0;
                // The direct f32 contract ranks by the direct distances: the panels are not used.
                match self.packed.filter(|_| !k::F32_DIRECT) {
                    Some((norms, panels)) => {
                        let (Some(out), Some(p), Some(h)) =
                            (buf.get_mut(..rows * width), panels.get(c0 * d..c1 * d), norms.get(c0..c1))
                        else {
                            break;
                        };
                        k::scores(block, d, p, h, out, &mut mins);
                    }
                    None => {
                        let Some(cw) = self.data.get(c0 * d..(c0 + real) * d) else { break };
                        for ((x, m), r) in block.chunks_exact(d).zip(mins.iter_mut()).zip(0..) {
                            let Some(out) = buf.get_mut(r * width..r * width + real) else { break };
                            k::sq_distances(x, cw, out);
                            *m = k::argmin(out).map_or(f32::INFINITY, |m| m.1);
                        }
                    }
                }
                for (r, ((x, l), (&b, &m))) in
                    block.chunks_exact(d).zip(lens.iter_mut()).zip(bounds.iter().zip(&mins)).enumerate()
                {
                    let q = r0 + r;
                    let (Some(idx), Some(dist)) =
                        (idx.get_mut(q * kk..q * kk + kk_eff), dist.get_mut(q * kk..q * kk + kk_eff))
                    else {
                        break;
                    };
                    let mut best = Best { idx, dist, len: *l };
                    let Some(fast) = buf.get(r * width..r * width + real) else { break };
                    self.refine(x, b, fast, m, c0, &mut best);
                    *l = best.len;
                }
                c0 = c1;
            }
            r0 += rows;
        }
        kk_eff
    }

    /// The nearest codeword of `x` (length D): index and exact squared distance.
    ///
    /// Errors: a query of the wrong length ([`Error::Shape`]) or with a non-finite value
    /// ([`Error::Value`]).
    pub fn nearest(&self, x: &[f32]) -> Result<Nearest> {
        self.check_query(x, 0)?;
        if k::F32_DIRECT {
            // One fused scan gives the contract's result directly (None only if every distance
            // were NaN, which finite values cannot give).
            if let Some((j, v)) = k::nearest_direct(x, self.data) {
                return Ok(Nearest { index: j as u32, distance: v });
            }
        }
        if let Some((index, distance)) = self.nearest_screened(x) {
            return Ok(Nearest { index, distance });
        }
        // Where the fused screen declined, the batch screen would decline too (same scores, same
        // window) and only repeat its work: the f32 path decides.
        let (mut idx, mut dist) = ([0u32], [0f32]);
        self.search_f32(x, 1, &mut idx, &mut dist, &mut [0f32; STACK_CHUNK]);
        Ok(Nearest { index: idx[0], distance: dist[0] })
    }

    /// The `k = idx.len()` nearest codewords of `x` in ascending distance, ties by index: their
    /// indices in `idx`, exact squared distances in `dist` (same length). Returns how many were
    /// written: `min(k, M)`.
    pub fn top_k(&self, x: &[f32], idx: &mut [u32], dist: &mut [f32]) -> Result<usize> {
        self.check_query(x, 0)?;
        if dist.len() != idx.len() {
            return Err(Error::Shape { what: "top-k distances", expected: idx.len(), found: dist.len() });
        }
        if idx.is_empty() {
            return Ok(0);
        }
        let mut buf = [0f32; STACK_CHUNK];
        Ok(self.search(x, idx.len(), idx, dist, &mut buf))
    }

    /// Nearest codewords of N queries `xs` `[N, D]`: `idx[i]`, `dist[i]` for query i (both of
    /// length N). `scratch` holds fast scores: [`batch_scratch_len`](Self::batch_scratch_len)
    /// floats give the best speed; a shorter one (even empty) works, more slowly.
    ///
    /// ```
    /// use fvae::vq::Codebook;
    /// let cb = Codebook::new(&[0.0, 10.0], 1)?;
    /// let (mut idx, mut dist) = ([0u32; 3], [0.0f32; 3]);
    /// let mut scratch = vec![0.0; cb.batch_scratch_len()];
    /// cb.nearest_batch(&[1.0, 6.0, 5.0], &mut idx, &mut dist, &mut scratch)?;
    /// assert_eq!((idx, dist), ([0, 1, 0], [1.0, 16.0, 25.0]));
    /// # Ok::<(), fvae::Error>(())
    /// ```
    pub fn nearest_batch(&self, xs: &[f32], idx: &mut [u32], dist: &mut [f32], scratch: &mut [f32]) -> Result<()> {
        self.top_k_batch(xs, 1, idx, dist, scratch).map(|_| ())
    }

    /// The `k` nearest codewords of each of N queries `xs` `[N, D]`: `idx` and `dist` are
    /// `[N, k]`. Returns `min(k, M)`; with `k > M` the slots past M in each row are left as
    /// they were. `scratch` as in [`nearest_batch`](Self::nearest_batch).
    pub fn top_k_batch(
        &self,
        xs: &[f32],
        k: usize,
        idx: &mut [u32],
        dist: &mut [f32],
        scratch: &mut [f32],
    ) -> Result<usize> {
        let d = self.d.max(1); // D >= 1 by construction, which the optimiser cannot see
        if !xs.len().is_multiple_of(d) {
            return Err(Error::Shape { what: "queries", expected: xs.len() / d * d + d, found: xs.len() });
        }
        let n = xs.len() / d;
        if idx.len() != n * k {
            return Err(Error::Shape { what: "indices", expected: n * k, found: idx.len() });
        }
        if dist.len() != n * k {
            return Err(Error::Shape { what: "distances", expected: n * k, found: dist.len() });
        }
        check_finite("queries", xs, 0)?;
        if k == 0 || n == 0 {
            return Ok(k.min(self.m));
        }
        let mut stack = [0f32; STACK_CHUNK];
        let buf = if scratch.len() >= STACK_CHUNK { scratch } else { &mut stack[..] };

        Ok(self.search(xs, k, idx, dist, buf))
    }
}

/// An f32 codebook with M and D known at compile time, owning its codewords.
///
/// ```
/// use fvae::vq::CodebookOwned;
/// let cb = CodebookOwned::<2, 2>::new([[0.0, 0.0], [3.0, 4.0]])?;
/// assert_eq!(cb.view().nearest(&[3.0, 3.0])?.index, 1);
/// # Ok::<(), fvae::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct CodebookOwned<const M: usize, const D: usize> {
    data: [[f32; D]; M],
    max_norm: f64,
}

impl<const M: usize, const D: usize> CodebookOwned<M, D> {
    /// Validates as [`Codebook::new`].
    pub fn new(data: [[f32; D]; M]) -> Result<Self> {
        let max_norm = Codebook::new(data.as_flattened(), D)?.max_norm;
        Ok(CodebookOwned { data, max_norm })
    }

    /// Copies the `codebook` tensor (f32 `[M, D]` exactly) out of a `.safetensors` file (any
    /// alignment).
    pub fn from_safetensors(file: &SafeTensors<'_>) -> Result<Self> {
        let t = file.tensor("codebook")?;
        t.expect_shape("codebook", &[M, D])?;
        if t.dtype() != DType::F32 {
            return Err(Error::DType { what: "codebook", expected: "f32", found: t.dtype().name() });
        }
        let mut data = [[0.0; D]; M];
        for (o, c) in data.as_flattened_mut().iter_mut().zip(t.bytes().chunks_exact(4)) {
            *o = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        Self::new(data)
    }

    /// The borrowed view every search runs on.
    pub fn view(&self) -> Codebook<'_> {
        Codebook { m: M, d: D, data: self.data.as_flattened(), max_norm: self.max_norm, packed: None, screen: None }
    }
}

/// Quantises `x` to int8 with `scale`: `q = round(x / scale)`, rounding half away from zero,
/// clamped to [-127, 127] (symmetric, as the codebook's own quantisation). `out.len()` must
/// equal `x.len()`; non-finite values and a scale that is not finite and > 0 are errors.
///
/// ```
/// let mut q = [0i8; 4];
/// fvae::vq::quantize_i8(&[0.25, -0.75, 100.0, 0.1], 0.5, &mut q)?;
/// assert_eq!(q, [1, -2, 127, 0]);
/// # Ok::<(), fvae::Error>(())
/// ```
pub fn quantize_i8(x: &[f32], scale: f32, out: &mut [i8]) -> Result<()> {
    if !(scale.is_finite() && scale > 0.0) {
        return Err(Error::Value { what: "scale", index: 0, reason: "must be finite and > 0" });
    }
    if out.len() != x.len() {
        return Err(Error::Shape { what: "quantised query", expected: x.len(), found: out.len() });
    }
    check_finite("query", x, 0)?;
    for (o, &v) in out.iter_mut().zip(x) {
        *o = libm::roundf(v / scale).clamp(-127.0, 127.0) as i8;
    }
    Ok(())
}

/// An int8 codebook `[M, D]` with its scale (`real = scale * q`), searched with exact integer
/// distances (see [`fvae_kernels::vq`] for the bound: exact for D <= 66 051).
///
/// ```
/// use fvae::vq::CodebookI8;
/// let cb = CodebookI8::new(&[0, 0, 10, -10], 2, 0.1)?;
/// let mut q = [0i8; 2];
/// cb.quantize(&[0.9, -1.2], &mut q)?;
/// let n = cb.nearest(&q)?;
/// assert_eq!((q, n.index, n.distance), ([9, -12], 1, 1 + 4));
/// # Ok::<(), fvae::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct CodebookI8<'a> {
    m: usize,
    d: usize,
    data: &'a [i8],
    scale: f32,
    /// Norms and codewords side by side for the nearest search ([`CodebookI8::pack`]).
    packed: Option<k::I8Packed<'a>>,
}

impl<'a> CodebookI8<'a> {
    /// A codebook of `data.len() / d` int8 codewords with `scale` (finite, > 0).
    pub fn new(data: &'a [i8], d: usize, scale: f32) -> Result<Self> {
        let m = check_codebook("codebook", data.len(), d)?;
        if d > 66_051 {
            return Err(Error::Unsupported { what: "int8 codeword dimension above 66 051 (u32 distances)", index: d });
        }
        if m > u32::MAX as usize {
            return Err(Error::Unsupported { what: "more than 2^32 codewords", index: m });
        }
        if !(scale.is_finite() && scale > 0.0) {
            return Err(Error::Value { what: "scale", index: 0, reason: "must be finite and > 0" });
        }
        Ok(CodebookI8 { m, d, data, scale, packed: None })
    }

    /// Words of storage [`pack`](Self::pack) needs: `(M + 1) (1 + ceil(D / 4))` (a norm and the
    /// codeword's bytes per codeword, and an end marker).
    pub const fn packed_len(m: usize, d: usize) -> usize {
        k::i8_packed_len(m, d)
    }

    /// Stores each codeword's squared norm next to a copy of its bytes in `storage` (at least
    /// [`packed_len(M, D)`](Self::packed_len) words; 5 140 bytes for M = 256, D = 16, beside the
    /// 4 096 of the codebook) and returns a codebook whose [`nearest`](Self::nearest) ranks by
    /// `|c|^2 - 2 x.c`: on Cortex-M4/M7/M33 with D = 13..16 an `smlad` scan of 20 instructions per
    /// codeword instead of about 60. Results are identical (exact integers); other searches are
    /// unchanged.
    ///
    /// Errors: `storage` too short ([`Error::BufferTooSmall`]), D above 32 768
    /// ([`Error::Unsupported`]).
    ///
    /// ```
    /// use fvae::vq::CodebookI8;
    /// let data = [0, 0, 10, -10];
    /// let mut storage = [0i32; CodebookI8::packed_len(2, 2)];
    /// let cb = CodebookI8::new(&data, 2, 0.1)?.pack(&mut storage)?;
    /// assert_eq!(cb.nearest(&[9, -12])?.distance, 1 + 4);
    /// # Ok::<(), fvae::Error>(())
    /// ```
    pub fn pack(self, storage: &'a mut [i32]) -> Result<Self> {
        let need = Self::packed_len(self.m, self.d);
        if storage.len() < need {
            return Err(Error::BufferTooSmall {
                what: "packed int8 codebook storage",
                needed: need,
                given: storage.len(),
            });
        }
        match k::i8_pack(self.data, self.d, storage) {
            Some(p) => Ok(CodebookI8 { packed: Some(p), ..self }),
            None => Err(Error::Unsupported { what: "packing int8 codewords longer than 32 768", index: self.d }),
        }
    }

    /// The `codebook` (i8 `[M, D]`) and `scale` (f32, one value: shape `[1]` or `[]`) tensors of
    /// a `.safetensors` file, the codewords read in place.
    pub fn from_safetensors(file: &SafeTensors<'a>) -> Result<Self> {
        let t = file.tensor("codebook")?;
        let (_, d) = matrix_dims("codebook rank", &t)?;
        let scale = read_scale(file)?;
        Self::new(t.as_i8("codebook")?, d, scale)
    }

    /// Number of codewords M.
    pub fn m(&self) -> usize {
        self.m
    }

    /// Codeword dimension D.
    pub fn d(&self) -> usize {
        self.d
    }

    /// The quantisation scale.
    pub fn scale(&self) -> f32 {
        self.scale
    }

    /// The codewords `[M, D]`, row-major.
    pub fn data(&self) -> &'a [i8] {
        self.data
    }

    /// Quantises an f32 query to this codebook's scale ([`quantize_i8`]).
    pub fn quantize(&self, x: &[f32], out: &mut [i8]) -> Result<()> {
        if x.len() != self.d {
            return Err(Error::Shape { what: "query", expected: self.d, found: x.len() });
        }
        quantize_i8(x, self.scale, out)
    }

    /// The nearest codeword of the int8 query `x` (length D), exact.
    pub fn nearest(&self, x: &[i8]) -> Result<NearestI8> {
        if let Some(p) = &self.packed {
            if let Some((j, v)) = k::i8_nearest_packed(x, p) {
                return Ok(NearestI8 { index: j as u32, distance: v });
            }
        }
        let (mut idx, mut dist) = ([0u32], [0u32]);
        self.top_k(x, &mut idx, &mut dist)?;
        Ok(NearestI8 { index: idx[0], distance: dist[0] })
    }

    /// The `k = idx.len()` nearest codewords of `x`, ascending distance, ties by index, into
    /// `idx` and `dist` (same length); returns `min(k, M)`.
    pub fn top_k(&self, x: &[i8], idx: &mut [u32], dist: &mut [u32]) -> Result<usize> {
        if x.len() != self.d {
            return Err(Error::Shape { what: "query", expected: self.d, found: x.len() });
        }
        if dist.len() != idx.len() {
            return Err(Error::Shape { what: "top-k distances", expected: idx.len(), found: dist.len() });
        }
        let kk = idx.len().min(self.m);
        if kk == 0 {
            // k = 0 asks for nothing (found by fuzz/fv_vq: the insertion below reads dist[kk - 1]).
            return Ok(0);
        }
        let (idx, dist) = (&mut idx[..kk], &mut dist[..kk]);
        let mut len = 0;
        let mut buf = [0u32; 64];
        // `max(1)` and `get`: D >= 1 and a chunk's rows <= 64, which the optimiser cannot see.
        let d = self.d.max(1);
        // (Saturating: a chunk larger than the data is the whole data, fewer than 64 rows.)
        for (chunk_no, chunk) in self.data.chunks(d.saturating_mul(64)).enumerate() {
            let Some(out) = buf.get_mut(..chunk.len() / d) else { break };
            k::i8_sq_distances(x, chunk, out);
            if kk == 1 {
                if let Some((j, v)) = k::argmin_u32(out) {
                    if len == 0 || v < dist[0] {
                        (idx[0], dist[0], len) = ((chunk_no * 64 + j) as u32, v, 1);
                    }
                }
                continue;
            }
            for (j, &v) in out.iter().enumerate() {
                if len == kk && dist.last().is_some_and(|&last| v >= last) {
                    continue;
                }
                // Insertion with `get`: `p < kk` throughout, which the optimiser cannot see.
                let mut p = if len == kk { kk - 1 } else { len };
                while p > 0 {
                    let (Some(&dp), Some(&ip)) = (dist.get(p - 1), idx.get(p - 1)) else { break };
                    if dp <= v {
                        break;
                    }
                    if let (Some(d), Some(i)) = (dist.get_mut(p), idx.get_mut(p)) {
                        (*d, *i) = (dp, ip);
                    }
                    p -= 1;
                }
                if let (Some(d), Some(i)) = (dist.get_mut(p), idx.get_mut(p)) {
                    (*d, *i) = (v, (chunk_no * 64 + j) as u32);
                }
                len = (len + 1).min(kk);
            }
        }
        Ok(kk)
    }

    /// Nearest codewords of N int8 queries `xs` `[N, D]` into `idx` and `dist` (length N).
    pub fn nearest_batch(&self, xs: &[i8], idx: &mut [u32], dist: &mut [u32]) -> Result<()> {
        self.top_k_batch(xs, 1, idx, dist).map(|_| ())
    }

    /// The `k` nearest codewords of each of N int8 queries: `idx`, `dist` are `[N, k]`.
    pub fn top_k_batch(&self, xs: &[i8], k: usize, idx: &mut [u32], dist: &mut [u32]) -> Result<usize> {
        let d = self.d.max(1); // D >= 1 by construction, which the optimiser cannot see
        if !xs.len().is_multiple_of(d) {
            return Err(Error::Shape { what: "queries", expected: xs.len() / d * d + d, found: xs.len() });
        }
        let n = xs.len() / d;
        if idx.len() != n * k || dist.len() != n * k {
            return Err(Error::Shape { what: "indices/distances", expected: n * k, found: idx.len().min(dist.len()) });
        }
        if k == 0 {
            return Ok(0);
        }
        for ((x, i), dd) in xs.chunks_exact(d).zip(idx.chunks_exact_mut(k)).zip(dist.chunks_exact_mut(k)) {
            self.top_k(x, i, dd)?;
        }
        Ok(k.min(self.m))
    }
}

/// The f32 `scale` tensor: one value, shape `[1]` or `[]`, any alignment.
fn read_scale(file: &SafeTensors<'_>) -> Result<f32> {
    let s = file.tensor("scale")?;
    if s.dtype() != DType::F32 {
        return Err(Error::DType { what: "scale", expected: "f32", found: s.dtype().name() });
    }
    match s.bytes() {
        [a, b, c, d] => Ok(f32::from_le_bytes([*a, *b, *c, *d])),
        other => Err(Error::Shape { what: "scale", expected: 1, found: other.len() / 4 }),
    }
}

/// An int8 codebook with M and D known at compile time, owning its codewords.
///
/// ```
/// use fvae::vq::CodebookI8Owned;
/// let cb = CodebookI8Owned::<2, 2>::new([[0, 0], [100, -100]], 0.01)?;
/// assert_eq!(cb.view().nearest(&[90, -90])?.index, 1);
/// # Ok::<(), fvae::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct CodebookI8Owned<const M: usize, const D: usize> {
    data: [[i8; D]; M],
    scale: f32,
}

impl<const M: usize, const D: usize> CodebookI8Owned<M, D> {
    /// Validates as [`CodebookI8::new`].
    pub fn new(data: [[i8; D]; M], scale: f32) -> Result<Self> {
        CodebookI8::new(data.as_flattened(), D, scale)?;
        Ok(CodebookI8Owned { data, scale })
    }

    /// Copies `codebook` (i8 `[M, D]` exactly) and `scale` out of a `.safetensors` file.
    pub fn from_safetensors(file: &SafeTensors<'_>) -> Result<Self> {
        let t = file.tensor("codebook")?;
        t.expect_shape("codebook", &[M, D])?;
        let src = t.as_i8("codebook")?;
        let mut data = [[0i8; D]; M];
        data.as_flattened_mut().copy_from_slice(src);
        Self::new(data, read_scale(file)?)
    }

    /// The borrowed view every search runs on.
    pub fn view(&self) -> CodebookI8<'_> {
        CodebookI8 { m: M, d: D, data: self.data.as_flattened(), scale: self.scale, packed: None }
    }
}

/// Residual VQ: S stages of `[M, D]` f32 codebooks. Encoding is greedy: stage s takes the
/// nearest codeword of the residual left by stages `0..s` (`r <- r - c`, in f32); decoding sums
/// the chosen codewords (in stage order, in f32).
///
/// ```
/// use fvae::vq::ResidualVq;
/// // Two stages of two codewords in 1-D: coarse {0, 10}, fine {-1, 1}.
/// let rvq = ResidualVq::new(&[0.0, 10.0, -1.0, 1.0], 2, 1)?;
/// let (mut codes, mut residual) = ([0u32; 2], [0.0f32; 1]);
/// rvq.encode(&[8.7], &mut codes, &mut residual)?;
/// let mut y = [0.0f32; 1];
/// rvq.decode(&codes, &mut y)?;
/// assert_eq!((codes, y), ([1, 0], [9.0]));
/// # Ok::<(), fvae::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ResidualVq<'a> {
    s: usize,
    m: usize,
    d: usize,
    data: &'a [f32],
}

impl<'a> ResidualVq<'a> {
    /// `s` stages over `data` `[S, M, D]` (row-major), M = `data.len() / (s * d)`.
    pub fn new(data: &'a [f32], s: usize, d: usize) -> Result<Self> {
        if s == 0 {
            return Err(Error::Empty { what: "residual stages" });
        }
        let m = check_codebook("codebooks", data.len(), d)?;
        if m % s != 0 {
            return Err(Error::Shape { what: "codebooks", expected: (m / s + 1) * s * d, found: data.len() });
        }
        check_finite("codebooks", data, 0)?;
        Ok(ResidualVq { s, m: m / s, d, data })
    }

    /// The `codebooks` tensor (f32 `[S, M, D]`) of a `.safetensors` file, read in place.
    pub fn from_safetensors(file: &SafeTensors<'a>) -> Result<Self> {
        let t = file.tensor("codebooks")?;
        let (s, d) = match t.shape().dims() {
            [s, _, d] => (*s, *d),
            dims => return Err(Error::Shape { what: "codebooks rank", expected: 3, found: dims.len() }),
        };
        Self::new(t.as_f32("codebooks")?, s, d)
    }

    /// Number of stages S.
    pub fn stages(&self) -> usize {
        self.s
    }

    /// Codewords per stage M.
    pub fn m(&self) -> usize {
        self.m
    }

    /// Dimension D.
    pub fn d(&self) -> usize {
        self.d
    }

    /// Stage `i`'s codebook.
    pub fn stage(&self, i: usize) -> Result<Codebook<'a>> {
        let md = self.m * self.d;
        let data =
            self.data.get(i * md..(i + 1) * md).ok_or(Error::Shape { what: "stage", expected: self.s, found: i })?;
        Codebook::new(data, self.d)
    }

    /// Greedy encoding of `x` (length D) into `codes` (length S); `residual` (length D) is
    /// scratch and ends holding what the codes leave unexplained, `x - decode(codes)`.
    pub fn encode(&self, x: &[f32], codes: &mut [u32], residual: &mut [f32]) -> Result<()> {
        if x.len() != self.d || residual.len() != self.d {
            return Err(Error::Shape { what: "query/residual", expected: self.d, found: x.len().min(residual.len()) });
        }
        if codes.len() != self.s {
            return Err(Error::Shape { what: "codes", expected: self.s, found: codes.len() });
        }
        check_finite("query", x, 0)?;
        residual.copy_from_slice(x);
        for (i, code) in codes.iter_mut().enumerate() {
            let cb = self.stage(i)?;
            let n = cb.nearest(residual)?;
            *code = n.index;
            if let Some(c) = cb.codeword(n.index as usize) {
                for (r, &v) in residual.iter_mut().zip(c) {
                    *r -= v;
                }
            }
        }
        Ok(())
    }

    /// The sum of the codewords named by `codes` (length S) into `out` (length D).
    pub fn decode(&self, codes: &[u32], out: &mut [f32]) -> Result<()> {
        if codes.len() != self.s {
            return Err(Error::Shape { what: "codes", expected: self.s, found: codes.len() });
        }
        if out.len() != self.d {
            return Err(Error::Shape { what: "reconstruction", expected: self.d, found: out.len() });
        }
        // Every code is checked before `out` is touched: a rejected decode leaves it as it was.
        if let Some(i) = codes.iter().position(|&code| code as usize >= self.m) {
            return Err(Error::Value { what: "codes", index: i, reason: "index not below M" });
        }
        out.fill(0.0);
        for (i, &code) in codes.iter().enumerate() {
            let c = self.stage(i)?.codeword(code as usize).ok_or(Error::Value {
                what: "codes",
                index: i,
                reason: "index not below M",
            })?;
            for (o, &v) in out.iter_mut().zip(c) {
                *o += v;
            }
        }
        Ok(())
    }

    /// [`encode`](Self::encode) for N queries `[N, D]` into `codes` `[N, S]`; `residual` is
    /// scratch of length D.
    pub fn encode_batch(&self, xs: &[f32], codes: &mut [u32], residual: &mut [f32]) -> Result<()> {
        // `max(1)`: D, S >= 1 by construction, which the optimiser cannot see.
        let (d, s) = (self.d.max(1), self.s.max(1));
        let n = xs.len() / d;
        if xs.len() != n * d || codes.len() != n * s {
            return Err(Error::Shape { what: "codes", expected: n * s, found: codes.len() });
        }
        for (x, c) in xs.chunks_exact(d).zip(codes.chunks_exact_mut(s)) {
            self.encode(x, c, residual)?;
        }
        Ok(())
    }

    /// [`decode`](Self::decode) for N code rows `[N, S]` into `out` `[N, D]`.
    pub fn decode_batch(&self, codes: &[u32], out: &mut [f32]) -> Result<()> {
        let (d, s) = (self.d.max(1), self.s.max(1)); // >= 1 by construction
        let n = codes.len() / s;
        if codes.len() != n * s || out.len() != n * d {
            return Err(Error::Shape { what: "reconstruction", expected: n * d, found: out.len() });
        }
        for (c, o) in codes.chunks_exact(s).zip(out.chunks_exact_mut(d)) {
            self.decode(c, o)?;
        }
        Ok(())
    }
}
