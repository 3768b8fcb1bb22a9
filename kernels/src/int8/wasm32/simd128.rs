//! simd128 int8 dot products: 16 bytes sign-extended to two i16x8 halves, multiplied and
//! pair-summed into four i32 lanes by `i32x4.dot_i16x8_s` (each product at most 2^14 in
//! magnitude, a pair at most 2^15: exact), accumulated wrapping like the scalar reference.

use core::arch::wasm32::*;

/// Adds the products of the 16 bytes at `a` and `b` into `acc`.
///
/// # Safety
/// simd128; 16 readable bytes at both pointers (no alignment needed).
#[inline]
#[target_feature(enable = "simd128")]
unsafe fn mac16(acc: v128, a: *const i8, b: *const i8) -> v128 {
    // SAFETY: forwarded from the caller.
    let (va, vb) = unsafe { (v128_load(a as *const v128), v128_load(b as *const v128)) };
    let lo = i32x4_dot_i16x8(i16x8_extend_low_i8x16(va), i16x8_extend_low_i8x16(vb));
    let hi = i32x4_dot_i16x8(i16x8_extend_high_i8x16(va), i16x8_extend_high_i8x16(vb));
    i32x4_add(acc, i32x4_add(lo, hi))
}

/// The wrapping sum of the 4 i32 lanes.
#[inline]
#[target_feature(enable = "simd128")]
fn hsum(a: v128) -> i32 {
    let s = i32x4_add(a, i32x4_shuffle::<2, 3, 0, 1>(a, a));
    i32x4_extract_lane::<0>(s).wrapping_add(i32x4_extract_lane::<1>(s))
}

/// `sum a[j] * b[j]` over the common length.
///
/// # Safety
/// The engine must support simd128.
#[target_feature(enable = "simd128")]
pub unsafe fn dot(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let mut acc = i32x4_splat(0);
    let mut j = 0;
    while j + 16 <= n {
        // SAFETY: j + 16 <= n, inside both slices.
        acc = unsafe { mac16(acc, a.as_ptr().add(j), b.as_ptr().add(j)) };
        j += 16;
    }
    let mut s = hsum(acc);
    for k in j..n {
        s = s.wrapping_add(a[k] as i32 * b[k] as i32);
    }
    s
}

/// `out[r] = bias[r] + sum_j x[j] * w[r * D + j]`, four rows per pass over `x`.
///
/// # Safety
/// The engine must support simd128.
#[target_feature(enable = "simd128")]
pub unsafe fn matvec(x: &[i8], w: &[i8], bias: &[i32], out: &mut [i32]) {
    let d = x.len();
    let rows = out.len().min(bias.len()).min(w.len().checked_div(d).unwrap_or(usize::MAX));
    let body = d / 16 * 16;
    let mut r = 0;
    while r + 4 <= rows {
        let mut acc = [i32x4_splat(0); 4];
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
            let mut s = hsum(*a);
            for t in body..d {
                s = s.wrapping_add(x[t] as i32 * row[t] as i32);
            }
            out[r + k] = bias[r + k].wrapping_add(s);
        }
        r += 4;
    }
    while r < rows {
        // SAFETY: forwarded (simd128).
        out[r] = bias[r].wrapping_add(unsafe { dot(x, &w[r * d..(r + 1) * d]) });
        r += 1;
    }
}
