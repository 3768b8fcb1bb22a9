//! `.npy` arrays read in place (and written, with `std`): the magic `\x93NUMPY`, a version,
//! a header length, a Python-literal header `{'descr': '<f4', 'fortran_order': False,
//! 'shape': (N, D), }`, then the C-order data.
//!
//! ```
//! use fvae::formats::npy::Npy;
//! use fvae::formats::DType;
//! let mut file = Vec::new();
//! fvae::formats::npy::write_f32(&mut file, &[2, 2], &[1.0, 2.0, 3.0, 4.0])?;
//! let a = Npy::parse(&file).unwrap();
//! assert_eq!((a.dtype(), a.shape().dims()), (DType::F32, &[2, 2][..]));
//! assert_eq!(a.to_f32_vec("x").unwrap(), vec![1.0, 2.0, 3.0, 4.0]);
//! # Ok::<(), std::io::Error>(())
//! ```

use super::{cast_slice, DType, Shape};
use crate::{Error, Result};

const FORMAT: &str = "npy";

/// Longest header read, in bytes. NumPy writes a few dozen bytes padded to 64 (and by default
/// reads at most 10 000); a longer one is refused before it is scanned.
pub const MAX_HEADER: usize = 1 << 16;

/// A parsed `.npy` buffer (little-endian or byte-sized C-order arrays only).
#[derive(Debug, Clone, Copy)]
pub struct Npy<'a> {
    dtype: DType,
    shape: Shape,
    data: &'a [u8],
}

/// A `.npy` header alone, for reading a large array in pieces: what [`Npy::parse`] checks
/// except the data length, which the reader compares with the file's.
///
/// ```
/// use fvae::formats::npy::Header;
/// let mut file = Vec::new();
/// fvae::formats::npy::write_f32(&mut file, &[3, 2], &[0.0; 6])?;
/// let h = Header::parse(&file[..128]).unwrap(); // the header only
/// assert_eq!((h.shape.dims(), h.data_offset, h.data_len), (&[3, 2][..], 128, 24));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Header {
    /// The element type.
    pub dtype: DType,
    /// The shape.
    pub shape: Shape,
    /// Where the data starts in the file.
    pub data_offset: usize,
    /// The data's length in bytes, from dtype and shape.
    pub data_len: usize,
}

impl Header {
    /// The shape as `[rows, cols]`, counted as [`Npy::rows_cols`] counts it.
    ///
    /// ```
    /// # let mut file = b"\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2, 2), }".to_vec();
    /// # file.resize(127, b' '); file.push(b'\n');
    /// let h = fvae::formats::npy::Header::parse(&file).unwrap();
    /// assert_eq!(h.rows_cols(), (3, 4));
    /// ```
    pub fn rows_cols(&self) -> (usize, usize) {
        rows_cols(&self.shape)
    }

    /// Parses the header at the start of `bytes` (which may stop where the data starts).
    /// Fortran-order arrays are refused.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        if bytes.get(..6) != Some(b"\x93NUMPY".as_slice()) {
            return Err(err(0, "missing the \\x93NUMPY magic"));
        }
        let major = *bytes.get(6).ok_or(err(6, "truncated before the version"))?;
        let (hlen, hstart) = match major {
            1 => {
                let b = bytes.get(8..10).ok_or(err(8, "truncated header length"))?;
                (u16::from_le_bytes([b[0], b[1]]) as usize, 10usize)
            }
            2 | 3 => {
                let b = bytes.get(8..12).ok_or(err(8, "truncated header length"))?;
                (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, 12)
            }
            _ => return Err(err(6, "unknown .npy version")),
        };
        if hlen > MAX_HEADER {
            return Err(err(8, "header length above MAX_HEADER (64 KiB)"));
        }
        let header = hstart
            .checked_add(hlen)
            .and_then(|end| bytes.get(hstart..end))
            .ok_or(err(hstart, "header runs past the end of the file"))?;
        let (dtype, fortran, shape) = parse_header(header, hstart)?;
        if fortran {
            return Err(Error::Unsupported { what: "Fortran-order .npy", index: 0 });
        }
        let data_len = shape.bytes(dtype.size()).ok_or(err(hstart, "array size overflows"))?;
        Ok(Header { dtype, shape, data_offset: hstart + hlen, data_len })
    }
}

fn err(offset: usize, reason: &'static str) -> Error {
    Error::Format { format: FORMAT, offset, reason }
}

