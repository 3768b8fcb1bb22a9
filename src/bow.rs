//! Bag of visual words (Sivic and Zisserman 2003; Csurka et al. 2004): a histogram of codeword
//! assignments, hard (each descriptor counts 1 for its nearest codeword, ties to the lowest
//! index) or soft (localised soft assignment, Liu, Wang and Liu 2011: the descriptor's weight 1
//! is shared among its `neighbours` nearest codewords in proportion to
//! `exp(-beta ||x - c_j||^2)`; the kernel codebook of van Gemert et al. 2008 restricted to the
//! nearest codewords).
//!
//! A stream over caller storage (`M` floats), like the Fisher and VLAD accumulators.

use crate::vlad::l2_normalise;
use crate::vq::{check_rows, Codebook};
use crate::{math, Error, Result};

/// Most neighbours a soft assignment may share a descriptor among (stack storage).
pub const MAX_NEIGHBOURS: usize = 32;

/// How a descriptor is counted.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BowAssignment {
    /// 1 for the nearest codeword.
    Hard,
    /// Weight 1 shared among the `neighbours` nearest codewords (1..=[`MAX_NEIGHBOURS`]) as
    /// `exp(-beta d_j) / sum_l exp(-beta d_l)`, with `d` the squared distances.
    Soft {
        /// How many nearest codewords share the descriptor.
        neighbours: usize,
        /// Inverse kernel width (> 0), on squared distances.
        beta: f32,
    },
}

/// Histogram normalisation at [`finish`](BowAccumulator::finish).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BowNormalization {
    /// The (weighted) counts.
    Counts,
    /// Divided by the sum (term frequencies).
    L1,
    /// Divided by the L2 norm.
    L2,
    /// Square root of the L1-normalised histogram (Hellinger kernel; unit L2 norm).
    Hellinger,
}

/// A streaming bag-of-words histogram.
///
/// ```
/// use fvae::bow::{BowAccumulator, BowAssignment, BowNormalization};
/// use fvae::vq::Codebook;
/// let cb = Codebook::new(&[0.0, 10.0, 20.0], 1)?;
/// let mut storage = [0.0; 3];
/// let mut acc = BowAccumulator::new(cb, BowAssignment::Hard, &mut storage)?;
/// acc.push_batch(&[1.0, 2.0, 19.0, 9.0])?;
/// let mut h = [0.0; 3];
/// acc.finish(BowNormalization::L1, &mut h)?;
/// assert_eq!(h, [0.5, 0.25, 0.25]);
/// # Ok::<(), fvae::Error>(())
/// ```
#[derive(Debug)]
pub struct BowAccumulator<'c, 's> {
    codebook: Codebook<'c>,
    assignment: BowAssignment,
    n: u64,
    hist: &'s mut [f32],
}

impl<'c, 's> BowAccumulator<'c, 's> {
    /// An empty histogram in `storage` (at least M floats, zeroed here).
    ///
    /// Errors: storage too small; soft assignment with `neighbours` outside
    /// 1..=[`MAX_NEIGHBOURS`] or `beta` not finite and > 0.
    pub fn new(codebook: Codebook<'c>, assignment: BowAssignment, storage: &'s mut [f32]) -> Result<Self> {
        let m = codebook.m();
        if storage.len() < m {
            return Err(Error::BufferTooSmall { what: "bag-of-words storage", needed: m, given: storage.len() });
        }
        if let BowAssignment::Soft { neighbours, beta } = assignment {
            if neighbours == 0 || neighbours > MAX_NEIGHBOURS {
                return Err(Error::Value {
                    what: "soft assignment neighbours",
                    index: neighbours,
                    reason: "must be 1..=32",
                });
            }
            if !(beta.is_finite() && beta > 0.0) {
                return Err(Error::Value { what: "soft assignment beta", index: 0, reason: "must be finite and > 0" });
            }
        }
        let mut acc = BowAccumulator { codebook, assignment, n: 0, hist: &mut storage[..m] };
        acc.reset();
        Ok(acc)
    }

    /// Forgets every descriptor pushed so far.
    pub fn reset(&mut self) {
        self.n = 0;
        self.hist.iter_mut().for_each(|v| *v = 0.0);
    }

