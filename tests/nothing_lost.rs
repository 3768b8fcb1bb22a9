//! "Nothing lost": a rejected input leaves caller state exactly as it was. Fisher `push` has its
//! test in bad_input.rs; here: Fisher merges and `push_batch` on every row position, the VQ batch
//! outputs, residual VQ and the int8 top-k regression found by fuzzing (fuzz/fv_vq).

use fvae::fisher::{FisherAccumulator, FisherOptions, Layout, Normalization};
use fvae::gmm::DiagGmm;
use fvae::vq::{Codebook, CodebookI8, ResidualVq};

const W: [f32; 2] = [0.5, 0.5];
const M: [f32; 6] = [0.0, 0.0, 0.0, 1.0, 1.0, 1.0];
const V: [f32; 6] = [1.0; 6];

fn raw(acc: &FisherAccumulator<'_, '_>) -> (u64, Vec<u32>) {
    let mut fv = [0.0f32; 12];
    acc.finish(Layout::VlFeat, Normalization::NONE, &mut fv).unwrap();
    (acc.count(), fv.iter().map(|v| v.to_bits()).collect())
}

#[test]
fn fisher_rejections_change_nothing() {
    let mut c = [0.0; DiagGmm::constants_len(2, 3)];
    let gmm = DiagGmm::new(&W, &M, &V, &mut c).unwrap();
    for compensated in [true, false] {
        let options = FisherOptions::DEFAULT.with_compensated(compensated);
        let mut storage = vec![0.0; FisherAccumulator::storage_len_with(2, 3, options)];
        let mut acc = FisherAccumulator::new(gmm, options, &mut storage).unwrap();
        acc.push_batch(&[0.1, 0.2, 0.3, 0.9, 0.8, 0.7]).unwrap();
        let before = raw(&acc);
        // A bad value in every position of a 4-row batch, of every kind: nothing taken.
        let good = [0.5f32; 12];
        for pos in 0..good.len() {
            for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                let mut xs = good;
                xs[pos] = bad;
                let e = acc.push_batch(&xs).unwrap_err();
                assert_eq!(e, fvae::Error::Value { what: "descriptor", index: pos, reason: "not finite" });
                assert_eq!(raw(&acc), before, "push_batch with a bad value at {pos}");
                assert!(acc.push(&xs[pos / 3 * 3..pos / 3 * 3 + 3]).is_err());
                assert_eq!(raw(&acc), before);
            }
        }
        // Ragged batch, wrong-length push: nothing taken.
        assert!(acc.push_batch(&good[..11]).is_err());
        assert!(acc.push(&good[..2]).is_err());
        assert_eq!(raw(&acc), before);
        // A row too far from every component (f32 overflow) after good rows: exactly the rows
        // before it were taken, and the error names its flat index.
        let mut xs = good;
        xs[7] = 3e19;
        let e = acc.push_batch(&xs).unwrap_err();
        // The error's flat index is the row's first element (6 = row 2 of D = 3).
        assert!(matches!(e, fvae::Error::Value { index: 6, .. }), "{e:?}");
        assert_eq!(acc.count(), before.0 + 2, "rows 0 and 1 taken, row 2 not");

        // Merging statistics of the wrong length or non-finite: nothing merged.
        let before = raw(&acc);
        assert!(acc.merge_statistics(1, &[1.0, 0.0], &[0.0; 6], &[0.0; 5]).is_err());
        assert!(acc.merge_statistics(1, &[1.0, f32::NAN], &[0.0; 6], &[0.0; 6]).is_err());
        assert!(acc.merge_statistics(1, &[1.0, 0.0], &[0.0; 6], &[f32::INFINITY; 6]).is_err());
        assert_eq!(raw(&acc), before);
        // Merging an accumulator of another shape: nothing merged.
        let mut c1 = [0.0; DiagGmm::constants_len(1, 3)];
        let other_gmm = DiagGmm::new(&[1.0], &M[..3], &V[..3], &mut c1).unwrap();
        let mut s1 = vec![0.0; FisherAccumulator::storage_len(1, 3)];
        let mut other = FisherAccumulator::new(other_gmm, FisherOptions::default(), &mut s1).unwrap();
        other.push(&[0.0, 0.0, 0.0]).unwrap();
        assert!(acc.merge(&other).is_err());
        assert_eq!(raw(&acc), before);
        // K = 3, D = 2 has as many values as K = 2, D = 3: the error names K, not K * D.
        let mut c32 = [0.0; DiagGmm::constants_len(3, 2)];
        let gmm32 = DiagGmm::new(&[0.25, 0.25, 0.5], &M, &V, &mut c32).unwrap();
        let mut s32 = vec![0.0; FisherAccumulator::storage_len(3, 2)];
        let other = FisherAccumulator::new(gmm32, FisherOptions::default(), &mut s32).unwrap();
        match acc.merge(&other) {
            Err(fvae::Error::Shape { what, expected: 2, found: 3 }) => assert!(what.contains("K"), "{what}"),
            r => panic!("merging 3 x 2 into 2 x 3: {r:?}"),
        }
        assert_eq!(raw(&acc), before);
    }
}

