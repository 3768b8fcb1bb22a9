//! Full-covariance Gaussians and mixtures (feature `nalgebra`), with sizes fixed at compile
//! time so nothing allocates. The Cholesky factor `L` (`Sigma = L L^T`) is computed once; a
//! log-density then costs one triangular solve:
//! `log N(x) = -1/2 (D log 2pi + 2 sum_d log L_dd + |L^-1 (x - mu)|^2)`.

use crate::error::check_finite;
use crate::{Error, Result};
use fvae_kernels::gaussian;
use nalgebra::{Cholesky, Const, SMatrix, SVector};

const LN_2PI: f32 = 1.837_877_1;

/// One Gaussian with a full covariance in D dimensions.
///
/// ```
/// use fvae::full_cov::FullGaussian;
/// let g = FullGaussian::<2>::new([0.0, 0.0], [[2.0, 1.0], [1.0, 2.0]])?;
/// let ld = g.log_density(&[0.0, 0.0])?;
/// assert!((ld - (-(2.0 * std::f32::consts::PI).ln() - 0.5 * 3f32.ln())).abs() < 1e-5);
/// assert!(FullGaussian::<2>::new([0.0; 2], [[1.0, 2.0], [2.0, 1.0]]).is_err()); // not positive definite
/// # Ok::<(), fvae::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct FullGaussian<const D: usize> {
    mean: SVector<f32, D>,
    chol: Cholesky<f32, Const<D>>,
    log_norm: f32,
}

impl<const D: usize> FullGaussian<D> {
    /// From a mean and a symmetric positive-definite covariance (row-major). A covariance that
    /// is not finite, not symmetric (to 1e-5 relative), or not positive definite is an error.
    pub fn new(mean: [f32; D], covariance: [[f32; D]; D]) -> Result<Self> {
        check_finite("mean", &mean, 0)?;
        for (r, row) in covariance.iter().enumerate() {
            for (c, &v) in row.iter().enumerate() {
                let t = covariance[c][r];
                if !v.is_finite() {
                    return Err(Error::Value { what: "covariance", index: r * D + c, reason: "not finite" });
                }
                if (v - t).abs() > 1e-5 * v.abs().max(t.abs()).max(f32::MIN_POSITIVE) {
                    return Err(Error::Value { what: "covariance", index: r * D + c, reason: "not symmetric" });
                }
            }
        }
        let m = SMatrix::<f32, D, D>::from_fn(|r, c| covariance[r][c]);
        let chol = Cholesky::new(m).ok_or(Error::Value {
            what: "covariance",
            index: 0,
            reason: "not positive definite (Cholesky factorisation failed)",
        })?;
        let l = chol.l_dirty();
        let mut log_det = 0.0f32;
        for d in 0..D {
            let v = l[(d, d)];
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::Value { what: "covariance", index: d * D + d, reason: "not positive definite" });
            }
            log_det += 2.0 * libm::logf(v);
        }
        let log_norm = -0.5 * (D as f32 * LN_2PI + log_det);
        Ok(FullGaussian { mean: SVector::from(mean), chol, log_norm })
    }

    /// `log N(x | mu, Sigma)`; `x` must have D finite values.
    pub fn log_density(&self, x: &[f32]) -> Result<f32> {
        if x.len() != D {
            return Err(Error::Shape { what: "descriptor", expected: D, found: x.len() });
        }
        check_finite("descriptor", x, 0)?;
        let diff = SVector::<f32, D>::from_fn(|i, _| x[i] - self.mean[i]);
        let y = self.chol.l_dirty().solve_lower_triangular(&diff).ok_or(Error::Value {
            what: "covariance",
            index: 0,
            reason: "singular Cholesky factor",
        })?;
        Ok(self.log_norm - 0.5 * y.norm_squared())
    }
}

/// A mixture of K full-covariance Gaussians in D dimensions.
///
/// ```
/// use fvae::full_cov::FullGmm;
/// let eye = [[1.0, 0.0], [0.0, 1.0]];
/// let gmm = FullGmm::<2, 2>::new([0.5, 0.5], [[0.0, 0.0], [4.0, 4.0]], [eye, eye])?;
/// let mut q = [0.0; 2];
/// gmm.posteriors(&[0.1, -0.1], &mut q)?;
/// assert!(q[0] > 0.99 && (q[0] + q[1] - 1.0).abs() < 1e-6);
/// # Ok::<(), fvae::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct FullGmm<const K: usize, const D: usize> {
    components: [FullGaussian<D>; K],
    log_weights: [f32; K],
}

impl<const K: usize, const D: usize> FullGmm<K, D> {
    /// Weights (>= 0, summing to 1 within 1e-3), means and covariances, validated as
    /// [`FullGaussian::new`].
    pub fn new(weights: [f32; K], means: [[f32; D]; K], covariances: [[[f32; D]; D]; K]) -> Result<Self> {
        if K == 0 {
            return Err(Error::Empty { what: "weights" });
        }
        let mut sum = 0.0f64;
        for (i, &w) in weights.iter().enumerate() {
            if !(w.is_finite() && w >= 0.0) {
                return Err(Error::Value { what: "weights", index: i, reason: "must be finite and >= 0" });
            }
            sum += w as f64;
        }
        if (sum - 1.0).abs() > 1e-3 {
            return Err(Error::Value { what: "weights", index: K - 1, reason: "do not sum to 1 within 1e-3" });
        }
        let mut first_error = None;
        let components = core::array::from_fn(|k| match FullGaussian::new(means[k], covariances[k]) {
            Ok(g) => g,
            Err(e) => {
                first_error.get_or_insert(e);
                // A placeholder that is never used: the error is returned below.
                FullGaussian { mean: SVector::zeros(), chol: identity_cholesky(), log_norm: 0.0 }
            }
        });
        if let Some(e) = first_error {
            return Err(e);
        }
        let log_weights = weights.map(|w| if w > 0.0 { libm::logf(w) } else { f32::NEG_INFINITY });
        Ok(FullGmm { components, log_weights })
    }

    /// `out[k] = log N(x | k)`, the weights not included.
    pub fn log_densities(&self, x: &[f32], out: &mut [f32; K]) -> Result<()> {
        for (o, g) in out.iter_mut().zip(&self.components) {
            *o = g.log_density(x)?;
        }
        Ok(())
    }

    /// Posteriors `p(k | x)` into `out`; returns the log-likelihood.
    pub fn posteriors(&self, x: &[f32], out: &mut [f32; K]) -> Result<f32> {
        self.log_densities(x, out)?;
        for (o, lw) in out.iter_mut().zip(&self.log_weights) {
            *o += lw;
        }
        let lse = gaussian::softmax(out);
        if !lse.is_finite() {
            return Err(Error::Value { what: "descriptor", index: 0, reason: "log-density is not finite in f32" });
        }
        Ok(lse)
    }
}

fn identity_cholesky<const D: usize>() -> Cholesky<f32, Const<D>> {
    Cholesky::new_unchecked(SMatrix::<f32, D, D>::identity())
}
