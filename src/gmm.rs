//! Diagonal-covariance Gaussian mixtures: validated parameters, precomputed constants, and
//! per-descriptor log-densities, posteriors and log-likelihoods.
//!
//! Two forms share one implementation: [`DiagGmm`], a `Copy` view over borrowed slices (from
//! your arrays or a `.safetensors` buffer in flash, with the constants in caller memory), and
//! [`DiagGmmOwned`], a const-generic owned value for firmware that knows K and D at compile
//! time. Every computation is on the view.
//!
//! Definitions (docs/design.md): `log N(x | k) = -1/2 (D log 2pi + sum_d log var_kd +
//! sum_d (x_d - mu_kd)^2 / var_kd)`, computed in this direct form; posteriors are the softmax
//! over k of `log w_k + log N(x | k)` with the maximum subtracted first.

use crate::formats::safetensors::SafeTensors;
use crate::math::F32x2;
use crate::{math, Error, Result};
use fvae_kernels::gaussian;
use fvae_kernels::math::EXP_MIN;

/// How posteriors are turned into assignments.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Assignment {
    /// Soft assignments; posteriors below `threshold` are set to 0 (not renormalised, as VLFeat
    /// does with its 1e-6). `threshold: 0.0` keeps every posterior.
    Soft {
        /// Posteriors strictly below this become 0.
        threshold: f32,
    },
    /// One-hot at the most likely component, ties to the lowest index (VLFeat's fast mode).
    Hard,
}

impl Default for Assignment {
    /// Soft, with no threshold.
    fn default() -> Self {
        Assignment::Soft { threshold: 0.0 }
    }
}

/// A diagonal GMM with K components in D dimensions, borrowing its parameters and constants.
///
/// ```
/// use fvae::gmm::DiagGmm;
/// let (weights, means, variances) = ([0.25, 0.75], [0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 2.0, 2.0]);
/// let mut consts = [0.0; DiagGmm::constants_len(2, 2)];
/// let gmm = DiagGmm::new(&weights, &means, &variances, &mut consts)?;
/// let mut q = [0.0; 2];
/// let log_likelihood = gmm.posteriors(&[0.5, 0.5], &mut q)?;
/// assert!((q[0] + q[1] - 1.0).abs() < 1e-6 && log_likelihood < 0.0);
/// # Ok::<(), fvae::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct DiagGmm<'a> {
    k: usize,
    d: usize,
    weights: &'a [f32],
    means: &'a [f32],
    /// 1 / sqrt(var), [K, D].
    inv_sigma: &'a [f32],
    /// `inv_sigma^2 var - 1`, [K, D]: how far the f32 `inv_sigma` is from exact, for the Fisher
    /// vector's variance block (where that error does not cancel); empty where f64 is software.
    inv_sigma_err: &'a [f32],
    /// -1/2 (D log 2pi + sum_d log var_kd), [K], rounded to f32 ...
    log_norm: &'a [f32],
    /// ... and what that rounding lost, [K], so accurate log-densities see it to f64 precision.
    log_norm_lo: &'a [f32],
    /// log w_k, [K] (-inf for a zero weight).
    log_weights: &'a [f32],
}

/// ln(2 pi) as an f32 pair (hi + lo = the f64 value to 1e-15).
const LN_2PI: F32x2 = F32x2 { hi: 1.837_877, lo: 3.126_835_3e-8 };

/// Whether this target has f64 in hardware (64-bit targets and wasm32). Where it is software
/// (32-bit microcontrollers) the Fisher accumulator does not refine in f64 and the mixture keeps
/// no `inv_sigma_err`: there the cost per descriptor and the RAM are those of plain f32.
pub(crate) const F64_IN_HARDWARE: bool = cfg!(any(target_pointer_width = "64", target_arch = "wasm32"));

/// K x D blocks of `inv_sigma_err` a mixture keeps: 1 where f64 is hardware, else 0.
const ERR_BLOCKS: usize = F64_IN_HARDWARE as usize;

/// K and D from `weights` [K] and `means` [K, D], or the error naming which is wrong.
fn dims(weights: &[f32], means: &[f32]) -> Result<(usize, usize)> {
    let k = weights.len();
    if k == 0 {
        return Err(Error::Empty { what: "weights" });
    }
    if means.is_empty() || !means.len().is_multiple_of(k) {
        return Err(Error::Shape { what: "means", expected: k * (means.len() / k).max(1), found: means.len() });
    }
    Ok((k, means.len() / k))
}

