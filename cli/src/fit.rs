//! `fvae fit-gmm`, `fvae fit-kmeans` (fitting models from `.npy` descriptors), `fvae vlad` and
//! `fvae bow` (VLAD vectors and bag-of-words histograms over a codebook).

use crate::io::{self, at_row, ctx, CliResult};
use clap::{Args, ValueEnum};
use fvae::bow::{BowAccumulator, BowAssignment, BowNormalization};
use fvae::fit::{fit_gmm_with, kmeans_with, residual_kmeans_with, GmmFitOptions, KMeansOptions};
use fvae::formats::safetensors::{self, SafeTensors};
use fvae::formats::DType;
use fvae::vlad::{VladAccumulator, VladNormalization};
use fvae::vq::Codebook;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};

/// `fvae fit-gmm` options.
#[derive(Args, Debug)]
pub struct FitGmmArgs {
    /// Training descriptors [N,D] (`.npy`, any float or integer dtype; converted to f32).
    #[arg(long)]
    pub input: PathBuf,
    /// Number of components K.
    #[arg(long)]
    pub components: usize,
    /// Output `.safetensors`: `weights` [K], `means` [K,D], `covariances` [K,D] (f32).
    #[arg(long)]
    pub out: PathBuf,
    /// Seed of the k-means initialisation (the same seed and thread count give the same model).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// EM iterations at most.
    #[arg(long, default_value_t = 100)]
    pub max_iter: usize,
    /// Stop when the mean log-likelihood per row changes by less than this.
    #[arg(long, default_value_t = 1e-3)]
    pub tol: f64,
    /// Added to every variance (scikit-learn's reg_covar).
    #[arg(long, default_value_t = 1e-6)]
    pub reg_covar: f32,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// `fvae fit-kmeans` options.
#[derive(Args, Debug)]
pub struct FitKmeansArgs {
    /// Training descriptors [N,D] (`.npy`).
    #[arg(long)]
    pub input: PathBuf,
    /// Codewords M (per stage with --stages).
    #[arg(long)]
    pub clusters: usize,
    /// Output `.safetensors`: `codebook` [M,D], or `codebooks` [S,M,D] with --stages.
    #[arg(long)]
    pub out: PathBuf,
    /// Residual VQ: train S stages, each on what the previous ones left.
    #[arg(long)]
    pub stages: Option<usize>,
    /// Seed of the k-means++ seeding.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Independent runs; the lowest energy wins.
    #[arg(long, default_value_t = 1)]
    pub restarts: usize,
    /// Lloyd iterations at most per run.
    #[arg(long, default_value_t = 300)]
    pub max_iter: usize,
    /// Worker threads (default: all cores; the result does not depend on it).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// Input and output shared by `vlad` and `bow`.
#[derive(Args, Debug)]
pub struct EncodeIo {
    /// The codebook: `.safetensors` with `codebook` [M,D] f32.
    #[arg(long)]
    pub codebook: PathBuf,
    /// Descriptors [N,D] (`.npy`).
    #[arg(long)]
    pub input: PathBuf,
    /// Output `.npy` (f32): one vector over all rows, or [N/G, len] with --per-row-groups G.
    #[arg(long)]
    pub out: PathBuf,
    /// One vector per group of G consecutive rows.
    #[arg(long, value_name = "G")]
    pub per_row_groups: Option<usize>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// `fvae vlad` options (VLFeat's flags; by default the whole vector is L2-normalised).
#[derive(Args, Debug)]
pub struct VladArgs {
    #[command(flatten)]
    pub io: EncodeIo,
    /// Divide each codeword's sum by its number of descriptors.
    #[arg(long)]
    pub mass: bool,
    /// Signed square root of every value.
    #[arg(long)]
    pub sqrt: bool,
    /// L2-normalise each codeword's block (intra-normalisation).
    #[arg(long)]
    pub intra: bool,
    /// Skip the final L2 normalisation.
    #[arg(long)]
    pub unnormalized: bool,
}

/// Histogram normalisation on the command line.
#[derive(ValueEnum, Clone, Copy, Debug, Default)]
pub enum BowNormArg {
    /// The (weighted) counts.
    Counts,
    /// Term frequencies (sum 1).
    #[default]
    L1,
    /// Unit L2 norm.
    L2,
    /// Square root of the frequencies.
    Hellinger,
}

/// `fvae bow` options.
#[derive(Args, Debug)]
pub struct BowArgs {
    #[command(flatten)]
    pub io: EncodeIo,
    /// Soft assignment over the K nearest codewords (default: hard, the nearest only).
    #[arg(long, value_name = "K")]
    pub soft: Option<usize>,
    /// Soft-assignment kernel: weights proportional to exp(-beta * squared distance).
    #[arg(long, default_value_t = 1.0)]
    pub beta: f32,
    /// Histogram normalisation.
    #[arg(long, value_enum, default_value_t = BowNormArg::L1)]
    pub norm: BowNormArg,
}

/// A progress bar counting iterations (drawn only when stderr is a terminal).
fn iteration_bar(max: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(max as u64);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} iterations ({elapsed})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}

fn read_data(path: &Path) -> CliResult<io::Matrix<f32>> {
    let x = io::read_f32_matrix(path)?;
    if x.rows == 0 || x.cols == 0 {
        return Err(format!("{}: no descriptors", path.display()));
    }
    Ok(x)
}

/// Maps a flat data index in an error to row and column.
fn at(path: &Path, d: usize) -> impl Fn(fvae::Error) -> String + '_ {
    move |e| match e {
        fvae::Error::Value { what, index, reason } if what.starts_with("data") || what.starts_with("descriptor") => {
            format!("{}: row {}, column {}: {reason}", path.display(), index / d, index % d)
        }
        e => format!("{}: {e}", path.display()),
    }
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// `fvae fit-gmm`.
pub fn fit_gmm(args: FitGmmArgs) -> CliResult<()> {
    let x = read_data(&args.input)?;
    let options = GmmFitOptions::new(args.components)
        .with_max_iter(args.max_iter)
        .with_tol(args.tol)
        .with_reg_covar(args.reg_covar)
        .with_seed(args.seed)
        .with_threads(io::threads(args.threads));
    let bar = iteration_bar(args.max_iter, "EM");
    let g = fit_gmm_with(&x.data, x.cols, &options, &mut |i, ll| {
        bar.set_position(i as u64 + 1);
        bar.set_message(format!("EM (log-likelihood {ll:.4})"));
    })
    .map_err(at(&args.input, x.cols))?;
    bar.finish_and_clear();
    eprintln!(
        "fit-gmm: K={} D={} N={}: mean log-likelihood {:.6} after {} iterations ({})",
        g.k,
        g.d,
        x.rows,
        g.log_likelihood,
        g.iterations,
        if g.converged { "converged" } else { "max-iter reached" }
    );
    io::write_atomic(&args.out, |w| g.write_safetensors(w))
}

/// `fvae fit-kmeans`.
pub fn fit_kmeans(args: FitKmeansArgs) -> CliResult<()> {
    let x = read_data(&args.input)?;
    let d = x.cols;
    let options = KMeansOptions::new(args.clusters)
        .with_max_iter(args.max_iter)
        .with_restarts(args.restarts)
        .with_seed(args.seed)
        .with_threads(io::threads(args.threads));
    let stages = args.stages.unwrap_or(1);
    let bar = iteration_bar(args.max_iter, "k-means");
    let report = |stage: usize, i: usize, e: f64| {
        bar.set_position(i as u64);
        bar.set_message(format!("k-means stage {} (energy {e:.6e})", stage + 1));
    };
    let (name, shape, data, energies) = match args.stages {
        None => {
            let km = kmeans_with(&x.data, d, &options, &mut |i, e| report(0, i, e)).map_err(at(&args.input, d))?;
            ("codebook", vec![args.clusters, d], km.centroids, vec![km.energy])
        }
        Some(_) => {
            let r = residual_kmeans_with(&x.data, d, stages, &options, &mut |s, i, e| report(s, i, e))
                .map_err(at(&args.input, d))?;
            ("codebooks", vec![stages, args.clusters, d], r.codebooks, r.energies)
        }
    };
    bar.finish_and_clear();
    let per_row: Vec<String> = energies.iter().map(|e| format!("{:.6}", e / x.rows as f64)).collect();
    eprintln!("fit-kmeans: M={} D={d} N={}: energy per row {}", args.clusters, x.rows, per_row.join(" -> "));
    let bytes = f32_bytes(&data);
    io::write_atomic(&args.out, |w| safetensors::write(w, &[(name, DType::F32, &shape, &bytes)]))
}

fn load_codebook(path: &Path) -> CliResult<fvae::formats::AlignedBuf> {
    io::read_file(path)
}

/// Runs `encode(rows) -> raw state` over row ranges on threads, for one vector over all rows
/// or one per group, and finishes each with `finish(states) -> vector`.
fn encode_rows<S: Send>(
    x: &io::Matrix<f32>,
    enc: &EncodeIo,
    len: usize,
    what: &str,
    accumulate: impl Fn(&[f32], usize) -> CliResult<S> + Sync,
    finish: impl Fn(Vec<S>, &mut [f32]) -> CliResult<()> + Sync,
) -> CliResult<()> {
    let d = x.cols;
    let threads = io::threads(enc.threads);
    let bar = io::progress(x.rows as u64, what);
    let (shape, out) = match enc.per_row_groups {
        None => {
            let parts = io::parallel(x.rows, threads, |r| {
                let s = accumulate(&x.data[r.start * d..r.end * d], r.start)?;
                bar.inc(r.len() as u64);
                Ok(s)
            })?;
            let mut v = vec![0.0; len];
            finish(parts, &mut v)?;
            (vec![len], v)
        }
        Some(group) => {
            if group == 0 || !x.rows.is_multiple_of(group) {
                return Err(format!(
                    "--per-row-groups {group} does not divide the {} rows of {}",
                    x.rows,
                    enc.input.display()
                ));
            }
            let groups = x.rows / group;
            let parts = io::parallel(groups, threads, |r| {
                let mut out = vec![0.0; r.len() * len];
                for (gi, o) in r.clone().zip(out.chunks_exact_mut(len)) {
                    let s = accumulate(&x.data[gi * group * d..(gi + 1) * group * d], gi * group)?;
                    finish(vec![s], o)?;
                    bar.inc(group as u64);
                }
                Ok(out)
            })?;
            (vec![groups, len], parts.concat())
        }
    };
    bar.finish_and_clear();
    io::write_f32(&enc.out, &shape, &out)
}

/// `fvae vlad`.
pub fn vlad(args: VladArgs) -> CliResult<()> {
    let buf = load_codebook(&args.io.codebook)?;
    let st = SafeTensors::parse(buf.as_bytes()).map_err(ctx(&args.io.codebook))?;
    let cb = Codebook::from_safetensors(&st).map_err(ctx(&args.io.codebook))?;
    let x = read_data(&args.io.input)?;
    let (m, d) = (cb.m(), cb.d());
    if x.cols != d {
        return Err(format!("{}: rows have {} columns, the codebook has D = {d}", args.io.input.display(), x.cols));
    }
    let norm = VladNormalization { mass: args.mass, square_root: args.sqrt, intra: args.intra, l2: !args.unnormalized };
    let input = &args.io.input;
    encode_rows(
        &x,
        &args.io,
        m * d,
        "vlad",
        |rows, first| {
            let mut storage = vec![0.0; VladAccumulator::storage_len(m, d)];
            let mut acc = VladAccumulator::new(cb, &mut storage).map_err(|e| e.to_string())?;
            acc.push_batch(rows).map_err(at_row(input, first, d))?;
            Ok((acc.count(), acc.sums().to_vec(), acc.mass().to_vec()))
        },
        |parts, out| {
            let mut storage = vec![0.0; VladAccumulator::storage_len(m, d)];
            let mut acc = VladAccumulator::new(cb, &mut storage).map_err(|e| e.to_string())?;
            for (n, sums, mass) in &parts {
                acc.merge_parts(*n, sums, mass).map_err(|e| e.to_string())?;
            }
            acc.finish(norm, out).map_err(|e| e.to_string())
        },
    )
}

/// `fvae bow`.
pub fn bow(args: BowArgs) -> CliResult<()> {
    let buf = load_codebook(&args.io.codebook)?;
    let st = SafeTensors::parse(buf.as_bytes()).map_err(ctx(&args.io.codebook))?;
    let cb = Codebook::from_safetensors(&st).map_err(ctx(&args.io.codebook))?;
    let x = read_data(&args.io.input)?;
    let (m, d) = (cb.m(), cb.d());
    if x.cols != d {
        return Err(format!("{}: rows have {} columns, the codebook has D = {d}", args.io.input.display(), x.cols));
    }
    let assignment = match args.soft {
        None => BowAssignment::Hard,
        Some(k) => BowAssignment::Soft { neighbours: k, beta: args.beta },
    };
    // Validate the options once, before any thread starts.
    BowAccumulator::new(cb, assignment, &mut vec![0.0; m]).map_err(|e| format!("--soft/--beta: {e}"))?;
    let norm = match args.norm {
        BowNormArg::Counts => BowNormalization::Counts,
        BowNormArg::L1 => BowNormalization::L1,
        BowNormArg::L2 => BowNormalization::L2,
        BowNormArg::Hellinger => BowNormalization::Hellinger,
    };
    let input = &args.io.input;
    encode_rows(
        &x,
        &args.io,
        m,
        "bow",
        |rows, first| {
            let mut storage = vec![0.0; m];
            let mut acc = BowAccumulator::new(cb, assignment, &mut storage).map_err(|e| e.to_string())?;
            acc.push_batch(rows).map_err(at_row(input, first, d))?;
            Ok((acc.count(), acc.histogram().to_vec()))
        },
        |parts, out| {
            let mut storage = vec![0.0; m];
            let mut acc = BowAccumulator::new(cb, assignment, &mut storage).map_err(|e| e.to_string())?;
            for (n, h) in &parts {
                acc.merge_histogram(*n, h).map_err(|e| e.to_string())?;
            }
            acc.finish(norm, out).map_err(|e| e.to_string())
        },
    )
}
