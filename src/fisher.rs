//! Fisher vectors of a diagonal GMM (Perronnin et al. 2010; Sanchez et al. 2013), accumulated
//! as a stream.
//!
//! Over N descriptors with posteriors `q_ik` and `t_i = (x_i - mu_k) / sigma_k`:
//! `G_mu_k = 1/(N sqrt(w_k)) sum_i q_ik t_i`, `G_sigma_k = 1/(N sqrt(2 w_k)) sum_i q_ik (t_i^2 - 1)`,
//! `G_w_k = (1/N sum_i q_ik - w_k) / sqrt(w_k)`.
//!
//! The [`FisherAccumulator`] keeps the sums `sum q`, `sum q t` and `sum q (t^2 - 1)` in the
//! direct, centred form (never the expanded moments, which cancel catastrophically in f32), so
//! descriptors can be pushed one at a time or in batches, accumulators merged (two cores, two
//! devices), and the vector finished into either [`Layout`] at any point.
//!
//! A component of weight 0 contributes zeros (its gradient is undefined).

use crate::compensated::CompensatedSums;
use crate::error::{check_finite, check_k_d};
use crate::gmm::{Assignment, DiagGmm, F64_IN_HARDWARE};
use crate::{math, Error, Result};
use fvae_kernels::gaussian;

/// The order and signs of the Fisher-vector blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Layout {
    /// `[G_mu (K x D, component-major), G_sigma (K x D)]`, length 2KD, as VLFeat's
    /// `vl_fisher_encode`.
    #[default]
    VlFeat,
    /// `[G_w (K), G_mu (K x D), -G_sigma (K x D)]`, length 2KD + K, as scikit-image's
    /// `skimage.feature.fisher_vector`, whose variance block has the opposite sign to VLFeat's:
    /// reproduced here so its outputs can be compared directly.
    SkImage,
}

impl Layout {
    /// The vector length for K components in D dimensions.
    ///
    /// ```
    /// use fvae::fisher::Layout;
    /// assert_eq!((Layout::VlFeat.len(16, 64), Layout::SkImage.len(16, 64)), (2048, 2064));
    /// ```
    pub const fn len(self, k: usize, d: usize) -> usize {
        match self {
            Layout::VlFeat => 2 * k * d,
            Layout::SkImage => 2 * k * d + k,
        }
    }
}

/// Normalisation applied when finishing: first the power step `sign(z) |z|^alpha` if `power`
/// is set, then division by the L2 norm if `l2` (a zero vector stays zero).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Normalization {
    /// The exponent alpha of the power step (0.5 is the signed square root).
    pub power: Option<f32>,
    /// Divide by the L2 norm.
    pub l2: bool,
}

impl Normalization {
    /// No normalisation: the raw gradient.
    pub const NONE: Self = Normalization { power: None, l2: false };
    /// L2 only.
    pub const L2: Self = Normalization { power: None, l2: true };
    /// The improved Fisher vector: signed square root, then L2.
    pub const IMPROVED: Self = Normalization { power: Some(0.5), l2: true };

    /// A power exponent, when there is one, must be finite and > 0.
    pub(crate) fn check(&self) -> Result<()> {
        match self.power {
            Some(alpha) if !(alpha.is_finite() && alpha > 0.0) => {
                Err(Error::Value { what: "power normalisation exponent", index: 0, reason: "must be finite and > 0" })
            }
            _ => Ok(()),
        }
    }

    /// Applies the normalisation to `v` in place.
    ///
    /// ```
    /// use fvae::fisher::Normalization;
    /// let mut v = [4.0, -9.0];
    /// Normalization::IMPROVED.apply(&mut v);
    /// assert!((v[0] - 2.0 / 13f32.sqrt()).abs() < 1e-6 && (v[1] + 3.0 / 13f32.sqrt()).abs() < 1e-6);
    /// ```
    pub fn apply(&self, v: &mut [f32]) {
        if let Some(alpha) = self.power {
            v.iter_mut().for_each(|z| *z = math::signed_pow(*z, alpha));
        }
        if self.l2 {
            // Compensated: a plain f32 sum of 2KD + K squares is off by up to 1e-5 relative at
            // K D = 16 384, which scales the whole vector by as much.
            let (mut sum, mut c) = (0.0f32, 0.0f32);
            v.iter().for_each(|z| gaussian::scalar::kahan_add(&mut sum, &mut c, z * z));
            let norm = math::sqrt(sum - c);
            if norm > 0.0 {
                let inv = 1.0 / norm;
                v.iter_mut().for_each(|z| *z *= inv);
            }
        }
    }
}

