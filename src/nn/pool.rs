//! AVERAGE_POOL_2D and MAX_POOL_2D, int8 NHWC (TFLite Micro's `reference_integer_ops::AveragePool`
//! and `MaxPool`): for each output pixel and channel, the window of `filter_h x filter_w` input
//! pixels at `(out_y * stride_h - pad_h, out_x * stride_w - pad_w)`, cut to the input (padding
//! is not counted), then
//! * average: `S / count` rounded half away from zero (`(S +- count / 2) / count`, truncating);
//! * max: the largest value;
//!
//! clamped to the fused activation's range. No requantisation: as TFLite Micro's prepare step,
//! input and output must share the zero point and their scales differ by at most 1e-6.
//! Output size and padding are TFLite's `ComputePaddingHeightWidth` (dilation 1).

use super::quant::activation_range;
use super::{as_i8, out_size_and_padding, positive, w32, Kind, OpDesc, Setup};
use crate::{Error, Result};

#[inline(never)] // set-up only: its own stack frame
pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let code = s.model.operator_code(s.op.opcode_index())?;
    let kind =
        if code.builtin == crate::formats::tflite::op::MAX_POOL_2D { Kind::MaxPool2d } else { Kind::AveragePool2d };
    let o = s.op.pool2d_options()?;
    let (x, y) = (s.need_input(0)?, s.output()?);
    s.check_i8(&x)?;
    s.check_i8(&y)?;
    s.expect_activation(&x)?;
    if x.rank != 4 || y.rank != 4 {
        return Err(s.shape(4, x.rank.min(y.rank)));
    }
    if (x.scale - y.scale).abs() as f64 > 1.0e-6 || x.zero_point != y.zero_point {
        return Err(s.unsupported("pooling input quantised unlike its output"));
    }
    let (sh, sw) = (positive(s, o.stride_h, "pooling stride")?, positive(s, o.stride_w, "pooling stride")?);
    let (fh, fw) = (positive(s, o.filter_h, "pooling window")?, positive(s, o.filter_w, "pooling window")?);
    let [n, h, w, c] = [x.dims[0], x.dims[1], x.dims[2], x.dims[3]];
    let (oh, pad_h) = out_size_and_padding(o.padding, h, fh, sh, 1);
    let (ow, pad_w) = out_size_and_padding(o.padding, w, fw, sw, 1);
    if y.dims[..4] != [n, oh, ow, c] {
        return Err(s.shape(n * oh * ow * c, y.numel));
    }
    // Every window must reach into the input (the reference fails at run time otherwise).
    let reaches = |out: usize, stride: usize, pad: usize, filter: usize, size: usize| {
        (0..out).all(|o| {
            let origin = o.saturating_mul(stride);
            origin.saturating_add(filter) > pad && origin < pad.saturating_add(size)
        })
    };
    if !reaches(oh, sh, pad_h, fh, h) || !reaches(ow, sw, pad_w, fw, w) {
        return Err(Error::Value { what: s.name, index: s.index, reason: "a pooling window outside the input" });
    }
    let (act_min, act_max) = activation_range(o.activation, y.scale, y.zero_point, s.index)?;
    Ok(OpDesc {
        kind: kind as i32,
        input: x.index,
        input2: -1,
        output: y.index,
        in_len: w32(s, x.numel)?,
        out_len: w32(s, y.numel)?,
        batches: w32(s, n)?,
        in_h: w32(s, h)?,
        in_w: w32(s, w)?,
        in_c: w32(s, c)?,
        out_h: w32(s, oh)?,
        out_w: w32(s, ow)?,
        k_h: w32(s, fh)?,
        k_w: w32(s, fw)?,
        stride_h: w32(s, sh)?,
        stride_w: w32(s, sw)?,
        pad_h: w32(s, pad_h)?,
        pad_w: w32(s, pad_w)?,
        act_min,
        act_max,
        ..OpDesc::default()
    })
}

/// The window's range along one dimension, cut to the input: `[start, end)` input indices.
fn window(o: usize, stride: usize, pad: usize, filter: usize, size: usize) -> (usize, usize) {
    let origin = o.saturating_mul(stride);
    let end = origin.saturating_add(filter).min(pad.saturating_add(size));
    (origin.max(pad) - pad, end.saturating_sub(pad))
}

pub(crate) fn eval(d: &OpDesc, input: &[u8], output: &mut [u8]) -> Result<()> {
    let [n, h, w, c, oh, ow] = [d.batches, d.in_h, d.in_w, d.in_c, d.out_h, d.out_w].map(|v| v as usize);
    let [fh, fw, sh, sw, ph, pw] = [d.k_h, d.k_w, d.stride_h, d.stride_w, d.pad_h, d.pad_w].map(|v| v as usize);
    let (x, y) = (as_i8(input)?, output);
    let max = d.kind == Kind::MaxPool2d as i32;
    let bad = |at: usize| Error::Shape { what: "pooling", expected: n * h * w * c, found: at };
    let mut out = y.iter_mut();
    for b in 0..n {
        for oy in 0..oh {
            let (y0, y1) = window(oy, sh, ph, fh, h);
            for ox in 0..ow {
                let (x0, x1) = window(ox, sw, pw, fw, w);
                for ch in 0..c {
                    let (mut sum, mut top, mut count) = (0i32, i8::MIN, 0i32);
                    for iy in y0..y1 {
                        for ix in x0..x1 {
                            let at = ((b * h + iy) * w + ix) * c + ch;
                            let v = *x.get(at).ok_or(bad(at))?;
                            sum = sum.wrapping_add(v as i32);
                            top = top.max(v);
                            count += 1;
                        }
                    }
                    let r = if max {
                        top as i32
                    } else {
                        // Rounded half away from zero; count is never 0 (checked at set-up).
                        let nudged = if sum > 0 { sum.wrapping_add(count / 2) } else { sum.wrapping_sub(count / 2) };
                        nudged.checked_div(count).ok_or(bad(0))?
                    };
                    *out.next().ok_or(bad(0))? = r.max(d.act_min).min(d.act_max) as i8 as u8;
                }
            }
        }
    }
    Ok(())
}