impl<'a> Npy<'a> {
    /// Parses the header and checks the data length against dtype and shape.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let h = Header::parse(bytes)?;
        let data = bytes.get(h.data_offset..).unwrap_or(&[]);
        if data.len() != h.data_len {
            return Err(Error::Format {
                format: FORMAT,
                offset: h.data_offset,
                reason: "data length disagrees with dtype and shape (truncated or trailing bytes)",
            });
        }
        Ok(Npy { dtype: h.dtype, shape: h.shape, data })
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The shape.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// The raw little-endian data.
    pub fn bytes(&self) -> &'a [u8] {
        self.data
    }

    /// The shape as `[rows, cols]`: a 1-D array is one row, a 0-D array one value, and more
    /// than two dimensions flatten the trailing ones into columns.
    pub fn rows_cols(&self) -> (usize, usize) {
        rows_cols(&self.shape)
    }

    /// The values as `f32` in place (needs an f32 array in a 4-aligned buffer).
    pub fn as_f32(&self, what: &'static str) -> Result<&'a [f32]> {
        self.check(what, DType::F32)?;
        cast_slice(what, self.data)
    }

    /// The values as `i8` in place.
    pub fn as_i8(&self, what: &'static str) -> Result<&'a [i8]> {
        self.check(what, DType::I8)?;
        cast_slice(what, self.data)
    }

    fn check(&self, what: &'static str, want: DType) -> Result<()> {
        if self.dtype != want {
            return Err(Error::DType { what, expected: want.name(), found: self.dtype.name() });
        }
        Ok(())
    }

    /// The values converted to `f32` (from f32, f64, or any integer dtype), whatever the
    /// buffer's alignment.
    #[cfg(feature = "std")]
    pub fn to_f32_vec(&self, what: &'static str) -> Result<std::vec::Vec<f32>> {
        Ok(self.to_f64_vec(what)?.into_iter().map(|v| v as f32).collect())
    }

    /// The values converted to `f64` (from f32, f64, or any integer dtype).
    #[cfg(feature = "std")]
    pub fn to_f64_vec(&self, what: &'static str) -> Result<std::vec::Vec<f64>> {
        let d = self.data;
        let v = match self.dtype {
            DType::F32 => d.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64).collect(),
            DType::F64 => d.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect(),
            DType::I8 => d.iter().map(|&b| b as i8 as f64).collect(),
            DType::U8 => d.iter().map(|&b| b as f64).collect(),
            DType::I16 => d.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]]) as f64).collect(),
            DType::I32 => d.chunks_exact(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64).collect(),
            DType::I64 => {
                d.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f64).collect()
            }
            DType::Other(_) => return Err(Error::DType { what, expected: "a numeric type", found: "other" }),
        };
        Ok(v)
    }

    /// The values as `i64` (from any integer dtype).
    #[cfg(feature = "std")]
    pub fn to_i64_vec(&self, what: &'static str) -> Result<std::vec::Vec<i64>> {
        let d = self.data;
        Ok(match self.dtype {
            DType::I8 => d.iter().map(|&b| b as i8 as i64).collect(),
            DType::U8 => d.iter().map(|&b| b as i64).collect(),
            DType::I16 => d.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]]) as i64).collect(),
            DType::I32 => d.chunks_exact(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64).collect(),
            DType::I64 => d.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect(),
            _ => return Err(Error::DType { what, expected: "an integer type", found: self.dtype.name() }),
        })
    }
}

/// Parses `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }` (keys in any order).
/// `[rows, cols]` of a shape: a 1-D array is one row, a 0-D array one value, and more than two
/// dimensions flatten the trailing ones into columns.
fn rows_cols(shape: &Shape) -> (usize, usize) {
    match shape.dims() {
        [] => (1, 1),
        [n] => (1, *n),
        // A parsed shape's product fits (Header::parse checks it); a hand-made one saturates.
        [n, rest @ ..] => (*n, rest.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).unwrap_or(usize::MAX)),
    }
}

