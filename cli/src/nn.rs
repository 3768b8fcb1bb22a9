//! `fvae decode`: run a `.tflite` network on every row of its input `.npy` files (one inference
//! per row), bit-exact with TFLite Micro. One `--input` per graph input and one `--out` per
//! graph output, in graph order; int8 graph tensors read and write int8 `.npy`, float32 ones
//! (the converter's default I/O: QUANTIZE after the input, DEQUANTIZE before the output) f32.

use crate::io::{self, ctx, CliResult};
use clap::Args;
use fvae::formats::npy::Npy;
use fvae::formats::tflite::TensorType;
use fvae::formats::DType;
use fvae::nn::{Network, TensorInfo};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// `fvae decode` options.
#[derive(Args, Debug)]
pub struct DecodeArgs {
    /// The network: a full-integer `.tflite` (int8 or float32 graph inputs and outputs).
    #[arg(long)]
    pub model: PathBuf,
    /// One [N, ...] `.npy` per graph input, in graph order (N rows, each one inference). For an
    /// int8 input: int8 (already quantised, used as is) or float (quantised with the input's
    /// scale and zero point, round half away from zero, clamped to int8); for a float32 input:
    /// any float or integer dtype, read as f32.
    #[arg(long, required = true)]
    pub input: Vec<PathBuf>,
    /// One output `.npy` per graph output, in graph order: [N, ...] int8 for an int8 output,
    /// float32 for a float32 one.
    #[arg(long, required = true)]
    pub out: Vec<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print the inference time (without file input and output) to stderr, for benchmarks.
    #[arg(long, hide = true)]
    pub timing: bool,
    /// Print to stderr which kernel path each layer takes on this machine (for example `avx2`,
    /// `neon`, `scalar`).
    #[arg(long)]
    pub verbose: bool,
}

/// One line per operator that runs: its index, builtin name, int8 kernel and path.
fn print_paths(model: &Path, net: &Network<'_>) -> CliResult<()> {
    let mut arena = vec![0u8; net.required_arena()];
    let it = net.interpreter(&mut arena).map_err(ctx(model))?;
    for layer in it.layer_paths() {
        let l = layer.map_err(ctx(model))?;
        let kernel = l.kernel.map_or_else(|| "-".to_string(), |k| format!("{k:?}"));
        eprintln!("fvae decode: operator {} {}: kernel {kernel}, path {}", l.index, l.operator, l.path.name());
    }
    Ok(())
}

/// One graph input or output: what the model says about it.
struct Port {
    info: TensorInfo,
    /// The signature's name where the model has one, else the tensor's.
    name: String,
    /// For an output: the operator that writes it and the name of its first constant input
    /// (the converter names weights after the layer: `.../z_log_var_1/MatMul`), which says which
    /// layer a generically named output (`output_1`, `StatefulPartitionedCall:1`) is.
    origin: String,
}

impl Port {
    fn describe(&self) -> String {
        format!("`{}`{} {:?} {}", self.name, self.origin, self.info.shape(), self.info.dtype.name())
    }
}

/// " (from OPERATOR at N, weights `NAME`)" for the operator of `graph` writing tensor `t`; an
/// operator without constants (a DEQUANTIZE at a float output) is followed back through its
/// first input, a few steps at most, to the one with weights.
fn origin(graph: &fvae::formats::tflite::SubGraph<'_>, t: i32) -> fvae::Result<String> {
    let model = graph.model();
    let (mut t, mut first) = (t, None);
    for _ in 0..4 {
        let Some((i, op)) = (0..graph.operators_len())
            .filter_map(|i| graph.operator(i).ok().map(|op| (i, op)))
            .find(|(_, op)| op.outputs().iter().any(|o| o == t))
        else {
            break;
        };
        let code = model.operator_code(op.opcode_index())?;
        let here = format!("{} at {i}", fvae::formats::tflite::op::name(code.builtin));
        let first = first.get_or_insert(here).clone();
        for k in op.inputs().iter().filter(|&k| k >= 0) {
            let tensor = graph.tensor(k)?;
            if tensor.buffer() != 0 && !model.buffer(tensor.buffer() as usize)?.is_empty() {
                return Ok(format!(" (from {first}, weights `{}`)", String::from_utf8_lossy(tensor.name()?)));
            }
        }
        t = op.inputs().get(0).unwrap_or(-1);
    }
    Ok(first.map(|f| format!(" (from {f})")).unwrap_or_default())
}

