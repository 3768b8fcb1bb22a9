//! `fvae`: Gaussian-mixture scoring, Fisher vectors, VQ and int8 decoding over `.npy` files.
//! The command line is a contract (DESIGN.md): float outputs are f32 `.npy`, indices i64;
//! errors are one line on stderr with a non-zero exit, and no output file is left half-written.

mod fit;
mod fvvae;
mod gmm;
mod io;
mod nn;
mod vq;
mod vqvae;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(name = "fvae", version, about = "Probabilistic encoding kernels over .npy files")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// [N,K] log N(x | k) of each descriptor under each component (mixture weights not included).
    Logpdf(gmm::GmmInput),
    /// [N,K] posteriors p(k | x) (soft, thresholded, or hard).
    Posteriors(gmm::PosteriorArgs),
    /// One Fisher vector over all rows (or one per group of rows).
    Fv(gmm::FvArgs),
    /// Nearest codewords (f32 or int8 codebook, by its dtype): [N] or [N,K] i64 indices.
    Vq(vq::VqArgs),
    /// Residual VQ: `encode` queries to [N,S] codes, `decode` codes to [N,D] reconstructions.
    #[command(subcommand)]
    Rvq(vq::RvqCommand),
    /// Run an int8 .tflite network on each row: [N,in] int8 -> [N,out] int8 (bit-exact with TFLite Micro).
    Decode(nn::DecodeArgs),
    /// VQ-VAE codec: `encode` signals to [N,L] codeword indices, `decode` indices to signals.
    #[command(subcommand)]
    Vqvae(vqvae::VqVaeCommand),
    /// Fisher vectors from a VAE (FV-VAE): int8 encoder + one float decoder layer, [P(L+1)] per FV.
    FvVae(fvvae::FvVaeArgs),
    /// Fit a diagonal GMM by EM (k-means initialisation) to [N,D] rows: weights, means, covariances.
    FitGmm(fit::FitGmmArgs),
    /// Fit a k-means codebook [M,D] (or residual-VQ codebooks [S,M,D] with --stages).
    FitKmeans(fit::FitKmeansArgs),
    /// VLAD vector(s) over a codebook (residuals to the nearest codeword, VLFeat's normalisations).
    Vlad(fit::VladArgs),
    /// Bag-of-words histogram(s) over a codebook (hard or soft assignment).
    Bow(fit::BowArgs),
}

fn run(cli: Cli) -> io::CliResult<()> {
    match cli.command {
        Command::Logpdf(a) => gmm::logpdf(a),
        Command::Posteriors(a) => gmm::posteriors(a),
        Command::Fv(a) => gmm::fv(a),
        Command::Vq(a) => vq::vq(a),
        Command::Rvq(c) => vq::rvq(c),
        Command::Decode(a) => nn::decode(a),
        Command::Vqvae(c) => vqvae::vqvae(c),
        Command::FvVae(a) => fvvae::fv_vae(a),
        Command::FitGmm(a) => fit::fit_gmm(a),
        Command::FitKmeans(a) => fit::fit_kmeans(a),
        Command::Vlad(a) => fit::vlad(a),
        Command::Bow(a) => fit::bow(a),
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fvae: error: {e}");
            ExitCode::FAILURE
        }
    }
}
