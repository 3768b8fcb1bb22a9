//! Every int8 path against the scalar reference: random bytes, extremes (-128 everywhere, the
//! case that overflows i16 pair sums), every length 0..200 (tails), slices offset by one byte
//! (unaligned), and lengths long enough for the i32 sums to wrap.

extern crate std;

use super::scalar;
#[cfg(target_arch = "x86_64")]
use crate::cpu::{detected_x86_level as detected, X86Level};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn fill(&mut self, v: &mut [i8]) {
        for x in v {
            *x = self.next() as i8;
        }
    }
}

/// Test vectors: (a, b) pairs of many lengths and contents, including offset-by-one slices.
fn cases(mut f: impl FnMut(&[i8], &[i8])) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut a = [0i8; 1025];
    let mut b = [0i8; 1025];
    for n in (0..200).chain([255, 256, 511, 1000, 1024]) {
        rng.fill(&mut a);
        rng.fill(&mut b);
        f(&a[..n], &b[..n]);
        f(&a[1..n + 1], &b[1..n + 1]);
        for (x, y) in [(-128i8, -128i8), (-128, 127), (127, 127), (0, -128)] {
            let (ea, eb) = ([x; 1025], [y; 1025]);
            f(&ea[..n], &eb[..n]);
            f(&ea[1..n + 1], &b[..n]);
        }
    }
}

fn matvec_cases(mut f: impl FnMut(&[i8], &[i8], &[i32], usize)) {
    let mut rng = Rng(42);
    let mut x = [0i8; 300];
    let mut w = [0i8; 300 * 13 + 1];
    let mut bias = [0i32; 13];
    for d in [0usize, 1, 3, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 144, 299] {
        for rows in [0usize, 1, 3, 4, 5, 8, 13] {
            rng.fill(&mut x);
            rng.fill(&mut w);
            for b in bias.iter_mut() {
                *b = rng.next() as i32;
            }
            f(&x[..d], &w[..rows * d], &bias[..rows], rows);
            f(&x[1..d + 1], &w[1..rows * d + 1], &bias[..rows], rows);
            let (ex, ew) = ([-128i8; 300], [-128i8; 300 * 13]);
            f(&ex[..d], &ew[..rows * d], &[i32::MAX; 13][..rows], rows);
        }
    }
}

fn check_dot(name: &str, path: impl Fn(&[i8], &[i8]) -> i32) {
    cases(|a, b| assert_eq!(path(a, b), scalar::dot(a, b), "{name} dot, n = {}", a.len()));
}

fn check_matvec(name: &str, path: impl Fn(&[i8], &[i8], &[i32], &mut [i32])) {
    matvec_cases(|x, w, bias, rows| {
        let (mut got, mut want) = ([7i32; 13], [7i32; 13]);
        path(x, w, bias, &mut got[..rows]);
        scalar::matvec(x, w, bias, &mut want[..rows]);
        assert_eq!(got, want, "{name} matvec, d = {}, rows = {rows}", x.len());
    });
}

#[test]
fn dispatch_matches_scalar() {
    check_dot("dispatch", super::dot);
    check_matvec("dispatch", super::matvec);
}

#[test]
fn wrapping_sums_match() {
    // 2^17 products of 2^14 sum to 2^31: the i32 accumulator wraps, identically on every path.
    static A: [i8; 1 << 17] = [-128; 1 << 17];
    let want = scalar::dot(&A, &A);
    assert_eq!(want, i32::MIN);
    assert_eq!(super::dot(&A, &A), want);
}

#[cfg(target_arch = "x86_64")]
#[test]
fn x86_paths_match_scalar() {
    if detected() >= X86Level::Avx2Fma {
        // SAFETY: AVX2 and FMA detected just above.
        check_dot("avx2", |a, b| unsafe { super::x86_64::avx2::dot(a, b) });
        // SAFETY: AVX2 and FMA detected just above.
        check_matvec("avx2", |x, w, b, o| unsafe { super::x86_64::avx2::matvec(x, w, b, o) });
    }
    if detected() >= X86Level::Avx512 {
        // SAFETY: AVX-512F/BW/VL detected just above.
        check_dot("avx512bw", |a, b| unsafe { super::x86_64::avx512::dot_bw(a, b) });
        // SAFETY: AVX-512F/BW detected just above.
        check_matvec("avx512bw", |x, w, b, o| unsafe { super::x86_64::avx512::matvec_bw(x, w, b, o) });
        if detected() >= X86Level::Avx512Vnni {
            // SAFETY: AVX-512F/BW/VL/VNNI detected just above.
            check_dot("vnni", |a, b| unsafe { super::x86_64::avx512::dot_vnni(a, b) });
            // SAFETY: AVX-512F/BW/VNNI detected just above.
            check_matvec("vnni", |x, w, b, o| unsafe { super::x86_64::avx512::matvec_vnni(x, w, b, o) });
        }
    }
}