/// Checks the parameters and fills `inv_sigma` [K*D] (which holds the variances on entry: an
/// owned mixture then loads with no K x D array of its own on the stack), `inv_sigma_err` [K*D]
/// (when kept: empty otherwise), `log_norm` [K], `log_norm_lo` [K] and `log_weights` [K].
fn prepare(
    weights: &[f32],
    means: &[f32],
    inv_sigma: &mut [f32],
    inv_sigma_err: &mut [f32],
    log_norm: &mut [f32],
    log_norm_lo: &mut [f32],
    log_weights: &mut [f32],
) -> Result<(usize, usize)> {
    let (k, d) = dims(weights, means)?;
    let variances = inv_sigma;
    if variances.len() != k * d {
        return Err(Error::Shape { what: "covariances", expected: k * d, found: variances.len() });
    }
    let mut sum = F32x2::ZERO;
    for (i, &w) in weights.iter().enumerate() {
        if !(w.is_finite() && w >= 0.0) {
            return Err(Error::Value { what: "weights", index: i, reason: "must be finite and >= 0" });
        }
        sum = sum.add_f32(w);
    }
    if (sum.hi - 1.0).abs() > 1e-3 {
        return Err(Error::Value { what: "weights", index: k - 1, reason: "do not sum to 1 within 1e-3" });
    }
    if let Some(i) = means.iter().position(|m| !m.is_finite()) {
        return Err(Error::Value { what: "means", index: i, reason: "not finite" });
    }
    if let Some(i) = variances.iter().position(|v| !(v.is_finite() && *v > 0.0)) {
        return Err(Error::Value { what: "covariances", index: i, reason: "must be finite and > 0" });
    }
    let outs = log_norm.iter_mut().zip(log_norm_lo.iter_mut()).zip(log_weights.iter_mut());
    for (c, (&w, ((hi, lo), lw))) in weights.iter().zip(outs).enumerate() {
        // -1/2 (D ln 2pi + sum ln var) to about 48 bits as an f32 pair (f64 would be software on a
        // single-precision FPU): hi is the f32 rounding, lo what it lost.
        let mut log_det = F32x2::ZERO;
        // `get`: the rows exist (lengths checked above), which the optimiser cannot see.
        let r = c * d..(c + 1) * d;
        let found = variances.len();
        let Some(row) = variances.get_mut(r.clone()) else {
            return Err(Error::Shape { what: "covariances", expected: k * d, found });
        };
        let mut err = inv_sigma_err.get_mut(r).unwrap_or_default().iter_mut(); // empty when not kept
        for s in row {
            let v = *s;
            *s = 1.0 / math::sqrt(v);
            if let Some(e) = err.next() {
                *e = math::square_times_minus_one(*s, v);
            }
            // The pair logarithm where the refinement runs; elsewhere f32's (as the posteriors are
            // f32 there), which keeps Cortex-M flash as it was.
            log_det = if F64_IN_HARDWARE { log_det.add(F32x2::ln(v)) } else { log_det.add_f32(math::ln(v)) };
        }
        let exact = LN_2PI.mul_f32(d as f32).add(log_det).mul_f32(-0.5);
        *hi = exact.hi;
        *lo = exact.lo;
        *lw = if w > 0.0 { math::ln(w) } else { f32::NEG_INFINITY };
    }
    Ok((k, d))
}

/// `log w_k + log N(x | k)` from the squared distance `dist` and the component's constants:
/// `((hi - dist / 2) + lw) + lo`, in that order everywhere (the pruning of
/// `distances_for_posteriors` relies on every caller rounding alike; each step is monotone in
/// `dist`). `lo`, what `hi` lost to f32 rounding, is added last, to the small value left once the
/// large terms have cancelled: at a component with a tiny variance `hi` is in the hundreds and
/// its rounding (up to 8e-6) would bias that component's every posterior by as much, a bias the
/// Fisher vector's sums keep instead of averaging out.
#[inline(always)]
fn log_joint(hi: f32, lo: f32, dist: f32, lw: f32) -> f32 {
    ((hi - 0.5 * dist) + lw) + lo
}

impl<'a> DiagGmm<'a> {
    /// The number of f32 constants a K x D mixture precomputes: `2 * K * D + 3 * K` where f64
    /// is hardware (64-bit targets, wasm32), `K * D + 3 * K` on 32-bit microcontrollers.
    pub const fn constants_len(k: usize, d: usize) -> usize {
        (1 + ERR_BLOCKS) * k * d + 3 * k
    }

    /// [`constants_len`](Self::constants_len), `None` when it overflows (a buffer no caller can
    /// give, where the wrapped value could pass).
    fn checked_constants_len(k: usize, d: usize) -> Option<usize> {
        d.checked_mul(1 + ERR_BLOCKS)?.checked_add(3)?.checked_mul(k)
    }

    /// A mixture from `weights` [K], `means` [K, D] and diagonal `variances` [K, D] (row-major),
    /// with its precomputed constants written to `constants`
    /// (at least [`constants_len(K, D)`](Self::constants_len) values).
    ///
    /// Errors: empty or mismatched shapes; a weight negative or non-finite; weights not summing
    /// to 1 within 1e-3; a mean non-finite; a variance non-finite or not > 0; `constants` too
    /// small.
    pub fn new(weights: &'a [f32], means: &'a [f32], variances: &[f32], constants: &'a mut [f32]) -> Result<Self> {
        let k = weights.len();
        let d = means.len().checked_div(k).unwrap_or(0);
        let need = Self::checked_constants_len(k, d).unwrap_or(usize::MAX);
        if constants.len() < need {
            return Err(Error::BufferTooSmall { what: "GMM constants", needed: need, given: constants.len() });
        }
        // `_checked`: the parts fit (`need` is their sum), which the optimiser cannot see.
        let too_small = Error::BufferTooSmall { what: "GMM constants", needed: need, given: constants.len() };
        let (inv_sigma, rest) = constants.split_at_mut_checked(k * d).ok_or(too_small)?;
        let (inv_sigma_err, rest) = rest.split_at_mut_checked(ERR_BLOCKS * k * d).ok_or(too_small)?;
        let (log_norm, rest) = rest.split_at_mut_checked(k).ok_or(too_small)?;
        let (log_norm_lo, rest) = rest.split_at_mut_checked(k).ok_or(too_small)?;
        let log_weights = rest.get_mut(..k).ok_or(too_small)?;
        dims(weights, means)?;
        if variances.len() != inv_sigma.len() {
            return Err(Error::Shape { what: "covariances", expected: inv_sigma.len(), found: variances.len() });
        }
        for (s, &v) in inv_sigma.iter_mut().zip(variances) {
            *s = v;
        }
        prepare(weights, means, inv_sigma, inv_sigma_err, log_norm, log_norm_lo, log_weights)?;
        Ok(DiagGmm { k, d, weights, means, inv_sigma, inv_sigma_err, log_norm, log_norm_lo, log_weights })
    }

