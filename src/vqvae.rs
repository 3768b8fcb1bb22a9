//! A VQ-VAE codec: an int8 encoder turns a signal into a grid of latent vectors, each is replaced
//! by the index of its nearest codeword, and only the indices leave the sensor; a decoder rebuilds
//! the signal from them.
//!
//! - [`VqVaeEncoder`]: the input is quantised with the encoder input's scale and zero point (ties
//!   away from zero, as [`crate::vae::quantize`]), or given as int8; the network runs bit-exactly as
//!   TFLite Micro; its output (`[1, h, w, c]`, or `[1, L c]`) is dequantised and cut into
//!   `L = h w` latent vectors of `c` values (position order, row-major), each mapped to its nearest
//!   codeword of an f32 [`Codebook`] `[M, c]` (fvae's VQ: squared Euclidean, ties to the lowest
//!   index).
//! - [`VqVaeEncoderI8`] (`VqVaeEncoder` over [`CodebookI8`]): the same with an int8 codebook whose
//!   scale is the encoder output's scale and an output zero point of 0 (a TANH output, 1/128 and
//!   0, is one): then codeword `j` means the same real vector as int8 latent bytes equal to it, so
//!   the exact integer search on the raw int8 output is the nearest codeword of the dequantised
//!   latent.
//! - [`VqVaeDecoder`]: the codewords of the indices, in position order, are quantised with the
//!   decoder input's scale and zero point (TFLite's QUANTIZE rounding) and decoded bit-exactly as
//!   TFLite Micro ([`Decoder::decode_codes`]); int8 or dequantised f32 out.
//! - [`pack_indices`] / [`unpack_indices`]: `ceil(log2 M)` bits per index, the bytes a radio sends.
//!
//! ```
//! use fvae::formats::{safetensors::SafeTensors, AlignedBuf};
//! use fvae::nn::Network;
//! use fvae::vq::Codebook;
//! use fvae::vqvae::{pack_indices, packed_len, unpack_indices, VqVaeDecoder, VqVaeEncoder};
//! let enc_net = Network::new(include_bytes!("../tests/data/vqvae/g4_m64/encoder.tflite"))?;
//! let dec_net = Network::new(include_bytes!("../tests/data/vqvae/g4_m64/decoder.tflite"))?;
//! let file = AlignedBuf::from_bytes(include_bytes!("../tests/data/vqvae/g4_m64/codebook.safetensors"));
//! let codebook = Codebook::from_safetensors(&SafeTensors::parse(file.as_bytes())?)?;
//! let (mut enc_arena, mut dec_arena) = (vec![0u8; enc_net.required_arena()], vec![0u8; dec_net.required_arena()]);
//! let mut latent = [0f32; 64];
//! let mut enc = VqVaeEncoder::new(&enc_net, &mut enc_arena, &mut latent, codebook)?;
//! let mut dec = VqVaeDecoder::new(&dec_net, &mut dec_arena, codebook)?;
//!
//! let image = [0.5f32; 64]; // an 8x8 image in [0, 1]
//! let mut indices = [0u32; 16]; // a 4x4 grid of codeword indices
//! enc.encode(&image, &mut indices)?;
//! let mut radio = [0u8; packed_len(16, 64)]; // 6 bits each: 12 bytes
//! pack_indices(&indices, 64, &mut radio)?;
//!
//! let mut received = [0u32; 16];
//! unpack_indices(&radio, 64, &mut received)?;
//! let mut rebuilt = [0f32; 64];
//! dec.decode(&received, &mut rebuilt)?;
//! assert_eq!((received, radio.len()), (indices, 12));
//! # Ok::<(), fvae::Error>(())
//! ```

use crate::fvvae::Encoder;
use crate::nn::{Network, TensorInfo};
use crate::vae::Decoder;
use crate::vq::{Codebook, CodebookI8};
use crate::{Error, Result};

