//! The GMM and Fisher-vector contract on the fixtures (tests/data/gmm, made by a float64
//! reference, scikit-image 0.26 and VLFeat 0.9), with the tolerances of docs/design.md:
//! log-densities within 1e-5 relative to max(1, |v|); posteriors and Fisher vectors within 1e-4
//! relative L2 of the float64 reference.

mod common;
use common::*;
use fvae::fisher::{FisherAccumulator, FisherOptions, FisherStorage, Layout, Normalization};
use fvae::formats::safetensors::SafeTensors;
use fvae::gmm::{Assignment, DiagGmm, DiagGmmOwned};

const CASES: [&str; 3] = ["digits_k16", "china_patches_k32", "edge_k4"];

struct Case {
    file: fvae::formats::AlignedBuf,
    x: Vec<f32>,
    n: usize,
    name: &'static str,
}

impl Case {
    fn load(name: &'static str) -> Case {
        let file = file(&format!("gmm/{name}/gmm.safetensors"));
        let (x, shape) = npy_f32(&format!("gmm/{name}/x.npy"));
        Case { file, x, n: shape[0], name }
    }
    fn reference(&self, what: &str) -> Vec<f64> {
        npy_f64(&format!("gmm/{}/{what}.npy", self.name)).0
    }
    fn has(&self, what: &str) -> bool {
        data(&format!("gmm/{}/{what}.npy", self.name)).exists()
    }
}

fn with_gmm<R>(case: &Case, f: impl FnOnce(DiagGmm) -> R) -> R {
    let st = SafeTensors::parse(case.file.as_bytes()).unwrap();
    let w = st.tensor("weights").unwrap().shape().dims()[0];
    let d = st.tensor("means").unwrap().shape().dims()[1];
    let mut consts = vec![0.0; DiagGmm::constants_len(w, d)];
    let gmm = DiagGmm::from_safetensors(&st, &mut consts).unwrap();
    f(gmm)
}

fn fisher(gmm: DiagGmm, xs: &[f32], options: FisherOptions, layout: Layout, norm: Normalization) -> Vec<f32> {
    let mut storage = vec![0.0; FisherAccumulator::storage_len(gmm.k(), gmm.d())];
    let mut acc = FisherAccumulator::new(gmm, options, &mut storage).unwrap();
    acc.push_batch(xs).unwrap();
    let mut out = vec![0.0; layout.len(gmm.k(), gmm.d())];
    acc.finish(layout, norm, &mut out).unwrap();
    out
}

#[test]
fn log_densities_match_float64_reference() {
    for name in CASES {
        let case = Case::load(name);
        with_gmm(&case, |gmm| {
            let mut out = vec![0.0; case.n * gmm.k()];
            gmm.log_densities_batch(&case.x, &mut out).unwrap();
            let err = max_rel1(&out, &case.reference("log_density"));
            assert!(err < 1e-5, "{name}: log-density error {err:e}");
            assert!(out.iter().all(|v| v.is_finite()), "{name}: non-finite log-density");
        });
    }
}

#[test]
fn log_likelihoods_match_float64_reference() {
    for name in CASES {
        let case = Case::load(name);
        with_gmm(&case, |gmm| {
            let mut scratch = vec![0.0; gmm.k()];
            let ll: Vec<f32> = case.x.chunks(gmm.d()).map(|x| gmm.log_likelihood(x, &mut scratch).unwrap()).collect();
            let err = max_rel1(&ll, &case.reference("log_likelihood"));
            assert!(err < 1e-5, "{name}: log-likelihood error {err:e}");
        });
    }
}

#[test]
fn posteriors_match_float64_reference_and_sum_to_one() {
    for name in CASES {
        let case = Case::load(name);
        with_gmm(&case, |gmm| {
            let mut q = vec![0.0; case.n * gmm.k()];
            gmm.posteriors_batch(&case.x, Assignment::default(), &mut q, None).unwrap();
            let err = rel_l2(&q, &case.reference("posteriors"));
            assert!(err < 1e-4, "{name}: posterior error {err:e}");
            for row in q.chunks(gmm.k()) {
                let s: f32 = row.iter().sum();
                assert!((s - 1.0).abs() < 1e-5, "{name}: posteriors sum to {s}");
            }
        });
    }
}