#[cfg(target_arch = "aarch64")]
#[test]
fn neon_matches_scalar() {
    check_dot("neon", super::aarch64::neon::dot);
    check_matvec("neon", super::aarch64::neon::matvec);
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[test]
fn simd128_matches_scalar() {
    // SAFETY: the build enables simd128 (cfg above).
    check_dot("simd128", |a, b| unsafe { super::wasm32::simd128::dot(a, b) });
    // SAFETY: as above.
    check_matvec("simd128", |x, w, b, o| unsafe { super::wasm32::simd128::matvec(x, w, b, o) });
}

#[test]
fn requantize_reference_cases() {
    use super::scalar::{multiply_by_quantized_multiplier as mbqm, rounding_divide_by_pot as rdbp};
    // Ties away from zero in both directions.
    assert_eq!((rdbp(-5, 1), rdbp(5, 1), rdbp(-4, 1), rdbp(i32::MIN, 31), rdbp(i32::MAX, 31)), (-3, 3, -2, -1, 1));
    // Positive shift: shifted left first, then the high multiply.
    assert_eq!(mbqm(3, 1 << 30, 2), 6);
    // Double rounding differs from single rounding: 0.5 * 5 = 2.5 -> 3 then /2 -> 1.5 -> 2.
    assert_eq!(mbqm(5, 1 << 30, -1), 2);
    // Negative side: the high multiply's nudge (1 - 2^30) rounds -2.5 to -2, then -2 / 2 = -1.
    assert_eq!(mbqm(-5, 1 << 30, -1), -1);
    let mut out = [0i8; 4];
    super::requantize(&[1000, -1000, 3, 4], &[1 << 30, 1 << 30], &[0, -1], 5, -128, 127, &mut out);
    assert_eq!(out, [127, -128, 7, 6]);
    // Empty multiplier list or empty clamp range: nothing written, no panic.
    super::requantize(&[1], &[], &[], 0, -128, 127, &mut out);
    super::requantize(&[1], &[1], &[0], 0, 300, 400, &mut out);
    assert_eq!(out, [127, -128, 7, 6]);
}

/// Packed matrix-vector product: every path against the scalar reference on row-major weights
/// (unsigned input `u`, so `sum u w` computed by `scalar::matvec` on `u - 128` plus `128 sum w`
/// is checked too).
fn check_packed(name: &str, path: impl Fn(&[u8], &[i8], &[i32], &mut [i32])) {
    let mut rng = Rng(7);
    let mut x = [0i8; 301];
    let mut w = [0i8; 301 * 37];
    for d in [0usize, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 63, 64, 65, 72, 144, 300] {
        for rows in [1usize, 3, 15, 16, 17, 33, 37] {
            for extreme in [false, true] {
                rng.fill(&mut x);
                rng.fill(&mut w);
                if extreme {
                    x.fill(127); // u = 255
                    w.fill(-128);
                }
                let u: std::vec::Vec<u8> = x[1..d + 1].iter().map(|&v| (v as u8) ^ 0x80).collect();
                let wr = &w[..rows * d];
                let mut p = std::vec![0i8; super::packed_len(rows, d)];
                super::pack(wr, rows, d, &mut p);
                let bias: std::vec::Vec<i32> = (0..rows).map(|_| rng.next() as i32 >> 4).collect();
                let mut got = std::vec![0i32; rows];
                let mut want = std::vec![0i32; rows];
                path(&u, &p, &bias, &mut got);
                scalar::matvec_packed(&u, &p, &bias, &mut want);
                assert_eq!(got, want, "{name} packed, d = {d}, rows = {rows}");
                // And against the signed row-major reference: sum u w = sum x w + 128 sum w.
                let mut signed = std::vec![0i32; rows];
                scalar::matvec(&x[1..d + 1], wr, &bias, &mut signed);
                for r in 0..rows {
                    let sum: i32 = wr[r * d..(r + 1) * d].iter().map(|&v| v as i32).sum();
                    assert_eq!(want[r], signed[r].wrapping_add(128 * sum));
                }
            }
        }
    }
}

#[test]
fn packed_paths_match_scalar() {
    check_packed("dispatch", super::matvec_packed);
    #[cfg(target_arch = "x86_64")]
    {
        if detected() >= X86Level::Avx2Fma {
            // SAFETY: AVX2 and FMA detected just above.
            check_packed("avx2", |u, p, b, o| unsafe { super::x86_64::avx2::matvec_packed(u, p, b, o) });
        }
        if detected() >= X86Level::Avx512Vnni {
            // SAFETY: AVX-512F/BW/VL/VNNI detected just above.
            check_packed("vnni", |u, p, b, o| unsafe { super::x86_64::avx512::matvec_packed_vnni(u, p, b, o) });
        }
    }
    #[cfg(target_arch = "aarch64")]
    check_packed("neon", super::aarch64::neon::matvec_packed);
}

/// [`super::matmul_packed`] (the 4-row kernels, AVX2 and VNNI, and the row-by-row rest) against the scalar
/// packed reference row by row: every row count 0..=9 (whole quads and tails), depths with and
/// without a tail group, odd and single output channels, extreme inputs (u = 255, w = -128).
#[test]
fn matmul_packed_matches_scalar() {
    let mut rng = Rng(31);
    for d in [0usize, 1, 3, 4, 5, 8, 27, 72, 75, 144, 289] {
        for r in [1usize, 2, 15, 16, 17, 32, 33] {
            for p in 0..=9usize {
                for extreme in [false, true] {
                    let mut w = std::vec![0i8; r * d];
                    rng.fill(&mut w);
                    let mut x = std::vec![0i8; p * d];
                    rng.fill(&mut x);
                    if extreme {
                        w.fill(-128);
                        x.fill(127);
                    }
                    let u: std::vec::Vec<u8> = x.iter().map(|&v| (v as u8) ^ 0x80).collect();
                    let mut pk = std::vec![0i8; super::packed_len(r, d)];
                    super::pack(&w, r, d, &mut pk);
                    let bias: std::vec::Vec<i32> = (0..r).map(|_| rng.next() as i32 >> 3).collect();
                    let mut got = std::vec![7i32; p * r + 5];
                    super::matmul_packed(&u, d, &pk, &bias, &mut got[..p * r]);
                    let mut want = std::vec![0i32; p * r];
                    for (i, o) in want.chunks_exact_mut(r).enumerate() {
                        scalar::matvec_packed(&u[i * d..(i + 1) * d], &pk, &bias, o);
                    }
                    assert_eq!(&got[..p * r], &want[..], "d = {d}, r = {r}, p = {p}");
                    assert_eq!(&got[p * r..], &[7; 5], "past the rows untouched");
                    // The 4-row kernels themselves (the dispatcher runs only this CPU's best).
                    #[cfg(target_arch = "x86_64")]
                    if p >= 4 {
                        let mut four = std::vec![7i32; 4 * r];
                        if detected() >= X86Level::Avx2Fma {
                            // SAFETY: AVX2 and FMA detected just above; 4 rows of D and of R.
                            unsafe { super::x86_64::avx2::matmul4_packed(&u[..4 * d], d, &pk, &bias, &mut four) };
                            assert_eq!(four, want[..4 * r], "avx2: d = {d}, r = {r}");
                        }
                        if detected() >= X86Level::Avx512Vnni && d > 0 {
                            four.fill(7);
                            // SAFETY: AVX-512 VNNI detected just above; as above.
                            unsafe {
                                super::x86_64::avx512::matmul4_packed_vnni(&u[..4 * d], d, &pk, &bias, &mut four)
                            };
                            assert_eq!(four, want[..4 * r], "vnni: d = {d}, r = {r}");
                        }
                    }
                }
            }
        }
    }
}

/// Requantisation paths against the scalar reference: random accumulators (including i32::MIN
/// and MAX), every shift from -31 to 30, multipliers at the extremes (i32::MIN included for the
/// saturating case), per-tensor and per-channel, odd lengths.
fn check_requant(name: &str, width: usize, path: impl Fn(&[i32], &[i32], &[i32], i32, i32, i32, &mut [i8])) {
    let mut rng = Rng(99);
    for n in [1usize, 7, 8, 9, 15, 16, 17, 64, 96, 100, 128] {
        for round in 0..40 {
            let acc: std::vec::Vec<i32> = (0..n)
                .map(|i| match (i + round) % 7 {
                    0 => i32::MIN,
                    1 => i32::MAX,
                    2 => (rng.next() as i32) >> 12,
                    _ => rng.next() as i32,
                })
                .collect();
            let mult: std::vec::Vec<i32> = (0..n)
                .map(|i| match (i + round) % 5 {
                    0 => i32::MIN,
                    1 => i32::MAX,
                    2 => 1 << 30,
                    _ => (rng.next() as i32 & 0x7FFF_FFFF) | 0x4000_0000,
                })
                .collect();
            let shift: std::vec::Vec<i32> = (0..n).map(|i| ((i as i32 + round as i32 * 3) % 62) - 31).collect();
            let (zp, lo, hi) = ((rng.next() % 256) as i32 - 128, -128 + round as i32, 127 - round as i32 / 2);
            // Channel counts: per tensor, one per element, and channels repeating along the row
            // (NHWC pixels), including counts that are not multiples of the SIMD width.
            for c in [1usize, n, 8, 16, 32, 24, 3] {
                // A direct SIMD path of `width` lanes takes 1, n or a multiple of its width.
                if c > n || n % c != 0 || (width > 1 && c != 1 && c != n && c % width != 0) {
                    continue;
                }
                let per_channel = c;
                let mut got = std::vec![0i8; n];
                let mut want = std::vec![0i8; n];
                path(&acc, &mult[..c], &shift[..c], zp, lo, hi, &mut got);
                scalar::requantize(&acc, &mult[..c], &shift[..c], zp, lo, hi, &mut want);
                assert_eq!(got, want, "{name} requantize n = {n} round {round} per_channel {per_channel}");
            }
        }
    }
}

#[test]
fn requantize_paths_match_scalar() {
    check_requant("dispatch", 1, super::requantize);
    #[cfg(target_arch = "x86_64")]
    {
        if detected() >= X86Level::Avx2Fma {
            // SAFETY: AVX2 and FMA detected just above.
            check_requant("avx2", 8, |a, m, s, z, l, h, o| unsafe {
                super::x86_64::avx2::requantize(a, m, s, z, l, h, o)
            });
        }
        if detected() >= X86Level::Avx512 {
            // SAFETY: AVX-512F/BW/VL detected just above.
            check_requant("avx512", 16, |a, m, s, z, l, h, o| unsafe {
                super::x86_64::avx512::requantize(a, m, s, z, l, h, o)
            });
        }
    }
}

/// The fused fully-connected layer (both parameter forms) against matvec + requantize: odd and
/// even lengths and row counts, extremes, unaligned slices, rows outside the doubled form,
/// fused activation ranges.
#[test]
fn fully_connected_matches_matvec_requantize() {
    use super::{fc_double, fc_header, fc_row, FC_HEADER_WORDS, FC_ROW_WORDS};
    const R: usize = 7;
    let mut rng = Rng(7);
    let (mut x, mut w) = ([0i8; 137], [0i8; 136 * R + 1]);
    let mut doubled_cases = 0;
    for d in [0usize, 1, 4, 7, 8, 9, 16, 24, 48, 64, 72, 136] {
        for rows in [1usize, 2, 3, 4, 7] {
            for case in 0..6 {
                rng.fill(&mut x);
                rng.fill(&mut w);
                if (1..=3).contains(&case) {
                    let v: [i8; 2] = [[-128, -128], [127, 127], [-128, 127]][case - 1];
                    for (i, e) in x.iter_mut().chain(w.iter_mut()).enumerate() {
                        *e = v[i % 2];
                    }
                }
                let zp = (rng.next() % 256) as i32 - 128;
                let (lo, hi) = if case == 4 { (zp, 127) } else { (-128, 127) };
                let off = (case == 5) as usize;
                let (xs, ws) = (&x[off..off + d], &w[off..off + rows * d]);
                let plain = rng.next().is_multiple_of(4);
                let (mut bias, mut mult, mut shift) = ([0i32; R], [0i32; R], [0i32; R]);
                for r in 0..rows {
                    bias[r] = if plain && r == 0 { i32::MAX } else { (rng.next() as i32) >> 12 };
                    mult[r] = (1 << 30) + (rng.next() >> 34) as i32;
                    shift[r] = if plain && r == rows - 1 { [0, 3, -31][r % 3] } else { -1 - (rng.next() % 12) as i32 };
                }
                let mut params = std::vec::Vec::from(fc_header(zp));
                for r in 0..rows {
                    params.extend(fc_row(bias[r], mult[r], shift[r]));
                }
                assert_eq!(params.len(), FC_HEADER_WORDS + rows * FC_ROW_WORDS);
                let doubled = fc_double(&mut params, ws);
                doubled_cases += doubled as usize;
                let mut scratch = [0i32; 68];
                let (mut got, mut want, mut acc) = ([0i8; R], [0i8; R], [0i32; R]);
                super::fully_connected(xs, ws, &params, lo, hi, &mut scratch, &mut got[..rows]);
                scalar::matvec(xs, ws, &bias[..rows], &mut acc[..rows]);
                for r in 0..rows {
                    scalar::requantize(
                        &acc[r..r + 1],
                        &mult[r..r + 1],
                        &shift[r..r + 1],
                        zp,
                        lo,
                        hi,
                        &mut want[r..r + 1],
                    );
                }
                assert_eq!(got, want, "d = {d}, rows = {rows}, case {case}, doubled {doubled}");
            }
        }
    }
    assert!(doubled_cases > 100, "{doubled_cases}");
}

/// The convolutions' per-pixel requantisation against the reference formula: random
/// accumulators (and the extremes), every right shift 0..=31, multipliers over `[0, 2^31)`, the
/// left shifts and negative multipliers (which take the reference's own path).
#[test]
fn requantize_channels_matches_requantize() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for round in 0..20_000 {
        let mut acc = [0i32; 8];
        for (i, a) in acc.iter_mut().enumerate() {
            *a = match (round + i) % 5 {
                0 => i32::MIN,
                1 => i32::MAX,
                2 => (rng.next() as i32) >> (rng.next() % 31),
                _ => rng.next() as i32,
            };
        }
        let mult: [i32; 8] = core::array::from_fn(|i| match i {
            0 => 0,
            1 => i32::MAX,
            2 => -(1 << 30),
            _ => (rng.next() as u32 >> 1) as i32,
        });
        let shift: [i32; 8] =
            core::array::from_fn(|i| if i == 7 { (rng.next() % 4) as i32 } else { -((rng.next() % 32) as i32) });
        let zp = (rng.next() % 256) as i32 - 128;
        let (mut a, mut b) = ([0i8; 8], [0i8; 8]);
        scalar::requantize_channels(&acc, &mult, &shift, zp, -128, 127, &mut a);
        scalar::requantize(&acc, &mult, &shift, zp, -128, 127, &mut b);
        assert_eq!(a, b, "acc {acc:?} mult {mult:?} shift {shift:?}");
    }
}

