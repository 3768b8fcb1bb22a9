//! [`ResidualVq`]: S stages of f32 codebooks, greedy encoding and decoding by sums.

use super::search::{check_codebook, max_norm};
use super::Codebook;
use crate::error::check_finite;
use crate::formats::safetensors::SafeTensors;
use crate::{Error, Result};

/// Residual VQ: S stages of `[M, D]` f32 codebooks. Encoding is greedy: stage s takes the
/// nearest codeword of the residual left by stages `0..s` (`r <- r - c`, in f32); decoding sums
/// the chosen codewords (in stage order, in f32).
///
/// ```
/// use fvae::vq::ResidualVq;
/// // Two stages of two codewords in 1-D: coarse {0, 10}, fine {-1, 1}.
/// let rvq = ResidualVq::new(&[0.0, 10.0, -1.0, 1.0], 2, 1)?;
/// let (mut codes, mut residual) = ([0u32; 2], [0.0f32; 1]);
/// rvq.encode(&[8.7], &mut codes, &mut residual)?;
/// let mut y = [0.0f32; 1];
/// rvq.decode(&codes, &mut y)?;
/// assert_eq!((codes, y), ([1, 0], [9.0]));
/// # Ok::<(), fvae::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ResidualVq<'a> {
    s: usize,
    m: usize,
    d: usize,
    data: &'a [f32],
    /// The largest codeword norm of any stage: each stage's search bound, computed once.
    max_norm: f64,
}

impl<'a> ResidualVq<'a> {
    /// `s` stages over `data` `[S, M, D]` (row-major), M = `data.len() / (s * d)`.
    pub fn new(data: &'a [f32], s: usize, d: usize) -> Result<Self> {
        if s == 0 {
            return Err(Error::Empty { what: "residual stages" });
        }
        let m = check_codebook("codebooks", data.len(), d)?;
        if m % s != 0 {
            return Err(Error::Shape { what: "codebooks", expected: (m / s + 1) * s * d, found: data.len() });
        }
        if m / s > u32::MAX as usize {
            return Err(Error::Unsupported { what: "more than 2^32 codewords per stage", index: m / s });
        }
        // Validated here once: stages are then views that encode and decode do not re-check.
        check_finite("codebooks", data, 0)?;
        Ok(ResidualVq { s, m: m / s, d, data, max_norm: max_norm(data, d) })
    }

    /// The `codebooks` tensor (f32 `[S, M, D]`) of a `.safetensors` file, read in place.
    pub fn from_safetensors(file: &SafeTensors<'a>) -> Result<Self> {
        let t = file.tensor("codebooks")?;
        let (s, d) = match t.shape().dims() {
            [s, _, d] => (*s, *d),
            dims => return Err(Error::Shape { what: "codebooks rank", expected: 3, found: dims.len() }),
        };
        Self::new(t.as_f32("codebooks")?, s, d)
    }

    /// Number of stages S.
    pub fn stages(&self) -> usize {
        self.s
    }

    /// Codewords per stage M.
    pub fn m(&self) -> usize {
        self.m
    }

    /// Dimension D.
    pub fn d(&self) -> usize {
        self.d
    }

    /// Stage `i`'s codebook (a view: the data was checked by [`ResidualVq::new`]).
    pub fn stage(&self, i: usize) -> Result<Codebook<'a>> {
        let md = self.m * self.d; // <= data.len(): new checked it
        let data = i.checked_mul(md).and_then(|at| self.data.get(at..at.checked_add(md)?)).ok_or(Error::Value {
            what: "stage",
            index: i,
            reason: "past the last stage",
        })?;
        Ok(Codebook::prevalidated(data, self.m, self.d, self.max_norm))
    }

    /// Codeword `code` of stage `i`, if both are in range.
    fn codeword(&self, i: usize, code: usize) -> Option<&'a [f32]> {
        let at = i.checked_mul(self.m)?.checked_add(code).filter(|_| code < self.m)?.checked_mul(self.d)?;
        self.data.get(at..at.checked_add(self.d)?)
    }

    /// Greedy encoding of `x` (length D) into `codes` (length S); `residual` (length D) is
    /// scratch and ends holding what the codes leave unexplained, `x - decode(codes)`.
    pub fn encode(&self, x: &[f32], codes: &mut [u32], residual: &mut [f32]) -> Result<()> {
        if x.len() != self.d || residual.len() != self.d {
            return Err(Error::Shape { what: "query/residual", expected: self.d, found: x.len().min(residual.len()) });
        }
        if codes.len() != self.s {
            return Err(Error::Shape { what: "codes", expected: self.s, found: codes.len() });
        }
        check_finite("query", x, 0)?;
        residual.copy_from_slice(x);
        for (i, code) in codes.iter_mut().enumerate() {
            let cb = self.stage(i)?;
            let n = cb.nearest(residual)?;
            *code = n.index;
            if let Some(c) = cb.codeword(n.index as usize) {
                for (r, &v) in residual.iter_mut().zip(c) {
                    *r -= v;
                }
            }
        }
        Ok(())
    }

    /// The sum of the codewords named by `codes` (length S) into `out` (length D).
    pub fn decode(&self, codes: &[u32], out: &mut [f32]) -> Result<()> {
        if codes.len() != self.s {
            return Err(Error::Shape { what: "codes", expected: self.s, found: codes.len() });
        }
        if out.len() != self.d {
            return Err(Error::Shape { what: "reconstruction", expected: self.d, found: out.len() });
        }
        // Every code is checked before `out` is touched: a rejected decode leaves it as it was.
        if let Some(i) = codes.iter().position(|&code| code as usize >= self.m) {
            return Err(Error::Value { what: "codes", index: i, reason: "index not below M" });
        }
        out.fill(0.0);
        for (i, &code) in codes.iter().enumerate() {
            let c = self.codeword(i, code as usize).ok_or(Error::Value {
                what: "codes",
                index: i,
                reason: "index not below M",
            })?;
            for (o, &v) in out.iter_mut().zip(c) {
                *o += v;
            }
        }
        Ok(())
    }

    /// [`encode`](Self::encode) for N queries `[N, D]` into `codes` `[N, S]`; `residual` is
    /// scratch of length D.
    pub fn encode_batch(&self, xs: &[f32], codes: &mut [u32], residual: &mut [f32]) -> Result<()> {
        // `max(1)`: D, S >= 1 by construction, which the optimiser cannot see.
        let (d, s) = (self.d.max(1), self.s.max(1));
        let n = xs.len() / d;
        if xs.len() != n * d || codes.len() != n * s {
            return Err(Error::Shape { what: "codes", expected: n * s, found: codes.len() });
        }
        for (x, c) in xs.chunks_exact(d).zip(codes.chunks_exact_mut(s)) {
            self.encode(x, c, residual)?;
        }
        Ok(())
    }

    /// [`decode`](Self::decode) for N code rows `[N, S]` into `out` `[N, D]`.
    pub fn decode_batch(&self, codes: &[u32], out: &mut [f32]) -> Result<()> {
        let (d, s) = (self.d.max(1), self.s.max(1)); // >= 1 by construction
        let n = codes.len() / s;
        if codes.len() != n * s || out.len() != n * d {
            return Err(Error::Shape { what: "reconstruction", expected: n * d, found: out.len() });
        }
        for (c, o) in codes.chunks_exact(s).zip(out.chunks_exact_mut(d)) {
            self.decode(c, o)?;
        }
        Ok(())
    }
}
