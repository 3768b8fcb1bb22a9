//! The command line's contract (docs/design.md): outputs as `.npy`, one-line errors with a non-zero
//! exit, and no output file left behind by a failure.

use fvae::formats::npy::Npy;
use std::path::Path;

mod common;
use common::{data_path as data, fvae, tmp_path as tmp};

fn read(path: &Path) -> (Vec<f64>, Vec<usize>) {
    let bytes = std::fs::read(path).unwrap();
    let a = Npy::parse(&bytes).unwrap();
    (a.to_f64_vec("out").unwrap(), a.shape().dims().to_vec())
}

fn rel_l2(a: &[f64], b: &[f64]) -> f64 {
    let n: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
    (n / b.iter().map(|y| y * y).sum::<f64>()).sqrt()
}

#[test]
fn fv_logpdf_posteriors_match_fixtures_for_any_thread_count() {
    let gmm = data("gmm/digits_k16/gmm.safetensors");
    let x = data("gmm/digits_k16/x.npy");
    let (g, x) = (gmm.to_str().unwrap(), x.to_str().unwrap());
    for threads in ["1", "3"] {
        let out = tmp(&format!("fv{threads}.npy"));
        let o =
            fvae(&["fv", "--gmm", g, "--input", x, "--out", out.to_str().unwrap(), "--improved", "--threads", threads]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let (fv, shape) = read(&out);
        let (reference, _) = read(&data("gmm/digits_k16/fv_vlfeat_improved.npy"));
        assert_eq!(shape, vec![2048]);
        assert!(rel_l2(&fv, &reference) < 1e-4);

        let out = tmp(&format!("sk{threads}.npy"));
        let o = fvae(&[
            "fv",
            "--gmm",
            g,
            "--input",
            x,
            "--out",
            out.to_str().unwrap(),
            "--layout",
            "skimage",
            "--threads",
            threads,
        ]);
        assert!(o.status.success());
        let (fv, _) = read(&out);
        let (reference, _) = read(&data("gmm/digits_k16/skimage_fv_raw.npy"));
        assert!(rel_l2(&fv, &reference) < 1e-4);
    }
    let out = tmp("ld.npy");
    assert!(fvae(&["logpdf", "--gmm", g, "--input", x, "--out", out.to_str().unwrap()]).status.success());
    let ((ld, shape), (reference, _)) = (read(&out), read(&data("gmm/digits_k16/log_density.npy")));
    assert_eq!(shape, vec![1797, 16]);
    assert!(ld.iter().zip(&reference).all(|(a, b)| (a - b).abs() <= 1e-5 * b.abs().max(1.0)));
    let out = tmp("post.npy");
    assert!(fvae(&["posteriors", "--gmm", g, "--input", x, "--out", out.to_str().unwrap()]).status.success());
    let ((p, _), (reference, _)) = (read(&out), read(&data("gmm/digits_k16/posteriors.npy")));
    assert!(rel_l2(&p, &reference) < 1e-4);
}

#[test]
fn per_row_groups_give_one_vector_per_group() {
    let (g, x) = (data("gmm/digits_k16/gmm.safetensors"), data("gmm/digits_k16/x.npy"));
    let out = tmp("groups.npy");
    let args = ["fv", "--gmm", g.to_str().unwrap(), "--input", x.to_str().unwrap(), "--out", out.to_str().unwrap()];
    let o = fvae(&[&args[..], &["--per-row-groups", "599", "--improved"]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (fv, shape) = read(&out);
    assert_eq!(shape, vec![3, 2048]);
    for row in fv.chunks(2048) {
        assert!((row.iter().map(|v| v * v).sum::<f64>() - 1.0).abs() < 1e-4);
    }
    let o = fvae(&[&args[..], &["--per-row-groups", "100"]].concat());
    assert!(!o.status.success(), "1797 rows are not groups of 100");
}

#[test]
fn errors_are_one_line_and_leave_no_output() {
    let g = data("gmm/digits_k16/gmm.safetensors");
    let wrong_d = data("gmm/edge_k4/x.npy");
    let truncated = tmp("truncated.safetensors");
    std::fs::write(&truncated, &std::fs::read(&g).unwrap()[..300]).unwrap();
    let x = data("gmm/digits_k16/x.npy");
    for (gmm, input) in [(&g, &wrong_d), (&truncated, &x), (&g, &g), (&g, &tmp("missing.npy"))] {
        let out = tmp("never.npy");
        let o = fvae(&[
            "fv",
            "--gmm",
            gmm.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success());
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.starts_with("fvae: error: "), "{err}");
        assert!(!out.exists(), "a failed run left {}", out.display());
    }
}

/// A C-order `.npy` of `descr` with `data` already in bytes.
fn npy_bytes(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({},), }}", dims.join(", "));
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(h.len() as u16).to_le_bytes());
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(data);
    out
}

/// `fv --threads 1` encodes an f32 file block by block as it reads it; an f64 file takes the
/// whole-file path. Same values, so the same bits; and errors in a later block still leave no
/// output and name the row.
#[test]
fn single_thread_streamed_fv_equals_whole_file_path() {
    let g = data("gmm/digits_k16/gmm.safetensors");
    let (x, shape) = read(&data("gmm/digits_k16/x.npy"));
    assert!(x.len() * 4 > 256 << 10, "the fixture must span several 256 KiB blocks");
    let f32_in = tmp("stream_f32.npy");
    let f64_in = tmp("stream_f64.npy");
    let f32_bytes: Vec<u8> = x.iter().flat_map(|&v| (v as f32).to_le_bytes()).collect();
    let f64_bytes: Vec<u8> = x.iter().flat_map(|&v| ((v as f32) as f64).to_le_bytes()).collect();
    std::fs::write(&f32_in, npy_bytes("<f4", &shape, &f32_bytes)).unwrap();
    std::fs::write(&f64_in, npy_bytes("<f8", &shape, &f64_bytes)).unwrap();
    let mut outs = Vec::new();
    for (input, name) in [(&f32_in, "stream_a.npy"), (&f64_in, "stream_b.npy")] {
        let out = tmp(name);
        let o = fvae(&[
            "fv",
            "--gmm",
            g.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--improved",
            "--layout",
            "skimage",
            "--threads",
            "1",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        outs.push(std::fs::read(&out).unwrap());
    }
    assert_eq!(outs[0], outs[1]);

    // A NaN in the first block (the reader, still ahead, must stop rather than hang) and in the
    // last, and a file cut short: one line, no output.
    let d = shape[1];
    let mut cases = Vec::new();
    for row in [2, shape[0] - 3] {
        let mut bad = f32_bytes.clone();
        bad[(row * d + 5) * 4..(row * d + 6) * 4].copy_from_slice(&f32::NAN.to_le_bytes());
        let nan_in = tmp(&format!("stream_nan{row}.npy"));
        std::fs::write(&nan_in, npy_bytes("<f4", &shape, &bad)).unwrap();
        cases.push((nan_in, format!("row {row}, column 5")));
    }
    let short_in = tmp("stream_short.npy");
    std::fs::write(&short_in, &npy_bytes("<f4", &shape, &f32_bytes)[..200_000]).unwrap();
    cases.push((short_in, "data length".to_string()));
    for (input, expect) in &cases {
        let out = tmp("stream_never.npy");
        let o = fvae(&[
            "fv",
            "--gmm",
            g.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--threads",
            "1",
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success());
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(expect.as_str()), "{err}");
        assert!(!out.exists(), "a failed run left {}", out.display());
    }
}