/// The doubled requantisation (the convolutions' pairs forms) against the reference formula,
/// wherever `requant_doubled` accepts the channel and `|acc| < 2^30`.
#[test]
fn requantize_doubled_matches_requantize() {
    let mut rng = Rng(0x5851_F42D_4C95_7F2D);
    let mut checked = 0;
    for round in 0..50_000 {
        let a = match round % 4 {
            0 => (1 << 30) - 1 - (rng.next() % 3) as i32,
            1 => -(1 << 30) + 1 + (rng.next() % 3) as i32,
            2 => (rng.next() as i32) >> (2 + rng.next() % 29),
            _ => (rng.next() as i32) >> 2,
        };
        let (m, sh, zp) =
            ((rng.next() as u32 >> 1) as i32, -((rng.next() % 32) as i32), (rng.next() % 256) as i32 - 128);
        let Some([m2, e1, k]) = scalar::requant_doubled(m, sh, zp) else { continue };
        let (lo, hi) = if round % 3 == 0 { (zp.max(-128), 127) } else { (-128, 127) };
        let (mut got, mut want) = ([0i8], [0i8]);
        super::pairs::requantize_doubled(&[a], &[m2], &[e1], &[k], lo, hi, &mut got);
        scalar::requantize(&[a], &[m], &[sh], zp, lo, hi, &mut want);
        assert_eq!(got, want, "acc {a} mult {m} shift {sh} zp {zp}");
        checked += 1;
    }
    assert!(checked > 10_000, "{checked}");
}

