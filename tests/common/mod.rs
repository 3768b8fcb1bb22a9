//! Helpers shared by the integration tests: fixture loading and error measures.
#![allow(dead_code)]

use fvae::formats::npy::Npy;
use fvae::formats::AlignedBuf;
use std::path::PathBuf;

/// `tests/data/<rel>`.
pub fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(rel)
}

/// A fixture file in a 16-aligned buffer.
pub fn file(rel: &str) -> AlignedBuf {
    AlignedBuf::read(data(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A `.npy` fixture as f64 values and its shape.
pub fn npy_f64(rel: &str) -> (Vec<f64>, Vec<usize>) {
    let buf = file(rel);
    let a = Npy::parse(buf.as_bytes()).unwrap();
    (a.to_f64_vec("fixture").unwrap(), a.shape().dims().to_vec())
}

/// A `.npy` fixture as f32 values and its shape.
pub fn npy_f32(rel: &str) -> (Vec<f32>, Vec<usize>) {
    let (v, s) = npy_f64(rel);
    (v.into_iter().map(|x| x as f32).collect(), s)
}

/// `||a - b|| / ||b||`.
pub fn rel_l2(a: &[f32], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    let num: f64 = a.iter().zip(b).map(|(&x, &y)| (x as f64 - y).powi(2)).sum();
    let den: f64 = b.iter().map(|y| y * y).sum();
    (num / den).sqrt()
}

/// `max |a - b| / max(1, |b|)`.
pub fn max_rel1(a: &[f32], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter().zip(b).map(|(&x, &y)| (x as f64 - y).abs() / y.abs().max(1.0)).fold(0.0, f64::max)
}

/// A small deterministic generator (xorshift64*), so tests need no crate and no seed files.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u = self.uniform().max(1e-300);
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}
