//! [`Codebook`]: the f32 codebook, borrowed or packed for the fast batch path, and
//! [`CodebookOwned`], its owned form.

use super::search::{check_codebook, check_row, matrix_dims, max_norm, tie_slack, up32, whole_rows, Best, Bound};
use super::Nearest;
use crate::error::check_finite;
use crate::formats::safetensors::SafeTensors;
use crate::formats::DType;
use crate::{Error, Result};
use fvae_kernels::vq as k;

/// Codewords scored per chunk when the caller gives no scratch (a 1 KB stack buffer).
const STACK_CHUNK: usize = 256;
/// Queries per call of the search in [`Codebook::nearest_indices_batch`] (its distances go to a
/// stack buffer of this many).
const INDEX_BLOCK: usize = 240;
/// Most queries scored together in one batch block.
const MAX_ROWS: usize = 48;
/// Queries per int8 screening block: their scores (12 rows of M) stay in L1 for the candidate
/// scan that follows (measured: 48 rows, 48 KB at M = 256, cost 10% more at D = 16).
const SCREEN_ROWS: usize = 12;
/// Candidates collected with SIMD before falling back to a plain scan.
const MAX_CANDIDATES: usize = 32;
/// Above this, `||x||^2` or `||c||^2` could overflow the f32 fast paths: search exactly.
const HUGE: f64 = 1e30;

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
    /// Per codeword (`[MP]`, 0 past M): upper bounds on `||c_j||` and on `||c_j - c^_j||`, for
    /// the per-codeword window ([`k::indices_within`]).
    norms: &'a [f32],
    errs: &'a [f32],
}

