//! int8 dot products against one side widened once to i16 pairs (the layout `sxtb16` gives):
//! the convolution kernels widen whichever side is small (a transposed convolution's input, a
//! few-channel convolution's filter) and read the other side as raw int8 in place. On Cortex-M
//! with the DSP extension each 4 elements are one word load, two `sxtb16` and two `smlad`; elsewhere
//! the scalar reference ([`scalar::widen_pairs`], [`scalar::dot_pairs`]).

use super::scalar;

/// Words [`widen`] writes for `n` elements (`n` a multiple of 4).
///
/// ```
/// assert_eq!(fvae_kernels::int8::pairs::words(8), 4);
/// ```
pub const fn words(n: usize) -> usize {
    n / 2
}

/// Widens `x[j] - offset` (`offset` an int8 zero point) into `out`, [`words`]`(x.len())` words,
/// for [`dot`]. A tail of fewer than 4 elements is not widened.
///
/// ```
/// use fvae_kernels::int8::pairs;
/// let mut w = [0; 2];
/// pairs::widen(&[1, 2, 3, 4], 1, &mut w);
/// assert_eq!(pairs::dot(10, &[1, 1, 1, 1], &w), 10 + 0 + 1 + 2 + 3);
/// ```
pub fn widen(x: &[i8], offset: i32, out: &mut [i32]) {
    scalar::widen_pairs(x, offset, out)
}

/// `acc + sum_j raw[j] * v[j]` over `4 min(raw.len() / 4, pairs.len() / 2)` elements, `v` the
/// values [`widen`] packed into `pairs`; wrapping i32, the same bits on every path.
///
/// ```
/// use fvae_kernels::int8::pairs;
/// let mut w = [0; 2];
/// pairs::widen(&[-128, 127, 0, 5], 0, &mut w);
/// assert_eq!(pairs::dot(0, &[1, 2, 3, 4], &w), -128 + 254 + 0 + 20);
/// ```
#[inline]
pub fn dot(acc: i32, raw: &[i8], pairs: &[i32]) -> i32 {
    #[cfg(all(target_arch = "arm", fvae_arm_dsp))]
    {
        return super::arm::dsp::dot_pairs(acc, raw, pairs);
    }
    #[allow(unreachable_code)]
    scalar::dot_pairs(acc, raw, pairs)
}

/// [`dot`] over taps, for `R = sums.len()` rows: `sums[r] += sum_t dot(raw[r * raw_stride + t[0]..][..t[2]],
/// pairs[r * pairs_stride + t[1]..][..t[2] / 2])`, each tap `t = [raw offset, pairs offset,
/// length]`, the length a multiple of 4. One row is one output channel: a stride of 0 shares
/// that side between rows. Returns false (and changes nothing) if a tap reaches past `raw` or
/// `pairs` for some row, or a length is not a multiple of 4.
///
/// ```
/// use fvae_kernels::int8::pairs;
/// let mut p = [0; 2];
/// pairs::widen(&[1, 2, 3, 4], 0, &mut p);
/// let w = [1i8, 1, 1, 1, 2, 2, 2, 2]; // two rows of 4
/// let mut sums = [100, 0];
/// assert!(pairs::dot_taps(&mut sums, &w, 4, &p, 0, &[[0, 0, 4]]));
/// assert_eq!(sums, [110, 20]);
/// ```
pub fn dot_taps(
    sums: &mut [i32],
    raw: &[i8],
    raw_stride: usize,
    pairs: &[i32],
    pairs_stride: usize,
    taps: &[[usize; 3]],
) -> bool {
    let Some(last) = sums.len().checked_sub(1) else { return true };
    // What the first row may reach so that the last row stays inside each buffer.
    let room = |len: usize, stride: usize| last.checked_mul(stride).and_then(|e| len.checked_sub(e));
    let (Some(raw_room), Some(pairs_room)) = (room(raw.len(), raw_stride), room(pairs.len(), pairs_stride)) else {
        return false;
    };
    let fits = |t: &[usize; 3]| {
        t[2].is_multiple_of(4)
            && t[0] <= raw_room
            && t[2] <= raw_room - t[0]
            && t[1] <= pairs_room
            && t[2] / 2 <= pairs_room - t[1]
    };
    if !taps.iter().all(fits) {
        return false;
    }
    #[cfg(all(target_arch = "arm", fvae_arm_dsp))]
    {
        // SAFETY: every tap of every row is inside `raw` and `pairs` (checked above).
        unsafe { super::arm::dsp::dot_taps(sums, raw.as_ptr(), raw_stride, pairs.as_ptr(), pairs_stride, taps) };
        return true;
    }
    #[allow(unreachable_code)]
    {
        scalar::dot_taps(sums, raw, raw_stride, pairs, pairs_stride, taps);
        true
    }
}

