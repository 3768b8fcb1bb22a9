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

/// The reference of [`super::indices_within`]: with `e_j = a * norms[j] + b * errs[j]` (two
/// products and a sum, each rounded in f32), `hi = min_j (values[j] + e_j)` (NaN skipped, `+inf`
/// if none), `t = threshold(hi)`, then the indices with `values[j] - e_j <= t`.
pub fn indices_within(
    values: &[f32],
    norms: &[f32],
    errs: &[f32],
    a: f32,
    b: f32,
    threshold: impl FnOnce(f32) -> f32,
    out: &mut [u32],
) -> usize {
    let bounds = || values.iter().zip(norms.iter().zip(errs)).map(|(&v, (&n, &r))| (v, a * n + b * r));
    let hi = bounds().fold(f32::INFINITY, |m, (v, e)| if v + e < m { v + e } else { m });
    let t = threshold(hi);
    let mut count = 0;
    for (j, (v, e)) in bounds().enumerate() {
        if v - e <= t {
            if let Some(o) = out.get_mut(count) {
                *o = j as u32;
            }
            count += 1;
        }
    }
    count
}

/// Per codeword of `codebook` `[M, D]` (`M = errs.len()`, codewords past the data 0): an upper
/// bound on `||c_j - c^_j||`, the distance to its int8 copy in [`pack_screen`] (the same scale
/// and rounding), rounded up to f32.
pub fn screen_errors(codebook: &[f32], d: usize, errs: &mut [f32]) {
    for (j, e) in errs.iter_mut().enumerate() {
        let c = j.checked_mul(d).and_then(|at| codebook.get(at..at.checked_add(d)?)).unwrap_or(&[]);
        let (t, inv) = screen_scale(c.iter().fold(0.0f32, |m, v| m.max(v.abs())));
        // Exact in f64 (see pack_screen).
        let err2 = c.iter().map(|&v| v as f64 - screen_q(v, inv) as f64 * t as f64).map(|r| r * r).sum::<f64>();
        *e = up_f32(up_sqrt(err2, d));
    }
}

/// An f64 as an f32 that is not smaller (`+inf` past the f32 range).
pub fn up_f32(v: f64) -> f32 {
    let f = v as f32;
    if (f as f64) < v {
        f32::from_bits(if f >= 0.0 { f.to_bits() + 1 } else { f.to_bits() - 1 })
    } else {
        f
    }
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

/// Round half to even for `|v| <= 2^22` (the magic-number trick; what `cvtps2dq` does under
/// the default rounding mode), as an integer.
#[inline]
fn round_even(v: f32) -> i32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23
    ((v + MAGIC) - MAGIC) as i32
}

/// The int8 scale of a vector with largest magnitude `max_abs`: `(t, 1 / t)` with
/// `t = max_abs / 127`, or `(0, 0)` when that is zero or its inverse is not finite (then every
/// quantised value is 0 and the whole vector is the quantisation error, still a valid bound).
#[inline]
pub fn screen_scale(max_abs: f32) -> (f32, f32) {
    let inv = 127.0 / max_abs;
    let t = max_abs / 127.0;
    if max_abs > 0.0 && inv.is_finite() && t > 0.0 {
        (t, inv)
    } else {
        (0.0, 0.0)
    }
}

/// `round(v * inv)` clamped to [-127, 127].
#[inline]
pub fn screen_q(v: f32, inv: f32) -> i32 {
    round_even((v * inv).clamp(-127.5, 127.5)).clamp(-127, 127)
}

/// See [`super::pack_screen`].
pub fn pack_screen(codebook: &[f32], d: usize, scales: &mut [f32], colsums: &mut [f32], words: &mut [f32]) -> f64 {
    let g = super::screen_words(d);
    let mut max_err2 = 0.0f64;
    for (j, (s, cs)) in scales.iter_mut().zip(colsums.iter_mut()).enumerate() {
        let (p, lane) = (j / PANEL, j % PANEL);
        // Checked: `j * d` and the word index overflow `usize` on 32-bit for a large `d`.
        let c = j.checked_mul(d).and_then(|at| codebook.get(at..at.checked_add(d)?)).unwrap_or(&[]);
        let (t, inv) = screen_scale(c.iter().fold(0.0f32, |m, v| m.max(v.abs())));
        let (mut sum, mut err2) = (0i32, 0.0f64);
        for k in 0..g {
            let mut bytes = [0u8; 4];
            for (b, byte) in bytes.iter_mut().enumerate() {
                if let Some(&v) = c.get(4 * k + b) {
                    let q = screen_q(v, inv);
                    sum += q;
                    // Exact in f64: q * t has at most 31 significant bits and lies within a
                    // factor 2^8 of v (or v is rounded to 0 and stays itself).
                    let r = v as f64 - q as f64 * t as f64;
                    err2 += r * r;
                    *byte = q as i8 as u8;
                }
            }
            let at = p.checked_mul(g).and_then(|w| w.checked_add(k)?.checked_mul(PANEL)?.checked_add(lane));
            if let Some(w) = at.and_then(|at| words.get_mut(at)) {
                *w = f32::from_bits(u32::from_le_bytes(bytes));
            }
        }
        *s = t;
        *cs = sum as f32;
        max_err2 = max_err2.max(err2);
    }
    up_sqrt(max_err2, d)
}

/// An upper bound on `sqrt(s)` for a sum `s` of `d` squares accumulated in f64 (relative error
/// at most `d 2^-53`), with margin.
#[inline]
pub fn up_sqrt(s: f64, d: usize) -> f64 {
    libm::sqrt(s * (1.0 + (d as f64 + 4.0) * EPS52)) * (1.0 + EPS50)
}