/// What is accumulated and how. Built from [`FisherOptions::DEFAULT`] with the `with_*`
/// methods (usable in a `const`), so that later fields do not break callers.
///
/// ```
/// use fvae::fisher::FisherOptions;
/// use fvae::gmm::Assignment;
/// const OPTIONS: FisherOptions =
///     FisherOptions::DEFAULT.with_assignment(Assignment::Hard).with_compensated(false);
/// assert!(!OPTIONS.compensated);
/// assert_eq!(FisherOptions::default(), FisherOptions::DEFAULT);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct FisherOptions {
    /// Soft (with an optional threshold, VLFeat uses 1e-6) or hard assignment.
    pub assignment: Assignment,
    /// Kahan-compensated sums (default `true`). At a fitted model the Fisher vector is a
    /// near-cancelling sum, and plain f32 accumulation loses the digits the improved vector's
    /// square root exposes (1e-4 relative error after 1 800 descriptors, worse beyond); with
    /// compensation the error stays near 1e-5 up to 10^5 descriptors. On a mixture fitted by EM
    /// the sums cancel further still; there, with soft assignment and no threshold, and where f64
    /// is hardware, the one or two components carrying most of each descriptor's weight are also
    /// refined in f64 (posterior and terms), which holds 1e-4 of float64 on such mixtures. `false`
    /// halves the storage, for parts with very little RAM and short streams.
    pub compensated: bool,
}

impl FisherOptions {
    /// Soft assignment, no threshold, compensated sums.
    pub const DEFAULT: Self = FisherOptions { assignment: Assignment::Soft { threshold: 0.0 }, compensated: true };

    /// These options with `assignment`.
    ///
    /// ```
    /// use fvae::fisher::FisherOptions;
    /// use fvae::gmm::Assignment;
    /// let hard = FisherOptions::DEFAULT.with_assignment(Assignment::Hard);
    /// assert_eq!(hard.assignment, Assignment::Hard);
    /// ```
    pub const fn with_assignment(self, assignment: Assignment) -> Self {
        FisherOptions { assignment, ..self }
    }

    /// These options with `compensated`.
    ///
    /// ```
    /// use fvae::fisher::FisherOptions;
    /// assert!(!FisherOptions::DEFAULT.with_compensated(false).compensated);
    /// ```
    pub const fn with_compensated(self, compensated: bool) -> Self {
        FisherOptions { compensated, ..self }
    }
}

