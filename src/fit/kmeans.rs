//! k-means (Lloyd) with greedy k-means++ seeding, empty-cluster repair and restarts; residual
//! VQ trained stage by stage.

use super::{check_data, Rng};
use crate::vq::Codebook;
use crate::{Error, Result};
use std::vec;
use std::vec::Vec;

/// k-means settings. `KMeansOptions::new(m)` gives the defaults.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct KMeansOptions {
    /// Number of clusters M.
    pub clusters: usize,
    /// Lloyd iterations at most per restart (default 300, as scikit-learn).
    pub max_iter: usize,
    /// Stop when an iteration lowers the energy by less than `tol` times the energy (default
    /// 1e-6), or when no assignment changes.
    pub tol: f64,
    /// Independent runs from different seedings; the lowest final energy wins (default 1).
    pub restarts: usize,
    /// Seed of the run: the same seed, data and options give the same codebook.
    pub seed: u64,
    /// Worker threads for the assignment step (default 1; rows are split, results identical).
    pub threads: usize,
}

impl KMeansOptions {
    /// Defaults for `clusters` clusters.
    pub const fn new(clusters: usize) -> Self {
        KMeansOptions { clusters, max_iter: 300, tol: 1e-6, restarts: 1, seed: 0, threads: 1 }
    }

    /// These options with `max_iter`.
    ///
    /// ```
    /// use fvae::fit::KMeansOptions;
    /// assert_eq!(KMeansOptions::new(4).with_max_iter(50).max_iter, 50);
    /// ```
    pub const fn with_max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// These options with `tol`.
    ///
    /// ```
    /// use fvae::fit::KMeansOptions;
    /// assert_eq!(KMeansOptions::new(4).with_tol(1e-3).tol, 1e-3);
    /// ```
    pub const fn with_tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }

    /// These options with `restarts`.
    ///
    /// ```
    /// use fvae::fit::KMeansOptions;
    /// assert_eq!(KMeansOptions::new(4).with_restarts(3).restarts, 3);
    /// ```
    pub const fn with_restarts(mut self, restarts: usize) -> Self {
        self.restarts = restarts;
        self
    }

    /// These options with `seed`.
    ///
    /// ```
    /// use fvae::fit::KMeansOptions;
    /// assert_eq!(KMeansOptions::new(4).with_seed(7).seed, 7);
    /// ```
    pub const fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// These options with `threads`.
    ///
    /// ```
    /// use fvae::fit::KMeansOptions;
    /// assert_eq!(KMeansOptions::new(4).with_threads(2).threads, 2);
    /// ```
    pub const fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }
}

/// A fitted codebook.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeans {
    /// Codewords `[M, D]`, row-major.
    pub centroids: Vec<f32>,
    /// Codeword dimension D.
    pub d: usize,
    /// Nearest codeword of each training row (ties to the lowest index).
    pub labels: Vec<u32>,
    /// Sum over rows of the squared distance to the nearest codeword (scikit-learn's `inertia_`).
    pub energy: f64,
    /// Lloyd iterations of the winning run.
    pub iterations: usize,
}

impl KMeans {
    /// The codebook as a [`Codebook`] view.
    pub fn codebook(&self) -> Result<Codebook<'_>> {
        Codebook::new(&self.centroids, self.d)
    }
}

