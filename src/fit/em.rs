//! EM for diagonal Gaussian mixtures (Dempster, Laird and Rubin 1977), initialised from k-means,
//! with the E-step statistics taken from the Fisher accumulator.
//!
//! The M-step from the Fisher statistics. With `t = (x - mu_k) / sigma_k` under the current
//! model and posteriors `q_ik`, the accumulator holds `S0 = sum_i q_ik`, `S1 = sum_i q_ik t_i`,
//! `S2 = sum_i q_ik (t_i^2 - 1)`. The maximum-likelihood update is
//!
//! - `w_k' = S0 / N`;
//! - `mu_k' = sum q x / S0 = mu_k + sigma_k S1 / S0` (as `x = mu_k + sigma_k t`);
//! - `var_k' = sum q (x - mu_k')^2 / S0 = sigma_k^2 sum q (t - S1/S0)^2 / S0
//!   = var_k ((S2 + S0) / S0 - (S1 / S0)^2) = var_k (1 + S2 / S0 - (S1 / S0)^2)`,
//!
//! all in the centred form (the statistics are sums of small numbers near a fitted model, not
//! the cancelling `sum q x^2 / S0 - mu^2`).
//!
//! Floors (stated, and the defaults): `var_k' += reg_covar` with `reg_covar = 1e-6`, exactly
//! scikit-learn's `reg_covar` (keeps a cluster of identical rows, or a constant column, at a
//! finite density); weights are `w_k' = max(S0 / N, weight_floor)` renormalised, with
//! `weight_floor = 1e-6`, so no component reaches weight 0 (a log-weight of -inf); a component
//! with `S0 < 1e-6` (rows' worth of posterior) keeps its mean and variance.

use super::check_data;
use super::kmeans::{kmeans_with, KMeansOptions};
use crate::error::check_k_d;
use crate::fisher::{FisherAccumulator, FisherOptions};
use crate::gmm::DiagGmm;
use crate::{Error, Result};
use std::vec;
use std::vec::Vec;

/// EM settings. `GmmFitOptions::new(k)` gives the defaults.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct GmmFitOptions {
    /// Number of components K.
    pub components: usize,
    /// EM iterations at most (default 100, as scikit-learn).
    pub max_iter: usize,
    /// Converged when the mean log-likelihood per row changes by less than this (default 1e-3,
    /// scikit-learn's `tol`).
    pub tol: f64,
    /// Added to every variance after each M-step (default 1e-6, scikit-learn's `reg_covar`).
    pub reg_covar: f32,
    /// Smallest weight a component keeps (default 1e-6; weights are renormalised after).
    pub weight_floor: f32,
    /// Seed of the k-means initialisation.
    pub seed: u64,
    /// Worker threads for the E-step and k-means (default 1; per-thread statistics are merged).
    pub threads: usize,
}

impl GmmFitOptions {
    /// Defaults for `components` components.
    pub const fn new(components: usize) -> Self {
        GmmFitOptions { components, max_iter: 100, tol: 1e-3, reg_covar: 1e-6, weight_floor: 1e-6, seed: 0, threads: 1 }
    }

    /// These options with `max_iter`.
    ///
    /// ```
    /// use fvae::fit::GmmFitOptions;
    /// assert_eq!(GmmFitOptions::new(4).with_max_iter(100).max_iter, 100);
    /// ```
    pub const fn with_max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// These options with `tol`.
    ///
    /// ```
    /// use fvae::fit::GmmFitOptions;
    /// assert_eq!(GmmFitOptions::new(4).with_tol(1e-2).tol, 1e-2);
    /// ```
    pub const fn with_tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }

    /// These options with `reg_covar`.
    ///
    /// ```
    /// use fvae::fit::GmmFitOptions;
    /// assert_eq!(GmmFitOptions::new(4).with_reg_covar(1e-4).reg_covar, 1e-4);
    /// ```
    pub const fn with_reg_covar(mut self, reg_covar: f32) -> Self {
        self.reg_covar = reg_covar;
        self
    }

    /// These options with `weight_floor`.
    ///
    /// ```
    /// use fvae::fit::GmmFitOptions;
    /// assert_eq!(GmmFitOptions::new(4).with_weight_floor(1e-4).weight_floor, 1e-4);
    /// ```
    pub const fn with_weight_floor(mut self, weight_floor: f32) -> Self {
        self.weight_floor = weight_floor;
        self
    }

    /// These options with `seed`.
    ///
    /// ```
    /// use fvae::fit::GmmFitOptions;
    /// assert_eq!(GmmFitOptions::new(4).with_seed(7).seed, 7);
    /// ```
    pub const fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// These options with `threads`.
    ///
    /// ```
    /// use fvae::fit::GmmFitOptions;
    /// assert_eq!(GmmFitOptions::new(4).with_threads(2).threads, 2);
    /// ```
    pub const fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }
}

