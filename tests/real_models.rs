//! Networks from the real converters (tests/data/real, made by tools/make_real_models.py: Keras
//! VAEs and VQ-VAEs through TensorFlow's TFLiteConverter, PyTorch ones through litert-torch,
//! full-integer quantised) against TFLite Micro, bit for bit.
//!
//! Every model fvae accepts must give TFLite Micro's outputs on all its rows (64; 16 for the
//! 28x28 ones), every output; every model it refuses must be refused with the operator named as the schema names it, with the
//! version the model asks for, or (an operator fvae has for int8 only, given float tensors) an
//! element-type error naming that operator; never a vague message. `RUNS` lists the models fvae must run:
//! a model leaving it is a regression; a model not in it that now runs is reported, so the list
//! can grow as operators land.

mod common;

use fvae::formats::npy::Npy;
use fvae::formats::tflite::{op, Model};
use fvae::formats::DType;
use fvae::nn::Network;
use fvae::Error;

/// The models fvae runs today (bit-exact with TFLite Micro on every row).
const RUNS: &[&str] = &[
    "conv_decoder28_b1",
    "conv_decoder_b1",
    "conv_decoder_bnone",
    "conv_encoder28_b1",
    "conv_encoder_b1",
    "conv_encoder_b1_f32io",
    "conv_encoder_bnone",
    "cvae_decoder_b1",
    "cvae_decoder_b1_f32io",
    "cvae_decoder_bnone",
    "mlp_decoder_elu_b1",
    "mlp_decoder_elu_bnone",
    "mlp_decoder_leaky_b1",
    "mlp_decoder_leaky_bnone",
    "mlp_decoder_prelu_b1",
    "mlp_decoder_prelu_bnone",
    "mlp_decoder_relu_b1",
    "mlp_decoder_relu_b1_f32io",
    "mlp_decoder_relu_bnone",
    "mlp_decoder_swish_b1",
    "mlp_decoder_swish_bnone",
    "mlp_encoder_b1",
    "mlp_encoder_bnone",
    "plumbing_decoder_b1",
    "plumbing_decoder_bnone",
    "plumbing_encoder_b1",
    "plumbing_encoder_bnone",
    "squeeze_decoder_b1",
    "squeeze_decoder_bnone",
    "torch_conv_decoder_b1",
    "torch_mlp_decoder_leaky_b1",
    "torch_mlp_encoder_b1",
    "torch_vq_encoder_b1",
    "vq_decoder_residual_b1",
    "vq_decoder_residual_b1_f32io",
    "vq_decoder_residual_bnone",
    "vq_decoder_upsample_b1",
    "vq_decoder_upsample_bnone",
    "vq_encoder_b1",
    "vq_encoder_bnone",
];

/// Every model of tests/data/real (by its `.tflite`), sorted.
fn models() -> Vec<String> {
    let dir = common::data("real");
    let mut v: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".tflite").map(str::to_string))
        .collect();
    v.sort();
    v
}

