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
//! On hosts fvae gathers instead (the phase form, [`eval_phases`]): the output pixels whose
//! coordinates have the same remainders `(oy + pad_h) % stride_h`, `(ox + pad_w) % stride_w`
//! receive the same taps, so each such phase is an ordinary convolution with a sub-filter, run
//! as im2col and one matrix product per tile with the sub-filters gathered (and packed) at set-up.
//! On Cortex-M the gather and pairs forms read the filter in place. The products and their sums
//! are TFLite's (wrapping int32 addition is associative), so the integers are identical.

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
    // Hosts: the phase form (see [`eval_phases`]), packed from a few output channels up (the
    // packed kernel fills its lanes with output channels), else row-major; both gathered per
    // phase into the arena.
    // (Strides up to the kernel size: then there are at most kh * kw phases, each with a tap; a
    // damaged stride cannot make the set-up loop over empty phases.)
    // And only where the output is not much larger than the input times the strides: each output
    // pixel multiplies all its phase's taps, padding included, where the gather form multiplies
    // only the taps that read an input pixel, so a small input under a large kernel (output far
    // beyond input x stride) would cost the phase form up to kh * kw times the gather form's work.
    let output_in_reach = (oh as u64) * (ow as u64) <= 4 * (h as u64) * (wd as u64) * (sh as u64) * (sw as u64);
    let phased = int8::prefers_packed() && sh <= kh && sw <= kw && output_in_reach;
    let packed = phased && oc >= MIN_PACKED_ROWS;
    // Row-major weights in place (Cortex-M): the pairs form where the input channels come in groups of 4.
    let pairs = !phased && c.is_multiple_of(4) && kh <= MAX_TAPS && kw <= MAX_TAPS && h * wd * c <= MAX_PAIRS_INPUT;
    let (mut lut, mut deepest) = (0usize, 0);
    for p in 0..if phased { sh * sw } else { 0 } {
        let depth = phase_taps(p / sw, kh, sh) * phase_taps(p % sw, kw, sw) * c;
        let bytes = if packed { int8::packed_len(oc, depth) } else { oc * depth };
        lut = lut.checked_add(bytes).ok_or(s.shape(usize::MAX, 0))?;
        deepest = deepest.max(depth);
    }
    // Output pixels per tile: patches of up to PHASE_TILE_BYTES (one kernel call per tile).
    let tile = if phased { (PHASE_TILE_BYTES / deepest.max(1)).clamp(1, ow.div_ceil(sw).max(1)) } else { 1 };
    let (scratch_words, scratch_bytes) = if phased {
        (tile * oc, tile * deepest.max(oc))
    } else if pairs {
        (int8::pairs::words(h * wd * c) + oc, 0)
    } else {
        (oc, kh * kw * c)
    };
    Ok(OpDesc {
        flags: (packed as i32 * PACKED) | (pairs as i32 * PAIRS) | (phased as i32 * PHASES),
        lut_bytes: w32(s, lut)?,
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
            if phased {
                (sh * sw + 2).checked_mul(oc).ok_or(s.shape(usize::MAX, 0))?
            } else if pairs {
                PAIRS_PARAM_WORDS * oc
            } else {
                3 * oc
            },
        )?,
        scratch_words: w32(s, scratch_words)?,
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
        pad_h: w32(s, ph)?,
        pad_w: w32(s, pw)?,
        in_zp: x.zero_point,
        out_zp: y.zero_point,
        act_min,
        act_max,
        ..OpDesc::default()
    })
}

