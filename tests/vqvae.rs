//! The VQ-VAE codec against TFLite Micro: tests/data/vqvae/* (tools/train_vqvae.py, trained on
//! digits 0..1100) hold, for the test split (images 1100..1797), TFLite Micro's int8 encoder outputs, the
//! nearest codeword indices and TFLite Micro's int8 decoder outputs for them. Every model: encode
//! (f32 and int8 codebooks), decode (int8 and dequantised) bit for bit; pack/unpack round trips.

mod common;

use common::{file, Rng};
use fvae::formats::npy::Npy;
use fvae::formats::safetensors::SafeTensors;
use fvae::nn::Network;
use fvae::vq::{Codebook, CodebookI8};
use fvae::vqvae::{index_bits, pack_indices, packed_len, unpack_indices, VqVaeDecoder, VqVaeEncoder, VqVaeEncoderI8};
use fvae::Error;

/// Images 0..TRAIN trained the models; the rest are the test split.
const TRAIN: usize = 1100;
const MODELS: [&str; 4] = ["g4_m16", "g4_m64", "g4_m256", "g2_m256"];

struct Model {
    encoder: Vec<u8>,
    decoder: Vec<u8>,
    codebook: fvae::formats::AlignedBuf,
    codebook_i8: fvae::formats::AlignedBuf,
    x: Vec<f32>,
    latent: Vec<i8>,
    indices: Vec<u32>,
    decoded: Vec<i8>,
    positions: usize,
}

fn model(name: &str) -> Model {
    let read = |f: &str| std::fs::read(common::data(&format!("vqvae/{name}/{f}"))).unwrap();
    let npy = |f: &str| file(&format!("vqvae/{name}/{f}"));
    let (x, _) = common::npy_f32("gmm/digits_k16/x.npy");
    let x = x[TRAIN * 64..].to_vec();
    let latent = npy("test_latent.npy");
    let latent = Npy::parse(latent.as_bytes()).unwrap().as_i8("latent").unwrap().to_vec();
    let indices = npy("test_indices.npy");
    let indices = Npy::parse(indices.as_bytes()).unwrap();
    let positions = indices.shape().dims()[1];
    let indices = indices.to_i64_vec("indices").unwrap().into_iter().map(|i| i as u32).collect();
    let decoded = npy("test_decoded.npy");
    let decoded = Npy::parse(decoded.as_bytes()).unwrap().as_i8("decoded").unwrap().to_vec();
    Model {
        encoder: read("encoder.tflite"),
        decoder: read("decoder.tflite"),
        codebook: npy("codebook.safetensors"),
        codebook_i8: npy("codebook_i8.safetensors"),
        x,
        latent,
        indices,
        decoded,
        positions,
    }
}

#[test]
fn encode_equals_tflite_micro_bit_for_bit() {
    for name in MODELS {
        let m = model(name);
        let net = Network::new(&m.encoder).unwrap();
        let codebook = Codebook::from_safetensors(&SafeTensors::parse(m.codebook.as_bytes()).unwrap()).unwrap();
        let codebook_i8 = CodebookI8::from_safetensors(&SafeTensors::parse(m.codebook_i8.as_bytes()).unwrap()).unwrap();
        let (mut arena, mut arena_i8) = (vec![0u8; net.required_arena()], vec![0u8; net.required_arena()]);
        let latent_len = m.latent.len() / (m.x.len() / 64);
        let (mut z, mut z_i8) = (vec![0f32; latent_len], vec![0f32; latent_len]);
        let mut enc = VqVaeEncoder::new(&net, &mut arena, &mut z, codebook).unwrap();
        let mut enc_i8 = VqVaeEncoderI8::new(&net, &mut arena_i8, &mut z_i8, codebook_i8).unwrap();
        assert_eq!(enc.positions(), m.positions);
        let scale = 1.0f32 / 128.0;
        let (mut idx, mut idx_i8) = (vec![0u32; m.positions], vec![0u32; m.positions]);
        let rows = m.x.len() / 64;
        for r in 0..rows {
            let x = &m.x[r * 64..(r + 1) * 64];
            enc.encode(x, &mut idx).unwrap();
            let expected_latent = &m.latent[r * latent_len..(r + 1) * latent_len];
            let dequantised: Vec<f32> = expected_latent.iter().map(|&q| scale * q as f32).collect();
            assert_eq!(enc.latent(), &dequantised[..], "{name} image {r}: encoder output");
            assert_eq!(idx, &m.indices[r * m.positions..(r + 1) * m.positions], "{name} image {r}: indices");
            enc_i8.encode(x, &mut idx_i8).unwrap();
            assert_eq!(idx_i8, idx, "{name} image {r}: int8 codebook indices");
        }
    }
}

#[test]
fn encode_quantized_input_matches_f32_input() {
    let m = model("g4_m64");
    let net = Network::new(&m.encoder).unwrap();
    let codebook = Codebook::from_safetensors(&SafeTensors::parse(m.codebook.as_bytes()).unwrap()).unwrap();
    let mut arena = vec![0u8; net.required_arena()];
    let mut z = vec![0f32; 64];
    let mut enc = VqVaeEncoder::new(&net, &mut arena, &mut z, codebook).unwrap();
    let info = enc.input_info();
    let (mut a, mut b) = ([0u32; 16], [0u32; 16]);
    let mut xq = [0i8; 64];
    for r in 0..50 {
        let x = &m.x[r * 64..(r + 1) * 64];
        fvae::vae::quantize(x, info.scale, info.zero_point, &mut xq).unwrap();
        enc.encode(x, &mut a).unwrap();
        enc.encode_quantized(&xq, &mut b).unwrap();
        assert_eq!(a, b, "image {r}");
    }
}

