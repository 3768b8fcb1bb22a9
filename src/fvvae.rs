//! Fisher vectors from a VAE (FV-VAE; Qiu, Yao, Mei, CVPR 2017) and latent-space GMM Fisher
//! vectors, streaming and allocation-free.
//!
//! For descriptors `x_t` (dimension P) an int8 encoder ([`Encoder`], a `.tflite` network) gives
//! latents `z_t` (dimension L): `x_t` is quantised with the encoder input's scale and zero point
//! (round half away from zero, clamped to int8), the network runs bit-exactly as TFLite Micro,
//! and its int8 output is dequantised with the output's scale and zero point. One float decoder
//! layer ([`DecoderLayer`]) gives `u_t = relu(W z_t + b)` and the likelihood
//! `N(x; u, diag var)`. The FV is the gradient of the log-likelihood with respect to `[W b]`,
//! averaged over the T descriptors:
//!
//! `g_t = ((x_t - u_t) / var) * [u_t > 0]`,   `FV = (1/T) sum_t g_t [z_t; 1]^T`,
//!
//! `P x (L + 1)` values, row-major (row p is `[dW_p (L values), db_p]`). [`FvVaeAccumulator`]
//! keeps the sums; normalisation is the GMM Fisher vector's ([`Normalization`]).
//!
//! The latent GMM Fisher vector feeds the encoder's `z_t` to a GMM [`FisherAccumulator`] fitted
//! in latent space ([`push_latent_gmm`], [`push_latent_gmm_batch`]). One encoder run can feed
//! both accumulators: [`Encoder::encode`] then [`FvVaeAccumulator::push_latent`] and
//! [`FisherAccumulator::push`].
//!
//! ```
//! use fvae::fisher::Normalization;
//! use fvae::formats::{safetensors::SafeTensors, AlignedBuf};
//! use fvae::fvvae::{DecoderLayer, Encoder, FvVaeAccumulator, FvVaeOptions};
//! use fvae::nn::Network;
//! let model = include_bytes!("../tests/data/fvvae/encoder.tflite");
//! // In firmware: a static `Aligned` include_bytes!; the layer is read in place.
//! let layer_file = AlignedBuf::from_bytes(include_bytes!("../tests/data/fvvae/decoder_layer.safetensors"));
//! let net = Network::new(model)?;
//! let mut arena = vec![0u8; net.required_arena()];
//! let mut z = [0f32; 8];
//! let mut enc = Encoder::new(&net, &mut arena, &mut z)?;
//! let layer = DecoderLayer::from_safetensors(&SafeTensors::parse(layer_file.as_bytes())?)?;
//! let (p, l) = (layer.p(), layer.l());
//! let mut storage = vec![0f32; FvVaeAccumulator::storage_len(p, l)];
//! let mut acc = FvVaeAccumulator::new(layer, FvVaeOptions::default(), &mut storage)?;
//! acc.push(&mut enc, &[0.5; 16])?;
//! acc.push_batch(&mut enc, &[0.25; 32])?; // two more patches of P = 16
//! let mut fv = vec![0f32; layer.fv_len()];
//! acc.finish(Normalization::IMPROVED, &mut fv)?;
//! assert_eq!((acc.count(), fv.len()), (3, 16 * 9));
//! # Ok::<(), fvae::Error>(())
//! ```

use crate::compensated::CompensatedSums;
use crate::error::check_finite;
use crate::fisher::{FisherAccumulator, Normalization};
use crate::formats::safetensors::SafeTensors;
use crate::formats::tflite::TensorType;
use crate::nn::{Interpreter, Network, TensorInfo};
use crate::{Error, Result};
use fvae_kernels::gaussian::scalar::kahan_add;

