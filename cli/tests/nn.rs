//! `fvae decode` against tests/data/tflite: outputs identical to TFLite Micro's for every
//! fixture, with 1 and 3 threads; one-line errors and no output left by a failure.

use std::path::PathBuf;
use std::process::Command;

mod common;
use common::{fvae, tmp_path as tmp};

fn data(rel: &str) -> String {
    common::data_arg(&format!("tflite/{rel}"))
}

#[test]
fn decode_matches_tflite_micro() {
    for name in ["mlp_decoder", "conv_decoder", "mlp_encoder"] {
        for threads in ["1", "3"] {
            let out = tmp(&format!("{name}{threads}.npy"));
            let (model, input) = (data(&format!("{name}.tflite")), data(&format!("{name}_input.npy")));
            let args =
                ["decode", "--model", &model, "--input", &input, "--out", out.to_str().unwrap(), "--threads", threads];
            let o = fvae(&args);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            // Byte-identical .npy: same header (int8, [128, out]) and the same int8 values.
            let got = std::fs::read(&out).unwrap();
            let want = std::fs::read(data(&format!("{name}_expected.npy"))).unwrap();
            let (g, w) =
                (fvae::formats::npy::Npy::parse(&got).unwrap(), fvae::formats::npy::Npy::parse(&want).unwrap());
            assert_eq!(g.shape().dims(), w.shape().dims());
            assert_eq!(g.as_i8("out").unwrap(), w.as_i8("out").unwrap(), "{name} threads {threads}");
        }
    }
}

/// `--verbose` names each layer's kernel path; `FVAE_X86_LEVEL=sse2` makes every one scalar.
#[test]
fn decode_verbose_names_each_layer_path() {
    let out = tmp("verbose.npy");
    let args = [
        "decode",
        "--model",
        &data("conv_decoder.tflite"),
        "--input",
        &data("conv_decoder_input.npy"),
        "--out",
        out.to_str().unwrap(),
        "--verbose",
    ];
    let o = Command::new(env!("CARGO_BIN_EXE_fvae")).args(args).env("FVAE_X86_LEVEL", "sse2").output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = err.lines().collect();
    // conv_decoder: FULLY_CONNECTED, RESHAPE, TRANSPOSE_CONV, CONV_2D, LOGISTIC, RESHAPE.
    assert_eq!(lines.len(), 6, "{err}");
    assert!(lines[0].starts_with("fvae decode: operator 0 FULLY_CONNECTED: kernel "), "{err}");
    assert!(lines[3].contains("CONV_2D: kernel Pairs"), "{err}");
    if cfg!(target_arch = "x86_64") {
        assert!(lines.iter().all(|l| l.ends_with("path scalar")), "{err}");
    }
}