impl Default for FisherOptions {
    /// [`FisherOptions::DEFAULT`].
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Posteriors from which a compensated accumulator forms the statistics' terms in f64 rather
/// than f32 (`gaussian::accumulate_compensated_f64`): a component or two per descriptor on fitted
/// mixtures. At EM's fixed point the sums cancel almost exactly, and the f32 terms' rounding (half
/// an ulp of each `q t`) is what remains: on a fitted D = 64, K = 256 mixture it put the improved
/// vector 1e-4 from float64. Below 1/16 a term's rounding is small enough (it scales with `q`):
/// forming every term in f64 measured no better there.
const ACCURATE_Q: f32 = 1.0 / 16.0;

/// f32 values of the stack scratch [`FisherAccumulator::push_batch`] computes several rows'
/// distances in: `BATCH_ROWS` rows of up to K = 256 where the kernels have a batched path
/// (8 KiB on x86_64), none elsewhere.
const BATCH_SCRATCH: usize = if gaussian::BATCH_ROWS > 1 { gaussian::BATCH_ROWS * 256 } else { 0 };

/// A streaming Fisher-vector accumulator over caller memory.
///
/// ```
/// use fvae::fisher::{FisherAccumulator, FisherOptions, Layout, Normalization};
/// use fvae::gmm::DiagGmm;
/// let mut c = [0.0; DiagGmm::constants_len(2, 1)];
/// let gmm = DiagGmm::new(&[0.5, 0.5], &[-1.0, 1.0], &[1.0, 1.0], &mut c)?;
/// let (mut sa, mut sb) = ([0.0; FisherAccumulator::storage_len(2, 1)], [0.0; FisherAccumulator::storage_len(2, 1)]);
/// let mut a = FisherAccumulator::new(gmm, FisherOptions::default(), &mut sa)?;
/// let mut b = FisherAccumulator::new(gmm, FisherOptions::default(), &mut sb)?;
/// a.push(&[-1.5])?;
/// b.push_batch(&[0.5, 2.0])?; // two descriptors of D = 1
/// a.merge(&b)?;
/// assert_eq!(a.count(), 3);
/// let mut fv = [0.0; 6]; // 2 K D + K
/// a.finish(Layout::SkImage, Normalization::NONE, &mut fv)?;
/// # Ok::<(), fvae::Error>(())
/// ```
#[derive(Debug)]
pub struct FisherAccumulator<'g, 's> {
    gmm: DiagGmm<'g>,
    options: FisherOptions,
    n: u64,
    /// sum_i q_ik, [K].
    s0: CompensatedSums<'s>,
    /// sum_i q_ik t_i, [K, D].
    s1: CompensatedSums<'s>,
    /// sum_i q_ik (t_i^2 - 1), [K, D].
    s2: CompensatedSums<'s>,
    /// Posterior scratch, [K].
    q: &'s mut [f32],
}

impl<'g, 's> FisherAccumulator<'g, 's> {
    /// The f32 values of storage a compensated accumulator (the default) needs: `4 K D + 3 K`.
    pub const fn storage_len(k: usize, d: usize) -> usize {
        4 * k * d + 3 * k
    }

    /// The storage for `options`: [`storage_len`](Self::storage_len) when compensated, else
    /// `2 K D + 2 K`.
    ///
    /// ```
    /// use fvae::fisher::{FisherAccumulator, FisherOptions};
    /// let plain = FisherOptions::DEFAULT.with_compensated(false);
    /// assert_eq!(FisherAccumulator::storage_len_with(16, 32, plain), 2 * 16 * 32 + 2 * 16);
    /// ```
    pub const fn storage_len_with(k: usize, d: usize, options: FisherOptions) -> usize {
        if options.compensated {
            Self::storage_len(k, d)
        } else {
            2 * k * d + 2 * k
        }
    }

    /// [`storage_len_with`](Self::storage_len_with), `None` when it overflows (storage no caller
    /// can give, where the wrapped value could pass).
    fn checked_storage_len_with(k: usize, d: usize, options: FisherOptions) -> Option<usize> {
        let (per_kd, per_k) = if options.compensated { (4, 3) } else { (2, 2) };
        d.checked_mul(per_kd)?.checked_add(per_k)?.checked_mul(k)
    }

    /// An empty accumulator for `gmm` in `storage` (at least
    /// [`storage_len_with(K, D, options)`](Self::storage_len_with) values, zeroed here).
    pub fn new(gmm: DiagGmm<'g>, options: FisherOptions, storage: &'s mut [f32]) -> Result<Self> {
        let (k, d) = (gmm.k(), gmm.d());
        let need = Self::checked_storage_len_with(k, d, options);
        let given = storage.len();
        let Some(storage) = need.and_then(|need| storage.get_mut(..need)) else {
            let needed = need.unwrap_or(usize::MAX);
            return Err(Error::BufferTooSmall { what: "Fisher accumulator storage", needed, given });
        };
        let (ck, cd) = if options.compensated { (k, k * d) } else { (0, 0) };
        // `_checked`: the parts fit (`need` is their sum), which the optimiser cannot see; the
        // empty default is never taken (and would only make the accumulator reject every push).
        let (s1, rest) = storage.split_at_mut_checked(k * d).unwrap_or_default();
        let (s2, rest) = rest.split_at_mut_checked(k * d).unwrap_or_default();
        let (c1, rest) = rest.split_at_mut_checked(cd).unwrap_or_default();
        let (c2, rest) = rest.split_at_mut_checked(cd).unwrap_or_default();
        let (s0, rest) = rest.split_at_mut_checked(k).unwrap_or_default();
        let (c0, q) = rest.split_at_mut_checked(ck).unwrap_or_default();
        Self::from_parts(gmm, options, [s0, s1, s2, c0, c1, c2, q])
    }