/// An int8 encoder: float descriptors in, dequantised float latents out.
///
/// The network must have one int8 input of P values and one int8 output of L values, each with
/// a finite positive scale. The latent lives in caller memory (`z`, at least L values).
///
/// ```
/// use fvae::fvvae::Encoder;
/// use fvae::nn::Network;
/// let net = Network::new(include_bytes!("../tests/data/fvvae/encoder.tflite"))?;
/// let mut arena = vec![0u8; net.required_arena()];
/// let mut z = [0f32; 8];
/// let mut enc = Encoder::new(&net, &mut arena, &mut z)?;
/// assert_eq!((enc.input_len(), enc.latent_len()), (16, 8));
/// let z = enc.encode(&[0.0; 16])?;
/// assert!(z.iter().all(|v| v.is_finite()));
/// assert!(enc.encode(&[f32::NAN; 16]).is_err());
/// # Ok::<(), fvae::Error>(())
/// ```
#[derive(Debug)]
pub struct Encoder<'a, 'm> {
    it: Interpreter<'a, 'm>,
    input: TensorInfo,
    output: TensorInfo,
    z: &'a mut [f32],
}

impl<'a, 'm> Encoder<'a, 'm> {
    /// Prepares `net` in `arena` (at least [`Network::required_arena`] bytes); `z` (at least the
    /// latent length) receives each latent.
    pub fn new(net: &'a Network<'m>, arena: &'a mut [u8], z: &'a mut [f32]) -> Result<Self> {
        let (input, output) = (net.input(0)?, net.output(0)?);
        for (t, what) in [(&input, "encoder input"), (&output, "encoder output")] {
            if t.dtype != TensorType::Int8 {
                return Err(Error::DType { what, expected: "i8", found: t.dtype.name() });
            }
            if !(t.scale.is_finite() && t.scale > 0.0) {
                return Err(Error::Value { what, index: 0, reason: "scale not finite and positive" });
            }
            if t.len == 0 {
                return Err(Error::Empty { what });
            }
        }
        if z.len() < output.len {
            return Err(Error::BufferTooSmall { what: "encoder latent storage", needed: output.len, given: z.len() });
        }
        let z = &mut z[..output.len];
        Ok(Encoder { it: net.interpreter(arena)?, input, output, z })
    }

    /// P, the descriptor length.
    pub fn input_len(&self) -> usize {
        self.input.len
    }

    /// L, the latent length.
    pub fn latent_len(&self) -> usize {
        self.output.len
    }

    /// The input tensor's shape and quantisation.
    pub fn input_info(&self) -> TensorInfo {
        self.input
    }

    /// The output (latent) tensor's shape and quantisation.
    pub fn output_info(&self) -> TensorInfo {
        self.output
    }

    /// Encodes one descriptor: quantise (ties away from zero, clamped to int8), run, dequantise.
    /// A wrong length or a non-finite value is an error (the index is the element's).
    pub fn encode(&mut self, x: &[f32]) -> Result<&[f32]> {
        check_row(x, self.input.len, 0)?;
        let input = self.it.input_i8_mut(0)?;
        crate::vae::quantize(x, self.input.scale, self.input.zero_point, input)?;
        self.run()
    }

    /// Encodes an already quantised descriptor.
    pub fn encode_quantized(&mut self, xq: &[i8]) -> Result<&[f32]> {
        let input = self.it.input_i8_mut(0)?;
        if xq.len() != input.len() {
            return Err(Error::Shape { what: "quantised descriptor", expected: input.len(), found: xq.len() });
        }
        input.copy_from_slice(xq);
        self.run()
    }

    /// The latent of the last [`encode`](Self::encode).
    pub fn latent(&self) -> &[f32] {
        self.z
    }

