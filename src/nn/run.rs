//! What an operator's `eval` gets ([`Run`]) and the checked slicing helpers the operators use on
//! their buffers.

use super::desc::OpDesc;
use crate::formats::{cast_slice, cast_slice_mut};
use crate::{Error, Result};

/// `&v[r]` as an error instead of a panic. The planner sized every buffer and `prepare` checked
/// every shape, so this never fails, but the optimiser cannot prove that, and the no-panic link
/// check (nopanic/) wants no panic path at all.
pub(crate) fn sub<T>(v: &[T], r: core::ops::Range<usize>) -> Result<&[T]> {
    let found = v.len();
    v.get(r.start..r.end).ok_or(Error::Shape { what: "nn buffer", expected: r.end, found })
}

/// [`sub`] for `&mut v[r]`.
pub(crate) fn sub_mut<T>(v: &mut [T], r: core::ops::Range<usize>) -> Result<&mut [T]> {
    let found = v.len();
    v.get_mut(r.start..r.end).ok_or(Error::Shape { what: "nn buffer", expected: r.end, found })
}

/// [`sub`] for `v.split_at_mut(at)`.
pub(crate) fn split_mut<T>(v: &mut [T], at: usize) -> Result<(&mut [T], &mut [T])> {
    let found = v.len();
    v.split_at_mut_checked(at).ok_or(Error::Shape { what: "nn buffer", expected: at, found })
}

/// [`sub`] for `v.split_at(at)`.
pub(crate) fn split<T>(v: &[T], at: usize) -> Result<(&[T], &[T])> {
    v.split_at_checked(at).ok_or(Error::Shape { what: "nn buffer", expected: at, found: v.len() })
}

/// Run-time context handed to an operator's `eval`.
pub(crate) struct Run<'x> {
    /// The model's bytes (weights are read in place).
    pub model: &'x [u8],
    /// This operator's stored description (`desc.rs`).
    pub desc: &'x [i32],
    /// This operator's constants (after its description).
    pub params: &'x [i32],
    /// This operator's constant bytes: a lookup table, or weights packed for the SIMD kernels.
    pub lut: &'x [u8],
    /// i32 scratch (accumulators).
    pub acc: &'x mut [i32],
    /// Byte scratch (the input row or im2col patch, int8 or offset to unsigned).
    pub patch: &'x mut [u8],
}

impl<'x> Run<'x> {
    /// The constant weights of the operator, as i8.
    pub fn weights(&self, d: &OpDesc) -> Result<&'x [i8]> {
        self.weights_at(d.w_off, d.w_len)
    }

    /// The `len` constant weight bytes at model offset `off`, as i8.
    pub fn weights_at(&self, off: i32, len: i32) -> Result<&'x [i8]> {
        let (off, len) = (off as usize, len as usize);
        let model: &'x [u8] = self.model;
        let b = model.get(off..off + len).ok_or(Error::Shape { what: "weights", expected: len, found: 0 })?;
        cast_slice("weights", b)
    }
}

/// i8 view of bytes.
pub(crate) fn as_i8(b: &[u8]) -> Result<&[i8]> {
    cast_slice("int8 tensor", b)
}

/// Mutable i8 view of bytes.
pub(crate) fn as_i8_mut(b: &mut [u8]) -> Result<&mut [i8]> {
    cast_slice_mut("int8 tensor", b)
}