/// The latent grid of an encoder output for codewords of `d` values: `L`, the number of latent
/// vectors. The output must be `[1, h, w, d]` (L = h w) or `[1, L d]`.
fn positions(output: &TensorInfo, d: usize) -> Result<usize> {
    let shape = output.dims.get(..output.rank).unwrap_or(&[]);
    let last = shape.last().copied().unwrap_or(0);
    let fits = match shape.len() {
        4 => last == d,
        2 => last.checked_rem(d) == Some(0),
        _ => {
            return Err(Error::Unsupported {
                what: "encoder output rank (not [1,h,w,c] or [1,L*c])",
                index: shape.len(),
            })
        }
    };
    match output.len.checked_div(d) {
        Some(l) if fits && d > 0 && shape.first() == Some(&1) => Ok(l),
        _ => Err(Error::Shape { what: "encoder output channels (codeword length)", expected: d, found: last }),
    }
}

fn check_indices_len(indices: &[u32], positions: usize) -> Result<()> {
    if indices.len() != positions {
        return Err(Error::Shape { what: "indices", expected: positions, found: indices.len() });
    }
    Ok(())
}

/// A codebook a [`VqVaeEncoder`] can search: the f32 [`Codebook`] (nearest codeword of the
/// dequantised latent vectors) or the int8 [`CodebookI8`] (the exact integer search on the int8
/// latent; its scale must be the encoder output's and the output's zero point 0, so that int8
/// distances are the dequantised ones divided by `scale^2` and the indices are those of the f32
/// search with the codewords `scale * c`). Implemented for those two only.
pub trait LatentCodebook: Copy + sealed::Sealed {
    /// The codeword length c.
    fn codeword_len(&self) -> usize;
    /// Whether this codebook can search the encoder output `output` (an error saying why not).
    fn check_output(&self, output: &TensorInfo) -> Result<()>;
    /// The nearest codeword of each of the latent vectors of `encoder`'s last encode, into `indices`.
    fn search(&self, encoder: &Encoder<'_, '_>, indices: &mut [u32]) -> Result<()>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::vq::Codebook<'_> {}
    impl Sealed for crate::vq::CodebookI8<'_> {}
}

impl LatentCodebook for Codebook<'_> {
    fn codeword_len(&self) -> usize {
        self.d()
    }

    fn check_output(&self, _: &TensorInfo) -> Result<()> {
        Ok(())
    }

    fn search(&self, encoder: &Encoder<'_, '_>, indices: &mut [u32]) -> Result<()> {
        let d = self.d().max(1); // >= 1 by construction
        for (index, z) in indices.iter_mut().zip(encoder.latent().chunks_exact(d)) {
            *index = self.nearest(z)?.index;
        }
        Ok(())
    }
}

impl LatentCodebook for CodebookI8<'_> {
    fn codeword_len(&self) -> usize {
        self.d()
    }

    fn check_output(&self, output: &TensorInfo) -> Result<()> {
        if output.zero_point != 0 {
            return Err(Error::Unsupported {
                what: "int8 codebook search with a nonzero encoder output zero point",
                index: 0,
            });
        }
        if self.scale().to_bits() != output.scale.to_bits() {
            return Err(Error::Value {
                what: "int8 codebook scale",
                index: 0,
                reason: "not the encoder output's scale",
            });
        }
        Ok(())
    }

    fn search(&self, encoder: &Encoder<'_, '_>, indices: &mut [u32]) -> Result<()> {
        let d = self.d().max(1); // >= 1 by construction
        for (index, z) in indices.iter_mut().zip(encoder.latent_i8()?.chunks_exact(d)) {
            *index = self.nearest(z)?.index;
        }
        Ok(())
    }
}

