//! The three TFLite fixtures (tests/data/tflite, made with TensorFlow 2.21 and run by the TFLite
//! Micro reference interpreter): fvae's outputs must equal TFLite Micro's to the bit for all 128
//! inputs of each model.

use fvae::formats::npy::Npy;
use fvae::nn::Network;

fn load(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn check_fixture(name: &str) {
    let model = load(&format!("tests/data/tflite/{name}.tflite"));
    let input = load(&format!("tests/data/tflite/{name}_input.npy"));
    let expected = load(&format!("tests/data/tflite/{name}_expected.npy"));
    let (input, expected) = (Npy::parse(&input).unwrap(), Npy::parse(&expected).unwrap());
    let (x, want) = (input.as_i8("input").unwrap(), expected.as_i8("expected").unwrap());
    let (rows, din) = input.rows_cols();
    let (_, dout) = expected.rows_cols();
    assert_eq!(rows, 128);

    let net = Network::new(&model).unwrap();
    assert_eq!(net.input(0).unwrap().len, din);
    assert_eq!(net.output(0).unwrap().len, dout);
    let mut arena = vec![0u8; net.required_arena()];
    let mut it = net.interpreter(&mut arena).unwrap();
    let mut mismatches = 0;
    for r in 0..rows {
        it.input_i8_mut(0).unwrap().copy_from_slice(&x[r * din..(r + 1) * din]);
        it.invoke().unwrap();
        let got = it.output_i8(0).unwrap();
        let exp = &want[r * dout..(r + 1) * dout];
        if got != exp {
            mismatches += 1;
            if mismatches <= 3 {
                let diffs: Vec<_> = got.iter().zip(exp).enumerate().filter(|(_, (a, b))| a != b).take(8).collect();
                eprintln!("{name} row {r}: (index, (fvae, tflm)) {diffs:?}");
            }
        }
    }
    assert_eq!(mismatches, 0, "{name}: {mismatches} of {rows} rows differ from TFLite Micro");
}

#[test]
fn mlp_decoder_bit_exact() {
    check_fixture("mlp_decoder");
}

#[test]
fn conv_decoder_bit_exact() {
    check_fixture("conv_decoder");
}

#[test]
fn mlp_encoder_bit_exact() {
    check_fixture("mlp_encoder");
}

/// Per-operator models written by scripts/make_op_models.py (hand-built flatbuffers; expected
/// outputs from the TFLite Micro Python interpreter, pip `tflite-micro`): outputs identical.
#[test]
fn operators_bit_exact_with_tflite_micro() {
    let names = [
        "depthwise_same_s2_relu6",
        "depthwise_valid_dilated",
        "tanh",
        "relu",
        "relu6",
        "add_broadcast_relu",
        "add_constant",
        "resize_half_pixel",
        "resize_align_corners",
        "resize_default",
        "quantize_fc_dequantize",
        "requantize",
        "conv_valid_strided_dilated",
        "transpose_conv_valid_nobias",
        "conv_same_s2_one_channel",
        "conv_same_three_channels_relu",
        "transpose_conv_same_s2_one_channel",
        "depthwise_same_s2_six_channels",
        "leaky_relu",
        "leaky_relu_negative_alpha",
        "leaky_relu_alpha_3",
        "leaky_relu_tiny_multiplier",
        "leaky_relu_f64_multiplier",
        "mul_broadcast_relu6",
        "mul_huge_multiplier",
        "mul_flushed_multiplier",
        "mul_constant_first",
        "mul_broadcast_6d",
        "mul_scalar",
        "mul_square",
        "sub_broadcast_relu",
        "sub_constant_first",
        "sub_broadcast_5d",
        "add_broadcast_6d",
        "prelu_shared_axes",
        "prelu_full_alpha",
        "hard_swish",
        "hard_swish_small_scale",
        "hard_swish_large_scale",
        "hard_swish_f64_multiplier",
        "elu",
        "elu_f32",
        "dequantize_elu_quantize",
        "maximum_broadcast",
        "maximum_same_shape",
        "minimum_broadcast",
        "minimum_same_shape",
        "squared_difference_broadcast",
        "squared_difference_small_output_scale",
        "add_constant_scalar",
        "mul_constant_scalar_first",
        "sub_constant_scalar_first",
        "maximum_constant_scalar",
        "squared_difference_constant_scalar",
        "prelu_constant_scalar",
        "relu_f32",
        "relu6_f32",
        "dequantize_relu_quantize",
        "transpose_f32",
        "transpose_f32_rank4",
        "logistic_f32",
        "transpose_conv_f32_same",
        "transpose_conv_f32_valid",
        // Expected outputs from LiteRT's reference kernels (TFLite Micro has no int8 GELU).
        "gelu",
        "gelu_approximate",
        "gelu_wide",
        // MEAN and SUM (TFLite Micro's QuantizedMeanOrSum).
        "mean_global_hw",
        "mean_last_axis",
        "mean_axes_0_2",
        "mean_repeated_axes",
        "mean_large_multiplier",
        "mean_flushed_multiplier",
        "mean_323",
        "sum_hw",
        "sum_first_axis",
        // AVERAGE_POOL_2D and MAX_POOL_2D.
        "avg_pool_same_3x3_s2",
        "avg_pool_valid_2x3_relu6",
        "avg_pool_global",
        "avg_pool_same_4x4_s1",
        "max_pool_same_2x2_s2",
        "max_pool_valid_3x3_relu",
        "max_pool_same_3x2_s3x1",
        // SOFTMAX, int8 in and out.
        "softmax",
        "softmax_small_scale",
        "softmax_large_scale",
        "softmax_beta_rank4",
        "softmax_256",
        // RESIZE_BILINEAR.
        "resize_bilinear_up",
        "resize_bilinear_up_align_corners",
        "resize_bilinear_up_half_pixel",
        "resize_bilinear_down",
        "resize_bilinear_down_align_corners",
        "resize_bilinear_down_half_pixel",
        "resize_bilinear_to_one_align_corners",
        // DEPTH_TO_SPACE and SPACE_TO_DEPTH.
        "depth_to_space_2",
        "depth_to_space_3",
        "space_to_depth_2",
        "space_to_depth_3",
        // ARG_MAX and ARG_MIN: int32 indices from TFLite Micro, int64 from LiteRT's reference.
        "arg_max_last_axis",
        "arg_max_middle_axis",
        "arg_min_first_axis",
        "arg_max_int64",
        "arg_min_int64",
        // TILE, from LiteRT's reference kernels.
        "tile_4d",
        "tile_2d_int64",
        "tile_1d",
        // SPLIT, SPLIT_V and UNPACK: several outputs, each checked.
        "split_axis1_3",
        "split_last_axis",
        "split_first_axis_f32",
        "split_one",
        "split_v_middle_axis",
        "split_v_minus_one",
        "unpack_first_axis",
        "unpack_last_axis",
        "unpack_middle_axis",
        // GATHER: constant indices (int64 from LiteRT's reference), a codebook looked up by
        // ARG_MAX's indices, a shape folded at plan time.
        "gather_axis1",
        "gather_indices_2d",
        "gather_batch_dims",
        "gather_negative_axis",
        "gather_f32",
        "gather_int64_indices",
        "gather_codebook",
        "gather_codebook_int64",
        "gather_shape_folded",
        "gather_negative_batch_dims",
    ];
    for name in names {
        let dir = "tests/data/tflite_ops";
        let model = load(&format!("{dir}/{name}.tflite"));
        let net = Network::new(&model).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut arena = vec![0u8; net.required_arena()];
        let mut it = net.interpreter(&mut arena).unwrap();
        let n_inputs = if std::path::Path::new(&format!("{dir}/{name}_in1.npy")).exists() { 2 } else { 1 };
        let ins: Vec<Vec<u8>> = (0..n_inputs).map(|k| load(&format!("{dir}/{name}_in{k}.npy"))).collect();
        let ins: Vec<Npy> = ins.iter().map(|b| Npy::parse(b).unwrap()).collect();
        // Every output the script recorded (`_out0.npy`, `_out1.npy`, ...), as many as the graph has.
        let n_outputs =
            (0..).take_while(|k| std::path::Path::new(&format!("{dir}/{name}_out{k}.npy")).exists()).count();
        assert_eq!(Ok(n_outputs), net.model().subgraph(0).unwrap().outputs().map(|o| o.len()), "{name}");
        let outs: Vec<Vec<u8>> = (0..n_outputs).map(|k| load(&format!("{dir}/{name}_out{k}.npy"))).collect();
        let outs: Vec<Npy> = outs.iter().map(|b| Npy::parse(b).unwrap()).collect();
        let rows = outs[0].shape().dims()[0];
        for r in 0..rows {
            for (k, a) in ins.iter().enumerate() {
                let n = a.shape().numel().unwrap() / rows;
                if a.dtype() == fvae::formats::DType::F32 {
                    it.set_input_f32(k, &a.as_f32("in").unwrap()[r * n..(r + 1) * n]).unwrap();
                } else {
                    it.input_i8_mut(k).unwrap().copy_from_slice(&a.as_i8("in").unwrap()[r * n..(r + 1) * n]);
                }
            }
            it.invoke().unwrap_or_else(|e| panic!("{name}: {e}"));
            for (k, out) in outs.iter().enumerate() {
                let n = out.shape().numel().unwrap() / rows;
                if matches!(out.dtype(), fvae::formats::DType::I32 | fvae::formats::DType::I64) {
                    let mut got = vec![0i64; n];
                    it.output_i64(k, &mut got).unwrap();
                    assert_eq!(got, out.to_i64_vec("out").unwrap()[r * n..(r + 1) * n], "{name} output {k} row {r}");
                } else if out.dtype() == fvae::formats::DType::F32 {
                    let mut got = vec![0f32; n];
                    it.output_f32(k, &mut got).unwrap();
                    let want = &out.as_f32("out").unwrap()[r * n..(r + 1) * n];
                    // Identical bits, except a NaN's sign and payload: which NaN operand an addition
                    // returns is the hardware's choice, and Rust (as C) leaves it unspecified.
                    let same =
                        got.iter().zip(want).all(|(a, b)| a.to_bits() == b.to_bits() || a.is_nan() && b.is_nan());
                    assert!(same, "{name} output {k} row {r}: {got:?} vs {want:?}");
                } else {
                    let want = &out.as_i8("out").unwrap()[r * n..(r + 1) * n];
                    assert_eq!(it.output_i8(k).unwrap(), want, "{name} output {k} row {r}");
                }
            }
        }
    }
}

#[test]
fn errors_name_what_and_where() {
    use fvae::Error;
    // An unsupported operator is named (the schema's name), with its version and index.
    let model = load("tests/data/tflite_ops/unsupported_op.tflite");
    let e = Network::new(&model).unwrap_err();
    assert_eq!(e, Error::UnsupportedOperator { name: "FLOOR", version: 1, index: 1, subgraph: 0 });
    assert_eq!(e.to_string(), "unsupported operator FLOOR (version 1) at operator 1 of subgraph 0");
    // A truncated file is a format error, never a panic.
    let model = load("tests/data/tflite/conv_decoder.tflite");
    for cut in [0, 7, 100, model.len() / 2, model.len() - 1] {
        assert!(matches!(Network::new(&model[..cut]), Err(Error::Format { .. }) | Err(Error::Shape { .. })));
    }
    // An arena one byte short is refused.
    let net = Network::new(&model).unwrap();
    let mut arena = vec![0u8; net.required_arena() - 1];
    assert!(matches!(net.interpreter(&mut arena), Err(Error::BufferTooSmall { .. })));
    // The plan shares memory: the activations need less than the sum of all activations.
    assert!(net.activation_bytes() < 8 + 128 + 128 + 1024 + 64 + 64 + 64);
}

/// Set-up refuses what the new operators cannot run, naming the operator (models written by
/// scripts/make_op_models.py).
#[test]
fn elementwise_refusals_name_the_operator() {
    use fvae::Error;
    let err = |name: &str| Network::new(&load(&format!("tests/data/tflite_ops/bad_{name}.tflite"))).unwrap_err();
    assert_eq!(err("mul_shapes"), Error::Shape { what: "MUL", expected: 2, found: 4 });
    assert!(matches!(err("sub_output_scale"), Error::Value { what: "SUB", index: 0, .. }));
    assert!(matches!(err("hard_swish_output_scale"), Error::Value { what: "HARD_SWISH", index: 0, .. }));
    assert_eq!(
        err("prelu_per_channel_alpha"),
        Error::Unsupported { what: "PRELU alpha with per-channel quantization", index: 0 }
    );
    assert_eq!(
        err("mul_two_constants"),
        Error::Unsupported { what: "elementwise operator of two constants", index: 0 }
    );
    assert_eq!(err("mul_int16"), Error::DType { what: "MUL", expected: "i8", found: "i16" });
    assert_eq!(
        err("avg_pool_zero_points"),
        Error::Unsupported { what: "pooling input quantised unlike its output", index: 0 }
    );
    assert_eq!(
        err("softmax_output_scale"),
        Error::Unsupported { what: "SOFTMAX int8 output not quantised with scale 1/256 and zero point -128", index: 0 }
    );
    assert_eq!(err("mean_axis"), Error::Value { what: "MEAN", index: 0, reason: "axis outside the input's rank" });
    assert_eq!(
        err("split_uneven"),
        Error::Value { what: "SPLIT", index: 0, reason: "num_splits does not divide the axis" }
    );
    assert_eq!(
        err("gather_constant_index"),
        Error::Value { what: "GATHER", index: 0, reason: "a constant index outside the axis" }
    );
    // An index from an activation is checked when it is used: an error, never a read past the
    // codebook, and the next inference with good indices runs.
    let model = load("tests/data/tflite_ops/bad_gather_index_at_run_time.tflite");
    let net = Network::new(&model).unwrap();
    let mut arena = vec![0u8; net.required_arena()];
    let mut it = net.interpreter(&mut arena).unwrap();
    it.input_i8_mut(0).unwrap().copy_from_slice(&[0, 0, 0, 0, 0, 9, 0, 0]);
    assert_eq!(it.invoke(), Err(Error::Value { what: "GATHER index", index: 0, reason: "outside the axis" }));
    it.input_i8_mut(0).unwrap().copy_from_slice(&[0, 0, 9, 0, 0, 0, 0, 0]);
    assert_eq!(it.invoke(), Ok(()));
    // The broadcast strides (and MEAN's strides and sums) are counted in the arena: one byte
    // short is refused.
    for name in ["mul_broadcast_6d", "mean_323"] {
        let model = load(&format!("tests/data/tflite_ops/{name}.tflite"));
        let net = Network::new(&model).unwrap();
        let mut arena = vec![0u8; net.required_arena() - 1];
        assert!(matches!(net.interpreter(&mut arena), Err(Error::BufferTooSmall { .. })));
    }
}

/// Corrupted models never panic: every single-byte change (random positions and values) and
/// truncation of each model either fails with an `Error` or builds a network that then runs
/// (invoke on a zero input) without panicking. A cheap deterministic fuzz of the whole path.
#[test]
fn corrupted_models_never_panic() {
    let mut models: Vec<Vec<u8>> = ["mlp_decoder", "conv_decoder", "mlp_encoder"]
        .iter()
        .map(|n| load(&format!("tests/data/tflite/{n}.tflite")))
        .collect();
    for n in [
        "depthwise_same_s2_relu6",
        "add_broadcast_relu",
        "resize_half_pixel",
        "quantize_fc_dequantize",
        "tanh",
        "mul_broadcast_6d",
        "sub_constant_first",
        "prelu_shared_axes",
        "dequantize_elu_quantize",
        "leaky_relu",
        "gelu_approximate",
        "mean_axes_0_2",
        "avg_pool_same_3x3_s2",
        "softmax_beta_rank4",
        "resize_bilinear_up_half_pixel",
        "split_v_minus_one",
        "unpack_middle_axis",
        "gather_codebook",
        "gather_batch_dims",
    ] {
        models.push(load(&format!("tests/data/tflite_ops/{n}.tflite")));
    }
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut arena = vec![0u8; 1 << 16];
    let mut try_run = |bytes: &[u8]| {
        if let Ok(net) = Network::new(bytes) {
            if net.required_arena() <= arena.len() {
                if let Ok(mut it) = net.interpreter(&mut arena) {
                    let _ = it.invoke();
                    let _ = it.output_i8(0);
                }
            }
        }
    };
    for model in &models {
        for cut in (0..model.len()).step_by(97) {
            try_run(&model[..cut]);
        }
        let mut buf = model.clone();
        for _ in 0..1500 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let pos = (state % buf.len() as u64) as usize;
            let old = buf[pos];
            buf[pos] = match state >> 60 {
                0 => 0xFF,
                1 => 0,
                2 => old.wrapping_add(1),
                _ => (state >> 32) as u8,
            };
            try_run(&buf);
            buf[pos] = old;
        }
    }
}