/// The graph's inputs (`input`) or outputs, with their tensor names.
fn ports(net: &Network<'_>, input: bool) -> fvae::Result<Vec<Port>> {
    let graph = net.model().subgraph(0)?;
    let list = if input { graph.inputs()? } else { graph.outputs()? };
    let mut v = Vec::with_capacity(list.len());
    for (i, t) in list.iter().enumerate() {
        let info = if input { net.input(i)? } else { net.output(i)? };
        // The signature's name (`z_mean`) where the model has one, else the tensor's.
        let name = match net.model().signature_name(0, t, input)? {
            Some(n) if !n.is_empty() => n,
            _ => graph.tensor(t)?.name()?,
        };
        let name = String::from_utf8_lossy(name).into_owned();
        let origin = if input { String::new() } else { origin(&graph, t)? };
        v.push(Port { info, name, origin });
    }
    Ok(v)
}

/// A count of files that does not match the graph: an error listing the graph's tensors.
fn count_error(model: &Path, what: &str, flag: &str, given: usize, ports: &[Port]) -> String {
    let list: Vec<String> = ports.iter().enumerate().map(|(i, p)| format!("{i}: {}", p.describe())).collect();
    format!(
        "{}: the model has {} graph {what}s, given {given} {flag} (one per {what}, in graph order): {}",
        model.display(),
        ports.len(),
        list.join(", ")
    )
}

/// The rows of one graph input or output, in its element type.
enum Rows {
    I8(Vec<i8>),
    F32(Vec<f32>),
}

/// Reads `path` for graph input `port`: `[rows, port.len]` (every dimension after the first
/// flattened), converted to what the input takes.
fn read_input(path: &Path, port: &Port) -> CliResult<(usize, Rows)> {
    let buf = io::read_file(path)?;
    let npy = Npy::parse(buf.as_bytes()).map_err(ctx(path))?;
    let (rows, cols) = npy.rows_cols();
    let len = port.info.len;
    if cols != len {
        return Err(format!("{}: rows have {cols} columns, graph input {} has {len}", path.display(), port.describe()));
    }
    let data = match port.info.dtype {
        TensorType::Float32 => Rows::F32(npy.to_f32_vec("input").map_err(ctx(path))?),
        TensorType::Int8 if npy.dtype() == DType::I8 => Rows::I8(npy.as_i8("input").map_err(ctx(path))?.to_vec()),
        TensorType::Int8 => {
            let f = npy.to_f32_vec("input").map_err(ctx(path))?;
            let mut q = vec![0i8; f.len()];
            fvae::vae::quantize(&f, port.info.scale, port.info.zero_point, &mut q).map_err(|e| match e {
                fvae::Error::Value { index, reason, .. } => {
                    format!("{}: row {}, column {}: {reason}", path.display(), index / len, index % len)
                }
                e => format!("{}: {e}", path.display()),
            })?;
            Rows::I8(q)
        }
        t => {
            return Err(format!(
                "{}: graph input {} is {}, `fvae decode` reads int8 or f32",
                path.display(),
                port.describe(),
                t.name()
            ))
        }
    };
    Ok((rows, data))
}

