//! The one error type of the crate: every bad input is a value naming what and where.

use core::fmt;

/// Everything that can go wrong in fvae. Each variant names the offending thing (`what`, a
/// tensor or parameter name) and where (an index or byte offset), so a message can say exactly
/// what to fix.
///
/// ```
/// use fvae::Error;
/// let e = Error::Shape { what: "means", expected: 64, found: 63 };
/// assert_eq!(e.to_string(), "means: expected length 64, found 63");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// A length or dimension disagrees with what the model needs.
    Shape {
        /// The parameter or tensor.
        what: &'static str,
        /// The length or dimension required.
        expected: usize,
        /// The length or dimension given.
        found: usize,
    },
    /// A value is outside its domain (NaN, infinite, negative, zero variance, ...).
    Value {
        /// The parameter or tensor.
        what: &'static str,
        /// The flat index of the first offending element.
        index: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The bytes of a file are malformed.
    Format {
        /// The file format (`"safetensors"`, `"npy"`, `"tflite"`).
        format: &'static str,
        /// The byte offset at which the problem was found.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A named entry (a tensor, a table field) is absent.
    Missing {
        /// The file format.
        format: &'static str,
        /// The name looked for.
        name: &'static str,
    },
    /// A tensor's element type is not the one required.
    DType {
        /// The tensor.
        what: &'static str,
        /// The element type required.
        expected: &'static str,
        /// The element type found.
        found: &'static str,
    },
    /// A feature of the input (an operator, an option) that fvae does not implement.
    Unsupported {
        /// What is unsupported (an operator name, an option).
        what: &'static str,
        /// Where: an operator index, a dimension, ...
        index: usize,
    },
    /// An operator of a `.tflite` graph that fvae does not implement (or not at this version),
    /// named as TFLite's schema names it.
    UnsupportedOperator {
        /// The schema's `BuiltinOperator` name (`"custom operator"` for a custom one).
        name: &'static str,
        /// The operator code's version.
        version: i32,
        /// The operator's index in its subgraph.
        index: usize,
        /// The subgraph.
        subgraph: usize,
    },
    /// A caller-provided buffer (scratch, arena, output) is too small.
    BufferTooSmall {
        /// The buffer.
        what: &'static str,
        /// Elements or bytes needed.
        needed: usize,
        /// Elements or bytes given.
        given: usize,
    },
    /// A byte buffer is not aligned enough to be read in place.
    Misaligned {
        /// The buffer or tensor.
        what: &'static str,
        /// The alignment required, in bytes.
        align: usize,
    },
    /// There is nothing to compute from (for example an accumulator with no descriptor).
    Empty {
        /// What is empty.
        what: &'static str,
    },
}

/// `Ok` when `found` (K, D) is `expected`; else a shape error naming K (`what[0]`) or D
/// (`what[1]`), checked apart because their product would call 2 x 4 and 4 x 2 the same.
pub(crate) fn check_k_d(what: [&'static str; 2], expected: (usize, usize), found: (usize, usize)) -> Result<()> {
    if found.0 != expected.0 {
        return Err(Error::Shape { what: what[0], expected: expected.0, found: found.0 });
    }
    if found.1 != expected.1 {
        return Err(Error::Shape { what: what[1], expected: expected.1, found: found.1 });
    }
    Ok(())
}

/// `Ok` when every value of `v` is finite; else a value error naming `what` and the index of
/// the first bad value (plus `offset`, its place in a larger array).
pub(crate) fn check_finite(what: &'static str, v: &[f32], offset: usize) -> Result<()> {
    // A branch-free pass first (it vectorises: the batch path checks every query value), the
    // position only when something is wrong.
    const EXP: u32 = 0x7f80_0000;
    if v.chunks(64).all(|c| c.iter().fold(0u32, |a, x| a | u32::from(x.to_bits() & EXP == EXP)) == 0) {
        return Ok(());
    }
    match v.iter().position(|x| !x.is_finite()) {
        Some(i) => Err(Error::Value { what, index: offset + i, reason: "not finite" }),
        None => Ok(()),
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Shape { what, expected, found } => {
                write!(f, "{what}: expected length {expected}, found {found}")
            }
            Error::Value { what, index, reason } => write!(f, "{what}[{index}]: {reason}"),
            Error::Format { format, offset, reason } => {
                write!(f, "malformed {format} at byte {offset}: {reason}")
            }
            Error::Missing { format, name } => write!(f, "{format}: no entry named `{name}`"),
            Error::DType { what, expected, found } => {
                write!(f, "{what}: expected element type {expected}, found {found}")
            }
            Error::Unsupported { what, index } => write!(f, "unsupported: {what} (at {index})"),
            Error::UnsupportedOperator { name, version, index, subgraph } => {
                write!(f, "unsupported operator {name} (version {version}) at operator {index} of subgraph {subgraph}")
            }
            Error::BufferTooSmall { what, needed, given } => {
                write!(f, "{what} too small: needs {needed}, given {given}")
            }
            Error::Misaligned { what, align } => {
                write!(f, "{what} is not aligned to {align} bytes for reading in place")
            }
            Error::Empty { what } => write!(f, "{what} is empty"),
        }
    }
}

/// Also without `std`: firmware can box it, or pass it to anything taking `core::error::Error`.
///
/// ```
/// fn source_free(e: &dyn core::error::Error) -> bool { e.source().is_none() }
/// assert!(source_free(&fvae::Error::Empty { what: "batch" }));
/// ```
impl core::error::Error for Error {}

/// `Result<T, fvae::Error>`.
pub type Result<T> = core::result::Result<T, Error>;