#[test]
fn decode_equals_tflite_micro_bit_for_bit() {
    for name in MODELS {
        let m = model(name);
        let net = Network::new(&m.decoder).unwrap();
        let codebook = Codebook::from_safetensors(&SafeTensors::parse(m.codebook.as_bytes()).unwrap()).unwrap();
        let mut arena = vec![0u8; net.required_arena()];
        let mut dec = VqVaeDecoder::new(&net, &mut arena, codebook).unwrap();
        let info = dec.output_info();
        let mut y = [0f32; 64];
        for (r, codes) in m.indices.chunks_exact(m.positions).enumerate() {
            let expected = &m.decoded[r * 64..(r + 1) * 64];
            assert_eq!(dec.decode_i8(codes).unwrap(), expected, "{name} image {r}");
            dec.decode(codes, &mut y).unwrap();
            let dequantised: Vec<f32> =
                expected.iter().map(|&q| info.scale * (q as i32 - info.zero_point) as f32).collect();
            assert_eq!(&y[..], &dequantised[..], "{name} image {r}: dequantised");
        }
    }
}

#[test]
fn bad_inputs_are_errors_naming_where() {
    let m = model("g4_m16");
    let enc_net = Network::new(&m.encoder).unwrap();
    let dec_net = Network::new(&m.decoder).unwrap();
    let codebook = Codebook::from_safetensors(&SafeTensors::parse(m.codebook.as_bytes()).unwrap()).unwrap();
    let mut arena = vec![0u8; dec_net.required_arena()];
    let mut dec = VqVaeDecoder::new(&dec_net, &mut arena, codebook).unwrap();
    let mut codes = [0u32; 16];
    codes[5] = 16;
    assert_eq!(
        dec.decode_i8(&codes).unwrap_err(),
        Error::Value { what: "codes", index: 5, reason: "index past the end of the codebook" }
    );
    assert!(matches!(dec.decode_i8(&[0; 15]), Err(Error::Shape { what: "indices", expected: 16, found: 15 })));

    let mut arena = vec![0u8; enc_net.required_arena()];
    let mut z = [0f32; 64];
    let mut enc = VqVaeEncoder::new(&enc_net, &mut arena, &mut z, codebook).unwrap();
    let mut x = [0.5f32; 64];
    x[7] = f32::NAN;
    assert!(matches!(enc.encode(&x, &mut codes), Err(Error::Value { index: 7, .. })));
    assert!(matches!(enc.encode(&[0.0; 64], &mut [0; 4]), Err(Error::Shape { what: "indices", .. })));

    // A codeword length that is not the latent's channel count; an int8 codebook off the grid.
    let rows = [0.0f32; 6];
    let mut z = [0f32; 64];
    let mut arena = vec![0u8; enc_net.required_arena()];
    assert!(matches!(
        VqVaeEncoder::new(&enc_net, &mut arena, &mut z, Codebook::new(&rows, 3).unwrap()),
        Err(Error::Shape { expected: 3, found: 4, .. })
    ));
    let rows_i8 = [0i8; 8];
    assert!(matches!(
        VqVaeEncoderI8::new(&enc_net, &mut arena, &mut z, CodebookI8::new(&rows_i8, 4, 0.01).unwrap()),
        Err(Error::Value { what: "int8 codebook scale", .. })
    ));
}

#[test]
fn pack_unpack_round_trip_every_size() {
    let mut rng = Rng(7);
    for m in [1usize, 2, 3, 15, 16, 17, 64, 100, 256, 257, 4096, 65_537] {
        for n in [0usize, 1, 3, 16, 17] {
            let indices: Vec<u32> = (0..n).map(|_| (rng.next_u64() % m as u64) as u32).collect();
            let mut bytes = vec![0xAAu8; packed_len(n, m) + 1];
            let len = pack_indices(&indices, m, &mut bytes).unwrap();
            assert_eq!(len, (n * index_bits(m) as usize).div_ceil(8));
            let mut back = vec![0u32; n];
            unpack_indices(&bytes[..len], m, &mut back).unwrap();
            assert_eq!(back, indices, "m {m} n {n}");
            if len > 0 {
                // The last byte's unused bits are zero.
                let used = (n * index_bits(m) as usize) % 8;
                if used > 0 {
                    assert_eq!(bytes[len - 1] >> used, 0);
                }
            }
        }
    }
    // Largest indices set every bit.
    let mut bytes = [0u8; 12];
    pack_indices(&[63; 16], 64, &mut bytes).unwrap();
    assert_eq!(bytes, [0xff; 12]);
    assert!(matches!(pack_indices(&[0, 64], 64, &mut bytes), Err(Error::Value { index: 1, .. })));
    assert!(matches!(pack_indices(&[0; 16], 64, &mut [0u8; 11]), Err(Error::BufferTooSmall { needed: 12, .. })));
    assert!(matches!(unpack_indices(&[0; 11], 64, &mut [0; 16]), Err(Error::Shape { expected: 12, found: 11, .. })));
    assert!(pack_indices(&[0], 0, &mut bytes).is_err());
}
