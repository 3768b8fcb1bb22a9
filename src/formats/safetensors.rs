//! `.safetensors` read in place: an 8-byte little-endian header length, a JSON header mapping
//! tensor names to `{"dtype", "shape", "data_offsets"}`, then the tensor bytes.
//!
//! The reader allocates nothing: it scans the JSON header on each lookup (headers are a few
//! hundred bytes) and returns slices into the buffer. Every length and offset is checked; a
//! malformed file is an [`Error::Format`] with the byte offset.
//!
//! ```
//! use fvae::formats::safetensors::{self, SafeTensors};
//! use fvae::formats::{AlignedBuf, DType};
//! // A file with one f32 tensor `w` of shape [2] (written here; usually from Python).
//! let mut bytes = Vec::new();
//! safetensors::write(&mut bytes, &[("w", DType::F32, &[2], &[0, 0, 128, 63, 0, 0, 0, 64])]).unwrap();
//! let file = AlignedBuf::from_bytes(&bytes); // in firmware: a static `Aligned` include_bytes!
//! let st = SafeTensors::parse(file.as_bytes())?;
//! let w = st.tensor("w")?;
//! assert_eq!((w.dtype(), w.shape().dims()), (DType::F32, &[2][..]));
//! assert_eq!(w.as_f32("w")?, &[1.0, 2.0]);
//! # Ok::<(), fvae::Error>(())
//! ```

use super::{cast_slice, DType, Shape};
use crate::{Error, Result};

const FORMAT: &str = "safetensors";
/// Headers larger than this are refused (the format's own limit is 100 MB; ours is smaller
/// because every lookup scans the header).
pub const MAX_HEADER: usize = 1 << 20;
const MAX_DEPTH: usize = 16;

/// A parsed `.safetensors` buffer: the header, checked to be well-formed JSON with valid tensor
/// entries, and the data section.
#[derive(Debug, Clone, Copy)]
pub struct SafeTensors<'a> {
    header: &'a [u8],
    data: &'a [u8],
}

/// One tensor: its element type, shape and bytes (inside the file's buffer).
#[derive(Debug, Clone, Copy)]
pub struct TensorView<'a> {
    dtype: DType,
    shape: Shape,
    data: &'a [u8],
}

