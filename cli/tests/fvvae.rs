//! `fvae fv-vae` and `fvae fv --encoder` (latent GMM Fisher vectors): the command-line contract on
//! tests/data/fvvae.

use fvae::formats::npy::{self, Npy};
use fvae::formats::{safetensors, DType};
use std::path::Path;

mod common;
use common::{data_arg as data, fvae, tmp_arg as tmp};

fn read(path: &str) -> (Vec<f64>, Vec<usize>) {
    let bytes = std::fs::read(path).unwrap();
    let a = Npy::parse(&bytes).unwrap();
    (a.to_f64_vec("out").unwrap(), a.shape().dims().to_vec())
}

fn rel_l2(a: &[f64], b: &[f64]) -> f64 {
    let n: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
    (n / b.iter().map(|y| y * y).sum::<f64>()).sqrt()
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

#[test]
fn fv_vae_per_group_matches_fixtures_raw_and_improved() {
    let (enc, layer, x) = (data("fvvae/encoder.tflite"), data("fvvae/decoder_layer.safetensors"), data("fvvae/x.npy"));
    for (flag, want) in [(None, "fvvae/fv.npy"), (Some("--improved"), "fvvae/fv_improved.npy")] {
        for threads in ["1", "3"] {
            let out = tmp(&format!("fvvae-{}-{threads}.npy", flag.is_some()));
            let mut args = vec!["fv-vae", "--encoder", &enc, "--decoder-layer", &layer, "--input", &x, "--out", &out];
            args.extend(["--per-row-groups", "25", "--threads", threads]);
            args.extend(flag);
            ok(&fvae(&args));
            let (got, shape) = read(&out);
            let (want, _) = read(&data(want));
            assert_eq!(shape, [24, 144]);
            for (g, w) in got.chunks_exact(144).zip(want.chunks_exact(144)) {
                assert!(rel_l2(g, w) < 1e-4, "{flag:?} threads {threads}: {:.3e}", rel_l2(g, w));
            }
        }
    }
}

#[test]
fn fv_vae_over_all_rows_is_the_mean_of_the_sets() {
    let (enc, layer, x) = (data("fvvae/encoder.tflite"), data("fvvae/decoder_layer.safetensors"), data("fvvae/x.npy"));
    let out = tmp("fvvae-all.npy");
    ok(&fvae(&[
        "fv-vae",
        "--encoder",
        &enc,
        "--decoder-layer",
        &layer,
        "--input",
        &x,
        "--out",
        &out,
        "--threads",
        "2",
    ]));
    let (got, shape) = read(&out);
    assert_eq!(shape, [144]);
    // Every set has 25 rows, so the FV over all 600 is the mean of the 24 sets' FVs.
    let (sets, _) = read(&data("fvvae/fv.npy"));
    let mean: Vec<f64> = (0..144).map(|i| sets.iter().skip(i).step_by(144).sum::<f64>() / 24.0).collect();
    assert!(rel_l2(&got, &mean) < 1e-4);
}

#[test]
fn fv_vae_errors_are_one_line_and_leave_no_output() {
    let (enc, layer, x) = (data("fvvae/encoder.tflite"), data("fvvae/decoder_layer.safetensors"), data("fvvae/x.npy"));
    let out = tmp("never.npy");
    let run = |e: &str, l: &str, x: &str, extra: &[&str]| {
        let mut args = vec!["fv-vae", "--encoder", e, "--decoder-layer", l, "--input", x, "--out", &out];
        args.extend(extra);
        fvae(&args)
    };
    fails_with(&run(&enc, &layer, &x, &["--per-row-groups", "7"]), "does not divide");
    fails_with(&run(&layer, &layer, &x, &[]), "tflite");
    fails_with(&run(&enc, &enc, &x, &[]), "safetensors");
    fails_with(&run(&data("tflite/mlp_encoder.tflite"), &layer, &x, &[]), "P = 64");
    fails_with(&run(&enc, &layer, &data("gmm/digits_k16/x.npy"), &[]), "64 columns");
    // A NaN at row 3, column 5.
    let mut rows = vec![0.5f32; 10 * 16];
    rows[3 * 16 + 5] = f32::NAN;
    let bad = tmp("nan.npy");
    npy::write_f32(&mut std::fs::File::create(&bad).unwrap(), &[10, 16], &rows).unwrap();
    fails_with(&run(&enc, &layer, &bad, &["--threads", "1"]), "row 3, column 5");
    // A zero variance.
    let (w, b, v) = (vec![0u8; 16 * 8 * 4], vec![0u8; 16 * 4], vec![0u8; 16 * 4]);
    let zero_var = tmp("zero_var.safetensors");
    let mut f = std::fs::File::create(&zero_var).unwrap();
    safetensors::write(
        &mut f,
        &[("weight", DType::F32, &[16, 8], &w), ("bias", DType::F32, &[16], &b), ("variance", DType::F32, &[16], &v)],
    )
    .unwrap();
    fails_with(&run(&enc, &zero_var, &x, &[]), "variance[0]");
    assert!(!Path::new(&out).exists());
}

/// `fv --encoder E --gmm G`: the same as `fv --gmm G` on the dequantised latents that
/// `fvae decode` (the int8 runner, bit-exact with TFLite Micro) gives for the same rows.
#[test]
fn latent_gmm_fv_equals_fv_of_decoded_latents() {
    let (enc, x) = (data("fvvae/encoder.tflite"), data("fvvae/x.npy"));
    // Latents as int8 codes, dequantised with the encoder output's parameters (manifest.json).
    let codes = tmp("z_i8.npy");
    ok(&fvae(&["decode", "--model", &enc, "--input", &x, "--out", &codes]));
    let (q, shape) = read(&codes);
    assert_eq!(shape, [600, 8]);
    let (scale, zp) = (0.021185312420129776f64 as f32, -5.0f32);
    let z: Vec<f32> = q.iter().map(|&c| scale * (c as f32 - zp)).collect();
    let z_path = tmp("z.npy");
    npy::write_f32(&mut std::fs::File::create(&z_path).unwrap(), &[600, 8], &z).unwrap();

    // A K = 2 latent GMM: the latents' mean +- 0.5, their variance.
    let mean: Vec<f32> = (0..8).map(|l| z.iter().skip(l).step_by(8).sum::<f32>() / 600.0).collect();
    let var: Vec<f32> = (0..8)
        .map(|l| z.iter().skip(l).step_by(8).map(|v| (v - mean[l]).powi(2)).sum::<f32>() / 600.0 + 1e-3)
        .collect();
    let means: Vec<f32> = mean.iter().map(|m| m - 0.5).chain(mean.iter().map(|m| m + 0.5)).collect();
    let covs: Vec<f32> = var.iter().chain(var.iter()).copied().collect();
    let bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let gmm = tmp("latent_gmm.safetensors");
    let (wb, mb, cb) = (bytes(&[0.5, 0.5]), bytes(&means), bytes(&covs));
    safetensors::write(
        &mut std::fs::File::create(&gmm).unwrap(),
        &[
            ("weights", DType::F32, &[2], &wb),
            ("means", DType::F32, &[2, 8], &mb),
            ("covariances", DType::F32, &[2, 8], &cb),
        ],
    )
    .unwrap();

    for extra in [&["--improved"][..], &["--per-row-groups", "25", "--layout", "skimage"][..]] {
        let (a, b) = (tmp("latent_a.npy"), tmp("latent_b.npy"));
        let mut args = vec!["fv", "--encoder", &enc, "--gmm", &gmm, "--input", &x, "--out", &a, "--threads", "2"];
        args.extend(extra);
        ok(&fvae(&args));
        let mut args = vec!["fv", "--gmm", &gmm, "--input", &z_path, "--out", &b, "--threads", "2"];
        args.extend(extra);
        ok(&fvae(&args));
        let ((fa, sa), (fb, sb)) = (read(&a), read(&b));
        assert_eq!(sa, sb);
        assert_eq!(fa, fb, "{extra:?}");
    }
    // A GMM of another dimension than the latent.
    let out = tmp("never_latent.npy");
    let o = fvae(&[
        "fv",
        "--encoder",
        &enc,
        "--gmm",
        &data("gmm/digits_k16/gmm.safetensors"),
        "--input",
        &x,
        "--out",
        &out,
    ]);
    fails_with(&o, "D = 64");
    assert!(!Path::new(&out).exists());
}