    /// A mixture from a `.safetensors` file with tensors `weights` [K], `means` [K, D] and
    /// `covariances` [K, D] (f32, scikit-learn's names for a diagonal `GaussianMixture`), read in
    /// place: the file's buffer must be 4-aligned (see [`Aligned`](crate::formats::Aligned)).
    pub fn from_safetensors(file: &SafeTensors<'a>, constants: &'a mut [f32]) -> Result<Self> {
        let weights = file.tensor("weights")?;
        let means = file.tensor("means")?;
        let variances = file.tensor("covariances")?;
        let k = weights.shape().numel().unwrap_or(0);
        if weights.shape().dims().len() != 1 {
            return Err(Error::Shape { what: "weights rank", expected: 1, found: weights.shape().dims().len() });
        }
        let d = match means.shape().dims() {
            [_, d] => *d,
            dims => return Err(Error::Shape { what: "means rank", expected: 2, found: dims.len() }),
        };
        means.expect_shape("means", &[k, d])?;
        variances.expect_shape("covariances", &[k, d])?;
        Self::new(weights.as_f32("weights")?, means.as_f32("means")?, variances.as_f32("covariances")?, constants)
    }

    /// Number of components K.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Descriptor dimension D.
    pub fn d(&self) -> usize {
        self.d
    }

