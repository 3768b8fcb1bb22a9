//! [`CodebookI8`]: the int8 codebook with its scale, exact integer distances; its owned form
//! [`CodebookI8Owned`] and [`quantize_i8`].

use super::search::{check_codebook, check_finite, matrix_dims};
use super::NearestI8;
use crate::formats::safetensors::SafeTensors;
use crate::formats::DType;
use crate::{Error, Result};
use fvae_kernels::vq as k;

/// Quantises `x` to int8 with `scale`: `q = round(x / scale)`, rounding half away from zero,
/// clamped to [-127, 127] (symmetric, as the codebook's own quantisation). `out.len()` must
/// equal `x.len()`; non-finite values and a scale that is not finite and > 0 are errors.
///
/// ```
/// let mut q = [0i8; 4];
/// fvae::vq::quantize_i8(&[0.25, -0.75, 100.0, 0.1], 0.5, &mut q)?;
/// assert_eq!(q, [1, -2, 127, 0]);
/// # Ok::<(), fvae::Error>(())
/// ```
pub fn quantize_i8(x: &[f32], scale: f32, out: &mut [i8]) -> Result<()> {
    if !(scale.is_finite() && scale > 0.0) {
        return Err(Error::Value { what: "scale", index: 0, reason: "must be finite and > 0" });
    }
    if out.len() != x.len() {
        return Err(Error::Shape { what: "quantised query", expected: x.len(), found: out.len() });
    }
    check_finite("query", x, 0)?;
    for (o, &v) in out.iter_mut().zip(x) {
        *o = libm::roundf(v / scale).clamp(-127.0, 127.0) as i8;
    }
    Ok(())
}

/// An int8 codebook `[M, D]` with its scale (`real = scale * q`), searched with exact integer
/// distances (see [`fvae_kernels::vq`] for the bound: exact for D <= 66 051).
///
/// ```
/// use fvae::vq::CodebookI8;
/// let cb = CodebookI8::new(&[0, 0, 10, -10], 2, 0.1)?;
/// let mut q = [0i8; 2];
/// cb.quantize(&[0.9, -1.2], &mut q)?;
/// let n = cb.nearest(&q)?;
/// assert_eq!((q, n.index, n.distance), ([9, -12], 1, 1 + 4));
/// # Ok::<(), fvae::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct CodebookI8<'a> {
    m: usize,
    d: usize,
    data: &'a [i8],
    scale: f32,
    /// Norms and codewords side by side for the nearest search ([`CodebookI8::pack`]).
    packed: Option<k::I8Packed<'a>>,
}

impl<'a> CodebookI8<'a> {
    /// A codebook of `data.len() / d` int8 codewords with `scale` (finite, > 0).
    pub fn new(data: &'a [i8], d: usize, scale: f32) -> Result<Self> {
        let m = check_codebook("codebook", data.len(), d)?;
        if d > 66_051 {
            return Err(Error::Unsupported { what: "int8 codeword dimension above 66 051 (u32 distances)", index: d });
        }
        if m > u32::MAX as usize {
            return Err(Error::Unsupported { what: "more than 2^32 codewords", index: m });
        }
        if !(scale.is_finite() && scale > 0.0) {
            return Err(Error::Value { what: "scale", index: 0, reason: "must be finite and > 0" });
        }
        Ok(CodebookI8 { m, d, data, scale, packed: None })
    }

    /// Words of storage [`pack`](Self::pack) needs: `(M + 1) (1 + ceil(D / 4))` (a norm and the
    /// codeword's bytes per codeword, and an end marker).
    pub const fn packed_len(m: usize, d: usize) -> usize {
        k::i8_packed_len(m, d)
    }