#[test]
fn vq_batch_rejections_leave_outputs_untouched() {
    let data = [0.0f32, 0.0, 1.0, 1.0, 5.0, 5.0];
    let cb = Codebook::new(&data, 2).unwrap();
    let mut scratch = vec![0.0; cb.batch_scratch_len()];
    let xs = [0.1f32, 0.1, 4.0, 4.0, f32::NAN, 0.0, 1.0, 1.0];
    let (mut idx, mut dist) = ([7u32; 4], [-1.0f32; 4]);
    let e = cb.nearest_batch(&xs, &mut idx, &mut dist, &mut scratch).unwrap_err();
    assert!(matches!(e, fvae::Error::Value { index: 4, .. }), "{e:?}");
    assert_eq!((idx, dist), ([7; 4], [-1.0; 4]), "a batch with a bad row writes nothing");
    let (mut idx, mut dist) = ([7u32; 8], [-1.0f32; 8]);
    assert!(cb.top_k_batch(&xs, 2, &mut idx, &mut dist, &mut scratch).is_err());
    assert_eq!((idx, dist), ([7; 8], [-1.0; 8]));
    // Single queries: a rejected one leaves the top-k outputs as they were.
    let (mut idx, mut dist) = ([7u32; 2], [-1.0f32; 2]);
    assert!(cb.top_k(&[f32::INFINITY, 0.0], &mut idx, &mut dist).is_err());
    assert_eq!((idx, dist), ([7; 2], [-1.0; 2]));
}

#[test]
fn int8_top_k_with_k_zero_is_empty_not_a_panic() {
    // Found by fuzz/fv_vq: top_k with an empty idx indexed dist[k - 1] with k = 0.
    let cb = CodebookI8::new(&[0, 0, 1, 1, 5, 5], 2, 0.1).unwrap();
    assert_eq!(cb.top_k(&[1, 1], &mut [], &mut []), Ok(0));
    assert_eq!(cb.top_k_batch(&[1, 1, 2, 2], 0, &mut [], &mut []), Ok(0));
    let cb = Codebook::new(&[0.0, 0.0, 1.0, 1.0], 2).unwrap();
    assert_eq!(cb.top_k(&[1.0, 1.0], &mut [], &mut []), Ok(0));
}

#[test]
fn residual_vq_rejections_leave_outputs_untouched() {
    let data = [0.0f32, 0.0, 1.0, 1.0, 0.0, 0.0, 0.5, 0.5]; // 2 stages of 2 codewords, D = 2
    let r = ResidualVq::new(&data, 2, 2).unwrap();
    let (mut codes, mut residual) = ([9u32; 2], [-1.0f32; 2]);
    assert!(r.encode(&[f32::NAN, 0.0], &mut codes, &mut residual).is_err());
    assert_eq!((codes, residual), ([9; 2], [-1.0; 2]));
    let mut out = [-1.0f32; 2];
    assert!(r.decode(&[0, 7], &mut out).is_err(), "a code past M is an error");
    assert_eq!(out, [-1.0; 2]);
    let (mut codes, mut residual) = ([9u32; 4], [-1.0f32; 4]);
    assert!(r.encode_batch(&[0.0, 0.0, f32::NAN, 1.0], &mut codes, &mut residual).is_err());
    assert_eq!(codes[2..], [9, 9], "the bad row's codes are not written");
}
