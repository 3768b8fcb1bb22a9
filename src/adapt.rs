//! Online adaptation on the device (no heap, bounded memory): follow drift in the data with the
//! statistics the encoders already accumulate.
//!
//! - [`map_adapt`]: MAP adaptation of a diagonal GMM (Reynolds, Quatieri and Dunn 2000, "Speaker
//!   verification using adapted Gaussian mixture models", section 3) from the Fisher statistics
//!   of a window of descriptors; [`AdaptiveGmm`] runs it window after window, each adapted model
//!   the prior of the next (incremental MAP), in `K (5 D + 6)` floats.
//! - [`OnlineKMeans`]: MacQueen's (1967) sequential k-means, the winning codeword moving by
//!   `(x - c) / n` with `n` its count capped at a window, so old data is forgotten at a bounded
//!   rate (a constant step once the cap is reached) and the codebook follows drift.
//!
//! MAP in the Fisher statistics. With `n_k = S0`, `alpha_k = n_k / (n_k + r)` (relevance factor
//! r), `E_k[x] = mu_k + sigma_k S1 / S0` and `E_k[x^2]` the posterior-weighted moments of the
//! window, Reynolds et al.'s updates
//! `mu_k' = alpha E_k[x] + (1 - alpha) mu_k`,
//! `var_k' = alpha E_k[x^2] + (1 - alpha)(var_k + mu_k^2) - mu_k'^2`,
//! `w_k' = gamma (alpha n_k / T + (1 - alpha) w_k)` (gamma renormalises, T the window length)
//! become, with `t = (x - mu_k) / sigma_k`, `S1 = sum q t`, `S2 = sum q (t^2 - 1)`:
//! `mu_k' = mu_k + sigma_k S1 / (S0 + r)` and
//! `var_k' = var_k (1 + S2 / (S0 + r) - (S1 / (S0 + r))^2)` (expand `x = mu_k + sigma_k t`;
//! `alpha S2 / S0 = S2 / (S0 + r)`). r = 0 is one EM step on the window; large r keeps the prior.

use crate::error::check_finite;
use crate::gmm::{DiagGmm, DiagGmmOwned};
use crate::vq::{check_row, Nearest};
use crate::{Error, Result};
use fvae_kernels::{gaussian, vq as kv};

/// What MAP adaptation updates, and its floors. Built from [`MapOptions::DEFAULT`] with the
/// `with_*` methods (usable in a `const`), so that later fields do not break callers.
///
/// ```
/// use fvae::adapt::MapOptions;
/// const MEANS_ONLY: MapOptions = MapOptions::DEFAULT.with_weights(false).with_variances(false);
/// assert!(MEANS_ONLY.means && !MEANS_ONLY.weights && !MEANS_ONLY.variances);
/// assert_eq!(MapOptions::default(), MapOptions::DEFAULT);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct MapOptions {
    /// Relevance factor r (default 16, as Reynolds et al.): a component moves halfway to its
    /// window estimate when it has r descriptors' worth of posterior.
    pub relevance: f32,
    /// Adapt the weights (default true).
    pub weights: bool,
    /// Adapt the means (default true).
    pub means: bool,
    /// Adapt the variances (default true).
    pub variances: bool,
    /// Variances never fall below this (default 1e-6, as the EM fit's `reg_covar`).
    pub variance_floor: f32,
    /// Weights never fall below this before renormalisation (default 1e-6).
    pub weight_floor: f32,
}

impl MapOptions {
    /// Relevance 16, weights, means and variances adapted, floors 1e-6.
    pub const DEFAULT: Self = MapOptions {
        relevance: 16.0,
        weights: true,
        means: true,
        variances: true,
        variance_floor: 1e-6,
        weight_floor: 1e-6,
    };

    /// These options with `relevance` (relevance factor).
    ///
    /// ```
    /// use fvae::adapt::MapOptions;
    /// assert_eq!(MapOptions::DEFAULT.with_relevance(0.5).relevance, 0.5);
    /// ```
    pub const fn with_relevance(self, relevance: f32) -> Self {
        MapOptions { relevance, ..self }
    }

    /// These options with `weights` (whether weights are adapted).
    ///
    /// ```
    /// use fvae::adapt::MapOptions;
    /// assert!(!MapOptions::DEFAULT.with_weights(false).weights);
    /// ```
    pub const fn with_weights(self, weights: bool) -> Self {
        MapOptions { weights, ..self }
    }

    /// These options with `means` (whether means are adapted).
    ///
    /// ```
    /// use fvae::adapt::MapOptions;
    /// assert!(!MapOptions::DEFAULT.with_means(false).means);
    /// ```
    pub const fn with_means(self, means: bool) -> Self {
        MapOptions { means, ..self }
    }