#[test]
fn fisher_vectors_match_float64_reference_in_vlfeat_layout() {
    for name in CASES {
        let case = Case::load(name);
        with_gmm(&case, |gmm| {
            for (norm, file) in
                [(Normalization::NONE, "fv_vlfeat_raw"), (Normalization::IMPROVED, "fv_vlfeat_improved")]
            {
                let fv = fisher(gmm, &case.x, FisherOptions::default(), Layout::VlFeat, norm);
                let err = rel_l2(&fv, &case.reference(file));
                assert!(err < 1e-4, "{name} {file}: error {err:e}");
                assert!(fv.iter().all(|v| v.is_finite()), "{name}: non-finite FV");
            }
        });
    }
}

#[test]
fn fisher_vectors_match_scikit_image() {
    for name in CASES {
        let case = Case::load(name);
        if !case.has("skimage_fv_raw") {
            continue; // scikit-image overflows on edge_k4, so it has no file
        }
        with_gmm(&case, |gmm| {
            for (norm, file) in
                [(Normalization::NONE, "skimage_fv_raw"), (Normalization::IMPROVED, "skimage_fv_improved")]
            {
                let fv = fisher(gmm, &case.x, FisherOptions::default(), Layout::SkImage, norm);
                let err = rel_l2(&fv, &case.reference(file));
                assert!(err < 1e-4, "{name} {file}: error {err:e}");
            }
        });
    }
}

/// A mixture fitted by EM (tests/data/gmm/fitted_floor_k32/make.py): every component has a
/// dimension at EM's variance floor and, at its fixed point, most Fisher-vector entries are sums
/// that cancel to 1e-8 of their terms. f32 posteriors, f32 terms and the f32 inverse sigma's
/// rounding left the improved vector 1.8e-4 from scikit-image there; the accumulator refines the
/// posteriors and terms of the components that carry most of each descriptor's weight, and
/// `finish` takes out the inverse sigma's rounding. Pushed one by one, in batches, and merged.
#[test]
fn fisher_vector_of_an_em_fitted_mixture_at_the_variance_floor_matches_scikit_image() {
    let case = Case::load("fitted_floor_k32");
    with_gmm(&case, |gmm| {
        let d = gmm.d();
        let finish = |acc: &FisherAccumulator, norm| {
            let mut out = vec![0.0; Layout::SkImage.len(gmm.k(), d)];
            acc.finish(Layout::SkImage, norm, &mut out).unwrap();
            out
        };
        let len = FisherAccumulator::storage_len(gmm.k(), d);
        let (mut sa, mut sb, mut sc) = (vec![0.0; len], vec![0.0; len], vec![0.0; len]);
        let mut batched = FisherAccumulator::new(gmm, FisherOptions::default(), &mut sa).unwrap();
        batched.push_batch(&case.x).unwrap();
        let mut single = FisherAccumulator::new(gmm, FisherOptions::default(), &mut sb).unwrap();
        let mut other = FisherAccumulator::new(gmm, FisherOptions::default(), &mut sc).unwrap();
        let half = case.n / 2 * d;
        for x in case.x[..half].chunks_exact(d) {
            single.push(x).unwrap();
        }
        other.push_batch(&case.x[half..]).unwrap();
        single.merge(&other).unwrap();
        for (norm, file, tol) in
            [(Normalization::NONE, "skimage_fv_raw", 1e-6), (Normalization::IMPROVED, "skimage_fv_improved", 1e-4)]
        {
            let want = case.reference(file);
            for (how, acc) in [("batched", &batched), ("one by one and merged", &single)] {
                let err = rel_l2(&finish(acc, norm), &want);
                assert!(err < tol, "{file} {how}: error {err:e} (tolerance {tol:e})");
            }
        }
    });
}

