//! tools/fvae_export.py (NumPy only) writes `.safetensors` that fvae reads back: a diagonal GMM, a
//! k-means codebook and an FV-VAE decoder layer, exported from objects with scikit-learn's fitted
//! attributes, give the same outputs as the same parameters written by fvae's own writer.

use fvae::formats::npy::Npy;
use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The project's venv (made by scripts/install-deps.sh) if it exists, else the `python3` on PATH.
fn python() -> PathBuf {
    let venv = root().join(".venv/bin/python3");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

fn fvae(args: &[&str]) -> Vec<u8> {
    let o = Command::new(env!("CARGO_BIN_EXE_fvae")).args(args).output().expect("run fvae");
    assert!(o.status.success(), "fvae {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    o.stdout
}

fn read(path: &str) -> Vec<f64> {
    let bytes = std::fs::read(path).unwrap();
    Npy::parse(&bytes).unwrap().to_f64_vec("out").unwrap()
}

const SCRIPT: &str = r#"
import sys, types
import numpy as np
sys.path.insert(0, sys.argv[1] + "/tools")
from fvae_export import export_gmm, export_kmeans, export_decoder_layer, read_safetensors
out = sys.argv[2]
rng = np.random.default_rng(7)
x = rng.normal(size=(300, 6)).astype(np.float32)
np.save(out + "/x.npy", x)
w = np.array([0.2, 0.3, 0.5])
mu = rng.normal(size=(3, 6))
var = rng.uniform(0.5, 2.0, size=(3, 6))
export_gmm(types.SimpleNamespace(covariance_type="diag", weights_=w, means_=mu, covariances_=var), out + "/gmm.safetensors")
# A spherical mixture is written as diagonal variances.
export_gmm(types.SimpleNamespace(covariance_type="spherical", weights_=w, means_=mu, covariances_=var[:, 0]), out + "/sph.safetensors")
assert np.allclose(read_safetensors(out + "/sph.safetensors")["covariances"], np.repeat(var[:, :1], 6, 1))
centers = rng.normal(size=(5, 6))
export_kmeans(types.SimpleNamespace(cluster_centers_=centers), out + "/codebook.safetensors")
d = ((x[:, None, :].astype(np.float64) - centers[None]) ** 2).sum(-1)
np.save(out + "/nearest.npy", d.argmin(1).astype(np.int64))
export_decoder_layer(rng.normal(size=(16, 8)), rng.normal(size=16), rng.uniform(0.1, 1, size=16), out + "/layer.safetensors")
for bad in (dict(covariance_type="full", covariances_=np.ones((3, 6, 6))), dict(covariances_=-var)):
    try:
        export_gmm(types.SimpleNamespace(**{**dict(covariance_type="diag", weights_=w, means_=mu, covariances_=var), **bad}), out + "/bad.safetensors")
        raise SystemExit("a bad GMM was exported")
    except ValueError:
        pass
print("exported")
"#;

#[test]
fn exported_models_read_back() {
    let dir = std::env::temp_dir().join(format!("fvae-tools-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.to_str().unwrap();
    let py = Command::new(python()).arg("-c").arg(SCRIPT).arg(root()).arg(d).output();
    let py = match py {
        Ok(o) => o,
        Err(e) => panic!("python3 with NumPy is needed (bash scripts/install-deps.sh makes .venv): {e}"),
    };
    assert!(py.status.success(), "fvae_export.py: {}", String::from_utf8_lossy(&py.stderr));
    let p = |name: &str| format!("{d}/{name}");

    // The GMM: fvae fv on the exported file equals a float64 Fisher vector of the same parameters
    // (computed here from the tensors fvae reads back), raw, VLFeat layout.
    fvae(&["fv", "--gmm", &p("gmm.safetensors"), "--input", &p("x.npy"), "--out", &p("fv.npy"), "--threads", "1"]);
    let fv = read(&p("fv.npy"));
    let file = fvae::formats::AlignedBuf::read(p("gmm.safetensors")).unwrap();
    let st = fvae::formats::safetensors::SafeTensors::parse(file.as_bytes()).unwrap();
    let get = |n: &'static str| st.tensor(n).unwrap().as_f32(n).unwrap().iter().map(|&v| v as f64).collect::<Vec<_>>();
    let (w, mu, var) = (get("weights"), get("means"), get("covariances"));
    let x = read(&p("x.npy"));
    let (k, dd, n) = (3, 6, 300);
    let mut want = vec![0f64; 2 * k * dd];
    for xi in x.chunks_exact(dd) {
        let lp: Vec<f64> = (0..k)
            .map(|c| {
                w[c].ln()
                    - 0.5
                        * (0..dd)
                            .map(|j| {
                                let v = var[c * dd + j];
                                (2.0 * std::f64::consts::PI * v).ln() + (xi[j] - mu[c * dd + j]).powi(2) / v
                            })
                            .sum::<f64>()
            })
            .collect();
        let m = lp.iter().cloned().fold(f64::MIN, f64::max);
        let z: f64 = lp.iter().map(|v| (v - m).exp()).sum();
        for c in 0..k {
            let q = (lp[c] - m).exp() / z;
            for j in 0..dd {
                let t = (xi[j] - mu[c * dd + j]) / var[c * dd + j].sqrt();
                want[c * dd + j] += q * t / (n as f64 * w[c].sqrt());
                want[k * dd + c * dd + j] += q * (t * t - 1.0) / (n as f64 * (2.0 * w[c]).sqrt());
            }
        }
    }
    let err = fv.iter().zip(&want).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt()
        / want.iter().map(|b| b * b).sum::<f64>().sqrt();
    assert!(err < 1e-4, "GMM FV from the exported file: rel. L2 {err:.3e}");

    // The codebook: nearest indices equal NumPy's argmin.
    fvae(&["vq", "--codebook", &p("codebook.safetensors"), "--input", &p("x.npy"), "--out", &p("idx.npy")]);
    assert_eq!(read(&p("idx.npy")), read(&p("nearest.npy")));

    // The decoder layer runs with the fixture encoder (P = 16, L = 8).
    let enc = root().join("tests/data/fvvae/encoder.tflite");
    let xs = root().join("tests/data/fvvae/x.npy");
    fvae(&[
        "fv-vae",
        "--encoder",
        enc.to_str().unwrap(),
        "--decoder-layer",
        &p("layer.safetensors"),
        "--input",
        xs.to_str().unwrap(),
        "--out",
        &p("fvvae.npy"),
    ]);
    let f = read(&p("fvvae.npy"));
    assert!(f.len() == 144 && f.iter().all(|v| v.is_finite()));
}
