//! `fvae vq` and `fvae rvq` against the fixtures in tests/data/vq: indices exact, f32 distances
//! within 1e-5 relative, int8 distances exact, residual codes exact and reconstructions within
//! 1e-5; one-line errors and no output left behind by a failure.

use fvae::formats::npy::Npy;
use std::path::Path;

mod common;
use common::{fvae, tmp_path as tmp};

fn data(rel: &str) -> String {
    common::data_arg(&format!("vq/{rel}"))
}

fn read(path: impl AsRef<Path>) -> (Vec<f64>, Vec<usize>) {
    let bytes = std::fs::read(path).unwrap();
    let a = Npy::parse(&bytes).unwrap();
    (a.to_f64_vec("out").unwrap(), a.shape().dims().to_vec())
}

fn ok(o: &std::process::Output) {
    assert!(o.status.success(), "fvae failed: {}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn vq_f32_top_k_and_distances_match_fixtures() {
    for case in ["digits_m64", "china_m256"] {
        for threads in ["1", "3"] {
            let (out, dist) = (tmp(&format!("{case}{threads}.npy")), tmp(&format!("{case}{threads}_d.npy")));
            let (o, d) = (out.to_str().unwrap(), dist.to_str().unwrap());
            let cb = data(&format!("{case}/codebook.safetensors"));
            let x = data(&format!("{case}/x.npy"));
            ok(&fvae(&["vq", "--codebook", &cb, "--input", &x, "--out", o, "--threads", threads]));
            let (want, shape) = read(data(&format!("{case}/nearest.npy")));
            assert_eq!(read(&out), (want, shape));
            let args = ["vq", "--codebook", &cb, "--input", &x, "--out", o, "--top", "4", "--distances", d];
            ok(&fvae(&[&args[..], &["--threads", threads]].concat()));
            let (want, shape) = read(data(&format!("{case}/top4.npy")));
            assert_eq!(read(&out), (want, shape.clone()));
            let (got, got_shape) = read(&dist);
            assert_eq!(got_shape, shape);
            for (g, w) in got.iter().zip(read(data(&format!("{case}/top4_distance.npy"))).0) {
                assert!((g - w).abs() <= 1e-5 * w.max(1e-3), "{case} distance {g} vs {w}");
            }
        }
    }
}

#[test]
fn vq_int8_exact_from_int8_or_float_queries() {
    let case = "china_m256";
    let cb = data(&format!("{case}/codebook_int8.safetensors"));
    let (out, dist) = (tmp("i8.npy"), tmp("i8_d.npy"));
    let (o, d) = (out.to_str().unwrap(), dist.to_str().unwrap());
    for input in ["x_int8.npy", "x.npy"] {
        ok(&fvae(&[
            "vq",
            "--codebook",
            &cb,
            "--input",
            &data(&format!("{case}/{input}")),
            "--out",
            o,
            "--distances",
            d,
        ]));
        assert_eq!(read(&out), read(data(&format!("{case}/nearest_int8.npy"))), "{input}");
        assert_eq!(read(&dist), read(data(&format!("{case}/nearest_int8_distance.npy"))), "{input}");
    }
}

#[test]
fn rvq_encode_decode_match_fixtures() {
    let cbs = data("residual_digits_4x16/codebooks.safetensors");
    let (codes, recon) = (tmp("codes.npy"), tmp("recon.npy"));
    let (c, r) = (codes.to_str().unwrap(), recon.to_str().unwrap());
    ok(&fvae(&["rvq", "encode", "--codebooks", &cbs, "--input", &data("residual_digits_4x16/x.npy"), "--out", c]));
    assert_eq!(read(&codes), read(data("residual_digits_4x16/codes.npy")));
    ok(&fvae(&["rvq", "decode", "--codebooks", &cbs, "--input", c, "--out", r, "--threads", "2"]));
    let (got, shape) = read(&recon);
    let (want, want_shape) = read(data("residual_digits_4x16/reconstruction.npy"));
    assert_eq!(shape, want_shape);
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() <= 1e-5 * w.abs().max(1.0));
    }
}

