//! NEON int8 dot products with widening multiplies: `smull`/`smull2` give eight exact i16
//! products of i8 pairs (at most 2^14 in magnitude), `sadalp` adds adjacent pairs into four
//! i32 lanes (so no i16 sum can overflow). `sdot` would be faster but `vdotq_s32` is unstable.

use core::arch::aarch64::*;

/// Adds the products of 16 bytes at `a` and `b` into `acc`.
#[inline]
unsafe fn mac16(acc: int32x4_t, a: *const i8, b: *const i8) -> int32x4_t {
    // SAFETY: the caller guarantees 16 readable bytes at both pointers.
    unsafe {
        let (va, vb) = (vld1q_s8(a), vld1q_s8(b));
        let acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(va), vget_low_s8(vb)));
        vpadalq_s16(acc, vmull_high_s8(va, vb))
    }
}

/// `sum a[j] * b[j]` over the common length.
pub fn dot(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    // SAFETY: NEON is always present on aarch64.
    let mut acc = unsafe { vdupq_n_s32(0) };
    let mut j = 0;
    while j + 16 <= n {
        // SAFETY: j + 16 <= n, inside both slices.
        acc = unsafe { mac16(acc, a.as_ptr().add(j), b.as_ptr().add(j)) };
        j += 16;
    }
    // SAFETY: NEON is always present on aarch64.
    let mut s = unsafe { vaddvq_s32(acc) };
    for k in j..n {
        s = s.wrapping_add(a[k] as i32 * b[k] as i32);
    }
    s
}

/// `out[r] = bias[r] + sum_j x[j] * w[r * D + j]`, four rows per pass over `x`.
pub fn matvec(x: &[i8], w: &[i8], bias: &[i32], out: &mut [i32]) {
    let d = x.len();
    let rows = out.len().min(bias.len()).min(w.len().checked_div(d).unwrap_or(usize::MAX));
    let body = d / 16 * 16;
    let mut r = 0;
    while r + 4 <= rows {
        // SAFETY: NEON is always present on aarch64.
        let mut acc = unsafe { [vdupq_n_s32(0); 4] };
        let mut j = 0;
        while j < body {
            for (k, a) in acc.iter_mut().enumerate() {
                // SAFETY: j + 16 <= d; row r + k < rows lies inside w.
                *a = unsafe { mac16(*a, x.as_ptr().add(j), w.as_ptr().add((r + k) * d + j)) };
            }
            j += 16;
        }
        for (k, a) in acc.iter().enumerate() {
            let row = &w[(r + k) * d..(r + k + 1) * d];
            // SAFETY: NEON is always present on aarch64.
            let mut s = unsafe { vaddvq_s32(*a) };
            for t in body..d {
                s = s.wrapping_add(x[t] as i32 * row[t] as i32);
            }
            out[r + k] = bias[r + k].wrapping_add(s);
        }
        r += 4;
    }
    while r < rows {
        out[r] = bias[r].wrapping_add(dot(x, &w[r * d..(r + 1) * d]));
        r += 1;
    }
}

/// [`crate::int8::matvec_packed`], NEON path: per group of 4 inputs, 16 bytes (4 rows x 4
/// inputs) at a time are sign-extended to i16 and multiply-accumulated against the 4 unsigned
/// inputs (`smlal` into one i32x4 per row, exact: |u w| <= 255 * 128), summed per row at the end.
pub fn matvec_packed(u: &[u8], packed: &[i8], bias: &[i32], out: &mut [i32]) {
    let d = u.len();
    let groups = d.div_ceil(4);
    let rows = out.len().min(bias.len());
    let mut b = 0;
    while b * 16 < rows {
        // SAFETY: NEON is always present on aarch64.
        let mut acc = unsafe { [vdupq_n_s32(0); 16] };
        for g in 0..groups {
            let x = |k: usize| u.get(4 * g + k).copied().unwrap_or(0) as i16;
            let xs = [x(0), x(1), x(2), x(3)];
            // SAFETY: NEON is always present; block b, group g lies inside `packed` (caller's
            // contract), four 16-byte loads.
            unsafe {
                let xp = vld1_s16(xs.as_ptr());
                for c in 0..4 {
                    let w = vld1q_s8(packed.as_ptr().add((b * groups + g) * 64 + 16 * c));
                    let (wl, wh) = (vmovl_s8(vget_low_s8(w)), vmovl_high_s8(w));
                    acc[4 * c] = vmlal_s16(acc[4 * c], vget_low_s16(wl), xp);
                    acc[4 * c + 1] = vmlal_s16(acc[4 * c + 1], vget_high_s16(wl), xp);
                    acc[4 * c + 2] = vmlal_s16(acc[4 * c + 2], vget_low_s16(wh), xp);
                    acc[4 * c + 3] = vmlal_s16(acc[4 * c + 3], vget_high_s16(wh), xp);
                }
            }
        }
        let live = (rows - b * 16).min(16);
        for k in 0..live {
            // SAFETY: NEON is always present on aarch64.
            out[b * 16 + k] = bias[b * 16 + k].wrapping_add(unsafe { vaddvq_s32(acc[k]) });
        }
        b += 1;
    }
}

/// [`crate::int8::depthwise_taps`], NEON path: 8 channels at a time, `x - zp` widened to i16
/// (`|x - zp| <= 255`), multiplied by the widened weights into i32 by `smlal`/`smlal2`, the two
/// accumulators in registers across all taps. The last `acc.len() % 8` channels are scalar.
/// The caller checked the taps' ranges (as for the reference).
pub fn depthwise_taps(acc: &mut [i32], x: &[i8], w: &[i8], zp: i32, taps: &[[usize; 2]]) {
    let n = acc.len();
    let mut o = 0;
    while o + 8 <= n {
        // SAFETY: NEON is always present on aarch64; channels o..o + 8 <= n of `acc` and of every
        // tap's `x` and `w` ranges (the dispatcher checked them).
        unsafe {
            let z = vdupq_n_s16(zp as i16);
            let mut lo = vld1q_s32(acc.as_ptr().add(o));
            let mut hi = vld1q_s32(acc.as_ptr().add(o + 4));
            for &[xo, wo] in taps {
                let xv = vsubq_s16(vmovl_s8(vld1_s8(x.as_ptr().add(xo + o))), z);
                let wv = vmovl_s8(vld1_s8(w.as_ptr().add(wo + o)));
                lo = vmlal_s16(lo, vget_low_s16(xv), vget_low_s16(wv));
                hi = vmlal_high_s16(hi, xv, wv);
            }
            vst1q_s32(acc.as_mut_ptr().add(o), lo);
            vst1q_s32(acc.as_mut_ptr().add(o + 4), hi);
        }
        o += 8;
    }
    for &[xo, wo] in taps {
        for k in o..n {
            acc[k] = acc[k].wrapping_add((x[xo + k] as i32 - zp) * w[wo + k] as i32);
        }
    }
}