#[test]
fn decode_errors_are_one_line_and_leave_nothing() {
    let out = tmp("bad.npy");
    // Wrong input width: the encoder's 64-column input to the 8-input decoder.
    let o = fvae(&[
        "decode",
        "--model",
        &data("mlp_decoder.tflite"),
        "--input",
        &data("mlp_encoder_input.npy"),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("columns"), "{err}");
    assert!(!out.exists());
    // Not a model.
    let o = fvae(&[
        "decode",
        "--model",
        &data("mlp_decoder_input.npy"),
        "--input",
        &data("mlp_decoder_input.npy"),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("tflite"));
    assert!(!out.exists());
}

fn real(rel: &str) -> String {
    common::data_arg(&format!("real/{rel}"))
}

fn npy(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Same shape, dtype and values (the header and the data bytes).
fn same_npy(got: &std::path::Path, want: &str) {
    let (g, w) = (npy(got.to_str().unwrap()), npy(want));
    let (g, w) = (fvae::formats::npy::Npy::parse(&g).unwrap(), fvae::formats::npy::Npy::parse(&w).unwrap());
    assert_eq!(g.shape().dims(), w.shape().dims(), "{want}");
    assert_eq!(g.dtype(), w.dtype(), "{want}");
    assert_eq!(g.bytes(), w.bytes(), "{want}");
}

#[test]
fn decode_writes_every_graph_output_in_graph_order() {
    // The two-headed encoder: graph output 0 is the converter's `output_1` (z_log_var).
    let name = "mlp_encoder_bnone";
    let (o0, o1) = (tmp("enc0.npy"), tmp("enc1.npy"));
    let model = real(&format!("{name}.tflite"));
    let input = real(&format!("{name}_in0.npy"));
    let o = fvae(&[
        "decode",
        "--model",
        &model,
        "--input",
        &input,
        "--out",
        o0.to_str().unwrap(),
        "--out",
        o1.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    same_npy(&o0, &real(&format!("{name}_out0.npy")));
    same_npy(&o1, &real(&format!("{name}_out1.npy")));

    // One --out for two outputs: an error listing both (names, the layer, shapes), nothing written.
    let lone = tmp("enc_lone.npy");
    let o = fvae(&["decode", "--model", &model, "--input", &input, "--out", lone.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    for part in ["2 graph outputs, given 1 --out", "0: `output_1`", "z_log_var", "1: `output_0`", "z_mean", "[1, 4] i8"]
    {
        assert!(err.contains(part), "{part} not in: {err}");
    }
    assert!(!lone.exists());
    // Three --out: refused the same way.
    let o = fvae(&[
        "decode",
        "--model",
        &model,
        "--input",
        &input,
        "--out",
        "a.npy",
        "--out",
        "b.npy",
        "--out",
        lone.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("given 3 --out"));
    assert!(!lone.exists());
}

#[test]
fn decode_takes_one_input_per_graph_input() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/tflite_ops");
    let p = |f: &str| dir.join(f).to_string_lossy().into_owned();
    let out = tmp("add2.npy");
    let model = p("add_broadcast_relu.tflite");
    let args = [
        "decode",
        "--model",
        &model,
        "--input",
        &p("add_broadcast_relu_in0.npy"),
        "--input",
        &p("add_broadcast_relu_in1.npy"),
        "--out",
        out.to_str().unwrap(),
    ];
    let o = fvae(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (got, want) = (npy(out.to_str().unwrap()), npy(&p("add_broadcast_relu_out0.npy")));
    let (g, w) = (fvae::formats::npy::Npy::parse(&got).unwrap(), fvae::formats::npy::Npy::parse(&want).unwrap());
    assert_eq!(g.as_i8("got").unwrap(), w.as_i8("want").unwrap());
    // One input for two: an error listing the graph's inputs.
    let lone = tmp("add1.npy");
    let o = fvae(&[
        "decode",
        "--model",
        &model,
        "--input",
        &p("add_broadcast_relu_in0.npy"),
        "--out",
        lone.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("2 graph inputs, given 1 --input") && err.contains("0: `") && err.contains("1: `"), "{err}");
    assert!(!lone.exists());
}

#[test]
fn decode_reads_and_writes_f32_for_float_graph_io() {
    // The converter's default I/O: QUANTIZE after the f32 input, DEQUANTIZE before the f32 output.
    for name in ["mlp_decoder_relu_b1_f32io", "conv_encoder_b1_f32io"] {
        let outs: Vec<PathBuf> = (0..2).map(|k| tmp(&format!("{name}_{k}.npy"))).collect();
        let n_out = if name.starts_with("conv_encoder") { 2 } else { 1 };
        let (model, input) = (real(&format!("{name}.tflite")), real(&format!("{name}_in0.npy")));
        let mut args = vec!["decode", "--model", &model, "--input", &input];
        for o in &outs[..n_out] {
            args.extend(["--out", o.to_str().unwrap()]);
        }
        let o = fvae(&args);
        assert!(o.status.success(), "{name}: {}", String::from_utf8_lossy(&o.stderr));
        for (k, o) in outs[..n_out].iter().enumerate() {
            same_npy(o, &real(&format!("{name}_out{k}.npy")));
        }
    }
}

#[test]
fn decode_refusal_names_the_operator() {
    // PyTorch's conv decoder has a float RELU between DEQUANTIZE and QUANTIZE, which fvae does
    // not run: the refusal names RELU, and nothing is written.
    let out = tmp("torch_conv.npy");
    let name = "torch_conv_decoder_b1";
    let (model, input) = (real(&format!("{name}.tflite")), real(&format!("{name}_in0.npy")));
    let o = fvae(&["decode", "--model", &model, "--input", &input, "--out", out.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    // (When a float RELU lands this model runs; then pick another refused one.)
    if !o.status.success() {
        assert!(err.contains("RELU"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(!out.exists());
    }
}
