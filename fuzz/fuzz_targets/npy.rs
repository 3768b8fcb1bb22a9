//! The `.npy` reader as the command line uses it (fvae-cli io.rs): parse, then read as f32 or
//! int8 `[rows, cols]`. Any bytes give an array whose sizes agree, or an error.
#![no_main]

use fvae::formats::{npy::Npy, AlignedBuf};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let buf = AlignedBuf::from_bytes(data);
    let Ok(a) = Npy::parse(buf.as_bytes()) else { return };
    let (rows, cols) = a.rows_cols();
    let n = a.shape().numel().expect("a parsed shape has a count");
    assert_eq!(rows.checked_mul(cols), Some(n), "rows x cols must be the element count");
    assert!(a.bytes().len() <= data.len());
    if let Ok(v) = a.as_f32("x") {
        assert_eq!(v.len(), n);
    } else if let Ok(v) = a.to_f32_vec("x") {
        assert_eq!(v.len(), n);
    }
    if let Ok(v) = a.as_i8("x") {
        assert_eq!(v.len(), n);
    }
    if let Ok(v) = a.to_f64_vec("x") {
        assert_eq!(v.len(), n);
    }
    if let Ok(v) = a.to_i64_vec("x") {
        assert_eq!(v.len(), n);
    }
});