impl<'a> SafeTensors<'a> {
    /// Checks the header (JSON syntax, every tensor entry's dtype, shape and offsets against
    /// the data section) and keeps borrowing `bytes`.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let len_bytes: [u8; 8] = bytes.get(..8).and_then(|b| b.try_into().ok()).ok_or(Error::Format {
            format: FORMAT,
            offset: 0,
            reason: "shorter than the 8-byte header length",
        })?;
        let n = u64::from_le_bytes(len_bytes);
        if n > MAX_HEADER as u64 || n as usize > bytes.len() - 8 {
            return Err(Error::Format { format: FORMAT, offset: 0, reason: "header length past the end of the file" });
        }
        let n = n as usize;
        let st = SafeTensors { header: &bytes[8..8 + n], data: &bytes[8 + n..] };
        // Validate every entry once, so lookups can only fail on a missing name.
        st.for_each_entry(|_, _| Ok(()))?;
        Ok(st)
    }

    /// The tensor named `name`; its absence is [`Error::Missing`] naming it. For a name made at
    /// run time, see [`SafeTensors::get`].
    pub fn tensor(&self, name: &'static str) -> Result<TensorView<'a>> {
        self.get(name)?.ok_or(Error::Missing { format: FORMAT, name })
    }

    /// The tensor named `name`, or `None` if the file has none: any `&str`, such as a name
    /// formatted into a stack buffer (`layer{i}.weight`), with no allocation. The first entry of
    /// that name wins.
    ///
    /// ```
    /// use fvae::formats::{safetensors::{self, SafeTensors}, DType};
    /// let mut bytes = Vec::new();
    /// safetensors::write(&mut bytes, &[("layer1.weight", DType::I8, &[2], &[1, 2])]).unwrap();
    /// let st = SafeTensors::parse(&bytes)?;
    /// let name = format!("layer{}.weight", 1);
    /// assert_eq!(st.get(&name)?.map(|t| t.bytes()), Some(&[1u8, 2][..]));
    /// assert!(st.get("layer2.weight")?.is_none());
    /// # Ok::<(), fvae::Error>(())
    /// ```
    pub fn get(&self, name: &str) -> Result<Option<TensorView<'a>>> {
        let mut found = None;
        self.for_each_entry(|key, view| {
            if key == name.as_bytes() && found.is_none() {
                found = Some(view);
            }
            Ok(())
        })?;
        Ok(found)
    }

    /// Calls `f(name, tensor)` for every tensor, in file order (`__metadata__` is skipped).
    /// Names are the raw JSON string contents (escapes are not decoded).
    pub fn for_each_tensor(&self, mut f: impl FnMut(&'a [u8], TensorView<'a>)) -> Result<()> {
        self.for_each_entry(|k, v| {
            f(k, v);
            Ok(())
        })
    }

    fn for_each_entry(&self, mut f: impl FnMut(&'a [u8], TensorView<'a>) -> Result<()>) -> Result<()> {
        let mut p = Json { b: self.header, pos: 0 };
        p.expect(b'{')?;
        if p.peek_after_ws() == Some(b'}') {
            p.pos += 1;
            return p.end();
        }
        loop {
            let key = p.string()?;
            p.expect(b':')?;
            if key == b"__metadata__" {
                p.skip_value(0)?;
            } else {
                let view = self.entry(&mut p)?;
                f(key, view)?;
            }
            match p.next_non_ws()? {
                b',' => continue,
                b'}' => return p.end(),
                _ => return Err(p.err("expected ',' or '}'")),
            }
        }
    }

    fn entry(&self, p: &mut Json<'a>) -> Result<TensorView<'a>> {
        let start = p.pos;
        let (mut dtype, mut shape, mut offsets) = (None, None, None);
        p.expect(b'{')?;
        loop {
            let key = p.string()?;
            p.expect(b':')?;
            match key {
                b"dtype" => dtype = Some(parse_dtype(p.string()?).ok_or(p.err("unknown dtype"))?),
                b"shape" => {
                    let mut s = Shape::default();
                    p.uint_array(|d| {
                        // A dimension past usize (2^32 on a 32-bit target) is refused, not truncated.
                        s.push(usize::try_from(d).map_err(|_| "dimension overflows usize")?)
                            .ok_or("more than 8 dimensions")
                    })?;
                    shape = Some(s);
                }
                b"data_offsets" => {
                    let (mut v, mut n) = ([0u64; 2], 0);
                    p.uint_array(|x| {
                        *v.get_mut(n).ok_or("data_offsets has more than 2 values")? = x;
                        n += 1;
                        Ok(())
                    })?;
                    if n != 2 {
                        return Err(p.err("data_offsets needs 2 values"));
                    }
                    offsets = Some(v);
                }
                _ => p.skip_value(1)?,
            }
            match p.next_non_ws()? {
                b',' => continue,
                b'}' => break,
                _ => return Err(p.err("expected ',' or '}'")),
            }
        }
        let at = |reason| Error::Format { format: FORMAT, offset: 8 + start, reason };
        let (dtype, shape, [begin, end]) = match (dtype, shape, offsets) {
            (Some(d), Some(s), Some(o)) => (d, s, o),
            _ => return Err(at("tensor entry lacks dtype, shape or data_offsets")),
        };
        let bytes = shape.bytes(dtype.size()).ok_or(at("tensor size overflows"))?;
        if begin > end || end > self.data.len() as u64 {
            return Err(at("data_offsets outside the data section"));
        }
        if (end - begin) != bytes as u64 {
            return Err(at("data_offsets length disagrees with dtype and shape"));
        }
        let data = self.data.get(begin as usize..end as usize).ok_or(at("data_offsets outside the data section"))?;
        Ok(TensorView { dtype, shape, data })
    }
}

