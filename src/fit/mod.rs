//! Fitting models on the host (feature `std`): k-means codebooks ([`kmeans`], residual VQ with
//! [`residual_kmeans`]) and diagonal Gaussian mixtures by EM ([`fit_gmm`]).
//!
//! Everything here is deterministic under a seed (a small self-contained PRNG, SplitMix64, so
//! results do not depend on another crate's version), and reuses the encoding kernels: k-means
//! assigns with [`Codebook::nearest_batch`](crate::vq::Codebook::nearest_batch) and EM takes its
//! E-step statistics from [`FisherAccumulator`](crate::fisher::FisherAccumulator). These are the
//! only parts of the crate that allocate; the device-side counterparts (online k-means, MAP
//! adaptation) are in [`adapt`](crate::adapt).

mod em;
mod kmeans;

pub use em::{
    e_step, em, em_with, fit_gmm, fit_gmm_with, initial_gmm, m_step, FittedGmm, GmmFitOptions, GmmStatistics,
};
pub use kmeans::{kmeans, kmeans_with, residual_kmeans, residual_kmeans_with, KMeans, KMeansOptions, ResidualKMeans};

/// SplitMix64 (Steele, Lea and Flood 2014): 64 bits of state, good enough to seed and sample,
/// and identical on every platform.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 bits.
    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in 0..n (n > 0), by rejection so every value is equally likely.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let v = self.next_u64();
            if v < zone {
                return (v % n) as usize;
            }
        }
    }
}

/// Checks a data matrix `[N, D]` for fitting: shape, finiteness, at least `min_rows` rows.
pub(crate) fn check_data(data: &[f32], d: usize, min_rows: usize, what: &'static str) -> crate::Result<usize> {
    use crate::Error;
    if d == 0 {
        return Err(Error::Empty { what: "data dimension" });
    }
    if !data.len().is_multiple_of(d) {
        return Err(Error::Shape { what: "data ([N, D] row-major)", expected: data.len() / d * d, found: data.len() });
    }
    if let Some(i) = data.iter().position(|v| !v.is_finite()) {
        return Err(Error::Value { what: "data", index: i, reason: "not finite" });
    }
    let n = data.len() / d;
    if n < min_rows.max(1) {
        return Err(Error::Shape { what, expected: min_rows.max(1), found: n });
    }
    Ok(n)
}