    fn from_parts(gmm: DiagGmm<'g>, options: FisherOptions, parts: [&'s mut [f32]; 7]) -> Result<Self> {
        if let Assignment::Soft { threshold } = options.assignment {
            if !(threshold.is_finite() && threshold >= 0.0) {
                return Err(Error::Value { what: "posterior threshold", index: 0, reason: "must be finite and >= 0" });
            }
        }
        let [s0, s1, s2, c0, c1, c2, q] = parts;
        let mut sums = [CompensatedSums::new(s0, c0), CompensatedSums::new(s1, c1), CompensatedSums::new(s2, c2)];
        sums.iter_mut().for_each(CompensatedSums::reset);
        // Built in the return value (a moved 92-byte accumulator costs a linked memcpy on Cortex-M).
        let [s0, s1, s2] = sums;
        Ok(FisherAccumulator { gmm, options, n: 0, s0, s1, s2, q })
    }

    /// Forgets every descriptor pushed so far.
    pub fn reset(&mut self) {
        self.n = 0;
        for s in [&mut self.s0, &mut self.s1, &mut self.s2] {
            s.reset();
        }
    }

    /// The mixture this accumulator encodes against.
    pub fn gmm(&self) -> &DiagGmm<'g> {
        &self.gmm
    }

    /// Number of descriptors accumulated.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// The sums `(sum q [K], sum q t [K, D], sum q (t^2 - 1) [K, D])`, for EM updates or for
    /// sending to another device. Folds the compensation into the sums first (one rounding).
    pub fn statistics(&mut self) -> (&[f32], &[f32], &[f32]) {
        (self.s0.fold(), self.s1.fold(), self.s2.fold())
    }

    /// The values [`statistics`](Self::statistics) returns, bit for bit, copied into `s0` [K],
    /// `s1` [K, D] and `s2` [K, D] from a shared reference: the sums are left as they are.
    ///
    /// ```
    /// use fvae::fisher::{FisherOptions, FisherStorage};
    /// use fvae::gmm::DiagGmmOwned;
    /// let gmm = DiagGmmOwned::<2, 1>::new([0.5, 0.5], [[-1.0], [1.0]], [[1.0], [1.0]])?;
    /// let mut storage = FisherStorage::<2, 1>::new();
    /// let mut acc = storage.accumulator(gmm.view(), FisherOptions::DEFAULT)?;
    /// for x in [0.1, 0.7, -2.0, 1e-3] {
    ///     acc.push(&[x])?;
    /// }
    /// let (mut s0, mut s1, mut s2) = ([0.0; 2], [0.0; 2], [0.0; 2]);
    /// let shared = &acc;
    /// shared.statistics_to(&mut s0, &mut s1, &mut s2)?;
    /// assert!(shared.statistics_to(&mut [0.0; 1], &mut s1, &mut s2).is_err()); // K = 2
    /// assert_eq!(acc.statistics(), (&s0[..], &s1[..], &s2[..]));
    /// # Ok::<(), fvae::Error>(())
    /// ```
    pub fn statistics_to(&self, s0: &mut [f32], s1: &mut [f32], s2: &mut [f32]) -> Result<()> {
        self.s0.copy_folded("s0 (K)", s0)?;
        self.s1.copy_folded("s1 (K * D)", s1)?;
        self.s2.copy_folded("s2 (K * D)", s2)
    }

    /// Adds one descriptor (length D) and returns its log-likelihood. A rejected descriptor
    /// (wrong length, NaN or infinite values, or one too far from every component for f32)
    /// leaves the accumulator exactly as it was.
    pub fn push(&mut self, x: &[f32]) -> Result<f32> {
        self.gmm.check_descriptor(x, 0)?;
        self.push_checked(x, 0)
    }

    fn push_checked(&mut self, x: &[f32], row: usize) -> Result<f32> {
        let lse = self.gmm.posteriors_unchecked(x, self.options.assignment, self.q, row)?;
        let sums = [&mut self.s0, &mut self.s1, &mut self.s2];
        Self::add_posteriors(&self.gmm, self.options, sums, x, &mut *self.q, lse);
        self.n += 1;
        Ok(lse)
    }

    /// Adds descriptor `x` with posteriors `q` [K] (and `lse`, the f32 log-likelihood they came
    /// with) to the sums `[s0, s1, s2]`. On the exact path (compensated, soft without a threshold)
    /// where f64 is hardware, the components with `q >= ACCURATE_Q` are first
    /// [refined](Self::refine) (`q` is scratch).
    fn add_posteriors(
        gmm: &DiagGmm<'_>,
        options: FisherOptions,
        sums: [&mut CompensatedSums<'_>; 3],
        x: &[f32],
        q: &mut [f32],
        lse: f32,
    ) {
        let [s0, s1, s2] = sums;
        if options.compensated {
            // The exact path only: a threshold or hard assignment departs from the exact
            // posteriors by more than the refinement corrects.
            if F64_IN_HARDWARE && options.assignment == (Assignment::Soft { threshold: 0.0 }) {
                Self::refine(gmm, [&mut *s0, &mut *s1, &mut *s2], x, q, lse);
            }
            let ((s0, c0), (s1, c1), (s2, c2)) = (s0.parts_mut(), s1.parts_mut(), s2.parts_mut());
            for ((s, c), &q) in s0.iter_mut().zip(c0.iter_mut()).zip(q.iter()) {
                gaussian::scalar::kahan_add(s, c, q);
            }
            gaussian::accumulate_compensated(x, gmm.means(), gmm.inv_sigma(), q, s1, c1, s2, c2);
        } else {
            let ((s0, _), (s1, _), (s2, _)) = (s0.parts_mut(), s1.parts_mut(), s2.parts_mut());
            s0.iter_mut().zip(q.iter()).for_each(|(s, &q)| *s += q);
            gaussian::accumulate(x, gmm.means(), gmm.inv_sigma(), q, s1, s2);
        }
    }

    /// The refinement of [`add_posteriors`](Self::add_posteriors) (compensated sums, f64 in
    /// hardware, soft assignment without a threshold): the components with `q >= ACCURATE_Q` get
    /// their posterior recomputed in f64, their `s0` and terms added in f64, and their `q` zeroed
    /// so the f32 kernel skips them.
    fn refine(gmm: &DiagGmm<'_>, sums: [&mut CompensatedSums<'_>; 3], x: &[f32], q: &mut [f32], lse: f32) {
        let [s0, s1, s2] = sums;
        let ((s0, c0), (s1, c1), (s2, c2)) = (s0.parts_mut(), s1.parts_mut(), s2.parts_mut());
        // At most 16 posteriors summing to 1 are >= 1/16.
        let (mut big, mut n_big, mut rest) = ([(0usize, 0.0f64); 16], 0, 0.0f64);
        for (k, qk) in q.iter_mut().enumerate() {
            if *qk >= ACCURATE_Q && n_big < big.len() {
                big[n_big] = (k, *qk as f64);
                n_big += 1;
                *qk = 0.0;
            } else {
                rest += *qk as f64;
            }
        }
        let big = &mut big[..n_big];
        if !big.is_empty() {
            // q_k = exp(l_k - lse) / sum_j exp(l_j - lse): the refined components' l_k in
            // f64, the others' exp(l_j - lse) are their f32 posteriors.
            let mut refined = [0.0f64; 16];
            let mut total = rest;
            for ((k, _), v) in big.iter().zip(refined.iter_mut()) {
                *v = math::exp_f64(gmm.log_joint_f64(x, *k) - lse as f64);
                total += *v;
            }
            // Far from every component (distances near f32's range) the f32 and f64 log-densities
            // can differ enough to overflow or underflow; the f32 posteriors stand then.
            if total.is_finite() && total > 0.0 {
                big.iter_mut().zip(refined).for_each(|((_, q), v)| *q = v / total);
            }
        }
        let d = gmm.d();
        for &(k, qk) in big.iter() {
            let r = k * d..(k + 1) * d;
            let (Some(m), Some(inv), Some(a1), Some(e1), Some(a2), Some(e2)) = (
                gmm.means().get(r.clone()),
                gmm.inv_sigma().get(r.clone()),
                s1.get_mut(r.clone()),
                c1.get_mut(r.clone()),
                s2.get_mut(r.clone()),
                c2.get_mut(r),
            ) else {
                continue;
            };
            if let (Some(s), Some(c)) = (s0.get_mut(k), c0.get_mut(k)) {
                gaussian::scalar::pair_add_f64(s, c, qk);
            }
            gaussian::accumulate_compensated_f64(x, m, inv, qk, a1, e1, a2, e2);
        }
    }

    /// Adds N descriptors `xs` [N, D] (row-major). Every row's length and values are checked
    /// before any is taken, so a batch with a malformed row takes none of it. The only error
    /// possible after that is a row too far from every component for f32: its flat index is in
    /// the error, and exactly the rows before it were taken.
    pub fn push_batch(&mut self, xs: &[f32]) -> Result<()> {
        let d = self.gmm.d().max(1); // D >= 1 by construction, which the optimiser cannot see
        self.gmm.rows(xs)?;
        for (row, x) in xs.chunks_exact(d).enumerate() {
            self.gmm.check_descriptor(x, row)?;
        }
        let k = self.gmm.k();
        // Distances for several rows at a time (the model read once per block, bit for bit the
        // one-row values) on a stack scratch sized at compile time: none on targets whose batch
        // kernel is row by row anyway (Cortex-M stacks are small), and row by row for large K.
        let rows = (BATCH_SCRATCH / k.max(1)).min(gaussian::BATCH_ROWS);
        if rows < 2 {
            for (row, x) in xs.chunks_exact(d).enumerate() {
                self.push_checked(x, row)?;
            }
            return Ok(());
        }
        let mut scratch = [0.0f32; BATCH_SCRATCH];
        for (b, block) in xs.chunks(rows * d).enumerate() {
            let g = self.gmm;
            g.distances_for_posteriors(block, &mut scratch);
            for (i, (x, q)) in block.chunks_exact(d).zip(scratch.chunks_exact_mut(k)).enumerate() {
                let lse = g.posteriors_from_distances(q, self.options.assignment, b * rows + i)?;
                Self::add_posteriors(&g, self.options, [&mut self.s0, &mut self.s1, &mut self.s2], x, q, lse);
                self.n += 1;
            }
        }
        Ok(())
    }

    /// Adds another accumulator's descriptors (same K and D; the same model is the caller's
    /// responsibility, as on two devices each with its copy).
    pub fn merge(&mut self, other: &FisherAccumulator<'_, '_>) -> Result<()> {
        check_k_d(
            ["merged accumulator K (components)", "merged accumulator D (dimensions)"],
            (self.gmm.k(), self.gmm.d()),
            (other.gmm.k(), other.gmm.d()),
        )?;
        self.s0.merge(&other.s0);
        self.s1.merge(&other.s1);
        self.s2.merge(&other.s2);
        self.n += other.n;
        Ok(())
    }

    /// Adds raw statistics (as returned by [`statistics`](Self::statistics)) of `count`
    /// descriptors, for example received from another device. Checked before anything is
    /// added: wrong lengths or non-finite values leave the accumulator as it was.
    pub fn merge_statistics(&mut self, count: u64, s0: &[f32], s1: &[f32], s2: &[f32]) -> Result<()> {
        let (k, kd) = (self.s0.len(), self.s1.len());
        for (what, s, len) in [("s0", s0, k), ("s1", s1, kd), ("s2", s2, kd)] {
            if s.len() != len {
                return Err(Error::Shape { what, expected: len, found: s.len() });
            }
            check_finite(what, s, 0)?;
        }
        self.s0.add_all(s0);
        self.s1.add_all(s1);
        self.s2.add_all(s2);
        self.n += count;
        Ok(())
    }

    /// Writes the Fisher vector of everything pushed so far into `out`
    /// ([`Layout::len`] values), normalised. The accumulator is unchanged, so the stream can
    /// go on. No descriptor yet is an [`Error::Empty`].
    pub fn finish(&self, layout: Layout, normalization: Normalization, out: &mut [f32]) -> Result<()> {
        let (k, d) = (self.gmm.k(), self.gmm.d());
        let len = layout.len(k, d);
        if out.len() != len {
            return Err(Error::Shape { what: "Fisher vector output", expected: len, found: out.len() });
        }
        if self.n == 0 {
            return Err(Error::Empty { what: "Fisher accumulator (no descriptor pushed)" });
        }
        normalization.check()?;
        let inv_n = 1.0 / self.n as f32;
        // `_checked` and `get_mut`: `out` holds `len` values (checked above), which the optimiser cannot see.
        let shape = Error::Shape { what: "Fisher vector output", expected: len, found: out.len() };
        let (gw, rest) = match layout {
            Layout::VlFeat => out.split_at_mut(0),
            Layout::SkImage => out.split_at_mut_checked(k).ok_or(shape)?,
        };
        let (gmu, gsigma) = rest.split_at_mut_checked(k * d).ok_or(shape)?;
        let sigma_sign = if layout == Layout::SkImage { -1.0 } else { 1.0 };
        for (c, &w) in self.gmm.weights().iter().enumerate() {
            let r = c * d..(c + 1) * d;
            let (Some(gmu), Some(gsigma)) = (gmu.get_mut(r.clone()), gsigma.get_mut(r.clone())) else {
                return Err(shape);
            };
            if w <= 0.0 {
                gmu.iter_mut().chain(gsigma.iter_mut()).for_each(|v| *v = 0.0);
                if let Some(g) = gw.get_mut(c) {
                    *g = 0.0;
                }
                continue;
            }
            let sqrt_w = math::sqrt(w);
            let a = inv_n / sqrt_w;
            let b = sigma_sign * inv_n / (core::f32::consts::SQRT_2 * sqrt_w);
            for (i, o) in r.clone().zip(gmu.iter_mut()) {
                *o = self.s1.get(i) * a;
            }
            for (i, o) in r.clone().zip(gsigma.iter_mut()) {
                *o = self.s2.get(i) * b;
            }
            // The sums were formed with the f32 `inv_sigma`, whose square is `(1 + e) / var`, so
            // they hold `S2 + e (S2 + s0)`: `e s0` does not cancel where S2 does (at a fitted
            // model) and would stand out in the improved vector; taken out here, in f64. (Where
            // f64 is software the mixture keeps no `e`, and no f64 code is linked for it.)
            if F64_IN_HARDWARE {
                let s0 = self.s0.get_f64(c);
                for ((i, o), &e) in
                    r.zip(gsigma.iter_mut()).zip(self.gmm.inv_sigma_err().get(c * d..).unwrap_or_default())
                {
                    let e = e as f64;
                    *o = ((self.s2.get_f64(i) - e * s0) / (1.0 + e) * b as f64) as f32;
                }
            }
            if let Some(g) = gw.get_mut(c) {
                // s0 / N and w nearly cancel at a fitted model: subtract in f64.
                let s0 = self.s0.get_f64(c);
                *g = ((s0 / self.n as f64 - w as f64) / sqrt_w as f64) as f32;
            }
        }
        normalization.apply(out);
        Ok(())
    }
}