fn parse_dtype(s: &[u8]) -> Option<DType> {
    Some(match s {
        b"F32" => DType::F32,
        b"F64" => DType::F64,
        b"I8" => DType::I8,
        b"U8" | b"BOOL" => DType::U8,
        b"I16" => DType::I16,
        b"I32" => DType::I32,
        b"I64" => DType::I64,
        b"F16" | b"BF16" | b"U16" => DType::Other(2),
        b"U32" => DType::Other(4),
        b"U64" => DType::Other(8),
        b"F8_E4M3" | b"F8_E5M2" => DType::Other(1),
        _ => return None,
    })
}

impl<'a> TensorView<'a> {
    /// The element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The shape.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// The raw little-endian bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.data
    }

    /// The values as `f32`, in place; `what` names the tensor in errors. Fails on another
    /// dtype or a buffer not aligned to 4 bytes (see [`Aligned`](super::Aligned)).
    pub fn as_f32(&self, what: &'static str) -> Result<&'a [f32]> {
        self.check(what, DType::F32)?;
        cast_slice(what, self.data)
    }

    /// The values as `i8`, in place.
    pub fn as_i8(&self, what: &'static str) -> Result<&'a [i8]> {
        self.check(what, DType::I8)?;
        cast_slice(what, self.data)
    }

    /// The values as `i32`, in place.
    pub fn as_i32(&self, what: &'static str) -> Result<&'a [i32]> {
        self.check(what, DType::I32)?;
        cast_slice(what, self.data)
    }

    /// Checks that the shape is exactly `dims`; `what` names the tensor in errors.
    pub fn expect_shape(&self, what: &'static str, dims: &[usize]) -> Result<()> {
        let have = self.shape.dims();
        if have.len() != dims.len() {
            return Err(Error::Shape { what, expected: dims.len(), found: have.len() });
        }
        for (&e, &f) in dims.iter().zip(have) {
            if e != f {
                return Err(Error::Shape { what, expected: e, found: f });
            }
        }
        Ok(())
    }

    fn check(&self, what: &'static str, want: DType) -> Result<()> {
        if self.dtype != want {
            return Err(Error::DType { what, expected: want.name(), found: self.dtype.name() });
        }
        Ok(())
    }
}

/// A minimal JSON cursor: enough to walk a safetensors header and skip what it does not need,
/// with a nesting limit so hostile input cannot exhaust the stack.
struct Json<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Json<'a> {
    fn err(&self, reason: &'static str) -> Error {
        Error::Format { format: FORMAT, offset: 8 + self.pos, reason }
    }

    fn peek_after_ws(&mut self) -> Option<u8> {
        while let Some(&c) = self.b.get(self.pos) {
            if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                return Some(c);
            }
            self.pos += 1;
        }
        None
    }

    fn next_non_ws(&mut self) -> Result<u8> {
        let c = self.peek_after_ws().ok_or(self.err("unexpected end of header"))?;
        self.pos += 1;
        Ok(c)
    }

    fn expect(&mut self, c: u8) -> Result<()> {
        if self.next_non_ws()? != c {
            self.pos -= 1;
            return Err(self.err(match c {
                b'{' => "expected '{'",
                b':' => "expected ':'",
                b'[' => "expected '['",
                _ => "unexpected character",
            }));
        }
        Ok(())
    }

    /// Only trailing whitespace (writers pad with spaces) may follow the top-level object.
    fn end(&mut self) -> Result<()> {
        match self.peek_after_ws() {
            None => Ok(()),
            Some(_) => Err(self.err("bytes after the header object")),
        }
    }

    /// A string's raw contents (between the quotes, escapes left as they are).
    fn string(&mut self) -> Result<&'a [u8]> {
        self.expect(b'"').map_err(|_| self.err("expected a string"))?;
        let start = self.pos;
        loop {
            match self.b.get(self.pos) {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => break,
                Some(b'\\') => self.pos += 2,
                Some(_) => self.pos += 1,
            }
        }
        // In range (the loop stops on a quote at pos); get() keeps that out of the panic paths.
        let s = self.b.get(start..self.pos).ok_or(self.err("unterminated string"))?;
        self.pos += 1;
        Ok(s)
    }

    fn uint(&mut self) -> Result<u64> {
        self.peek_after_ws();
        let start = self.pos;
        let mut v: u64 = 0;
        while let Some(&c @ b'0'..=b'9') = self.b.get(self.pos) {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add((c - b'0') as u64))
                .ok_or(self.err("integer overflows"))?;
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.err("expected a non-negative integer"));
        }
        Ok(v)
    }

    fn uint_array(&mut self, mut f: impl FnMut(u64) -> core::result::Result<(), &'static str>) -> Result<()> {
        self.expect(b'[')?;
        if self.peek_after_ws() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            let v = self.uint()?;
            f(v).map_err(|r| self.err(r))?;
            match self.next_non_ws()? {
                b',' => continue,
                b']' => return Ok(()),
                _ => return Err(self.err("expected ',' or ']'")),
            }
        }
    }

    fn skip_value(&mut self, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        match self.peek_after_ws().ok_or(self.err("unexpected end of header"))? {
            b'"' => self.string().map(|_| ()),
            open @ (b'{' | b'[') => {
                self.pos += 1;
                let close = if open == b'{' { b'}' } else { b']' };
                if self.peek_after_ws() == Some(close) {
                    self.pos += 1;
                    return Ok(());
                }
                loop {
                    if open == b'{' {
                        self.string()?;
                        self.expect(b':')?;
                    }
                    self.skip_value(depth + 1)?;
                    match self.next_non_ws()? {
                        b',' => continue,
                        c if c == close => return Ok(()),
                        _ => return Err(self.err("expected ',' or a closing bracket")),
                    }
                }
            }
            _ => {
                // A number or a literal: consume its characters.
                let start = self.pos;
                while let Some(c) = self.b.get(self.pos) {
                    if !matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E' | b'a'..=b'z') {
                        break;
                    }
                    self.pos += 1;
                }
                if self.pos == start {
                    return Err(self.err("expected a value"));
                }
                Ok(())
            }
        }
    }
}