/// VLFeat's own float32 outputs: it skips posteriors below 1e-6, so we do too here.
/// Its fast mode is our hard assignment.
#[test]
fn fisher_vectors_match_vlfeat_outputs() {
    let vl = FisherOptions::DEFAULT.with_assignment(Assignment::Soft { threshold: 1e-6 });
    let hard = FisherOptions::DEFAULT.with_assignment(Assignment::Hard);
    for name in ["digits_k16", "china_patches_k32"] {
        let case = Case::load(name);
        with_gmm(&case, |gmm| {
            for (opts, norm, file, tol) in [
                (vl, Normalization::NONE, "vlfeat_raw", 1e-4),
                (vl, Normalization::IMPROVED, "vlfeat_improved", 2e-4),
                (hard, Normalization::IMPROVED, "vlfeat_improved_hard", 2e-4),
            ] {
                let fv = fisher(gmm, &case.x, opts, Layout::VlFeat, norm);
                let err = rel_l2(&fv, &case.reference(file));
                assert!(err < tol, "{name} {file}: error {err:e} (tolerance {tol:e})");
            }
        });
    }
}

#[test]
fn edge_case_is_finite_everywhere() {
    let case = Case::load("edge_k4");
    with_gmm(&case, |gmm| {
        for assignment in [Assignment::default(), Assignment::Hard, Assignment::Soft { threshold: 1e-6 }] {
            let mut q = vec![0.0; case.n * gmm.k()];
            let mut ll = vec![0.0; case.n];
            gmm.posteriors_batch(&case.x, assignment, &mut q, Some(&mut ll)).unwrap();
            assert!(q.iter().chain(&ll).all(|v| v.is_finite()));
            for layout in [Layout::VlFeat, Layout::SkImage] {
                let opts = FisherOptions::DEFAULT.with_assignment(assignment);
                let fv = fisher(gmm, &case.x, opts, layout, Normalization::IMPROVED);
                assert!(fv.iter().all(|v| v.is_finite()), "{assignment:?} {layout:?}");
            }
        }
    });
}

#[test]
fn owned_form_equals_view() {
    let case = Case::load("digits_k16");
    let st = SafeTensors::parse(case.file.as_bytes()).unwrap();
    let owned = DiagGmmOwned::<16, 64>::from_safetensors(&st).unwrap();
    with_gmm(&case, |gmm| {
        let x = &case.x[..64 * 20];
        let a = fisher(gmm, x, FisherOptions::default(), Layout::VlFeat, Normalization::IMPROVED);
        let mut storage = FisherStorage::<16, 64>::new();
        let mut acc = storage.accumulator(owned.view(), FisherOptions::default()).unwrap();
        acc.push_batch(x).unwrap();
        let mut b = vec![0.0; 2048];
        acc.finish(Layout::VlFeat, Normalization::IMPROVED, &mut b).unwrap();
        assert_eq!(a, b);
    });
    assert!(DiagGmmOwned::<16, 63>::from_safetensors(&st).is_err());
}

/// A `.safetensors` file of a K x D mixture (weights 1/K, means and variances from `f`).
fn gmm_file(k: usize, d: usize, f: impl Fn(usize) -> (f32, f32)) -> Vec<u8> {
    let (wb, mb) = (4 * k, 4 * k * d);
    let header = format!(
        r#"{{"weights":{{"dtype":"F32","shape":[{k}],"data_offsets":[0,{wb}]}},"means":{{"dtype":"F32","shape":[{k},{d}],"data_offsets":[{wb},{}]}},"covariances":{{"dtype":"F32","shape":[{k},{d}],"data_offsets":[{},{}]}}}}"#,
        wb + mb,
        wb + mb,
        wb + 2 * mb
    );
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(header.as_bytes());
    file.extend((0..k).flat_map(|_| (1.0 / k as f32).to_le_bytes()));
    file.extend((0..k * d).flat_map(|i| f(i).0.to_le_bytes()));
    file.extend((0..k * d).flat_map(|i| f(i).1.to_le_bytes()));
    file
}

