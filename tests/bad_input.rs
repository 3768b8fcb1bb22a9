//! Every bad input of the list in docs/design.md is an `Error` naming what and where, never a panic, and
//! a rejected descriptor leaves an accumulator exactly as it was.

mod common;
use common::*;
use fvae::fisher::{FisherAccumulator, FisherOptions, Layout, Normalization};
use fvae::formats::safetensors::SafeTensors;
use fvae::formats::{AlignedBuf, DType};
use fvae::gmm::DiagGmm;
use fvae::Error;

const W: [f32; 2] = [0.5, 0.5];
const M: [f32; 4] = [0.0, 0.0, 1.0, 1.0];
const V: [f32; 4] = [1.0, 1.0, 1.0, 1.0];

fn new(w: &[f32], m: &[f32], v: &[f32]) -> Result<(), Error> {
    let mut c = vec![0.0; 64];
    DiagGmm::new(w, m, v, &mut c).map(|_| ())
}

#[test]
fn model_parameters_are_validated() {
    assert!(new(&W, &M, &V).is_ok());
    assert_eq!(new(&W, &M[..3], &V), Err(Error::Shape { what: "means", expected: 2, found: 3 }));
    assert!(matches!(new(&W, &M, &V[..3]), Err(Error::Shape { what: "covariances", .. })));
    assert!(matches!(new(&[], &[], &[]), Err(Error::Empty { what: "weights" })));
    assert!(matches!(new(&[-0.5, 1.5], &M, &V), Err(Error::Value { what: "weights", index: 0, .. })));
    assert!(matches!(new(&[0.5, 0.6], &M, &V), Err(Error::Value { what: "weights", .. })));
    assert!(new(&[0.5, 0.5005], &M, &V).is_ok(), "within 1e-3 of 1 is accepted");
    assert!(matches!(new(&[f32::NAN, 1.0], &M, &V), Err(Error::Value { what: "weights", .. })));
    assert!(matches!(new(&W, &[0.0, f32::INFINITY, 0.0, 0.0], &V), Err(Error::Value { what: "means", index: 1, .. })));
    for bad in [0.0, -1.0, f32::NAN, f32::INFINITY] {
        let v = [1.0, 1.0, 1.0, bad];
        assert!(matches!(new(&W, &M, &v), Err(Error::Value { what: "covariances", index: 3, .. })), "{bad}");
    }
    let mut small = [0.0; 3];
    assert!(matches!(DiagGmm::new(&W, &M, &V, &mut small), Err(Error::BufferTooSmall { .. })));
}

#[test]
fn descriptors_are_validated_and_rejections_change_nothing() {
    let mut c = [0.0; DiagGmm::constants_len(2, 2)];
    let gmm = DiagGmm::new(&W, &M, &V, &mut c).unwrap();
    let mut q = [0.0; 2];
    assert!(matches!(gmm.posteriors(&[0.0], &mut q), Err(Error::Shape { what: "descriptor", .. })));
    assert!(matches!(gmm.posteriors(&[0.0, f32::NAN], &mut q), Err(Error::Value { what: "descriptor", index: 1, .. })));
    assert!(matches!(gmm.posteriors(&[0.0, 0.0], &mut [0.0; 3]), Err(Error::Shape { .. })));
    // A descriptor far enough to overflow every distance in f32 is an error, not NaN.
    assert!(matches!(gmm.posteriors(&[3e19, 0.0], &mut q), Err(Error::Value { what: "descriptor", .. })));

    let mut storage = [0.0; FisherAccumulator::storage_len(2, 2)];
    let mut acc = FisherAccumulator::new(gmm, FisherOptions::default(), &mut storage).unwrap();
    acc.push(&[0.1, 0.2]).unwrap();
    let mut before = [0.0; 8];
    acc.finish(Layout::VlFeat, Normalization::NONE, &mut before).unwrap();
    assert!(acc.push(&[f32::NAN, 0.0]).is_err());
    assert!(acc.push(&[0.0]).is_err());
    // A batch with one bad row takes none of it.
    let err = acc.push_batch(&[0.5, 0.5, 1.0, f32::INFINITY, 2.0, 2.0]).unwrap_err();
    assert_eq!(err, Error::Value { what: "descriptor", index: 3, reason: "not finite" });
    assert!(acc.push_batch(&[0.5, 0.5, 1.0]).is_err(), "not a whole number of rows");
    let mut after = [0.0; 8];
    acc.finish(Layout::VlFeat, Normalization::NONE, &mut after).unwrap();
    assert_eq!((acc.count(), before), (1, after));
    assert!(acc.finish(Layout::SkImage, Normalization::NONE, &mut after).is_err(), "wrong output length");
    acc.reset();
    assert!(matches!(acc.finish(Layout::VlFeat, Normalization::NONE, &mut after), Err(Error::Empty { .. })));
    let bad_power = Normalization { power: Some(-1.0), l2: false };
    acc.push(&[0.0, 0.0]).unwrap();
    assert!(acc.finish(Layout::VlFeat, bad_power, &mut after).is_err());
}

