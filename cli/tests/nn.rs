//! `fvae decode` against tests/data/tflite: outputs identical to TFLite Micro's for every
//! fixture, with 1 and 3 threads; one-line errors and no output left by a failure.

use std::path::PathBuf;
use std::process::Command;

fn data(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/tflite").join(rel).to_string_lossy().into_owned()
}

fn fvae(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_fvae")).args(args).output().expect("run fvae")
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fvae-cli-nn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
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
