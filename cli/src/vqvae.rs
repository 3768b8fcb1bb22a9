//! `fvae vqvae encode|decode`: the VQ-VAE codec over `.npy` rows (one signal per row), bit-exact
//! with TFLite Micro.

use crate::io::{self, ctx, CliResult};
use clap::{Args, Subcommand};
use fvae::formats::npy::Npy;
use fvae::formats::safetensors::SafeTensors;
use fvae::formats::DType;
use fvae::nn::Network;
use fvae::vq::{Codebook, CodebookI8};
use fvae::vqvae::{VqVaeDecoder, VqVaeEncoder, VqVaeEncoderI8};
use std::path::{Path, PathBuf};

/// `fvae vqvae` subcommands.
#[derive(Subcommand, Debug)]
pub enum VqVaeCommand {
    /// [N,in] signals (int8 as given, or float quantised with the encoder input's scale and
    /// zero point) to [N,L] i64 codeword indices.
    Encode(EncodeArgs),
    /// [N,L] integer indices to [N,out] f32 reconstructions (dequantised), or int8 with --int8.
    Decode(DecodeArgs),
}

/// `fvae vqvae encode` options.
#[derive(Args, Debug)]
pub struct EncodeArgs {
    /// The encoder: a full-integer `.tflite` whose output is [1,h,w,c] or [1,L*c].
    #[arg(long)]
    pub encoder: PathBuf,
    /// `.safetensors` with `codebook` [M,c]: f32, or int8 with `scale` (the encoder output's
    /// scale, zero point 0: the exact integer search).
    #[arg(long)]
    pub codebook: PathBuf,
    /// Signals [N,in] `.npy`, int8 or float.
    #[arg(long)]
    pub input: PathBuf,
    /// Output [N,L] i64 indices.
    #[arg(long)]
    pub out: PathBuf,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// `fvae vqvae decode` options.
#[derive(Args, Debug)]
pub struct DecodeArgs {
    /// The decoder: a full-integer `.tflite` whose input is [1,h,w,c] or [1,L*c].
    #[arg(long)]
    pub decoder: PathBuf,
    /// `.safetensors` with `codebook` [M,c] (f32, or int8 with `scale`, used dequantised).
    #[arg(long)]
    pub codebook: PathBuf,
    /// Indices [N,L] `.npy`, any integer dtype.
    #[arg(long)]
    pub input: PathBuf,
    /// Output [N,out]: f32 dequantised, or the decoder's int8 with --int8.
    #[arg(long)]
    pub out: PathBuf,
    /// Write the decoder's int8 output as computed instead of dequantising it.
    #[arg(long)]
    pub int8: bool,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// `fvae vqvae encode|decode`.
pub fn vqvae(cmd: VqVaeCommand) -> CliResult<()> {
    match cmd {
        VqVaeCommand::Encode(a) => encode(a),
        VqVaeCommand::Decode(a) => decode(a),
    }
}

/// Either codebook kind, as its `.safetensors` `codebook` dtype says.
enum Codebooks<'a> {
    F32(Codebook<'a>),
    I8(CodebookI8<'a>),
}

fn read_codebook<'a>(path: &Path, st: &SafeTensors<'a>) -> CliResult<Codebooks<'a>> {
    let dtype = st.tensor("codebook").map_err(ctx(path))?.dtype();
    Ok(match dtype {
        DType::I8 => Codebooks::I8(CodebookI8::from_safetensors(st).map_err(ctx(path))?),
        _ => Codebooks::F32(Codebook::from_safetensors(st).map_err(ctx(path))?),
    })
}

/// One of the two encoders, each searching its own codebook kind.
enum Encoders<'a, 'm, 'c> {
    F32(VqVaeEncoder<'a, 'm, Codebook<'c>>),
    I8(VqVaeEncoderI8<'a, 'm, 'c>),
}

impl<'a, 'm, 'c> Encoders<'a, 'm, 'c> {
    fn new(
        net: &'a Network<'m>,
        arena: &'a mut [u8],
        z: &'a mut [f32],
        codebook: &Codebooks<'c>,
    ) -> fvae::Result<Self> {
        Ok(match codebook {
            Codebooks::F32(cb) => Encoders::F32(VqVaeEncoder::new(net, arena, z, *cb)?),
            Codebooks::I8(cb) => Encoders::I8(VqVaeEncoderI8::new(net, arena, z, *cb)?),
        })
    }

    /// The input length and L.
    fn sizes(&self) -> (usize, usize) {
        match self {
            Encoders::F32(e) => (e.input_len(), e.positions()),
            Encoders::I8(e) => (e.input_len(), e.positions()),
        }
    }

    fn encode(&mut self, x: &[f32], idx: &mut [u32]) -> fvae::Result<()> {
        match self {
            Encoders::F32(e) => e.encode(x, idx),
            Encoders::I8(e) => e.encode(x, idx),
        }
    }

    fn encode_quantized(&mut self, x: &[i8], idx: &mut [u32]) -> fvae::Result<()> {
        match self {
            Encoders::F32(e) => e.encode_quantized(x, idx),
            Encoders::I8(e) => e.encode_quantized(x, idx),
        }
    }
}

fn encode(a: EncodeArgs) -> CliResult<()> {
    let model = io::read_file(&a.encoder)?;
    let net = Network::new(model.as_bytes()).map_err(ctx(&a.encoder))?;
    let cb_file = io::read_file(&a.codebook)?;
    let st = SafeTensors::parse(cb_file.as_bytes()).map_err(ctx(&a.codebook))?;
    let codebook = read_codebook(&a.codebook, &st)?;
    let latent_len = net.output(0).map_err(ctx(&a.encoder))?.len;
    // Built once up front so that a model and codebook that do not fit fail before the input is read.
    let (mut arena, mut z) = (vec![0u8; net.required_arena()], vec![0f32; latent_len]);
    let (din, l) =
        Encoders::new(&net, &mut arena, &mut z, &codebook).map_err(|e| pair_error(&a.encoder, &a.codebook, e))?.sizes();

    let in_buf = io::read_file(&a.input)?;
    let npy = Npy::parse(in_buf.as_bytes()).map_err(ctx(&a.input))?;
    let (rows, cols) = npy.rows_cols();
    if cols != din {
        return Err(format!("{}: rows have {cols} columns, the encoder input has {din}", a.input.display()));
    }
    let int8 = npy.dtype() == DType::I8;
    let (xq, xf) = if int8 {
        (npy.as_i8("input").map_err(ctx(&a.input))?, Vec::new())
    } else {
        (&[][..], npy.to_f32_vec("input").map_err(ctx(&a.input))?)
    };
    let threads = io::threads(a.threads);
    let parts = io::parallel(rows, threads, |range| {
        let (mut arena, mut z) = (vec![0u8; net.required_arena()], vec![0f32; latent_len]);
        let mut enc = Encoders::new(&net, &mut arena, &mut z, &codebook).map_err(ctx(&a.encoder))?;
        let mut out = vec![0u32; range.len() * l];
        for (r, idx) in range.clone().zip(out.chunks_exact_mut(l)) {
            let row = r * din..(r + 1) * din;
            let done = if int8 { enc.encode_quantized(&xq[row], idx) } else { enc.encode(&xf[row], idx) };
            done.map_err(|e| match e {
                fvae::Error::Value { index, reason, .. } => {
                    format!("{}: row {r}, column {index}: {reason}", a.input.display())
                }
                e => format!("{}: row {r}: {e}", a.input.display()),
            })?;
        }
        Ok(out)
    })?;
    let indices: Vec<i64> = parts.iter().flat_map(|p| p.iter().map(|&i| i as i64)).collect();
    io::write_i64(&a.out, &[rows, l], &indices)
}

/// A model and codebook that do not fit together: the message names both files.
fn pair_error(model: &Path, codebook: &Path, e: fvae::Error) -> String {
    format!("{} with {}: {e}", model.display(), codebook.display())
}

fn decode(a: DecodeArgs) -> CliResult<()> {
    let model = io::read_file(&a.decoder)?;
    let net = Network::new(model.as_bytes()).map_err(ctx(&a.decoder))?;
    let cb_file = io::read_file(&a.codebook)?;
    let st = SafeTensors::parse(cb_file.as_bytes()).map_err(ctx(&a.codebook))?;
    // An int8 codebook decodes through its dequantised codewords.
    let dequantised: Vec<f32>;
    let codebook = match read_codebook(&a.codebook, &st)? {
        Codebooks::F32(cb) => cb,
        Codebooks::I8(cb) => {
            dequantised = cb.data().iter().map(|&q| cb.scale() * q as f32).collect();
            Codebook::new(&dequantised, cb.d()).map_err(ctx(&a.codebook))?
        }
    };
    let (l, dout, m) = {
        let mut arena = vec![0u8; net.required_arena()];
        let dec = VqVaeDecoder::new(&net, &mut arena, codebook).map_err(|e| pair_error(&a.decoder, &a.codebook, e))?;
        (dec.positions(), dec.output_len(), codebook.m())
    };

    let buf = io::read_file(&a.input)?;
    let npy = Npy::parse(buf.as_bytes()).map_err(ctx(&a.input))?;
    let (rows, cols) = npy.rows_cols();
    if cols != l {
        return Err(format!("{}: rows have {cols} columns, the decoder takes {l} indices", a.input.display()));
    }
    let raw = npy.to_i64_vec("indices").map_err(ctx(&a.input))?;
    let mut indices = Vec::with_capacity(raw.len());
    for (i, &c) in raw.iter().enumerate() {
        if c < 0 || c as u64 >= m as u64 {
            return Err(format!(
                "{}: row {}, column {}: index {c} is not in 0..{m} (the codebook's rows)",
                a.input.display(),
                i / l,
                i % l
            ));
        }
        indices.push(c as u32);
    }
    let threads = io::threads(a.threads);
    let parts = io::parallel(rows, threads, |range| {
        let mut arena = vec![0u8; net.required_arena()];
        let mut dec = VqVaeDecoder::new(&net, &mut arena, codebook).map_err(ctx(&a.decoder))?;
        let (mut f, mut q) = (Vec::new(), Vec::new());
        for r in range {
            let codes = &indices[r * l..(r + 1) * l];
            let at = |e| format!("{}: row {r}: {e}", a.input.display());
            if a.int8 {
                q.extend_from_slice(dec.decode_i8(codes).map_err(at)?);
            } else {
                let start = f.len();
                f.resize(start + dout, 0.0);
                dec.decode(codes, &mut f[start..]).map_err(at)?;
            }
        }
        Ok((f, q))
    })?;
    if a.int8 {
        let y: Vec<i8> = parts.into_iter().flat_map(|p| p.1).collect();
        io::write_i8(&a.out, &[rows, dout], &y)
    } else {
        let y: Vec<f32> = parts.into_iter().flat_map(|p| p.0).collect();
        io::write_f32(&a.out, &[rows, dout], &y)
    }
}