/// A fitted diagonal GMM (scikit-learn's names and layout).
#[derive(Debug, Clone, PartialEq)]
pub struct FittedGmm {
    /// Components K.
    pub k: usize,
    /// Dimension D.
    pub d: usize,
    /// `[K]`, summing to 1.
    pub weights: Vec<f32>,
    /// `[K, D]`.
    pub means: Vec<f32>,
    /// Diagonal variances `[K, D]` (`covariances` in `.safetensors`).
    pub variances: Vec<f32>,
    /// Mean log-likelihood per training row at the last E-step (scikit-learn's `lower_bound_`).
    pub log_likelihood: f64,
    /// EM iterations run.
    pub iterations: usize,
    /// Whether the log-likelihood change fell below `tol` before `max_iter`.
    pub converged: bool,
}

impl FittedGmm {
    /// A [`DiagGmm`] view, with its constants in `constants`
    /// ([`DiagGmm::constants_len`] values).
    pub fn view<'a>(&'a self, constants: &'a mut [f32]) -> Result<DiagGmm<'a>> {
        DiagGmm::new(&self.weights, &self.means, &self.variances, constants)
    }

    /// Writes the model as `.safetensors` (`weights` [K], `means` [K, D], `covariances` [K, D]),
    /// the file every `fvae` command and `DiagGmm::from_safetensors` read.
    pub fn write_safetensors(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        use crate::formats::{safetensors, DType};
        let bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let (w, m, c) = (bytes(&self.weights), bytes(&self.means), bytes(&self.variances));
        safetensors::write(
            out,
            &[
                ("weights", DType::F32, &[self.k], &w),
                ("means", DType::F32, &[self.k, self.d], &m),
                ("covariances", DType::F32, &[self.k, self.d], &c),
            ],
        )
    }
}

/// The sufficient statistics of one E-step over some rows: the Fisher accumulator's `S0` [K],
/// `S1` [K, D], `S2` [K, D] (module notes) and the summed log-likelihood, in f64 so that the
/// statistics of many blocks (threads, processes, machines) merge without loss. [`e_step`]
/// computes them, [`GmmStatistics::merge`] adds two, [`m_step`] turns them into a model:
/// [`em`] is exactly that loop, so a distributed EM that maps `e_step` over blocks and reduces
/// with `merge` computes what [`em`] computes (up to the order of the f32 partial sums).
///
/// ```
/// use fvae::fit::{e_step, GmmStatistics};
/// use fvae::gmm::DiagGmm;
/// let mut c = [0.0; DiagGmm::constants_len(2, 1)];
/// let gmm = DiagGmm::new(&[0.5, 0.5], &[0.0, 5.0], &[1.0, 1.0], &mut c)?;
/// let mut all = GmmStatistics::new(2, 1);
/// for block in [&[0.0, 0.2][..], &[5.0, 5.2, 0.1][..]] {
///     all.merge(&e_step(gmm, block, 1)?)?;
/// }
/// assert_eq!(all.rows, 5);
/// assert!((all.s0[0] - 3.0).abs() < 1e-3);
/// # Ok::<(), fvae::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct GmmStatistics {
    /// Components K.
    pub k: usize,
    /// Dimension D.
    pub d: usize,
    /// Rows the statistics are over.
    pub rows: u64,
    /// `sum_i q_ik` [K].
    pub s0: Vec<f64>,
    /// `sum_i q_ik t_i` [K, D].
    pub s1: Vec<f64>,
    /// `sum_i q_ik (t_i^2 - 1)` [K, D].
    pub s2: Vec<f64>,
    /// `sum_i log p(x_i)`.
    pub log_likelihood: f64,
}

impl GmmStatistics {
    /// The statistics of no rows.
    pub fn new(k: usize, d: usize) -> Self {
        GmmStatistics {
            k,
            d,
            rows: 0,
            s0: vec![0.0; k],
            s1: vec![0.0; k * d],
            s2: vec![0.0; k * d],
            log_likelihood: 0.0,
        }
    }

