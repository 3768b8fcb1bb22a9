//! Per-inference latency of the int8 interpreter on the fixture models and the real converters'
//! conv models (one row, one thread), and the convolution kernels alone.
use criterion::{criterion_group, criterion_main, Criterion};
use fvae::nn::Network;
use fvae_kernels::int8;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("nn_invoke");
    let models = ["mlp_decoder", "conv_decoder", "mlp_encoder"].map(|n| format!("tests/data/tflite/{n}.tflite"));
    let real = ["conv_decoder28_b1", "conv_encoder28_b1", "torch_vq_encoder_b1", "vq_encoder_b1"]
        .map(|n| format!("tests/data/real/{n}.tflite"));
    for path in models.iter().chain(&real) {
        let model = std::fs::read(path).unwrap();
        let net = Network::new(&model).unwrap();
        let mut arena = vec![0u8; net.required_arena()];
        let mut it = net.interpreter(&mut arena).unwrap();
        let n = net.input(0).unwrap().len;
        for (i, v) in it.input_i8_mut(0).unwrap().iter_mut().enumerate() {
            *v = (i * 37 % n) as i8;
        }
        let name = path.rsplit('/').next().unwrap().trim_end_matches(".tflite");
        g.bench_function(name, |b| {
            b.iter(|| {
                it.invoke().unwrap();
                black_box(it.output_i8(0).unwrap()[0])
            })
        });
    }
    g.finish();

    // The kernels of the conv operators on the 28x28 VAE's shapes: one depthwise pixel (3x3
    // taps, 64 channels) and one tile of 4 patches of a packed 3x3x64 -> 32 convolution.
    let mut g = c.benchmark_group("int8_conv_kernels");
    let x: Vec<i8> = (0..9 * 64).map(|i| (i * 31 % 251) as i8).collect();
    let w: Vec<i8> = (0..9 * 64).map(|i| (i * 17 % 253) as i8).collect();
    let taps: Vec<[usize; 2]> = (0..9).map(|t| [t * 64, t * 64]).collect();
    let mut acc = [0i32; 64];
    g.bench_function("depthwise_taps_3x3_c64", |b| {
        b.iter(|| black_box(int8::depthwise_taps(&mut acc, &x, &w, 3, &taps)))
    });
    let (d, r) = (9 * 64, 32);
    let filter: Vec<i8> = (0..r * d).map(|i| (i * 13 % 255) as i8).collect();
    let mut packed = vec![0i8; int8::packed_len(r, d)];
    int8::pack(&filter, r, d, &mut packed);
    let patches: Vec<u8> = (0..4 * d).map(|i| (i * 7 % 256) as u8).collect();
    let bias = vec![5i32; r];
    let mut out = vec![0i32; 4 * r];
    g.bench_function("matmul_packed_4x576x32", |b| {
        b.iter(|| int8::matmul_packed(&patches, d, &packed, &bias, black_box(&mut out)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
