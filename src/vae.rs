//! A VAE decoder over an int8 [`Network`]: float latents in, float or int8 outputs out.
//!
//! The latent `z` is quantised with the network input's scale and zero point,
//! `q = clamp(round(z / scale) + zero_point, -128, 127)` with ties rounded away from zero (as
//! TFLite's QUANTIZE), written straight into the interpreter's input, and the network runs
//! bit-exactly as TFLite Micro would. Outputs are int8 as computed, or dequantised,
//! `scale * (q - zero_point)`.
//!
//! ```
//! use fvae::nn::Network;
//! use fvae::vae::Decoder;
//! let model = include_bytes!("../tests/data/tflite/mlp_decoder.tflite");
//! let net = Network::new(model)?;
//! let mut arena = [0u8; 40 * 1024];
//! let mut dec = Decoder::new(&net, &mut arena)?;
//! let mut image = [0f32; 64];
//! dec.decode(&[0.0; 8], &mut image)?; // the decoder's output for the prior's mean
//! assert!(image.iter().all(|p| (0.0..=1.0).contains(p)));
//! let mut halfway = [0f32; 64];
//! dec.interpolate(&[-1.0; 8], &[1.0; 8], 0.5, &mut halfway)?;
//! assert_eq!(halfway, image);
//! # Ok::<(), fvae::Error>(())
//! ```

use crate::formats::tflite::TensorType;
use crate::nn::{Interpreter, Network, TensorInfo};
use crate::{Error, Result};

/// A decoder: a [`Network`] with one int8 input (the latent) and one int8 output.
#[derive(Debug)]
pub struct Decoder<'a, 'm> {
    it: Interpreter<'a, 'm>,
    input: TensorInfo,
    output: TensorInfo,
}

/// Quantises `z` with `scale` and `zero_point` as TFLite's QUANTIZE does (f32 division, ties
/// away from zero, clamped to int8). Non-finite values are an error naming their index.
///
/// ```
/// let mut q = [0i8; 4];
/// fvae::vae::quantize(&[0.05, -0.05, 100.0, 0.0], 0.1, 3, &mut q)?;
/// assert_eq!(q, [4, 2, 127, 3]);
/// # Ok::<(), fvae::Error>(())
/// ```
pub fn quantize(z: &[f32], scale: f32, zero_point: i32, out: &mut [i8]) -> Result<()> {
    if z.len() != out.len() {
        return Err(Error::Shape { what: "latent", expected: out.len(), found: z.len() });
    }
    for (i, (o, &v)) in out.iter_mut().zip(z).enumerate() {
        *o = quantize_one(v, scale, zero_point).ok_or(Error::Value {
            what: "latent",
            index: i,
            reason: "not finite",
        })?;
    }
    Ok(())
}

fn quantize_one(v: f32, scale: f32, zero_point: i32) -> Option<i8> {
    if !v.is_finite() {
        return None;
    }
    let q = libm::roundf(v / scale);
    // Saturate before the integer conversion (out-of-range floats clamp, as on Arm).
    Some((q.clamp(-1e6, 1e6) as i32 + zero_point).clamp(-128, 127) as i8)
}

impl<'a, 'm> Decoder<'a, 'm> {
    /// Prepares `net` in `arena` (at least [`Network::required_arena`] bytes). The network must
    /// have one int8 input and one int8 output with valid quantisation.
    pub fn new(net: &'a Network<'m>, arena: &'a mut [u8]) -> Result<Self> {
        let (input, output) = (net.input(0)?, net.output(0)?);
        for (t, what) in [(&input, "decoder input"), (&output, "decoder output")] {
            if t.dtype != TensorType::Int8 {
                return Err(Error::DType { what, expected: "i8", found: t.dtype.name() });
            }
            if !(t.scale.is_finite() && t.scale > 0.0) {
                return Err(Error::Value { what, index: 0, reason: "scale not finite and positive" });
            }
        }
        Ok(Decoder { it: net.interpreter(arena)?, input, output })
    }

    /// The latent dimension.
    pub fn latent_len(&self) -> usize {
        self.input.len
    }

    /// The number of output values.
    pub fn output_len(&self) -> usize {
        self.output.len
    }

    /// The input (latent) tensor's shape and quantisation.
    pub fn input_info(&self) -> TensorInfo {
        self.input
    }

    /// The output tensor's shape and quantisation.
    pub fn output_info(&self) -> TensorInfo {
        self.output
    }

    /// Runs the decoder on an already quantised latent; returns the int8 output.
    pub fn decode_quantized(&mut self, zq: &[i8]) -> Result<&[i8]> {
        let input = self.it.input_i8_mut(0)?;
        if zq.len() != input.len() {
            return Err(Error::Shape { what: "latent", expected: input.len(), found: zq.len() });
        }
        input.copy_from_slice(zq);
        self.it.invoke()?;
        self.it.output_i8(0)
    }

    /// Runs the decoder on a float latent; returns the int8 output.
    pub fn decode_i8(&mut self, z: &[f32]) -> Result<&[i8]> {
        self.set_latent(|i| z.get(i).copied(), z.len())?;
        self.it.invoke()?;
        self.it.output_i8(0)
    }