    /// Adds `other`'s rows (same K and D).
    pub fn merge(&mut self, other: &GmmStatistics) -> Result<()> {
        check_k_d(
            ["merged GMM statistics: K (components)", "merged GMM statistics: D (dimensions)"],
            (self.k, self.d),
            (other.k, other.d),
        )?;
        // The fields are public, so the vectors' lengths are checked too, each by its name.
        for (what, a, b) in [
            ("merged GMM statistics (S0)", &self.s0, &other.s0),
            ("merged GMM statistics (S1)", &self.s1, &other.s1),
            ("merged GMM statistics (S2)", &self.s2, &other.s2),
        ] {
            if b.len() != a.len() {
                return Err(Error::Shape { what, expected: a.len(), found: b.len() });
            }
        }
        for (a, b) in [(&mut self.s0, &other.s0), (&mut self.s1, &other.s1), (&mut self.s2, &other.s2)] {
            a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
        }
        self.rows += other.rows;
        self.log_likelihood += other.log_likelihood;
        Ok(())
    }
}

/// One E-step of `gmm` over `data` `[N, D]` (D = `gmm.d()`) on `threads` threads: per-thread
/// Fisher accumulators (Kahan-compensated f32), merged in f64 in a fixed order (deterministic
/// for a thread count). Errors: a length that is not a multiple of D, a non-finite value or a
/// row too far from every component for f32 ([`Error::Value`]).
pub fn e_step(gmm: DiagGmm<'_>, data: &[f32], threads: usize) -> Result<GmmStatistics> {
    let (k, d) = (gmm.k(), gmm.d());
    if d == 0 || !data.len().is_multiple_of(d) {
        return Err(Error::Shape {
            what: "E-step data ([N, D] row-major)",
            expected: data.len() / d.max(1) * d,
            found: data.len(),
        });
    }
    let n = data.len() / d;
    let run = |xs: &[f32]| -> Result<GmmStatistics> {
        let mut storage = vec![0f32; FisherAccumulator::storage_len(k, d)];
        let mut acc = FisherAccumulator::new(gmm, FisherOptions::default(), &mut storage)?;
        let mut ll = 0f64;
        for x in xs.chunks_exact(d) {
            ll += acc.push(x)? as f64;
        }
        let rows = acc.count();
        let (s0, s1, s2) = acc.statistics();
        let wide = |s: &[f32]| s.iter().map(|&v| v as f64).collect();
        Ok(GmmStatistics { k, d, rows, s0: wide(s0), s1: wide(s1), s2: wide(s2), log_likelihood: ll })
    };
    let parts = threads.clamp(1, n.max(1));
    let results: Vec<Result<GmmStatistics>> = if parts == 1 {
        vec![run(data)]
    } else {
        let chunk = n.div_ceil(parts) * d;
        std::thread::scope(|s| {
            let hs: Vec<_> = data.chunks(chunk).map(|xs| s.spawn(move || run(xs))).collect();
            hs.into_iter().map(|h| h.join().unwrap_or(Err(Error::Empty { what: "EM worker (panicked)" }))).collect()
        })
    };
    let mut sum = GmmStatistics::new(k, d);
    for r in results {
        sum.merge(&r?)?;
    }
    Ok(sum)
}

/// The M-step (module notes: centred form, floors) from `stats` into the model `weights` [K],
/// `means` [K, D], `variances` [K, D], which must be the model `stats` were computed under.
/// The statistics are rounded to f32 first, as the accumulator keeps them.
pub fn m_step(
    stats: &GmmStatistics,
    weights: &mut Vec<f32>,
    means: &mut [f32],
    variances: &mut [f32],
    options: &GmmFitOptions,
) -> Result<()> {
    let (k, d) = (stats.k, stats.d);
    for (what, len, want) in [
        ("M-step weights", weights.len(), k),
        ("M-step means", means.len(), k * d),
        ("M-step variances", variances.len(), k * d),
        ("M-step S0", stats.s0.len(), k),
        ("M-step S1", stats.s1.len(), k * d),
        ("M-step S2", stats.s2.len(), k * d),
    ] {
        if len != want {
            return Err(Error::Shape { what, expected: want, found: len });
        }
    }
    if stats.rows == 0 {
        return Err(Error::Empty { what: "M-step statistics (no rows)" });
    }
    check_options(options)?;
    let n = stats.rows as f64;
    for (c, &n_c) in stats.s0.iter().enumerate() {
        let n_c = n_c as f32;
        if n_c < 1e-6 {
            continue;
        }
        let inv = 1.0 / n_c as f64;
        for i in c * d..(c + 1) * d {
            let var = variances[i] as f64;
            let e1 = stats.s1[i] as f32 as f64 * inv;
            let ratio = (1.0 + stats.s2[i] as f32 as f64 * inv - e1 * e1).max(0.0);
            means[i] = (means[i] as f64 + var.sqrt() * e1) as f32;
            variances[i] = ((var * ratio) as f32 + options.reg_covar).max(f32::MIN_POSITIVE);
        }
    }
    *weights = floor_weights(stats.s0.iter().map(|&s| s as f32 as f64 / n), options.weight_floor);
    Ok(())
}