/// The phase form: see [`prepare_phases`]. Without it (Cortex-M): `[bias' (oc), multiplier (oc),
/// shift (oc)]` as CONV_2D, for the gather form (see [`eval_gather`]); in the pairs form the bias
/// unfolded ([`eval_pairs`]).
pub(crate) fn prepare(s: &Setup<'_, '_>, d: &OpDesc, pers: &mut [i32], packed: &mut [u8]) -> Result<()> {
    if d.flags & super::transpose_conv_f32::FLOAT != 0 {
        return Ok(());
    }
    if d.flags & PHASES != 0 {
        return prepare_phases(s, d, pers, packed);
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
    super::fully_connected::fill_channel_params(s, d, &x, &w, &y, bias.as_ref(), weights, pers, packed)
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
    if d.flags & PHASES != 0 {
        return eval_phases(d, run, input, output);
    }
    eval_gather(d, run, input, output)
}

/// The phase form's flag (with [`PACKED`] when its filters are packed).
const PHASES: i32 = 8;

/// Scratch budget for one tile of phase-form patches.
const PHASE_TILE_BYTES: usize = 4096;

/// The filter taps `r, r + stride, ...` below `k` of phase `r` (output coordinates `o` with
/// `(o + pad) % stride == r`): how many there are.
fn phase_taps(r: usize, k: usize, stride: usize) -> usize {
    k.saturating_sub(r).div_ceil(stride.max(1)) // (strides are at least 1: checked when described)
}

/// `(ry, rx, depth, offset)` of every phase `(ry, rx)`, row-major: its patch depth and where its
/// packed filter starts.
fn phases(d: &OpDesc) -> impl Iterator<Item = (usize, usize, usize, usize)> + '_ {
    let [c, oc, kh, kw, sh, sw] = [d.in_c, d.out_c, d.k_h, d.k_w, d.stride_h, d.stride_w].map(|v| v as usize);
    let (mut offset, packed) = (0, d.flags & PACKED != 0);
    (0..sh * sw).map(move |p| {
        let (ry, rx) = (p / sw.max(1), p % sw.max(1));
        let depth = phase_taps(ry, kh, sh) * phase_taps(rx, kw, sw) * c;
        let at = offset;
        offset += if packed { int8::packed_len(oc, depth) } else { oc * depth };
        (ry, rx, depth, at)
    })
}

/// `[bias of each phase (stride_h * stride_w * oc), multiplier (oc), shift (oc)]`, and each
/// phase's filter as a `[oc, taps * c]` matrix, packed or row-major. A phase's bias is
/// `bias[o] - (zp_x [+ 128 when packed]) * sum w[o, its taps]`, the input zero point (and the
/// packed kernel's unsigned input offset) folded in: taps outside the image read `zp_x` and
/// contribute 0.
fn prepare_phases(s: &Setup<'_, '_>, d: &OpDesc, pers: &mut [i32], packed: &mut [u8]) -> Result<()> {
    let (w, x, y) = (s.need_input(1)?, s.need_input(2)?, s.output()?);
    let bias = s.input(3)?;
    let weights = as_i8(s.const_bytes(&w)?)?;
    let [c, oc, kh, kw, sh, sw] = [d.in_c, d.out_c, d.k_h, d.k_w, d.stride_h, d.stride_w].map(|v| v as usize);
    let (phase_bias, rest) = super::split_mut(pers, sh * sw * oc)?;
    let (m, shift) = super::split_mut(rest, oc)?;
    for (o, (m, sh)) in m.iter_mut().zip(shift.iter_mut()).enumerate() {
        (*m, *sh) = quantize_multiplier(x.scale as f64 * s.channel_scale(&w, o)? as f64 / y.scale as f64);
    }
    let lut = as_i8_mut(packed)?;
    let offset = x.zero_point + if d.flags & PACKED != 0 { 128 } else { 0 };
    for ((ry, rx, depth, at), pb) in phases(d).zip(phase_bias.chunks_exact_mut(oc.max(1))) {
        let ntx = phase_taps(rx, kw, sw);
        // Depth index j of the phase: (tap row ty, tap column tx, channel ci), row-major.
        let tap = |o: usize, j: usize| {
            let (t, ci) = (j / c.max(1), j % c.max(1));
            // Tap columns in descending kx: ascending input columns, one copy per tap row.
            let (ky, kx) = (ry + t / ntx.max(1) * sh, rx + (ntx - 1 - t % ntx.max(1)) * sw);
            weights.get(((o * kh + ky) * kw + kx) * c + ci).copied().unwrap_or(0)
        };
        if d.flags & PACKED != 0 {
            int8::pack_with(oc, depth, tap, super::sub_mut(lut, at..at + int8::packed_len(oc, depth))?);
        } else {
            for (k, v) in super::sub_mut(lut, at..at + oc * depth)?.iter_mut().enumerate() {
                *v = tap(k / depth.max(1), k % depth.max(1));
            }
        }
        for (o, b) in pb.iter_mut().enumerate() {
            let sum = (0..depth).fold(0i32, |a, j| a.wrapping_add(tap(o, j) as i32));
            let b0 = match &bias {
                Some(t) => s.i32_at(t, o)?,
                None => 0,
            };
            *b = b0.wrapping_sub(offset.wrapping_mul(sum));
        }
    }
    Ok(())
}