/// A 64 x 1024 mixture (768 KB of parameters and constants) loaded into a `static` on a thread
/// with 64 KB of stack: no K x D array passes through the stack. The result equals the borrowed
/// form's bit for bit; a failed load leaves the value empty.
#[test]
fn owned_mixture_loads_in_place_in_a_static() {
    const K: usize = 64;
    const D: usize = 1024;
    static GMM: std::sync::Mutex<DiagGmmOwned<K, D>> = std::sync::Mutex::new(DiagGmmOwned::EMPTY);
    let file = gmm_file(K, D, |i| ((i % 7) as f32 - 3.0, 0.5 + (i % 5) as f32));
    let load = {
        let file = file.clone();
        move || GMM.lock().unwrap().load_safetensors(&SafeTensors::parse(&file).unwrap())
    };
    // wasm32-wasip1 has no threads: there the load runs on the test's own stack.
    #[cfg(not(target_arch = "wasm32"))]
    let loaded = std::thread::Builder::new().stack_size(64 * 1024).spawn(load).unwrap().join().unwrap();
    #[cfg(target_arch = "wasm32")]
    let loaded = load();
    loaded.unwrap();
    let st = SafeTensors::parse(&file).unwrap();
    let mut consts = vec![0.0; DiagGmm::constants_len(K, D)];
    let view = DiagGmm::from_safetensors(&st, &mut consts).unwrap();
    let owned = GMM.lock().unwrap();
    let x: Vec<f32> = (0..D).map(|j| (j % 3) as f32 - 1.0).collect();
    let (mut a, mut b) = (vec![0.0; K], vec![0.0; K]);
    view.posteriors(&x, &mut a).unwrap();
    owned.view().posteriors(&x, &mut b).unwrap();
    assert_eq!(a, b);
    assert_eq!(view.inv_sigma(), owned.view().inv_sigma());
    assert_eq!(view.means(), owned.view().means());
    drop(owned);
    // A non-positive variance: an error naming it, and the value left empty.
    let bad = gmm_file(K, D, |i| (0.0, if i == 5 * D + 3 { -1.0 } else { 1.0 }));
    let err = GMM.lock().unwrap().load_safetensors(&SafeTensors::parse(&bad).unwrap()).unwrap_err();
    assert_eq!(err, fvae::Error::Value { what: "covariances", index: 5 * D + 3, reason: "must be finite and > 0" });
    let g = GMM.lock().unwrap();
    assert!(g.view().weights().iter().chain(g.view().inv_sigma()).all(|&v| v == 0.0));
}

