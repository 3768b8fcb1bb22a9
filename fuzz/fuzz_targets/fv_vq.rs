//! The GMM / Fisher and VQ APIs with arbitrary shapes and values (NaN, infinities, extremes).
//! Besides "no panic", it checks properties that must hold for every input:
//! - a rejected `push` leaves the accumulator exactly as it was (same count, same raw FV bits);
//! - a rejected `push_batch` took either nothing or exactly the rows before the reported one;
//! - VQ: the nearest codeword is top-1 of `top_k` (int8 too); packed and plain codebooks give the
//!   same index and distance.
#![no_main]

use fvae::fisher::{FisherAccumulator, FisherOptions, Layout, Normalization};
use fvae::gmm::{Assignment, DiagGmm};
use fvae::vq::{Codebook, CodebookI8};
use fvae::Error;
use libfuzzer_sys::fuzz_target;

/// Reads the fuzz input as a stream: small integers for shapes, f32 bit patterns for values.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let (b, rest) = self.0.split_first().map(|(b, r)| (*b, r)).unwrap_or((0, &[]));
        self.0 = rest;
        b
    }
    fn f32(&mut self) -> f32 {
        f32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }
    fn floats(&mut self, n: usize, tame: bool) -> Vec<f32> {
        // "tame" maps bit patterns to moderate finite values so deeper code is reached too.
        (0..n).map(|_| if tame { (self.byte() as i8) as f32 / 16.0 } else { self.f32() }).collect()
    }
}

fn raw_fv(acc: &FisherAccumulator<'_, '_>, out: &mut [f32]) -> Option<Vec<u32>> {
    acc.finish(Layout::VlFeat, Normalization::NONE, out).ok()?;
    Some(out.iter().map(|v| v.to_bits()).collect())
}

fn gmm_and_fisher(inp: &mut Input<'_>) {
    let flags = inp.byte();
    let k = 1 + inp.byte() as usize % 8;
    let d = 1 + inp.byte() as usize % 24;
    let tame = flags & 1 != 0;
    let mut weights = inp.floats(k, tame);
    let means = inp.floats(k * d, tame);
    let mut variances = inp.floats(k * d, tame);
    if tame {
        let total: f32 = weights.iter().map(|w| w.abs() + 1.0).sum();
        weights.iter_mut().for_each(|w| *w = (w.abs() + 1.0) / total);
        variances.iter_mut().for_each(|v| *v = v.abs() + 0.05);
    }
    let mut constants = vec![0.0f32; DiagGmm::constants_len(k, d)];
    let Ok(gmm) = DiagGmm::new(&weights, &means, &variances, &mut constants) else { return };
    let n = inp.byte() as usize % 8;
    // Descriptors: values raw even for a tame model, so NaN / inf / huge rows are pushed.
    let xs = inp.floats(n * d, flags & 2 != 0);
    let mut out = vec![0.0f32; n.max(1) * k];
    let _ = gmm.posteriors_batch(&xs, Assignment::default(), &mut out[..n * k], None);
    let _ = gmm.log_densities_batch(&xs, &mut out[..n * k]);
    if let Some(x) = xs.get(..d) {
        let _ = gmm.posteriors_with(x, Assignment::Hard, &mut out[..k]);
        let _ = gmm.log_likelihood(x, &mut out[..k]);
    }

    let options = FisherOptions::DEFAULT.with_compensated(flags & 4 != 0);
    let mut storage = vec![0.0f32; FisherAccumulator::storage_len_with(k, d, options)];
    let Ok(mut acc) = FisherAccumulator::new(gmm, options, &mut storage) else { return };
    let mut fv = vec![0.0f32; Layout::VlFeat.len(k, d)];
    for x in xs.chunks_exact(d) {
        let (count, before) = (acc.count(), raw_fv(&acc, &mut fv));
        if acc.push(x).is_err() {
            assert_eq!(acc.count(), count, "a rejected push changed the count");
            assert_eq!(raw_fv(&acc, &mut fv), before, "a rejected push changed the statistics");
        }
    }
    let count = acc.count();
    match acc.push_batch(&xs) {
        Ok(()) => assert_eq!(acc.count(), count + n as u64),
        Err(e) => {
            let taken = acc.count() - count;
            // Malformed rows are checked first (nothing taken); a row too far from every
            // component names its flat index, and exactly the rows before it were taken.
            if taken > 0 {
                let index = match e {
                    Error::Value { index, .. } => index,
                    other => panic!("rows taken but the error names none: {other:?}"),
                };
                assert_eq!(taken as usize, index / d, "push_batch took rows other than those before {e:?}");
            }
        }
    }
    let mut storage2 = vec![0.0f32; FisherAccumulator::storage_len_with(k, d, options)];
    if let Ok(mut other) = FisherAccumulator::new(gmm, options, &mut storage2) {
        let _ = other.push_batch(&xs);
        let _ = acc.merge(&other);
    }
    let layout = if flags & 8 != 0 { Layout::SkImage } else { Layout::VlFeat };
    let mut fv = vec![0.0f32; layout.len(k, d)];
    let _ = acc.finish(layout, Normalization::IMPROVED, &mut fv);
    let (s0, s1, s2) = acc.statistics();
    let (s0, s1, s2) = (s0.to_vec(), s1.to_vec(), s2.to_vec());
    let _ = acc.merge_statistics(inp.byte() as u64, &s0, &s1, &s2);
}

