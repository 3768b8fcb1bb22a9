//! CONV_2D, int8 NHWC (TFLite's `reference_integer_ops::ConvPerChannel`).
//!
//! Quantisation (input `x` NHWC, filter `w` OHWI symmetric int8 per output channel, bias int32
//! with scale `s_x * s_w[o]`):
//!
//! `acc[o] = bias[o] + sum_{ky,kx,c} (x[iy, ix, c] - zp_x) * w[o, ky, kx, c]` over taps inside
//! the image, with `iy = oy * stride_h - pad_h + ky * dilation_h` (same for x), then
//! `y = clamp(zp_y + MultiplyByQuantizedMultiplier(acc[o], M[o], shift[o]), act_min, act_max)`,
//! `M[o] * 2^shift[o] = s_x * s_w[o] / s_y`. SAME padding puts `floor(total / 2)` before.
//!
//! Run time builds the patches of a tile of output pixels (im2col), filling taps outside the
//! image with `zp_x` so that they contribute `(zp_x - zp_x) * w = 0`, exactly like skipping
//! them; the input zero point is folded into the bias at set-up (see FULLY_CONNECTED). One
//! matrix product and one requantisation then serve the whole tile.

use super::fully_connected::{
    copy_in, fill, fill_channel_params, patch_byte, MIN_PACKED_ROWS, PACKED, PAIRS, PAIRS_PARAM_WORDS,
};
use super::quant::activation_range;
use super::{as_i8, as_i8_mut, out_size_and_padding, positive, w32, Kind, OpDesc, Run, Setup};
use crate::kernels::int8;
use crate::Result;

pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let o = s.op.conv2d_options()?;
    let (x, w, y) = (s.need_input(0)?, s.need_input(1)?, s.output()?);
    let (w_off, w_len) = s.check_weighted(&x, &w, &y)?;
    if x.rank != 4 || w.rank != 4 || y.rank != 4 {
        return Err(s.shape(4, x.rank.min(w.rank).min(y.rank)));
    }
    let (n, h, wd, c) = (x.dims[0], x.dims[1], x.dims[2], x.dims[3]);
    let (oc, kh, kw, ic) = (w.dims[0], w.dims[1], w.dims[2], w.dims[3]);
    if ic != c {
        return Err(s.unsupported("CONV_2D with groups (filter depth differs from input depth)"));
    }
    s.check_filter_and_bias(&w, oc, 0, 2)?;
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
    // Packing pays off from a few output channels up (the packed kernel fills 16 lanes with rows).
    let packed = int8::prefers_packed() && oc >= MIN_PACKED_ROWS;
    // Pixels per tile: patches of up to ~4 KB of scratch on hosts (one kernel call and one
    // requantisation per tile); microcontrollers (no packed kernels) go pixel by pixel and keep
    // their RAM.
    let tile = if int8::prefers_packed() { (TILE_BYTES / (kh * kw * c).max(1)).clamp(1, (oh * ow).max(1)) } else { 1 };
    // Row-major weights: the pairs form for a small filter whose input channels come in groups of 4.
    let filter = oc * kh * kw * c;
    let pairs = !packed && c.is_multiple_of(4) && dh == 1 && dw == 1 && filter <= MAX_PAIRS_FILTER && kh <= MAX_ROWS;
    let (pers, scratch_bytes) = if pairs {
        (PAIRS_PARAM_WORDS * oc + oc * kh * kw + int8::pairs::words(filter), 0)
    } else {
        (3 * oc, tile * kh * kw * c)
    };
    Ok(OpDesc {
        flags: (packed as i32 * PACKED) | (pairs as i32 * PAIRS),
        lut_bytes: if packed { w32(s, int8::packed_len(oc, kh * kw * c))? } else { 0 },
        kind: Kind::Conv2d as i32,
        input: x.index,
        input2: -1,
        output: y.index,
        in_len: w32(s, x.numel)?,
        out_len: w32(s, y.numel)?,
        w_off: w32(s, w_off)?,
        w_len: w32(s, w_len)?,
        pers_words: w32(s, pers)?,
        // (The pairs form with one output channel keeps one output row's accumulators.)
        scratch_words: w32(s, if pairs && oc == 1 { ow.max(tile) } else { tile * oc })?,
        scratch_bytes: w32(s, scratch_bytes)?,
        tile: w32(s, tile)?,
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
        in_zp: x.zero_point,
        out_zp: y.zero_point,
        act_min,
        act_max,
        ..OpDesc::default()
    })
}