    /// Mixture weights [K].
    pub fn weights(&self) -> &'a [f32] {
        self.weights
    }

    /// Means [K, D], row-major.
    pub fn means(&self) -> &'a [f32] {
        self.means
    }

    /// `1 / sigma` [K, D], row-major (the standard-deviation reciprocals).
    pub fn inv_sigma(&self) -> &'a [f32] {
        self.inv_sigma
    }

    /// `inv_sigma^2 var - 1` [K, D]: the relative error of the f32 [`inv_sigma`](Self::inv_sigma)'s
    /// square (a few 1e-8), computed without rounding it away; empty where f64 is software.
    pub(crate) fn inv_sigma_err(&self) -> &'a [f32] {
        self.inv_sigma_err
    }

    // `v - v` is deliberate: 0 for finite values, NaN for infinities and NaN.
    #[allow(clippy::eq_op)]
    pub(crate) fn check_descriptor(&self, x: &[f32], row: usize) -> Result<()> {
        if x.len() != self.d {
            return Err(Error::Shape { what: "descriptor", expected: self.d, found: x.len() });
        }
        // v - v is 0 for a finite v and NaN for an infinity or NaN, and a NaN survives every add:
        // one subtraction and one add per value decide, with no compare and branch; the position
        // is looked for only on failure. On vector hardware, eight independent sums: one chain
        // of float adds can be neither reordered nor vectorised (its latency per value showed on
        // x86). On a Cortex-M4F the one chain takes fewer instructions (7 926 against 8 189 per
        // descriptor for fv_k16_d32), so it stays there.
        let sum = if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
            let (chunks, tail) = x.as_chunks::<8>();
            let mut lanes = [0.0f32; 8];
            for c in chunks {
                for (l, &v) in lanes.iter_mut().zip(c) {
                    *l += v - v;
                }
            }
            tail.iter().fold(lanes.iter().sum::<f32>(), |acc, &v| acc + (v - v))
        } else {
            x.iter().fold(0.0f32, |acc, &v| acc + (v - v))
        };
        if sum != 0.0 {
            let i = x.iter().position(|v| !v.is_finite()).unwrap_or(0);
            return Err(Error::Value { what: "descriptor", index: row * self.d + i, reason: "not finite" });
        }
        Ok(())
    }

    fn check_out(&self, what: &'static str, out: &[f32], rows: usize) -> Result<()> {
        if out.len() != rows * self.k {
            return Err(Error::Shape { what, expected: rows * self.k, found: out.len() });
        }
        Ok(())
    }

    /// `out[k] = log N(x | mu_k, diag var_k)`, the mixture weight not included.
    ///
    /// Accurate to f32 rounding of the exact value: the distance is summed in f64, because the
    /// result is often a small difference of two numbers near 100 (tight variances in many
    /// dimensions). The posterior methods use the faster f32 form, where only differences
    /// between components matter.
    ///
    /// ```
    /// # use fvae::gmm::DiagGmm;
    /// let mut c = [0.0; DiagGmm::constants_len(1, 1)];
    /// let gmm = DiagGmm::new(&[1.0], &[0.0], &[1.0], &mut c)?;
    /// let mut out = [0.0];
    /// gmm.log_densities(&[0.0], &mut out)?;
    /// assert!((out[0] + 0.918_938_5).abs() < 1e-6); // -1/2 log 2pi
    /// # Ok::<(), fvae::Error>(())
    /// ```
    pub fn log_densities(&self, x: &[f32], out: &mut [f32]) -> Result<()> {
        self.check_descriptor(x, 0)?;
        self.check_out("log-density output", out, 1)?;
        self.log_densities_accurate(x, out);
        Ok(())
    }

    fn log_densities_accurate(&self, x: &[f32], out: &mut [f32]) {
        let d = self.d;
        for (c, o) in out.iter_mut().enumerate() {
            let mut dist = [0.0f64];
            let r = c * d..(c + 1) * d;
            // `get`: `out` holds K values (checked by the callers), which the optimiser cannot see.
            let (Some(mu), Some(s), Some(&hi), Some(&lo)) =
                (self.means.get(r.clone()), self.inv_sigma.get(r), self.log_norm.get(c), self.log_norm_lo.get(c))
            else {
                return;
            };
            gaussian::sq_mahalanobis_f64(x, mu, s, &mut dist);
            *o = (hi as f64 + lo as f64 - 0.5 * dist[0]) as f32;
        }
    }

    /// `log w_k + log N(x | k)` for component `k` in f64 (distance and normalisation to about
    /// 1e-9, `log w_k` as its f32), for the posteriors a Fisher accumulator refines; `-inf` past
    /// the end.
    pub(crate) fn log_joint_f64(&self, x: &[f32], k: usize) -> f64 {
        let r = k * self.d..(k + 1) * self.d;
        let (Some(mu), Some(s), Some(&hi), Some(&lo), Some(&lw)) = (
            self.means.get(r.clone()),
            self.inv_sigma.get(r),
            self.log_norm.get(k),
            self.log_norm_lo.get(k),
            self.log_weights.get(k),
        ) else {
            return f64::NEG_INFINITY;
        };
        let mut dist = [0.0f64];
        gaussian::sq_mahalanobis_f64(x, mu, s, &mut dist);
        // log w rounded to f32 (half an ulp, 6e-8 at w = 1/4): measured negligible here.
        (hi as f64 + lo as f64 - 0.5 * dist[0]) + lw as f64
    }

    /// Soft assignments `out[k] = p(k | x)` (summing to 1), and the log-likelihood
    /// `log sum_k w_k N(x | k)` as the return value.
    pub fn posteriors(&self, x: &[f32], out: &mut [f32]) -> Result<f32> {
        self.posteriors_with(x, Assignment::default(), out)
    }

    /// Posteriors with an [`Assignment`] rule (threshold or hard); returns the log-likelihood.
    ///
    /// ```
    /// # use fvae::gmm::{Assignment, DiagGmm};
    /// let mut c = [0.0; DiagGmm::constants_len(2, 1)];
    /// let gmm = DiagGmm::new(&[0.5, 0.5], &[0.0, 1.0], &[1.0, 1.0], &mut c)?;
    /// let mut q = [0.0; 2];
    /// gmm.posteriors_with(&[0.5], Assignment::Hard, &mut q)?; // a tie: the lowest index wins
    /// assert_eq!(q, [1.0, 0.0]);
    /// # Ok::<(), fvae::Error>(())
    /// ```
    pub fn posteriors_with(&self, x: &[f32], assignment: Assignment, out: &mut [f32]) -> Result<f32> {
        self.check_descriptor(x, 0)?;
        self.check_out("posterior output", out, 1)?;
        self.posteriors_unchecked(x, assignment, out, 0)
    }

    /// Posteriors of a descriptor already checked; `row` only labels errors.
    pub(crate) fn posteriors_unchecked(
        &self,
        x: &[f32],
        assignment: Assignment,
        out: &mut [f32],
        row: usize,
    ) -> Result<f32> {
        gaussian::sq_mahalanobis(x, self.means, self.inv_sigma, out);
        self.posteriors_from_distances(out, assignment, row)
    }

    /// Squared distances of the rows of `xs` [N, D] (N up to a few blocks) into `out` [N, K], for
    /// [`posteriors_from_distances`](Self::posteriors_from_distances): the posteriors, the
    /// log-likelihoods and hard assignments come out bit for bit as from the full distances,
    /// but a component whose posterior is certainly exactly 0 may keep a partial distance.
    ///
    /// Why that is exact: the partial sums (the first columns, [`gaussian::sq_mahalanobis_batch_prefix`])
    /// are at most the full ones in f32; `v = (c - 0.5 dist) + lw` and `v - max` are monotone in
    /// each input under round-to-nearest; and the best component's full `v` is at most the
    /// maximum. So if the partial's `v - v_best` is already below [`EXP_MIN`], the full one's
    /// `v - max` is too, and the softmax's `exp` gives exactly 0 for either (every path flushes
    /// exactly the arguments below `EXP_MIN`); the maximum, the sum and so the log-likelihood
    /// are untouched, and such a component is never the argmax. Components that may matter get
    /// their full distance, bit for bit [`gaussian::sq_mahalanobis`]'s. When many may matter
    /// (posteriors not sharply peaked) the block falls back to the plain batch kernel.
    pub(crate) fn distances_for_posteriors(&self, xs: &[f32], out: &mut [f32]) {
        let (d, k) = (self.d, self.k);
        // The bound covers the first PREFIX columns. On the benchmark data (D = 128) that leaves
        // 1.0 component per row to finish, against 2.2 with 32 columns; below D = 96 the bound
        // would cost more than half the work, and the plain batch kernel is used. So it is where
        // the kernels have no bound to compute (it would be 0, pruning nothing).
        const PREFIX: usize = 48;
        if d < 2 * PREFIX || k < 4 || !gaussian::has_prefix_bounds() {
            return gaussian::sq_mahalanobis_batch(xs, d, self.means, self.inv_sigma, out);
        }
        gaussian::sq_mahalanobis_batch_prefix(xs, d, PREFIX, self.means, self.inv_sigma, out);
        for (x, o) in xs.chunks_exact(d).zip(out.chunks_exact_mut(k)) {
            if !self.complete_row(x, o) {
                return gaussian::sq_mahalanobis_batch(xs, d, self.means, self.inv_sigma, out);
            }
        }
    }

    /// Completes one row of [`distances_for_posteriors`](Self::distances_for_posteriors) from its
    /// lower bounds `o` [K]; `false` (with `o` part done) when too many components may matter.
    fn complete_row(&self, x: &[f32], o: &mut [f32]) -> bool {
        let d = self.d;
        // The component most likely best by its bound; any choice is exact, a good one prunes.
        // Eight independent lanes (a loop the compiler turns into vector max and blend), then
        // the best lane: a one-pass scalar argmax cost as much as the pruning saved.
        let (mut lane_v, mut lane_i) = ([f32::NEG_INFINITY; 8], [0usize; 8]);
        let (oc, cc, lc) =
            (o.as_chunks::<8>().0, self.log_norm.as_chunks::<8>().0, self.log_weights.as_chunks::<8>().0);
        let lo = self.log_norm_lo.as_chunks::<8>().0;
        for (chunk, (((ov, cv), lv), lo)) in oc.iter().zip(cc).zip(lc).zip(lo).enumerate() {
            for l in 0..8 {
                let vj = log_joint(cv[l], lo[l], ov[l], lv[l]);
                if vj > lane_v[l] {
                    (lane_v[l], lane_i[l]) = (vj, chunk * 8 + l);
                }
            }
        }
        let tail = o.len() / 8 * 8;
        for (j, (((&dist, &c), &lw), &lo)) in
            o.iter().zip(self.log_norm).zip(self.log_weights).zip(self.log_norm_lo).enumerate().skip(tail)
        {
            let vj = log_joint(c, lo, dist, lw);
            if vj > lane_v[0] {
                (lane_v[0], lane_i[0]) = (vj, j);
            }
        }
        let (mut best, mut best_v) = (0, f32::NEG_INFINITY);
        for (&lv, &li) in lane_v.iter().zip(&lane_i) {
            if lv > best_v {
                (best, best_v) = (li, lv);
            }
        }
        let r = best * d..(best + 1) * d;
        let (Some(mu), Some(s)) = (self.means.get(r.clone()), self.inv_sigma.get(r)) else { return false };
        let mut full = [0.0f32];
        gaussian::sq_mahalanobis(x, mu, s, &mut full);
        let (Some(&c), Some(&lw), Some(&lo)) =
            (self.log_norm.get(best), self.log_weights.get(best), self.log_norm_lo.get(best))
        else {
            return false;
        };
        let v_best = log_joint(c, lo, full[0], lw);
        // NaN (v_best infinite) is not pruned: only a sure 0 is.
        let pruned = |dist: f32, (c, lw, lo): (f32, f32, f32)| log_joint(c, lo, dist, lw) - v_best < EXP_MIN;
        let open = |dist: f32, k: (f32, f32, f32)| !pruned(dist, k);
        let constants =
            || self.log_norm.iter().zip(self.log_weights).zip(self.log_norm_lo).map(|((&c, &lw), &lo)| (c, lw, lo));
        // Counted first (a loop that vectorises); the best one itself is always open.
        let n_open = o.iter().zip(constants()).filter(|&(&dist, k)| open(dist, k)).count();
        if n_open > 1 + self.k / 4 {
            return false;
        }
        if let Some(ob) = o.get_mut(best) {
            *ob = full[0];
        }
        if n_open > 1 {
            for (j, (dist, k)) in o.iter_mut().zip(constants()).enumerate() {
                if j != best && open(*dist, k) {
                    let r = j * d..(j + 1) * d;
                    if let (Some(mu), Some(s)) = (self.means.get(r.clone()), self.inv_sigma.get(r)) {
                        gaussian::sq_mahalanobis(x, mu, s, core::slice::from_mut(dist));
                    }
                }
            }
        }
        true
    }

    /// Posteriors in place of the squared Mahalanobis distances `out` [K] of one descriptor (as
    /// [`gaussian::sq_mahalanobis`] or its batch form writes them); `row` only labels errors.
    pub(crate) fn posteriors_from_distances(&self, out: &mut [f32], assignment: Assignment, row: usize) -> Result<f32> {
        for (((o, &c), &lw), &lo) in out.iter_mut().zip(self.log_norm).zip(self.log_weights).zip(self.log_norm_lo) {
            *o = log_joint(c, lo, *o, lw);
        }
        let best = match assignment {
            Assignment::Hard => Some(argmax(out)),
            Assignment::Soft { .. } => None,
        };
        let lse = gaussian::softmax(out);
        if !lse.is_finite() {
            return Err(Error::Value {
                what: "descriptor",
                index: row * self.d,
                reason: "log-density is not finite for any component (values too far from the model for f32)",
            });
        }
        match (assignment, best) {
            (_, Some(b)) => {
                out.iter_mut().for_each(|q| *q = 0.0);
                if let Some(q) = out.get_mut(b) {
                    *q = 1.0; // always: the arg max of `out`
                }
            }
            (Assignment::Soft { threshold }, None) if threshold > 0.0 => {
                out.iter_mut().filter(|q| **q < threshold).for_each(|q| *q = 0.0);
            }
            _ => {}
        }
        Ok(lse)
    }

    /// `log sum_k w_k N(x | k)`, from the accurate log-densities; `scratch` holds K values.
    /// (The log-likelihood the posterior methods return comes from the fast f32 form, within
    /// about 1e-6 of the largest log-density's magnitude.)
    ///
    /// ```
    /// # use fvae::gmm::DiagGmm;
    /// let mut c = [0.0; DiagGmm::constants_len(2, 1)];
    /// let gmm = DiagGmm::new(&[0.5, 0.5], &[0.0, 0.0], &[1.0, 1.0], &mut c)?;
    /// let ll = gmm.log_likelihood(&[0.0], &mut [0.0; 2])?;
    /// assert!((ll + 0.918_938_5).abs() < 1e-6);
    /// # Ok::<(), fvae::Error>(())
    /// ```
    pub fn log_likelihood(&self, x: &[f32], scratch: &mut [f32]) -> Result<f32> {
        self.check_descriptor(x, 0)?;
        self.check_out("log-likelihood scratch", scratch, 1)?;
        self.log_densities_accurate(x, scratch);
        for (o, &lw) in scratch.iter_mut().zip(self.log_weights) {
            *o += lw;
        }
        let lse = gaussian::softmax(scratch);
        if !lse.is_finite() {
            return Err(Error::Value { what: "descriptor", index: 0, reason: "log-likelihood is not finite in f32" });
        }
        Ok(lse)
    }

    /// [`log_densities`](Self::log_densities) for N descriptors `xs` [N, D] into `out` [N, K].
    pub fn log_densities_batch(&self, xs: &[f32], out: &mut [f32]) -> Result<()> {
        let n = self.rows(xs)?;
        self.check_out("log-density output", out, n)?;
        // `max(1)`: K and D are >= 1 by construction, which the optimiser cannot see.
        for (row, (x, o)) in xs.chunks_exact(self.d.max(1)).zip(out.chunks_exact_mut(self.k.max(1))).enumerate() {
            self.check_descriptor(x, row)?;
            self.log_densities_accurate(x, o);
        }
        Ok(())
    }

    /// [`posteriors_with`](Self::posteriors_with) for N descriptors `xs` [N, D] into `out`
    /// [N, K], and each descriptor's log-likelihood into `log_likelihoods` [N] if given.
    pub fn posteriors_batch(
        &self,
        xs: &[f32],
        assignment: Assignment,
        out: &mut [f32],
        mut log_likelihoods: Option<&mut [f32]>,
    ) -> Result<()> {
        let n = self.rows(xs)?;
        self.check_out("posterior output", out, n)?;
        if let Some(ll) = log_likelihoods.as_deref() {
            if ll.len() != n {
                return Err(Error::Shape { what: "log-likelihood output", expected: n, found: ll.len() });
            }
        }
        // `max(1)`: K and D are >= 1 by construction, which the optimiser cannot see.
        let (d, k) = (self.d.max(1), self.k.max(1));
        for (row, x) in xs.chunks_exact(d).enumerate() {
            self.check_descriptor(x, row)?;
        }
        // All distances first, with the model read once per several descriptors, then each
        // row's posteriors in place (bit for bit the one-descriptor results).
        for (xb, ob) in xs.chunks(gaussian::BATCH_ROWS * d).zip(out.chunks_mut(gaussian::BATCH_ROWS * k)) {
            self.distances_for_posteriors(xb, ob);
        }
        for (row, o) in out.chunks_exact_mut(k).enumerate() {
            let lse = self.posteriors_from_distances(o, assignment, row)?;
            if let Some(l) = log_likelihoods.as_deref_mut().and_then(|ll| ll.get_mut(row)) {
                *l = lse; // always `Some`: `ll` holds N values
            }
        }
        Ok(())
    }

    /// Number of descriptors in a flat [N, D] batch.
    pub(crate) fn rows(&self, xs: &[f32]) -> Result<usize> {
        let d = self.d.max(1); // D >= 1 by construction, which the optimiser cannot see
        if !xs.len().is_multiple_of(d) {
            return Err(Error::Shape { what: "descriptor batch", expected: xs.len() / d * d, found: xs.len() });
        }
        Ok(xs.len() / d)
    }
}

