//! FV-VAE and the latent GMM Fisher vector on a Cortex-M core, against tests/data/fvvae.
//!
//! - All 24 sets of 25 patches (P = 16, L = 8): each set's FV-VAE through the int8 encoder (read in place
//!   from flash, bit-exact with TFLite Micro) and the float decoder layer (read in place), raw and improved,
//!   within 1e-4 relative L2 of the float64 references, with compensated and plain sums; half of each set
//!   pushed one at a time, half as a batch.
//! - Merging: set 0 split over two accumulators and merged, and shipped as raw statistics, equals the
//!   reference.
//! - Bad input (a NaN descriptor) is an error and leaves the sums unchanged.
//! - Latent GMM: `push_latent_gmm_batch` equals pushing the encoder's latents into the GMM accumulator by
//!   hand, bit for bit (the GMM FV itself is tested on the device by qemu/tests/gmm.rs).
//!
//! RAM: the encoder's arena (about 2.2 KiB), two accumulators (2 x 304 floats) and a GMM accumulator
//! (K = 2, D = 8); everything else stays in flash.
#![no_std]
#![no_main]

use fvae::fisher::{FisherAccumulator, FisherOptions, Layout, Normalization};
use fvae::formats::safetensors::SafeTensors;
use fvae::fvvae::{push_latent_gmm_batch, DecoderLayer, Encoder, FvVaeAccumulator, FvVaeOptions};
use fvae::gmm::DiagGmm;
use fvae::nn::Network;
use fvae_qemu::{check, entry, Errors, Suite};

mod fx {
    fvae_qemu::fixtures!("fvvae");
}

const P: usize = 16;
const L: usize = 8;
const T: usize = 25;
const SETS: usize = 24;
const LEN: usize = P * (L + 1);
const TOL: f64 = 1e-4;
const ARENA: usize = 4096;

#[entry]
fn main() -> ! {
    static mut ARENA_BYTES: [u8; ARENA] = [0; ARENA];
    static mut STORAGE: [f32; FvVaeAccumulator::storage_len(P, L)] = [0.0; FvVaeAccumulator::storage_len(P, L)];
    static mut STORAGE2: [f32; FvVaeAccumulator::storage_len(P, L)] = [0.0; FvVaeAccumulator::storage_len(P, L)];
    let mut s = Suite::new("fvvae");
    check!(s, fx::X_SHAPE == [SETS * T, P], "x shape {:?}", fx::X_SHAPE);
    check!(s, fx::FV_SHAPE == [SETS, LEN], "fv shape {:?}", fx::FV_SHAPE);

    let Some(net) = s.ok("Network::new", Network::new(&fx::ENCODER.0)) else { s.finish() };
    check!(s, net.required_arena() <= ARENA, "encoder arena {} bytes", net.required_arena());
    let mut z = [0f32; L];
    let Some(mut enc) = s.ok("Encoder::new", Encoder::new(&net, ARENA_BYTES, &mut z)) else { s.finish() };
    let Some(file) = s.ok("SafeTensors::parse", SafeTensors::parse(&fx::LAYER.0)) else { s.finish() };
    let Some(layer) = s.ok("DecoderLayer::from_safetensors", DecoderLayer::from_safetensors(&file)) else { s.finish() };
    check!(s, (layer.p(), layer.l()) == (P, L), "layer {} x {}", layer.p(), layer.l());

    for options in [FvVaeOptions::default(), FvVaeOptions::DEFAULT.with_compensated(false)] {
        fixture_sets(&mut s, &mut enc, layer, options, STORAGE);
    }
    merging(&mut s, &mut enc, layer, STORAGE, STORAGE2);
    latent_gmm(&mut s, &mut enc);
    s.finish()
}

/// Every set's FV, raw and improved, against the references.
#[inline(never)]
fn fixture_sets(s: &mut Suite, enc: &mut Encoder, layer: DecoderLayer, options: FvVaeOptions, storage: &mut [f32]) {
    let name = if options.compensated { "compensated" } else { "plain" };
    {
        let Some(mut acc) = s.ok("FvVaeAccumulator::new", FvVaeAccumulator::new(layer, options, storage)) else {
            return;
        };
        let (mut raw, mut improved) = (Errors::new(), Errors::new());
        let mut worst = (0f64, 0f64);
        for set in 0..SETS {
            acc.reset();
            let rows = &fx::X[set * T * P..(set + 1) * T * P];
            let (first, rest) = rows.split_at(12 * P);
            for x in first.chunks_exact(P) {
                s.ok("push", acc.push(enc, x));
            }
            s.ok("push_batch", acc.push_batch(enc, rest));
            let want = set * LEN..(set + 1) * LEN;
            let mut fv = [0f32; LEN];
            if s.ok("finish raw", acc.finish(Normalization::NONE, &mut fv)).is_some() {
                let mut e = Errors::new();
                e.add(&fv, &fx::FV[want.clone()]);
                worst.0 = worst.0.max(e.rel_l2());
                raw.add(&fv, &fx::FV[want.clone()]);
            }
            if s.ok("finish improved", acc.finish(Normalization::IMPROVED, &mut fv)).is_some() {
                let mut e = Errors::new();
                e.add(&fv, &fx::FV_IMPROVED[want.clone()]);
                worst.1 = worst.1.max(e.rel_l2());
                improved.add(&fv, &fx::FV_IMPROVED[want]);
            }
        }
        fvae_qemu::hprintln!("fvvae: {} sums, worst set rel. L2 raw {:e}, improved {:e}", name, worst.0, worst.1);
        check!(s, worst.0 < TOL, "{} raw worst set {:e}", name, worst.0);
        check!(s, worst.1 < TOL, "{} improved worst set {:e}", name, worst.1);
        s.check_l2(if options.compensated { "all sets raw (compensated)" } else { "all sets raw (plain)" }, &raw, TOL);
        s.check_l2(
            if options.compensated { "all sets improved (compensated)" } else { "all sets improved (plain)" },
            &improved,
            TOL,
        );
    }
}