/// Depthwise tap sets: channel counts 1..70 (odd ones, tails of every SIMD width), 1 to 9 taps
/// (a 3x3 kernel, and its border subsets) at unaligned offsets, random bytes, all -128 / all 127
/// extremes, zero points -128, 0, 127 and random, accumulators starting from a bias.
fn check_depthwise(name: &str, path: impl Fn(&mut [i32], &[i8], &[i8], i32, &[[usize; 2]])) {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let (mut x, mut w) = ([0i8; 1100], [0i8; 1100]);
    for c in 1..70usize {
        for (round, zp) in [0, -128, 127, 5, -77].into_iter().enumerate() {
            match round {
                // |x - zp| = 255 against w = -128: the largest products, both signs.
                1 => (x.fill(127), w.fill(-128)),
                2 => (x.fill(-128), w.fill(-128)),
                _ => (rng.fill(&mut x), rng.fill(&mut w)),
            };
            let ntaps = 1 + (rng.next() % 9) as usize;
            let taps: std::vec::Vec<[usize; 2]> =
                (0..ntaps).map(|t| [1 + t * c + (rng.next() % 3) as usize, t * c + (t % 2)]).collect();
            let bias: std::vec::Vec<i32> = (0..c).map(|_| rng.next() as i32 >> 8).collect();
            let (mut want, mut got) = (bias.clone(), bias.clone());
            scalar::depthwise_taps(&mut want, &x, &w, zp, &taps);
            path(&mut got, &x, &w, zp, &taps);
            assert_eq!(got, want, "{name}: c {c}, zp {zp}, taps {taps:?}");
        }
    }
}