/// Squared Euclidean distance in f32 (seeding only ranks candidates with it).
fn sqd(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Greedy k-means++ (Arthur and Vassilvitskii 2007, with scikit-learn's `2 + ln M` candidates
/// per step, of which the one lowering the potential most is kept).
fn seed_plus_plus(data: &[f32], n: usize, d: usize, m: usize, rng: &mut Rng) -> Vec<f32> {
    let row = |i: usize| &data[i * d..(i + 1) * d];
    let trials = 2 + (m as f64).ln() as usize;
    let mut centroids = Vec::with_capacity(m * d);
    let first = rng.below(n);
    centroids.extend_from_slice(row(first));
    let mut closest: Vec<f64> = (0..n).map(|i| sqd(row(i), row(first)) as f64).collect();
    let mut pot: f64 = closest.iter().sum();
    let mut cand_d = vec![0f64; n];
    let mut best_d = vec![0f64; n];
    for _ in 1..m {
        let mut best: Option<(usize, f64)> = None;
        for _ in 0..trials {
            // Sample a row with probability proportional to its squared distance (uniform when
            // every row sits on a centre already).
            let cand = if pot > 0.0 {
                let target = rng.next_f64() * pot;
                let mut acc = 0.0;
                let mut pick = n - 1;
                for (i, &c) in closest.iter().enumerate() {
                    acc += c;
                    if acc > target {
                        pick = i;
                        break;
                    }
                }
                pick
            } else {
                rng.below(n)
            };
            let mut p = 0.0;
            for (i, (o, &c)) in cand_d.iter_mut().zip(&closest).enumerate() {
                *o = c.min(sqd(row(i), row(cand)) as f64);
                p += *o;
            }
            if best.is_none_or(|(_, bp)| p < bp) {
                best = Some((cand, p));
                core::mem::swap(&mut best_d, &mut cand_d);
            }
        }
        if let Some((c, p)) = best {
            centroids.extend_from_slice(row(c));
            core::mem::swap(&mut closest, &mut best_d);
            pot = p;
        }
    }
    centroids
}

/// Nearest codeword of every row, split over `threads` scoped threads.
pub(crate) fn assign(
    data: &[f32],
    centroids: &[f32],
    d: usize,
    threads: usize,
    idx: &mut [u32],
    dist: &mut [f32],
) -> Result<()> {
    let m = centroids.len() / d;
    let mut packed = vec![0f32; Codebook::packed_len(m, d)];
    let cb = Codebook::new(centroids, d)?.pack(&mut packed)?;
    let n = idx.len();
    let parts = threads.clamp(1, n.max(1));
    let run = |xs: &[f32], idx: &mut [u32], dist: &mut [f32]| {
        let mut scratch = vec![0f32; cb.batch_scratch_len()];
        cb.nearest_batch(xs, idx, dist, &mut scratch)
    };
    if parts == 1 {
        return run(data, idx, dist);
    }
    let chunk = n.div_ceil(parts);
    std::thread::scope(|s| {
        let handles: Vec<_> = data
            .chunks(chunk * d)
            .zip(idx.chunks_mut(chunk).zip(dist.chunks_mut(chunk)))
            .map(|(xs, (i, di))| s.spawn(move || run(xs, i, di)))
            .collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().unwrap_or(Err(Error::Empty { what: "k-means worker (panicked)" })))
    })
}

/// One Lloyd run from `centroids`: returns (energy, iterations, labels).
fn lloyd(
    data: &[f32],
    n: usize,
    d: usize,
    centroids: &mut [f32],
    opts: &KMeansOptions,
    on_iter: &mut dyn FnMut(usize, f64),
) -> Result<(f64, usize, Vec<u32>)> {
    let m = centroids.len() / d;
    let (mut idx, mut dist) = (vec![0u32; n], vec![0f32; n]);
    let mut prev_idx = vec![u32::MAX; n];
    let mut prev_energy = f64::INFINITY;
    let mut sums = vec![0f64; m * d];
    let mut counts = vec![0usize; m];
    let mut iterations = 0;
    loop {
        assign(data, centroids, d, opts.threads, &mut idx, &mut dist)?;
        let energy: f64 = dist.iter().map(|&v| v as f64).sum();
        on_iter(iterations, energy);
        let stalled = prev_energy - energy <= opts.tol * prev_energy || idx == prev_idx;
        if iterations >= opts.max_iter || (iterations > 0 && stalled) {
            return Ok((energy, iterations, idx));
        }
        prev_energy = energy;
        prev_idx.copy_from_slice(&idx);
        iterations += 1;
        // Update: the mean of each cluster, summed in f64.
        sums.iter_mut().for_each(|s| *s = 0.0);
        counts.iter_mut().for_each(|c| *c = 0);
        for (i, &j) in idx.iter().enumerate() {
            let j = j as usize;
            counts[j] += 1;
            for (s, &x) in sums[j * d..(j + 1) * d].iter_mut().zip(&data[i * d..(i + 1) * d]) {
                *s += x as f64;
            }
        }
        // Empty-cluster repair: an empty cluster takes the row farthest from its codeword (as
        // scikit-learn and VLFeat do), which leaves its old cluster; each row moves at most once.
        if counts.contains(&0) {
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &b| dist[b].total_cmp(&dist[a]).then(a.cmp(&b)));
            let mut next = 0;
            for j in 0..m {
                if counts[j] > 0 {
                    continue;
                }
                // The farthest row whose cluster keeps at least one row.
                while next < n && counts[idx[order[next]] as usize] <= 1 {
                    next += 1;
                }
                let Some(&i) = order.get(next) else { break };
                next += 1;
                let old = idx[i] as usize;
                for t in 0..d {
                    let x = data[i * d + t] as f64;
                    sums[old * d + t] -= x;
                    sums[j * d + t] = x;
                }
                counts[old] -= 1;
                counts[j] = 1;
                idx[i] = j as u32;
            }
        }
        for j in 0..m {
            if counts[j] > 0 {
                let inv = 1.0 / counts[j] as f64;
                for (c, &s) in centroids[j * d..(j + 1) * d].iter_mut().zip(&sums[j * d..(j + 1) * d]) {
                    *c = (s * inv) as f32;
                }
            }
        }
    }
}