/// Samples N descriptors from a K x D mixture (so the model is exactly right and the Fisher
/// vector is the near-cancelling sum that exposes accumulation error), and compares the f32
/// accumulator with a float64 reference.
#[test]
fn fisher_vector_stays_within_1e4_of_float64_for_100k_descriptors() {
    let (k, d, n) = (8usize, 16usize, 100_000usize);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut w: Vec<f32> = (0..k).map(|_| 0.5 + rng.uniform() as f32).collect();
    let total: f32 = w.iter().sum();
    w.iter_mut().for_each(|v| *v /= total);
    let means: Vec<f32> = (0..k * d).map(|_| (100.0 + 4.0 * rng.normal()) as f32).collect();
    let vars: Vec<f32> = (0..k * d).map(|_| (0.5 + rng.uniform()) as f32).collect();
    let mut x = Vec::with_capacity(n * d);
    for _ in 0..n {
        let u = rng.uniform() as f32;
        let mut c = 0;
        let mut acc = w[0];
        while acc < u && c + 1 < k {
            c += 1;
            acc += w[c];
        }
        for j in 0..d {
            x.push((means[c * d + j] as f64 + (vars[c * d + j] as f64).sqrt() * rng.normal()) as f32);
        }
    }
    // float64 reference
    let mut s0 = vec![0.0f64; k];
    let mut s1 = vec![0.0f64; k * d];
    let mut s2 = vec![0.0f64; k * d];
    let mut l = vec![0.0f64; k];
    for xi in x.chunks(d) {
        for c in 0..k {
            let mut acc = 0.0;
            for j in 0..d {
                let v = vars[c * d + j] as f64;
                acc += (xi[j] as f64 - means[c * d + j] as f64).powi(2) / v + v.ln();
            }
            l[c] = (w[c] as f64).ln() - 0.5 * acc;
        }
        let m = l.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let z: f64 = l.iter().map(|v| (v - m).exp()).sum();
        for c in 0..k {
            let q = (l[c] - m).exp() / z;
            s0[c] += q;
            for j in 0..d {
                let t = (xi[j] as f64 - means[c * d + j] as f64) / (vars[c * d + j] as f64).sqrt();
                s1[c * d + j] += q * t;
                s2[c * d + j] += q * (t * t - 1.0);
            }
        }
    }
    let mut reference = vec![0.0f64; 2 * k * d];
    for c in 0..k {
        let sw = (w[c] as f64).sqrt();
        for j in 0..d {
            reference[c * d + j] = s1[c * d + j] / (n as f64 * sw);
            reference[k * d + c * d + j] = s2[c * d + j] / (n as f64 * (2.0f64).sqrt() * sw);
        }
    }
    let improved: Vec<f64> = reference.iter().map(|v| v.signum() * v.abs().sqrt()).collect();
    let norm = improved.iter().map(|v| v * v).sum::<f64>().sqrt();
    let improved: Vec<f64> = improved.iter().map(|v| v / norm).collect();

    let mut consts = vec![0.0; DiagGmm::constants_len(k, d)];
    let gmm = DiagGmm::new(&w, &means, &vars, &mut consts).unwrap();
    let raw = fisher(gmm, &x, FisherOptions::default(), Layout::VlFeat, Normalization::NONE);
    let imp = fisher(gmm, &x, FisherOptions::default(), Layout::VlFeat, Normalization::IMPROVED);
    let (e_raw, e_imp) = (rel_l2(&raw, &reference), rel_l2(&imp, &improved));
    assert!(e_raw < 1e-4 && e_imp < 1e-4, "raw {e_raw:e}, improved {e_imp:e}");
}

/// A random K x D mixture (means spread by `spread`) and N descriptors near its components:
/// with a large spread most posteriors are exactly 0, with a small one none are.
fn random_case(k: usize, d: usize, n: usize, spread: f64, seed: u64) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut rng = Rng(seed);
    let mut w: Vec<f32> = (0..k).map(|_| 0.5 + rng.uniform() as f32).collect();
    let total: f32 = w.iter().sum();
    w.iter_mut().for_each(|v| *v /= total);
    let means: Vec<f32> = (0..k * d).map(|_| (spread * rng.normal()) as f32).collect();
    let vars: Vec<f32> = (0..k * d).map(|_| (0.5 + 1.5 * rng.uniform()) as f32).collect();
    let x: Vec<f32> = (0..n * d).map(|i| means[(i / d % k) * d + i % d] + rng.normal() as f32).collect();
    (w, means, vars, x)
}