fn vq(inp: &mut Input<'_>) {
    let flags = inp.byte();
    let m = 1 + inp.byte() as usize % 80;
    let d = 1 + inp.byte() as usize % 40;
    let data = inp.floats(m * d, flags & 1 != 0);
    let queries = inp.floats(3 * d, flags & 2 != 0);
    let top = inp.byte() as usize % 10;
    if let Ok(cb) = Codebook::new(&data, d) {
        let mut packed_storage = vec![0.0f32; Codebook::packed_len(m, d)];
        let packed = cb.pack(&mut packed_storage).expect("packed_len is enough");
        for x in queries.chunks_exact(d) {
            let plain = cb.nearest(x);
            // Same index and distance bits: ties are on the returned f32 distance, lowest index
            // first, on every path (this target once found the packed path taking the f64
            // minimum at |x| ~ 1e8; tests/vq.rs keeps that case).
            match (plain, packed.nearest(x)) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(
                        (a.index, a.distance.to_bits()),
                        (b.index, b.distance.to_bits()),
                        "packed and plain: {a:?} {b:?}"
                    )
                }
                (a, b) => assert_eq!(a, b, "packed and plain disagree"),
            }
            let (mut idx, mut dist) = (vec![u32::MAX; top], vec![f32::NAN; top]);
            if let (Ok(p), Ok(got)) = (plain, cb.top_k(x, &mut idx, &mut dist)) {
                if got > 0 {
                    assert_eq!((idx[0], dist[0]), (p.index, p.distance), "top-1 is not the nearest");
                }
            }
        }
        let mut idx = vec![0u32; 3 * top];
        let mut dist = vec![0.0f32; 3 * top];
        let mut scratch = vec![0.0f32; (flags as usize >> 2) * 8];
        let _ = cb.top_k_batch(&queries, top, &mut idx, &mut dist, &mut scratch);
        let mut idx = vec![0u32; 3];
        let mut dist = vec![0.0f32; 3];
        if packed.nearest_batch(&queries, &mut idx, &mut dist, &mut scratch).is_ok() {
            // Indices alone (no exact re-check of a lone candidate): the same indices.
            let mut only = vec![u32::MAX; 3];
            packed.nearest_indices_batch(&queries, &mut only, &mut scratch).expect("indices only failed");
            assert_eq!(only, idx, "indices only differ from nearest_batch");
        }
    }
    let data8: Vec<i8> = data.iter().map(|v| v.to_bits() as i8).collect();
    let q8: Vec<i8> = queries.iter().map(|v| v.to_bits() as i8).collect();
    if let Ok(cb) = CodebookI8::new(&data8, d, 0.01) {
        for x in q8.chunks_exact(d) {
            let (mut idx, mut dist) = (vec![0u32; top], vec![0u32; top]);
            if let (Ok(p), Ok(got)) = (cb.nearest(x), cb.top_k(x, &mut idx, &mut dist)) {
                if got > 0 {
                    assert_eq!((idx[0], dist[0]), (p.index, p.distance), "int8 top-1 is not the nearest");
                }
            }
        }
        let mut out = vec![0i8; d];
        let _ = cb.quantize(&queries[..d], &mut out);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input(data);
    if inp.byte() & 1 == 0 {
        gmm_and_fisher(&mut inp);
    } else {
        vq(&mut inp);
    }
});