pub(crate) fn prepare(s: &Setup<'_, '_>, d: &OpDesc, pers: &mut [i32], packed: &mut [u8]) -> Result<()> {
    let (x, w, y) = (s.need_input(0)?, s.need_input(1)?, s.output()?);
    let bias = s.input(2)?;
    let weights = as_i8(s.const_bytes(&w)?)?;
    if d.flags & PAIRS == 0 {
        return fill_channel_params(s, d, &x, &w, &y, bias.as_ref(), weights, pers, packed);
    }
    let oc = d.out_c as usize;
    let (params, rest) = super::split_mut(pers, PAIRS_PARAM_WORDS * oc)?;
    let (raw, k) = super::split_mut(params, 3 * oc)?;
    super::fully_connected::raw_channel_params(s, &x, &w, &y, bias.as_ref(), oc, raw)?;
    k.fill(0);
    super::fully_connected::double_requant(params, oc, weights, y.zero_point);
    let (sums, pairs) = super::split_mut(rest, oc * (d.k_h * d.k_w) as usize)?;
    // (`c >= 1`: the pairs form needs groups of 4 channels.)
    for (sum, tap) in sums.iter_mut().zip(weights.chunks_exact(d.in_c.max(1) as usize)) {
        *sum = tap.iter().fold(0i32, |a, &v| a.wrapping_add(v as i32));
    }
    int8::pairs::widen(weights, 0, pairs);
    // The bias with the input zero point of every tap off (`- zp_x * sum w`, wrapping, as the
    // accumulator is): exact for a pixel whose taps are all inside the image; a pixel at the
    // border adds back the taps it skips (`eval_pairs`). After `double_requant`, whose bound
    // is on the bias as stored.
    let taps = (d.k_h * d.k_w) as usize;
    for (b, filter) in params.iter_mut().zip(sums.chunks_exact(taps.max(1))) {
        let all = filter.iter().fold(0i32, |a, &t| a.wrapping_add(t));
        *b = b.wrapping_sub(x.zero_point.wrapping_mul(all));
    }
    Ok(())
}

/// Largest filter (elements) the pairs form widens into the arena (2 bytes each: 512 bytes at most,
/// so that the form never costs much more RAM than the im2col patch it replaces).
const MAX_PAIRS_FILTER: usize = 256;
/// Most filter rows of the pairs form (its taps are on the stack).
const MAX_ROWS: usize = 16;