    /// These options with `variances` (whether variances are adapted).
    ///
    /// ```
    /// use fvae::adapt::MapOptions;
    /// assert!(!MapOptions::DEFAULT.with_variances(false).variances);
    /// ```
    pub const fn with_variances(self, variances: bool) -> Self {
        MapOptions { variances, ..self }
    }

    /// These options with `variance_floor` (variance floor).
    ///
    /// ```
    /// use fvae::adapt::MapOptions;
    /// assert_eq!(MapOptions::DEFAULT.with_variance_floor(0.5).variance_floor, 0.5);
    /// ```
    pub const fn with_variance_floor(self, variance_floor: f32) -> Self {
        MapOptions { variance_floor, ..self }
    }

    /// These options with `weight_floor` (weight floor).
    ///
    /// ```
    /// use fvae::adapt::MapOptions;
    /// assert_eq!(MapOptions::DEFAULT.with_weight_floor(0.5).weight_floor, 0.5);
    /// ```
    pub const fn with_weight_floor(self, weight_floor: f32) -> Self {
        MapOptions { weight_floor, ..self }
    }
}

impl Default for MapOptions {
    /// [`MapOptions::DEFAULT`].
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl MapOptions {
    fn check(&self) -> Result<()> {
        for (what, v) in [
            ("relevance", self.relevance),
            ("variance floor", self.variance_floor),
            ("weight floor", self.weight_floor),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::Value { what, index: 0, reason: "must be finite and >= 0" });
            }
        }
        Ok(())
    }
}

/// MAP-adapts `gmm` with the statistics of `count` descriptors (`s0` [K], `s1` [K, D], `s2`
/// [K, D], as [`FisherAccumulator::statistics`](crate::fisher::FisherAccumulator::statistics)
/// returns them for this `gmm`) into `weights` [K], `means` [K, D], `variances` [K, D]
/// (formulas in the module notes). Parameters not adapted are copied from `gmm`.
///
/// ```
/// use fvae::adapt::{map_adapt, MapOptions};
/// use fvae::fisher::{FisherAccumulator, FisherOptions};
/// use fvae::gmm::DiagGmm;
/// let mut c = [0.0; DiagGmm::constants_len(1, 1)];
/// let gmm = DiagGmm::new(&[1.0], &[0.0], &[1.0], &mut c)?;
/// let mut st = [0.0; FisherAccumulator::storage_len(1, 1)];
/// let mut acc = FisherAccumulator::new(gmm, FisherOptions::default(), &mut st)?;
/// for _ in 0..16 { acc.push(&[2.0])?; }
/// let n = acc.count();
/// let (s0, s1, s2) = acc.statistics();
/// let (mut w, mut m, mut v) = ([0.0], [0.0], [0.0]);
/// map_adapt(&gmm, n, s0, s1, s2, &MapOptions::default(), &mut w, &mut m, &mut v)?;
/// assert!((m[0] - 1.0).abs() < 1e-6); // 16 descriptors at 2.0, relevance 16: halfway
/// # Ok::<(), fvae::Error>(())
/// ```
#[allow(clippy::too_many_arguments)]
pub fn map_adapt(
    gmm: &DiagGmm<'_>,
    count: u64,
    s0: &[f32],
    s1: &[f32],
    s2: &[f32],
    options: &MapOptions,
    weights: &mut [f32],
    means: &mut [f32],
    variances: &mut [f32],
) -> Result<()> {
    options.check()?;
    let (k, d) = (gmm.k(), gmm.d());
    for (what, len, want) in [
        ("s0", s0.len(), k),
        ("s1", s1.len(), k * d),
        ("s2", s2.len(), k * d),
        ("adapted weights", weights.len(), k),
        ("adapted means", means.len(), k * d),
        ("adapted variances", variances.len(), k * d),
    ] {
        if len != want {
            return Err(Error::Shape { what, expected: want, found: len });
        }
    }
    for (what, s) in [("s0", s0), ("s1", s1), ("s2", s2)] {
        check_finite(what, s, 0)?;
    }
    let r = options.relevance as f64;
    let t = count as f64;
    let mut total = 0.0f64;
    // `zip` and `get`: the lengths were checked above, which the optimiser cannot see.
    let short = Error::Shape { what: "adapted model", expected: k * d, found: means.len() };
    for (c, ((&s0c, &w), wc)) in s0.iter().zip(gmm.weights()).zip(weights.iter_mut()).enumerate() {
        let n = (s0c as f64).max(0.0);
        let denom = n + r;
        let w = w as f64;
        *wc = if options.weights && t > 0.0 && denom > 0.0 {
            let alpha = n / denom;
            (alpha * n / t + (1.0 - alpha) * w).max(options.weight_floor as f64) as f32
        } else {
            w as f32
        };
        total += *wc as f64;
        let row = c * d..(c + 1) * d;
        let (Some(inv_sigma), Some(mus), Some(s1), Some(s2)) =
            (gmm.inv_sigma().get(row.clone()), gmm.means().get(row.clone()), s1.get(row.clone()), s2.get(row.clone()))
        else {
            return Err(short);
        };
        let (Some(means), Some(variances)) = (means.get_mut(row.clone()), variances.get_mut(row)) else {
            return Err(short);
        };
        let inputs = inv_sigma.iter().zip(mus).zip(s1.iter().zip(s2));
        for (((&is, &mu), (&s1, &s2)), (mean, variance)) in inputs.zip(means.iter_mut().zip(variances.iter_mut())) {
            let sigma = 1.0 / is as f64;
            let mu = mu as f64;
            let (e1, e2) = if denom > 0.0 { (s1 as f64 / denom, s2 as f64 / denom) } else { (0.0, 0.0) };
            *mean = if options.means { (mu + sigma * e1) as f32 } else { mu as f32 };
            // With the means fixed, the variance about the old mean: var (1 + S2 / (S0 + r)).
            let ratio = if options.means { 1.0 + e2 - e1 * e1 } else { 1.0 + e2 };
            let var = sigma * sigma;
            *variance = if options.variances { ((var * ratio) as f32).max(options.variance_floor) } else { var as f32 };
            *variance = variance.max(f32::MIN_POSITIVE);
        }
    }
    if options.weights {
        weights.iter_mut().for_each(|w| *w = (*w as f64 / total) as f32);
    }
    Ok(())
}