/// Fits a K-component diagonal GMM to `data` `[N, D]` by EM: k-means initialisation (one
/// k-means++ run under `options.seed`, then the clusters' weights, means and variances), E-step
/// posteriors and statistics from [`FisherAccumulator`], the M-step derived from them (see the
/// module notes for the algebra and the floors), until the mean log-likelihood changes by less
/// than `tol`. Deterministic under a seed and a thread count.
///
/// Errors: as [`kmeans`](super::kmeans) (fewer rows than components, non-finite data, ...), a
/// non-finite or negative `reg_covar`/`weight_floor`, and a row too far from every component
/// for f32 ([`Error::Value`]).
///
/// ```
/// use fvae::fit::{fit_gmm, GmmFitOptions};
/// let data: Vec<f32> = (0..200).map(|i| if i % 2 == 0 { (i % 7) as f32 * 0.1 } else { 5.0 + (i % 5) as f32 * 0.1 }).collect();
/// let gmm = fit_gmm(&data, 1, &GmmFitOptions::new(2))?;
/// let mut m = gmm.means.clone();
/// m.sort_by(f32::total_cmp);
/// assert!((m[0] - 0.3).abs() < 0.05 && (m[1] - 5.2).abs() < 0.05);
/// # Ok::<(), fvae::Error>(())
/// ```
pub fn fit_gmm(data: &[f32], d: usize, options: &GmmFitOptions) -> Result<FittedGmm> {
    fit_gmm_with(data, d, options, &mut |_, _| {})
}

/// [`fit_gmm`] calling `on_iter(iteration, mean log-likelihood)` after each E-step.
pub fn fit_gmm_with(
    data: &[f32],
    d: usize,
    options: &GmmFitOptions,
    on_iter: &mut dyn FnMut(usize, f64),
) -> Result<FittedGmm> {
    let start = initial_gmm(data, d, options)?;
    em_with(data, d, start.weights, start.means, start.variances, options, on_iter)
}

/// [`fit_gmm`]'s starting model: one k-means++ run under `options.seed`, then the clusters'
/// weights, means and variances (`iterations` 0, `log_likelihood` -inf). With [`e_step`] and
/// [`m_step`] it is the whole of [`fit_gmm`], for an EM whose E-step runs elsewhere.
///
/// ```
/// use fvae::fit::{initial_gmm, GmmFitOptions};
/// let data = [0.0, 0.2, 0.1, 5.0, 5.2, 5.1];
/// let g = initial_gmm(&data, 1, &GmmFitOptions::new(2))?;
/// assert_eq!((g.k, g.iterations), (2, 0));
/// # Ok::<(), fvae::Error>(())
/// ```
pub fn initial_gmm(data: &[f32], d: usize, options: &GmmFitOptions) -> Result<FittedGmm> {
    let k = options.components;
    if k == 0 {
        return Err(Error::Empty { what: "GMM components" });
    }
    let n = check_data(data, d, k, "data rows (at least one per component)")?;
    check_options(options)?;
    // Initialisation: hard k-means responsibilities, then one M-step on them.
    let km_opts = KMeansOptions { seed: options.seed, threads: options.threads, ..KMeansOptions::new(k) };
    let km = kmeans_with(data, d, &km_opts, &mut |_, _| {})?;
    let mut counts = vec![0f64; k];
    let mut sums = vec![0f64; k * d];
    for (i, &j) in km.labels.iter().enumerate() {
        let j = j as usize;
        counts[j] += 1.0;
        sums[j * d..(j + 1) * d].iter_mut().zip(&data[i * d..(i + 1) * d]).for_each(|(s, &x)| *s += x as f64);
    }
    let means: Vec<f32> = (0..k * d).map(|i| (sums[i] / counts[i / d].max(1.0)) as f32).collect();
    let mut sq = vec![0f64; k * d];
    for (i, &j) in km.labels.iter().enumerate() {
        let j = j as usize;
        for t in 0..d {
            let c = data[i * d + t] as f64 - means[j * d + t] as f64;
            sq[j * d + t] += c * c;
        }
    }
    let mut variances: Vec<f32> =
        (0..k * d).map(|i| (sq[i] / counts[i / d].max(1.0)) as f32 + options.reg_covar).collect();
    // A zero variance (reg_covar = 0 on a constant column) cannot be a model: smallest normal.
    variances.iter_mut().for_each(|v| *v = v.max(f32::MIN_POSITIVE));
    let weights = floor_weights(counts.iter().map(|&c| c / n as f64), options.weight_floor);
    Ok(FittedGmm {
        k,
        d,
        weights,
        means,
        variances,
        log_likelihood: f64::NEG_INFINITY,
        iterations: 0,
        converged: false,
    })
}

