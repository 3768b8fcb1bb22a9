//! The scalar reference for the VQ kernels: plain loops, the definition every SIMD path is
//! tested against. Callers (the dispatching functions in `mod.rs`) guarantee consistent lengths.

use super::PANEL;

/// `out[j] = sum_d (x[d] - codebook[j*D + d])^2`, `D = x.len()`, for `j < out.len()`.
pub fn sq_distances(x: &[f32], codebook: &[f32], out: &mut [f32]) {
    let d = x.len();
    for (j, o) in out.iter_mut().enumerate() {
        let c = &codebook[j * d..(j + 1) * d];
        let mut acc = 0.0f32;
        for i in 0..d {
            let t = x[i] - c[i];
            acc += t * t;
        }
        *o = acc;
    }
}

/// `out[q*MP + j] = half_norms[j] - x_q . c_j` for `n = queries.len() / d` queries and
/// `MP = half_norms.len()` codewords laid out in panels (see [`super::pack_panels`]), and
/// `row_min[q]` the smallest non-NaN score of row q (`+inf` if none).
pub fn scores(queries: &[f32], d: usize, panels: &[f32], half_norms: &[f32], out: &mut [f32], row_min: &mut [f32]) {
    let mp = half_norms.len();
    let n = queries.len().checked_div(d).unwrap_or(0);
    for q in 0..n {
        let x = &queries[q * d..(q + 1) * d];
        for j in 0..mp {
            let panel = &panels[(j / PANEL) * PANEL * d..];
            let mut dot = 0.0f32;
            for (i, &xi) in x.iter().enumerate() {
                dot += xi * panel[i * PANEL + j % PANEL];
            }
            out[q * mp + j] = half_norms[j] - dot;
        }
        row_min[q] = row_minimum(&out[q * mp..(q + 1) * mp]);
    }
}

/// The smallest non-NaN value, `+inf` if there is none.
pub fn row_minimum(v: &[f32]) -> f32 {
    v.iter().fold(f32::INFINITY, |m, &x| if x < m { x } else { m })
}

/// The first index of the smallest value and that value; NaN values are skipped. `None` when
/// `values` is empty or all NaN.
pub fn argmin(values: &[f32]) -> Option<(usize, f32)> {
    let mut best: Option<(usize, f32)> = None;
    for (i, &v) in values.iter().enumerate() {
        match best {
            _ if v.is_nan() => {}
            Some((_, b)) if v >= b => {}
            _ => best = Some((i, v)),
        }
    }
    best
}

/// The first index of the smallest `u32` and that value (`None` when empty).
pub fn argmin_u32(values: &[u32]) -> Option<(usize, u32)> {
    let mut best: Option<(usize, u32)> = None;
    for (i, &v) in values.iter().enumerate() {
        if best.is_none_or(|(_, b)| v < b) {
            best = Some((i, v));
        }
    }
    best
}

/// Writes the indices of the `k = min(idx.len(), val.len())` smallest values in ascending
/// order, ties by index (NaN skipped); returns how many were written.
pub fn top_k(values: &[f32], idx: &mut [u32], val: &mut [f32]) -> usize {
    let k = idx.len().min(val.len());
    let mut len = 0;
    for (i, &v) in values.iter().enumerate() {
        if v.is_nan() || k == 0 || (len == k && v >= val[len - 1]) {
            continue;
        }
        // Insert after every entry <= v, so equal values keep index order.
        let mut p = if len == k { k - 1 } else { len };
        while p > 0 && val[p - 1] > v {
            val[p] = val[p - 1];
            idx[p] = idx[p - 1];
            p -= 1;
        }
        val[p] = v;
        idx[p] = i as u32;
        len = (len + 1).min(k);
    }
    len
}

/// Writes the indices `i` with `values[i] <= threshold`, ascending, into `out` (as many as
/// fit) and returns how many there are in all.
pub fn indices_at_most(values: &[f32], threshold: f32, out: &mut [u32]) -> usize {
    let mut n = 0;
    for (i, &v) in values.iter().enumerate() {
        if v <= threshold {
            if let Some(o) = out.get_mut(n) {
                *o = i as u32;
            }
            n += 1;
        }
    }
    n
}

/// `sum_d (x[d] - c[d])^2` in f64 from the f32 inputs, in a fixed order: eight partial sums
/// (`d mod 8`), multiplies and adds rounded separately, then a fixed pairwise tree. The order is
/// part of the definition, so a compiler that vectorises this loop (it may: it cannot reorder
/// float additions) returns the same bits on every target.
pub fn sq_distance_exact(x: &[f32], c: &[f32]) -> f64 {
    let n = x.len().min(c.len());
    let mut acc = [0.0f64; 8];
    let whole = n / 8 * 8;
    for (xs, cs) in x[..whole].chunks_exact(8).zip(c[..whole].chunks_exact(8)) {
        for l in 0..8 {
            let t = xs[l] as f64 - cs[l] as f64;
            acc[l] += t * t;
        }
    }
    for (l, i) in (whole..n).enumerate() {
        let t = x[i] as f64 - c[i] as f64;
        acc[l] += t * t;
    }
    let s4 = [acc[0] + acc[4], acc[1] + acc[5], acc[2] + acc[6], acc[3] + acc[7]];
    (s4[0] + s4[2]) + (s4[1] + s4[3])
}