/// The phase form: output pixel `(oy, ox)` receives exactly the taps
/// `ky = (oy + pad_h) % stride_h + t * stride_h` (and likewise in x), each from input pixel
/// `iy = (oy + pad_h - ky) / stride_h`, so the output pixels of one phase are an ordinary
/// convolution with that phase's taps: their patches (taps outside the image filled with `zp_x`)
/// go through one matrix product per tile (packed from 8 channels up), straight into the
/// requantisation. Same products as TFLite's scatter, summed in another
/// order (wrapping i32: the same integers), with no int32 image of the whole output.
fn eval_phases(d: &OpDesc, run: &mut Run<'_>, input: &[u8], output: &mut [u8]) -> Result<()> {
    let [n, h, wd, c, oh, ow, oc, sh, sw, ph, pw, tile] = [
        d.batches, d.in_h, d.in_w, d.in_c, d.out_h, d.out_w, d.out_c, d.stride_h, d.stride_w, d.pad_h, d.pad_w, d.tile,
    ]
    .map(|v| v as usize);
    // Strides are at least 1 (checked when described), which the optimiser cannot see.
    let (sh, sw) = (sh.max(1), sw.max(1));
    let (phase_bias, rest) = super::split(run.params, sh * sw * oc)?;
    let (mult, shift) = super::split(rest, oc)?;
    let (lut, packed) = (as_i8(run.lut)?, d.flags & PACKED != 0);
    let y = as_i8_mut(output)?;
    let pad = super::fully_connected::patch_byte(d, d.in_zp as i8);
    let tile = tile.max(1);
    for b in 0..n {
        let image = super::sub(input, b * h * wd * c..(b + 1) * h * wd * c)?;
        // Phase by phase (one pass over the phases: looking each one up per row would cost
        // stride_h * stride_w steps a row), then the rows of that phase: oy = oy0, oy0 + sh, ...
        // with (oy + ph) % sh == ry.
        for (ry, rx, depth, at) in phases(d) {
            let oy0 = (ry + sh - ph % sh) % sh;
            for oy in (oy0..oh).step_by(sh) {
                let filter = super::sub(lut, at..at + if packed { int8::packed_len(oc, depth) } else { oc * depth })?;
                let pb = super::sub(phase_bias, (ry * sw + rx) * oc..(ry * sw + rx + 1) * oc)?;
                // The output columns of this phase: ox = ox0, ox0 + sw, ... with (ox + pw) % sw == rx.
                let ox0 = (rx + sw - pw % sw) % sw;
                let cols = ow.saturating_sub(ox0).div_ceil(sw);
                let mut k0 = 0;
                while k0 < cols {
                    let count = tile.min(cols - k0);
                    for t in 0..count {
                        let ox = ox0 + (k0 + t) * sw;
                        let patch = super::sub_mut(run.patch, t * depth..(t + 1) * depth)?;
                        phase_patch(d, image, [oy, ox, ry, rx], patch, pad);
                    }
                    let acc = super::sub_mut(run.acc, 0..count * oc)?;
                    let patches = super::sub(run.patch, 0..count * depth)?;
                    if packed {
                        int8::matmul_packed(patches, depth, filter, pb, acc);
                    } else {
                        // (indexed, not zipped: a zip of two chunk iterators divides by their sizes,
                        // which the optimiser cannot prove non-zero, in the no-panic image)
                        for (t, a) in acc.chunks_exact_mut(oc.max(1)).enumerate() {
                            int8::matvec(as_i8(super::sub(patches, t * depth..(t + 1) * depth)?)?, filter, pb, a);
                        }
                    }
                    // One requantisation per tile, into the patch area (the patches are spent),
                    // then each pixel's channels to its place (`sw` pixels apart).
                    let q = as_i8_mut(super::sub_mut(run.patch, 0..count * oc)?)?;
                    int8::requantize(acc, mult, shift, d.out_zp, d.act_min, d.act_max, q);
                    for (t, px) in q.chunks_exact(oc.max(1)).enumerate() {
                        let at = ((b * oh + oy) * ow + ox0 + (k0 + t) * sw) * oc;
                        for (to, &v) in super::sub_mut(y, at..at + oc)?.iter_mut().zip(px) {
                            *to = v;
                        }
                    }
                    k0 += count;
                }
            }
        }
    }
    Ok(())
}