/// The `NAME_{what}{k}.npy` files of a model, k = 0, 1, ... while they exist.
fn arrays(name: &str, what: &str) -> Vec<fvae::formats::AlignedBuf> {
    (0..)
        .map(|k| common::data(&format!("real/{name}_{what}{k}.npy")))
        .take_while(|p| p.exists())
        .map(|p| fvae::formats::AlignedBuf::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect()
}

/// Runs every row of `name` and compares each output with TFLite Micro's.
fn check_bit_exact(name: &str, net: &Network<'_>) {
    let (ins, outs) = (arrays(name, "in"), arrays(name, "out"));
    let ins: Vec<Npy> = ins.iter().map(|b| Npy::parse(b.as_bytes()).unwrap()).collect();
    let outs: Vec<Npy> = outs.iter().map(|b| Npy::parse(b.as_bytes()).unwrap()).collect();
    assert!(!ins.is_empty() && !outs.is_empty(), "{name}: no inputs or outputs recorded");
    let rows = outs[0].shape().dims()[0];
    // (The 28x28 models record 16 rows, to keep their files small.)
    assert_eq!(rows, if name.contains("28_") { 16 } else { 64 }, "{name}");
    let mut arena = vec![0u8; net.required_arena()];
    let mut it = net.interpreter(&mut arena).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut got = Vec::new();
    for r in 0..rows {
        for (k, a) in ins.iter().enumerate() {
            let n = a.shape().numel().unwrap() / rows;
            if a.dtype() == DType::F32 {
                it.set_input_f32(k, &a.as_f32("in").unwrap()[r * n..(r + 1) * n]).unwrap();
            } else {
                it.input_i8_mut(k).unwrap().copy_from_slice(&a.as_i8("in").unwrap()[r * n..(r + 1) * n]);
            }
        }
        it.invoke().unwrap_or_else(|e| panic!("{name} row {r}: {e}"));
        for (k, want) in outs.iter().enumerate() {
            let n = want.shape().numel().unwrap() / rows;
            if want.dtype() == DType::F32 {
                got.resize(n, 0.0f32);
                it.output_f32(k, &mut got).unwrap();
                let want = &want.as_f32("out").unwrap()[r * n..(r + 1) * n];
                // Bit for bit: the DEQUANTIZE of equal int8 values is the same f32.
                let same = got.iter().zip(want).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{name} row {r} output {k}: {got:?} vs {want:?}");
            } else {
                assert_eq!(
                    it.output_i8(k).unwrap(),
                    &want.as_i8("out").unwrap()[r * n..(r + 1) * n],
                    "{name} row {r} output {k}"
                );
            }
        }
    }
}

/// The (schema name, version) of every operator of subgraph 0.
fn operators(model: &[u8]) -> Vec<(&'static str, i32)> {
    let m = Model::parse(model).unwrap();
    let g = m.subgraph(0).unwrap();
    (0..g.operators_len())
        .map(|i| {
            let code = m.operator_code(g.operator(i).unwrap().opcode_index()).unwrap();
            (op::name(code.builtin), code.version)
        })
        .collect()
}

#[test]
fn real_models_run_bit_exact_or_are_refused_by_operator_name() {
    let names = models();
    assert!(names.len() >= 20, "tests/data/real has {} models", names.len());
    let mut runs = Vec::new();
    for name in &names {
        let model = common::file(&format!("real/{name}.tflite"));
        match Network::new(model.as_bytes()) {
            Ok(net) => {
                check_bit_exact(name, &net);
                runs.push(name.as_str());
            }
            Err(e) => {
                let ops = operators(model.as_bytes());
                match e {
                    Error::UnsupportedOperator { name: op, version, index, subgraph: 0 } => {
                        assert_eq!(ops.get(index), Some(&(op, version)), "{name}: {e}");
                        let text = e.to_string();
                        assert!(text.starts_with(&format!("unsupported operator {op} (version {version})")), "{text}");
                    }
                    // A float tensor where fvae's kernel of that operator is int8 only.
                    Error::DType { what, .. } if ops.iter().any(|&(o, _)| o == what) => {}
                    e => panic!("{name}: refused without naming an operator: {e}"),
                }
                assert!(!RUNS.contains(&name.as_str()), "{name} ran before and is refused now: {e}");
            }
        }
    }
    for r in RUNS {
        assert!(runs.contains(r), "{r}: listed as running but missing from tests/data/real");
    }
    let new: Vec<&&str> = runs.iter().filter(|r| !RUNS.contains(r)).collect();
    if !new.is_empty() {
        eprintln!("now bit-exact too (add them to RUNS): {new:?}");
    }
    eprintln!("fvae runs {} of {} real-converter models", runs.len(), names.len());
}

#[test]
fn required_arena_is_enough_and_not_more() {
    // Exact: the interpreter takes `required_arena()` bytes and refuses one byte fewer.
    for name in RUNS {
        let model = common::file(&format!("real/{name}.tflite"));
        let net = Network::new(model.as_bytes()).unwrap();
        let need = net.required_arena();
        let mut arena = vec![0u8; need];
        assert!(net.interpreter(&mut arena[..need]).is_ok(), "{name}");
        assert!(matches!(net.interpreter(&mut arena[..need - 1]), Err(Error::BufferTooSmall { .. })), "{name}");
    }
}

/// `"tflm_arena_used_bytes"` of model `name` in tests/data/real/manifest.json (written by
/// tools/make_real_models.py with `indent=1`, one key per line).
fn tflm_arena(manifest: &str, name: &str) -> Option<usize> {
    let at = manifest.find(&format!("\n \"{name}\": {{"))?;
    let rest = &manifest[at..];
    let key = "\"tflm_arena_used_bytes\": ";
    let v = &rest[rest.find(key)? + key.len()..];
    v[..v.find(|c: char| !c.is_ascii_digit())?].parse().ok()
}

/// Measures fvae's arena against TFLite Micro's (printed with `--nocapture`; the README's table).
/// On most models fvae's whole arena is larger on this host: it copies weights repacked for its
/// SIMD kernels into the arena (TFLite Micro reads them from the flatbuffer) and keeps scratch
/// for convolutions. What is checked: the planned activations alone never take more than TFLite
/// Micro's whole arena (the lifetime plan is no worse), and the whole arena is no larger on the
/// models where little is repacked.
#[test]
fn required_arena_against_tflite_micro() {
    let manifest = std::fs::read_to_string(common::data("real/manifest.json")).unwrap();
    for name in RUNS {
        let model = common::file(&format!("real/{name}.tflite"));
        let net = Network::new(model.as_bytes()).unwrap();
        let tflm =
            tflm_arena(&manifest, name).unwrap_or_else(|| panic!("{name}: no TFLite Micro arena in the manifest"));
        eprintln!(
            "{name}: fvae {} B (activations {} B), TFLite Micro {tflm} B",
            net.required_arena(),
            net.activation_bytes()
        );
        assert!(
            net.activation_bytes() <= tflm,
            "{name}: activations {} B > TFLite Micro's arena {tflm} B",
            net.activation_bytes()
        );
        let small = ["plumbing_encoder_b1", "plumbing_encoder_bnone", "torch_conv_decoder_b1", "torch_vq_encoder_b1"];
        if small.contains(name) {
            assert!(net.required_arena() <= tflm, "{name}: arena {} B > TFLite Micro's {tflm} B", net.required_arena());
        }
    }
}