/// Quantises one query for [`screen`]: writes its bytes `q + 128` (4 per word, `128` past `D`)
/// into `qwords` (`ceil(D / 4)` words) and returns its scale and bounds.
pub fn screen_quantize(x: &[f32], qwords: &mut [u32]) -> super::ScreenQuery {
    let (t, inv) = screen_scale(x.iter().fold(0.0f32, |m, v| m.max(v.abs())));
    let (mut n2, mut err2) = (0i64, 0.0f64);
    for (k, w) in qwords.iter_mut().enumerate() {
        let mut bytes = [128u8; 4];
        for (b, byte) in bytes.iter_mut().enumerate() {
            if let Some(&v) = x.get(4 * k + b) {
                let q = screen_q(v, inv);
                n2 += (q * q) as i64;
                let r = v as f64 - q as f64 * t as f64;
                err2 += r * r;
                *byte = (q + 128) as u8;
            }
        }
        *w = u32::from_le_bytes(bytes);
    }
    super::ScreenQuery { scale: t, err: up_sqrt(err2, x.len()), norm: up_sqrt(n2 as f64, 1) * t as f64 * (1.0 + EPS50) }
}

/// See [`super::screen`]: integer dot products of the quantised query with every quantised
/// codeword, then `half_norms[j] - (t * scales[j]) * dot` (one fused rounding, as the SIMD path).
#[allow(clippy::too_many_arguments)]
pub fn screen(
    queries: &[f32],
    d: usize,
    words: &[f32],
    scales: &[f32],
    colsums: &[f32],
    half_norms: &[f32],
    out: &mut [f32],
    row_min: &mut [f32],
    info: &mut [super::ScreenQuery],
) {
    let mp = half_norms.len();
    let g = super::screen_words(d);
    let mut qw = [0u32; super::SCREEN_MAX_D / 4];
    for (q, (rm, inf)) in row_min.iter_mut().zip(info.iter_mut()).enumerate() {
        let x = &queries[q * d..(q + 1) * d];
        *inf = screen_quantize(x, &mut qw[..g]);
        let mut mn = f32::INFINITY;
        for j in 0..mp {
            let (p, lane) = (j / PANEL, j % PANEL);
            let mut acc = 0i32;
            for (k, &w) in qw[..g].iter().enumerate() {
                let qb = w.to_le_bytes();
                let cb = words[(p * g + k) * PANEL + lane].to_bits().to_le_bytes();
                for b in 0..4 {
                    acc += qb[b] as i32 * cb[b] as i8 as i32;
                }
            }
            let dot = acc - 128 * colsums[j] as i32;
            let ts = inf.scale * scales[j];
            let s = (-ts).mul_add_exact(dot as f32, half_norms[j]);
            out[q * mp + j] = s;
            if s < mn {
                mn = s;
            }
        }
        *rm = mn;
    }
}

/// The reference of [`super::screen_nearest`]: [`screen`] of the one query, then
/// [`indices_at_most`] over its first `m` scores with `threshold(row_min, &info)`. `MP` (the
/// whole panels of every input) at most [`super::SCREEN_ONE_MAX_M`].
#[allow(clippy::too_many_arguments)]
pub fn screen_nearest(
    query: &[f32],
    words: &[f32],
    scales: &[f32],
    colsums: &[f32],
    half_norms: &[f32],
    m: usize,
    threshold: impl FnOnce(f32, &super::ScreenQuery) -> f32,
    cand: &mut [u32],
) -> (usize, super::ScreenQuery) {
    let mp = half_norms.len();
    let mut out = [0f32; super::SCREEN_ONE_MAX_M];
    let (mut mn, mut info) = ([0f32], [super::ScreenQuery::default()]);
    screen(query, query.len(), words, scales, colsums, half_norms, &mut out[..mp], &mut mn, &mut info);
    let t = threshold(mn[0], &info[0]);
    (indices_at_most(&out[..m.min(mp)], t, cand), info[0])
}

/// A fused multiply-add without `std` (`a * b + c` rounded once): the product of two f32 is
/// exact in f64, and the f64 sum rounded to f32 differs from the correctly rounded result only
/// in double-rounding cases, which the screening bound's margin covers.
trait MulAddExact {
    fn mul_add_exact(self, b: f32, c: f32) -> f32;
}

impl MulAddExact for f32 {
    #[inline]
    fn mul_add_exact(self, b: f32, c: f32) -> f32 {
        (self as f64 * b as f64 + c as f64) as f32
    }
}

/// `2^-52` and `2^-50`: relative margins of the screening bounds.
pub const EPS52: f64 = 1.0 / 4_503_599_627_370_496.0;
/// See [`EPS52`].
pub const EPS50: f64 = 4.0 * EPS52;

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
        // The norm, then the codeword 4 bytes per word (zip, not indexing: no bounds check to fail).
        let Some((&norm, words)) = e.split_first() else { continue };
        let mut s = norm as i64;
        for (&w, xs) in words.iter().zip(x.chunks(4)) {
            for (k, &xi) in xs.iter().enumerate() {
                let c = (w as u32 >> (8 * k)) as u8 as i8;
                s -= 2 * xi as i64 * c as i64;
            }
        }
        if best.is_none_or(|(_, b)| s < b) {
            best = Some((j, s));
        }
    }
    let nx: i64 = x.iter().map(|&v| v as i64 * v as i64).sum();
    best.map(|(j, s)| (j, (nx + s) as u32))
}
