//! PAD and PADV2 on int8, up to rank 4: the input placed inside a larger tensor filled with the
//! pad value (PAD: the output's zero point, a real 0; PADV2: its constant value input). As in
//! TFLite Micro the bytes are copied unchanged, so input and output must share scale and zero
//! point. The paddings (`[rank, 2]` int32, before and after) must be known at plan time.

use super::{w32, Kind, OpDesc, Setup};
use crate::formats::tflite::TensorType;
use crate::{Error, Result};

const RANK: usize = 4;

/// PAD: padded with the output's zero point.
pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    describe_pad(s, false)
}

/// PADV2: padded with its constant value input.
pub(crate) fn describe_v2(s: &Setup<'_, '_>) -> Result<OpDesc> {
    describe_pad(s, true)
}

fn describe_pad(s: &Setup<'_, '_>, v2: bool) -> Result<OpDesc> {
    let (x, pads, y) = (s.need_input(0)?, s.need_input(1)?, s.output()?);
    s.check_i8(&x)?;
    s.check_i8(&y)?;
    s.expect_activation(&x)?;
    if x.scale.to_bits() != y.scale.to_bits() || x.zero_point != y.zero_point {
        return Err(s.unsupported("PAD input quantised unlike its output"));
    }
    if x.rank > RANK || x.rank != y.rank {
        return Err(s.unsupported("PAD above rank 4"));
    }
    if pads.dtype != TensorType::Int32 || pads.numel != 2 * x.rank {
        return Err(s.shape(2 * x.rank, pads.numel));
    }
    let value = match (v2, s.input(2)?) {
        (true, Some(c)) => {
            s.check_i8(&c)?;
            if c.numel != 1 || c.scale.to_bits() != y.scale.to_bits() || c.zero_point != y.zero_point {
                return Err(s.unsupported("PADV2 constant value not one int8 quantised as the output"));
            }
            *s.const_bytes(&c)?.first().ok_or(s.shape(1, 0))? as i8 as i32
        }
        _ => y.zero_point,
    };
    // Dimensions right-aligned to rank 4 (leading dimensions 1, unpadded).
    let lead = RANK - x.rank;
    let (mut dims, mut before, mut after) = ([1usize; RANK], [0usize; RANK], [0usize; RANK]);
    for d in 0..x.rank {
        let (b, a) = (s.i32_at(&pads, 2 * d)?, s.i32_at(&pads, 2 * d + 1)?);
        if b < 0 || a < 0 {
            return Err(Error::Value { what: "PAD paddings", index: s.index, reason: "negative" });
        }
        dims[lead + d] = x.dims[d];
        before[lead + d] = b as usize;
        after[lead + d] = a as usize;
        if y.dims[d] != x.dims[d] + b as usize + a as usize {
            return Err(s.shape(x.dims[d] + b as usize + a as usize, y.dims[d]));
        }
    }
    Ok(OpDesc {
        kind: Kind::Pad as i32,
        input: x.index,
        input2: -1,
        output: y.index,
        in_len: w32(s, x.bytes())?,
        out_len: w32(s, y.bytes())?,
        out_zp: value,
        a0: w32(s, dims[0])?,
        a1: w32(s, dims[1])?,
        a2: w32(s, dims[2])?,
        a3: w32(s, dims[3])?,
        b0: w32(s, before[0])?,
        b1: w32(s, before[1])?,
        b2: w32(s, before[2])?,
        b3: w32(s, before[3])?,
        o0: w32(s, after[0])?,
        o1: w32(s, after[1])?,
        o2: w32(s, after[2])?,
        o3: w32(s, after[3])?,
        ..OpDesc::default()
    })
}

/// Fills the output with the pad value, then copies each innermost input row into place.
pub(crate) fn eval(d: &OpDesc, x: &[u8], out: &mut [u8]) -> Result<()> {
    let dims = [d.a0, d.a1, d.a2, d.a3].map(|v| v as usize);
    let before = [d.b0, d.b1, d.b2, d.b3].map(|v| v as usize);
    let after = [d.o0, d.o1, d.o2, d.o3].map(|v| v as usize);
    let od: [usize; RANK] = core::array::from_fn(|k| dims[k] + before[k] + after[k]);
    if x.len() != dims.iter().product::<usize>() || out.len() != od.iter().product::<usize>() {
        return Err(Error::Shape { what: "PAD", expected: out.len(), found: x.len() });
    }
    out.fill(d.out_zp as i8 as u8);
    let row = dims[3];
    if row == 0 {
        return Ok(());
    }
    let mut rows = x.chunks_exact(row);
    for i0 in 0..dims[0] {
        for i1 in 0..dims[1] {
            for i2 in 0..dims[2] {
                let at = (((i0 + before[0]) * od[1] + i1 + before[1]) * od[2] + i2 + before[2]) * od[3] + before[3];
                let src = rows.next().ok_or(Error::Shape { what: "PAD", expected: x.len(), found: 0 })?;
                super::sub_mut(out, at..at + row)?.copy_from_slice(src);
            }
        }
    }
    Ok(())
}