/// Set 0 over two accumulators: merged, and shipped as raw statistics; a refused descriptor.
#[inline(never)]
fn merging(s: &mut Suite, enc: &mut Encoder, layer: DecoderLayer, sa: &mut [f32], sb: &mut [f32]) {
    {
        let opts = FvVaeOptions::default();
        let (Some(mut a), Some(mut b)) = (
            s.ok("new a", FvVaeAccumulator::new(layer, opts, sa)),
            s.ok("new b", FvVaeAccumulator::new(layer, opts, sb)),
        ) else {
            return;
        };
        let rows = &fx::X[..T * P];
        s.ok("push_batch a", a.push_batch(enc, &rows[..10 * P]));
        s.ok("push_batch b", b.push_batch(enc, &rows[10 * P..]));
        let mut before = [0f32; LEN];
        s.ok("finish b", b.finish(Normalization::NONE, &mut before));
        let mut nan = [0.5f32; P];
        nan[3] = f32::NAN;
        check!(s, b.push(enc, &nan).is_err(), "a NaN descriptor is refused");
        let mut after = [0f32; LEN];
        s.ok("finish b again", b.finish(Normalization::NONE, &mut after));
        check!(s, before == after && b.count() == 15, "a refused descriptor changed the sums");
        s.ok("merge", a.merge(&b));
        let mut fv = [0f32; LEN];
        if s.ok("finish merged", a.finish(Normalization::NONE, &mut fv)).is_some() {
            s.close_l2("set 0 merged", &fv, &fx::FV[..LEN], TOL);
        }
        // `a` now holds all 25: ship its statistics into an emptied `b`.
        b.reset();
        let (count, stats) = (a.count(), a.statistics());
        s.ok("merge_statistics", b.merge_statistics(count, stats));
        if s.ok("finish shipped", b.finish(Normalization::IMPROVED, &mut fv)).is_some() {
            s.close_l2("set 0 from statistics (improved)", &fv, &fx::FV_IMPROVED[..LEN], TOL);
        }
    }
}

/// Latent GMM Fisher vector: the adapter equals pushing the latents by hand.
#[inline(never)]
fn latent_gmm(s: &mut Suite, enc: &mut Encoder) {
    {
        const K: usize = 2;
        let (w, var) = ([0.5f32, 0.5], [1.0f32; K * L]);
        let mut mu = [0f32; K * L];
        mu[L..].iter_mut().for_each(|m| *m = 1.0);
        let mut consts = [0f32; DiagGmm::constants_len(K, L)];
        let Some(gmm) = s.ok("latent DiagGmm::new", DiagGmm::new(&w, &mu, &var, &mut consts)) else { return };
        let (mut sa, mut sb) =
            ([0f32; FisherAccumulator::storage_len(K, L)], [0f32; FisherAccumulator::storage_len(K, L)]);
        let (Some(mut a), Some(mut b)) = (
            s.ok("latent acc a", FisherAccumulator::new(gmm, FisherOptions::default(), &mut sa)),
            s.ok("latent acc b", FisherAccumulator::new(gmm, FisherOptions::default(), &mut sb)),
        ) else {
            return;
        };
        let rows = &fx::X[..T * P];
        s.ok("push_latent_gmm_batch", push_latent_gmm_batch(enc, &mut a, rows));
        for x in rows.chunks_exact(P) {
            if let Some(z) = s.ok("encode", enc.encode(x)) {
                s.ok("latent push", b.push(z));
            }
        }
        let (mut fa, mut fb) = ([0f32; 2 * K * L], [0f32; 2 * K * L]);
        s.ok("latent finish a", a.finish(Layout::VlFeat, Normalization::IMPROVED, &mut fa));
        s.ok("latent finish b", b.finish(Layout::VlFeat, Normalization::IMPROVED, &mut fb));
        check!(s, fa == fb && fa.iter().all(|v| v.is_finite()), "latent GMM FV differs from the manual path");
    }
}