    /// The int8 latent of the last encode, as the network computed it (before dequantisation).
    ///
    /// ```
    /// use fvae::{fvvae::Encoder, nn::Network};
    /// let net = Network::new(include_bytes!("../tests/data/fvvae/encoder.tflite"))?;
    /// let mut arena = vec![0u8; net.required_arena()];
    /// let mut z = [0f32; 8];
    /// let mut enc = Encoder::new(&net, &mut arena, &mut z)?;
    /// enc.encode(&[0.5; 16])?;
    /// let info = enc.output_info();
    /// let q = enc.latent_i8()?[0];
    /// assert_eq!(enc.latent()[0], info.scale * (q as i32 - info.zero_point) as f32);
    /// # Ok::<(), fvae::Error>(())
    /// ```
    pub fn latent_i8(&self) -> Result<&[i8]> {
        self.it.output_i8(0)
    }

    fn run(&mut self) -> Result<&[f32]> {
        self.it.invoke()?;
        let (scale, zp) = (self.output.scale, self.output.zero_point);
        for (o, &q) in self.z.iter_mut().zip(self.it.output_i8(0)?) {
            *o = scale * (q as i32 - zp) as f32;
        }
        Ok(self.z)
    }
}

/// Checks a descriptor's length and values; errors index the element as `row * len + i`.
fn check_row(x: &[f32], len: usize, row: usize) -> Result<()> {
    if x.len() != len {
        return Err(Error::Shape { what: "descriptor", expected: len, found: x.len() });
    }
    check_finite("descriptor", x, row * len)?;
    Ok(())
}

/// Checks that `xs` is whole rows of `len` with finite values; returns the row count.
fn check_rows(xs: &[f32], len: usize) -> Result<usize> {
    if len == 0 || !xs.len().is_multiple_of(len) {
        return Err(Error::Shape { what: "descriptor batch (a multiple of P)", expected: len, found: xs.len() });
    }
    for (row, x) in xs.chunks_exact(len).enumerate() {
        check_row(x, len, row)?;
    }
    Ok(xs.len() / len)
}

/// The FV-VAE decoder layer `u = relu(W z + b)` with likelihood `N(x; u, diag var)`: `weight`
/// `[P, L]` (row-major), `bias` `[P]`, `variance` `[P]`, borrowed (in place from a
/// `.safetensors` buffer, or any slices). Validated: shapes, finite values, variances > 0.
///
/// ```
/// use fvae::fvvae::DecoderLayer;
/// let layer = DecoderLayer::new(&[1.0, 0.0, 0.0, 1.0], &[0.0, 0.5], &[1.0, 2.0], 2, 2)?;
/// assert_eq!((layer.p(), layer.l(), layer.fv_len()), (2, 2, 6));
/// assert!(DecoderLayer::new(&[1.0; 4], &[0.0; 2], &[1.0, 0.0], 2, 2).is_err()); // zero variance
/// # Ok::<(), fvae::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct DecoderLayer<'a> {
    weight: &'a [f32],
    bias: &'a [f32],
    variance: &'a [f32],
    p: usize,
    l: usize,
}

