//! Properties that must hold for any valid model and data: posteriors sum to 1, merging two
//! accumulators equals one accumulator over both streams, and descriptor order does not matter
//! beyond rounding.

use fvae::fisher::{FisherAccumulator, FisherOptions, Layout, Normalization};
use fvae::gmm::{Assignment, DiagGmm};
use proptest::prelude::*;

/// A random valid mixture and data: (weights, means, variances, xs, d).
fn model_and_data() -> impl Strategy<Value = (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>, usize)> {
    (1usize..6, 1usize..10, 2usize..40).prop_flat_map(|(k, d, n)| {
        (
            prop::collection::vec(0.05f32..1.0, k),
            prop::collection::vec(-50.0f32..50.0, k * d),
            prop::collection::vec(1e-2f32..1e2, k * d),
            prop::collection::vec(-60.0f32..60.0, n * d),
            Just(d),
        )
            .prop_map(|(mut w, m, v, x, d)| {
                let s: f32 = w.iter().sum();
                w.iter_mut().for_each(|v| *v /= s);
                (w, m, v, x, d)
            })
    })
}

fn fv(gmm: DiagGmm, rows: &[&[f32]], opts: FisherOptions) -> Vec<f32> {
    let mut storage = vec![0.0; FisherAccumulator::storage_len(gmm.k(), gmm.d())];
    let mut acc = FisherAccumulator::new(gmm, opts, &mut storage).unwrap();
    for r in rows {
        acc.push(r).unwrap();
    }
    let mut out = vec![0.0; Layout::SkImage.len(gmm.k(), gmm.d())];
    acc.finish(Layout::SkImage, Normalization::NONE, &mut out).unwrap();
    out
}

fn close(a: &[f32], b: &[f32], tol: f32) -> bool {
    let scale = b.iter().map(|v| v.abs()).fold(1.0f32, f32::max);
    a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol * scale)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn posteriors_sum_to_one((w, m, v, xs, d) in model_and_data()) {
        let mut c = vec![0.0; DiagGmm::constants_len(w.len(), d)];
        let gmm = DiagGmm::new(&w, &m, &v, &mut c).unwrap();
        let mut q = vec![0.0; w.len()];
        for x in xs.chunks(d) {
            gmm.posteriors(x, &mut q).unwrap();
            let s: f32 = q.iter().sum();
            prop_assert!((s - 1.0).abs() < 1e-5, "sum {}", s);
            prop_assert!(q.iter().all(|p| (0.0..=1.0).contains(p)));
            gmm.posteriors_with(x, Assignment::Hard, &mut q).unwrap();
            prop_assert_eq!(q.iter().filter(|&&p| p == 1.0).count(), 1);
        }
    }

    #[test]
    fn merge_equals_one_accumulator((w, m, v, xs, d) in model_and_data(), split in 0usize..40) {
        let mut c = vec![0.0; DiagGmm::constants_len(w.len(), d)];
        let gmm = DiagGmm::new(&w, &m, &v, &mut c).unwrap();
        let rows: Vec<&[f32]> = xs.chunks(d).collect();
        let split = split.min(rows.len());
        let whole = fv(gmm, &rows, FisherOptions::default());
        let (k, opts) = (w.len(), FisherOptions::default());
        let (mut sa, mut sb) = (vec![0.0; FisherAccumulator::storage_len(k, d)], vec![0.0; FisherAccumulator::storage_len(k, d)]);
        let mut a = FisherAccumulator::new(gmm, opts, &mut sa).unwrap();
        let mut b = FisherAccumulator::new(gmm, opts, &mut sb).unwrap();
        rows[..split].iter().for_each(|r| { a.push(r).unwrap(); });
        rows[split..].iter().for_each(|r| { b.push(r).unwrap(); });
        a.merge(&b).unwrap();
        let mut merged = vec![0.0; whole.len()];
        a.finish(Layout::SkImage, Normalization::NONE, &mut merged).unwrap();
        prop_assert!(close(&merged, &whole, 1e-5), "{:?} vs {:?}", merged, whole);
    }

    #[test]
    fn order_does_not_matter((w, m, v, xs, d) in model_and_data(), seed in any::<u64>()) {
        let mut c = vec![0.0; DiagGmm::constants_len(w.len(), d)];
        let gmm = DiagGmm::new(&w, &m, &v, &mut c).unwrap();
        let rows: Vec<&[f32]> = xs.chunks(d).collect();
        let mut shuffled = rows.clone();
        let mut s = seed | 1;
        for i in (1..shuffled.len()).rev() {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            shuffled.swap(i, (s % (i as u64 + 1)) as usize);
        }
        let a = fv(gmm, &rows, FisherOptions::default());
        let b = fv(gmm, &shuffled, FisherOptions::default());
        prop_assert!(close(&a, &b, 1e-5));
    }

    #[test]
    fn plain_and_compensated_agree((w, m, v, xs, d) in model_and_data()) {
        let mut c = vec![0.0; DiagGmm::constants_len(w.len(), d)];
        let gmm = DiagGmm::new(&w, &m, &v, &mut c).unwrap();
        let rows: Vec<&[f32]> = xs.chunks(d).collect();
        let a = fv(gmm, &rows, FisherOptions::default());
        let b = fv(gmm, &rows, FisherOptions::DEFAULT.with_compensated(false));
        prop_assert!(close(&a, &b, 1e-5));
    }
}