/// Index of the largest value, ties to the lowest index.
fn argmax(v: &[f32]) -> usize {
    let (mut best, mut best_v) = (0, v.first().copied().unwrap_or(0.0));
    for (i, &x) in v.iter().enumerate() {
        if x > best_v {
            (best, best_v) = (i, x);
        }
    }
    best
}

/// A diagonal GMM with sizes known at compile time, owning its parameters and constants
/// (`K * (3 D + 4)` floats), for firmware without a heap.
///
/// ```
/// use fvae::gmm::DiagGmmOwned;
/// let gmm = DiagGmmOwned::<2, 3>::new([0.5, 0.5], [[0.0; 3], [1.0; 3]], [[1.0; 3]; 2])?;
/// let mut q = [0.0; 2];
/// gmm.view().posteriors(&[0.0, 0.0, 0.0], &mut q)?;
/// assert!(q[0] > q[1]);
/// # Ok::<(), fvae::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct DiagGmmOwned<const K: usize, const D: usize> {
    weights: [f32; K],
    means: [[f32; D]; K],
    inv_sigma: [[f32; D]; K],
    inv_sigma_err: [[[f32; D]; K]; ERR_BLOCKS],
    log_norm: [f32; K],
    log_norm_lo: [f32; K],
    log_weights: [f32; K],
}

