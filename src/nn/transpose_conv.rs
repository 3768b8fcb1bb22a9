//! TRANSPOSE_CONV, int8 NHWC (TFLite's `reference_integer_ops::TransposeConv`).
//!
//! Inputs: 0 = output shape (int32, ignored as in TFLite Micro: the output tensor's shape is
//! used), 1 = filter OHWI `[out_c, kh, kw, in_c]` symmetric int8 per output channel, 2 = input,
//! 3 = optional int32 bias. Padding is computed as for a convolution from the output size back
//! to the input (`ComputePaddingHeightWidth` with the output height/width, dilation 1).
//!
//! TFLite scatters: for every input pixel `(iy, ix)` and tap `(ky, kx)`,
//! `acc[oy = iy * stride_h - pad_h + ky, ox = ..., o] += sum_c (x[iy, ix, c] - zp_x) * w[o, ky, kx, c]`,
//! then `y = clamp(zp_y + MultiplyByQuantizedMultiplier(acc + bias[o], M[o], shift[o]), act)`.
//!
//! fvae gathers the same sum per output pixel: tap `(ky, kx)` contributes input pixel
//! `iy = (oy + pad_h - ky) / stride_h` when that division is exact and inside the image. The
//! patch of all taps (non-contributing ones filled with `zp_x`, contributing zero) then goes
//! through the same matrix-vector kernel as CONV_2D. The set of products is the one TFLite sums,
//! and wrapping int32 addition is associative, so the integers are identical.

use super::fully_connected::fill_channel_params;
use super::quant::activation_range;
use super::{as_i8, as_i8_mut, out_size_and_padding, positive, w32, Kind, OpDesc, Run, Setup};
use crate::formats::tflite::TensorType;
use crate::kernels::int8;
use crate::Result;

pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let o = s.op.transpose_conv_options()?;
    let (w, x, y) = (s.need_input(1)?, s.need_input(2)?, s.output()?);
    s.check_i8(&x)?;
    s.check_i8(&y)?;
    s.expect_activation(&x)?;
    let (w_off, w_len) = s.expect_constant(&w)?;
    if x.rank != 4 || w.rank != 4 || y.rank != 4 {
        return Err(s.shape(4, x.rank.min(w.rank).min(y.rank)));
    }
    let (n, h, wd, c) = (x.dims[0], x.dims[1], x.dims[2], x.dims[3]);
    let (oc, kh, kw, ic) = (w.dims[0], w.dims[1], w.dims[2], w.dims[3]);
    if ic != c {
        return Err(s.shape(c, ic));
    }
    s.check_filter(&w, oc, 0)?;
    if let Some(b) = s.input(3)? {
        s.expect_type(&b, TensorType::Int32)?;
        s.expect_constant(&b)?;
        if b.numel != oc {
            return Err(s.shape(oc, b.numel));
        }
    }
    let (sh, sw) = (positive(s, o.stride_h, "stride")?, positive(s, o.stride_w, "stride")?);
    let (oh, ow) = (y.dims[1], y.dims[2]);
    if y.dims[0] != n || y.dims[3] != oc {
        return Err(s.shape(n * oc, y.dims[0] * y.dims[3]));
    }
    let (_, ph) = out_size_and_padding(o.padding, oh, kh, sh, 1);
    let (_, pw) = out_size_and_padding(o.padding, ow, kw, sw, 1);
    let (act_min, act_max) = activation_range(o.activation, y.scale, y.zero_point, s.index)?;
    Ok(OpDesc {
        kind: Kind::TransposeConv as i32,
        input: x.index,
        input2: -1,
        output: y.index,
        in_len: w32(s, x.numel)?,
        out_len: w32(s, y.numel)?,
        w_off: w32(s, w_off)?,
        w_len: w32(s, w_len)?,
        pers_words: w32(s, 3 * oc)?,
        scratch_words: w32(s, oc)?,
        scratch_bytes: w32(s, kh * kw * c)?,
        batches: w32(s, n)?,
        in_h: w32(s, h)?,
        in_w: w32(s, wd)?,
        in_c: w32(s, c)?,
        out_h: w32(s, oh)?,
        out_w: w32(s, ow)?,
        out_c: w32(s, oc)?,
        k_h: w32(s, kh)?,
        k_w: w32(s, kw)?,
        stride_h: w32(s, sh)?,
        stride_w: w32(s, sw)?,
        pad_h: w32(s, ph)?,
        pad_w: w32(s, pw)?,
        in_zp: x.zero_point,
        out_zp: y.zero_point,
        act_min,
        act_max,
        ..OpDesc::default()
    })
}

pub(crate) fn prepare(s: &Setup<'_, '_>, d: &OpDesc, pers: &mut [i32]) -> Result<()> {
    let (w, x, y) = (s.need_input(1)?, s.need_input(2)?, s.output()?);
    let bias = s.input(3)?;
    let weights = as_i8(s.const_bytes(&w)?)?;
    fill_channel_params(s, &x, &w, &y, bias.as_ref(), weights, d.out_c as usize, pers)
}

/// The input coordinate tap `k` of output coordinate `o` reads, if any.
#[inline]
fn source(o: usize, k: usize, pad: usize, stride: usize, size: usize) -> Option<usize> {
    let t = (o + pad).checked_sub(k)?;
    (t % stride == 0 && t / stride < size).then_some(t / stride)
}

pub(crate) fn eval(d: &OpDesc, run: &mut Run<'_>, input: &[u8], output: &mut [u8]) -> Result<()> {
    let [n, h, wd, c, oh, ow, oc, kh, kw, sh, sw, ph, pw] = [
        d.batches, d.in_h, d.in_w, d.in_c, d.out_h, d.out_w, d.out_c, d.k_h, d.k_w, d.stride_h, d.stride_w, d.pad_h,
        d.pad_w,
    ]
    .map(|v| v as usize);
    let w = run.weights(d)?;
    let (bias, rest) = run.params.split_at(oc);
    let (mult, shift) = rest.split_at(oc);
    let x = as_i8(input)?;
    let y = as_i8_mut(output)?;
    let patch = &mut run.patch[..kh * kw * c];
    let acc = &mut run.acc[..oc];
    let fill = d.in_zp as i8;
    let mut px = y.chunks_exact_mut(oc);
    for b in 0..n {
        let image = &x[b * h * wd * c..(b + 1) * h * wd * c];
        for oy in 0..oh {
            for ox in 0..ow {
                for ky in 0..kh {
                    let iy = source(oy, ky, ph, sh, h);
                    for kx in 0..kw {
                        let dst = &mut patch[(ky * kw + kx) * c..(ky * kw + kx + 1) * c];
                        match (iy, source(ox, kx, pw, sw, wd)) {
                            (Some(iy), Some(ix)) => {
                                let at = (iy * wd + ix) * c;
                                dst.copy_from_slice(&image[at..at + c]);
                            }
                            _ => dst.fill(fill),
                        }
                    }
                }
                int8::matvec(patch, w, bias, acc);
                if let Some(out) = px.next() {
                    int8::requantize(acc, mult, shift, d.out_zp, d.act_min, d.act_max, out);
                }
            }
        }
    }
    Ok(())
}