impl<'a> DecoderLayer<'a> {
    /// A layer over slices: `weight` `[p, l]` row-major, `bias` and `variance` `[p]`.
    pub fn new(weight: &'a [f32], bias: &'a [f32], variance: &'a [f32], p: usize, l: usize) -> Result<Self> {
        if p == 0 || l == 0 {
            return Err(Error::Empty { what: "decoder layer (P or L is 0)" });
        }
        let pl = p.checked_mul(l).ok_or(Error::Value { what: "weight", index: 0, reason: "P * L overflows" })?;
        for (what, v, len) in [("weight", weight, pl), ("bias", bias, p), ("variance", variance, p)] {
            if v.len() != len {
                return Err(Error::Shape { what, expected: len, found: v.len() });
            }
            if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                return Err(Error::Value { what, index: i, reason: "not finite" });
            }
        }
        if let Some(i) = variance.iter().position(|&v| v <= 0.0) {
            return Err(Error::Value { what: "variance", index: i, reason: "must be > 0" });
        }
        Ok(DecoderLayer { weight, bias, variance, p, l })
    }

    /// The layer from a `.safetensors` file with `weight` `[P, L]`, `bias` `[P]` and `variance`
    /// `[P]` (f32, read in place: keep the buffer 4-aligned, e.g. in
    /// [`Aligned`](crate::formats::Aligned)).
    pub fn from_safetensors(file: &SafeTensors<'a>) -> Result<Self> {
        let w = file.tensor("weight")?;
        let dims = w.shape().dims();
        if dims.len() != 2 {
            return Err(Error::Shape { what: "weight (rank)", expected: 2, found: dims.len() });
        }
        let (p, l) = (dims[0], dims[1]);
        let (bias, variance) = (file.tensor("bias")?, file.tensor("variance")?);
        bias.expect_shape("bias", &[p])?;
        variance.expect_shape("variance", &[p])?;
        Self::new(w.as_f32("weight")?, bias.as_f32("bias")?, variance.as_f32("variance")?, p, l)
    }

    /// P, the descriptor (output) dimension.
    pub fn p(&self) -> usize {
        self.p
    }

    /// L, the latent dimension.
    pub fn l(&self) -> usize {
        self.l
    }

    /// The Fisher vector's length, `P (L + 1)`.
    pub const fn fv_len(&self) -> usize {
        self.p * (self.l + 1)
    }

    /// `W` `[P, L]`.
    pub fn weight(&self) -> &'a [f32] {
        self.weight
    }

    /// `b` `[P]`.
    pub fn bias(&self) -> &'a [f32] {
        self.bias
    }

    /// `var` `[P]`.
    pub fn variance(&self) -> &'a [f32] {
        self.variance
    }

    /// The gradient factor `g = ((x - u) / var) * [u > 0]` with `u = W z + b`, into `g` `[P]`.
    /// Lengths are the caller's to check.
    fn gradient(&self, x: &[f32], z: &[f32], g: &mut [f32]) {
        let rows = self.weight.chunks_exact(self.l.max(1)); // (L >= 1, checked by `new`)
        for ((((g, w), &b), &var), &x) in g.iter_mut().zip(rows).zip(self.bias).zip(self.variance).zip(x) {
            let u = w.iter().zip(z).fold(b, |acc, (&w, &z)| acc + w * z);
            *g = if u > 0.0 { (x - u) / var } else { 0.0 };
        }
    }
}

/// How an [`FvVaeAccumulator`] sums. Built from [`FvVaeOptions::DEFAULT`] with the `with_*`
/// methods (usable in a `const`), so that later fields do not break callers.
///
/// ```
/// use fvae::fvvae::FvVaeOptions;
/// const PLAIN: FvVaeOptions = FvVaeOptions::DEFAULT.with_compensated(false);
/// assert!(!PLAIN.compensated);
/// assert_eq!(FvVaeOptions::default(), FvVaeOptions::DEFAULT);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct FvVaeOptions {
    /// Kahan-compensated sums (default `true`). The FV-VAE sum is near-cancelling at a trained
    /// model (the average gradient over the training data is zero), as the GMM Fisher vector's
    /// is. Measured on the fixture's model (`tests/fvvae.rs`, 100 200 descriptors): plain f32
    /// sums 2.5e-5 relative L2 from float64, compensated 1.3e-7; over a 25-patch set both are
    /// 6e-7. Compensation costs `P (L + 1)` more floats and one add per term, small next to
    /// the encoder; `false` is for parts short of RAM with short streams.
    pub compensated: bool,
}

impl FvVaeOptions {
    /// Compensated sums.
    pub const DEFAULT: Self = FvVaeOptions { compensated: true };

    /// These options with `compensated`.
    ///
    /// ```
    /// use fvae::fvvae::FvVaeOptions;
    /// assert!(!FvVaeOptions::DEFAULT.with_compensated(false).compensated);
    /// ```
    pub const fn with_compensated(self, compensated: bool) -> Self {
        FvVaeOptions { compensated }
    }
}

