//! DEPTHWISE_CONV_2D, int8 NHWC (TFLite's `reference_integer_ops::DepthwiseConvPerChannel`).
//!
//! Filter `[1, kh, kw, in_c * depth_multiplier]`, symmetric int8 per output channel along
//! dimension 3; output channel `o = c * depth_multiplier + m` reads input channel `c`:
//!
//! `acc[o] = bias[o] + sum_{ky,kx} (x[iy, ix, c] - zp_x) * w[ky, kx, o]` over taps inside the
//! image (`iy = oy * stride_h - pad_h + ky * dilation_h`), then
//! `y = clamp(zp_y + MultiplyByQuantizedMultiplier(acc[o], M[o], shift[o]), act_min, act_max)`,
//! `M[o] * 2^shift[o] = s_x * s_w[o] / s_y`.
//!
//! Two forms, one arithmetic (wrapping i32 sums of the same products, so the same bits): where the
//! kernels have channel-vectorised SIMD ([`int8::prefers_packed`]: x86_64 AVX2+, aarch64) each
//! output pixel takes all its taps in one [`int8::depthwise_taps`] call and each output row is
//! requantised at once; elsewhere (Cortex-M, scalar targets) each tap is one
//! [`int8::pairs::depthwise_tap`] (4 outputs per step on Cortex-M DSP cores, any depth multiplier
//! in place) and each pixel is requantised, with one pixel of accumulators (less arena).

use super::quant::activation_range;
use super::{as_i8, as_i8_mut, out_size_and_padding, positive, w32, Kind, OpDesc, Run, Setup};
use crate::kernels::int8;
use crate::Result;

pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let o = s.op.depthwise_options()?;
    let (x, w, y) = (s.need_input(0)?, s.need_input(1)?, s.output()?);
    let (w_off, w_len) = s.check_weighted(&x, &w, &y)?;
    if x.rank != 4 || w.rank != 4 || y.rank != 4 {
        return Err(s.shape(4, x.rank.min(w.rank).min(y.rank)));
    }
    let (n, h, wd, c) = (x.dims[0], x.dims[1], x.dims[2], x.dims[3]);
    let (kh, kw, oc) = (w.dims[1], w.dims[2], w.dims[3]);
    if w.dims[0] != 1 || c == 0 || oc % c != 0 {
        return Err(s.shape(c, oc));
    }
    let dm = oc / c;
    s.check_filter_and_bias(&w, oc, 3, 2)?;
    let (sh, sw) = (positive(s, o.stride_h, "stride")?, positive(s, o.stride_w, "stride")?);
    let (dh, dw) = (positive(s, o.dilation_h, "dilation")?, positive(s, o.dilation_w, "dilation")?);
    let (oh, ph) = out_size_and_padding(o.padding, h, kh, sh, dh);
    let (ow, pw) = out_size_and_padding(o.padding, wd, kw, sw, dw);
    for (want, got) in [(n, y.dims[0]), (oh, y.dims[1]), (ow, y.dims[2]), (oc, y.dims[3])] {
        if want != got {
            return Err(s.shape(want, got));
        }
    }
    let (act_min, act_max) = activation_range(o.activation, y.scale, y.zero_point, s.index)?;
    let rows = int8::prefers_packed();
    Ok(OpDesc {
        kind: Kind::DepthwiseConv2d as i32,
        input: x.index,
        input2: -1,
        output: y.index,
        in_len: w32(s, x.numel)?,
        out_len: w32(s, y.numel)?,
        w_off: w32(s, w_off)?,
        w_len: w32(s, w_len)?,
        pers_words: w32(s, 3 * oc)?,
        // The row form: the accumulators of one output row and, with a depth multiplier, a pixel's
        // input repeated per tap; the pixel form: one pixel's accumulators.
        scratch_words: w32(s, if rows { ow * oc } else { oc })?,
        scratch_bytes: w32(s, if rows && dm != 1 { (kh * kw).min(TAPS) * oc } else { 0 })?,
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
        dil_h: w32(s, dh)?,
        dil_w: w32(s, dw)?,
        pad_h: w32(s, ph)?,
        pad_w: w32(s, pw)?,
        depth_mult: w32(s, dm)?,
        in_zp: x.zero_point,
        out_zp: y.zero_point,
        act_min,
        act_max,
        ..OpDesc::default()
    })
}