/// The pairs form (row-major weights, a filter of at most [`MAX_PAIRS_FILTER`] elements, input
/// channels in groups of 4, no dilation): the filter is widened once to i16 pairs at set-up, and
/// each output channel's sum over one filter row is one [`int8::pairs::dot`] of the input row's
/// int8 bytes in place against it, over the taps inside the image only. The input zero point
/// comes off as `zp_x` times the filter sum of those taps: the whole filter's, folded into the
/// bias at set-up, plus the skipped taps' at the border (per-tap sums kept at set-up).
fn eval_pairs(d: &OpDesc, run: &mut Run<'_>, input: &[u8], output: &mut [u8]) -> Result<()> {
    let [n, h, wd, c, oh, ow, oc, kh, kw] =
        [d.batches, d.in_h, d.in_w, d.in_c, d.out_h, d.out_w, d.out_c, d.k_h, d.k_w].map(|v| v as usize);
    let [sh, sw, ph, pw] = [d.stride_h, d.stride_w, d.pad_h, d.pad_w].map(|v| v as isize);
    let taps = kh * kw;
    let (bias, rest) = super::split(run.params, oc)?;
    let (requant, rest) = super::split(rest, (PAIRS_PARAM_WORDS - 1) * oc)?;
    let (sums, pairs) = super::split(rest, oc * taps)?;
    let (x, y) = (as_i8(input)?, as_i8_mut(output)?);
    // One output channel: a run of interior pixels of an output row are the rows of one
    // `dot_taps` (input `stride_w * c` apart, the filter shared), one accumulator each.
    let runs = oc == 1;
    let accs = super::sub_mut(run.acc, 0..if runs { ow.max(1) } else { oc })?;
    let cw = int8::pairs::words(c);
    // The interior columns `ox_lo..ox_hi`: every tap inside the row (`0 <= ix0`, `ix0 + kw <= wd`).
    let (swu, pwu) = (d.stride_w as usize, d.pad_w as usize);
    let ox_lo = pwu.div_ceil(swu.max(1)).min(ow);
    let ox_hi = (wd + pwu).checked_sub(kw).map_or(0, |r| r / swu.max(1) + 1).clamp(ox_lo, ow.max(ox_lo));
    // The taps `lo..hi` of a kernel dimension that read inside `0..size` from output coordinate `o`.
    let inside = |o: usize, stride: isize, pad: isize, k: usize, size: usize| {
        let first = o as isize * stride - pad;
        // (max then min, not clamp, which asserts its bounds are ordered)
        let lo = (-first).max(0).min(k as isize) as usize;
        let hi = (size as isize - first).min(k as isize).max(lo as isize) as usize;
        (first, lo, hi)
    };
    let mut px = y.chunks_exact_mut(oc.max(1)); // (`oc >= 1`, checked when described)
    let mut rows = [[0usize; 3]; MAX_ROWS];
    for b in 0..n {
        let image = super::sub(x, b * h * wd * c..(b + 1) * h * wd * c)?;
        for oy in 0..oh {
            let (iy0, ky0, ky1) = inside(oy, sh, ph, kh, h);
            let mut ox = 0;
            while ox < ow {
                if runs && ky1 - ky0 == kh && ox == ox_lo && ox_hi - ox_lo >= 2 {
                    let count = ox_hi - ox_lo;
                    let ix0 = ox_lo as isize * sw - pw;
                    for (ky, r) in rows.iter_mut().enumerate().take(kh) {
                        *r = [((iy0 + ky as isize) * wd as isize + ix0) as usize * c, ky * kw * cw, kw * c];
                    }
                    let acc = super::sub_mut(accs, 0..count)?;
                    acc.fill(*bias.first().unwrap_or(&0));
                    if !int8::pairs::dot_taps(acc, image, swu * c, pairs, 0, rows.get(..kh).unwrap_or(&[])) {
                        return Err(crate::Error::Shape { what: "CONV_2D taps", expected: kh, found: 0 });
                    }
                    for (a, out) in acc.chunks_exact(1).zip(&mut px) {
                        super::fully_connected::requantize_pixel(d, requant, a, out)?;
                    }
                    ox = ox_hi;
                    continue;
                }
                let acc = super::sub_mut(accs, 0..oc)?;
                let (ix0, kx0, kx1) = inside(ox, sw, pw, kw, wd);
                // One tap per filter row inside the image: [input offset, filter pairs offset, length].
                let mut nr = 0;
                for ky in ky0..ky1 {
                    if let Some(r) = rows.get_mut(nr).filter(|_| kx1 > kx0) {
                        let at = ((iy0 + ky as isize) * wd as isize + ix0 + kx0 as isize) as usize * c;
                        *r = [at, (ky * kw + kx0) * cw, (kx1 - kx0) * c];
                        nr += 1;
                    }
                }
                if ky1 - ky0 == kh && kx1 - kx0 == kw {
                    acc.copy_from_slice(super::sub(bias, 0..oc)?);
                } else {
                    // The bias has every tap's zero point off: add back those of the taps outside.
                    for ((a, &b0), tap_sums) in acc.iter_mut().zip(bias).zip(sums.chunks_exact(taps.max(1))) {
                        let mut outside = 0i32;
                        for (ky, row) in tap_sums.chunks_exact(kw.max(1)).enumerate() {
                            let row_inside = (ky0..ky1).contains(&ky);
                            for (kx, &t) in row.iter().enumerate() {
                                if !(row_inside && (kx0..kx1).contains(&kx)) {
                                    outside = outside.wrapping_add(t);
                                }
                            }
                        }
                        *a = b0.wrapping_add(d.in_zp.wrapping_mul(outside));
                    }
                }
                if !int8::pairs::dot_taps(acc, image, 0, pairs, taps * cw, rows.get(..nr).unwrap_or(&[])) {
                    return Err(crate::Error::Shape { what: "CONV_2D taps", expected: nr, found: 0 });
                }
                if let Some(out) = px.next() {
                    super::fully_connected::requantize_pixel(d, requant, acc, out)?;
                }
                ox += 1;
            }
        }
    }
    Ok(())
}