impl Default for FvVaeOptions {
    /// [`FvVaeOptions::DEFAULT`].
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A streaming FV-VAE accumulator over caller memory: the sums `sum_t g_t [z_t; 1]^T`
/// (`P x (L + 1)`) and the count.
///
/// ```
/// use fvae::fisher::Normalization;
/// use fvae::fvvae::{DecoderLayer, FvVaeAccumulator, FvVaeOptions};
/// // P = 2, L = 1: u = relu(z + 0.5, 2 z - 1), unit variances.
/// let layer = DecoderLayer::new(&[1.0, 2.0], &[0.5, -1.0], &[1.0, 1.0], 2, 1)?;
/// let (mut sa, mut sb) = ([0.0; 10], [0.0; 10]); // storage_len(2, 1) = 2 * 2 * 2 + 2
/// let mut a = FvVaeAccumulator::new(layer, FvVaeOptions::default(), &mut sa)?;
/// let mut b = FvVaeAccumulator::new(layer, FvVaeOptions::default(), &mut sb)?;
/// a.push_latent(&[1.0, 1.0], &[0.0])?;   // u = (0.5, 0): g = (0.5, 0)
/// b.push_latent(&[0.0, 2.0], &[1.0])?;   // u = (1.5, 1): g = (-1.5, 1)
/// a.merge(&b)?;
/// let mut fv = [0.0; 4];
/// a.finish(Normalization::NONE, &mut fv)?;
/// assert_eq!(fv, [-0.75, -0.5, 0.5, 0.5]); // rows [dW_p, db_p], averaged over 2
/// # Ok::<(), fvae::Error>(())
/// ```
#[derive(Debug)]
pub struct FvVaeAccumulator<'l, 's> {
    layer: DecoderLayer<'l>,
    options: FvVaeOptions,
    n: u64,
    /// `sum_t g_t [z_t; 1]^T`, `[P, L + 1]`, compensated unless the options say not.
    sums: CompensatedSums<'s>,
    /// Gradient scratch, `[P]`.
    g: &'s mut [f32],
}

impl<'l, 's> FvVaeAccumulator<'l, 's> {
    /// The f32 values of storage a compensated accumulator (the default) needs:
    /// `2 P (L + 1) + P`.
    pub const fn storage_len(p: usize, l: usize) -> usize {
        2 * p * (l + 1) + p
    }

    /// The storage for `options`: [`storage_len`](Self::storage_len) when compensated, else
    /// `P (L + 1) + P`.
    ///
    /// ```
    /// use fvae::fvvae::{FvVaeAccumulator, FvVaeOptions};
    /// assert_eq!(FvVaeAccumulator::storage_len_with(16, 8, FvVaeOptions::DEFAULT.with_compensated(false)), 160);
    /// ```
    pub const fn storage_len_with(p: usize, l: usize, options: FvVaeOptions) -> usize {
        if options.compensated {
            Self::storage_len(p, l)
        } else {
            p * (l + 1) + p
        }
    }

    /// An empty accumulator for `layer` in `storage` (at least
    /// [`storage_len_with(P, L, options)`](Self::storage_len_with) values, zeroed here).
    pub fn new(layer: DecoderLayer<'l>, options: FvVaeOptions, storage: &'s mut [f32]) -> Result<Self> {
        let (p, len) = (layer.p, layer.fv_len());
        let need = Self::storage_len_with(p, layer.l, options);
        if storage.len() < need {
            return Err(Error::BufferTooSmall {
                what: "FV-VAE accumulator storage",
                needed: need,
                given: storage.len(),
            });
        }
        // `get_mut` and `_checked`: the parts fit (`need` is their sum), which the optimiser cannot see.
        let too_small =
            Error::BufferTooSmall { what: "FV-VAE accumulator storage", needed: need, given: storage.len() };
        let storage = storage.get_mut(..need).ok_or(too_small)?;
        let (sums, rest) = storage.split_at_mut_checked(len).ok_or(too_small)?;
        let (comp, g) = rest.split_at_mut_checked(if options.compensated { len } else { 0 }).ok_or(too_small)?;
        let mut acc = FvVaeAccumulator { layer, options, n: 0, sums: CompensatedSums::new(sums, comp), g };
        acc.reset();
        Ok(acc)
    }

