//! `fvae decode`: run an int8 `.tflite` network on every row of an `.npy` (one inference per
//! row), bit-exact with TFLite Micro.

use crate::io::{self, ctx, CliResult};
use clap::Args;
use fvae::formats::npy::Npy;
use fvae::formats::tflite::TensorType;
use fvae::formats::DType;
use fvae::nn::Network;
use std::path::PathBuf;
use std::time::Instant;

/// `fvae decode` options.
#[derive(Args, Debug)]
pub struct DecodeArgs {
    /// The network: a full-integer `.tflite` (int8 input and output).
    #[arg(long)]
    pub model: PathBuf,
    /// Inputs [N, in] `.npy`: int8 (already quantised, used as is) or float (quantised with the
    /// model input's scale and zero point, round half away from zero, clamped to int8).
    #[arg(long)]
    pub input: PathBuf,
    /// Output [N, out] int8 `.npy`.
    #[arg(long)]
    pub out: PathBuf,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print the inference time (without file input and output) to stderr, for benchmarks.
    #[arg(long, hide = true)]
    pub timing: bool,
}

pub fn decode(a: DecodeArgs) -> CliResult<()> {
    let model_buf = io::read_file(&a.model)?;
    let net = Network::new(model_buf.as_bytes()).map_err(ctx(&a.model))?;
    let (inp, outp) = (net.input(0).map_err(ctx(&a.model))?, net.output(0).map_err(ctx(&a.model))?);
    for (t, what) in [(&inp, "input"), (&outp, "output")] {
        if t.dtype != TensorType::Int8 {
            return Err(format!(
                "{}: the model's {what} is {}, `fvae decode` runs int8 in, int8 out",
                a.model.display(),
                t.dtype.name()
            ));
        }
    }
    let (din, dout) = (inp.len, outp.len);

    let in_buf = io::read_file(&a.input)?;
    let npy = Npy::parse(in_buf.as_bytes()).map_err(ctx(&a.input))?;
    let (rows, cols) = npy.rows_cols();
    if cols != din {
        return Err(format!("{}: rows have {cols} columns, the model input has {din}", a.input.display()));
    }
    let quantised;
    let x: &[i8] = if npy.dtype() == DType::I8 {
        npy.as_i8("input").map_err(ctx(&a.input))?
    } else {
        let f = npy.to_f32_vec("input").map_err(ctx(&a.input))?;
        let mut q = vec![0i8; f.len()];
        fvae::vae::quantize(&f, inp.scale, inp.zero_point, &mut q).map_err(|e| match e {
            fvae::Error::Value { index, reason, .. } => {
                format!("{}: row {}, column {}: {reason}", a.input.display(), index / din, index % din)
            }
            e => format!("{}: {e}", a.input.display()),
        })?;
        quantised = q;
        &quantised
    };

    let threads = io::threads(a.threads);
    let arena_len = net.required_arena();
    let start = Instant::now();
    let parts = io::parallel(rows, threads, |range| {
        let mut arena = vec![0u8; arena_len];
        let mut it = net.interpreter(&mut arena).map_err(ctx(&a.model))?;
        let mut out = vec![0i8; range.len() * dout];
        for (r, o) in range.clone().zip(out.chunks_exact_mut(dout)) {
            it.input_i8_mut(0).map_err(ctx(&a.model))?.copy_from_slice(&x[r * din..(r + 1) * din]);
            it.invoke().map_err(|e| format!("{}: row {r}: {e}", a.model.display()))?;
            o.copy_from_slice(it.output_i8(0).map_err(ctx(&a.model))?);
        }
        Ok(out)
    })?;
    let elapsed = start.elapsed();
    if a.timing {
        eprintln!(
            "fvae decode: {rows} rows in {:.3} ms, {:.3} us per row ({threads} threads, {} path)",
            elapsed.as_secs_f64() * 1e3,
            elapsed.as_secs_f64() * 1e6 / rows.max(1) as f64,
            fvae::kernels::int8::path_name()
        );
    }
    let y: Vec<i8> = parts.concat();
    io::write_i8(&a.out, &[rows, dout], &y)
}