/// Storage for a compensated [`FisherAccumulator`] with sizes known at compile time
/// (`4 K D + 3 K` floats). With `compensated: false` the compensation arrays go unused: a
/// [`PlainFisherStorage`] does not reserve them.
///
/// ```
/// use fvae::fisher::{FisherOptions, FisherStorage, Layout, Normalization};
/// use fvae::gmm::DiagGmmOwned;
/// let gmm = DiagGmmOwned::<2, 2>::new([0.5, 0.5], [[0.0; 2], [1.0; 2]], [[1.0; 2]; 2])?;
/// let mut storage = FisherStorage::<2, 2>::new();
/// let mut acc = storage.accumulator(gmm.view(), FisherOptions::default())?;
/// acc.push(&[0.2, 0.4])?;
/// let mut fv = [0.0; 8];
/// acc.finish(Layout::VlFeat, Normalization::IMPROVED, &mut fv)?;
/// # Ok::<(), fvae::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct FisherStorage<const K: usize, const D: usize> {
    s0: [f32; K],
    s1: [[f32; D]; K],
    s2: [[f32; D]; K],
    c0: [f32; K],
    c1: [[f32; D]; K],
    c2: [[f32; D]; K],
    q: [f32; K],
}

impl<const K: usize, const D: usize> FisherStorage<K, D> {
    /// Zeroed storage.
    pub const fn new() -> Self {
        let (v, m) = ([0.0; K], [[0.0; D]; K]);
        FisherStorage { s0: v, s1: m, s2: m, c0: v, c1: m, c2: m, q: v }
    }