    /// Forgets every descriptor pushed so far.
    pub fn reset(&mut self) {
        self.n = 0;
        self.sums.reset();
    }

    /// The decoder layer.
    pub fn layer(&self) -> &DecoderLayer<'l> {
        &self.layer
    }

    /// The options.
    pub fn options(&self) -> FvVaeOptions {
        self.options
    }

    /// Number of descriptors accumulated.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// Encodes `x` with `encoder` and adds it. A rejected descriptor (wrong length, a NaN or
    /// infinite value, an encoder of other sizes, a gradient that overflows f32) leaves the
    /// accumulator as it was.
    pub fn push(&mut self, encoder: &mut Encoder<'_, '_>, x: &[f32]) -> Result<()> {
        self.check_encoder(encoder)?;
        let z = encoder.encode(x)?;
        self.push_checked(x, z, 0)
    }

    /// Adds N descriptors `xs` `[N, P]` (row-major), encoding each. Every row's length and
    /// values are checked before any is taken; the only error after that is a row whose
    /// gradient overflows f32: its flat index is in the error, and exactly the rows before it
    /// were taken.
    pub fn push_batch(&mut self, encoder: &mut Encoder<'_, '_>, xs: &[f32]) -> Result<()> {
        self.check_encoder(encoder)?;
        let p = self.layer.p;
        check_rows(xs, p)?;
        for (row, x) in xs.chunks_exact(p).enumerate() {
            let z = encoder.encode(x)?;
            self.push_checked(x, z, row)?;
        }
        Ok(())
    }

    /// Adds a descriptor `x` `[P]` whose latent `z` `[L]` is already known (from
    /// [`Encoder::encode`], or a float encoder on the host). Rejected input leaves the
    /// accumulator as it was.
    pub fn push_latent(&mut self, x: &[f32], z: &[f32]) -> Result<()> {
        check_row(x, self.layer.p, 0)?;
        if z.len() != self.layer.l {
            return Err(Error::Shape { what: "latent", expected: self.layer.l, found: z.len() });
        }
        check_finite("latent", z, 0)?;
        self.push_checked(x, z, 0)
    }

    fn check_encoder(&self, e: &Encoder<'_, '_>) -> Result<()> {
        if e.input_len() != self.layer.p {
            return Err(Error::Shape { what: "encoder input (P)", expected: self.layer.p, found: e.input_len() });
        }
        if e.latent_len() != self.layer.l {
            return Err(Error::Shape { what: "encoder latent (L)", expected: self.layer.l, found: e.latent_len() });
        }
        Ok(())
    }

    /// `x` and `z` have the right lengths and finite values.
    fn push_checked(&mut self, x: &[f32], z: &[f32], row: usize) -> Result<()> {
        self.layer.gradient(x, z, self.g);
        // Every product g_p z_l (and g_p) is finite iff max|g| max(1, max|z|) is: check before
        // touching the sums, so a rejected descriptor leaves them unchanged.
        let gmax = self.g.iter().fold(0f32, |m, v| m.max(v.abs()));
        let zmax = z.iter().fold(1f32, |m, v| m.max(v.abs()));
        if !(gmax * zmax).is_finite() {
            let i = self.g.iter().position(|v| !(v.abs() * zmax).is_finite()).unwrap_or(0);
            return Err(Error::Value {
                what: "FV-VAE gradient",
                index: row * self.layer.p + i,
                reason: "overflows f32",
            });
        }
        let width = self.layer.l + 1;
        let (sums, comp) = self.sums.parts_mut();
        for (p, &g) in self.g.iter().enumerate() {
            // Rows whose unit is off (u <= 0) contribute exact zeros.
            if g == 0.0 {
                continue;
            }
            // `get_mut` and `split_last_mut`: the sums hold P rows of `width` (sized by `new`),
            // which the optimiser cannot see (never `None`).
            let Some((sb, s)) = sums.get_mut(p * width..(p + 1) * width).and_then(|s| s.split_last_mut()) else {
                continue;
            };
            if self.options.compensated {
                let Some((cb, c)) = comp.get_mut(p * width..(p + 1) * width).and_then(|c| c.split_last_mut()) else {
                    continue;
                };
                for ((s, c), &z) in s.iter_mut().zip(c.iter_mut()).zip(z) {
                    kahan_add(s, c, g * z);
                }
                kahan_add(sb, cb, g);
            } else {
                s.iter_mut().zip(z).for_each(|(s, &z)| *s += g * z);
                *sb += g;
            }
        }
        self.n += 1;
        Ok(())
    }