/// The patch of output pixel `(oy, ox)` of phase `(ry, rx)`: its taps' input pixels, row-major,
/// `zp_x` (as patch bytes) where a tap reads outside the image.
#[inline]
fn phase_patch(d: &OpDesc, image: &[u8], [oy, ox, ry, rx]: [usize; 4], patch: &mut [u8], pad: u8) {
    let [h, wd, c, kh, kw, sh, sw, ph, pw] =
        [d.in_h, d.in_w, d.in_c, d.k_h, d.k_w, d.stride_h, d.stride_w, d.pad_h, d.pad_w].map(|v| v as usize);
    let ntx = phase_taps(rx, kw, sw);
    // Tap column tx (kx = rx + (ntx - 1 - tx) * stride_w) reads input column ix0 + tx.
    // (ox + pw - kx is a multiple of sw for the phase's taps: the division is exact.)
    let ix0 = ((ox + pw) as isize - (rx + ntx.saturating_sub(1) * sw) as isize).checked_div(sw as isize).unwrap_or(-1);
    let flip = pad ^ d.in_zp as u8; // 0x80 when packed (unsigned inputs), else 0
    let row_len = ntx * c;
    for (ty, ky) in (ry..kh).step_by(sh.max(1)).enumerate() {
        let Some(dst) = patch.get_mut(ty * row_len..(ty + 1) * row_len) else { return };
        // (oy + ph - ky is a multiple of sh for the phase's taps)
        let iy = (oy + ph).checked_sub(ky).map(|t| t / sh.max(1)).filter(|&i| i < h);
        let Some(iy) = iy else {
            super::fully_connected::fill(dst, pad);
            continue;
        };
        let row = image.get(iy * wd * c..(iy + 1) * wd * c).unwrap_or(&[]);
        if ix0 >= 0 && ix0 as usize + ntx <= wd {
            // All the row's taps inside the image: one run of input bytes.
            let src = row.get(ix0 as usize * c..(ix0 as usize + ntx) * c).unwrap_or(&[]);
            for (a, &b) in dst.iter_mut().zip(src) {
                *a = b ^ flip;
            }
            continue;
        }
        for (tx, tap) in dst.chunks_exact_mut(c.max(1)).enumerate() {
            let ix = ix0 + tx as isize;
            match row.get((ix as usize).wrapping_mul(c)..(ix as usize).wrapping_add(1).wrapping_mul(c)) {
                Some(src) if ix >= 0 && (ix as usize) < wd => {
                    for (a, &b) in tap.iter_mut().zip(src) {
                        *a = b ^ flip;
                    }
                }
                _ => super::fully_connected::fill(tap, pad),
            }
        }
    }
}