impl<const K: usize, const D: usize> DiagGmmOwned<K, D> {
    /// Validates and precomputes, as [`DiagGmm::new`].
    pub fn new(weights: [f32; K], means: [[f32; D]; K], variances: [[f32; D]; K]) -> Result<Self> {
        // The variances go where their reciprocal square roots will be.
        let mut g = DiagGmmOwned {
            weights,
            means,
            inv_sigma: variances,
            inv_sigma_err: [[[0.0; D]; K]; ERR_BLOCKS],
            log_norm: [0.0; K],
            log_norm_lo: [0.0; K],
            log_weights: [0.0; K],
        };
        if D == 0 {
            return Err(Error::Empty { what: "descriptor dimension" });
        }
        g.prepare()?;
        Ok(g)
    }

    /// All zeros: no mixture yet, a `const` to place in a `static` (or any memory) and fill
    /// with [`set_from`](Self::set_from) or [`load_safetensors`](Self::load_safetensors), so that
    /// no K x D array passes through the stack.
    /// Its [`view`](Self::view) is not a valid mixture until then.
    pub const EMPTY: Self = DiagGmmOwned {
        weights: [0.0; K],
        means: [[0.0; D]; K],
        inv_sigma: [[0.0; D]; K],
        inv_sigma_err: [[[0.0; D]; K]; ERR_BLOCKS],
        log_norm: [0.0; K],
        log_norm_lo: [0.0; K],
        log_weights: [0.0; K],
    };

