//! `fvae fit-gmm`, `fit-kmeans`, `vlad`, `bow`: outputs readable by the other commands, the same
//! for any thread count (k-means, VLAD, BoW), one-line errors and no output left by a failure.

use fvae::formats::npy::Npy;
use fvae::formats::safetensors::SafeTensors;
use fvae::formats::AlignedBuf;
use std::path::Path;

mod common;
use common::{data_arg as data, fvae, tmp_arg as tmp};

fn npy(path: &str) -> (Vec<f64>, Vec<usize>) {
    let bytes = std::fs::read(path).unwrap();
    let a = Npy::parse(&bytes).unwrap();
    (a.to_f64_vec("out").unwrap(), a.shape().dims().to_vec())
}

fn ok(o: std::process::Output) {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn fit_then_encode() {
    let x = data("gmm/edge_k4/x.npy");
    let g = tmp("g.safetensors");
    ok(fvae(&["fit-gmm", "--input", &x, "--components", "3", "--out", &g, "--seed", "2", "--threads", "1"]));
    let buf = AlignedBuf::read(&g).unwrap();
    let st = SafeTensors::parse(buf.as_bytes()).unwrap();
    assert_eq!(st.tensor("means").unwrap().shape().dims(), &[3, 8]);
    let fv = tmp("fv.npy");
    ok(fvae(&["fv", "--gmm", &g, "--input", &x, "--out", &fv]));

    let x = data("gmm/digits_k16/x.npy");
    let (c1, c2) = (tmp("c1.safetensors"), tmp("c2.safetensors"));
    ok(fvae(&["fit-kmeans", "--input", &x, "--clusters", "16", "--out", &c1, "--threads", "1"]));
    ok(fvae(&["fit-kmeans", "--input", &x, "--clusters", "16", "--out", &c2, "--threads", "3"]));
    assert_eq!(std::fs::read(&c1).unwrap(), std::fs::read(&c2).unwrap(), "k-means depends on --threads");
    // Encode other rows than the codebook was fitted to: on its own training rows a k-means
    // codebook's residual sums are rounding noise (each centroid is its rows' mean), which
    // intra-normalisation would blow up to unit norm.
    let (c1, x) = (data("vq/digits_m64/codebook.safetensors"), data("vq/digits_m64/x.npy"));
    for (cmd, extra, len) in [("vlad", "--intra", 64 * 64), ("bow", "--soft=3", 64)] {
        let (a, b) = (tmp(&format!("{cmd}1.npy")), tmp(&format!("{cmd}3.npy")));
        ok(fvae(&[cmd, "--codebook", &c1, "--input", &x, "--out", &a, extra, "--threads", "1"]));
        ok(fvae(&[cmd, "--codebook", &c1, "--input", &x, "--out", &b, extra, "--threads", "3"]));
        let ((va, sa), (vb, _)) = (npy(&a), npy(&b));
        assert_eq!(sa, vec![len]);
        let err = va.iter().zip(&vb).map(|(p, q)| (p - q).abs()).fold(0.0, f64::max);
        assert!(err < 1e-6, "{cmd}: threads change the result by {err}");
        let g = tmp(&format!("{cmd}g.npy"));
        ok(fvae(&[cmd, "--codebook", &c1, "--input", &x, "--out", &g, extra, "--per-row-groups", "199"]));
        assert_eq!(npy(&g).1, vec![3, len]);
    }
    let x = data("gmm/digits_k16/x.npy");
    let r = tmp("r.safetensors");
    ok(fvae(&["fit-kmeans", "--input", &x, "--clusters", "8", "--stages", "2", "--out", &r]));
    let codes = tmp("codes.npy");
    ok(fvae(&["rvq", "encode", "--codebooks", &r, "--input", &x, "--out", &codes]));
    assert_eq!(npy(&codes).1, vec![1797, 2]);
}

#[test]
fn errors_are_one_line_and_leave_no_output() {
    let x = data("gmm/edge_k4/x.npy");
    let out = tmp("never.safetensors");
    for args in [
        vec!["fit-gmm", "--input", &x, "--components", "100", "--out", &out],
        vec!["fit-kmeans", "--input", &x, "--clusters", "0", "--out", &out],
        vec!["bow", "--codebook", &x, "--input", &x, "--out", &out],
    ] {
        let o = fvae(&args);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(!Path::new(&out).exists());
    }
}
