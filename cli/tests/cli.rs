//! The command line's contract (DESIGN.md): outputs as `.npy`, one-line errors with a non-zero
//! exit, and no output file left behind by a failure.

use fvae::formats::npy::Npy;
use std::path::{Path, PathBuf};
use std::process::Command;

fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data").join(rel)
}

fn fvae(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_fvae")).args(args).output().expect("run fvae")
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fvae-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

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
