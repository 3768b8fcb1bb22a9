//! What the f32, int8 and residual searches share: input checks, the error bounds that decide
//! which codewords a fast score must re-check exactly, and the running best-k list.

use crate::error::check_finite;
use crate::formats::safetensors::TensorView;
use crate::{Error, Result};

/// Checks `d > 0` and a whole, non-empty `[M, D]` of finite values; returns M.
pub(super) fn check_codebook(what: &'static str, len: usize, d: usize) -> Result<usize> {
    if d == 0 {
        return Err(Error::Empty { what: "codeword dimension" });
    }
    if len == 0 {
        return Err(Error::Empty { what });
    }
    if !len.is_multiple_of(d) {
        return Err(Error::Shape { what, expected: len / d * d + d, found: len });
    }
    Ok(len / d)
}

/// The number of rows of `d` values (`d >= 1`) in `len` values; a shape error naming `what`
/// when `len` is not whole rows.
pub(crate) fn whole_rows(what: &'static str, len: usize, d: usize) -> Result<usize> {
    let d = d.max(1);
    if !len.is_multiple_of(d) {
        return Err(Error::Shape { what, expected: len / d * d + d, found: len });
    }
    Ok(len / d)
}

/// A batch `[N, d]` of whole rows of finite values; returns N.
pub(crate) fn check_rows(what: &'static str, xs: &[f32], d: usize) -> Result<usize> {
    let n = whole_rows(what, xs.len(), d)?;
    check_finite(what, xs, 0)?;
    Ok(n)
}

/// One row of `d` finite values (`row`: its place in a batch, for the error's index).
pub(crate) fn check_row(what: &'static str, x: &[f32], d: usize, row: usize) -> Result<()> {
    if x.len() != d {
        return Err(Error::Shape { what, expected: d, found: x.len() });
    }
    check_finite(what, x, row * d)
}

/// `[M, D]` of a rank-2 tensor.
pub(super) fn matrix_dims(what: &'static str, t: &TensorView<'_>) -> Result<(usize, usize)> {
    match t.shape().dims() {
        [m, d] => Ok((*m, *d)),
        dims => Err(Error::Shape { what, expected: 2, found: dims.len() }),
    }
}

/// The greatest `||c||` over the codewords (f64).
pub(super) fn max_norm(data: &[f32], d: usize) -> f64 {
    let max = data.chunks_exact(d).map(|c| c.iter().map(|&v| v as f64 * v as f64).sum::<f64>()).fold(0.0, f64::max);
    crate::math::sqrt_f64(max)
}

/// Where the fast scores of a query live, and how far from the exact ones they can be.
#[derive(Clone, Copy)]
pub(super) enum Bound {
    /// Ranking scores `s = ||c||^2/2 - x.c`, off by at most `e`; `nx = ||x||^2`.
    Score { nx: f64, e: f64 },
    /// Direct f32 distances, off by at most a relative `delta` (plus `tiny` for underflow).
    Direct { delta: f64, tiny: f64 },
    /// No fast bound (values too large for f32 scores): every codeword is checked exactly.
    Exhaustive,
}

impl Bound {
    /// The largest fast value that may still be the chunk's minimum, given the fast minimum:
    /// within the error bound of it, or (the `tie` term, in score units) so close that its exact
    /// distance may round to the same f32 as the minimum's, where the lower index wins.
    pub(super) fn chunk(self, min: f32) -> f64 {
        match self {
            Bound::Score { nx, e } => {
                let min = min as f64;
                min + 2.0 * e + tie_slack(nx + 2.0 * (min + e))
            }
            Bound::Direct { delta, tiny } => min as f64 * (1.0 + 4.0 * delta) + tiny,
            Bound::Exhaustive => f64::INFINITY,
        }
    }

    /// The largest fast value whose exact distance may still be below `dist` (the current
    /// k-th best exact distance).
    pub(super) fn below(self, dist: f32) -> f64 {
        let dist = dist as f64 * (1.0 + 1e-6);
        match self {
            Bound::Score { nx, e } => (dist - nx) / 2.0 + e,
            Bound::Direct { delta, tiny } => dist * (1.0 + 2.0 * delta) + tiny,
            Bound::Exhaustive => f64::INFINITY,
        }
    }
}

/// Half of a margin of four f32 ulps of a distance `dist` (bounds `>= dist` in, score units
/// out): two distances closer than this may round to the same f32, and then the lower index
/// wins, so a candidate window must reach that far past the best distance.
pub(super) fn tie_slack(dist: f64) -> f64 {
    dist.max(0.0) * (1.0 / 4_194_304.0)
}

/// An f64 threshold as an f32 that is not smaller.
pub(super) fn up32(t: f64) -> f32 {
    let f = t as f32;
    if (f as f64) < t {
        f + f.abs() * (1.0 / 8_388_608.0) + f32::MIN_POSITIVE
    } else {
        f
    }
}

/// The k best (exact distance, index) so far of one query, sorted, stored in the caller's
/// output slices.
pub(super) struct Best<'o> {
    pub(super) idx: &'o mut [u32],
    pub(super) dist: &'o mut [f32],
    pub(super) len: usize,
}

impl Best<'_> {
    /// Inserts codeword `j` at exact distance `e` if it belongs. Codewords arrive in ascending
    /// index order, so an equal distance goes after the ones already present.
    pub(super) fn offer(&mut self, j: usize, e: f32) {
        let k = self.idx.len();
        // `e` may be NaN only if it is +inf - +inf, which never happens (exact distances are >= 0).
        // (`get`: `idx` and `dist` hold k >= 1 values and `p < k`, which the optimiser cannot see.)
        let last = self.dist.get(k.wrapping_sub(1));
        if self.len == k && last.is_none_or(|l| e.partial_cmp(l) != Some(core::cmp::Ordering::Less)) {
            return;
        }
        let mut p = if self.len == k { k - 1 } else { self.len };
        while p > 0 {
            let (Some(&dp), Some(&ip)) = (self.dist.get(p - 1), self.idx.get(p - 1)) else { break };
            if dp.partial_cmp(&e) != Some(core::cmp::Ordering::Greater) {
                break; // (as `!(dp > e)`: NaN never moves)
            }
            if let (Some(d), Some(i)) = (self.dist.get_mut(p), self.idx.get_mut(p)) {
                (*d, *i) = (dp, ip);
            }
            p -= 1;
        }
        if let (Some(d), Some(i)) = (self.dist.get_mut(p), self.idx.get_mut(p)) {
            (*d, *i) = (e, j as u32);
        }
        self.len = (self.len + 1).min(k);
    }

    pub(super) fn threshold(&self, bound: Bound) -> f64 {
        match self.dist.get(self.len.wrapping_sub(1)) {
            Some(&last) if self.len == self.idx.len() => bound.below(last),
            _ => f64::INFINITY,
        }
    }
}
