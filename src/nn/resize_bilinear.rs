//! RESIZE_BILINEAR, int8 NHWC (TFLite's `reference_ops::ResizeBilinearInteger`, the integer path
//! TFLite Micro runs for int8): no requantisation, the four neighbours weighted in 1/1024ths.
//!
//! Per dimension resized from `in` to `out` (integer arithmetic, C division truncating):
//! `scale = (1024 * in + out / 2) / out`, or with `align_corners` and `out > 1`
//! `(1024 * (in - 1) + (out - 1) / 2) / (out - 1)`; for output coordinate `o`,
//! `v = o * scale` (half-pixel centres: `o * scale + scale / 2 - 512`),
//! `lo = max(v / 1024, 0)`, `hi = min((v + 1023) / 1024, in - 1)`, weight of `hi` `f = v - 1024 lo`.
//! The output is `sum_q x_q w_q` (weights `(1024 - f_y)(1024 - f_x)`, ...) in i64, plus `2^19`
//! with the sum's sign, divided by `2^20` (truncating).

use super::{as_i8, w32, Kind, OpDesc, Setup};
use crate::formats::tflite::TensorType;
use crate::{Error, Result};

#[inline(never)] // set-up only: its own stack frame
pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let o = s.op.resize_bilinear_options()?;
    let (x, size, y) = (s.need_input(0)?, s.need_input(1)?, s.output()?);
    s.check_i8(&x)?;
    s.check_i8(&y)?;
    s.expect_activation(&x)?;
    s.expect_type(&size, TensorType::Int32)?;
    if x.rank != 4 || y.rank != 4 {
        return Err(s.shape(4, x.rank.min(y.rank)));
    }
    if o.align_corners && o.half_pixel_centers {
        return Err(s.unsupported("RESIZE_BILINEAR with both align_corners and half_pixel_centers"));
    }
    let (oh, ow) = (s.i32_at(&size, 0)?, s.i32_at(&size, 1)?);
    if oh <= 0 || ow <= 0 || oh as usize != y.dims[1] || ow as usize != y.dims[2] {
        return Err(s.shape(y.dims[1], oh.max(0) as usize));
    }
    if y.dims[0] != x.dims[0] || y.dims[3] != x.dims[3] {
        return Err(s.shape(x.numel, y.numel));
    }
    // The reference's products of 1024 with sizes and coordinates stay in i32.
    if x.dims[1].max(x.dims[2]).max(y.dims[1]).max(y.dims[2]) > 1 << 20 {
        return Err(s.unsupported("RESIZE_BILINEAR sizes whose fixed-point coordinates overflow i32"));
    }
    let sc = |input: usize, output: i32| -> i32 {
        let i = input as i32;
        if o.align_corners && output > 1 {
            ((1 << 10) * (i - 1) + (output - 1) / 2) / (output - 1)
        } else {
            ((1 << 10) * i + output / 2) / output
        }
    };
    Ok(OpDesc {
        kind: Kind::ResizeBilinear as i32,
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
        stride_h: sc(x.dims[1], oh),
        stride_w: sc(x.dims[2], ow),
        flags: o.half_pixel_centers as i32,
        ..OpDesc::default()
    })
}

/// `(v, lo, hi)` of output coordinate `o` (see the module comment).
fn coordinate(o: i32, scale: i32, half_pixel: bool, input: i32) -> (i32, i32, i32) {
    let v = if half_pixel { o * scale + scale / 2 - (1 << 9) } else { o * scale };
    (v, (v / (1 << 10)).max(0), ((v + (1 << 10) - 1) / (1 << 10)).min(input - 1))
}

pub(crate) fn eval(d: &OpDesc, input: &[u8], output: &mut [u8]) -> Result<()> {
    let [n, h, w, c] = [d.batches, d.in_h, d.in_w, d.in_c].map(|v| v as usize);
    let x = as_i8(input)?;
    let hp = d.flags & 1 != 0;
    let bad = |at: usize| Error::Shape { what: "RESIZE_BILINEAR", expected: n * h * w * c, found: at };
    let at = |b: usize, iy: i32, ix: i32, ch: usize| -> Result<i64> {
        let i = ((b * h + iy.max(0) as usize) * w + ix.max(0) as usize) * c + ch;
        Ok(*x.get(i).ok_or(bad(i))? as i64)
    };
    let mut out = output.iter_mut();
    for b in 0..n {
        for oy in 0..d.out_h {
            let (vy, y0, y1) = coordinate(oy, d.stride_h, hp, h as i32);
            let (fy1, fy0) = ((vy - (1 << 10) * y0) as i64, ((1 << 10) - (vy - (1 << 10) * y0)) as i64);
            for ox in 0..d.out_w {
                let (vx, x0, x1) = coordinate(ox, d.stride_w, hp, w as i32);
                let (fx1, fx0) = ((vx - (1 << 10) * x0) as i64, ((1 << 10) - (vx - (1 << 10) * x0)) as i64);
                for ch in 0..c {
                    let sum = at(b, y0, x0, ch)? * fy0 * fx0
                        + at(b, y1, x0, ch)? * fy1 * fx0
                        + at(b, y0, x1, ch)? * fy0 * fx1
                        + at(b, y1, x1, ch)? * fy1 * fx1;
                    let round = if sum > 0 { 1 << 19 } else { -(1 << 19) };
                    *out.next().ok_or(bad(0))? = ((sum + round) / (1 << 20)) as i8 as u8;
                }
            }
        }
    }
    Ok(())
}
