//! VLAD: vectors of locally aggregated descriptors (Jegou, Douze, Schmid and Perez, CVPR 2010),
//! as VLFeat's `vl_vlad_encode` with hard assignment to the nearest codeword.
//!
//! For a codebook `c_1..c_M` and descriptors `x_i` with nearest codeword `NN(x_i)`:
//! `v_j = sum_{i : NN(x_i) = j} (x_i - c_j)`, the vector `[v_1, ..., v_M]` of length `M D`
//! (codeword-major). Normalisation ([`VladNormalization`]), applied at [`finish`](VladAccumulator::finish)
//! in VLFeat's order: per cluster, divide by its mass (`VL_VLAD_FLAG_NORMALIZE_MASS`), signed
//! square root (`..._SQUARE_ROOT`; Jegou et al. 2012), L2 of each cluster's block
//! (`..._NORMALIZE_COMPONENTS`, the "intra-normalisation" of Arandjelovic and Zisserman 2013);
//! then L2 of the whole vector unless unnormalised (`..._UNNORMALIZED`). A zero block or vector
//! stays zero.
//!
//! On the very rows a k-means codebook was fitted to, each cluster's residual sum is zero up to
//! rounding (a centroid is its rows' mean), so intra-normalisation turns rounding noise into unit
//! blocks: encode other data, as in practice.
//!
//! The accumulator is a stream over caller storage, like the Fisher accumulator: push, merge,
//! finish (any number of times).

use crate::error::check_finite;
use crate::vq::{check_rows, Codebook, Nearest};
use crate::{math, Error, Result};

/// VLAD normalisation steps (VLFeat's flags); see the module notes for the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct VladNormalization {
    /// Divide each cluster's sum by the number of descriptors assigned to it.
    pub mass: bool,
    /// Signed square root of every value.
    pub square_root: bool,
    /// L2-normalise each cluster's block (intra-normalisation).
    pub intra: bool,
    /// L2-normalise the whole vector.
    pub l2: bool,
}

impl VladNormalization {
    /// The raw sums of residuals.
    pub const NONE: Self = VladNormalization { mass: false, square_root: false, intra: false, l2: false };
    /// VLFeat's default: global L2 only (Jegou et al. 2010).
    pub const L2: Self = VladNormalization { mass: false, square_root: false, intra: false, l2: true };
    /// Intra-normalisation then L2 (Arandjelovic and Zisserman 2013).
    pub const INTRA: Self = VladNormalization { mass: false, square_root: false, intra: true, l2: true };
    /// Signed square root then L2 (Jegou et al. 2012).
    pub const SQRT: Self = VladNormalization { mass: false, square_root: true, intra: false, l2: true };
}

/// A streaming VLAD accumulator over a codebook and caller storage.
///
/// ```
/// use fvae::vlad::{VladAccumulator, VladNormalization};
/// use fvae::vq::Codebook;
/// let cb = Codebook::new(&[0.0, 0.0, 10.0, 10.0], 2)?;
/// let mut storage = [0.0; VladAccumulator::storage_len(2, 2)];
/// let mut acc = VladAccumulator::new(cb, &mut storage)?;
/// acc.push(&[1.0, -1.0])?;
/// acc.push_batch(&[9.0, 12.0, 0.5, 0.0])?;
/// let mut v = [0.0; 4];
/// acc.finish(VladNormalization::NONE, &mut v)?;
/// assert_eq!(v, [1.5, -1.0, -1.0, 2.0]);
/// # Ok::<(), fvae::Error>(())
/// ```
#[derive(Debug)]
pub struct VladAccumulator<'c, 's> {
    codebook: Codebook<'c>,
    n: u64,
    /// sum of residuals per codeword, [M, D].
    sums: &'s mut [f32],
    /// descriptors per codeword, [M].
    mass: &'s mut [f32],
}

impl<'c, 's> VladAccumulator<'c, 's> {
    /// Floats of storage for M codewords of dimension D: `M D + M`.
    pub const fn storage_len(m: usize, d: usize) -> usize {
        m * d + m
    }

    /// An empty accumulator in `storage` (at least [`storage_len`](Self::storage_len), zeroed here).
    pub fn new(codebook: Codebook<'c>, storage: &'s mut [f32]) -> Result<Self> {
        let (m, d) = (codebook.m(), codebook.d());
        let need = Self::storage_len(m, d);
        if storage.len() < need {
            return Err(Error::BufferTooSmall { what: "VLAD storage", needed: need, given: storage.len() });
        }
        // `get_mut` and `_checked`: the parts fit (`need` is their sum), which the optimiser cannot see.
        let too_small = Error::BufferTooSmall { what: "VLAD storage", needed: need, given: storage.len() };
        let (sums, rest) = storage.get_mut(..need).and_then(|s| s.split_at_mut_checked(m * d)).ok_or(too_small)?;
        let mut acc = VladAccumulator { codebook, n: 0, sums, mass: rest };
        acc.reset();
        Ok(acc)
    }

