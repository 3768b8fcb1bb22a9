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