/// Fits M codewords to the rows of `data` `[N, D]` by k-means: greedy k-means++ seeding, Lloyd
/// iterations with the VQ search for assignment (exact distances, ties to the lowest index),
/// empty-cluster repair, and `restarts` runs keeping the lowest energy. Deterministic under
/// `options.seed` (also with several threads).
///
/// Errors: `d == 0` or `clusters == 0` ([`Error::Empty`]); fewer rows than clusters or a length
/// not a multiple of `d` ([`Error::Shape`]); a non-finite value ([`Error::Value`]).
///
/// ```
/// use fvae::fit::{kmeans, KMeansOptions};
/// let data = [0.0, 0.1, 0.2, 10.0, 10.1, 10.2];
/// let km = kmeans(&data, 1, &KMeansOptions::new(2))?;
/// let mut c = km.centroids.clone();
/// c.sort_by(f32::total_cmp);
/// assert!((c[0] - 0.1).abs() < 1e-6 && (c[1] - 10.1).abs() < 1e-5);
/// # Ok::<(), fvae::Error>(())
/// ```
pub fn kmeans(data: &[f32], d: usize, options: &KMeansOptions) -> Result<KMeans> {
    kmeans_with(data, d, options, &mut |_, _| {})
}

/// [`kmeans`] calling `on_iter(iteration, energy)` after each assignment step (for progress).
pub fn kmeans_with(
    data: &[f32],
    d: usize,
    options: &KMeansOptions,
    on_iter: &mut dyn FnMut(usize, f64),
) -> Result<KMeans> {
    if options.clusters == 0 {
        return Err(Error::Empty { what: "k-means clusters" });
    }
    let n = check_data(data, d, options.clusters, "data rows (at least one per cluster)")?;
    if options.tol.is_nan() || options.tol < 0.0 {
        return Err(Error::Value { what: "k-means tol", index: 0, reason: "must be >= 0" });
    }
    let mut rng = Rng::new(options.seed);
    let mut best: Option<KMeans> = None;
    for _ in 0..options.restarts.max(1) {
        let mut centroids = seed_plus_plus(data, n, d, options.clusters, &mut rng);
        let (energy, iterations, labels) = lloyd(data, n, d, &mut centroids, options, on_iter)?;
        if best.as_ref().is_none_or(|b| energy < b.energy) {
            best = Some(KMeans { centroids, d, labels, energy, iterations });
        }
    }
    best.ok_or(Error::Empty { what: "k-means restarts" })
}

/// Residual-VQ codebooks trained stage by stage.
#[derive(Debug, Clone, PartialEq)]
pub struct ResidualKMeans {
    /// `[S, M, D]` row-major, the layout of [`ResidualVq`](crate::vq::ResidualVq).
    pub codebooks: Vec<f32>,
    /// Stages S.
    pub stages: usize,
    /// Codewords per stage M.
    pub m: usize,
    /// Dimension D.
    pub d: usize,
    /// Energy (sum of squared residual norms) after each stage, decreasing.
    pub energies: Vec<f64>,
}

/// Residual VQ (Juang and Gray 1982): stage s is k-means on what stages 0..s left, each row
/// encoded greedily (its nearest codeword subtracted), exactly as
/// [`ResidualVq::encode`](crate::vq::ResidualVq::encode) encodes. Stage s uses seed
/// `options.seed + s`.
///
/// ```
/// use fvae::fit::{residual_kmeans, KMeansOptions};
/// let data: Vec<f32> = (0..64).map(|i| (i as f32 * 0.37).sin()).collect();
/// let r = residual_kmeans(&data, 2, 2, &KMeansOptions::new(4))?;
/// assert_eq!(r.codebooks.len(), 2 * 4 * 2);
/// assert!(r.energies[1] <= r.energies[0]);
/// # Ok::<(), fvae::Error>(())
/// ```
pub fn residual_kmeans(data: &[f32], d: usize, stages: usize, options: &KMeansOptions) -> Result<ResidualKMeans> {
    residual_kmeans_with(data, d, stages, options, &mut |_, _, _| {})
}

/// [`residual_kmeans`] calling `on_iter(stage, iteration, energy)` for progress.
pub fn residual_kmeans_with(
    data: &[f32],
    d: usize,
    stages: usize,
    options: &KMeansOptions,
    on_iter: &mut dyn FnMut(usize, usize, f64),
) -> Result<ResidualKMeans> {
    if stages == 0 {
        return Err(Error::Empty { what: "residual VQ stages" });
    }
    check_data(data, d, options.clusters, "data rows (at least one per cluster)")?;
    let mut residual = data.to_vec();
    let mut codebooks = Vec::with_capacity(stages * options.clusters * d);
    let mut energies = Vec::with_capacity(stages);
    for s in 0..stages {
        let opts = KMeansOptions { seed: options.seed.wrapping_add(s as u64), ..options.clone() };
        let km = kmeans_with(&residual, d, &opts, &mut |i, e| on_iter(s, i, e))?;
        for (i, &j) in km.labels.iter().enumerate() {
            let c = &km.centroids[j as usize * d..(j as usize + 1) * d];
            residual[i * d..(i + 1) * d].iter_mut().zip(c).for_each(|(r, &c)| *r -= c);
        }
        energies.push(km.energy);
        codebooks.extend_from_slice(&km.centroids);
    }
    Ok(ResidualKMeans { codebooks, stages, m: options.clusters, d, energies })
}
