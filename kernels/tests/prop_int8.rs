//! Property tests for every int8 network kernel in `fvae_kernels::int8`: dot products,
//! matrix-vector products (row-major and packed), the batched packed product behind
//! convolutions (`matmul_packed`), weight packing, and TFLite requantisation with its fixed-point
//! primitives. Each SIMD path this machine has (x86_64 AVX2, AVX-512 BW, AVX-512 VNNI; aarch64
//! NEON under qemu-user; wasm32 simd128 under Node) is called directly and must give the scalar
//! reference's integers **bit for bit** (wrapping i32 sums are associative, so every order gives
//! the same bits), on random shapes (0, 1, odd, not multiples of 4, 16, 32 or 64), slices offset
//! by one element, and the extremes (-128 and 127 runs, i32::MIN/MAX biases and accumulators,
//! every shift, i32::MIN multipliers).
//!
//! The references are themselves checked against definitions written independently in i64 / i128
//! (the fixed-point primitives against exact rational rounding), so a wrong reference cannot make
//! every path agree with it.

mod common;

use common::{config, i8_extreme, Shifted};
use fvae_kernels::int8::{self, scalar};
use proptest::prelude::*;

type DotFn = unsafe fn(&[i8], &[i8]) -> i32;
type MatvecFn = unsafe fn(&[i8], &[i8], &[i32], &mut [i32]);
type PackedFn = unsafe fn(&[u8], &[i8], &[i32], &mut [i32]);
type RequantFn = unsafe fn(&[i32], &[i32], &[i32], i32, i32, i32, &mut [i8]);

