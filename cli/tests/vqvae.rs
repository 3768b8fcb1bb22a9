//! `fvae vqvae encode|decode`: the command-line contract on tests/data/vqvae (TFLite Micro's
//! indices and int8 reconstructions of the 697 test digits), for several thread counts.

use fvae::formats::npy::{self, Npy};

mod common;
use common::{data_arg as data, fvae, tmp_arg as tmp};

const TRAIN: usize = 1100;

fn bytes(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

fn ok(o: &std::process::Output) {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn fails_with(o: &std::process::Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "expected a failure");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains(needle), "{err:?} lacks {needle:?}");
}

/// The test split (images 1100..) as an f32 `.npy`.
fn test_images() -> String {
    let all = bytes(&data("gmm/digits_k16/x.npy"));
    let x = Npy::parse(&all).unwrap().to_f32_vec("x").unwrap();
    let path = tmp("test_x.npy");
    let mut f = std::fs::File::create(&path).unwrap();
    npy::write_f32(&mut f, &[x.len() / 64 - TRAIN, 64], &x[TRAIN * 64..]).unwrap();
    path
}

#[test]
fn encode_and_decode_equal_tflite_micro_for_any_thread_count() {
    let x = test_images();
    for model in ["g4_m64", "g2_m256"] {
        let dir = |f: &str| data(&format!("vqvae/{model}/{f}"));
        let expected_indices = Npy::parse(&bytes(&dir("test_indices.npy"))).unwrap().to_i64_vec("i").unwrap();
        let expected_decoded = bytes(&dir("test_decoded.npy"));
        let expected_decoded = Npy::parse(&expected_decoded).unwrap().as_i8("y").unwrap().to_vec();
        for (codebook, threads) in
            [("codebook.safetensors", "1"), ("codebook.safetensors", "3"), ("codebook_i8.safetensors", "2")]
        {
            let (enc, cb) = (dir("encoder.tflite"), dir(codebook));
            let out = tmp(&format!("{model}_{threads}_i.npy"));
            ok(&fvae(&[
                "vqvae",
                "encode",
                "--encoder",
                &enc,
                "--codebook",
                &cb,
                "--input",
                &x,
                "--out",
                &out,
                "--threads",
                threads,
            ]));
            let got = bytes(&out);
            let got = Npy::parse(&got).unwrap();
            assert_eq!(got.shape().dims(), [697, expected_indices.len() / 697]);
            assert_eq!(got.to_i64_vec("i").unwrap(), expected_indices, "{model} {codebook} threads {threads}");

            let (dec, y, y8) = (
                dir("decoder.tflite"),
                tmp(&format!("{model}_{threads}_y.npy")),
                tmp(&format!("{model}_{threads}_y8.npy")),
            );
            ok(&fvae(&[
                "vqvae",
                "decode",
                "--decoder",
                &dec,
                "--codebook",
                &cb,
                "--input",
                &out,
                "--out",
                &y8,
                "--int8",
                "--threads",
                threads,
            ]));
            let got = bytes(&y8);
            assert_eq!(Npy::parse(&got).unwrap().as_i8("y").unwrap(), &expected_decoded[..], "{model} {codebook}");
            ok(&fvae(&[
                "vqvae",
                "decode",
                "--decoder",
                &dec,
                "--codebook",
                &cb,
                "--input",
                &out,
                "--out",
                &y,
                "--threads",
                threads,
            ]));
            let got = bytes(&y);
            let got = Npy::parse(&got).unwrap().to_f32_vec("y").unwrap();
            let want: Vec<f32> = expected_decoded.iter().map(|&q| (q as i32 + 128) as f32 / 256.0).collect();
            assert_eq!(got, want, "{model} dequantised");
        }
    }
}

#[test]
fn int8_input_is_used_as_given() {
    let dir = |f: &str| data(&format!("vqvae/g4_m16/{f}"));
    // Zero images: 0.0 quantises to the input zero point, -128.
    let (xf, xq) = (tmp("zeros_f32.npy"), tmp("zeros_i8.npy"));
    npy::write_f32(&mut std::fs::File::create(&xf).unwrap(), &[3, 64], &[0.0; 192]).unwrap();
    npy::write_i8(&mut std::fs::File::create(&xq).unwrap(), &[3, 64], &[-128; 192]).unwrap();
    let (a, b) = (tmp("zeros_a.npy"), tmp("zeros_b.npy"));
    for (x, out) in [(&xf, &a), (&xq, &b)] {
        ok(&fvae(&[
            "vqvae",
            "encode",
            "--encoder",
            &dir("encoder.tflite"),
            "--codebook",
            &dir("codebook.safetensors"),
            "--input",
            x,
            "--out",
            out,
        ]));
    }
    assert_eq!(bytes(&a), bytes(&b));
}

#[test]
fn errors_are_one_line_and_leave_no_output() {
    let dir = |f: &str| data(&format!("vqvae/g4_m16/{f}"));
    let (enc, dec, cb) = (dir("encoder.tflite"), dir("decoder.tflite"), dir("codebook.safetensors"));
    let bad = tmp("bad_indices.npy");
    let mut codes = vec![0i64; 2 * 16];
    codes[16 + 5] = 16;
    npy::write_i64(&mut std::fs::File::create(&bad).unwrap(), &[2, 16], &codes).unwrap();
    let out = tmp("never.npy");
    let _ = std::fs::remove_file(&out);
    fails_with(
        &fvae(&["vqvae", "decode", "--decoder", &dec, "--codebook", &cb, "--input", &bad, "--out", &out]),
        "row 1, column 5: index 16 is not in 0..16",
    );
    codes[16 + 5] = -1;
    npy::write_i64(&mut std::fs::File::create(&bad).unwrap(), &[2, 16], &codes).unwrap();
    fails_with(
        &fvae(&["vqvae", "decode", "--decoder", &dec, "--codebook", &cb, "--input", &bad, "--out", &out]),
        "row 1, column 5",
    );
    let narrow = tmp("narrow.npy");
    npy::write_i64(&mut std::fs::File::create(&narrow).unwrap(), &[1, 4], &[0; 4]).unwrap();
    fails_with(
        &fvae(&["vqvae", "decode", "--decoder", &dec, "--codebook", &cb, "--input", &narrow, "--out", &out]),
        "takes 16 indices",
    );

    let mut x = vec![0.5f32; 2 * 64];
    x[64 + 9] = f32::NAN;
    let xf = tmp("nan.npy");
    npy::write_f32(&mut std::fs::File::create(&xf).unwrap(), &[2, 64], &x).unwrap();
    fails_with(
        &fvae(&["vqvae", "encode", "--encoder", &enc, "--codebook", &cb, "--input", &xf, "--out", &out]),
        "row 1, column 9: not finite",
    );
    // The decoder as encoder: its output is 8x8x1, not codewords of 4.
    fails_with(
        &fvae(&["vqvae", "encode", "--encoder", &dec, "--codebook", &cb, "--input", &xf, "--out", &out]),
        "codeword length",
    );
    // An int8 codebook off the encoder output's grid cannot be searched in integers.
    let other = data("vq/digits_m64/codebook_int8.safetensors");
    fails_with(
        &fvae(&["vqvae", "encode", "--encoder", &enc, "--codebook", &other, "--input", &xf, "--out", &out]),
        "not the encoder output's scale",
    );
    assert!(!std::path::Path::new(&out).exists());
}
