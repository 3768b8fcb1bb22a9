//! `fvae fv-vae`: Fisher vectors from a VAE (an int8 `.tflite` encoder and one float decoder
//! layer), and the encoder step of `fvae fv --encoder` (latent GMM Fisher vectors).

use crate::io::{self, at_row, ctx, normalization, CliResult};
use clap::Args;
use fvae::formats::safetensors::SafeTensors;
use fvae::fvvae::{DecoderLayer, Encoder, FvVaeAccumulator, FvVaeOptions};
use fvae::nn::Network;
use std::path::{Path, PathBuf};

/// `fvae fv-vae` options.
#[derive(Args, Debug)]
pub struct FvVaeArgs {
    /// The encoder: a full-integer `.tflite` with an int8 input of P values (the descriptor,
    /// quantised with its scale and zero point) and an int8 output of L values (the latent mean).
    #[arg(long)]
    pub encoder: PathBuf,
    /// The decoder layer u = relu(W z + b): `.safetensors` with `weight` [P,L], `bias` [P],
    /// `variance` [P] (f32).
    #[arg(long)]
    pub decoder_layer: PathBuf,
    /// Descriptors [N,P] (`.npy`, any float or integer dtype; converted to f32).
    #[arg(long)]
    pub input: PathBuf,
    /// Output `.npy` (f32): [P(L+1)], or [N/G, P(L+1)] with --per-row-groups.
    #[arg(long)]
    pub out: PathBuf,
    /// Improved Fisher vector: signed square root, then L2.
    #[arg(long, conflicts_with = "power")]
    pub improved: bool,
    /// Power normalisation sign(z)|z|^A.
    #[arg(long, value_name = "A")]
    pub power: Option<f32>,
    /// L2 normalisation (after --power).
    #[arg(long)]
    pub l2: bool,
    /// One Fisher vector per group of G consecutive rows ([N/G, P(L+1)]) instead of one over all.
    #[arg(long, value_name = "G")]
    pub per_row_groups: Option<usize>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// Which row a batch error is about, for the message.
/// A loaded encoder network (validated once, then one interpreter per thread).
fn load_encoder(path: &Path) -> CliResult<(fvae::formats::AlignedBuf, usize, usize)> {
    let buf = io::read_file(path)?;
    let net = Network::new(buf.as_bytes()).map_err(ctx(path))?;
    let mut arena = vec![0u8; net.required_arena()];
    let mut z = vec![0f32; net.output(0).map_err(ctx(path))?.len];
    let (p, l) = {
        let enc = Encoder::new(&net, &mut arena, &mut z).map_err(ctx(path))?;
        (enc.input_len(), enc.latent_len())
    };
    Ok((buf, p, l))
}

/// Runs `work` with a fresh encoder over `model` (one per thread).
fn with_encoder<T>(model: &[u8], path: &Path, work: impl FnOnce(&mut Encoder) -> CliResult<T>) -> CliResult<T> {
    let net = Network::new(model).map_err(ctx(path))?;
    let mut arena = vec![0u8; net.required_arena()];
    let mut z = vec![0f32; net.output(0).map_err(ctx(path))?.len];
    let mut enc = Encoder::new(&net, &mut arena, &mut z).map_err(ctx(path))?;
    work(&mut enc)
}

fn check_cols(x: &io::Matrix<f32>, p: usize, input: &Path, encoder: &Path) -> CliResult<()> {
    if x.cols != p {
        return Err(format!(
            "{}: descriptors have {} columns, the encoder {} takes P = {p}",
            input.display(),
            x.cols,
            encoder.display()
        ));
    }
    if x.rows == 0 {
        return Err(format!("{}: no descriptors", input.display()));
    }
    Ok(())
}

/// The latents [N,L] of every row of `x` through the encoder at `encoder` (for `fvae fv
/// --encoder`).
pub fn encode_rows(encoder: &Path, x: io::Matrix<f32>, input: &Path, threads: usize) -> CliResult<io::Matrix<f32>> {
    let (model, p, l) = load_encoder(encoder)?;
    check_cols(&x, p, input, encoder)?;
    let parts = io::parallel(x.rows, threads, |r| {
        with_encoder(model.as_bytes(), encoder, |enc| {
            let mut out = vec![0f32; r.len() * l];
            for (row, o) in r.clone().zip(out.chunks_exact_mut(l)) {
                o.copy_from_slice(enc.encode(&x.data[row * p..(row + 1) * p]).map_err(at_row(input, row, p))?);
            }
            Ok(out)
        })
    })?;
    Ok(io::Matrix { data: parts.concat(), rows: x.rows, cols: l })
}

/// `fvae fv-vae`: one FV-VAE over all rows, or one per group of rows.
pub fn fv_vae(a: FvVaeArgs) -> CliResult<()> {
    let norm = normalization(a.improved, a.power, a.l2)?;
    let (model, p, l) = load_encoder(&a.encoder)?;
    let layer_buf = io::read_file(&a.decoder_layer)?;
    let st = SafeTensors::parse(layer_buf.as_bytes()).map_err(ctx(&a.decoder_layer))?;
    let layer = DecoderLayer::from_safetensors(&st).map_err(ctx(&a.decoder_layer))?;
    if (layer.p(), layer.l()) != (p, l) {
        return Err(format!(
            "{}: the layer is P = {}, L = {}, the encoder {} is P = {p}, L = {l}",
            a.decoder_layer.display(),
            layer.p(),
            layer.l(),
            a.encoder.display()
        ));
    }
    let x = io::read_f32_matrix(&a.input)?;
    check_cols(&x, p, &a.input, &a.encoder)?;
    let (threads, len, options) = (io::threads(a.threads), layer.fv_len(), FvVaeOptions::default());
    let storage_len = FvVaeAccumulator::storage_len(p, l);
    let bar = io::progress(x.rows as u64, "fv-vae");
    let (input, model) = (&a.input, model.as_bytes());
    let (shape, out) = match a.per_row_groups {
        None => {
            // Each thread accumulates its rows; the sums are merged before finishing.
            let parts = io::parallel(x.rows, threads, |r| {
                with_encoder(model, &a.encoder, |enc| {
                    let mut storage = vec![0f32; storage_len];
                    let mut acc = FvVaeAccumulator::new(layer, options, &mut storage).map_err(|e| e.to_string())?;
                    for chunk in r.clone().step_by(4096) {
                        let end = (chunk + 4096).min(r.end);
                        acc.push_batch(enc, &x.data[chunk * p..end * p]).map_err(at_row(input, chunk, p))?;
                        bar.inc((end - chunk) as u64);
                    }
                    Ok((acc.count(), acc.statistics().to_vec()))
                })
            })?;
            let mut storage = vec![0f32; storage_len];
            let mut total = FvVaeAccumulator::new(layer, options, &mut storage).map_err(|e| e.to_string())?;
            for (n, sums) in &parts {
                total.merge_statistics(*n, sums).map_err(|e| e.to_string())?;
            }
            let mut fv = vec![0f32; len];
            total.finish(norm, &mut fv).map_err(|e| e.to_string())?;
            (vec![len], fv)
        }
        Some(group) => {
            if group == 0 || !x.rows.is_multiple_of(group) {
                return Err(format!(
                    "--per-row-groups {group} does not divide the {} rows of {}",
                    x.rows,
                    input.display()
                ));
            }
            let groups = x.rows / group;
            let parts = io::parallel(groups, threads, |r| {
                with_encoder(model, &a.encoder, |enc| {
                    let mut storage = vec![0f32; storage_len];
                    let mut acc = FvVaeAccumulator::new(layer, options, &mut storage).map_err(|e| e.to_string())?;
                    let mut out = vec![0f32; r.len() * len];
                    for (gi, o) in r.clone().zip(out.chunks_exact_mut(len)) {
                        acc.reset();
                        let rows = &x.data[gi * group * p..(gi + 1) * group * p];
                        acc.push_batch(enc, rows).map_err(at_row(input, gi * group, p))?;
                        acc.finish(norm, o).map_err(|e| e.to_string())?;
                        bar.inc(group as u64);
                    }
                    Ok(out)
                })
            })?;
            (vec![groups, len], parts.concat())
        }
    };
    bar.finish_and_clear();
    io::write_f32(&a.out, &shape, &out)
}