    /// The sums `sum_t g_t [z_t; 1]^T` (`P x (L + 1)`), for sending to another device. Folds the
    /// compensation into the sums first (one rounding).
    pub fn statistics(&mut self) -> &[f32] {
        self.sums.fold()
    }

    /// The values [`statistics`](Self::statistics) returns, bit for bit, copied into `out`
    /// (`P x (L + 1)`) from a shared reference: the sums are left as they are.
    ///
    /// ```
    /// use fvae::fvvae::{DecoderLayer, FvVaeAccumulator, FvVaeOptions};
    /// let layer = DecoderLayer::new(&[1.0, 2.0], &[0.5, -1.0], &[1.0, 1.0], 2, 1)?;
    /// let mut storage = [0.0; 10];
    /// let mut acc = FvVaeAccumulator::new(layer, FvVaeOptions::DEFAULT, &mut storage)?;
    /// acc.push_latent(&[1.0, 1.0], &[0.0])?;
    /// acc.push_latent(&[0.3, 2.0], &[1.1])?;
    /// let mut out = [0.0; 4];
    /// let shared = &acc;
    /// shared.statistics_to(&mut out)?;
    /// assert!(shared.statistics_to(&mut [0.0; 3]).is_err());
    /// assert_eq!(acc.statistics(), &out[..]);
    /// # Ok::<(), fvae::Error>(())
    /// ```
    pub fn statistics_to(&self, out: &mut [f32]) -> Result<()> {
        self.sums.copy_folded("FV-VAE statistics (P * (L + 1))", out)
    }

    /// Adds another accumulator's descriptors (same P and L; the same layer is the caller's
    /// responsibility, as on two devices each with its copy).
    pub fn merge(&mut self, other: &FvVaeAccumulator<'_, '_>) -> Result<()> {
        self.check_same(other.layer.p, other.layer.l)?;
        self.sums.merge(&other.sums);
        self.n += other.n;
        Ok(())
    }

    /// Adds raw sums (as returned by [`statistics`](Self::statistics)) of `count` descriptors.
    /// Checked before anything is added: a wrong length or a non-finite value leaves the
    /// accumulator as it was.
    pub fn merge_statistics(&mut self, count: u64, sums: &[f32]) -> Result<()> {
        if sums.len() != self.sums.len() {
            return Err(Error::Shape { what: "FV-VAE statistics", expected: self.sums.len(), found: sums.len() });
        }
        check_finite("FV-VAE statistics", sums, 0)?;
        self.sums.add_all(sums);
        self.n += count;
        Ok(())
    }

    fn check_same(&self, p: usize, l: usize) -> Result<()> {
        if p != self.layer.p || l != self.layer.l {
            return Err(Error::Shape {
                what: "merged FV-VAE accumulator (P * (L + 1))",
                expected: self.layer.fv_len(),
                found: p * (l + 1),
            });
        }
        Ok(())
    }

