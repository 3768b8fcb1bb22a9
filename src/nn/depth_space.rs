//! DEPTH_TO_SPACE and SPACE_TO_DEPTH, int8 NHWC (TFLite's `reference_ops::DepthToSpace` and
//! `SpaceToDepth`): a permutation of the bytes, no requantisation (TFLite Micro checks no
//! quantisation either). With block size `k`, the output's `[b, y*k + i, x*k + j, c]` is the
//! input's `[b, y, x, (i*k + j) * C + c]` for DEPTH_TO_SPACE (`C` output channels), and
//! SPACE_TO_DEPTH is the inverse.

use super::{positive, w32, Kind, OpDesc, Setup};
use crate::{Error, Result};

#[inline(never)] // set-up only: its own stack frame
pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let code = s.model.operator_code(s.op.opcode_index())?;
    let to_space = code.builtin == crate::formats::tflite::op::DEPTH_TO_SPACE;
    let k = positive(s, s.op.block_size(to_space)?, "block size")?;
    let (x, y) = (s.need_input(0)?, s.output()?);
    s.check_i8(&x)?;
    s.check_i8(&y)?;
    s.expect_activation(&x)?;
    if x.rank != 4 || y.rank != 4 {
        return Err(s.shape(4, x.rank.min(y.rank)));
    }
    // The depth side (D2S input, S2D output) and the space side.
    let (depth, space) = if to_space { (&x, &y) } else { (&y, &x) };
    let kk = k.checked_mul(k).ok_or(s.unsupported("block size"))?;
    let want = [
        space.dims[0],
        depth.dims[1].saturating_mul(k),
        depth.dims[2].saturating_mul(k),
        depth.dims[3].checked_div(kk).unwrap_or(0),
    ];
    if depth.dims[3].checked_rem(kk) != Some(0) || space.dims[..4] != want || depth.dims[0] != space.dims[0] {
        return Err(s.shape(depth.numel, space.numel));
    }
    Ok(OpDesc {
        kind: if to_space { Kind::DepthToSpace } else { Kind::SpaceToDepth } as i32,
        input: x.index,
        input2: -1,
        output: y.index,
        in_len: w32(s, x.numel)?,
        out_len: w32(s, y.numel)?,
        batches: w32(s, depth.dims[0])?,
        in_h: w32(s, depth.dims[1])?,
        in_w: w32(s, depth.dims[2])?,
        out_c: w32(s, space.dims[3])?,
        k_h: w32(s, k)?,
        ..OpDesc::default()
    })
}

/// Copies between the depth-side tensor (`[n, h, w, k*k*c]`) and the space-side one
/// (`[n, h*k, w*k, c]`): DEPTH_TO_SPACE reads the depth side, SPACE_TO_DEPTH writes it.
pub(crate) fn eval(d: &OpDesc, input: &[u8], output: &mut [u8]) -> Result<()> {
    let [n, h, w, c, k] = [d.batches, d.in_h, d.in_w, d.out_c, d.k_h].map(|v| v as usize);
    let to_space = d.kind == Kind::DepthToSpace as i32;
    let bad =
        |at: usize| Error::Shape { what: "DEPTH_TO_SPACE/SPACE_TO_DEPTH", expected: n * h * w * k * k * c, found: at };
    for b in 0..n {
        for y in 0..h {
            for x in 0..w {
                for i in 0..k {
                    for j in 0..k {
                        let deep = (((b * h + y) * w + x) * k * k + i * k + j) * c;
                        let flat = ((b * h * k + y * k + i) * w * k + x * k + j) * c;
                        let (from, to) = if to_space { (deep, flat) } else { (flat, deep) };
                        let src = input.get(from..from + c).ok_or(bad(from))?;
                        output.get_mut(to..to + c).ok_or(bad(to))?.copy_from_slice(src);
                    }
                }
            }
        }
    }
    Ok(())
}