/// Scratch budget for one tile of im2col patches.
const TILE_BYTES: usize = 4096;

/// Writes the im2col patch of output pixel `(oy, ox)` into `patch` (`kh * kw * c` bytes).
#[inline]
pub(crate) fn build_patch(d: &OpDesc, image: &[u8], oy: isize, ox: isize, patch: &mut [u8], pad: u8) {
    let [h, wd, c, kh, kw] = [d.in_h, d.in_w, d.in_c, d.k_h, d.k_w].map(|v| v as usize);
    let [sh, sw, dh, dw, ph, pw] = [d.stride_h, d.stride_w, d.dil_h, d.dil_w, d.pad_h, d.pad_w].map(|v| v as isize);
    let ix0 = ox * sw - pw;
    let row_len = kw * c;
    // `get`: `eval` sized `patch` and `image`, which the optimiser cannot see (never `None`).
    for ky in 0..kh {
        let iy = oy * sh - ph + ky as isize * dh;
        let Some(dst) = patch.get_mut(ky * row_len..(ky + 1) * row_len) else { return };
        if iy < 0 || iy as usize >= h {
            fill(dst, pad);
            continue;
        }
        let Some(row) = image.get(iy as usize * wd * c..(iy as usize + 1) * wd * c) else { return };
        if dw == 1 && ix0 >= 0 && ix0 as usize + kw <= wd {
            // All kw taps inside the row, contiguous: one copy.
            let Some(src) = row.get(ix0 as usize * c..(ix0 as usize + kw) * c) else { return };
            copy_in(d, dst, src);
            continue;
        }
        for (kx, tap) in dst.chunks_exact_mut(c.max(1)).enumerate() {
            let ix = ix0 + kx as isize * dw;
            match row.get((ix as usize).wrapping_mul(c)..(ix as usize).wrapping_add(1).wrapping_mul(c)) {
                Some(src) if ix >= 0 && (ix as usize) < wd => copy_in(d, tap, src),
                _ => fill(tap, pad),
            }
        }
    }
}

pub(crate) fn eval(d: &OpDesc, run: &mut Run<'_>, input: &[u8], output: &mut [u8]) -> Result<()> {
    if d.flags & PAIRS != 0 {
        return eval_pairs(d, run, input, output);
    }
    let [n, h, wd, c, oh, ow, oc, kh, kw, tile] =
        [d.batches, d.in_h, d.in_w, d.in_c, d.out_h, d.out_w, d.out_c, d.k_h, d.k_w, d.tile].map(|v| v as usize);
    let depth = kh * kw * c;
    let y = as_i8_mut(output)?;
    let pad = patch_byte(d, d.in_zp as i8);
    let weights = if d.flags & PACKED != 0 { &[][..] } else { run.weights(d)? };
    let (bias, rest) = super::split(run.params, oc)?;
    let (mult, shift) = super::split(rest, oc)?;
    let pixels = oh * ow;
    let ow1 = ow.max(1); // (`pixels` is 0 when `ow` is)
    for b in 0..n {
        let image = super::sub(input, b * h * wd * c..(b + 1) * h * wd * c)?;
        let mut p0 = 0;
        while p0 < pixels {
            let count = tile.min(pixels - p0);
            for t in 0..count {
                let (oy, ox) = ((p0 + t) / ow1, (p0 + t) % ow1);
                build_patch(
                    d,
                    image,
                    oy as isize,
                    ox as isize,
                    super::sub_mut(run.patch, t * depth..(t + 1) * depth)?,
                    pad,
                );
            }
            let acc = super::sub_mut(run.acc, 0..count * oc)?;
            if d.flags & PACKED != 0 {
                int8::matmul_packed(super::sub(run.patch, 0..count * depth)?, depth, as_i8(run.lut)?, bias, acc);
            } else {
                let patches = as_i8(super::sub(run.patch, 0..count * depth)?)?;
                for (x, a) in patches.chunks_exact(depth.max(1)).zip(acc.chunks_exact_mut(oc.max(1))) {
                    int8::matvec(x, weights, bias, a);
                }
            }
            let out = super::sub_mut(y, (b * pixels + p0) * oc..(b * pixels + p0 + count) * oc)?;
            int8::requantize(acc, mult, shift, d.out_zp, d.act_min, d.act_max, out);
            p0 += count;
        }
    }
    Ok(())
}