    /// An accumulator over this storage; the GMM must be K x D. With
    /// `options.compensated == false` the compensation arrays are left unused.
    pub fn accumulator<'g>(&mut self, gmm: DiagGmm<'g>, options: FisherOptions) -> Result<FisherAccumulator<'g, '_>> {
        check_k_d(
            ["GMM for FisherStorage: K (components)", "GMM for FisherStorage: D (dimensions)"],
            (K, D),
            (gmm.k(), gmm.d()),
        )?;
        let (c0, c1, c2): (&mut [f32], &mut [f32], &mut [f32]) = if options.compensated {
            (&mut self.c0, self.c1.as_flattened_mut(), self.c2.as_flattened_mut())
        } else {
            (&mut [], &mut [], &mut [])
        };
        let parts = [&mut self.s0[..], self.s1.as_flattened_mut(), self.s2.as_flattened_mut(), c0, c1, c2, &mut self.q];
        FisherAccumulator::from_parts(gmm, options, parts)
    }
}

impl<const K: usize, const D: usize> Default for FisherStorage<K, D> {
    fn default() -> Self {
        Self::new()
    }
}

/// Storage for a plain-sum [`FisherAccumulator`] (`compensated: false`) with sizes known at
/// compile time: `2 K D + 2 K` floats, half of [`FisherStorage`], for parts with very little RAM
/// and short streams.
///
/// ```
/// use fvae::fisher::{FisherAccumulator, FisherOptions, PlainFisherStorage};
/// use fvae::gmm::DiagGmmOwned;
/// const PLAIN: FisherOptions = FisherOptions::DEFAULT.with_compensated(false);
/// assert_eq!(
///     core::mem::size_of::<PlainFisherStorage<16, 32>>(),
///     4 * FisherAccumulator::storage_len_with(16, 32, PLAIN),
/// );
/// let gmm = DiagGmmOwned::<2, 2>::new([0.5, 0.5], [[0.0; 2], [1.0; 2]], [[1.0; 2]; 2])?;
/// let mut storage = PlainFisherStorage::<2, 2>::new();
/// let mut acc = storage.accumulator(gmm.view(), PLAIN)?;
/// acc.push(&[0.2, 0.4])?;
/// // Compensated sums need the compensation arrays this storage does not have.
/// assert!(storage.accumulator(gmm.view(), FisherOptions::DEFAULT).is_err());
/// # Ok::<(), fvae::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct PlainFisherStorage<const K: usize, const D: usize> {
    s0: [f32; K],
    s1: [[f32; D]; K],
    s2: [[f32; D]; K],
    q: [f32; K],
}