/// `[bias (oc), multiplier (oc), shift (oc)]` (the bias is not folded: border taps are skipped).
pub(crate) fn prepare(s: &Setup<'_, '_>, d: &OpDesc, pers: &mut [i32]) -> Result<()> {
    let (x, w, y) = (s.need_input(0)?, s.need_input(1)?, s.output()?);
    let bias = s.input(2)?;
    super::fully_connected::raw_channel_params(s, &x, &w, &y, bias.as_ref(), d.out_c as usize, pers)
}

/// Most taps per kernel call (a 8x8 filter; larger ones take several calls).
const TAPS: usize = 64;

/// The form `describe` sized the scratch for (the same CPU answer, detected once).
pub(crate) fn eval(d: &OpDesc, run: &mut Run<'_>, input: &[u8], output: &mut [u8]) -> Result<()> {
    if int8::prefers_packed() {
        eval_rows(d, run, input, output)
    } else {
        eval_pixels(d, run, input, output)
    }
}

/// Per output pixel, the accumulators start from the bias and take every tap inside the image
/// in one [`int8::depthwise_taps`] call (channel-vectorised); each output row is then requantised
/// at once. With depth multiplier 1 a tap
/// reads the input pixel's channels in place; otherwise each input channel is first repeated
/// `depth_multiplier` times into the patch, so that output channel `o` meets its input there.
fn eval_rows(d: &OpDesc, run: &mut Run<'_>, input: &[u8], output: &mut [u8]) -> Result<()> {
    let [n, c, oh, ow, oc, kh, kw, dm] =
        [d.batches, d.in_c, d.out_h, d.out_w, d.out_c, d.k_h, d.k_w, d.depth_mult].map(|v| v as usize);
    let w = run.weights(d)?;
    let (bias, rest) = super::split(run.params, oc)?;
    let (mult, shift) = super::split(rest, oc)?;
    let (x, y) = (as_i8(input)?, as_i8_mut(output)?);
    let row_acc = super::sub_mut(run.acc, 0..ow * oc)?;
    let patch = as_i8_mut(run.patch)?;
    // `describe` sized every buffer, which the optimiser cannot see (never this error).
    let short = crate::Error::Shape { what: "DEPTHWISE_CONV_2D taps", expected: kh * kw, found: 0 };
    let mut rows = y.chunks_exact_mut((ow * oc).max(1)); // (`oc >= 1`, checked when described)
    let mut taps = [[0usize; 2]; TAPS];
    for b in 0..n {
        for oy in 0..oh as isize {
            for (ox, acc) in (0..ow as isize).zip(row_acc.chunks_exact_mut(oc.max(1))) {
                acc.copy_from_slice(bias);
                let mut nt = 0;
                taps_inside(d, b, oy, ox, |at, tap| {
                    let xo = if dm == 1 {
                        at
                    } else {
                        let dst = super::sub_mut(patch, nt * oc..(nt + 1) * oc)?;
                        for (rep, &v) in dst.chunks_exact_mut(dm.max(1)).zip(super::sub(x, at..at + c)?) {
                            rep.fill(v);
                        }
                        nt * oc
                    };
                    *taps.get_mut(nt).ok_or(short)? = [xo, tap * oc];
                    nt += 1;
                    if nt == TAPS {
                        run_taps(acc, if dm == 1 { x } else { patch }, w, d.in_zp, &taps)?;
                        nt = 0;
                    }
                    Ok(())
                })?;
                run_taps(acc, if dm == 1 { x } else { patch }, w, d.in_zp, taps.get(..nt).unwrap_or(&[]))?;
            }
            // One requantisation per output row where the SIMD paths take whole rows (channels in
            // groups of 8), else per pixel (one multiplier per element).
            let out = rows.next().ok_or(short)?;
            if oc.is_multiple_of(8) {
                int8::requantize(row_acc, mult, shift, d.out_zp, d.act_min, d.act_max, out);
            } else {
                for (a, o) in row_acc.chunks_exact(oc.max(1)).zip(out.chunks_exact_mut(oc.max(1))) {
                    int8::requantize(a, mult, shift, d.out_zp, d.act_min, d.act_max, o);
                }
            }
        }
    }
    Ok(())
}