#[derive(Default)]
struct Paths {
    dot: Vec<(&'static str, DotFn)>,
    matvec: Vec<(&'static str, MatvecFn)>,
    packed: Vec<(&'static str, PackedFn)>,
    /// With the channel-count granularity the path takes besides 1 and N (the dispatcher sends
    /// other counts to the scalar reference).
    requant: Vec<(&'static str, usize, RequantFn)>,
}

// The safe aarch64 paths under the common (unsafe fn) signature.
#[cfg(target_arch = "aarch64")]
mod neon {
    use fvae_kernels::int8::aarch64::neon;
    pub unsafe fn dot(a: &[i8], b: &[i8]) -> i32 {
        neon::dot(a, b)
    }
    pub unsafe fn matvec(x: &[i8], w: &[i8], bias: &[i32], out: &mut [i32]) {
        neon::matvec(x, w, bias, out)
    }
    pub unsafe fn matvec_packed(u: &[u8], p: &[i8], bias: &[i32], out: &mut [i32]) {
        neon::matvec_packed(u, p, bias, out)
    }
}

/// Every path this CPU can run (listed only when it has the path's features).
fn paths() -> Paths {
    #[allow(unused_mut)]
    let mut p = Paths::default();
    #[cfg(target_arch = "x86_64")]
    {
        use fvae_kernels::int8::x86_64::{avx2, avx512};
        if fvae_kernels::cpu::detected_x86_level() >= fvae_kernels::cpu::X86Level::Avx2Fma {
            p.dot.push(("avx2", avx2::dot));
            p.matvec.push(("avx2", avx2::matvec));
            p.packed.push(("avx2", avx2::matvec_packed));
            p.requant.push(("avx2", 8, avx2::requantize));
        }
        if fvae_kernels::cpu::detected_x86_level() >= fvae_kernels::cpu::X86Level::Avx512 {
            p.dot.push(("avx512bw", avx512::dot_bw));
            p.matvec.push(("avx512bw", avx512::matvec_bw));
            p.requant.push(("avx512bw", 16, avx512::requantize));
            if fvae_kernels::cpu::detected_x86_level() >= fvae_kernels::cpu::X86Level::Avx512Vnni {
                p.dot.push(("avx512vnni", avx512::dot_vnni));
                p.matvec.push(("avx512vnni", avx512::matvec_vnni));
                p.packed.push(("avx512vnni", avx512::matvec_packed_vnni));
            }
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        p.dot.push(("neon", neon::dot));
        p.matvec.push(("neon", neon::matvec));
        p.packed.push(("neon", neon::matvec_packed));
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        use fvae_kernels::int8::wasm32::simd128;
        p.dot.push(("simd128", simd128::dot));
        p.matvec.push(("simd128", simd128::matvec));
    }
    p
}

#[test]
fn paths_under_test() {
    let p = paths();
    eprintln!("dot/matvec: {:?}", p.dot.iter().map(|x| x.0).collect::<Vec<_>>());
    eprintln!("packed: {:?}", p.packed.iter().map(|x| x.0).collect::<Vec<_>>());
    eprintln!("requantize: {:?}", p.requant.iter().map(|x| x.0).collect::<Vec<_>>());
    eprintln!("dispatch: {}", int8::path_name());
    #[cfg(target_arch = "x86_64")]
    if std::env::var("FVAE_REQUIRE_AVX512").is_ok() {
        assert!(p.dot.len() == 3 && p.packed.len() == 2 && p.requant.len() == 2, "AVX-512 paths required");
    }
}

/// The definition in i64: exact for every length used here.
fn dot_i64(a: &[i8], b: &[i8]) -> i64 {
    a.iter().zip(b).map(|(&x, &y)| x as i64 * y as i64).sum()
}

/// Bytes with long runs of one extreme value: the SIMD paths' worst case (-128 * -128 pairs
/// overflow i16 pair sums; a -128 run in the unsigned VNNI form is all zeros).
fn bytes(len: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Vec<i8>> {
    prop_oneof![
        3 => prop::collection::vec(i8_extreme(), len.clone()),
        1 => (len, prop_oneof![Just(-128i8), Just(127i8)]).prop_map(|(n, v)| vec![v; n]),
    ]
}
fn len_of() -> std::ops::RangeInclusive<usize> {
    0..=300
}

// ---------------------------------------------------------------- dot, matvec

fn check_dot(p: &Paths, a: &[i8], b: &[i8], offset: usize) -> Result<(), TestCaseError> {
    let want = scalar::dot(a, b);
    let n = a.len().min(b.len());
    prop_assert_eq!(want as i64, dot_i64(&a[..n], &b[..n]), "reference");
    let (sa, sb) = (Shifted::new(&a[..n], offset), Shifted::new(&b[..n], offset));
    for (name, f) in &p.dot {
        // SAFETY: the CPU has the path's features (paths()).
        let got = unsafe { f(sa.get(), sb.get()) };
        prop_assert_eq!(got, want, "{} dot n={} offset={}", name, n, offset);
    }
    // The dispatcher takes the common length itself.
    prop_assert_eq!(int8::dot(a, b), want);
    Ok(())
}

fn check_matvec(p: &Paths, x: &[i8], w: &[i8], bias: &[i32], offset: usize) -> Result<(), TestCaseError> {
    let d = x.len();
    let rows = bias.len();
    let mut want = vec![0i32; rows];
    scalar::matvec(x, w, bias, &mut want);
    for r in 0..rows {
        let exact = bias[r] as i64 + dot_i64(x, &w[r * d..(r + 1) * d]);
        prop_assert_eq!(want[r], exact as i32, "reference row {}", r);
    }
    let (sx, sw) = (Shifted::new(x, offset), Shifted::new(w, offset));
    for (name, f) in &p.matvec {
        let mut got = vec![7i32; rows + 1];
        // SAFETY: the CPU has the path's features; w holds rows * d, bias rows.
        unsafe { f(sx.get(), sw.get(), bias, &mut got[..rows]) };
        prop_assert_eq!(&got[..rows], &want[..], "{} matvec D={} R={} offset={}", name, d, rows, offset);
        prop_assert_eq!(got[rows], 7, "{} wrote past R", name);
    }
    // Dispatched with an output one longer than the weights allow: the extra entry untouched.
    let mut got = vec![7i32; rows + 1];
    let mut long_bias = bias.to_vec();
    long_bias.push(99);
    int8::matvec(sx.get(), sw.get(), &long_bias, &mut got);
    prop_assert_eq!(&got[..rows], &want[..]);
    if d > 0 {
        prop_assert_eq!(got[rows], 7);
    }
    Ok(())
}

fn matvec_case() -> impl Strategy<Value = (Vec<i8>, Vec<i8>, Vec<i32>, usize)> {
    (0..=200usize, 0..=13usize, 0..2usize).prop_flat_map(|(d, rows, offset)| {
        (
            bytes(d..=d),
            bytes(rows * d..=rows * d),
            prop::collection::vec(prop_oneof![Just(i32::MIN), Just(i32::MAX), any::<i32>(), -1000i32..1000], rows),
            Just(offset),
        )
    })
}

// ---------------------------------------------------------------- packed

fn check_packed(p: &Paths, x: &[i8], w: &[i8], bias: &[i32], offset: usize) -> Result<(), TestCaseError> {
    let (d, rows) = (x.len(), bias.len());
    let plen = int8::packed_len(rows, d);
    let mut packed = vec![99i8; plen + 1];
    int8::pack(w, rows, d, &mut packed[..plen]);
    prop_assert_eq!(packed[plen], 99);
    // The packed layout against its definition.
    let groups = d.div_ceil(int8::PACK_DEPTH);
    for (i, &v) in packed[..plen].iter().enumerate() {
        let per_block = groups * int8::PACK_ROWS * int8::PACK_DEPTH;
        let (block, rem) = (i / per_block, i % per_block);
        let (g, rem) = (rem / (int8::PACK_ROWS * int8::PACK_DEPTH), rem % (int8::PACK_ROWS * int8::PACK_DEPTH));
        let (r, k) = (block * int8::PACK_ROWS + rem / int8::PACK_DEPTH, g * int8::PACK_DEPTH + rem % int8::PACK_DEPTH);
        let want = if r < rows && k < d { w[r * d + k] } else { 0 };
        prop_assert_eq!(v, want, "pack [{}]", i);
    }
    // Unsigned input u = x + 128; sum u w = sum x w + 128 sum w (the identity the VNNI paths use).
    let u: Vec<u8> = x.iter().map(|&v| (v as u8) ^ 0x80).collect();
    let mut want = vec![0i32; rows];
    scalar::matvec_packed(&u, &packed[..plen], bias, &mut want);
    for r in 0..rows {
        let row = &w[r * d..(r + 1) * d];
        let exact = bias[r] as i64 + dot_i64(x, row) + 128 * row.iter().map(|&v| v as i64).sum::<i64>();
        prop_assert_eq!(want[r], exact as i32, "reference packed row {}", r);
    }
    let (su, sp) = (Shifted::new(&u, offset), Shifted::new(&packed[..plen], offset));
    for (name, f) in &p.packed {
        let mut got = vec![7i32; rows + 1];
        // SAFETY: the CPU has the path's features; packed holds packed_len(rows, d), bias rows.
        unsafe { f(su.get(), sp.get(), bias, &mut got[..rows]) };
        prop_assert_eq!(&got[..rows], &want[..], "{} packed D={} R={} offset={}", name, d, rows, offset);
        prop_assert_eq!(got[rows], 7);
    }
    let mut got = vec![7i32; rows];
    int8::matvec_packed(su.get(), sp.get(), bias, &mut got);
    prop_assert_eq!(&got, &want, "dispatch packed");
    // matmul_packed: P input rows at once is matvec_packed row by row; an output with room for
    // only P - 1 rows and a half gets P - 1 whole rows.
    if rows > 0 {
        let np = 3;
        let us: Vec<u8> = (0..np).flat_map(|k| u.iter().map(move |&v| v.wrapping_add(37 * k as u8))).collect();
        let mut want_m = vec![0i32; np * rows];
        for (k, o) in want_m.chunks_exact_mut(rows).enumerate() {
            scalar::matvec_packed(&us[k * d..(k + 1) * d], &packed[..plen], bias, o);
        }
        let mut got = vec![7i32; np * rows];
        int8::matmul_packed(&Shifted::new(&us, offset).get()[..np * d], d, sp.get(), bias, &mut got);
        prop_assert_eq!(&got, &want_m, "matmul_packed D={} R={}", d, rows);
        let short = (np - 1) * rows + rows / 2;
        let mut got = vec![7i32; short];
        int8::matmul_packed(&us, d, &packed[..plen], bias, &mut got);
        prop_assert_eq!(&got[..(np - 1) * rows], &want_m[..(np - 1) * rows]);
        prop_assert!(got[(np - 1) * rows..].iter().all(|&v| v == 7));
    }
    Ok(())
}

fn packed_case() -> impl Strategy<Value = (Vec<i8>, Vec<i8>, Vec<i32>, usize)> {
    (0..=150usize, 0..=40usize, 0..2usize).prop_flat_map(|(d, rows, offset)| {
        (
            bytes(d..=d),
            bytes(rows * d..=rows * d),
            prop::collection::vec(prop_oneof![Just(i32::MIN), Just(i32::MAX), -100_000i32..100_000], rows),
            Just(offset),
        )
    })
}

// ---------------------------------------------------------------- requantisation

/// gemmlowp's doubling high multiply by definition: `floor((a b + 2^30) / 2^31)` (round half
/// toward +inf, which is away from zero for positive and toward zero for negative ties), the one
/// overflow (`i32::MIN^2`) saturated.
fn srdhm_def(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    ((a as i128 * b as i128 + (1 << 30)).div_euclid(1 << 31)) as i32
}

/// Division by `2^e` rounded to nearest, ties away from zero, by definition (`e` in 0..=31).
fn rdbp_def(x: i32, e: u32) -> i32 {
    if e == 0 {
        return x;
    }
    let (m, half) = ((x as i64).abs(), 1i64 << (e - 1));
    let q = (m + half) >> e;
    (if x < 0 { -q } else { q }) as i32
}

fn requant_case() -> impl Strategy<Value = (Vec<i32>, Vec<i32>, Vec<i32>, i32, i32, i32, usize)> {
    // n values, c channels with c = 1, n, or a multiple of 8 dividing n (the shapes the SIMD
    // paths take directly); other c go to the scalar reference in the dispatcher.
    let shape = prop_oneof![
        (0..=70usize).prop_map(|n| (n, 1)),
        (1..=70usize).prop_map(|n| (n, n)),
        (1..=4usize, prop_oneof![Just(8usize), Just(16), Just(24), Just(32)]).prop_map(|(r, c)| (r * c, c)),
        (1..=9usize, 2..=7usize).prop_map(|(r, c)| (r * c, c)),
    ];
    // Clamp ranges: the whole of i8 in a third of the cases (so most outputs are not clamped and
    // a rounding difference shows), a random sub-range otherwise.
    let range = prop_oneof![1 => Just((-128i32, 127i32)), 2 => (-128i32..=127, -128i32..=127).prop_map(|(a, b)| (a.min(b), a.max(b)))];
    (shape, -128i32..=127, range, 0..2usize).prop_flat_map(|((n, c), zp, (lo, hi), offset)| {
        let acc = prop_oneof![
            3 => any::<i32>(),
            3 => -5000i32..5000,
            2 => -300i32..300,
            1 => Just(i32::MIN),
            1 => Just(i32::MAX),
        ];
        // Normalised multipliers, the saturating one, and exact-tie makers (2^30 = 0.5 and
        // 3 2^29 = 0.75 give `a b` on a half for odd, resp. 2 mod 4, accumulators).
        let mult = prop_oneof![
            4 => (1i32 << 30)..=i32::MAX,
            2 => Just(1 << 30),
            1 => Just(3 << 29),
            1 => Just(i32::MIN),
            1 => Just(i32::MAX),
            1 => any::<i32>(),
        ];
        // Realistic shifts (outputs land inside i8, where rounding shows), every shift in
        // [-31, 31], and beyond: shifts are taken modulo 32 on every path (i32::MIN included,
        // whose negation overflows).
        let shift = prop_oneof![
            4 => -12i32..=0,
            1 => Just(0),
            4 => -31i32..=31,
            1 => -40i32..=40,
            1 => prop_oneof![Just(i32::MIN), Just(i32::MAX)],
        ];
        (
            prop::collection::vec(acc, n),
            prop::collection::vec(mult, c),
            prop::collection::vec(shift, c),
            Just(zp),
            Just(lo),
            Just(hi),
            Just(offset),
        )
    })
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn dot_paths((a, b) in (bytes(len_of()), bytes(len_of())), offset in 0..2usize) {
        check_dot(&paths(), &a, &b, offset)?;
    }

    #[test]
    fn matvec_paths((x, w, bias, offset) in matvec_case()) {
        check_matvec(&paths(), &x, &w, &bias, offset)?;
    }

    #[test]
    fn matvec_packed_paths((x, w, bias, offset) in packed_case()) {
        check_packed(&paths(), &x, &w, &bias, offset)?;
    }

    #[test]
    fn requantize_paths((acc, mult, shift, zp, lo, hi, offset) in requant_case()) {
        let (n, c) = (acc.len(), mult.len());
        let mut want = vec![0i8; n];
        scalar::requantize(&acc, &mult, &shift, zp, lo, hi, &mut want);
        for i in 0..n {
            let v = scalar::multiply_by_quantized_multiplier(acc[i], mult[i % c], shift[i % c]);
            prop_assert_eq!(want[i] as i32, v.wrapping_add(zp).clamp(lo, hi), "reference [{}]", i);
        }
        let (sa, sm, ss) = (Shifted::new(&acc, offset), Shifted::new(&mult, offset), Shifted::new(&shift, offset));
        for (name, width, f) in &paths().requant {
            if !(c == 1 || c == n || (c % width == 0 && n % c == 0)) {
                continue;
            }
            let mut got = Shifted::new(&vec![55i8; n + 1], offset);
            // SAFETY: the CPU has the path's features; acc holds n, the channel count is one the
            // path takes (checked just above), and lo <= hi inside i8.
            unsafe { f(sa.get(), sm.get(), ss.get(), zp, lo, hi, &mut got.get_mut()[..n]) };
            prop_assert_eq!(&got.get()[..n], &want[..], "{} requantize N={} C={} offset={}", name, n, c, offset);
            prop_assert_eq!(got.get()[n], 55);
        }
        // Dispatched, with a clamp range reaching past i8 (cut to it) and a longer out.
        let mut got = vec![55i8; n + 2];
        int8::requantize(sa.get(), sm.get(), ss.get(), zp, lo - 1000 * (lo == -128) as i32, hi, &mut got);
        prop_assert_eq!(&got[..n], &want[..]);
        prop_assert_eq!(&got[n..], &[55i8, 55][..]);
    }

    /// The fixed-point primitives against their exact definitions.
    #[test]
    fn fixed_point_primitives(
        a in prop_oneof![any::<i32>(), Just(i32::MIN), Just(i32::MAX), -3i32..3],
        b in prop_oneof![any::<i32>(), Just(i32::MIN), Just(1 << 30), -3i32..3],
        e in 0u32..=31,
    ) {
        prop_assert_eq!(scalar::saturating_rounding_doubling_high_mul(a, b), srdhm_def(a, b));
        prop_assert_eq!(scalar::rounding_divide_by_pot(a, e as i32), rdbp_def(a, e));
        // Exact ties of the high multiply: b = 2^30 makes a b / 2^31 = a / 2.
        prop_assert_eq!(scalar::saturating_rounding_doubling_high_mul(a, 1 << 30), srdhm_def(a, 1 << 30));
    }

    /// MultiplyByQuantizedMultiplier is within 1 of the real product `x m 2^(s - 31)` (two
    /// roundings of at most 1/2 each) when nothing overflows: `m` a normalised multiplier in
    /// [2^30, 2^31) and `x 2^s` inside i32 for left shifts.
    #[test]
    fn multiplier_is_within_one_of_the_real_product(
        x in prop_oneof![any::<i32>(), -100_000i32..100_000],
        m in (1i32 << 30)..=i32::MAX,
        s in -31i32..=20,
    ) {
        let x = if s > 0 { x >> s } else { x };
        let got = scalar::multiply_by_quantized_multiplier(x, m, s);
        let real = x as f64 * m as f64 * 2f64.powi(s - 31);
        prop_assert!((got as f64 - real).abs() <= 1.0, "{} vs {}", got, real);
    }
}

/// Sums long enough to wrap i32: every path wraps identically (2^17 products of 2^14).
#[test]
fn dot_wraps_like_the_reference() {
    let a = vec![-128i8; (1 << 17) + 3];
    let want = scalar::dot(&a[1..], &a[1..]);
    assert_eq!(want as i64, dot_i64(&a[1..], &a[1..]) as i32 as i64);
    for (name, f) in &paths().dot {
        // SAFETY: the CPU has the path's features.
        assert_eq!(unsafe { f(&a[1..], &a[1..]) }, want, "{name}");
    }
}