/// A GMM that adapts itself every `window` descriptors by incremental MAP ([`map_adapt`],
/// each adapted model the prior of the next), in fixed memory: `K (5 D + 6)` floats.
///
/// ```
/// use fvae::adapt::{AdaptiveGmm, MapOptions};
/// let mut g = AdaptiveGmm::<1, 1>::new([1.0], [[0.0]], [[1.0]], 8, MapOptions::default())?;
/// for _ in 0..64 { g.push(&[3.0])?; }
/// assert_eq!(g.adaptations(), 8);
/// assert!(g.means()[0][0] > 2.0); // followed the data
/// # Ok::<(), fvae::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct AdaptiveGmm<const K: usize, const D: usize> {
    weights: [f32; K],
    means: [[f32; D]; K],
    variances: [[f32; D]; K],
    gmm: DiagGmmOwned<K, D>,
    options: MapOptions,
    window: u32,
    n: u32,
    adaptations: u64,
    s0: [f32; K],
    s1: [[f32; D]; K],
    s2: [[f32; D]; K],
    q: [f32; K],
}

impl<const K: usize, const D: usize> AdaptiveGmm<K, D> {
    /// Starts from a prior model; adapts after every `window` (> 0) descriptors.
    pub fn new(
        weights: [f32; K],
        means: [[f32; D]; K],
        variances: [[f32; D]; K],
        window: u32,
        options: MapOptions,
    ) -> Result<Self> {
        options.check()?;
        if window == 0 {
            return Err(Error::Value { what: "adaptation window", index: 0, reason: "must be > 0" });
        }
        let gmm = DiagGmmOwned::new(weights, means, variances)?;
        Ok(AdaptiveGmm {
            weights,
            means,
            variances,
            gmm,
            options,
            window,
            n: 0,
            adaptations: 0,
            s0: [0.0; K],
            s1: [[0.0; D]; K],
            s2: [[0.0; D]; K],
            q: [0.0; K],
        })
    }

