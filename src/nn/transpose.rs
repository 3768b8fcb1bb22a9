//! TRANSPOSE on int8, up to rank 4: output dimension `k` is input dimension `perm[k]`; the
//! bytes move unchanged (TFLite Micro requires input and output quantised alike; so does fvae).
//! The permutation must be known at plan time. f32 too (the converter can leave TRANSPOSE in
//! float after a DEQUANTIZE): the same walk, four bytes per element.

use super::{w32, Kind, OpDesc, Setup};
use crate::formats::tflite::TensorType;
use crate::{Error, Result};

const RANK: usize = 4;

#[inline(never)] // set-up only: keeps its frame off the common operators' set-up stack
pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let (x, perm, y) = (s.need_input(0)?, s.need_input(1)?, s.output()?);
    let float = x.dtype == TensorType::Float32;
    if float {
        s.expect_type(&y, TensorType::Float32)?;
    } else {
        s.check_i8(&x)?;
        s.check_i8(&y)?;
        if x.scale.to_bits() != y.scale.to_bits() || x.zero_point != y.zero_point {
            return Err(s.unsupported("TRANSPOSE input quantised unlike its output"));
        }
    }
    s.expect_activation(&x)?;
    if x.rank > RANK || x.rank != y.rank || perm.dtype != TensorType::Int32 || perm.numel != x.rank {
        return Err(s.unsupported("TRANSPOSE above rank 4 or with a malformed permutation"));
    }
    // Right-aligned to rank 4: leading dimensions are 1 and stay in place.
    let lead = RANK - x.rank;
    let (mut dims, mut p) = ([1usize; RANK], [0usize, 1, 2, 3]);
    let mut seen = [false; RANK];
    for k in 0..x.rank {
        let v = s.i32_at(&perm, k)?;
        let v = if v < 0 { v + x.rank as i32 } else { v };
        if v < 0 || v as usize >= x.rank || seen[v as usize] {
            return Err(Error::Value { what: "TRANSPOSE permutation", index: s.index, reason: "not a permutation" });
        }
        seen[v as usize] = true;
        dims[lead + k] = x.dims[k];
        p[lead + k] = lead + v as usize;
        if y.dims[k] != x.dims[v as usize] {
            return Err(s.shape(x.dims[v as usize], y.dims[k]));
        }
    }
    Ok(OpDesc {
        kind: Kind::Transpose as i32,
        input: x.index,
        input2: -1,
        output: y.index,
        in_len: w32(s, x.bytes())?,
        out_len: w32(s, y.bytes())?,
        a0: w32(s, dims[0])?,
        a1: w32(s, dims[1])?,
        a2: w32(s, dims[2])?,
        a3: w32(s, dims[3])?,
        b0: p[0] as i32,
        b1: p[1] as i32,
        b2: p[2] as i32,
        b3: p[3] as i32,
        // Bytes per element.
        flags: if float { 4 } else { 1 },
        ..OpDesc::default()
    })
}

pub(crate) fn eval(d: &OpDesc, x: &[u8], out: &mut [u8]) -> Result<()> {
    let dims = [d.a0, d.a1, d.a2, d.a3].map(|v| v as usize);
    let perm = [d.b0, d.b1, d.b2, d.b3].map(|v| (v as usize).min(RANK - 1));
    let size = if d.flags == 4 { 4 } else { 1 };
    let n: usize = dims.iter().product::<usize>() * size;
    if x.len() != n || out.len() != n {
        return Err(Error::Shape { what: "TRANSPOSE", expected: n, found: x.len() });
    }
    // Input strides, then the output walked in order reading the permuted strides.
    let stride = [dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3], 1];
    let od = perm.map(|p| dims[p]);
    let st = perm.map(|p| stride[p]);
    let mut o = out.chunks_exact_mut(size);
    for i0 in 0..od[0] {
        for i1 in 0..od[1] {
            for i2 in 0..od[2] {
                let base = i0 * st[0] + i1 * st[1] + i2 * st[2];
                for i3 in 0..od[3] {
                    let at = (base + i3 * st[3]) * size;
                    if let (Some(dst), Some(v)) = (o.next(), x.get(at..at + size)) {
                        dst.copy_from_slice(v);
                    }
                }
            }
        }
    }
    Ok(())
}
