//! The `.safetensors` reader and every model built from one: any bytes give a model or an error.
#![no_main]

use fvae::fisher::{FisherAccumulator, FisherOptions, Layout, Normalization};
use fvae::formats::{safetensors::SafeTensors, AlignedBuf};
use fvae::gmm::DiagGmm;
use fvae::vq::{Codebook, CodebookI8, ResidualVq};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Models are read in place and need 4-aligned data, as a file read by AlignedBuf is.
    let buf = AlignedBuf::from_bytes(data);
    let Ok(file) = SafeTensors::parse(buf.as_bytes()) else { return };
    let _ = file.for_each_tensor(|name, view| {
        assert!(name.len() < buf.as_bytes().len());
        let _ = (view.as_f32("t"), view.as_i8("t"), view.as_i32("t"), view.shape().numel());
    });
    for name in ["weights", "means", "covariances", "codebook", "scale", "codebooks"] {
        let _ = file.tensor(name).map(|t| t.bytes().len());
    }
    if let Ok(w) = file.tensor("weights") {
        let k = w.shape().numel().unwrap_or(0).min(4096);
        let d = file.tensor("means").ok().and_then(|m| m.shape().dims().get(1).copied()).unwrap_or(0).min(4096);
        let mut constants = vec![0.0f32; DiagGmm::constants_len(k, d)];
        if let Ok(gmm) = DiagGmm::from_safetensors(&file, &mut constants) {
            let x = vec![0.5f32; gmm.d()];
            let mut post = vec![0.0f32; gmm.k()];
            let _ = gmm.posteriors(&x, &mut post);
            let mut storage = vec![0.0f32; FisherAccumulator::storage_len(gmm.k(), gmm.d())];
            if let Ok(mut acc) = FisherAccumulator::new(gmm, FisherOptions::default(), &mut storage) {
                let _ = acc.push(&x);
                let mut fv = vec![0.0f32; Layout::VlFeat.len(gmm.k(), gmm.d())];
                let _ = acc.finish(Layout::VlFeat, Normalization::IMPROVED, &mut fv);
            }
        }
    }
    if let Ok(cb) = Codebook::from_safetensors(&file) {
        let _ = cb.nearest(&vec![0.25f32; cb.d()]);
    }
    if let Ok(cb) = CodebookI8::from_safetensors(&file) {
        let _ = cb.nearest(&vec![3i8; cb.d()]);
    }
    if let Ok(r) = ResidualVq::from_safetensors(&file) {
        let mut codes = vec![0u32; r.stages()];
        let mut residual = vec![0.0f32; r.d()];
        let _ = r.encode(&vec![0.25f32; r.d()], &mut codes, &mut residual);
    }
});
