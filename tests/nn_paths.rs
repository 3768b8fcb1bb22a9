//! `Interpreter::layer_paths` says the path each layer runs. One test in its own binary: it caps
//! the x86_64 level (for the whole process, never raised again), which must not slow down the
//! SIMD-against-scalar tests of other binaries.

use fvae::kernels::int8::{kernel_path, Kernel, Path};
use fvae::nn::{LayerPath, Network};

const MODELS: [(&str, &[u8]); 6] = [
    ("mlp_encoder", include_bytes!("data/tflite/mlp_encoder.tflite")),
    ("mlp_decoder", include_bytes!("data/tflite/mlp_decoder.tflite")),
    ("conv_decoder", include_bytes!("data/tflite/conv_decoder.tflite")),
    ("conv_valid_strided_dilated", include_bytes!("data/tflite_ops/conv_valid_strided_dilated.tflite")),
    ("transpose_conv_valid_nobias", include_bytes!("data/tflite_ops/transpose_conv_valid_nobias.tflite")),
    ("quantize_fc_dequantize", include_bytes!("data/tflite_ops/quantize_fc_dequantize.tflite")),
];

/// Each model's layer paths and its outputs for a fixed input (the outputs must not depend on
/// the path).
fn run(model: &[u8]) -> (Vec<LayerPath>, Vec<Vec<i8>>) {
    let net = Network::new(model).unwrap();
    let mut arena = vec![0u8; net.required_arena()];
    let mut it = net.interpreter(&mut arena).unwrap();
    let paths: Vec<LayerPath> = it.layer_paths().collect::<fvae::Result<_>>().unwrap();
    let graph = net.model().subgraph(0).unwrap();
    for i in 0..graph.inputs().unwrap().len() {
        let info = net.input(i).unwrap();
        if info.dtype == fvae::formats::tflite::TensorType::Int8 {
            for (k, v) in it.input_i8_mut(i).unwrap().iter_mut().enumerate() {
                *v = (k as i32 * 37 % 256 - 128) as i8;
            }
        } else {
            let x: Vec<f32> = (0..info.len).map(|k| (k % 13) as f32 / 6.5 - 1.0).collect();
            it.set_input_f32(i, &x).unwrap();
        }
    }
    it.invoke().unwrap();
    let mut outs = Vec::new();
    for i in 0..graph.outputs().unwrap().len() {
        let info = net.output(i).unwrap();
        if info.dtype == fvae::formats::tflite::TensorType::Int8 {
            outs.push(it.output_i8(i).unwrap().to_vec());
        } else {
            let mut y = vec![0f32; info.len];
            it.output_f32(i, &mut y).unwrap();
            outs.push(y.iter().flat_map(|v| v.to_le_bytes()).map(|b| b as i8).collect());
        }
    }
    // One entry per operator that runs, in order, named as the model names it.
    assert!(!paths.is_empty());
    assert!(paths.windows(2).all(|p| p[0].index < p[1].index));
    for p in &paths {
        let op = graph.operator(p.index).unwrap();
        let code = net.model().operator_code(op.opcode_index()).unwrap();
        assert_eq!(p.operator, fvae::formats::tflite::op::name(code.builtin));
        if p.kernel.is_none() {
            assert_eq!(p.path, Path::Scalar, "{p:?}");
        }
        if matches!(p.operator, "FULLY_CONNECTED" | "CONV_2D") {
            assert!(p.kernel.is_some(), "{p:?}");
        }
    }
    (paths, outs)
}

/// What the dispatch in `fvae_kernels::int8` runs for `kernel` at x86_64 `level`, written out
/// from its match arms (not from the function under test).
#[cfg(target_arch = "x86_64")]
fn x86_expected(kernel: Kernel, level: fvae::kernels::cpu::X86Level) -> Path {
    use fvae::kernels::cpu::X86Level::*;
    match (kernel, level) {
        (Kernel::Pairs, _) | (_, Sse2) => Path::Scalar,
        (_, Avx512Vnni) => Path::Avx512Vnni,
        (Kernel::Packed, Avx512 | Avx2Fma) | (_, Avx2Fma) => Path::Avx2,
        (_, Avx512) => Path::Avx512Bw,
    }
}

#[test]
fn layer_paths_are_the_paths_that_run() {
    #[cfg(target_arch = "x86_64")]
    {
        use fvae::kernels::cpu::{cap_x86_level, detected_x86_level, x86_level, X86Level};
        // Every level this CPU has, from the best down (a cap is never raised again).
        let top = x86_level();
        assert!(top <= detected_x86_level());
        // Under an emulated CPU (scripts/test.sh runs this under qemu-user as Haswell and Nehalem)
        // the level detected is the one that CPU has.
        if let Ok(name) = std::env::var("FVAE_EXPECT_X86_LEVEL") {
            assert_eq!(Some(detected_x86_level()), X86Level::from_name(&name), "FVAE_EXPECT_X86_LEVEL={name}");
        }
        let mut reference: Vec<Vec<Vec<i8>>> = Vec::new();
        for level in X86Level::ALL.into_iter().rev().filter(|&l| l <= top) {
            assert_eq!(cap_x86_level(level), level);
            let mut packed_layers = 0;
            for (m, (name, model)) in MODELS.iter().enumerate() {
                let (paths, outs) = run(model);
                for p in &paths {
                    if let Some(k) = p.kernel {
                        assert_eq!(p.path, x86_expected(k, level), "{name} at {level:?}: {p:?}");
                        assert_eq!(p.path, kernel_path(k));
                    }
                    packed_layers += (p.kernel == Some(Kernel::Packed)) as usize;
                }
                // The same integers on every path.
                match reference.get(m) {
                    Some(r) => assert_eq!(&outs, r, "{name} at {level:?}"),
                    None => reference.push(outs),
                }
            }
            // Packed weights are an AVX2-and-up choice, made when the network is read.
            assert_eq!(packed_layers > 0, level >= X86Level::Avx2Fma, "at {level:?}");
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    for (name, model) in MODELS {
        let (paths, _) = run(model);
        for p in &paths {
            if let Some(k) = p.kernel.filter(|&k| k != Kernel::FullyConnected) {
                assert_eq!(p.path, kernel_path(k), "{name}: {p:?}");
            }
        }
    }
}