/// Calls `f(at, tap)` for every filter tap of output pixel `(oy, ox)` of image `b` that reads
/// inside the image: `at` is the input pixel's first element, `tap = ky * k_w + kx`.
#[inline(always)]
fn taps_inside(
    d: &OpDesc,
    b: usize,
    oy: isize,
    ox: isize,
    mut f: impl FnMut(usize, usize) -> Result<()>,
) -> Result<()> {
    let [h, wd, c, kh, kw] = [d.in_h, d.in_w, d.in_c, d.k_h, d.k_w].map(|v| v as usize);
    let [sh, sw, dh, dw, ph, pw] = [d.stride_h, d.stride_w, d.dil_h, d.dil_w, d.pad_h, d.pad_w].map(|v| v as isize);
    for ky in 0..kh {
        let iy = oy * sh - ph + ky as isize * dh;
        if iy < 0 || iy as usize >= h {
            continue;
        }
        for kx in 0..kw {
            let ix = ox * sw - pw + kx as isize * dw;
            if ix < 0 || ix as usize >= wd {
                continue;
            }
            f(((b * h + iy as usize) * wd + ix as usize) * c, ky * kw + kx)?;
        }
    }
    Ok(())
}

fn run_taps(acc: &mut [i32], x: &[i8], w: &[i8], zp: i32, taps: &[[usize; 2]]) -> Result<()> {
    if int8::depthwise_taps(acc, x, w, zp, taps) {
        Ok(())
    } else {
        Err(crate::Error::Shape { what: "DEPTHWISE_CONV_2D taps", expected: taps.len(), found: 0 })
    }
}

/// Per output pixel: the bias, then one [`int8::pairs::depthwise_tap`] of the input pixel's
/// channels against the filter tap per tap inside the image, then one requantisation of the
/// pixel. Same products and sums as the reference loop (wrapping i32 sums in any order).
fn eval_pixels(d: &OpDesc, run: &mut Run<'_>, input: &[u8], output: &mut [u8]) -> Result<()> {
    let [n, c, oh, ow, oc, dm] = [d.batches, d.in_c, d.out_h, d.out_w, d.out_c, d.depth_mult].map(|v| v as usize);
    let w = run.weights(d)?;
    let (bias, rest) = super::split(run.params, oc)?;
    let (mult, shift) = super::split(rest, oc)?;
    let (x, y) = (as_i8(input)?, as_i8_mut(output)?);
    let acc = super::sub_mut(run.acc, 0..oc)?;
    let mut px = y.chunks_exact_mut(oc.max(1)); // (`oc >= 1`, checked when described)
    for b in 0..n {
        for oy in 0..oh as isize {
            for ox in 0..ow as isize {
                acc.copy_from_slice(super::sub(bias, 0..oc)?);
                taps_inside(d, b, oy, ox, |at, tap| {
                    let (xs, ws) = (super::sub(x, at..at + c)?, super::sub(w, tap * oc..(tap + 1) * oc)?);
                    int8::pairs::depthwise_tap(acc, xs, ws, d.in_zp, dm);
                    Ok(())
                })?;
                if let Some(out) = px.next() {
                    int8::scalar::requantize_channels(acc, mult, shift, d.out_zp, d.act_min, d.act_max, out);
                }
            }
        }
    }
    Ok(())
}
