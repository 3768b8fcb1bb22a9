//! Full-covariance Gaussians (feature `nalgebra`): a diagonal covariance given as a full matrix
//! reproduces the diagonal fixture, and a correlated one matches a float64 evaluation.

mod common;
use common::*;
use fvae::full_cov::{FullGaussian, FullGmm};

#[test]
fn diagonal_as_full_matches_fixture() {
    let buf = file("gmm/edge_k4/gmm.safetensors");
    let st = fvae::formats::safetensors::SafeTensors::parse(buf.as_bytes()).unwrap();
    let weights = st.tensor("weights").unwrap().as_f32("weights").unwrap();
    let means = st.tensor("means").unwrap().as_f32("means").unwrap();
    let vars = st.tensor("covariances").unwrap().as_f32("covariances").unwrap();
    let gmm = FullGmm::<4, 8>::new(
        core::array::from_fn(|k| weights[k]),
        core::array::from_fn(|k| core::array::from_fn(|d| means[k * 8 + d])),
        core::array::from_fn(|k| {
            core::array::from_fn(|r| core::array::from_fn(|c| if r == c { vars[k * 8 + r] } else { 0.0 }))
        }),
    )
    .unwrap();
    let (x, _) = npy_f32("gmm/edge_k4/x.npy");
    let (reference, _) = npy_f64("gmm/edge_k4/log_density.npy");
    let mut out = [0.0; 4];
    let mut all = Vec::new();
    for xi in x.chunks(8) {
        gmm.log_densities(xi, &mut out).unwrap();
        all.extend_from_slice(&out);
    }
    let err = max_rel1(&all, &reference);
    assert!(err < 1e-5, "error {err:e}");
}

#[test]
fn correlated_matches_float64() {
    let cov = [[4.0f32, 1.2, 0.3], [1.2, 2.0, -0.5], [0.3, -0.5, 1.0]];
    let mean = [1.0f32, -2.0, 0.5];
    let g = FullGaussian::<3>::new(mean, cov).unwrap();
    // float64: solve by Cramer's rule.
    let c: Vec<Vec<f64>> = cov.iter().map(|r| r.iter().map(|&v| v as f64).collect()).collect();
    let det = c[0][0] * (c[1][1] * c[2][2] - c[1][2] * c[2][1]) - c[0][1] * (c[1][0] * c[2][2] - c[1][2] * c[2][0])
        + c[0][2] * (c[1][0] * c[2][1] - c[1][1] * c[2][0]);
    let inv = |r: usize, col: usize| {
        let (a, b) = ((col + 1) % 3, (col + 2) % 3);
        let (p, q) = ((r + 1) % 3, (r + 2) % 3);
        (c[a][p] * c[b][q] - c[a][q] * c[b][p]) / det
    };
    let mut rng = Rng(7);
    for _ in 0..50 {
        let x: Vec<f32> = (0..3).map(|_| (3.0 * rng.normal()) as f32).collect();
        let d: Vec<f64> = (0..3).map(|i| x[i] as f64 - mean[i] as f64).collect();
        let mut quad = 0.0;
        for r in 0..3 {
            for col in 0..3 {
                quad += d[r] * inv(r, col) * d[col];
            }
        }
        let expected = -0.5 * (3.0 * (2.0 * std::f64::consts::PI).ln() + det.ln() + quad);
        let got = g.log_density(&x).unwrap() as f64;
        assert!((got - expected).abs() < 1e-5 * expected.abs().max(1.0), "{got} vs {expected}");
    }
    assert!(g.log_density(&[0.0, f32::NAN, 0.0]).is_err());
    assert!(g.log_density(&[0.0, 0.0]).is_err());
    assert!(FullGaussian::<2>::new([0.0; 2], [[1.0, 0.5], [0.4, 1.0]]).is_err(), "asymmetric");
    assert!(FullGaussian::<2>::new([0.0; 2], [[1.0, 0.0], [0.0, -1.0]]).is_err(), "indefinite");
}
