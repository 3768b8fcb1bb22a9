//! TRANSPOSE_CONV in f32 with f32 weights and bias (litert-torch leaves its decoder's transposed
//! convolutions in float after a DEQUANTIZE): TFLite's `reference_ops::TransposeConv`.
//!
//! The output starts at zero; for every input element `x[b, iy, ix, c]`, tap `(ky, kx)` and
//! output channel `o` (in that loop order, so the f32 sums round as TFLite's do),
//! `y[b, iy * stride_h - pad_h + ky, ix * stride_w - pad_w + kx, o] += x * w[o, ky, kx, c]`
//! when inside the output; then `y += bias[o]` and the fused activation clamps
//! (`min(max(y, lo), hi)` as `std::max`/`std::min`: NaN passes through). The accumulators are
//! the output itself.

use super::{out_size_and_padding, positive, w32, Kind, OpDesc, Run, Setup};
use crate::formats::tflite::{Activation, TensorType};
use crate::{Error, Result};

/// `flags` bit: the f32 form (beside `fully_connected::PACKED` and `PAIRS` of the int8 one).
pub(crate) const FLOAT: i32 = 4;

#[inline(never)] // set-up only: its own stack frame
pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let o = s.op.transpose_conv_options()?;
    let (w, x, y) = (s.need_input(1)?, s.need_input(2)?, s.output()?);
    s.expect_type(&w, TensorType::Float32)?;
    s.expect_type(&y, TensorType::Float32)?;
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
    if y.dims[0] != n || y.dims[3] != oc {
        return Err(s.shape(n * oc, y.dims[0] * y.dims[3]));
    }
    let (mut b_off, mut b_len) = (0, 0);
    if let Some(b) = s.input(3)? {
        s.expect_type(&b, TensorType::Float32)?;
        (b_off, b_len) = s.expect_constant(&b)?;
        if b.numel != oc {
            return Err(s.shape(oc, b.numel));
        }
    }
    let (sh, sw) = (positive(s, o.stride_h, "stride")?, positive(s, o.stride_w, "stride")?);
    let (oh, ow) = (y.dims[1], y.dims[2]);
    let (_, ph) = out_size_and_padding(o.padding, oh, kh, sh, 1);
    let (_, pw) = out_size_and_padding(o.padding, ow, kw, sw, 1);
    let (lo, hi) = match o.activation {
        Activation::None => (f32::NEG_INFINITY, f32::INFINITY),
        Activation::Relu => (0.0, f32::INFINITY),
        Activation::Relu6 => (0.0, 6.0),
        Activation::ReluN1To1 => (-1.0, 1.0),
        Activation::Other(_) => {
            return Err(Error::Unsupported { what: "fused activation TANH/SIGN_BIT", index: s.index })
        }
    };
    Ok(OpDesc {
        flags: FLOAT,
        kind: Kind::TransposeConv as i32,
        input: x.index,
        input2: -1,
        output: y.index,
        in_len: w32(s, x.bytes())?,
        out_len: w32(s, y.bytes())?,
        w_off: w32(s, w_off)?,
        w_len: w32(s, w_len)?,
        a0: w32(s, b_off)?,
        a1: w32(s, b_len)?,
        act_min: lo.to_bits() as i32,
        act_max: hi.to_bits() as i32,
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
        ..OpDesc::default()
    })
}

/// The f32 at element `i` of little-endian bytes `b` (0 past the end, which the set-up checks
/// exclude).
#[inline]
fn f32_at(b: &[u8], i: usize) -> f32 {
    match b.get(4 * i..4 * i + 4) {
        Some(&[a, b, c, d]) => f32::from_le_bytes([a, b, c, d]),
        _ => 0.0,
    }
}

/// Adds `v` to the f32 at element `i` of `b`.
#[inline]
fn add_at(b: &mut [u8], i: usize, v: f32) {
    if let Some(e) = b.get_mut(4 * i..4 * i + 4) {
        let s = f32::from_le_bytes([e[0], e[1], e[2], e[3]]) + v;
        e.copy_from_slice(&s.to_le_bytes());
    }
}

pub(crate) fn eval(d: &OpDesc, run: &Run<'_>, input: &[u8], output: &mut [u8]) -> Result<()> {
    let [n, h, wd, c, oh, ow, oc, kh, kw, sh, sw, ph, pw] = [
        d.batches, d.in_h, d.in_w, d.in_c, d.out_h, d.out_w, d.out_c, d.k_h, d.k_w, d.stride_h, d.stride_w, d.pad_h,
        d.pad_w,
    ]
    .map(|v| v as usize);
    let slice = |off: i32, len: i32| {
        let (off, len) = (off as usize, len as usize);
        run.model.get(off..off + len).ok_or(Error::Shape { what: "TRANSPOSE_CONV constants", expected: len, found: 0 })
    };
    let (w, bias) = (slice(d.w_off, d.w_len)?, slice(d.a0, d.a1)?);
    output.fill(0);
    for b in 0..n {
        for iy in 0..h {
            for ix in 0..wd {
                for ch in 0..c {
                    let v = f32_at(input, ((b * h + iy) * wd + ix) * c + ch);
                    for ky in 0..kh {
                        let Some(oy) = (iy * sh + ky).checked_sub(ph).filter(|&o| o < oh) else { continue };
                        for kx in 0..kw {
                            let Some(ox) = (ix * sw + kx).checked_sub(pw).filter(|&o| o < ow) else { continue };
                            let at = ((b * oh + oy) * ow + ox) * oc;
                            for o in 0..oc {
                                add_at(output, at + o, v * f32_at(w, ((o * kh + ky) * kw + kx) * c + ch));
                            }
                        }
                    }
                }
            }
        }
    }
    let (lo, hi) = (f32::from_bits(d.act_min as u32), f32::from_bits(d.act_max as u32));
    for (i, e) in output.chunks_exact_mut(4).enumerate() {
        let mut y = f32::from_le_bytes([e[0], e[1], e[2], e[3]]);
        if !bias.is_empty() {
            y += f32_at(bias, i.checked_rem(oc).unwrap_or(0));
        }
        // std::max(y, lo), then std::min(., hi).
        let y = if y < lo { lo } else { y };
        let y = if hi < y { hi } else { y };
        e.copy_from_slice(&y.to_le_bytes());
    }
    Ok(())
}
