//! Running f32 sums over caller memory, Kahan-compensated or plain: the statistics the Fisher
//! and FV-VAE accumulators keep.
//!
//! A compensated sum keeps beside each value `s` the rounding error `c` its additions lost
//! (Kahan's algorithm, [`kahan_add`]); the sum is `s - c`. Near-cancelling sums (the gradient at
//! a fitted model) need it to stay accurate over long streams. A plain sum has no `c`.

use fvae_kernels::gaussian::scalar::kahan_add;

/// Sums `sums[i] - comp[i]` (plain when `comp` is empty).
#[derive(Debug)]
pub(crate) struct CompensatedSums<'s> {
    sums: &'s mut [f32],
    /// Kahan compensation of `sums`, the same length; empty when the sums are plain.
    comp: &'s mut [f32],
}

impl<'s> CompensatedSums<'s> {
    /// Sums over `sums`, compensated in `comp` (the same length) or plain (`comp` empty). The
    /// caller zeroes them ([`reset`](Self::reset)).
    pub(crate) fn new(sums: &'s mut [f32], comp: &'s mut [f32]) -> Self {
        CompensatedSums { sums, comp }
    }

    /// Number of sums.
    pub(crate) fn len(&self) -> usize {
        self.sums.len()
    }

    /// The raw values and compensations, for kernels that update both in place.
    pub(crate) fn parts_mut(&mut self) -> (&mut [f32], &mut [f32]) {
        (self.sums, self.comp)
    }

    /// Every sum back to 0.
    pub(crate) fn reset(&mut self) {
        self.sums.iter_mut().chain(self.comp.iter_mut()).for_each(|v| *v = 0.0);
    }

    /// Sum `i` (0 past the end).
    pub(crate) fn get(&self, i: usize) -> f32 {
        self.sums.get(i).copied().unwrap_or(0.0) - self.comp.get(i).copied().unwrap_or(0.0)
    }

    /// Sum `i` with its compensation subtracted in f64 (0 past the end): for sums compared with
    /// a value they nearly equal.
    pub(crate) fn get_f64(&self, i: usize) -> f64 {
        self.sums.get(i).copied().unwrap_or(0.0) as f64 - self.comp.get(i).copied().unwrap_or(0.0) as f64
    }

    /// `sum[i] += v`, compensated when the sums are (nothing past the end).
    pub(crate) fn add(&mut self, i: usize, v: f32) {
        match (self.sums.get_mut(i), self.comp.get_mut(i)) {
            (Some(s), Some(c)) => kahan_add(s, c, v),
            (Some(s), None) => *s += v,
            (None, _) => {}
        }
    }

    /// Adds `values` element by element (as far as both go).
    pub(crate) fn add_all(&mut self, values: &[f32]) {
        for (i, &v) in values.iter().enumerate().take(self.sums.len()) {
            self.add(i, v);
        }
    }

    /// Adds `other`'s sums; subtracting its compensation adds what its sums lost.
    pub(crate) fn merge(&mut self, other: &CompensatedSums<'_>) {
        for (i, &v) in other.sums.iter().enumerate().take(self.sums.len()) {
            self.add(i, v);
            if let Some(&c) = other.comp.get(i) {
                self.add(i, -c);
            }
        }
    }

    /// Writes the folded sums (what [`fold`](Self::fold) returns, bit for bit) into `out`
    /// without changing them; `out` must have [`len`](Self::len) values.
    pub(crate) fn copy_folded(&self, what: &'static str, out: &mut [f32]) -> crate::Result<()> {
        if out.len() != self.sums.len() {
            return Err(crate::Error::Shape { what, expected: self.sums.len(), found: out.len() });
        }
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.get(i);
        }
        Ok(())
    }

    /// Folds the compensation into the sums (one rounding each) and returns them.
    pub(crate) fn fold(&mut self) -> &[f32] {
        for (s, c) in self.sums.iter_mut().zip(self.comp.iter_mut()) {
            *s -= *c;
            *c = 0.0;
        }
        self.sums
    }
}