impl<const K: usize, const D: usize> PlainFisherStorage<K, D> {
    /// Zeroed storage.
    pub const fn new() -> Self {
        let (v, m) = ([0.0; K], [[0.0; D]; K]);
        PlainFisherStorage { s0: v, s1: m, s2: m, q: v }
    }

    /// An accumulator over this storage; the GMM must be K x D and `options.compensated` false
    /// (else [`Error::Value`]: use [`FisherStorage`]).
    pub fn accumulator<'g>(&mut self, gmm: DiagGmm<'g>, options: FisherOptions) -> Result<FisherAccumulator<'g, '_>> {
        check_k_d(
            ["GMM for PlainFisherStorage: K (components)", "GMM for PlainFisherStorage: D (dimensions)"],
            (K, D),
            (gmm.k(), gmm.d()),
        )?;
        if options.compensated {
            let reason = "must be false for PlainFisherStorage (FisherStorage holds compensated sums)";
            return Err(Error::Value { what: "FisherOptions::compensated", index: 0, reason });
        }
        let parts = [
            &mut self.s0[..],
            self.s1.as_flattened_mut(),
            self.s2.as_flattened_mut(),
            &mut [],
            &mut [],
            &mut [],
            &mut self.q,
        ];
        FisherAccumulator::from_parts(gmm, options, parts)
    }
}

impl<const K: usize, const D: usize> Default for PlainFisherStorage<K, D> {
    fn default() -> Self {
        Self::new()
    }
}