    /// Runs the decoder on a float latent and dequantises the output into `out`.
    pub fn decode(&mut self, z: &[f32], out: &mut [f32]) -> Result<()> {
        self.set_latent(|i| z.get(i).copied(), z.len())?;
        self.run_into(out)
    }

    /// Decodes `(1 - t) z0 + t z1` (linear interpolation between two latents) into `out`.
    pub fn interpolate(&mut self, z0: &[f32], z1: &[f32], t: f32, out: &mut [f32]) -> Result<()> {
        if z0.len() != z1.len() {
            return Err(Error::Shape { what: "second latent", expected: z0.len(), found: z1.len() });
        }
        self.set_latent(|i| Some((1.0 - t) * *z0.get(i)? + t * *z1.get(i)?), z0.len())?;
        self.run_into(out)
    }

    /// VQ-VAE decoding: the latent is the concatenation of the codewords `codes[i]` of
    /// `codebook` (so `codes.len() * codebook.d()` must be [`Decoder::latent_len`]); decoded into
    /// `out`. An index past the codebook is an error naming its position.
    ///
    /// ```
    /// use fvae::{nn::Network, vae::Decoder, vq::Codebook};
    /// let net = Network::new(include_bytes!("../tests/data/tflite/mlp_decoder.tflite"))?;
    /// let mut arena = [0u8; 40 * 1024];
    /// let mut dec = Decoder::new(&net, &mut arena)?;
    /// let rows = [0.0f32, 0.5, -0.5, 1.0, 0.25, -1.0, 2.0, 0.0]; // 4 codewords of 2
    /// let codebook = Codebook::new(&rows, 2)?;
    /// let (mut a, mut b) = ([0f32; 64], [0f32; 64]);
    /// dec.decode_codes(&codebook, &[3, 0, 1, 2], &mut a)?;
    /// dec.decode(&[2.0, 0.0, 0.0, 0.5, -0.5, 1.0, 0.25, -1.0], &mut b)?;
    /// assert_eq!(a, b);
    /// # Ok::<(), fvae::Error>(())
    /// ```
    pub fn decode_codes(&mut self, codebook: &crate::vq::Codebook<'_>, codes: &[u32], out: &mut [f32]) -> Result<()> {
        self.set_codes(codebook, codes)?;
        self.run_into(out)
    }

    /// [`decode_codes`](Self::decode_codes) with the int8 output as computed.
    ///
    /// ```
    /// use fvae::{nn::Network, vae::Decoder, vq::Codebook};
    /// let net = Network::new(include_bytes!("../tests/data/tflite/mlp_decoder.tflite"))?;
    /// let mut arena = [0u8; 40 * 1024];
    /// let mut dec = Decoder::new(&net, &mut arena)?;
    /// let codebook = Codebook::new(&[0.0f32, 0.5, -0.5, 1.0], 2)?;
    /// let y = dec.decode_codes_i8(&codebook, &[1, 0, 0, 1])?.to_vec();
    /// assert_eq!(y, dec.decode_i8(&[-0.5, 1.0, 0.0, 0.5, 0.0, 0.5, -0.5, 1.0])?);
    /// assert!(dec.decode_codes_i8(&codebook, &[1, 0, 2, 1]).is_err()); // no codeword 2
    /// # Ok::<(), fvae::Error>(())
    /// ```
    pub fn decode_codes_i8(&mut self, codebook: &crate::vq::Codebook<'_>, codes: &[u32]) -> Result<&[i8]> {
        self.set_codes(codebook, codes)?;
        self.it.invoke()?;
        self.it.output_i8(0)
    }

    fn set_codes(&mut self, codebook: &crate::vq::Codebook<'_>, codes: &[u32]) -> Result<()> {
        let d = codebook.d();
        if codes.len() * d != self.input.len {
            return Err(Error::Shape {
                what: "codes x codeword length",
                expected: self.input.len,
                found: codes.len() * d,
            });
        }
        for (i, &c) in codes.iter().enumerate() {
            if codebook.codeword(c as usize).is_none() {
                return Err(Error::Value { what: "codes", index: i, reason: "index past the end of the codebook" });
            }
        }
        let z = |i: usize| codebook.codeword(*codes.get(i / d.max(1))? as usize)?.get(i % d.max(1)).copied();
        self.set_latent(z, self.input.len)
    }

    /// Draws `z ~ N(0, I)` from `rng` and decodes it into `out`. The latent drawn is written to
    /// `z` (its length must be [`Decoder::latent_len`]).
    #[cfg(feature = "rand")]
    pub fn sample<R: rand_core::Rng + ?Sized>(&mut self, rng: &mut R, z: &mut [f32], out: &mut [f32]) -> Result<()> {
        if z.len() != self.input.len {
            return Err(Error::Shape { what: "latent", expected: self.input.len, found: z.len() });
        }
        for v in z.iter_mut() {
            *v = standard_normal(rng);
        }
        self.decode(z, out)
    }