fn safetensors(tensors: &[(&str, DType, &[usize], &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    fvae::formats::safetensors::write(&mut out, tensors).unwrap();
    out
}

fn le(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn malformed_safetensors_are_errors_at_every_truncation() {
    let good = file("gmm/edge_k4/gmm.safetensors");
    let bytes = good.as_bytes();
    let mut c = vec![0.0; DiagGmm::constants_len(4, 8)];
    assert!(DiagGmm::from_safetensors(&SafeTensors::parse(bytes).unwrap(), &mut c).is_ok());
    for cut in 0..bytes.len() {
        let buf = AlignedBuf::from_bytes(&bytes[..cut]);
        let parsed = SafeTensors::parse(buf.as_bytes());
        let model = parsed.and_then(|st| DiagGmm::from_safetensors(&st, &mut c).map(|_| ()));
        assert!(model.is_err(), "truncated at {cut} was accepted");
    }
    for i in 0..bytes.len().min(400) {
        for bit in [0x01u8, 0x80, 0xff] {
            let mut b = bytes.to_vec();
            b[i] ^= bit;
            let buf = AlignedBuf::from_bytes(&b);
            // Either an error or a valid model: never a panic.
            let _ =
                SafeTensors::parse(buf.as_bytes()).and_then(|st| DiagGmm::from_safetensors(&st, &mut c).map(|_| ()));
        }
    }
}

#[test]
fn wrong_tensors_are_named() {
    let w = le(&W);
    let m = le(&M);
    let v = le(&V);
    let mut c = vec![0.0; 64];
    let missing =
        AlignedBuf::from_bytes(&safetensors(&[("weights", DType::F32, &[2], &w), ("means", DType::F32, &[2, 2], &m)]));
    let st = SafeTensors::parse(missing.as_bytes()).unwrap();
    assert_eq!(
        DiagGmm::from_safetensors(&st, &mut c).unwrap_err(),
        Error::Missing { format: "safetensors", name: "covariances" }
    );
    let as_i8: Vec<u8> = vec![1; 4];
    let dtype = AlignedBuf::from_bytes(&safetensors(&[
        ("weights", DType::F32, &[2], &w),
        ("means", DType::F32, &[2, 2], &m),
        ("covariances", DType::I8, &[2, 2], &as_i8),
    ]));
    let st = SafeTensors::parse(dtype.as_bytes()).unwrap();
    assert!(matches!(DiagGmm::from_safetensors(&st, &mut c), Err(Error::DType { what: "covariances", .. })));
    let shape = AlignedBuf::from_bytes(&safetensors(&[
        ("weights", DType::F32, &[2], &w),
        ("means", DType::F32, &[2, 2], &m),
        ("covariances", DType::F32, &[4], &v),
    ]));
    let st = SafeTensors::parse(shape.as_bytes()).unwrap();
    assert!(matches!(DiagGmm::from_safetensors(&st, &mut c), Err(Error::Shape { what: "covariances", .. })));
    // Misaligned in-place reads are refused, not undefined behaviour.
    let good = safetensors(&[
        ("weights", DType::F32, &[2], &w),
        ("means", DType::F32, &[2, 2], &m),
        ("covariances", DType::F32, &[2, 2], &v),
    ]);
    let mut shifted = vec![0u8];
    shifted.extend_from_slice(&good);
    let buf = AlignedBuf::from_bytes(&shifted);
    let st = SafeTensors::parse(&buf.as_bytes()[1..]).unwrap();
    assert!(matches!(DiagGmm::from_safetensors(&st, &mut c), Err(Error::Misaligned { .. })));
}

#[test]
fn malformed_headers_are_format_errors() {
    for header in [
        &b"{"[..],
        b"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,8]}}",
        b"{\"a\":{\"dtype\":\"Q9\",\"shape\":[1],\"data_offsets\":[0,4]}}",
        b"{\"a\":{\"dtype\":\"F32\",\"shape\":[18446744073709551615,2],\"data_offsets\":[0,4]}}",
        b"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}",
        b"{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
        b"{\"a\":{\"dtype\":\"F32\"}}",
        b"[]",
        b"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}} trailing",
    ] {
        let mut b = (header.len() as u64).to_le_bytes().to_vec();
        b.extend_from_slice(header);
        b.extend_from_slice(&[0; 4]);
        assert!(matches!(SafeTensors::parse(&b), Err(Error::Format { .. })), "{}", String::from_utf8_lossy(header));
    }
}

/// Shapes whose element counts agree are still named by the dimension that differs, never as
/// "expected 8, found 8"; an index past the end is an index, not a length.
#[test]
fn mismatched_shapes_name_the_dimension() {
    use fvae::fisher::{FisherStorage, PlainFisherStorage};
    use fvae::fit::GmmStatistics;
    use fvae::gmm::DiagGmmOwned;
    use fvae::vq::ResidualVq;

    // A 2x4 GMM for 4x2 storage.
    let gmm = DiagGmmOwned::<2, 4>::new([0.5, 0.5], [[0.0; 4], [1.0; 4]], [[1.0; 4]; 2]).unwrap();
    let e = FisherStorage::<4, 2>::new().accumulator(gmm.view(), FisherOptions::default()).unwrap_err();
    assert_eq!(e.to_string(), "GMM for FisherStorage: K (components): expected length 4, found 2");
    let e = PlainFisherStorage::<2, 2>::new().accumulator(gmm.view(), FisherOptions::default()).unwrap_err();
    assert_eq!(e.to_string(), "GMM for PlainFisherStorage: D (dimensions): expected length 2, found 4");

    let mut a = GmmStatistics::new(2, 4);
    let e = a.merge(&GmmStatistics::new(4, 2)).unwrap_err();
    assert_eq!(e.to_string(), "merged GMM statistics: K (components): expected length 2, found 4");

    // Four stages of two codewords of D = 1: stage 4 is past the end.
    let data = [0.0f32, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0];
    let rvq = ResidualVq::new(&data, 4, 1).unwrap();
    assert!(rvq.stage(3).is_ok());
    assert_eq!(rvq.stage(4).unwrap_err().to_string(), "stage[4]: past the last stage");
}