    /// Writes the Fisher vector of everything pushed so far into `out` (`P (L + 1)` values,
    /// row-major: row p is `[dW_p0 .. dW_p(L-1), db_p]`), normalised. The accumulator is
    /// unchanged, so the stream can go on. No descriptor yet is an [`Error::Empty`].
    pub fn finish(&self, normalization: Normalization, out: &mut [f32]) -> Result<()> {
        let len = self.layer.fv_len();
        if out.len() != len {
            return Err(Error::Shape { what: "FV-VAE output", expected: len, found: out.len() });
        }
        if self.n == 0 {
            return Err(Error::Empty { what: "FV-VAE accumulator (no descriptor pushed)" });
        }
        normalization.check()?;
        let n = self.n as f64;
        for (i, o) in out.iter_mut().enumerate() {
            *o = (self.sums.get_f64(i) / n) as f32;
        }
        normalization.apply(out);
        Ok(())
    }
}

/// Encodes `x` and pushes its latent into a GMM Fisher accumulator fitted in latent space (the
/// latent GMM Fisher vector); returns the latent's log-likelihood under the GMM. A rejected
/// descriptor leaves the accumulator unchanged.
///
/// ```
/// use fvae::fisher::{FisherAccumulator, FisherOptions, Layout, Normalization};
/// use fvae::fvvae::{push_latent_gmm, Encoder};
/// use fvae::gmm::DiagGmm;
/// use fvae::nn::Network;
/// let net = Network::new(include_bytes!("../tests/data/fvvae/encoder.tflite"))?;
/// let (mut arena, mut z) = (vec![0u8; net.required_arena()], [0f32; 8]);
/// let mut enc = Encoder::new(&net, &mut arena, &mut z)?;
/// // A two-component GMM in the 8-dimensional latent space.
/// let (w, mu, var) = ([0.5, 0.5], [[-1.0f32; 8], [1.0; 8]], [1.0f32; 16]);
/// let mut c = [0.0; DiagGmm::constants_len(2, 8)];
/// let gmm = DiagGmm::new(&w, mu.as_flattened(), &var, &mut c)?;
/// let mut storage = [0.0; FisherAccumulator::storage_len(2, 8)];
/// let mut acc = FisherAccumulator::new(gmm, FisherOptions::default(), &mut storage)?;
/// push_latent_gmm(&mut enc, &mut acc, &[0.5; 16])?;
/// let mut fv = [0.0; 2 * 2 * 8];
/// acc.finish(Layout::VlFeat, Normalization::IMPROVED, &mut fv)?;
/// # Ok::<(), fvae::Error>(())
/// ```
pub fn push_latent_gmm(encoder: &mut Encoder<'_, '_>, acc: &mut FisherAccumulator<'_, '_>, x: &[f32]) -> Result<f32> {
    check_latent_gmm(encoder, acc)?;
    let z = encoder.encode(x)?;
    acc.push(z)
}

/// [`push_latent_gmm`] over N descriptors `xs` `[N, P]`. Every row is checked before any is
/// taken; after that the only error is a latent too far from every component for f32 (exactly
/// the rows before it were taken).
pub fn push_latent_gmm_batch(
    encoder: &mut Encoder<'_, '_>,
    acc: &mut FisherAccumulator<'_, '_>,
    xs: &[f32],
) -> Result<()> {
    check_latent_gmm(encoder, acc)?;
    let p = encoder.input_len();
    check_rows(xs, p)?;
    for x in xs.chunks_exact(p) {
        let z = encoder.encode(x)?;
        acc.push(z)?;
    }
    Ok(())
}

fn check_latent_gmm(encoder: &Encoder<'_, '_>, acc: &FisherAccumulator<'_, '_>) -> Result<()> {
    if acc.gmm().d() != encoder.latent_len() {
        return Err(Error::Shape {
            what: "latent GMM dimension (D)",
            expected: encoder.latent_len(),
            found: acc.gmm().d(),
        });
    }
    Ok(())
}
