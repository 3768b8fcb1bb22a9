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
//! fvae scatters the same way, with the per-pixel work as one matrix-vector product: for each
//! input pixel, `v[o, tap] = sum_c (x[c] - zp_x) * w[o, tap, c]` for all output channels and
//! taps at once (the OHWI filter is already a row-major `[out_c * kh * kw, in_c]` matrix; the
//! input zero point is folded into a per-row bias), then each tap's `v[., tap]` is added to
//! its output pixel. The products and their sums are TFLite's (wrapping int32 addition is
//! associative), so the integers are identical. Scratch: the int32 output accumulators, as in
//! TFLite Micro.

use super::fully_connected::{copy_in, MIN_PACKED_ROWS, PACKED, PAIRS, PAIRS_PARAM_WORDS};
use super::quant::activation_range;
use super::quant::quantize_multiplier;
use super::{as_i8, as_i8_mut, out_size_and_padding, positive, w32, Kind, OpDesc, Run, Setup};
use crate::formats::tflite::TensorType;
use crate::kernels::int8;
use crate::Result;

pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    if s.need_input(2)?.dtype == TensorType::Float32 {
        return super::transpose_conv_f32::describe(s);
    }
    let o = s.op.transpose_conv_options()?;
    let (w, x, y) = (s.need_input(1)?, s.need_input(2)?, s.output()?);
    let (w_off, w_len) = s.check_weighted(&x, &w, &y)?;
    if x.rank != 4 || w.rank != 4 || y.rank != 4 {
        return Err(s.shape(4, x.rank.min(w.rank).min(y.rank)));
    }
    let (n, h, wd, c) = (x.dims[0], x.dims[1], x.dims[2], x.dims[3]);
    let (oc, kh, kw, ic) = (w.dims[0], w.dims[1], w.dims[2], w.dims[3]);
    if ic != c {
        return Err(s.shape(c, ic));
    }
    s.check_filter_and_bias(&w, oc, 0, 3)?;
    let (sh, sw) = (positive(s, o.stride_h, "stride")?, positive(s, o.stride_w, "stride")?);
    let (oh, ow) = (y.dims[1], y.dims[2]);
    if y.dims[0] != n || y.dims[3] != oc {
        return Err(s.shape(n * oc, y.dims[0] * y.dims[3]));
    }
    let (_, ph) = out_size_and_padding(o.padding, oh, kh, sh, 1);
    let (_, pw) = out_size_and_padding(o.padding, ow, kw, sw, 1);
    let (act_min, act_max) = activation_range(o.activation, y.scale, y.zero_point, s.index)?;
    let packed = int8::prefers_packed() && oc * kh * kw >= MIN_PACKED_ROWS;
    // Row-major weights: the pairs form where the input channels come in groups of 4.
    let pairs = !packed && c.is_multiple_of(4) && kh <= MAX_TAPS && kw <= MAX_TAPS && h * wd * c <= MAX_PAIRS_INPUT;
    let (scratch_words, scratch_bytes) = if packed {
        (oh * ow * oc + oc * kh * kw, c)
    } else if pairs {
        (int8::pairs::words(h * wd * c) + oc, 0)
    } else {
        (oc, kh * kw * c)
    };
    Ok(OpDesc {
        flags: (packed as i32 * PACKED) | (pairs as i32 * PAIRS),
        lut_bytes: if packed { w32(s, int8::packed_len(oc * kh * kw, c))? } else { 0 },
        kind: Kind::TransposeConv as i32,
        input: x.index,
        input2: -1,
        output: y.index,
        in_len: w32(s, x.numel)?,
        out_len: w32(s, y.numel)?,
        w_off: w32(s, w_off)?,
        w_len: w32(s, w_len)?,
        pers_words: w32(
            s,
            if packed {
                oc * kh * kw + 3 * oc
            } else if pairs {
                PAIRS_PARAM_WORDS * oc
            } else {
                3 * oc
            },
        )?,
        scratch_words: w32(s, scratch_words)?,
        scratch_bytes: w32(s, scratch_bytes)?,
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

/// `[row bias (oc * kh * kw), bias (oc), multiplier (oc), shift (oc)]`; row bias
/// `-(zp_x [+ 128 when packed]) * sum_c w[o, tap, c]`.
///
/// Without packing (Cortex-M): `[bias' (oc), multiplier (oc), shift (oc)]` as CONV_2D, for the
/// gather form (see [`eval_gather`]); in the pairs form the bias unfolded ([`eval_pairs`]).
pub(crate) fn prepare(s: &Setup<'_, '_>, d: &OpDesc, pers: &mut [i32], packed: &mut [u8]) -> Result<()> {
    if d.flags & super::transpose_conv_f32::FLOAT != 0 {
        return Ok(());
    }
    let (w, x, y) = (s.need_input(1)?, s.need_input(2)?, s.output()?);
    let bias = s.input(3)?;
    let weights = as_i8(s.const_bytes(&w)?)?;
    if d.flags & PAIRS != 0 {
        let oc = d.out_c as usize;
        let (params, k) = super::split_mut(pers, 3 * oc)?;
        super::fully_connected::raw_channel_params(s, &x, &w, &y, bias.as_ref(), oc, params)?;
        k.fill(0);
        super::fully_connected::double_requant(pers, oc, weights, y.zero_point);
        return Ok(());
    }
    if d.flags & PACKED == 0 {
        return super::fully_connected::fill_channel_params(s, d, &x, &w, &y, bias.as_ref(), weights, pers, packed);
    }
    let (oc, c) = (d.out_c as usize, d.in_c as usize);
    let rows = oc * (d.k_h * d.k_w) as usize;
    let taps = (d.k_h * d.k_w) as usize;
    // Packed rows are tap-major (row tap * oc + o), so that each tap's outputs are contiguous
    // for the scatter.
    // `checked_`: `oc >= 1` was checked when described, which the optimiser cannot see.
    let src_row = |r: usize| r.checked_rem(oc).unwrap_or(0) * taps + r.checked_div(oc).unwrap_or(0);
    int8::pack_rows_by(weights, rows, c, src_row, as_i8_mut(packed)?);
    let offset = x.zero_point + 128;
    let (row_bias, rest) = super::split_mut(pers, rows)?;
    let (b, rest) = super::split_mut(rest, oc)?;
    let (m, sh) = super::split_mut(rest, oc)?;
    for (r, rb) in row_bias.iter_mut().enumerate() {
        let src = src_row(r);
        let sum = super::sub(weights, src * c..(src + 1) * c)?.iter().fold(0i32, |a, &v| a.wrapping_add(v as i32));
        *rb = offset.wrapping_mul(sum).wrapping_neg();
    }
    for (o, ((b, m), sh)) in b.iter_mut().zip(m.iter_mut()).zip(sh.iter_mut()).enumerate() {
        *b = match &bias {
            Some(t) => s.i32_at(t, o)?,
            None => 0,
        };
        (*m, *sh) = quantize_multiplier(x.scale as f64 * s.channel_scale(&w, o)? as f64 / y.scale as f64);
    }
    Ok(())
}

/// The input coordinate tap `k` of output coordinate `o` reads, if any.
#[inline]
fn source(o: usize, k: usize, pad: usize, stride: usize, size: usize) -> Option<usize> {
    let t = (o + pad).checked_sub(k)?;
    // Stride 2, the usual upsampling, without a division (a library call on Cortex-M0, where the
    // tap lists' divisions were 3% of a convolutional decoder's instructions).
    let q = if stride == 2 { t >> 1 } else { t.checked_div(stride)? }; // (stride >= 1, checked when described)
    (q * stride == t && q < size).then_some(q)
}

/// The gather form, for the row-major (Cortex-M) path, whose RAM it spares: per output pixel,
/// tap `(ky, kx)` reads input pixel `iy = (oy + pad_h - ky) / stride_h` when that division is
/// exact and inside the image; the patch of all taps (the others filled with `zp_x`, which
/// contribute zero) goes through the CONV_2D kernel. Same products, same sums.
fn eval_gather(d: &OpDesc, run: &mut Run<'_>, input: &[u8], output: &mut [u8]) -> Result<()> {
    let [n, h, wd, c, oh, ow, oc, kh, kw, sh, sw, ph, pw] = [
        d.batches, d.in_h, d.in_w, d.in_c, d.out_h, d.out_w, d.out_c, d.k_h, d.k_w, d.stride_h, d.stride_w, d.pad_h,
        d.pad_w,
    ]
    .map(|v| v as usize);
    let depth = kh * kw * c;
    let y = as_i8_mut(output)?;
    let pad = super::fully_connected::patch_byte(d, d.in_zp as i8);
    let mut px = y.chunks_exact_mut(oc.max(1)); // (`oc >= 1`, checked when described)
    for b in 0..n {
        let image = super::sub(input, b * h * wd * c..(b + 1) * h * wd * c)?;
        for oy in 0..oh {
            for ox in 0..ow {
                for ky in 0..kh {
                    let iy = source(oy, ky, ph, sh, h);
                    for kx in 0..kw {
                        let dst = super::sub_mut(run.patch, (ky * kw + kx) * c..(ky * kw + kx + 1) * c)?;
                        match (iy, source(ox, kx, pw, sw, wd)) {
                            (Some(iy), Some(ix)) => {
                                copy_in(d, dst, super::sub(image, (iy * wd + ix) * c..(iy * wd + ix + 1) * c)?)
                            }
                            _ => super::fully_connected::fill(dst, pad),
                        }
                    }
                }
                if let Some(out) = px.next() {
                    super::fully_connected::project(d, run, depth, out)?;
                }
            }
        }
    }
    Ok(())
}

/// Most kernel rows and columns of the pairs form (its tap lists are on the stack: 5 x 5 taps,
/// 340 bytes; larger kernels take the gather form).
const MAX_TAPS: usize = 5;

/// Largest input (elements) the pairs form widens into scratch (2 bytes each: 512 bytes at most, so
/// that it never costs much more RAM than the gather form's patch).
const MAX_PAIRS_INPUT: usize = 256;

/// The pairs form (row-major weights, input channels in groups of 4): the image, less its zero
/// point, is widened once to i16 pairs ([`int8::pairs::widen`]); per output pixel only the taps
/// that read an input pixel are computed (with stride 2, a quarter of a 3x3 kernel's), each
/// output channel's sum being one [`int8::pairs::dot`] of the tap's filter row (int8, in place)
/// and the input pixel per tap. Same products as TFLite's, the skipped taps' being 0.
fn eval_pairs(d: &OpDesc, run: &mut Run<'_>, input: &[u8], output: &mut [u8]) -> Result<()> {
    let [n, h, wd, c, oh, ow, oc, kh, kw, sh, sw, ph, pw] = [
        d.batches, d.in_h, d.in_w, d.in_c, d.out_h, d.out_w, d.out_c, d.k_h, d.k_w, d.stride_h, d.stride_w, d.pad_h,
        d.pad_w,
    ]
    .map(|v| v as usize);
    let (bias, requant) = super::split(run.params, oc)?;
    let (w, x, y) = (run.weights(d)?, as_i8(input)?, as_i8_mut(output)?);
    let (widened, acc) = super::split_mut(run.acc, int8::pairs::words(h * wd * c))?;
    let acc = super::sub_mut(acc, 0..oc)?;
    let bias = super::sub(bias, 0..oc)?;
    let (row, cw) = (kh * kw * c, int8::pairs::words(c));
    let mut px = y.chunks_exact_mut(oc.max(1)); // (`oc >= 1`, checked when described)
    let mut taps = [[0usize; 3]; MAX_TAPS * MAX_TAPS];
    for b in 0..n {
        int8::pairs::widen(super::sub(x, b * h * wd * c..(b + 1) * h * wd * c)?, d.in_zp, widened);
        for oy in 0..oh {
            // (filter offset of row ky, widened offset of input row iy) for the rows that read one.
            let mut ys = [(0usize, 0usize); MAX_TAPS];
            let mut ny = 0;
            for ky in 0..kh {
                if let (Some(iy), Some(slot)) = (source(oy, ky, ph, sh, h), ys.get_mut(ny)) {
                    *slot = (ky * kw * c, iy * wd * cw);
                    ny += 1;
                }
            }
            let ys = ys.get(..ny).unwrap_or(&[]);
            for ox in 0..ow {
                // [filter offset in the row, widened offset of the input pixel, c] per tap that reads one.
                let mut nt = 0;
                for kx in 0..kw {
                    let Some(ix) = source(ox, kx, pw, sw, wd) else { continue };
                    for &(wy, iy) in ys {
                        if let Some(t) = taps.get_mut(nt) {
                            *t = [wy + kx * c, iy + ix * cw, c];
                            nt += 1;
                        }
                    }
                }
                acc.copy_from_slice(bias);
                if !int8::pairs::dot_taps(acc, w, row, widened, 0, taps.get(..nt).unwrap_or(&[])) {
                    return Err(crate::Error::Shape { what: "TRANSPOSE_CONV taps", expected: nt, found: 0 });
                }
                if let Some(out) = px.next() {
                    super::fully_connected::requantize_pixel(d, requant, acc, out)?;
                }
            }
        }
    }
    Ok(())
}

pub(crate) fn eval(d: &OpDesc, run: &mut Run<'_>, input: &[u8], output: &mut [u8]) -> Result<()> {
    if d.flags & super::transpose_conv_f32::FLOAT != 0 {
        return super::transpose_conv_f32::eval(d, run, input, output);
    }
    if d.flags & PAIRS != 0 {
        return eval_pairs(d, run, input, output);
    }
    if d.flags & PACKED == 0 {
        return eval_gather(d, run, input, output);
    }
    let [n, h, wd, c, oh, ow, oc, kh, kw, sh, sw, ph, pw] = [
        d.batches, d.in_h, d.in_w, d.in_c, d.out_h, d.out_w, d.out_c, d.k_h, d.k_w, d.stride_h, d.stride_w, d.pad_h,
        d.pad_w,
    ]
    .map(|v| v as usize);
    let taps = kh * kw;
    let rows = oc * taps;
    let (row_bias, rest) = super::split(run.params, rows)?;
    let (bias, rest) = super::split(rest, oc)?;
    let (mult, shift) = super::split(rest, oc)?;
    let (acc, v) = super::split_mut(run.acc, oh * ow * oc)?;
    let v = super::sub_mut(v, 0..rows)?;
    let y = as_i8_mut(output)?;
    for b in 0..n {
        for px in acc.chunks_exact_mut(oc.max(1)) {
            if px.len() == bias.len() {
                px.copy_from_slice(bias); // (always: `bias` holds `oc` values)
            }
        }
        for iy in 0..h {
            for ix in 0..wd {
                let at = ((b * h + iy) * wd + ix) * c;
                copy_in(d, super::sub_mut(run.patch, 0..c)?, super::sub(input, at..at + c)?);
                int8::matvec_packed(super::sub(run.patch, 0..c)?, as_i8(run.lut)?, row_bias, v);
                for ky in 0..kh {
                    let Some(oy) = (iy * sh + ky).checked_sub(ph).filter(|&o| o < oh) else { continue };
                    for kx in 0..kw {
                        let Some(ox) = (ix * sw + kx).checked_sub(pw).filter(|&o| o < ow) else { continue };
                        let dst = super::sub_mut(acc, (oy * ow + ox) * oc..(oy * ow + ox + 1) * oc)?;
                        let tap = ky * kw + kx;
                        for (a, &t) in dst.iter_mut().zip(super::sub(v, tap * oc..(tap + 1) * oc)?) {
                            *a = a.wrapping_add(t);
                        }
                    }
                }
            }
        }
        let out = super::sub_mut(y, b * oh * ow * oc..(b + 1) * oh * ow * oc)?;
        int8::requantize(acc, mult, shift, d.out_zp, d.act_min, d.act_max, out);
    }
    Ok(())
}