    /// Descriptors accumulated.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// Adds one descriptor (length D); a rejected one leaves the histogram unchanged.
    pub fn push(&mut self, x: &[f32]) -> Result<()> {
        match self.assignment {
            BowAssignment::Hard => {
                let near = self.codebook.nearest(x)?;
                if let Some(h) = self.hist.get_mut(near.index as usize) {
                    *h += 1.0; // always: the histogram holds M bins
                }
            }
            BowAssignment::Soft { neighbours, beta } => {
                let mut idx = [0u32; MAX_NEIGHBOURS];
                let mut dist = [0f32; MAX_NEIGHBOURS];
                let kk = neighbours.min(MAX_NEIGHBOURS);
                let got = self.codebook.top_k(x, &mut idx[..kk], &mut dist[..kk])?.min(kk);
                // Shifted by the nearest distance so the largest weight is exp(0) = 1.
                let d0 = dist[0];
                let mut w = [0f32; MAX_NEIGHBOURS];
                let mut total = 0.0;
                for (w, &d) in w.iter_mut().zip(dist.iter().take(got)) {
                    *w = fvae_kernels::math::exp(-beta * (d - d0));
                    total += *w;
                }
                for (&j, &w) in idx.iter().zip(&w).take(got) {
                    if let Some(h) = self.hist.get_mut(j as usize) {
                        *h += w / total; // always: indices are < M
                    }
                }
            }
        }
        self.n += 1;
        Ok(())
    }

    /// Adds N descriptors `xs` [N, D]; every row is checked before any is taken.
    pub fn push_batch(&mut self, xs: &[f32]) -> Result<()> {
        let d = self.codebook.d().max(1); // (D >= 1 by construction; `max` lets the optimiser see it)
        check_rows("descriptor batch", xs, d)?;
        for x in xs.chunks_exact(d) {
            self.push(x)?;
        }
        Ok(())
    }

    /// Adds another histogram's descriptors (same M).
    pub fn merge(&mut self, other: &BowAccumulator<'_, '_>) -> Result<()> {
        self.merge_histogram(other.n, other.hist)
    }

    /// The raw (weighted) counts, [M].
    pub fn histogram(&self) -> &[f32] {
        self.hist
    }

    /// Adds the raw histogram of `count` descriptors accumulated elsewhere (another thread or
    /// device). Checked first: a wrong length or non-finite or negative values change nothing.
    pub fn merge_histogram(&mut self, count: u64, hist: &[f32]) -> Result<()> {
        if hist.len() != self.hist.len() {
            return Err(Error::Shape { what: "merged histogram (M)", expected: self.hist.len(), found: hist.len() });
        }
        if let Some(i) = hist.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
            return Err(Error::Value { what: "merged histogram", index: i, reason: "must be finite and >= 0" });
        }
        self.hist.iter_mut().zip(hist).for_each(|(a, b)| *a += b);
        self.n += count;
        Ok(())
    }

    /// Writes the histogram (M values), normalised; the accumulator is unchanged. No
    /// descriptor yet is an [`Error::Empty`].
    pub fn finish(&self, normalization: BowNormalization, out: &mut [f32]) -> Result<()> {
        if out.len() != self.hist.len() {
            return Err(Error::Shape { what: "histogram output", expected: self.hist.len(), found: out.len() });
        }
        if self.n == 0 {
            return Err(Error::Empty { what: "bag-of-words accumulator (no descriptor pushed)" });
        }
        out.copy_from_slice(self.hist);
        let l1 = |out: &mut [f32]| {
            let s: f64 = out.iter().map(|&v| v as f64).sum();
            if s > 0.0 {
                out.iter_mut().for_each(|v| *v = (*v as f64 / s) as f32);
            }
        };
        match normalization {
            BowNormalization::Counts => {}
            BowNormalization::L1 => l1(out),
            BowNormalization::L2 => l2_normalise(out),
            BowNormalization::Hellinger => {
                l1(out);
                out.iter_mut().for_each(|v| *v = math::sqrt(*v));
            }
        }
        Ok(())
    }
}