    /// Validates and precomputes in place from `weights` [K], `means` [K, D] and `variances`
    /// [K, D] row-major, as [`DiagGmm::new`]. On an error `self` is left [`EMPTY`](Self::EMPTY).
    ///
    /// In firmware the value can live in a `static` (for example a `&'static mut` from
    /// `cortex_m::singleton!`, initialised with `EMPTY`) and be filled at start-up:
    ///
    /// ```
    /// use fvae::gmm::DiagGmmOwned;
    /// let mut gmm = DiagGmmOwned::<2, 3>::EMPTY;
    /// gmm.set_from(&[0.5, 0.5], &[0.0, 0.0, 0.0, 1.0, 1.0, 1.0], &[1.0; 6])?;
    /// let reference = DiagGmmOwned::<2, 3>::new([0.5, 0.5], [[0.0; 3], [1.0; 3]], [[1.0; 3]; 2])?;
    /// let (mut q, mut q_ref) = ([0.0; 2], [0.0; 2]);
    /// gmm.view().posteriors(&[0.2, 0.0, 0.1], &mut q)?;
    /// reference.view().posteriors(&[0.2, 0.0, 0.1], &mut q_ref)?;
    /// assert_eq!(q, q_ref);
    /// // A wrong length or value is an error naming it, and leaves the value empty.
    /// assert!(gmm.set_from(&[0.5, 0.5], &[0.0; 5], &[1.0; 6]).is_err());
    /// assert!(gmm.set_from(&[0.5, 0.5], &[0.0; 6], &[-1.0; 6]).is_err());
    /// # Ok::<(), fvae::Error>(())
    /// ```
    pub fn set_from(&mut self, weights: &[f32], means: &[f32], variances: &[f32]) -> Result<()> {
        let result = self.fill(weights, means, variances);
        if result.is_err() {
            self.clear();
        }
        result
    }

    fn fill(&mut self, weights: &[f32], means: &[f32], variances: &[f32]) -> Result<()> {
        if D == 0 {
            return Err(Error::Empty { what: "descriptor dimension" });
        }
        let (w, m, v) = (&mut self.weights, self.means.as_flattened_mut(), self.inv_sigma.as_flattened_mut());
        for (what, from, to) in [("weights", weights, &mut w[..]), ("means", means, m), ("covariances", variances, v)] {
            if from.len() != to.len() {
                return Err(Error::Shape { what, expected: to.len(), found: from.len() });
            }
            to.copy_from_slice(from);
        }
        self.prepare()
    }

