//! `fvae logpdf`, `fvae posteriors` and `fvae fv`: Gaussian-mixture scoring and Fisher vectors.

use crate::io::{self, at_row, ctx, normalization, CliResult};
use clap::{Args, ValueEnum};
use fvae::fisher::{FisherAccumulator, FisherOptions, Layout};
use fvae::formats::safetensors::SafeTensors;
use fvae::formats::AlignedBuf;
use fvae::gmm::{Assignment, DiagGmm};
use std::path::{Path, PathBuf};

/// Options shared by the GMM commands.
#[derive(Args, Debug)]
pub struct GmmInput {
    /// The mixture: `.safetensors` with `weights` [K], `means` [K,D], `covariances` [K,D] (f32).
    #[arg(long)]
    pub gmm: PathBuf,
    /// Descriptors [N,D] (`.npy`, any float or integer dtype; converted to f32).
    #[arg(long)]
    pub input: PathBuf,
    /// Output `.npy` (f32).
    #[arg(long)]
    pub out: PathBuf,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// `fvae posteriors` options.
#[derive(Args, Debug)]
pub struct PosteriorArgs {
    #[command(flatten)]
    pub io: GmmInput,
    /// One-hot assignments at the most likely component (ties to the lowest index).
    #[arg(long)]
    pub hard: bool,
    /// Posteriors below this become 0 (VLFeat uses 1e-6); default 0: keep all.
    #[arg(long, default_value_t = 0.0)]
    pub threshold: f32,
}

/// The Fisher-vector layout on the command line.
#[derive(ValueEnum, Clone, Copy, Debug, Default)]
pub enum LayoutArg {
    /// [G_mu, G_sigma], 2KD values, as VLFeat.
    #[default]
    Vlfeat,
    /// [G_w, G_mu, -G_sigma], 2KD+K values, as scikit-image.
    Skimage,
}

/// `fvae fv` options.
#[derive(Args, Debug)]
pub struct FvArgs {
    #[command(flatten)]
    pub io: GmmInput,
    /// Block order and signs.
    #[arg(long, value_enum, default_value_t = LayoutArg::Vlfeat)]
    pub layout: LayoutArg,
    /// Improved Fisher vector: signed square root, then L2.
    #[arg(long, conflicts_with = "power")]
    pub improved: bool,
    /// Power normalisation sign(z)|z|^A.
    #[arg(long, value_name = "A")]
    pub power: Option<f32>,
    /// L2 normalisation (after --power).
    #[arg(long)]
    pub l2: bool,
    /// Hard assignment (one-hot at the argmax, ties to the lowest index).
    #[arg(long, conflicts_with = "threshold")]
    pub hard: bool,
    /// Skip posteriors below T (VLFeat uses 1e-6); default 0: keep all.
    #[arg(long, value_name = "T")]
    pub threshold: Option<f32>,
    /// One Fisher vector per group of G consecutive rows ([N/G, len]) instead of one over all.
    #[arg(long, value_name = "G")]
    pub per_row_groups: Option<usize>,
    /// Latent GMM Fisher vector: run each row through this int8 `.tflite` encoder first (the GMM
    /// is then fitted in its latent space, D = L).
    #[arg(long)]
    pub encoder: Option<PathBuf>,
    /// Print the encoding time (no file I/O) to stderr, for benchmarks.
    #[arg(long, hide = true)]
    pub timing: bool,
}

/// A loaded mixture: the file's bytes and the constants the view borrows.
pub struct LoadedGmm {
    file: AlignedBuf,
    constants: Vec<f32>,
}

impl LoadedGmm {
    /// Reads and validates a mixture file.
    pub fn read(path: &Path) -> CliResult<Self> {
        let file = io::read_file(path)?;
        let st = SafeTensors::parse(file.as_bytes()).map_err(ctx(path))?;
        // Size the constants from the tensors; the view validates the shapes themselves.
        let n = st.tensor("means").map_err(ctx(path))?.shape().numel().unwrap_or(0);
        let k = st.tensor("weights").map_err(ctx(path))?.shape().numel().unwrap_or(0);
        let d = n.checked_div(k).unwrap_or(0);
        let mut loaded = LoadedGmm { file, constants: vec![0.0; DiagGmm::constants_len(k, d)] };
        loaded.view(path)?;
        Ok(loaded)
    }

    /// The validated view.
    pub fn view(&mut self, path: &Path) -> CliResult<DiagGmm<'_>> {
        let st = SafeTensors::parse(self.file.as_bytes()).map_err(ctx(path))?;
        DiagGmm::from_safetensors(&st, &mut self.constants).map_err(ctx(path))
    }
}

fn load(args: &GmmInput) -> CliResult<(LoadedGmm, io::Matrix<f32>)> {
    let gmm = LoadedGmm::read(&args.gmm)?;
    let x = io::read_f32_matrix(&args.input)?;
    Ok((gmm, x))
}