/// An int8 encoder [`Network`] and a codebook ([`LatentCodebook`]: f32 by default, or int8 as
/// [`VqVaeEncoderI8`]): a signal in, one codeword index per latent vector out.
///
/// ```
/// use fvae::{nn::Network, vq::Codebook, vqvae::VqVaeEncoder};
/// let net = Network::new(include_bytes!("../tests/data/vqvae/g4_m16/encoder.tflite"))?;
/// let mut arena = vec![0u8; net.required_arena()];
/// let mut latent = [0f32; 64];
/// let rows = [-0.5f32, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0]; // M = 2 codewords of c = 4
/// let mut enc = VqVaeEncoder::new(&net, &mut arena, &mut latent, Codebook::new(&rows, 4)?)?;
/// assert_eq!((enc.input_len(), enc.positions()), (64, 16));
/// let mut indices = [9u32; 16];
/// enc.encode(&[0.0; 64], &mut indices)?;
/// assert!(indices.iter().all(|&i| i < 2));
/// assert!(enc.encode(&[0.0; 63], &mut indices).is_err());
/// # Ok::<(), fvae::Error>(())
/// ```
#[derive(Debug)]
pub struct VqVaeEncoder<'a, 'm, C: LatentCodebook = Codebook<'a>> {
    encoder: Encoder<'a, 'm>,
    codebook: C,
    positions: usize,
}

/// The encoder with an int8 [`CodebookI8`] on the encoder output's own grid: the nearest codeword by
/// the exact integer search on the network's int8 output (see [`LatentCodebook`]).
///
/// ```
/// use fvae::{nn::Network, vq::CodebookI8, vqvae::VqVaeEncoderI8};
/// let net = Network::new(include_bytes!("../tests/data/vqvae/g4_m16/encoder.tflite"))?;
/// let mut arena = vec![0u8; net.required_arena()];
/// let mut latent = [0f32; 64];
/// let rows = [-64i8, 0, 0, 0, 64, 0, 0, 0];
/// let codebook = CodebookI8::new(&rows, 4, 1.0 / 128.0)?; // the TANH output's scale
/// let mut enc = VqVaeEncoderI8::new(&net, &mut arena, &mut latent, codebook)?;
/// let mut indices = [9u32; 16];
/// enc.encode(&[0.0; 64], &mut indices)?;
/// assert!(indices.iter().all(|&i| i < 2));
/// assert!(VqVaeEncoderI8::new(&net, &mut arena, &mut latent, CodebookI8::new(&rows, 4, 0.01)?).is_err());
/// # Ok::<(), fvae::Error>(())
/// ```
pub type VqVaeEncoderI8<'a, 'm, 'c> = VqVaeEncoder<'a, 'm, CodebookI8<'c>>;

impl<'a, 'm, C: LatentCodebook> VqVaeEncoder<'a, 'm, C> {
    /// Prepares `net` in `arena` (at least [`Network::required_arena`] bytes); `latent` (at least
    /// `L c` floats) receives each dequantised latent. The encoder's output must be
    /// `[1, h, w, c]` or `[1, L c]` with `c` the codebook's codeword length, and fit the codebook
    /// ([`LatentCodebook::check_output`]).
    pub fn new(net: &'a Network<'m>, arena: &'a mut [u8], latent: &'a mut [f32], codebook: C) -> Result<Self> {
        let encoder = Encoder::new(net, arena, latent)?;
        let output = encoder.output_info();
        codebook.check_output(&output)?;
        let positions = positions(&output, codebook.codeword_len())?;
        Ok(VqVaeEncoder { encoder, codebook, positions })
    }

    /// The input length.
    pub fn input_len(&self) -> usize {
        self.encoder.input_len()
    }

    /// L, the number of latent vectors (indices) per input.
    pub fn positions(&self) -> usize {
        self.positions
    }

    /// The codebook.
    pub fn codebook(&self) -> C {
        self.codebook
    }

    /// The dequantised latent of the last encode (`L c` values, position-major).
    pub fn latent(&self) -> &[f32] {
        self.encoder.latent()
    }

    /// The encoder network's input tensor (its quantisation is applied to f32 input).
    pub fn input_info(&self) -> TensorInfo {
        self.encoder.input_info()
    }

