//! FV-VAE per-descriptor cost on the fixture model (P = 16, L = 8; one thread): the whole push
//! (quantise, int8 encoder, dequantise, decoder layer, compensated sums), the float part alone
//! (`push_latent`), and the latent GMM push (encoder + K = 16 GMM accumulator).
use criterion::{criterion_group, criterion_main, Criterion};
use fvae::fisher::{FisherAccumulator, FisherOptions};
use fvae::formats::{safetensors::SafeTensors, AlignedBuf};
use fvae::fvvae::{push_latent_gmm, DecoderLayer, Encoder, FvVaeAccumulator, FvVaeOptions};
use fvae::gmm::DiagGmm;
use fvae::nn::Network;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let model = std::fs::read("tests/data/fvvae/encoder.tflite").unwrap();
    let layer_file = AlignedBuf::read("tests/data/fvvae/decoder_layer.safetensors").unwrap();
    let st = SafeTensors::parse(layer_file.as_bytes()).unwrap();
    let layer = DecoderLayer::from_safetensors(&st).unwrap();
    let net = Network::new(&model).unwrap();
    let mut arena = vec![0u8; net.required_arena()];
    let mut z = [0f32; 8];
    let mut enc = Encoder::new(&net, &mut arena, &mut z).unwrap();
    let x: Vec<f32> = (0..16).map(|i| (i * 7 % 16) as f32 / 16.0).collect();
    let mut g = c.benchmark_group("fvvae");
    for (name, options) in
        [("push", FvVaeOptions::default()), ("push_plain", FvVaeOptions::DEFAULT.with_compensated(false))]
    {
        let mut storage = vec![0f32; FvVaeAccumulator::storage_len(16, 8)];
        let mut acc = FvVaeAccumulator::new(layer, options, &mut storage).unwrap();
        g.bench_function(name, |b| b.iter(|| acc.push(&mut enc, black_box(&x)).unwrap()));
    }
    let zs: Vec<f32> = enc.encode(&x).unwrap().to_vec();
    let mut storage = vec![0f32; FvVaeAccumulator::storage_len(16, 8)];
    let mut acc = FvVaeAccumulator::new(layer, FvVaeOptions::default(), &mut storage).unwrap();
    g.bench_function("push_latent", |b| b.iter(|| acc.push_latent(black_box(&x), black_box(&zs)).unwrap()));
    let (w, mu, var) =
        (vec![1.0 / 16.0; 16], (0..128).map(|i| (i % 9) as f32 * 0.1).collect::<Vec<_>>(), vec![1.0; 128]);
    let mut consts = vec![0f32; DiagGmm::constants_len(16, 8)];
    let gmm = DiagGmm::new(&w, &mu, &var, &mut consts).unwrap();
    let mut fs = vec![0f32; FisherAccumulator::storage_len(16, 8)];
    let mut facc = FisherAccumulator::new(gmm, FisherOptions::default(), &mut fs).unwrap();
    g.bench_function("latent_gmm_push_k16", |b| {
        b.iter(|| push_latent_gmm(&mut enc, &mut facc, black_box(&x)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