    /// Stores each codeword's squared norm next to a copy of its bytes in `storage` (at least
    /// [`packed_len(M, D)`](Self::packed_len) words; 5 140 bytes for M = 256, D = 16, beside the
    /// 4 096 of the codebook) and returns a codebook whose [`nearest`](Self::nearest) ranks by
    /// `|c|^2 - 2 x.c`: on Cortex-M4/M7/M33 with D = 13..16 an `smlad` scan of 20 instructions per
    /// codeword instead of about 60. Results are identical (exact integers); other searches are
    /// unchanged.
    ///
    /// Errors: `storage` too short ([`Error::BufferTooSmall`]), D above 32 768
    /// ([`Error::Unsupported`]).
    ///
    /// ```
    /// use fvae::vq::CodebookI8;
    /// let data = [0, 0, 10, -10];
    /// let mut storage = [0i32; CodebookI8::packed_len(2, 2)];
    /// let cb = CodebookI8::new(&data, 2, 0.1)?.pack(&mut storage)?;
    /// assert_eq!(cb.nearest(&[9, -12])?.distance, 1 + 4);
    /// # Ok::<(), fvae::Error>(())
    /// ```
    pub fn pack(self, storage: &'a mut [i32]) -> Result<Self> {
        let need = Self::packed_len(self.m, self.d);
        if storage.len() < need {
            return Err(Error::BufferTooSmall {
                what: "packed int8 codebook storage",
                needed: need,
                given: storage.len(),
            });
        }
        match k::i8_pack(self.data, self.d, storage) {
            Some(p) => Ok(CodebookI8 { packed: Some(p), ..self }),
            None => Err(Error::Unsupported { what: "packing int8 codewords longer than 32 768", index: self.d }),
        }
    }

    /// The `codebook` (i8 `[M, D]`) and `scale` (f32, one value: shape `[1]` or `[]`) tensors of
    /// a `.safetensors` file, the codewords read in place.
    pub fn from_safetensors(file: &SafeTensors<'a>) -> Result<Self> {
        let t = file.tensor("codebook")?;
        let (_, d) = matrix_dims("codebook rank", &t)?;
        let scale = read_scale(file)?;
        Self::new(t.as_i8("codebook")?, d, scale)
    }

    /// Number of codewords M.
    pub fn m(&self) -> usize {
        self.m
    }

    /// Codeword dimension D.
    pub fn d(&self) -> usize {
        self.d
    }

    /// The quantisation scale.
    pub fn scale(&self) -> f32 {
        self.scale
    }

    /// The codewords `[M, D]`, row-major.
    pub fn data(&self) -> &'a [i8] {
        self.data
    }

    /// Quantises an f32 query to this codebook's scale ([`quantize_i8`]).
    pub fn quantize(&self, x: &[f32], out: &mut [i8]) -> Result<()> {
        if x.len() != self.d {
            return Err(Error::Shape { what: "query", expected: self.d, found: x.len() });
        }
        quantize_i8(x, self.scale, out)
    }

    /// The nearest codeword of the int8 query `x` (length D), exact.
    pub fn nearest(&self, x: &[i8]) -> Result<NearestI8> {
        if let Some(p) = &self.packed {
            if let Some((j, v)) = k::i8_nearest_packed(x, p) {
                return Ok(NearestI8 { index: j as u32, distance: v });
            }
        }
        let (mut idx, mut dist) = ([0u32], [0u32]);
        self.top_k(x, &mut idx, &mut dist)?;
        Ok(NearestI8 { index: idx[0], distance: dist[0] })
    }

    /// The `k = idx.len()` nearest codewords of `x`, ascending distance, ties by index, into
    /// `idx` and `dist` (same length); returns `min(k, M)`.
    pub fn top_k(&self, x: &[i8], idx: &mut [u32], dist: &mut [u32]) -> Result<usize> {
        if x.len() != self.d {
            return Err(Error::Shape { what: "query", expected: self.d, found: x.len() });
        }
        if dist.len() != idx.len() {
            return Err(Error::Shape { what: "top-k distances", expected: idx.len(), found: dist.len() });
        }
        let kk = idx.len().min(self.m);
        if kk == 0 {
            // k = 0 asks for nothing (found by fuzz/fv_vq: the insertion below reads dist[kk - 1]).
            return Ok(0);
        }
        let (idx, dist) = (&mut idx[..kk], &mut dist[..kk]);
        let mut len = 0;
        let mut buf = [0u32; 64];
        // `max(1)` and `get`: D >= 1 and a chunk's rows <= 64, which the optimiser cannot see.
        let d = self.d.max(1);
        // (Saturating: a chunk larger than the data is the whole data, fewer than 64 rows.)
        for (chunk_no, chunk) in self.data.chunks(d.saturating_mul(64)).enumerate() {
            let Some(out) = buf.get_mut(..chunk.len() / d) else { break };
            k::i8_sq_distances(x, chunk, out);
            if kk == 1 {
                if let Some((j, v)) = k::argmin_u32(out) {
                    if len == 0 || v < dist[0] {
                        (idx[0], dist[0], len) = ((chunk_no * 64 + j) as u32, v, 1);
                    }
                }
                continue;
            }
            for (j, &v) in out.iter().enumerate() {
                if len == kk && dist.last().is_some_and(|&last| v >= last) {
                    continue;
                }
                // Insertion with `get`: `p < kk` throughout, which the optimiser cannot see.
                let mut p = if len == kk { kk - 1 } else { len };
                while p > 0 {
                    let (Some(&dp), Some(&ip)) = (dist.get(p - 1), idx.get(p - 1)) else { break };
                    if dp <= v {
                        break;
                    }
                    if let (Some(d), Some(i)) = (dist.get_mut(p), idx.get_mut(p)) {
                        (*d, *i) = (dp, ip);
                    }
                    p -= 1;
                }
                if let (Some(d), Some(i)) = (dist.get_mut(p), idx.get_mut(p)) {
                    (*d, *i) = (v, (chunk_no * 64 + j) as u32);
                }
                len = (len + 1).min(kk);
            }
        }
        Ok(kk)
    }

    /// Nearest codewords of N int8 queries `xs` `[N, D]` into `idx` and `dist` (length N).
    pub fn nearest_batch(&self, xs: &[i8], idx: &mut [u32], dist: &mut [u32]) -> Result<()> {
        self.top_k_batch(xs, 1, idx, dist).map(|_| ())
    }

    /// The `k` nearest codewords of each of N int8 queries: `idx`, `dist` are `[N, k]`.
    pub fn top_k_batch(&self, xs: &[i8], k: usize, idx: &mut [u32], dist: &mut [u32]) -> Result<usize> {
        let d = self.d.max(1); // D >= 1 by construction, which the optimiser cannot see
        if !xs.len().is_multiple_of(d) {
            return Err(Error::Shape { what: "queries", expected: xs.len() / d * d + d, found: xs.len() });
        }
        let n = xs.len() / d;
        if idx.len() != n * k || dist.len() != n * k {
            return Err(Error::Shape { what: "indices/distances", expected: n * k, found: idx.len().min(dist.len()) });
        }
        if k == 0 {
            return Ok(0);
        }
        for ((x, i), dd) in xs.chunks_exact(d).zip(idx.chunks_exact_mut(k)).zip(dist.chunks_exact_mut(k)) {
            self.top_k(x, i, dd)?;
        }
        Ok(k.min(self.m))
    }
}