    /// Validates and precomputes, the variances being in `inv_sigma`.
    fn prepare(&mut self) -> Result<()> {
        prepare(
            &self.weights,
            self.means.as_flattened(),
            self.inv_sigma.as_flattened_mut(),
            self.inv_sigma_err.as_flattened_mut().as_flattened_mut(),
            &mut self.log_norm,
            &mut self.log_norm_lo,
            &mut self.log_weights,
        )?;
        Ok(())
    }

    /// Copies a K x D mixture out of a `.safetensors` file (tensors as in
    /// [`DiagGmm::from_safetensors`], f32, any alignment) into `self`, in place: the file's
    /// bytes are decoded straight into the value's arrays, so a value in a `static` (or any
    /// memory) is loaded with no K x D array on the stack. The sizes must match K and D exactly.
    /// On an error `self` is left [`EMPTY`](Self::EMPTY).
    ///
    /// ```
    /// use fvae::formats::safetensors::SafeTensors;
    /// use fvae::gmm::DiagGmmOwned;
    /// // K = 2, D = 1: weights [2], means [2, 1], covariances [2, 1].
    /// let header = br#"{"weights":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"means":{"dtype":"F32","shape":[2,1],"data_offsets":[8,16]},"covariances":{"dtype":"F32","shape":[2,1],"data_offsets":[16,24]}}"#;
    /// let mut file = (header.len() as u64).to_le_bytes().to_vec();
    /// file.extend_from_slice(header);
    /// for v in [0.25f32, 0.75, -1.0, 1.0, 1.0, 4.0] {
    ///     file.extend_from_slice(&v.to_le_bytes());
    /// }
    /// let file = SafeTensors::parse(&file)?;
    /// // In firmware: `static mut GMM: DiagGmmOwned<16, 32> = DiagGmmOwned::EMPTY;` filled at start-up.
    /// let mut gmm = DiagGmmOwned::<2, 1>::EMPTY;
    /// gmm.load_safetensors(&file)?;
    /// assert_eq!(gmm.view().inv_sigma(), &[1.0, 0.5]);
    /// // A file of another size is an error naming the tensor, and leaves the value empty.
    /// assert!(DiagGmmOwned::<3, 1>::EMPTY.load_safetensors(&file).is_err());
    /// # Ok::<(), fvae::Error>(())
    /// ```
    pub fn load_safetensors(&mut self, file: &SafeTensors<'_>) -> Result<()> {
        let result = self.fill_from_file(file);
        if result.is_err() {
            self.clear();
        }
        result
    }

    fn fill_from_file(&mut self, file: &SafeTensors<'_>) -> Result<()> {
        if D == 0 {
            return Err(Error::Empty { what: "descriptor dimension" });
        }
        let w = file.tensor("weights")?;
        let m = file.tensor("means")?;
        let v = file.tensor("covariances")?;
        w.expect_shape("weights", &[K])?;
        m.expect_shape("means", &[K, D])?;
        v.expect_shape("covariances", &[K, D])?;
        for (t, what) in [(&w, "weights"), (&m, "means"), (&v, "covariances")] {
            if t.dtype() != crate::formats::DType::F32 {
                return Err(Error::DType { what, expected: "f32", found: t.dtype().name() });
            }
        }
        copy_f32("weights", w.bytes(), &mut self.weights)?;
        copy_f32("means", m.bytes(), self.means.as_flattened_mut())?;
        copy_f32("covariances", v.bytes(), self.inv_sigma.as_flattened_mut())?;
        self.prepare()
    }

    /// Zeroes every array in place (as [`EMPTY`](Self::EMPTY), without a temporary).
    fn clear(&mut self) {
        let arrays = [
            &mut self.weights[..],
            self.means.as_flattened_mut(),
            self.inv_sigma.as_flattened_mut(),
            self.inv_sigma_err.as_flattened_mut().as_flattened_mut(),
            &mut self.log_norm,
            &mut self.log_norm_lo,
            &mut self.log_weights,
        ];
        for a in arrays {
            a.fill(0.0);
        }
    }

    /// Copies a K x D mixture out of a `.safetensors` file (tensors as in
    /// [`DiagGmm::from_safetensors`]); the sizes must match K and D exactly. The value is
    /// returned (through the stack, for a large mixture); [`load_safetensors`](Self::load_safetensors)
    /// fills one in place.
    pub fn from_safetensors(file: &SafeTensors<'_>) -> Result<Self> {
        let mut g = Self::EMPTY;
        g.load_safetensors(file)?;
        Ok(g)
    }

    /// The borrowed view every computation runs on.
    pub fn view(&self) -> DiagGmm<'_> {
        DiagGmm {
            k: K,
            d: D,
            weights: &self.weights,
            means: self.means.as_flattened(),
            inv_sigma: self.inv_sigma.as_flattened(),
            inv_sigma_err: self.inv_sigma_err.as_flattened().as_flattened(),
            log_norm: &self.log_norm,
            log_norm_lo: &self.log_norm_lo,
            log_weights: &self.log_weights,
        }
    }
}

/// Decodes little-endian f32 bytes into `out` (any alignment).
fn copy_f32(what: &'static str, bytes: &[u8], out: &mut [f32]) -> Result<()> {
    if bytes.len() != out.len() * 4 {
        return Err(Error::Shape { what, expected: out.len() * 4, found: bytes.len() });
    }
    for (o, c) in out.iter_mut().zip(bytes.chunks_exact(4)) {
        *o = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    }
    Ok(())
}
