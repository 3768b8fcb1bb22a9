//! `fvae`: Gaussian-mixture scoring, Fisher vectors, VQ and int8 decoding over `.npy` files.
//! The command line is a contract (DESIGN.md): float outputs are f32 `.npy`, indices i64;
//! errors are one line on stderr with a non-zero exit, and no output file is left half-written.

mod gmm;
mod io;

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
}

fn run(cli: Cli) -> io::CliResult<()> {
    match cli.command {
        Command::Logpdf(a) => gmm::logpdf(a),
        Command::Posteriors(a) => gmm::posteriors(a),
        Command::Fv(a) => gmm::fv(a),
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
