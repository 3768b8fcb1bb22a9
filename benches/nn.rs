//! Per-inference latency of the int8 interpreter on the fixture models (one row, one thread).
use criterion::{criterion_group, criterion_main, Criterion};
use fvae::nn::Network;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("nn_invoke");
    for name in ["mlp_decoder", "conv_decoder", "mlp_encoder"] {
        let model = std::fs::read(format!("tests/data/tflite/{name}.tflite")).unwrap();
        let net = Network::new(&model).unwrap();
        let mut arena = vec![0u8; net.required_arena()];
        let mut it = net.interpreter(&mut arena).unwrap();
        let n = net.input(0).unwrap().len;
        for (i, v) in it.input_i8_mut(0).unwrap().iter_mut().enumerate() {
            *v = (i * 37 % n) as i8;
        }
        g.bench_function(name, |b| {
            b.iter(|| {
                it.invoke().unwrap();
                black_box(it.output_i8(0).unwrap()[0])
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
