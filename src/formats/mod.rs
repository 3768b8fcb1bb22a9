//! File formats read in place: `.safetensors` (model parameters) and `.npy` (arrays).
//!
//! Readers borrow the file's bytes and hand out typed slices into them without copying, so a
//! model can live in flash. Typed slices need the buffer aligned like the element type: keep
//! files in an [`Aligned`] buffer (`include_bytes!` alone gives alignment 1).

pub mod npy;
pub mod safetensors;
pub mod tflite;

use crate::{Error, Result};

/// Bytes aligned to 16, so that tensors inside can be read as `f32`/`i32`/`f64` in place.
///
/// ```
/// use fvae::formats::Aligned;
/// static FILE: &Aligned<[u8]> = &Aligned(*b"any bytes, e.g. include_bytes!(\"gmm.safetensors\")");
/// assert_eq!(FILE.0.as_ptr() as usize % 16, 0);
/// ```
#[repr(C, align(16))]
pub struct Aligned<T: ?Sized>(pub T);

/// A file's bytes in a heap buffer aligned to 16 (host tools; needs `std`), so tensors in it can
/// be read in place like a file in flash.
///
/// ```no_run
/// let file = fvae::formats::AlignedBuf::read("gmm.safetensors")?;
/// let st = fvae::formats::safetensors::SafeTensors::parse(file.as_bytes());
/// # Ok::<(), std::io::Error>(())
/// ```
#[cfg(feature = "std")]
pub struct AlignedBuf {
    words: std::vec::Vec<u128>,
    len: usize,
}

#[cfg(feature = "std")]
impl AlignedBuf {
    /// Copies `bytes` into a 16-aligned buffer.
    ///
    /// ```
    /// let b = fvae::formats::AlignedBuf::from_bytes(&[1, 2, 3]);
    /// assert_eq!((b.as_bytes(), b.as_bytes().as_ptr() as usize % 16), (&[1u8, 2, 3][..], 0));
    /// ```
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let mut words = std::vec![0u128; bytes.len().div_ceil(16)];
        for (w, chunk) in words.iter_mut().zip(bytes.chunks(16)) {
            let mut b = [0u8; 16];
            b[..chunk.len()].copy_from_slice(chunk);
            *w = u128::from_ne_bytes(b);
        }
        AlignedBuf { words, len: bytes.len() }
    }

    /// Reads a whole file straight into aligned memory (one copy, from the kernel).
    pub fn read(path: impl AsRef<std::path::Path>) -> std::io::Result<Self> {
        use std::io::Read;
        let mut file = std::fs::File::open(path)?;
        let len = usize::try_from(file.metadata()?.len()).map_err(std::io::Error::other)?;
        let mut buf = AlignedBuf { words: std::vec![0u128; len.div_ceil(16)], len };
        file.read_exact(buf.as_bytes_mut())?;
        // A file that grew while being read is read again from the start, whole.
        let mut probe = [0u8; 1];
        if file.read(&mut probe)? != 0 {
            let mut all = std::vec::Vec::new();
            std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(0))?;
            file.read_to_end(&mut all)?;
            return Ok(Self::from_bytes(&all));
        }
        Ok(buf)
    }

    fn as_bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: `words` owns `words.len() * 16 >= len` initialised bytes; any byte pattern is
        // a valid u128, so writing through the u8 view cannot create an invalid value; the
        // slice borrows `self` mutably, so nothing else aliases it.
        unsafe { core::slice::from_raw_parts_mut(self.words.as_mut_ptr().cast::<u8>(), self.len) }
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        // SAFETY: `words` owns `words.len() * 16 >= len` initialised bytes (u128 has no padding
        // and u8 has alignment 1), and the slice borrows `self`, so it cannot outlive them.
        unsafe { core::slice::from_raw_parts(self.words.as_ptr().cast::<u8>(), self.len) }
    }
}

/// Element types of tensors in the files fvae reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DType {
    /// IEEE 754 binary32.
    F32,
    /// IEEE 754 binary64.
    F64,
    /// Signed 8-bit integer.
    I8,
    /// Unsigned 8-bit integer.
    U8,
    /// Signed 16-bit integer.
    I16,
    /// Signed 32-bit integer.
    I32,
    /// Signed 64-bit integer.
    I64,
    /// A type fvae does not use (its size in bytes is kept for bounds checks).
    Other(u8),
}

impl DType {
    /// Size of one element in bytes.
    ///
    /// ```
    /// assert_eq!(fvae::formats::DType::F32.size(), 4);
    /// ```
    pub const fn size(self) -> usize {
        match self {
            DType::F32 | DType::I32 => 4,
            DType::F64 | DType::I64 => 8,
            DType::I8 | DType::U8 => 1,
            DType::I16 => 2,
            DType::Other(n) => n as usize,
        }
    }

    /// A short name for messages (`"f32"`, `"i8"`, ...).
    ///
    /// ```
    /// assert_eq!(fvae::formats::DType::I8.name(), "i8");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::I8 => "i8",
            DType::U8 => "u8",
            DType::I16 => "i16",
            DType::I32 => "i32",
            DType::I64 => "i64",
            DType::Other(_) => "other",
        }
    }
}

/// Most dimensions a tensor may have here.
pub const MAX_DIMS: usize = 8;

/// A tensor shape of at most [`MAX_DIMS`] dimensions, stored inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Shape {
    dims: [usize; MAX_DIMS],
    len: usize,
}