/// `sum_d x[d]^2` in f64, in the order of [`sq_distance_exact`] (against zero).
pub fn sq_norm_exact(x: &[f32]) -> f64 {
    let mut acc = [0.0f64; 8];
    let whole = x.len() / 8 * 8;
    for xs in x[..whole].chunks_exact(8) {
        for l in 0..8 {
            acc[l] += xs[l] as f64 * xs[l] as f64;
        }
    }
    for (l, &v) in x[whole..].iter().enumerate() {
        acc[l] += v as f64 * v as f64;
    }
    let s4 = [acc[0] + acc[4], acc[1] + acc[5], acc[2] + acc[6], acc[3] + acc[7]];
    (s4[0] + s4[2]) + (s4[1] + s4[3])
}

/// `out[j] = sum_d (x[d] - c_j[d])^2` as an exact integer: the i32 sum wraps, and read as
/// `u32` it is exact while the true sum is below 2^32.
pub fn i8_sq_distances(x: &[i8], codebook: &[i8], out: &mut [u32]) {
    let d = x.len();
    for (j, o) in out.iter_mut().enumerate() {
        let c = &codebook[j * d..(j + 1) * d];
        let mut acc = 0u32;
        for i in 0..d {
            let t = x[i] as i32 - c[i] as i32;
            acc = acc.wrapping_add((t * t) as u32);
        }
        *o = acc;
    }
}

/// `sum_d a[d] * b[d]` with wrapping i32 accumulation.
pub fn i8_dot(a: &[i8], b: &[i8]) -> i32 {
    a.iter().zip(b).fold(0i32, |acc, (&x, &y)| acc.wrapping_add(x as i32 * y as i32))
}

/// `out[j] = x . c_j` for `j < out.len()`.
pub fn i8_dots(x: &[i8], codebook: &[i8], out: &mut [i32]) {
    let d = x.len();
    for (j, o) in out.iter_mut().enumerate() {
        *o = i8_dot(x, &codebook[j * d..(j + 1) * d]);
    }
}

/// The first smallest `sum_d (x[d] - c_j[d])^2` over the codewords of `codebook` (`M =
/// codebook.len() / x.len()`), each computed as [`sq_distances`] does (f32, element order), NaN
/// skipped as in [`argmin`]; `None` when there is no codeword or every distance is NaN.
pub fn nearest_direct(x: &[f32], codebook: &[f32]) -> Option<(usize, f32)> {
    let d = x.len();
    if d == 0 {
        return None;
    }
    let mut best: Option<(usize, f32)> = None;
    for (j, c) in codebook.chunks_exact(d).enumerate() {
        let mut acc = 0.0f32;
        for i in 0..d {
            let t = x[i] - c[i];
            acc += t * t;
        }
        match best {
            _ if acc.is_nan() => {}
            Some((_, b)) if acc >= b => {}
            _ => best = Some((j, acc)),
        }
    }
    best
}

/// The nearest codeword of a packed int8 codebook (see [`super::I8Packed`]): the first smallest
/// `|c|^2 - 2 x.c` (in i64, so any D is exact), and its distance `|x|^2 + |c|^2 - 2 x.c` (exact in
/// u32 for D <= 66 051). `None` when `x.len() != packed.d()` or there is no codeword.
pub fn i8_nearest_packed(x: &[i8], packed: &super::I8Packed<'_>) -> Option<(usize, u32)> {
    let (d, m) = (packed.d(), packed.m());
    if x.len() != d || m == 0 {
        return None;
    }
    let stride = 1 + d.div_ceil(4);
    let mut best: Option<(usize, i64)> = None;
    for (j, e) in packed.words().chunks_exact(stride).take(m).enumerate() {
        let mut s = e[0] as i64;
        for (i, &xi) in x.iter().enumerate() {
            let c = (e[1 + i / 4] as u32 >> (8 * (i % 4))) as u8 as i8;
            s -= 2 * xi as i64 * c as i64;
        }
        if best.is_none_or(|(_, b)| s < b) {
            best = Some((j, s));
        }
    }
    let nx: i64 = x.iter().map(|&v| v as i64 * v as i64).sum();
    best.map(|(j, s)| (j, (nx + s) as u32))
}
