//! RESIZE_NEAREST_NEIGHBOR, int8 NHWC (TFLite's `reference_ops::ResizeNearestNeighbor`): a copy
//! of the nearest input pixel, no requantisation. For output coordinate `o` of a dimension
//! resized from `in` to `out` (f32 arithmetic as TFLite):
//! `scale = align_corners && out > 1 ? (in - 1) / (out - 1) : in / out`,
//! `offset = half_pixel_centers ? 0.5 : 0`,
//! `i = min(align_corners ? round((o + offset) * scale) : floor((o + offset) * scale), in - 1)`,
//! and `max(i, 0)` with half-pixel centres.

use super::{w32, Kind, OpDesc, Setup};
use crate::formats::tflite::TensorType;
use crate::{Error, Result};

pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let o = s.op.resize_nearest_options()?;
    let (x, size, y) = (s.need_input(0)?, s.need_input(1)?, s.output()?);
    s.check_i8(&x)?;
    s.check_i8(&y)?;
    s.expect_activation(&x)?;
    s.expect_type(&size, TensorType::Int32)?;
    if x.rank != 4 || y.rank != 4 {
        return Err(s.shape(4, x.rank.min(y.rank)));
    }
    let (oh, ow) = (s.i32_at(&size, 0)?, s.i32_at(&size, 1)?);
    if oh as usize != y.dims[1] || ow as usize != y.dims[2] || y.dims[0] != x.dims[0] || y.dims[3] != x.dims[3] {
        return Err(s.shape(y.dims[1], oh.max(0) as usize));
    }
    if x.scale != y.scale || x.zero_point != y.zero_point {
        return Err(s.unsupported("RESIZE_NEAREST_NEIGHBOR with different input and output quantization"));
    }
    Ok(OpDesc {
        kind: Kind::ResizeNearest as i32,
        input: x.index,
        input2: -1,
        output: y.index,
        in_len: w32(s, x.numel)?,
        out_len: w32(s, y.numel)?,
        batches: w32(s, x.dims[0])?,
        in_h: w32(s, x.dims[1])?,
        in_w: w32(s, x.dims[2])?,
        in_c: w32(s, x.dims[3])?,
        out_h: oh,
        out_w: ow,
        flags: o.align_corners as i32 | (o.half_pixel_centers as i32) << 1,
        ..OpDesc::default()
    })
}

fn nearest(o: usize, input: usize, output: usize, align_corners: bool, half_pixel: bool) -> usize {
    let scale = if align_corners && output > 1 {
        (input as f32 - 1.0) / (output as f32 - 1.0)
    } else {
        input as f32 / output as f32
    };
    let offset = if half_pixel { 0.5f32 } else { 0.0 };
    let v = (o as f32 + offset) * scale;
    let i = if align_corners { libm::roundf(v) as i32 } else { libm::floorf(v) as i32 };
    let i = i.min(input as i32 - 1);
    (if half_pixel { i.max(0) } else { i }).max(0) as usize
}

pub(crate) fn eval(d: &OpDesc, input: &[u8], output: &mut [u8]) -> Result<()> {
    let [n, h, w, c, oh, ow] = [d.batches, d.in_h, d.in_w, d.in_c, d.out_h, d.out_w].map(|v| v as usize);
    let (ac, hp) = (d.flags & 1 != 0, d.flags & 2 != 0);
    let mut px = output.chunks_exact_mut(c.max(1));
    for b in 0..n {
        for oy in 0..oh {
            let iy = nearest(oy, h, oh, ac, hp);
            for ox in 0..ow {
                let ix = nearest(ox, w, ow, ac, hp);
                let at = ((b * h + iy) * w + ix) * c;
                match (px.next(), input.get(at..at + c)) {
                    (Some(dst), Some(src)) if dst.len() == src.len() => dst.copy_from_slice(src),
                    _ => {
                        return Err(Error::Shape {
                            what: "RESIZE_NEAREST_NEIGHBOR",
                            expected: n * h * w * c,
                            found: at,
                        })
                    }
                }
            }
        }
    }
    Ok(())
}