/// One value of [`requantize_doubled`] before the activation clamp (`|acc| < 2^30`, parameters
/// from [`scalar::requant_doubled`]): `clamp(zp + MultiplyByQuantizedMultiplier(acc, m, shift),
/// -128, 127)`. Four instructions on Cortex-M DSP cores (`smmlar`, `ssat`).
///
/// ```
/// use fvae_kernels::int8::{pairs, scalar};
/// let [m, e1, k] = scalar::requant_doubled(1 << 30, -2, 3).unwrap(); // x 0.125, zero point 3
/// assert_eq!(pairs::requantize_doubled_one(100, m, e1, k), 3 + 13);
/// ```
#[inline(always)]
pub fn requantize_doubled_one(acc: i32, mult: i32, e1: i32, k: i32) -> i32 {
    #[cfg(all(target_arch = "arm", fvae_arm_dsp))]
    {
        return super::arm::dsp::requantize_doubled_one(acc, mult, e1, k);
    }
    #[allow(unreachable_code)]
    scalar::requantize_doubled_one(acc, mult, e1, k)
}

/// One depthwise-convolution tap, [`scalar::depthwise_tap`]: `acc[o] += (x[o / multiplier] -
/// offset) * w[o]`, wrapping i32, `offset` an int8 zero point. On Cortex-M DSP cores 4 outputs
/// per step (`sxtb16` of the weights, `smlabb`/`smlatt`), for a multiplier of 1 or of a multiple of 4.
///
/// ```
/// use fvae_kernels::int8::pairs;
/// let mut acc = [10, 0, 0];
/// pairs::depthwise_tap(&mut acc, &[1, 2, 3], &[2, -1, 4], 1, 1);
/// assert_eq!(acc, [10, -1, 8]);
/// let mut acc = [0; 4]; // two channels, two outputs each
/// pairs::depthwise_tap(&mut acc, &[3, -1], &[1, 2, 3, 4], 0, 2);
/// assert_eq!(acc, [3, 6, -3, -4]);
/// ```
#[inline]
pub fn depthwise_tap(acc: &mut [i32], x: &[i8], w: &[i8], offset: i32, multiplier: usize) {
    #[cfg(all(target_arch = "arm", fvae_arm_dsp))]
    {
        return super::arm::dsp::depthwise_tap(acc, x, w, offset, multiplier);
    }
    #[allow(unreachable_code)]
    scalar::depthwise_tap(acc, x, w, offset, multiplier)
}

/// [`scalar::requantize_doubled`] (its `|acc| < 2^30` bound is the caller's to keep), with
/// `ssat`/`smmlar` on Cortex-M DSP cores.
///
/// ```
/// use fvae_kernels::int8::{pairs, scalar};
/// let p = scalar::requant_doubled(1 << 30, -2, 3).unwrap(); // x 0.125, zero point 3
/// let mut out = [0i8; 1];
/// pairs::requantize_doubled(&[100], &[p[0]], &[p[1]], &[p[2]], -128, 127, &mut out);
/// assert_eq!(out, [3 + 13]); // 12.5 rounds away from zero
/// ```
#[inline]
pub fn requantize_doubled(acc: &[i32], mult: &[i32], e1: &[i32], k: &[i32], min: i32, max: i32, out: &mut [i8]) {
    #[cfg(all(target_arch = "arm", fvae_arm_dsp))]
    {
        return super::arm::dsp::requantize_doubled(acc, mult, e1, k, min, max, out);
    }
    #[allow(unreachable_code)]
    scalar::requantize_doubled(acc, mult, e1, k, min, max, out)
}