/// The f32 `scale` tensor: one value, shape `[1]` or `[]`, any alignment.
fn read_scale(file: &SafeTensors<'_>) -> Result<f32> {
    let s = file.tensor("scale")?;
    if s.dtype() != DType::F32 {
        return Err(Error::DType { what: "scale", expected: "f32", found: s.dtype().name() });
    }
    match s.bytes() {
        [a, b, c, d] => Ok(f32::from_le_bytes([*a, *b, *c, *d])),
        other => Err(Error::Shape { what: "scale", expected: 1, found: other.len() / 4 }),
    }
}

/// An int8 codebook with M and D known at compile time, owning its codewords.
///
/// ```
/// use fvae::vq::CodebookI8Owned;
/// let cb = CodebookI8Owned::<2, 2>::new([[0, 0], [100, -100]], 0.01)?;
/// assert_eq!(cb.view().nearest(&[90, -90])?.index, 1);
/// # Ok::<(), fvae::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct CodebookI8Owned<const M: usize, const D: usize> {
    data: [[i8; D]; M],
    scale: f32,
}

impl<const M: usize, const D: usize> CodebookI8Owned<M, D> {
    /// Validates as [`CodebookI8::new`].
    pub fn new(data: [[i8; D]; M], scale: f32) -> Result<Self> {
        CodebookI8::new(data.as_flattened(), D, scale)?;
        Ok(CodebookI8Owned { data, scale })
    }

    /// Copies `codebook` (i8 `[M, D]` exactly) and `scale` out of a `.safetensors` file.
    pub fn from_safetensors(file: &SafeTensors<'_>) -> Result<Self> {
        let t = file.tensor("codebook")?;
        t.expect_shape("codebook", &[M, D])?;
        let src = t.as_i8("codebook")?;
        let mut data = [[0i8; D]; M];
        data.as_flattened_mut().copy_from_slice(src);
        Self::new(data, read_scale(file)?)
    }

    /// The borrowed view every search runs on.
    pub fn view(&self) -> CodebookI8<'_> {
        CodebookI8 { m: M, d: D, data: self.data.as_flattened(), scale: self.scale, packed: None }
    }
}