fn check_dim(gmm: &DiagGmm, x: &io::Matrix<f32>, path: &Path) -> CliResult<()> {
    if x.cols != gmm.d() {
        return Err(format!("{}: descriptors have {} columns, the GMM has D = {}", path.display(), x.cols, gmm.d()));
    }
    Ok(())
}

/// `fvae logpdf`: [N,K] log N(x | k), no weights.
pub fn logpdf(args: GmmInput) -> CliResult<()> {
    let (mut g, x) = load(&args)?;
    let gmm = g.view(&args.gmm)?;
    check_dim(&gmm, &x, &args.input)?;
    let (d, k) = (gmm.d(), gmm.k());
    let parts = io::parallel(x.rows, io::threads(args.threads), |r| {
        let mut out = vec![0.0; r.len() * k];
        gmm.log_densities_batch(&x.data[r.start * d..r.end * d], &mut out).map_err(at_row(&args.input, r.start, d))?;
        Ok(out)
    })?;
    io::write_f32(&args.out, &[x.rows, k], &parts.concat())
}

/// `fvae posteriors`: [N,K] soft (or hard) assignments.
pub fn posteriors(args: PosteriorArgs) -> CliResult<()> {
    let (mut g, x) = load(&args.io)?;
    let gmm = g.view(&args.io.gmm)?;
    check_dim(&gmm, &x, &args.io.input)?;
    let assignment = assignment(args.hard, Some(args.threshold))?;
    let (d, k) = (gmm.d(), gmm.k());
    let parts = io::parallel(x.rows, io::threads(args.io.threads), |r| {
        let mut out = vec![0.0; r.len() * k];
        gmm.posteriors_batch(&x.data[r.start * d..r.end * d], assignment, &mut out, None).map_err(at_row(
            &args.io.input,
            r.start,
            d,
        ))?;
        Ok(out)
    })?;
    io::write_f32(&args.io.out, &[x.rows, k], &parts.concat())
}

fn assignment(hard: bool, threshold: Option<f32>) -> CliResult<Assignment> {
    match (hard, threshold.unwrap_or(0.0)) {
        (true, _) => Ok(Assignment::Hard),
        (false, t) if t.is_finite() && t >= 0.0 => Ok(Assignment::Soft { threshold: t }),
        (false, t) => Err(format!("--threshold must be finite and >= 0, got {t}")),
    }
}

/// `fvae fv`: one Fisher vector over all rows, or one per group of rows.
pub fn fv(args: FvArgs) -> CliResult<()> {
    if args.encoder.is_none() && args.per_row_groups.is_none() {
        if let Some(done) = fv_streamed(&args)? {
            return Ok(done);
        }
    }
    let (mut g, x) = load(&args.io)?;
    let x = match &args.encoder {
        Some(e) => crate::fvvae::encode_rows(e, x, &args.io.input, io::threads(args.io.threads))?,
        None => x,
    };
    let gmm = g.view(&args.io.gmm)?;
    check_dim(&gmm, &x, &args.io.input)?;
    let options = FisherOptions::DEFAULT.with_assignment(assignment(args.hard, args.threshold)?);
    let norm = normalization(args.improved, args.power, args.l2)?;
    let layout = match args.layout {
        LayoutArg::Vlfeat => Layout::VlFeat,
        LayoutArg::Skimage => Layout::SkImage,
    };
    let (d, k) = (gmm.d(), gmm.k());
    let len = layout.len(k, d);
    let threads = io::threads(args.io.threads);
    let input = &args.io.input;
    if x.rows == 0 {
        return Err(format!("{}: no descriptors", input.display()));
    }
    let bar = io::progress(x.rows as u64, "fv");
    let start = std::time::Instant::now();
    let (shape, out) = match args.per_row_groups {
        None => {
            // Each thread accumulates its rows; the statistics are merged before finishing.
            let parts = io::parallel(x.rows, threads, |r| {
                let mut storage = vec![0.0; FisherAccumulator::storage_len(k, d)];
                let mut acc = FisherAccumulator::new(gmm, options, &mut storage).map_err(|e| e.to_string())?;
                for chunk in r.clone().step_by(4096) {
                    let end = (chunk + 4096).min(r.end);
                    acc.push_batch(&x.data[chunk * d..end * d]).map_err(at_row(input, chunk, d))?;
                    bar.inc((end - chunk) as u64);
                }
                let n = acc.count();
                let (s0, s1, s2) = acc.statistics();
                Ok((n, s0.to_vec(), s1.to_vec(), s2.to_vec()))
            })?;
            let mut storage = vec![0.0; FisherAccumulator::storage_len(k, d)];
            let mut total = FisherAccumulator::new(gmm, options, &mut storage).map_err(|e| e.to_string())?;
            for (n, s0, s1, s2) in &parts {
                total.merge_statistics(*n, s0, s1, s2).map_err(|e| e.to_string())?;
            }
            let mut fv = vec![0.0; len];
            total.finish(layout, norm, &mut fv).map_err(|e| e.to_string())?;
            (vec![len], fv)
        }
        Some(group) => {
            if group == 0 || x.rows % group != 0 {
                return Err(format!(
                    "--per-row-groups {group} does not divide the {} rows of {}",
                    x.rows,
                    input.display()
                ));
            }
            let groups = x.rows / group;
            let parts = io::parallel(groups, threads, |r| {
                let mut storage = vec![0.0; FisherAccumulator::storage_len(k, d)];
                let mut acc = FisherAccumulator::new(gmm, options, &mut storage).map_err(|e| e.to_string())?;
                let mut out = vec![0.0; r.len() * len];
                for (gi, o) in r.clone().zip(out.chunks_exact_mut(len)) {
                    acc.reset();
                    acc.push_batch(&x.data[gi * group * d..(gi + 1) * group * d]).map_err(at_row(
                        input,
                        gi * group,
                        d,
                    ))?;
                    acc.finish(layout, norm, o).map_err(|e| e.to_string())?;
                    bar.inc(group as u64);
                }
                Ok(out)
            })?;
            (vec![groups, len], parts.concat())
        }
    };
    bar.finish_and_clear();
    if args.timing {
        eprintln!("fv: encoded {} rows in {:.6} s", x.rows, start.elapsed().as_secs_f64());
    }
    io::write_f32(&args.io.out, &shape, &out)
}