/// Writes a `.safetensors` file of `(name, dtype, shape, little-endian bytes)` tensors, with
/// the header padded so that the data section is 8-aligned (host tools; needs `std`).
///
/// ```
/// use fvae::formats::{safetensors, DType};
/// let mut file = Vec::new();
/// let w: Vec<u8> = [0.25f32, 0.75].iter().flat_map(|v| v.to_le_bytes()).collect();
/// safetensors::write(&mut file, &[("weights", DType::F32, &[2], &w)])?;
/// let st = safetensors::SafeTensors::parse(&file).unwrap();
/// assert_eq!(st.tensor("weights").unwrap().shape().dims(), &[2]);
/// # Ok::<(), std::io::Error>(())
/// ```
#[cfg(feature = "std")]
pub fn write(out: &mut impl std::io::Write, tensors: &[(&str, DType, &[usize], &[u8])]) -> std::io::Result<()> {
    use std::string::String;
    let mut header = String::from("{");
    let mut offset = 0usize;
    for (i, (name, dtype, shape, bytes)) in tensors.iter().enumerate() {
        let code = match dtype {
            DType::F32 => "F32",
            DType::F64 => "F64",
            DType::I8 => "I8",
            DType::U8 => "U8",
            DType::I16 => "I16",
            DType::I32 => "I32",
            DType::I64 => "I64",
            DType::Other(_) => return Err(std::io::Error::other("cannot write an unknown dtype")),
        };
        let dims: std::vec::Vec<String> = shape.iter().map(|d| std::format!("{d}")).collect();
        if i > 0 {
            header.push(',');
        }
        header.push_str(&std::format!(
            "\"{name}\":{{\"dtype\":\"{code}\",\"shape\":[{}],\"data_offsets\":[{offset},{}]}}",
            dims.join(","),
            offset + bytes.len()
        ));
        offset += bytes.len();
    }
    header.push('}');
    // Pad so the data section starts 8-aligned, as the reference writer does.
    while (8 + header.len()) % 8 != 0 {
        header.push(' ');
    }
    out.write_all(&(header.len() as u64).to_le_bytes())?;
    out.write_all(header.as_bytes())?;
    for (_, _, _, bytes) in tensors {
        out.write_all(bytes)?;
    }
    Ok(())
}
