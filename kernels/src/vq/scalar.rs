//! The scalar reference for the VQ kernels: plain loops, the definition every SIMD path is
//! tested against. Callers (the dispatching functions in `mod.rs`) guarantee consistent lengths.

use super::PANEL;

/// `out[j] = sum_d (x[d] - codebook[j*D + d])^2`, `D = x.len()`, for `j < out.len()`.
pub fn sq_distances(x: &[f32], codebook: &[f32], out: &mut [f32]) {
    let d = x.len();
    for (j, o) in out.iter_mut().enumerate() {
        // `get` and `zip`: no index the optimiser could not prove (the contract makes it `Some`).
        let Some(c) = codebook.get(j * d..(j + 1) * d) else { return };
        let mut acc = 0.0f32;
        for (&xi, &ci) in x.iter().zip(c) {
            let t = xi - ci;
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
        // `get`: the contract makes every range `Some`; the optimiser cannot see it.
        let (Some(x), Some(o), Some(m)) =
            (queries.get(q * d..(q + 1) * d), out.get_mut(q * mp..(q + 1) * mp), row_min.get_mut(q))
        else {
            return;
        };
        for (j, (o, &h)) in o.iter_mut().zip(half_norms).enumerate() {
            let Some(panel) = panels.get((j / PANEL) * PANEL * d..(j / PANEL + 1) * PANEL * d) else { return };
            let mut dot = 0.0f32;
            for (&xi, lanes) in x.iter().zip(panel.chunks_exact(PANEL)) {
                dot += xi * lanes[j % PANEL];
            }
            *o = h - dot;
        }
        *m = row_minimum(o);
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
    // (The zipped chunks are the `n / 8` whole ones; `get` and `zip` leave no index to check.)
    for (xs, cs) in x.chunks_exact(8).zip(c.chunks_exact(8)) {
        for l in 0..8 {
            let t = xs[l] as f64 - cs[l] as f64;
            acc[l] += t * t;
        }
    }
    let (xt, ct) = (x.get(whole..n).unwrap_or(&[]), c.get(whole..n).unwrap_or(&[]));
    for (a, (&xi, &ci)) in acc.iter_mut().zip(xt.iter().zip(ct)) {
        let t = xi as f64 - ci as f64;
        *a += t * t;
    }
    let s4 = [acc[0] + acc[4], acc[1] + acc[5], acc[2] + acc[6], acc[3] + acc[7]];
    (s4[0] + s4[2]) + (s4[1] + s4[3])
}

/// `sum_d x[d]^2` in f64, in the order of [`sq_distance_exact`] (against zero).
pub fn sq_norm_exact(x: &[f32]) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = x.chunks_exact(8);
    let tail = chunks.remainder();
    for xs in chunks {
        for l in 0..8 {
            acc[l] += xs[l] as f64 * xs[l] as f64;
        }
    }
    for (a, &v) in acc.iter_mut().zip(tail) {
        *a += v as f64 * v as f64;
    }
    let s4 = [acc[0] + acc[4], acc[1] + acc[5], acc[2] + acc[6], acc[3] + acc[7]];
    (s4[0] + s4[2]) + (s4[1] + s4[3])
}

/// `out[j] = sum_d (x[d] - c_j[d])^2` as an exact integer: the i32 sum wraps, and read as
/// `u32` it is exact while the true sum is below 2^32.
pub fn i8_sq_distances(x: &[i8], codebook: &[i8], out: &mut [u32]) {
    let d = x.len();
    for (j, o) in out.iter_mut().enumerate() {
        let Some(c) = codebook.get(j * d..(j + 1) * d) else { return };
        let mut acc = 0u32;
        for (&xi, &ci) in x.iter().zip(c) {
            let t = xi as i32 - ci as i32;
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
        let Some(c) = codebook.get(j * d..(j + 1) * d) else { return };
        *o = i8_dot(x, c);
    }
}