/// `fvae fv` over a plain f32 `.npy`: each thread reads its own rows block by block and
/// encodes each block as it arrives (see [`io::stream_f32_rows`]), so the descriptors are never
/// whole in memory and the reading is spread over the threads like the encoding; the threads'
/// statistics are merged in row order. `None` if the input needs the whole-file path (another
/// dtype, or a file it should report on).
fn fv_streamed(args: &FvArgs) -> CliResult<Option<()>> {
    let mut g = LoadedGmm::read(&args.io.gmm)?;
    let gmm = g.view(&args.io.gmm)?;
    let options = FisherOptions::DEFAULT.with_assignment(assignment(args.hard, args.threshold)?);
    let norm = normalization(args.improved, args.power, args.l2)?;
    let layout = match args.layout {
        LayoutArg::Vlfeat => Layout::VlFeat,
        LayoutArg::Skimage => Layout::SkImage,
    };
    let (d, k) = (gmm.d(), gmm.k());
    let input = &args.io.input;
    let bar = io::progress(0, "fv");
    // 256 KiB blocks stay in L2 between the read and the encoding.
    let streamed = io::stream_f32_rows(
        input,
        256 << 10,
        io::threads(args.io.threads),
        |rows, cols| {
            if cols != d {
                return Err(format!("{}: descriptors have {cols} columns, the GMM has D = {d}", input.display()));
            }
            if rows == 0 {
                return Err(format!("{}: no descriptors", input.display()));
            }
            bar.set_length(rows as u64);
            Ok(())
        },
        |blocks| {
            let mut storage = vec![0.0; FisherAccumulator::storage_len(k, d)];
            let mut acc = FisherAccumulator::new(gmm, options, &mut storage).map_err(|e| e.to_string())?;
            let mut encoding = std::time::Duration::ZERO;
            while let Some((block, first_row)) = blocks.next_block()? {
                let start = std::time::Instant::now();
                acc.push_batch(block).map_err(at_row(input, first_row, d))?;
                encoding += start.elapsed();
                bar.inc((block.len() / d) as u64);
            }
            let n = acc.count();
            let (s0, s1, s2) = acc.statistics();
            Ok(((n, s0.to_vec(), s1.to_vec(), s2.to_vec()), encoding))
        },
    )?;
    let Some(((rows, _), parts)) = streamed else { return Ok(None) };
    let start = std::time::Instant::now();
    let mut storage = vec![0.0; FisherAccumulator::storage_len(k, d)];
    let mut total = FisherAccumulator::new(gmm, options, &mut storage).map_err(|e| e.to_string())?;
    for ((n, s0, s1, s2), _) in &parts {
        total.merge_statistics(*n, s0, s1, s2).map_err(|e| e.to_string())?;
    }
    let mut fv = vec![0.0; layout.len(k, d)];
    total.finish(layout, norm, &mut fv).map_err(|e| e.to_string())?;
    bar.finish_and_clear();
    if args.timing {
        // The slowest thread's encoding (reading excluded), then the merge and the normalisation.
        let encoding = parts.iter().map(|p| p.1).max().unwrap_or_default() + start.elapsed();
        eprintln!("fv: encoded {rows} rows in {:.6} s", encoding.as_secs_f64());
    }
    io::write_f32(&args.io.out, &[fv.len()], &fv).map(Some)
}