    fn set_latent(&mut self, z: impl Fn(usize) -> Option<f32>, len: usize) -> Result<()> {
        let (scale, zp) = (self.input.scale, self.input.zero_point);
        let input = self.it.input_i8_mut(0)?;
        if len != input.len() {
            return Err(Error::Shape { what: "latent", expected: input.len(), found: len });
        }
        for (i, q) in input.iter_mut().enumerate() {
            let v = z(i).ok_or(Error::Shape { what: "latent", expected: len, found: i })?;
            *q = quantize_one(v, scale, zp).ok_or(Error::Value { what: "latent", index: i, reason: "not finite" })?;
        }
        Ok(())
    }

    fn run_into(&mut self, out: &mut [f32]) -> Result<()> {
        if out.len() != self.output.len {
            return Err(Error::Shape { what: "decoder output", expected: self.output.len, found: out.len() });
        }
        self.it.invoke()?;
        let (scale, zp) = (self.output.scale, self.output.zero_point);
        for (o, &q) in out.iter_mut().zip(self.it.output_i8(0)?) {
            *o = scale * (q as i32 - zp) as f32;
        }
        Ok(())
    }
}

/// One standard normal draw (Box-Muller on two 53-bit uniforms; the first uniform is kept in
/// (0, 1] so the logarithm is finite).
///
/// ```
/// # #[cfg(feature = "rand")] {
/// struct Counter(u64);
/// impl rand_core::TryRng for Counter {
///     type Error = core::convert::Infallible;
///     fn try_next_u32(&mut self) -> Result<u32, Self::Error> { Ok(self.try_next_u64()? as u32) }
///     fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
///         self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
///         Ok(self.0)
///     }
///     fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), Self::Error> { Ok(()) }
/// }
/// let mut rng = Counter(1);
/// let x = fvae::vae::standard_normal(&mut rng);
/// assert!(x.is_finite());
/// # }
/// ```
#[cfg(feature = "rand")]
pub fn standard_normal<R: rand_core::Rng + ?Sized>(rng: &mut R) -> f32 {
    let unit = |r: &mut R| ((r.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    let (u1, u2) = (unit(rng), unit(rng));
    (libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(2.0 * core::f64::consts::PI * u2)) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL: &[u8] = include_bytes!("../tests/data/tflite/mlp_decoder.tflite");

    #[test]
    fn float_latent_matches_quantised_fixture_path() {
        let net = Network::new(MODEL).unwrap();
        let mut arena = [0u8; 40 * 1024];
        let mut dec = Decoder::new(&net, &mut arena).unwrap();
        let info = dec.input_info();
        // A latent exactly on the quantisation grid decodes like its int8 codes.
        let codes: [i8; 8] = [-128, -3, 0, 8, 9, 50, 100, 127];
        let z: [f32; 8] = codes.map(|q| info.scale * (q as i32 - info.zero_point) as f32);
        let want: [i8; 64] = dec.decode_quantized(&codes).unwrap().try_into().unwrap();
        assert_eq!(dec.decode_i8(&z).unwrap(), &want[..]);
        // Non-finite latents and wrong lengths are errors.
        assert!(matches!(dec.decode_i8(&[f32::NAN; 8]), Err(Error::Value { index: 0, .. })));
        let mut out = [0f32; 63];
        assert!(matches!(dec.decode(&z, &mut out), Err(Error::Shape { .. })));
    }

    #[test]
    fn quantize_ties_away_from_zero() {
        let mut q = [0i8; 4];
        quantize(&[0.25, -0.25, 0.75, -0.75], 0.5, 0, &mut q).unwrap();
        assert_eq!(q, [1, -1, 2, -2]);
        assert!(quantize(&[f32::INFINITY], 0.5, 0, &mut q[..1]).is_err());
    }

    #[cfg(feature = "rand")]
    #[test]
    fn sampling_is_standard_normal() {
        struct Lcg(u64);
        impl rand_core::TryRng for Lcg {
            type Error = core::convert::Infallible;
            fn try_next_u32(&mut self) -> core::result::Result<u32, Self::Error> {
                Ok((self.try_next_u64()? >> 32) as u32)
            }
            fn try_next_u64(&mut self) -> core::result::Result<u64, Self::Error> {
                self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                Ok(self.0)
            }
            fn try_fill_bytes(&mut self, _: &mut [u8]) -> core::result::Result<(), Self::Error> {
                Ok(())
            }
        }
        let mut rng = Lcg(7);
        let n = 20000;
        let (mut s1, mut s2) = (0f64, 0f64);
        for _ in 0..n {
            let x = standard_normal(&mut rng) as f64;
            s1 += x;
            s2 += x * x;
        }
        let mean = s1 / n as f64;
        let var = s2 / n as f64 - mean * mean;
        assert!(mean.abs() < 0.03 && (var - 1.0).abs() < 0.05, "mean {mean} var {var}");
        let net = Network::new(MODEL).unwrap();
        let mut arena = [0u8; 40 * 1024];
        let mut dec = Decoder::new(&net, &mut arena).unwrap();
        let (mut z, mut out) = ([0f32; 8], [0f32; 64]);
        dec.sample(&mut rng, &mut z, &mut out).unwrap();
        assert!(z.iter().any(|&v| v != 0.0));
    }
}