/// The batched paths (several rows' distances per pass over the model, blocks plus a tail, the
/// row-by-row fallback for large K, and for D >= 64 the pruning of components whose posterior
/// is certainly 0: sharply peaked, some components left open, and dense, where whole blocks
/// fall back) give the one-descriptor results bit for bit.
#[test]
fn batched_paths_equal_one_descriptor_at_a_time_bit_for_bit() {
    let cases = [
        (3, 5, 21, 3.0),
        (64, 128, 19, 3.0),
        (64, 128, 40, 0.7),
        (16, 96, 33, 0.5),
        (32, 64, 17, 0.1),
        (9, 100, 25, 2.0),
        (7, 33, 8, 3.0),
        (300, 4, 11, 3.0),
        (1, 1, 9, 3.0),
    ];
    for (k, d, n, spread) in cases {
        let (w, means, vars, x) = random_case(k, d, n, spread, 0x5EED ^ (k * 1000 + d) as u64);
        let mut consts = vec![0.0; DiagGmm::constants_len(k, d)];
        let gmm = DiagGmm::new(&w, &means, &vars, &mut consts).unwrap();
        for assignment in [Assignment::default(), Assignment::Soft { threshold: 1e-6 }, Assignment::Hard] {
            let (mut q_batch, mut ll_batch) = (vec![0.0; n * k], vec![0.0; n]);
            gmm.posteriors_batch(&x, assignment, &mut q_batch, Some(&mut ll_batch)).unwrap();
            for (i, row) in x.chunks(d).enumerate() {
                let mut q = vec![0.0; k];
                let ll = gmm.posteriors_with(row, assignment, &mut q).unwrap();
                assert_eq!((&q[..], ll), (&q_batch[i * k..(i + 1) * k], ll_batch[i]), "K {k} D {d} row {i}");
            }
            for compensated in [true, false] {
                let options = FisherOptions::DEFAULT.with_assignment(assignment).with_compensated(compensated);
                let len = FisherAccumulator::storage_len_with(k, d, options);
                let (mut sa, mut sb) = (vec![0.0; len], vec![0.0; len]);
                let mut a = FisherAccumulator::new(gmm, options, &mut sa).unwrap();
                let mut b = FisherAccumulator::new(gmm, options, &mut sb).unwrap();
                a.push_batch(&x).unwrap();
                for row in x.chunks(d) {
                    b.push(row).unwrap();
                }
                let (mut fa, mut fb) = (vec![0.0; 2 * k * d + k], vec![0.0; 2 * k * d + k]);
                a.finish(Layout::SkImage, Normalization::NONE, &mut fa).unwrap();
                b.finish(Layout::SkImage, Normalization::NONE, &mut fb).unwrap();
                assert_eq!(fa, fb, "K {k} D {d} {assignment:?} compensated {compensated}");
            }
        }
    }
}

/// A row too far from every component for f32, in the middle of a block: exactly the rows
/// before it are taken, and the error names it.
#[test]
fn batched_push_takes_exactly_the_rows_before_a_row_too_far() {
    let (k, d, n) = (4, 3, 20);
    let (w, means, vars, mut x) = random_case(k, d, n, 3.0, 77);
    let mut consts = vec![0.0; DiagGmm::constants_len(k, d)];
    let gmm = DiagGmm::new(&w, &means, &vars, &mut consts).unwrap();
    x[11 * d..12 * d].iter_mut().for_each(|v| *v = 3e38);
    let len = FisherAccumulator::storage_len(k, d);
    let (mut sa, mut sb) = (vec![0.0; len], vec![0.0; len]);
    let mut a = FisherAccumulator::new(gmm, FisherOptions::default(), &mut sa).unwrap();
    match a.push_batch(&x) {
        Err(fvae::Error::Value { index, .. }) => assert_eq!(index, 11 * d),
        other => panic!("expected a Value error at row 11, got {other:?}"),
    }
    let mut b = FisherAccumulator::new(gmm, FisherOptions::default(), &mut sb).unwrap();
    b.push_batch(&x[..11 * d]).unwrap();
    assert_eq!(a.count(), 11);
    let (mut fa, mut fb) = (vec![0.0; 2 * k * d], vec![0.0; 2 * k * d]);
    a.finish(Layout::VlFeat, Normalization::NONE, &mut fa).unwrap();
    b.finish(Layout::VlFeat, Normalization::NONE, &mut fb).unwrap();
    assert_eq!(fa, fb);
}