    /// Encodes an f32 input into `indices` (L values). A wrong length or a non-finite value is an
    /// error naming the element.
    pub fn encode(&mut self, x: &[f32], indices: &mut [u32]) -> Result<()> {
        check_indices_len(indices, self.positions)?;
        self.encoder.encode(x)?;
        self.codebook.search(&self.encoder, indices)
    }

    /// Encodes an input already quantised with the encoder input's scale and zero point.
    pub fn encode_quantized(&mut self, xq: &[i8], indices: &mut [u32]) -> Result<()> {
        check_indices_len(indices, self.positions)?;
        self.encoder.encode_quantized(xq)?;
        self.codebook.search(&self.encoder, indices)
    }
}

/// An f32 [`Codebook`] and an int8 decoder [`Network`]: indices in, the decoded signal out.
///
/// ```
/// use fvae::{nn::Network, vq::Codebook, vqvae::VqVaeDecoder};
/// let net = Network::new(include_bytes!("../tests/data/vqvae/g4_m16/decoder.tflite"))?;
/// let mut arena = vec![0u8; net.required_arena()];
/// let rows = [-0.5f32, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0];
/// let mut dec = VqVaeDecoder::new(&net, &mut arena, Codebook::new(&rows, 4)?)?;
/// assert_eq!((dec.positions(), dec.output_len()), (16, 64));
/// let mut image = [0f32; 64];
/// dec.decode(&[1; 16], &mut image)?;
/// assert!(image.iter().all(|p| (0.0..=1.0).contains(p)));
/// assert!(dec.decode(&[2; 16], &mut image).is_err()); // no codeword 2
/// # Ok::<(), fvae::Error>(())
/// ```
#[derive(Debug)]
pub struct VqVaeDecoder<'a, 'm, 'c> {
    decoder: Decoder<'a, 'm>,
    codebook: Codebook<'c>,
    positions: usize,
}

impl<'a, 'm, 'c> VqVaeDecoder<'a, 'm, 'c> {
    /// Prepares `net` in `arena`. Its input must be `[1, h, w, c]` or `[1, L c]` with `c` the
    /// codebook's codeword length.
    pub fn new(net: &'a Network<'m>, arena: &'a mut [u8], codebook: Codebook<'c>) -> Result<Self> {
        let decoder = Decoder::new(net, arena)?;
        let positions = positions(&decoder.input_info(), codebook.d())?;
        Ok(VqVaeDecoder { decoder, codebook, positions })
    }

    /// L, the number of indices per signal.
    pub fn positions(&self) -> usize {
        self.positions
    }

    /// The number of output values.
    pub fn output_len(&self) -> usize {
        self.decoder.output_len()
    }

    /// The decoder network's output tensor (its quantisation dequantises [`decode`](Self::decode)'s output).
    pub fn output_info(&self) -> TensorInfo {
        self.decoder.output_info()
    }

    /// The codebook.
    pub fn codebook(&self) -> Codebook<'c> {
        self.codebook
    }

    /// Decodes `indices` (L values) into `out`, dequantised. An index past the codebook is an
    /// error naming its position.
    pub fn decode(&mut self, indices: &[u32], out: &mut [f32]) -> Result<()> {
        check_indices_len(indices, self.positions)?;
        self.decoder.decode_codes(&self.codebook, indices, out)
    }

    /// Decodes `indices` into the decoder's int8 output, as computed.
    pub fn decode_i8(&mut self, indices: &[u32]) -> Result<&[i8]> {
        check_indices_len(indices, self.positions)?;
        self.decoder.decode_codes_i8(&self.codebook, indices)
    }
}

/// Bits per index for a codebook of `m` codewords: `ceil(log2 m)` (0 for one codeword).
///
/// ```
/// use fvae::vqvae::index_bits;
/// assert_eq!([1, 2, 16, 17, 64, 256].map(index_bits), [0, 1, 4, 5, 6, 8]);
/// ```
pub const fn index_bits(m: usize) -> u32 {
    if m <= 1 {
        0
    } else {
        usize::BITS - (m - 1).leading_zeros()
    }
}