#[test]
fn depthwise_dispatch_matches_scalar_and_refuses_taps_outside() {
    check_depthwise("dispatch", |a, x, w, zp, t| assert!(super::depthwise_taps(a, x, w, zp, t)));
    // An int32 zero point outside int8 takes the reference (exact in wrapping i32).
    let mut acc = [0; 3];
    assert!(super::depthwise_taps(&mut acc, &[1, 2, 3], &[1, 1, 1], 1000, &[[0, 0]]));
    assert_eq!(acc, [-999, -998, -997]);
    // A tap reaching past the input or the filter: refused, nothing changed.
    let mut acc = [7; 4];
    assert!(!super::depthwise_taps(&mut acc, &[0; 8], &[0; 8], 0, &[[0, 0], [5, 0]]));
    assert!(!super::depthwise_taps(&mut acc, &[0; 8], &[0; 8], 0, &[[0, usize::MAX]]));
    assert_eq!(acc, [7; 4]);
}

#[cfg(target_arch = "x86_64")]
#[test]
fn depthwise_x86_paths_match_scalar() {
    if detected() >= X86Level::Avx2Fma {
        // SAFETY: AVX2 and FMA detected just above; the cases keep every tap inside x and w and
        // the zero point in int8.
        check_depthwise("avx2", |a, x, w, zp, t| unsafe { super::x86_64::avx2::depthwise_taps(a, x, w, zp, t) });
    }
    if detected() >= X86Level::Avx512 {
        // SAFETY: AVX-512F/BW/VL detected just above; as above.
        check_depthwise("avx512", |a, x, w, zp, t| unsafe { super::x86_64::avx512::depthwise_taps(a, x, w, zp, t) });
    }
}

#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
#[test]
fn depthwise_neon_matches_scalar() {
    check_depthwise("neon", super::aarch64::neon::depthwise_taps);
}
