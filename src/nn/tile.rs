//! TILE on int8 up to rank 4 (LiteRT's reference `tile.cc`; TFLite Micro has no TILE): the
//! input repeated `multiples[d]` times along each dimension `d`, a copy of the bytes (no
//! requantisation; input and output must share scale and zero point). The multiples are a
//! constant int32 or int64 tensor.

use super::{w32, Kind, OpDesc, Setup};
use crate::formats::tflite::TensorType;
use crate::{Error, Result};

const RANK: usize = 4;

#[inline(never)] // set-up only: its own stack frame
pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let (x, multiples, y) = (s.need_input(0)?, s.need_input(1)?, s.output()?);
    s.check_i8(&x)?;
    s.check_i8(&y)?;
    s.expect_activation(&x)?;
    if x.scale.to_bits() != y.scale.to_bits() || x.zero_point != y.zero_point {
        return Err(s.unsupported("TILE input quantised unlike its output"));
    }
    if x.rank > RANK || x.rank != y.rank || multiples.numel != x.rank {
        return Err(s.unsupported("TILE above rank 4 or multiples not one per dimension"));
    }
    let bytes = s.const_bytes(&multiples)?;
    let width = match multiples.dtype {
        TensorType::Int32 => 4,
        TensorType::Int64 => 8,
        _ => return Err(Error::DType { what: s.name, expected: "i32 or i64", found: multiples.dtype.name() }),
    };
    // Dimensions right-aligned to rank 4 (leading 1s, multiple 1).
    let lead = RANK - x.rank;
    let (mut dims, mut mult) = ([1i32; RANK], [1i32; RANK]);
    for (k, chunk) in bytes.chunks_exact(width).enumerate().take(x.rank) {
        let mut b = [0u8; 8];
        b[..width].copy_from_slice(chunk);
        let m = if width == 4 { i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64 } else { i64::from_le_bytes(b) };
        let (Some(&d), Some(&out), Some(slot), Some(times)) =
            (x.dims.get(k), y.dims.get(k), dims.get_mut(lead + k), mult.get_mut(lead + k))
        else {
            continue;
        };
        if m < 0 || (d as i64).checked_mul(m) != Some(out as i64) {
            return Err(s.shape(d.saturating_mul(m.max(0) as usize), out));
        }
        *slot = w32(s, d)?;
        *times = w32(s, m as usize)?;
    }
    Ok(OpDesc {
        kind: Kind::Tile as i32,
        input: x.index,
        input2: -1,
        output: y.index,
        in_len: w32(s, x.numel)?,
        out_len: w32(s, y.numel)?,
        a0: dims[0],
        a1: dims[1],
        a2: dims[2],
        a3: dims[3],
        o0: dims[0].saturating_mul(mult[0]),
        o1: dims[1].saturating_mul(mult[1]),
        o2: dims[2].saturating_mul(mult[2]),
        o3: dims[3].saturating_mul(mult[3]),
        ..OpDesc::default()
    })
}

pub(crate) fn eval(d: &OpDesc, input: &[u8], output: &mut [u8]) -> Result<()> {
    let [i0, i1, i2, i3] = [d.a0, d.a1, d.a2, d.a3].map(|v| v as usize);
    let [n0, n1, n2, n3] = [d.o0, d.o1, d.o2, d.o3].map(|v| v as usize);
    let bad = |at: usize| Error::Shape { what: "TILE", expected: i0 * i1 * i2 * i3, found: at };
    if input.is_empty() || output.is_empty() {
        return Ok(()); // an empty input tiles to an empty output
    }
    // Each output row (innermost dimension) is its input row, repeated.
    let mut rows = output.chunks_exact_mut(n3.max(1));
    for a in 0..n0 {
        for b in 0..n1 {
            for c in 0..n2 {
                let from = (((a % i0.max(1)) * i1 + b % i1.max(1)) * i2 + c % i2.max(1)) * i3;
                let src = input.get(from..from + i3).ok_or(bad(from))?;
                for piece in rows.next().ok_or(bad(0))?.chunks_exact_mut(i3.max(1)) {
                    for (o, &v) in piece.iter_mut().zip(src) {
                        *o = v;
                    }
                }
            }
        }
    }
    Ok(())
}