/// Bytes [`pack_indices`] writes for `n` indices into a codebook of `m`: `ceil(n bits / 8)`.
///
/// ```
/// assert_eq!(fvae::vqvae::packed_len(16, 64), 12);
/// assert_eq!(fvae::vqvae::packed_len(3, 16), 2);
/// ```
pub const fn packed_len(n: usize, m: usize) -> usize {
    (n * index_bits(m) as usize).div_ceil(8)
}

/// Packs `indices` (each below `m`) at [`index_bits`]`(m)` bits each, least significant bit
/// first: index `i` takes bits `i b .. (i + 1) b` of the stream, and stream bit `k` is bit `k % 8`
/// of byte `k / 8`. The last byte's unused high bits are 0. `out` must hold [`packed_len`] bytes;
/// returns that length. An index `>= m` is an error naming its position.
///
/// ```
/// let mut bytes = [0u8; 2];
/// assert_eq!(fvae::vqvae::pack_indices(&[1, 2, 15], 16, &mut bytes)?, 2);
/// assert_eq!(bytes, [0x21, 0x0f]);
/// # Ok::<(), fvae::Error>(())
/// ```
pub fn pack_indices(indices: &[u32], m: usize, out: &mut [u8]) -> Result<usize> {
    check_codebook_size(m)?;
    let len = packed_len(indices.len(), m);
    let given = out.len();
    let out = out.get_mut(..len).ok_or(Error::BufferTooSmall { what: "packed indices", needed: len, given })?;
    out.fill(0);
    let bits = index_bits(m) as usize;
    for (i, &index) in indices.iter().enumerate() {
        if index as usize >= m {
            return Err(Error::Value { what: "indices", index: i, reason: "not below the codebook size" });
        }
        for b in 0..bits {
            if (index >> b) & 1 == 1 {
                let k = i * bits + b;
                if let Some(byte) = out.get_mut(k / 8) {
                    *byte |= 1 << (k % 8);
                }
            }
        }
    }
    Ok(len)
}

/// Unpacks `out.len()` indices written by [`pack_indices`] for a codebook of `m`. `bytes` must be
/// exactly [`packed_len`] long (the unused high bits of the last byte are not read). An index
/// `>= m` (possible when `m` is not a power of two) is an error naming its position.
///
/// ```
/// let mut indices = [0u32; 3];
/// fvae::vqvae::unpack_indices(&[0x21, 0x0f], 16, &mut indices)?;
/// assert_eq!(indices, [1, 2, 15]);
/// assert!(fvae::vqvae::unpack_indices(&[0xff, 0x0f], 10, &mut indices).is_err()); // 15 >= 10
/// # Ok::<(), fvae::Error>(())
/// ```
pub fn unpack_indices(bytes: &[u8], m: usize, out: &mut [u32]) -> Result<()> {
    check_codebook_size(m)?;
    let len = packed_len(out.len(), m);
    if bytes.len() != len {
        return Err(Error::Shape { what: "packed indices (bytes)", expected: len, found: bytes.len() });
    }
    let bits = index_bits(m) as usize;
    for (i, index) in out.iter_mut().enumerate() {
        let mut v = 0u32;
        for b in 0..bits {
            let k = i * bits + b;
            let bit = bytes.get(k / 8).map_or(0, |byte| (byte >> (k % 8)) & 1);
            v |= (bit as u32) << b;
        }
        if v as usize >= m {
            return Err(Error::Value { what: "packed indices", index: i, reason: "not below the codebook size" });
        }
        *index = v;
    }
    Ok(())
}

fn check_codebook_size(m: usize) -> Result<()> {
    if m == 0 || m as u64 > 1 << 32 {
        return Err(Error::Value { what: "codebook size", index: 0, reason: "not in 1..=2^32" });
    }
    Ok(())
}