impl Shape {
    /// A shape from its dimensions; more than [`MAX_DIMS`] is an error.
    ///
    /// ```
    /// let s = fvae::formats::Shape::new(&[16, 64])?;
    /// assert_eq!((s.dims(), s.numel()), (&[16, 64][..], Some(1024)));
    /// # Ok::<(), fvae::Error>(())
    /// ```
    pub fn new(dims: &[usize]) -> Result<Self> {
        let mut s = Shape::default();
        for &d in dims {
            s.push(d).ok_or(Error::Unsupported { what: "tensor rank above 8", index: dims.len() })?;
        }
        Ok(s)
    }

    pub(crate) fn push(&mut self, d: usize) -> Option<()> {
        *self.dims.get_mut(self.len)? = d;
        self.len += 1;
        Some(())
    }

    /// The dimensions.
    pub fn dims(&self) -> &[usize] {
        // `len <= MAX_DIMS` always (push checks it); `get` keeps that invariant out of the panic
        // paths the optimiser cannot rule out (scripts/nopanic.sh).
        self.dims.get(..self.len).unwrap_or(&self.dims)
    }

    /// The number of elements, or `None` if the product of the non-zero dimensions overflows
    /// `usize`: a zero dimension does not make `(0, 2^40, 2^40)` a valid shape, since whoever
    /// reads it sizes buffers by the other dimensions (NumPy refuses it too).
    ///
    /// ```
    /// use fvae::formats::Shape;
    /// assert_eq!(Shape::new(&[0, 5])?.numel(), Some(0));
    /// assert_eq!(Shape::new(&[0, 1 << 20, 1 << 20, 1 << 20, 1 << 20])?.numel(), None);
    /// # Ok::<(), fvae::Error>(())
    /// ```
    pub fn numel(&self) -> Option<usize> {
        let nonzero = self.dims().iter().filter(|&&d| d != 0).try_fold(1usize, |n, &d| n.checked_mul(d))?;
        Some(if self.dims().contains(&0) { 0 } else { nonzero })
    }

    /// The bytes of an array of this shape with `elem_size`-byte elements, or `None` if the
    /// product of the non-zero dimensions and the element size exceeds `isize::MAX` (the most
    /// one allocation or slice can hold, so any buffer sized from the shape fits).
    ///
    /// ```
    /// use fvae::formats::Shape;
    /// assert_eq!(Shape::new(&[3, 4])?.bytes(4), Some(48));
    /// let big = usize::MAX / 2; // 2^63 on a 64-bit target, 2^31 on a 32-bit one
    /// assert_eq!(Shape::new(&[0, big, big])?.bytes(4), None);
    /// # Ok::<(), fvae::Error>(())
    /// ```
    pub fn bytes(&self, elem_size: usize) -> Option<usize> {
        let nonzero = self.dims().iter().filter(|&&d| d != 0).try_fold(elem_size, |n, &d| n.checked_mul(d));
        let nonzero = nonzero.filter(|&b| b <= isize::MAX as usize)?;
        Some(if self.dims().contains(&0) { 0 } else { nonzero })
    }
}

/// Reinterprets little-endian bytes as a slice of `T` in place, after checking the length and
/// the alignment. Only for plain numeric types whose every bit pattern is valid.
pub(crate) fn cast_slice<'a, T: Pod>(what: &'static str, bytes: &'a [u8]) -> Result<&'a [T]> {
    let size = core::mem::size_of::<T>();
    if cfg!(target_endian = "big") && size > 1 {
        return Err(Error::Unsupported { what: "reading little-endian tensors on a big-endian target", index: 0 });
    }
    if !bytes.len().is_multiple_of(size) {
        return Err(Error::Shape { what, expected: bytes.len() / size * size, found: bytes.len() });
    }
    if !(bytes.as_ptr() as usize).is_multiple_of(core::mem::align_of::<T>()) {
        return Err(Error::Misaligned { what, align: core::mem::align_of::<T>() });
    }
    // SAFETY: the pointer is aligned for T (checked above), the length is a whole number of Ts
    // inside `bytes` (checked above), T is a plain number type for which every bit pattern is
    // valid (the `Pod` bound, sealed to f32/f64/i8/u8/i16/i32/i64), the bytes are little-endian
    // like the target (checked above), and the result borrows `bytes` for its whole lifetime.
    Ok(unsafe { core::slice::from_raw_parts(bytes.as_ptr().cast::<T>(), bytes.len() / size) })
}

/// Plain numeric types that any bit pattern makes valid (sealed).
pub trait Pod: Copy + sealed::Sealed {}
mod sealed {
    pub trait Sealed {}
}
macro_rules! pod {
    ($($t:ty),*) => { $( impl sealed::Sealed for $t {} impl Pod for $t {} )* };
}
pod!(f32, f64, i8, u8, i16, i32, i64);

/// Mutable counterpart of [`cast_slice`]: reinterprets caller memory (an arena) as `T`s in
/// place after checking the length and the alignment.
pub(crate) fn cast_slice_mut<'a, T: Pod>(what: &'static str, bytes: &'a mut [u8]) -> Result<&'a mut [T]> {
    let size = core::mem::size_of::<T>();
    if !bytes.len().is_multiple_of(size) {
        return Err(Error::Shape { what, expected: bytes.len() / size * size, found: bytes.len() });
    }
    if !(bytes.as_ptr() as usize).is_multiple_of(core::mem::align_of::<T>()) {
        return Err(Error::Misaligned { what, align: core::mem::align_of::<T>() });
    }
    // SAFETY: aligned for T and a whole number of Ts (both checked above); T is a plain number
    // type for which every bit pattern is valid (the sealed `Pod` bound), so any bytes are a
    // valid T and any T written is valid bytes; the result borrows `bytes` mutably for its whole
    // lifetime, so nothing else aliases it. Endianness does not matter: the arena is written and
    // read through the same typed view.
    Ok(unsafe { core::slice::from_raw_parts_mut(bytes.as_mut_ptr().cast::<T>(), bytes.len() / size) })
}