/// Floats of packed storage the int8 screen takes: on x86_64 only (the one target with a
/// screening path), and for D up to the kernel's limit.
const fn screen_len(m: usize, d: usize) -> usize {
    if cfg!(target_arch = "x86_64") && d <= k::SCREEN_MAX_D {
        k::padded_m(m) * (4 + k::screen_words(d))
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

    /// A codebook over data already checked (finite, `m * d` values, `m <= u32::MAX`), with
    /// `max_norm` at least its largest codeword norm: residual VQ's stages, validated once.
    pub(super) fn prevalidated(data: &'a [f32], m: usize, d: usize, max_norm: f64) -> Self {
        Codebook { m, d, data, max_norm, packed: None, screen: None }
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
    /// `padded(M) * (4 + ceil(D / 4))` for the int8 screening copy.
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
            let (colsums, rest) = rest.split_at_mut_checked(mp).ok_or(too_small)?;
            let (cnorms, rest) = rest.split_at_mut_checked(mp).ok_or(too_small)?;
            let (errs, words) = rest.split_at_mut_checked(mp).ok_or(too_small)?;
            let words = words.get_mut(..mp * k::screen_words(self.d)).ok_or(too_small)?;
            let err = k::pack_screen(self.data, self.d, scales, colsums, words);
            k::screen_errors(self.data, self.d, errs);
            for (j, n) in cnorms.iter_mut().enumerate() {
                let sq = self.codeword(j).map_or(0.0, |c| c.iter().map(|&v| v as f64 * v as f64).sum::<f64>());
                *n = k::scalar::up_f32(k::scalar::up_sqrt(sq, self.d));
            }
            screen = Some(Screen { scales, colsums, words, err, norms: cnorms, errs });
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
        check_row("query", x, self.d, row)
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
    /// Without `distances` a query's distance may be left as NaN (see
    /// [`nearest_indices_batch`](Self::nearest_indices_batch)).
    fn search(
        &self,
        xs: &[f32],
        kk: usize,
        idx: &mut [u32],
        dist: &mut [f32],
        buf: &mut [f32],
        distances: bool,
    ) -> usize {
        match self.screen {
            // `cfg!`: elsewhere the screen is never built, and the path compiles away.
            Some(screen) if cfg!(target_arch = "x86_64") && kk == 1 && buf.len() >= k::padded_m(self.m) => {
                self.search_screened(screen, xs, idx, dist, buf, distances);
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
    /// everything where the CPU has no screening path. Same results as the f32 path. Without
    /// `distances`, a window of one codeword is the answer without its exact distance (NaN).
    fn search_screened(
        &self,
        sc: Screen<'_>,
        xs: &[f32],
        idx: &mut [u32],
        dist: &mut [f32],
        buf: &mut [f32],
        distances: bool,
    ) {
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
        // Queries that tried the shared window, and those it failed.
        let (mut tried, mut overflowed) = (0u32, 0u32);
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
                let mut cand = [0u32; MAX_CANDIDATES];
                let row = &out[r * mp..r * mp + self.m];
                // The shared window costs one pass; each codeword's own, two. Take the shared one
                // first while it has mostly been narrow enough in this call (random-like
                // codebooks), else go straight to the per-codeword one (a spread of norms, as in
                // k-means codebooks of image patches). Either way the same candidates decide.
                let mut count = 0;
                if overflowed * 4 <= tried {
                    tried += 1;
                    count = k::indices_at_most(row, self.screen_window(sc, mins[r], &info[r]), &mut cand);
                    overflowed += u32::from(count == 0 || count > MAX_CANDIDATES);
                }
                if count == 0 || count > MAX_CANDIDATES {
                    count = self.screen_refine(sc, row, &info[r], &mut cand).unwrap_or(0);
                }
                if count == 1 && !distances {
                    // The window is proven to hold the nearest codeword and every one whose
                    // distance could tie with it: alone in it, it is the answer.
                    (idx[q], dist[q]) = (cand[0], f32::NAN);
                } else if count > 0 && count <= MAX_CANDIDATES {
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

    /// The candidates of a screened query by the error bound of each codeword, over its scores
    /// `row` (the first M), written to `cand` as [`k::indices_within`] does: the int8 score of
    /// codeword j is within `||x - x^|| ||c_j|| + ||x^|| ||c_j - c^_j||` (and the kernel's
    /// float error `f`) of `||c_j||^2 / 2 - x . c_j`, so the best true score is at most
    /// `hi + f` (`hi` the smallest upper bound, plus one f32 rounding), and every codeword that
    /// may be the nearest or tie with it has its lower bound within that plus the tie margin.
    /// `None` where the values are too large for the bound.
    fn screen_refine(&self, sc: Screen<'_>, row: &[f32], inf: &k::ScreenQuery, cand: &mut [u32]) -> Option<usize> {
        let cn = self.max_norm * (1.0 + 1e-12);
        let nx = (inf.norm + inf.err) * (inf.norm + inf.err) * (1.0 + 1e-12);
        if !(nx <= HUGE && cn * cn <= HUGE) {
            return None;
        }
        // The kernel's float error, one bound for every codeword (as in screen_window).
        let f = (0.5 * cn * cn + inf.norm * (cn + sc.err)) * (1.0 / 4_194_304.0) + 1e-30;
        // Inflated so that the f32 products and sum of `a n_j + b r_j` stay above the real ones.
        let (a, b) = (up32(inf.err * (1.0 + 1e-6)), up32(inf.norm * (1.0 + 1e-6)));
        let threshold = |hi: f32| {
            let hi = hi as f64;
            let best = hi + hi.abs() * (1.0 / 8_388_608.0) + f;
            up32(best + f + tie_slack(nx + 2.0 * best))
        };
        let (m, n, e) = (self.m, sc.norms, sc.errs);
        let (Some(row), Some(n), Some(e)) = (row.get(..m), n.get(..m), e.get(..m)) else { return None };
        Some(k::indices_within(row, n, e, a, b, threshold, cand))
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
        // Where the fused screen declined, the batch screen may still decide with each codeword's
        // own window; else the f32 path.
        let (mut idx, mut dist) = ([0u32], [0f32]);
        self.search(x, 1, &mut idx, &mut dist, &mut [0f32; STACK_CHUNK], true);
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
        Ok(self.search(x, idx.len(), idx, dist, &mut buf, true))
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
        let n = whole_rows("queries", xs.len(), d)?;
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

        Ok(self.search(xs, k, idx, dist, buf, true))
    }

    /// The nearest codeword of each of N queries `xs` `[N, D]` into `idx` (length N), the same
    /// indices as [`nearest_batch`](Self::nearest_batch) gives, without the distances: where the
    /// proven window of the int8 screen holds a single codeword, its exact f64 distance is not
    /// computed (at D = 16, M = 256 that re-check is about a tenth of a query). `scratch` as in
    /// [`nearest_batch`](Self::nearest_batch).
    ///
    /// ```
    /// use fvae::vq::Codebook;
    /// let cb = Codebook::new(&[0.0, 10.0], 1)?;
    /// let mut idx = [0u32; 3];
    /// let mut scratch = vec![0.0; cb.batch_scratch_len()];
    /// cb.nearest_indices_batch(&[1.0, 6.0, 5.0], &mut idx, &mut scratch)?;
    /// assert_eq!(idx, [0, 1, 0]);
    /// # Ok::<(), fvae::Error>(())
    /// ```
    pub fn nearest_indices_batch(&self, xs: &[f32], idx: &mut [u32], scratch: &mut [f32]) -> Result<()> {
        let d = self.d.max(1); // D >= 1 by construction, which the optimiser cannot see
        let n = whole_rows("queries", xs.len(), d)?;
        if idx.len() != n {
            return Err(Error::Shape { what: "indices", expected: n, found: idx.len() });
        }
        check_finite("queries", xs, 0)?;
        let mut stack = [0f32; STACK_CHUNK];
        let buf = if scratch.len() >= STACK_CHUNK { scratch } else { &mut stack[..] };
        // The distances the search writes on its way, a block at a time.
        let mut dist = [0f32; INDEX_BLOCK];
        let mut q = 0;
        while q < n {
            let end = n.min(q + INDEX_BLOCK);
            // `get`: every range is within its slice (n rows of d), never `None`.
            let (Some(x), Some(i), Some(dist)) = (xs.get(q * d..end * d), idx.get_mut(q..end), dist.get_mut(..end - q))
            else {
                break;
            };
            self.search(x, 1, i, dist, buf, false);
            q = end;
        }
        Ok(())
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