/// EM from a given start (`weights` [K], `means` [K, D], `variances` [K, D], used as they are:
/// a warm start, another tool's initialisation, or a model to refine on new data); the
/// iterations, floors and convergence of [`fit_gmm`]. `options.components` must be K.
///
/// ```
/// use fvae::fit::{em, GmmFitOptions};
/// let data = [0.0, 0.2, 0.1, 5.0, 5.2, 5.1];
/// let g = em(&data, 1, vec![0.5, 0.5], vec![1.0, 4.0], vec![1.0, 1.0], &GmmFitOptions::new(2))?;
/// assert!((g.means[0] - 0.1).abs() < 1e-3 && (g.means[1] - 5.1).abs() < 1e-3);
/// # Ok::<(), fvae::Error>(())
/// ```
pub fn em(
    data: &[f32],
    d: usize,
    weights: Vec<f32>,
    means: Vec<f32>,
    variances: Vec<f32>,
    options: &GmmFitOptions,
) -> Result<FittedGmm> {
    em_with(data, d, weights, means, variances, options, &mut |_, _| {})
}

/// [`em`] calling `on_iter(iteration, mean log-likelihood)` after each E-step.
pub fn em_with(
    data: &[f32],
    d: usize,
    mut weights: Vec<f32>,
    mut means: Vec<f32>,
    mut variances: Vec<f32>,
    options: &GmmFitOptions,
    on_iter: &mut dyn FnMut(usize, f64),
) -> Result<FittedGmm> {
    let k = weights.len();
    if k != options.components {
        return Err(Error::Shape { what: "start weights (components)", expected: options.components, found: k });
    }
    let n = check_data(data, d, 1, "data rows")?;
    check_options(options)?;
    if means.len() != k * d {
        return Err(Error::Shape { what: "start means", expected: k * d, found: means.len() });
    }
    // Validates the start (shapes, positive variances, weights summing to 1).
    DiagGmm::new(&weights, &means, &variances, &mut vec![0f32; DiagGmm::constants_len(k, d)])?;
    let mut prev = f64::NEG_INFINITY;
    let mut ll = f64::NEG_INFINITY;
    let mut converged = false;
    let mut iterations = 0;
    let mut constants = vec![0f32; DiagGmm::constants_len(k, d)];
    while iterations < options.max_iter {
        let gmm = DiagGmm::new(&weights, &means, &variances, &mut constants)?;
        let stats = e_step(gmm, data, options.threads)?;
        ll = stats.log_likelihood / n as f64;
        on_iter(iterations, ll);
        iterations += 1;
        m_step(&stats, &mut weights, &mut means, &mut variances, options)?;
        if (ll - prev).abs() < options.tol {
            converged = true;
            break;
        }
        prev = ll;
    }
    Ok(FittedGmm { k, d, weights, means, variances, log_likelihood: ll, iterations, converged })
}

fn check_options(options: &GmmFitOptions) -> Result<()> {
    if !(options.reg_covar.is_finite() && options.reg_covar >= 0.0) {
        return Err(Error::Value { what: "reg_covar", index: 0, reason: "must be finite and >= 0" });
    }
    let k = options.components.max(1) as f32;
    if !(options.weight_floor.is_finite() && options.weight_floor >= 0.0 && options.weight_floor * k < 1.0) {
        return Err(Error::Value { what: "weight_floor", index: 0, reason: "must be finite, >= 0 and < 1/K" });
    }
    if options.tol.is_nan() || options.tol < 0.0 {
        return Err(Error::Value { what: "tol", index: 0, reason: "must be >= 0" });
    }
    Ok(())
}

/// `max(w, floor)` renormalised to sum 1 (in f64).
fn floor_weights(w: impl Iterator<Item = f64>, floor: f32) -> Vec<f32> {
    let w: Vec<f64> = w.map(|v| v.max(floor as f64)).collect();
    let total: f64 = w.iter().sum();
    w.iter().map(|&v| (v / total) as f32).collect()
}