    /// The current model.
    pub fn gmm(&self) -> DiagGmm<'_> {
        self.gmm.view()
    }

    /// The current means.
    pub fn means(&self) -> &[[f32; D]; K] {
        &self.means
    }

    /// The current variances.
    pub fn variances(&self) -> &[[f32; D]; K] {
        &self.variances
    }

    /// The current weights.
    pub fn weights(&self) -> &[f32; K] {
        &self.weights
    }

    /// How many windows have been adapted to.
    pub fn adaptations(&self) -> u64 {
        self.adaptations
    }

    /// Scores `x` under the current model (its log-likelihood is returned), adds it to the
    /// window, and adapts when the window is full. A rejected descriptor changes nothing.
    pub fn push(&mut self, x: &[f32]) -> Result<f32> {
        let view = self.gmm.view();
        let ll = view.posteriors(x, &mut self.q)?;
        for (s, &q) in self.s0.iter_mut().zip(&self.q) {
            *s += q;
        }
        gaussian::accumulate(
            x,
            view.means(),
            view.inv_sigma(),
            &self.q,
            self.s1.as_flattened_mut(),
            self.s2.as_flattened_mut(),
        );
        self.n += 1;
        if self.n >= self.window {
            self.adapt()?;
        }
        Ok(ll)
    }

    /// Adapts to the descriptors of the current (possibly partial) window now, and starts a new one.
    pub fn adapt(&mut self) -> Result<()> {
        if self.n == 0 {
            return Ok(());
        }
        let (mut w, mut m, mut v) = (self.weights, self.means, self.variances);
        map_adapt(
            &self.gmm.view(),
            self.n as u64,
            &self.s0,
            self.s1.as_flattened(),
            self.s2.as_flattened(),
            &self.options,
            &mut w,
            m.as_flattened_mut(),
            v.as_flattened_mut(),
        )?;
        self.gmm = DiagGmmOwned::new(w, m, v)?;
        (self.weights, self.means, self.variances) = (w, m, v);
        self.n = 0;
        self.adaptations += 1;
        self.s0 = [0.0; K];
        self.s1 = [[0.0; D]; K];
        self.s2 = [[0.0; D]; K];
        Ok(())
    }
}

/// Sequential k-means (MacQueen 1967) with a capped count: each descriptor moves its nearest
/// codeword by `(x - c) / min(n, window)`, `n` the codeword's count including it. Until the cap
/// this is the running mean of the codeword's descriptors; after it, an exponential forgetting
/// with step `1 / window`, so the codebook follows drift. Memory: `M (D + 1)` values.
///
/// ```
/// use fvae::adapt::OnlineKMeans;
/// let mut km = OnlineKMeans::<2, 1>::new([[0.0], [10.0]], 100)?;
/// km.push(&[1.0])?;
/// km.push(&[3.0])?;
/// assert_eq!(km.centroids()[0], [2.0]); // the mean of what it has seen (its start had weight 0)
/// # Ok::<(), fvae::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct OnlineKMeans<const M: usize, const D: usize> {
    centroids: [[f32; D]; M],
    counts: [u32; M],
    window: u32,
}

impl<const M: usize, const D: usize> OnlineKMeans<M, D> {
    /// Starts from `centroids` (with count 0: the first descriptor a codeword wins replaces
    /// it); the step never falls below `1 / window` (> 0).
    pub fn new(centroids: [[f32; D]; M], window: u32) -> Result<Self> {
        if M == 0 || D == 0 {
            return Err(Error::Empty { what: "online k-means codebook" });
        }
        if window == 0 {
            return Err(Error::Value { what: "online k-means window", index: 0, reason: "must be > 0" });
        }
        check_finite("codebook", centroids.as_flattened(), 0)?;
        Ok(OnlineKMeans { centroids, counts: [0; M], window })
    }

    /// The starting codewords with counts already: each behaves as the mean of `count`
    /// descriptors (a fitted codebook carries its cluster sizes).
    pub fn with_counts(centroids: [[f32; D]; M], counts: [u32; M], window: u32) -> Result<Self> {
        let mut km = Self::new(centroids, window)?;
        km.counts = counts;
        Ok(km)
    }

    /// The current codewords.
    pub fn centroids(&self) -> &[[f32; D]; M] {
        &self.centroids
    }

    /// The codebook as a [`Codebook`](crate::vq::Codebook) view (for encoding).
    pub fn codebook(&self) -> Result<crate::vq::Codebook<'_>> {
        crate::vq::Codebook::new(self.centroids.as_flattened(), D)
    }

    /// Assigns `x` to its nearest codeword (returned: index and squared distance before the
    /// move, ties to the lowest index) and moves that codeword toward it.
    pub fn push(&mut self, x: &[f32]) -> Result<Nearest> {
        check_row("descriptor", x, D, 0)?;
        let mut dist = [0f32; M];
        kv::sq_distances(x, self.centroids.as_flattened(), &mut dist);
        let (j, _) = kv::argmin(&dist).ok_or(Error::Empty { what: "online k-means codebook" })?;
        let c = &mut self.centroids[j];
        let exact = kv::sq_distance_exact(x, c) as f32;
        self.counts[j] = self.counts[j].saturating_add(1);
        let step = 1.0 / self.counts[j].min(self.window) as f32;
        for (c, &x) in c.iter_mut().zip(x) {
            *c += (x - *c) * step;
        }
        Ok(Nearest { index: j as u32, distance: exact })
    }
}