pub fn decode(a: DecodeArgs) -> CliResult<()> {
    let model_buf = io::read_file(&a.model)?;
    let net = Network::new(model_buf.as_bytes()).map_err(ctx(&a.model))?;
    let (ins, outs) = (ports(&net, true).map_err(ctx(&a.model))?, ports(&net, false).map_err(ctx(&a.model))?);
    if a.input.len() != ins.len() {
        return Err(count_error(&a.model, "input", "--input", a.input.len(), &ins));
    }
    if a.out.len() != outs.len() {
        return Err(count_error(&a.model, "output", "--out", a.out.len(), &outs));
    }
    for p in ins.iter().chain(&outs) {
        if !matches!(p.info.dtype, TensorType::Int8 | TensorType::Float32) {
            return Err(format!(
                "{}: graph tensor {} is {}, `fvae decode` runs int8 or f32 inputs and outputs",
                a.model.display(),
                p.describe(),
                p.info.dtype.name()
            ));
        }
    }

    if a.verbose {
        print_paths(&a.model, &net)?;
    }

    let mut inputs = Vec::with_capacity(ins.len());
    let mut rows = None;
    for (path, port) in a.input.iter().zip(&ins) {
        let (r, data) = read_input(path, port)?;
        if let Some(first) = rows.filter(|&n| n != r) {
            return Err(format!("{}: {r} rows, the first --input has {first}", path.display()));
        }
        rows = Some(r);
        inputs.push(data);
    }
    let rows = rows.unwrap_or(0);

    let threads = io::threads(a.threads);
    let arena_len = net.required_arena();
    let start = Instant::now();
    let parts = io::parallel(rows, threads, |range| {
        let mut arena = vec![0u8; arena_len];
        let mut it = net.interpreter(&mut arena).map_err(ctx(&a.model))?;
        let mut got: Vec<Rows> = outs
            .iter()
            .map(|p| match p.info.dtype {
                TensorType::Float32 => Rows::F32(vec![0.0; range.len() * p.info.len]),
                _ => Rows::I8(vec![0; range.len() * p.info.len]),
            })
            .collect();
        for (k, r) in range.clone().enumerate() {
            for (i, (data, p)) in inputs.iter().zip(&ins).enumerate() {
                let n = p.info.len;
                match data {
                    Rows::I8(v) => it.input_i8_mut(i).map_err(ctx(&a.model))?.copy_from_slice(&v[r * n..(r + 1) * n]),
                    Rows::F32(v) => it.set_input_f32(i, &v[r * n..(r + 1) * n]).map_err(ctx(&a.model))?,
                }
            }
            it.invoke().map_err(|e| format!("{}: row {r}: {e}", a.model.display()))?;
            for (i, (o, p)) in got.iter_mut().zip(&outs).enumerate() {
                let n = p.info.len;
                match o {
                    Rows::I8(v) => v[k * n..(k + 1) * n].copy_from_slice(it.output_i8(i).map_err(ctx(&a.model))?),
                    Rows::F32(v) => it.output_f32(i, &mut v[k * n..(k + 1) * n]).map_err(ctx(&a.model))?,
                }
            }
        }
        Ok(got)
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
    // Every output is complete before the first is written; each is written atomically.
    for (i, (path, p)) in a.out.iter().zip(&outs).enumerate() {
        // [N, ...] the output's shape without its batch dimension (1: one inference per row).
        let per_row = match p.info.shape() {
            [1, rest @ ..] if !rest.is_empty() => rest,
            s => s,
        };
        let shape: Vec<usize> = std::iter::once(rows).chain(per_row.iter().copied()).collect();
        let mut i8s = Vec::new();
        let mut f32s = Vec::new();
        for part in &parts {
            match part.get(i) {
                Some(Rows::I8(v)) => i8s.extend_from_slice(v),
                Some(Rows::F32(v)) => f32s.extend_from_slice(v),
                None => {}
            }
        }
        match p.info.dtype {
            TensorType::Float32 => io::write_f32(path, &shape, &f32s)?,
            _ => io::write_i8(path, &shape, &i8s)?,
        }
    }
    Ok(())
}