fn parse_header(h: &[u8], base: usize) -> Result<(DType, bool, Shape)> {
    let find = |key: &[u8]| -> Result<usize> {
        h.windows(key.len())
            .position(|w| w == key)
            .map(|p| p + key.len())
            .ok_or(err(base, "header lacks 'descr', 'fortran_order' or 'shape'"))
    };
    let after_colon = |mut p: usize| -> Result<usize> {
        while matches!(h.get(p), Some(b' ' | b':')) {
            p += 1;
        }
        Ok(p)
    };
    // descr
    let p = after_colon(find(b"'descr'")?)?;
    let quote = *h.get(p).ok_or(err(base + p, "truncated descr"))?;
    let rest = h.get(p + 1..).ok_or(err(base + p, "truncated descr"))?;
    let end = rest.iter().position(|&c| c == quote).ok_or(err(base + p, "unterminated descr"))?;
    let dtype = match &rest[..end] {
        b"<f4" => DType::F32,
        b"<f8" => DType::F64,
        b"|i1" | b"i1" | b"<i1" => DType::I8,
        b"|u1" | b"u1" | b"<u1" | b"|b1" => DType::U8,
        b"<i2" => DType::I16,
        b"<i4" => DType::I32,
        b"<i8" => DType::I64,
        _ => return Err(Error::Unsupported { what: "npy dtype (need <f4, <f8, i1, u1, <i2, <i4, <i8)", index: 0 }),
    };
    // fortran_order
    let p = after_colon(find(b"'fortran_order'")?)?;
    let fortran = match h.get(p..p + 4) {
        Some(b"True") => true,
        Some(b"Fals") => false,
        _ => return Err(err(base + p, "fortran_order is neither True nor False")),
    };
    // shape
    let mut p = after_colon(find(b"'shape'")?)?;
    if h.get(p) != Some(&b'(') {
        return Err(err(base + p, "shape is not a tuple"));
    }
    p += 1;
    let mut shape = Shape::default();
    loop {
        while matches!(h.get(p), Some(b' ' | b',')) {
            p += 1;
        }
        match h.get(p) {
            Some(b')') => break,
            Some(b'0'..=b'9') => {
                let mut v: usize = 0;
                while let Some(&c @ b'0'..=b'9') = h.get(p) {
                    v = v
                        .checked_mul(10)
                        .and_then(|v| v.checked_add((c - b'0') as usize))
                        .ok_or(err(base + p, "dimension overflows"))?;
                    p += 1;
                }
                shape.push(v).ok_or(Error::Unsupported { what: "npy rank above 8", index: 8 })?;
            }
            _ => return Err(err(base + p, "malformed shape tuple")),
        }
    }
    Ok((dtype, fortran, shape))
}

#[cfg(feature = "std")]
fn write_raw<W: std::io::Write>(
    out: &mut W,
    descr: &str,
    shape: &[usize],
    data: impl FnOnce(&mut W) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dims: std::vec::Vec<std::string::String> = shape.iter().map(|d| std::format!("{d}")).collect();
    let tuple = match dims.len() {
        1 => std::format!("({},)", dims[0]),
        _ => std::format!("({})", dims.join(", ")),
    };
    let mut header = std::format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {tuple}, }}");
    // Pad with spaces and a newline so the data starts 64-aligned, as NumPy does.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    if header.len() > u16::MAX as usize {
        return Err(std::io::Error::other("npy header too long"));
    }
    out.write_all(b"\x93NUMPY\x01\x00")?;
    out.write_all(&(header.len() as u16).to_le_bytes())?;
    out.write_all(header.as_bytes())?;
    data(out)
}

/// Writes values little-endian through a 64 KiB stack buffer: no copy of the whole array (the
/// outputs can be tens of megabytes), and a loop the compiler vectorises.
#[cfg(feature = "std")]
fn write_le<T: Copy, const N: usize>(
    out: &mut impl std::io::Write,
    data: &[T],
    le: impl Fn(T) -> [u8; N],
) -> std::io::Result<()> {
    let mut buf = [0u8; 65536];
    for chunk in data.chunks((65536 / N).max(1)) {
        let bytes = &mut buf[..chunk.len() * N];
        for (b, &v) in bytes.chunks_exact_mut(N).zip(chunk) {
            b.copy_from_slice(&le(v));
        }
        out.write_all(bytes)?;
    }
    Ok(())
}

/// Writes an f32 array (std only).
#[cfg(feature = "std")]
pub fn write_f32(out: &mut impl std::io::Write, shape: &[usize], data: &[f32]) -> std::io::Result<()> {
    write_raw(out, "<f4", shape, |out| write_le(out, data, f32::to_le_bytes))
}

/// Writes an i64 array (std only).
///
/// ```
/// let mut file = Vec::new();
/// fvae::formats::npy::write_i64(&mut file, &[3], &[1, -2, 3])?;
/// let a = fvae::formats::npy::Npy::parse(&file).unwrap();
/// assert_eq!(a.to_i64_vec("i").unwrap(), vec![1, -2, 3]);
/// # Ok::<(), std::io::Error>(())
/// ```
#[cfg(feature = "std")]
pub fn write_i64(out: &mut impl std::io::Write, shape: &[usize], data: &[i64]) -> std::io::Result<()> {
    write_raw(out, "<i8", shape, |out| write_le(out, data, i64::to_le_bytes))
}

/// Writes an i8 array (std only).
#[cfg(feature = "std")]
pub fn write_i8(out: &mut impl std::io::Write, shape: &[usize], data: &[i8]) -> std::io::Result<()> {
    write_raw(out, "|i1", shape, |out| write_le(out, data, |v: i8| v.to_le_bytes()))
}