#[test]
fn bad_inputs_fail_with_one_line_and_no_output() {
    let out = tmp("never.npy");
    let o = out.to_str().unwrap();
    let bad_codes = tmp("bad_codes.npy");
    let mut f = std::fs::File::create(&bad_codes).unwrap();
    fvae::formats::npy::write_i64(&mut f, &[1, 4], &[0, 1, 16, 2]).unwrap();
    let bad = bad_codes.to_str().unwrap();
    let cases: [&[&str]; 4] = [
        // Wrong width: digits queries (D=64) against the china codebook (D=48).
        &[
            "vq",
            "--codebook",
            &data("china_m256/codebook.safetensors"),
            "--input",
            &data("digits_m64/x.npy"),
            "--out",
            o,
        ],
        &[
            "vq",
            "--codebook",
            &data("digits_m64/codebook.safetensors"),
            "--input",
            &data("digits_m64/x.npy"),
            "--out",
            o,
            "--top",
            "65",
        ],
        &["vq", "--codebook", &data("digits_m64/x.npy"), "--input", &data("digits_m64/x.npy"), "--out", o],
        // A code out of range (16 with M = 16).
        &[
            "rvq",
            "decode",
            "--codebooks",
            &data("residual_digits_4x16/codebooks.safetensors"),
            "--input",
            bad,
            "--out",
            o,
        ],
    ];
    for (i, args) in cases.iter().enumerate() {
        let r = fvae(args);
        assert!(!r.status.success(), "case {i} should fail");
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(err.starts_with("fvae: error:"), "{err}");
        assert!(!out.exists(), "case {i} left an output file");
    }
}

/// `--threads 1` streams the queries in 256 KiB blocks (1 024 rows at D = 64): across several
/// blocks and a partial last one, its indices and distances (also with --top) equal the
/// whole-file threaded path's, and a NaN in a late block is reported at its row and column.
#[test]
fn vq_streamed_blocks_match_threaded_and_name_bad_rows() {
    let (x, dims) = read(data("digits_m64/x.npy"));
    let d = dims[1];
    let rows = 3000;
    let q: Vec<f32> = (0..rows * d).map(|i| x[i % x.len()] as f32 + (i % 7) as f32 * 0.25).collect();
    let input = tmp("stream_x.npy");
    fvae::formats::npy::write_f32(&mut std::fs::File::create(&input).unwrap(), &[rows, d], &q).unwrap();
    let (cb, inp) = (data("digits_m64/codebook.safetensors"), input.to_str().unwrap().to_string());
    for top in [None, Some("3")] {
        let mut got = Vec::new();
        for threads in ["1", "2"] {
            let (o, dd) = (tmp(&format!("stream_i{threads}.npy")), tmp(&format!("stream_d{threads}.npy")));
            let (o, dd) = (o.to_str().unwrap(), dd.to_str().unwrap());
            let mut args = vec!["vq", "--codebook", &cb, "--input", &inp, "--out", o, "--distances", dd];
            args.extend(["--threads", threads]);
            if let Some(k) = top {
                args.extend(["--top", k]);
            }
            ok(&fvae(&args));
            got.push((std::fs::read(o).unwrap(), std::fs::read(dd).unwrap()));
        }
        assert_eq!(got[0], got[1], "--top {top:?}");
        assert_eq!(read(tmp("stream_i1.npy")).1, top.map_or(vec![rows], |_| vec![rows, 3]));
    }
    let mut bad = q.clone();
    bad[2500 * d + 5] = f32::NAN;
    let bad_input = tmp("stream_bad.npy");
    fvae::formats::npy::write_f32(&mut std::fs::File::create(&bad_input).unwrap(), &[rows, d], &bad).unwrap();
    let out = tmp("stream_never.npy");
    for threads in ["1", "2"] {
        let r = fvae(&[
            "vq",
            "--codebook",
            &cb,
            "--input",
            bad_input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--threads",
            threads,
        ]);
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(!r.status.success() && err.contains("row 2500, column 5: not finite"), "{threads}: {err}");
        assert!(!out.exists());
    }
}