    /// Forgets every descriptor pushed so far.
    pub fn reset(&mut self) {
        self.n = 0;
        self.sums.iter_mut().chain(self.mass.iter_mut()).for_each(|v| *v = 0.0);
    }

    /// Descriptors accumulated.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// Descriptors assigned to each codeword, [M].
    pub fn mass(&self) -> &[f32] {
        self.mass
    }

    /// The sums of residuals per codeword, [M, D] (what [`merge_parts`](Self::merge_parts) takes).
    pub fn sums(&self) -> &[f32] {
        self.sums
    }

    /// Adds the raw state of `count` descriptors accumulated elsewhere (another thread or
    /// device): `sums` [M, D] and `mass` [M] as [`sums`](Self::sums) and [`mass`](Self::mass)
    /// return them. Checked first: wrong lengths or non-finite values change nothing.
    pub fn merge_parts(&mut self, count: u64, sums: &[f32], mass: &[f32]) -> Result<()> {
        for (what, s, len) in [("VLAD sums", sums, self.sums.len()), ("VLAD mass", mass, self.mass.len())] {
            if s.len() != len {
                return Err(Error::Shape { what, expected: len, found: s.len() });
            }
            check_finite(what, s, 0)?;
        }
        self.sums.iter_mut().zip(sums).for_each(|(a, b)| *a += b);
        self.mass.iter_mut().zip(mass).for_each(|(a, b)| *a += b);
        self.n += count;
        Ok(())
    }

    /// Adds one descriptor (length D); returns its nearest codeword. A rejected descriptor
    /// (wrong length, non-finite) leaves the accumulator unchanged.
    pub fn push(&mut self, x: &[f32]) -> Result<Nearest> {
        let near = self.codebook.nearest(x)?;
        let j = near.index as usize;
        let d = self.codebook.d().max(1); // (D >= 1 by construction; `max` lets the optimiser see it)
                                          // (`get_mut`: the storage holds M rows, which the optimiser cannot see; always `Some`.)
        if let (Some(c), Some(sums), Some(mass)) =
            (self.codebook.codeword(j), self.sums.get_mut(j * d..(j + 1) * d), self.mass.get_mut(j))
        {
            for ((s, &x), &c) in sums.iter_mut().zip(x).zip(c) {
                *s += x - c;
            }
            *mass += 1.0;
        }
        self.n += 1;
        Ok(near)
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

    /// Adds another accumulator's descriptors (same M and D).
    pub fn merge(&mut self, other: &VladAccumulator<'_, '_>) -> Result<()> {
        self.merge_parts(other.n, other.sums, other.mass)
    }

    /// Writes the VLAD vector (`M D` values) of everything pushed so far, normalised; the
    /// accumulator is unchanged. No descriptor yet is an [`Error::Empty`].
    pub fn finish(&self, normalization: VladNormalization, out: &mut [f32]) -> Result<()> {
        let (m, d) = (self.codebook.m(), self.codebook.d());
        if out.len() != m * d {
            return Err(Error::Shape { what: "VLAD output", expected: m * d, found: out.len() });
        }
        if self.n == 0 {
            return Err(Error::Empty { what: "VLAD accumulator (no descriptor pushed)" });
        }
        out.iter_mut().zip(self.sums.iter()).for_each(|(o, &s)| *o = s); // (same length, M * D)
        for (block, &mass) in out.chunks_exact_mut(d.max(1)).zip(self.mass.iter()) {
            if normalization.mass && mass > 0.0 {
                let inv = 1.0 / mass;
                block.iter_mut().for_each(|v| *v *= inv);
            }
            if normalization.square_root {
                block.iter_mut().for_each(|v| *v = math::signed_pow(*v, 0.5));
            }
            if normalization.intra {
                l2_normalise(block);
            }
        }
        if normalization.l2 {
            l2_normalise(out);
        }
        Ok(())
    }
}

/// Divides by the L2 norm (summed in f64); a zero vector stays zero.
pub(crate) fn l2_normalise(v: &mut [f32]) {
    let norm = libm::sqrt(v.iter().map(|&z| z as f64 * z as f64).sum::<f64>());
    if norm > 0.0 {
        let inv = 1.0 / norm;
        v.iter_mut().for_each(|z| *z = (*z as f64 * inv) as f32);
    }
}
