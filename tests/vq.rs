//! Vector quantisation against the fixtures in tests/data/vq (peer outputs: a float64 reference
//! that faiss agrees with 100%), and every SIMD path of the VQ kernels against the scalar
//! reference on random and adversarial inputs.
//!
//! Tolerances: indices and int8 distances exact; f32 distances within 1e-5 relative of the
//! float64 peer; reconstructions within 1e-5 relative (f32 sums of f32 codewords).

use fvae::formats::npy::Npy;
use fvae::formats::safetensors::SafeTensors;
use fvae::formats::DType;
use fvae::kernels::vq::{self as kv, scalar};
use fvae::vq::{quantize_i8, Codebook, CodebookI8, CodebookI8Owned, CodebookOwned, ResidualVq};
use fvae::Error;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/vq");

/// File bytes in 16-aligned memory, so tensors can be read in place.
struct AlignedFile(Vec<u128>, usize);
impl AlignedFile {
    fn read(path: &str) -> Self {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut words = vec![0u128; bytes.len().div_ceil(16)];
        for (w, c) in words.iter_mut().zip(bytes.chunks(16)) {
            let mut b = [0u8; 16];
            b[..c.len()].copy_from_slice(c);
            *w = u128::from_le_bytes(b);
        }
        AlignedFile(words, bytes.len())
    }
    fn bytes(&self) -> &[u8] {
        // SAFETY: the Vec holds at least self.1 initialised bytes (16 per u128), u8 has no
        // alignment requirement, and the slice borrows self.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().cast::<u8>(), self.1) }
    }
}

struct Array {
    shape: Vec<usize>,
    f64s: Vec<f64>,
}

/// Any numeric .npy as f64 values (ints up to 2^53 are exact), whatever the alignment.
fn npy(case: &str, name: &str) -> Array {
    let bytes = std::fs::read(format!("{DIR}/{case}/{name}")).expect("fixture");
    let a = Npy::parse(&bytes).expect("npy");
    let b = a.bytes();
    let f64s: Vec<f64> = match a.dtype() {
        DType::F32 => b.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64).collect(),
        DType::F64 => b.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect(),
        DType::I64 => b.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap()) as f64).collect(),
        DType::I32 => b.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap()) as f64).collect(),
        DType::I8 => b.iter().map(|&v| v as i8 as f64).collect(),
        other => panic!("{name}: unexpected dtype {other:?}"),
    };
    Array { shape: a.shape().dims().to_vec(), f64s }
}

fn f32s(a: &Array) -> Vec<f32> {
    a.f64s.iter().map(|&v| v as f32).collect()
}

fn assert_rel(what: &str, got: f32, want: f64, tol: f64) {
    let err = (got as f64 - want).abs();
    assert!(err <= tol * want.abs().max(1e-3), "{what}: got {got}, want {want} (error {err:e})");
}

const CASES: [&str; 2] = ["digits_m64", "china_m256"];

#[test]
fn fixtures_nearest_f32_all_forms() {
    for case in CASES {
        let file = AlignedFile::read(&format!("{DIR}/{case}/codebook.safetensors"));
        let st = SafeTensors::parse(file.bytes()).unwrap();
        let cb = Codebook::from_safetensors(&st).unwrap();
        let x = f32s(&npy(case, "x.npy"));
        let want = npy(case, "nearest.npy").f64s;
        let want_d = npy(case, "nearest_distance.npy").f64s;
        let faiss = npy(case, "faiss_nearest.npy").f64s;
        assert_eq!(want, faiss, "{case}: the fixture's two peers agree");
        let n = want.len();
        assert_eq!(x.len(), n * cb.d());

        let mut storage = vec![0.0; Codebook::packed_len(cb.m(), cb.d())];
        let packed = cb.pack(&mut storage).unwrap();
        for (form, c) in [("unpacked", cb), ("packed", packed)] {
            // Single queries.
            for i in 0..n {
                let r = c.nearest(&x[i * cb.d()..(i + 1) * cb.d()]).unwrap();
                assert_eq!(r.index as f64, want[i], "{case} {form} query {i}");
                assert_rel(&format!("{case} {form} distance {i}"), r.distance, want_d[i], 1e-5);
            }
            // Batch, with the recommended scratch, a small one, and none.
            for scratch_len in [c.batch_scratch_len(), 300, 0] {
                let (mut idx, mut dist) = (vec![0u32; n], vec![0f32; n]);
                let mut scratch = vec![0.0; scratch_len];
                c.nearest_batch(&x, &mut idx, &mut dist, &mut scratch).unwrap();
                for i in 0..n {
                    assert_eq!(idx[i] as f64, want[i], "{case} {form} batch({scratch_len}) {i}");
                    assert_eq!(dist[i], c.nearest(&x[i * cb.d()..(i + 1) * cb.d()]).unwrap().distance);
                }
            }
        }
    }
}

#[test]
fn fixtures_top4() {
    for case in CASES {
        let file = AlignedFile::read(&format!("{DIR}/{case}/codebook.safetensors"));
        let cb = Codebook::from_safetensors(&SafeTensors::parse(file.bytes()).unwrap()).unwrap();
        let mut storage = vec![0.0; Codebook::packed_len(cb.m(), cb.d())];
        let packed = cb.pack(&mut storage).unwrap();
        let x = f32s(&npy(case, "x.npy"));
        let want = npy(case, "top4.npy");
        let want_d = npy(case, "top4_distance.npy").f64s;
        assert_eq!(want.shape[1], 4);
        let n = want.shape[0];
        for c in [cb, packed] {
            let (mut idx, mut dist) = (vec![0u32; n * 4], vec![0f32; n * 4]);
            let mut scratch = vec![0.0; c.batch_scratch_len()];
            assert_eq!(c.top_k_batch(&x, 4, &mut idx, &mut dist, &mut scratch).unwrap(), 4);
            for i in 0..n * 4 {
                assert_eq!(idx[i] as f64, want.f64s[i], "{case} top4 entry {i}");
                assert_rel(&format!("{case} top4 distance {i}"), dist[i], want_d[i], 1e-5);
            }
            let (mut i1, mut d1) = ([0u32; 4], [0f32; 4]);
            c.top_k(&x[..cb.d()], &mut i1, &mut d1).unwrap();
            assert_eq!((&i1[..], &d1[..]), (&idx[..4], &dist[..4]));
        }
    }
}

#[test]
fn fixtures_int8_exact() {
    for case in CASES {
        let file = AlignedFile::read(&format!("{DIR}/{case}/codebook_int8.safetensors"));
        let cb = CodebookI8::from_safetensors(&SafeTensors::parse(file.bytes()).unwrap()).unwrap();
        let xq: Vec<i8> = npy(case, "x_int8.npy").f64s.iter().map(|&v| v as i8).collect();
        let want = npy(case, "nearest_int8.npy").f64s;
        let want_d = npy(case, "nearest_int8_distance.npy").f64s;
        let n = want.len();

        // The quantiser reproduces the fixture's int8 queries from the f32 ones.
        let x = f32s(&npy(case, "x.npy"));
        let mut q = vec![0i8; x.len()];
        for (xi, qi) in x.chunks_exact(cb.d()).zip(q.chunks_exact_mut(cb.d())) {
            cb.quantize(xi, qi).unwrap();
        }
        let mismatches = q.iter().zip(&xq).filter(|(a, b)| a != b).count();
        assert_eq!(mismatches, 0, "{case}: quantised queries differ from x_int8.npy");

        let (mut idx, mut dist) = (vec![0u32; n], vec![0u32; n]);
        cb.nearest_batch(&xq, &mut idx, &mut dist).unwrap();
        for i in 0..n {
            assert_eq!((idx[i] as f64, dist[i] as f64), (want[i], want_d[i]), "{case} int8 query {i}");
        }
        // top-k agrees with the nearest and is sorted by (distance, index).
        let (mut ti, mut td) = ([0u32; 5], [0u32; 5]);
        cb.top_k(&xq[..cb.d()], &mut ti, &mut td).unwrap();
        assert_eq!((ti[0], td[0]), (idx[0], dist[0]));
        assert!(ti.windows(2).zip(td.windows(2)).all(|(i, d)| d[0] < d[1] || (d[0] == d[1] && i[0] < i[1])));
    }
}

#[test]
fn fixtures_residual() {
    let case = "residual_digits_4x16";
    let file = AlignedFile::read(&format!("{DIR}/{case}/codebooks.safetensors"));
    let rvq = ResidualVq::from_safetensors(&SafeTensors::parse(file.bytes()).unwrap()).unwrap();
    assert_eq!((rvq.stages(), rvq.m()), (4, 16));
    let x = f32s(&npy(case, "x.npy"));
    let want = npy(case, "codes.npy").f64s;
    let recon = npy(case, "reconstruction.npy").f64s;
    let n = x.len() / rvq.d();
    let mut codes = vec![0u32; n * 4];
    let mut residual = vec![0f32; rvq.d()];
    rvq.encode_batch(&x, &mut codes, &mut residual).unwrap();
    for i in 0..n * 4 {
        assert_eq!(codes[i] as f64, want[i], "residual code {i}");
    }
    let mut y = vec![0f32; n * rvq.d()];
    rvq.decode_batch(&codes, &mut y).unwrap();
    for i in 0..y.len() {
        let err = (y[i] as f64 - recon[i]).abs();
        assert!(err <= 1e-5 * recon[i].abs().max(1.0), "reconstruction {i}: {} vs {}", y[i], recon[i]);
    }
    // What encode leaves in `residual` is x minus the reconstruction.
    rvq.encode(&x[..rvq.d()], &mut codes[..4], &mut residual).unwrap();
    for d in 0..rvq.d() {
        assert!((residual[d] + y[d] - x[d]).abs() <= 1e-4 * x[d].abs().max(1.0));
    }
}

// ---------------------------------------------------------------- search on adversarial data

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn f32(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
    fn i8(&mut self) -> i8 {
        self.next() as i8
    }
    fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.f32() * scale).collect()
    }
}

/// The definition: exact f64 distances, rounded to f32, sorted by (distance, index).
fn brute_top_k(x: &[f32], data: &[f32], d: usize, k: usize) -> Vec<(u32, f32)> {
    let mut all: Vec<(u32, f32)> = data
        .chunks_exact(d)
        .enumerate()
        .map(|(j, c)| (j as u32, x.iter().zip(c).map(|(&a, &b)| (a as f64 - b as f64).powi(2)).sum::<f64>() as f32))
        .collect();
    all.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    all.truncate(k);
    all
}

#[test]
fn search_matches_definition_on_ties_offsets_and_odd_sizes() {
    let mut rng = Rng(0x9e3779b97f4a7c15);
    for &(m, d, offset, scale) in &[
        (1, 1, 0.0, 1.0),
        (5, 3, 0.0, 1.0),
        (17, 7, 1e3, 1.0),
        (33, 16, 0.0, 1e-3),
        (64, 64, 0.0, 10.0),
        (100, 17, -50.0, 2.0),
        (513, 9, 0.0, 1.0),
        (300, 48, 1e4, 1.0),
    ] {
        let mut data = rng.vec(m * d, scale);
        data.iter_mut().for_each(|v| *v += offset);
        // Exact duplicates (ties) and near-duplicates (one ulp apart) of codeword 0.
        if m > 4 {
            let c0: Vec<f32> = data[..d].to_vec();
            data[3 * d..4 * d].copy_from_slice(&c0);
            data[(m - 1) * d..].copy_from_slice(&c0);
            data[2 * d] = f32::from_bits(c0[0].to_bits() + 1);
        }
        let cb = Codebook::new(&data, d).unwrap();
        let mut storage = vec![0.0; Codebook::packed_len(m, d)];
        let packed = cb.pack(&mut storage).unwrap();
        // Queries: random, exactly codeword 0 (a three-way tie), midway between 0 and 1.
        let mut queries = rng.vec(20 * d, scale);
        queries.iter_mut().for_each(|v| *v += offset);
        queries[..d].copy_from_slice(&data[..d]);
        if m > 1 {
            for i in 0..d {
                queries[d + i] = 0.5 * (data[i] + data[d + i]);
            }
        }
        for (qi, x) in queries.chunks_exact(d).enumerate() {
            let want = brute_top_k(x, &data, d, 5);
            for c in [cb, packed] {
                let r = c.nearest(x).unwrap();
                assert_eq!((r.index, r.distance), want[0], "m={m} d={d} query {qi}");
                let k = want.len();
                let (mut idx, mut dist) = (vec![0u32; k], vec![0f32; k]);
                assert_eq!(c.top_k(x, &mut idx, &mut dist).unwrap(), k);
                let got: Vec<(u32, f32)> = idx.into_iter().zip(dist).collect();
                assert_eq!(got, want, "top-k m={m} d={d} query {qi}");
            }
        }
        // Batch equals singles, for an N that is not a multiple of the tile.
        let n = queries.len() / d;
        let (mut idx, mut dist) = (vec![0u32; n], vec![0f32; n]);
        let mut scratch = vec![0.0; packed.batch_scratch_len()];
        packed.nearest_batch(&queries, &mut idx, &mut dist, &mut scratch).unwrap();
        for (i, x) in queries.chunks_exact(d).enumerate() {
            assert_eq!((idx[i], dist[i]), brute_top_k(x, &data, d, 1)[0]);
        }
    }
}

#[test]
fn top_k_larger_than_m_fills_m() {
    let cb = Codebook::new(&[3.0, 1.0, 2.0], 1).unwrap();
    let (mut idx, mut dist) = ([9u32; 5], [9f32; 5]);
    assert_eq!(cb.top_k(&[0.0], &mut idx, &mut dist).unwrap(), 3);
    assert_eq!((idx, dist), ([1, 2, 0, 9, 9], [1.0, 4.0, 9.0, 9.0, 9.0]));
}

#[test]
fn huge_values_fall_back_to_exact_search() {
    let data = [1e18f32, 0.0, -1e18, 0.0, 0.0, 1e18];
    let cb = Codebook::new(&data, 2).unwrap();
    let mut storage = vec![0.0; Codebook::packed_len(3, 2)];
    let packed = cb.pack(&mut storage).unwrap();
    for c in [cb, packed] {
        let r = c.nearest(&[-0.9e18, 1e17]).unwrap();
        assert_eq!(r.index, 1);
        assert_rel("huge", r.distance, 1e34 + 1e34, 1e-6);
    }
}

#[test]
fn owned_forms_match_views() {
    let cb = CodebookOwned::<3, 2>::new([[0.0, 0.0], [1.0, 1.0], [1.0, 1.0]]).unwrap();
    assert_eq!(cb.view().nearest(&[0.9, 1.1]).unwrap().index, 1);
    let file = AlignedFile::read(&format!("{DIR}/digits_m64/codebook.safetensors"));
    let st = SafeTensors::parse(file.bytes()).unwrap();
    let owned = Box::new(CodebookOwned::<64, 64>::from_safetensors(&st).unwrap());
    let view = Codebook::from_safetensors(&st).unwrap();
    assert_eq!(owned.view().data(), view.data());
    assert!(matches!(CodebookOwned::<63, 64>::from_safetensors(&st), Err(Error::Shape { .. })));

    let file = AlignedFile::read(&format!("{DIR}/digits_m64/codebook_int8.safetensors"));
    let st = SafeTensors::parse(file.bytes()).unwrap();
    let owned = CodebookI8Owned::<64, 64>::from_safetensors(&st).unwrap();
    let view = CodebookI8::from_safetensors(&st).unwrap();
    assert_eq!((owned.view().data(), owned.view().scale()), (view.data(), view.scale()));
}

#[test]
fn bad_inputs_are_errors() {
    assert!(matches!(Codebook::new(&[], 2), Err(Error::Empty { .. })));
    assert!(matches!(Codebook::new(&[1.0], 0), Err(Error::Empty { .. })));
    assert!(matches!(Codebook::new(&[1.0, 2.0, 3.0], 2), Err(Error::Shape { .. })));
    assert_eq!(
        Codebook::new(&[1.0, f32::NAN], 1).unwrap_err(),
        Error::Value { what: "codebook", index: 1, reason: "not finite" }
    );
    let cb = Codebook::new(&[1.0, 2.0], 2).unwrap();
    assert!(matches!(cb.nearest(&[1.0]), Err(Error::Shape { .. })));
    assert!(matches!(cb.nearest(&[1.0, f32::INFINITY]), Err(Error::Value { index: 1, .. })));
    assert!(matches!(cb.pack(&mut [0.0; 3]), Err(Error::BufferTooSmall { .. })));
    let (mut i, mut d) = ([0u32; 2], [0f32; 1]);
    assert!(matches!(cb.top_k(&[0.0, 0.0], &mut i, &mut d), Err(Error::Shape { .. })));
    assert!(matches!(cb.nearest_batch(&[0.0; 3], &mut i, &mut [0.0; 2], &mut []), Err(Error::Shape { .. })));
    assert!(matches!(cb.nearest_batch(&[0.0, f32::NAN], &mut i[..1], &mut d, &mut []), Err(Error::Value { .. })));
    assert!(matches!(CodebookI8::new(&[1, 2], 2, 0.0), Err(Error::Value { what: "scale", .. })));
    assert!(matches!(CodebookI8::new(&[1, 2], 2, f32::NAN), Err(Error::Value { .. })));
    assert!(matches!(quantize_i8(&[1.0], 1.0, &mut [0i8; 2]), Err(Error::Shape { .. })));
    assert!(matches!(ResidualVq::new(&[0.0; 6], 4, 1), Err(Error::Shape { .. })));
    let rvq = ResidualVq::new(&[0.0; 4], 2, 1).unwrap();
    assert!(matches!(rvq.decode(&[0, 2], &mut [0.0]), Err(Error::Value { what: "codes", index: 1, .. })));
    // A wrong dtype in the file.
    let file = AlignedFile::read(&format!("{DIR}/digits_m64/codebook_int8.safetensors"));
    let st = SafeTensors::parse(file.bytes()).unwrap();
    assert!(matches!(Codebook::from_safetensors(&st), Err(Error::DType { .. })));
    let file = AlignedFile::read(&format!("{DIR}/digits_m64/codebook.safetensors"));
    let st = SafeTensors::parse(file.bytes()).unwrap();
    assert!(matches!(CodebookI8::from_safetensors(&st), Err(Error::DType { .. } | Error::Missing { .. })));
    assert!(matches!(ResidualVq::from_safetensors(&st), Err(Error::Missing { .. })));
}

#[test]
fn quantize_rounds_half_away_and_clamps() {
    let mut q = [0i8; 7];
    quantize_i8(&[0.5, -0.5, 1.5, -1.5, 1e9, -1e9, 0.49999997], 1.0, &mut q).unwrap();
    assert_eq!(q, [1, -1, 2, -2, 127, -127, 0]);
}

// ---------------------------------------------------------------- every SIMD path vs scalar

type SqFn = unsafe fn(&[f32], &[f32], &mut [f32]);
type ScoresFn = unsafe fn(&[f32], usize, &[f32], &[f32], &mut [f32], &mut [f32]);

/// Paths whose kernel leaves the row minima to the dispatcher, with the minima added (unused where
/// no such path exists, e.g. wasm32 without simd128).
#[allow(unused_macros)]
macro_rules! with_row_min {
    ($name:ident, $path:path) => {
        unsafe fn $name(q: &[f32], d: usize, p: &[f32], h: &[f32], out: &mut [f32], row_min: &mut [f32]) {
            // SAFETY: the caller checked the path's CPU features and the lengths.
            unsafe { $path(q, d, p, h, out) };
            for (row, m) in out.chunks_exact(h.len()).zip(row_min.iter_mut()) {
                *m = scalar::row_minimum(row);
            }
        }
    };
}
#[cfg(target_arch = "x86_64")]
with_row_min!(avx2_scores, fvae::kernels::vq::x86_64::avx2::scores);
#[cfg(target_arch = "aarch64")]
with_row_min!(neon_scores, fvae::kernels::vq::aarch64::neon::scores);
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
with_row_min!(simd128_scores, fvae::kernels::vq::wasm32::simd128::scores);
type ArgminFn = unsafe fn(&[f32]) -> Option<(usize, f32)>;
type I8SqFn = unsafe fn(&[i8], &[i8], &mut [u32]);
type I8DotFn = unsafe fn(&[i8], &[i8], &mut [i32]);

struct Paths {
    sq: Vec<(&'static str, SqFn)>,
    scores: Vec<(&'static str, ScoresFn)>,
    argmin: Vec<(&'static str, ArgminFn)>,
    i8_sq: Vec<(&'static str, I8SqFn)>,
    i8_dot: Vec<(&'static str, I8DotFn)>,
}

/// The paths this CPU can run (each one, not only the one the dispatch picks).
fn paths() -> Paths {
    #[allow(unused_mut)]
    let mut p = Paths { sq: vec![], scores: vec![], argmin: vec![], i8_sq: vec![], i8_dot: vec![] };
    #[cfg(target_arch = "x86_64")]
    {
        use fvae::kernels::cpu::X86Level;
        use fvae::kernels::vq::x86_64::{avx2, avx512};
        // Listed by the dispatch's own level, which checks every feature each path enables.
        let level = fvae::kernels::cpu::detected_x86_level();
        if level >= X86Level::Avx2Fma {
            p.sq.push(("avx2", avx2::sq_distances));
            p.scores.push(("avx2", avx2_scores));
            p.argmin.push(("avx2", avx2::argmin));
            p.i8_sq.push(("avx2", avx2::i8_sq_distances));
            p.i8_dot.push(("avx2", avx2::i8_dots));
        }
        if level >= X86Level::Avx512 {
            p.sq.push(("avx512", avx512::sq_distances));
            p.scores.push(("avx512", avx512::scores));
            p.argmin.push(("avx512", avx512::argmin));
        }
        if level >= X86Level::Avx512Vnni {
            p.i8_sq.push(("avx512vnni", avx512::i8_sq_distances));
            p.i8_dot.push(("avx512vnni", avx512::i8_dots));
        }
        let names: Vec<_> = p.sq.iter().map(|x| x.0).chain(p.i8_sq.iter().map(|x| x.0)).collect();
        eprintln!("x86_64 paths under test: {names:?}");
        if std::env::var("FVAE_REQUIRE_AVX512").is_ok() {
            assert!(p.sq.len() == 2 && p.i8_sq.len() == 2, "AVX-512 paths required but not all present");
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        use fvae::kernels::vq::aarch64::neon;
        p.sq.push(("neon", neon::sq_distances));
        p.scores.push(("neon", neon_scores));
        p.argmin.push(("neon", neon::argmin));
        p.i8_sq.push(("neon", neon::i8_sq_distances));
        p.i8_dot.push(("neon", neon::i8_dots));
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        use fvae::kernels::vq::wasm32::simd128;
        p.sq.push(("simd128", simd128::sq_distances));
        p.scores.push(("simd128", simd128_scores));
        p.argmin.push(("simd128", simd128::argmin));
        p.i8_sq.push(("simd128", simd128::i8_sq_distances));
        p.i8_dot.push(("simd128", simd128::i8_dots));
    }
    p
}

const DIMS: [usize; 14] = [1, 2, 3, 4, 7, 8, 15, 16, 17, 31, 33, 64, 65, 130];
const MS: [usize; 6] = [1, 3, 16, 17, 33, 70];

#[test]
fn f32_paths_match_scalar() {
    let p = paths();
    let mut rng = Rng(12345);
    for &d in &DIMS {
        for &m in &MS {
            for &scale in &[1.0f32, 1e-20, 1e15] {
                // One extra element in front: every slice below starts unaligned.
                let x_buf = rng.vec(d + 1, scale);
                let c_buf = rng.vec(m * d + 1, scale);
                let (x, c) = (&x_buf[1..], &c_buf[1..]);
                let mut want = vec![0f32; m];
                scalar::sq_distances(x, c, &mut want);
                for (name, f) in &p.sq {
                    let mut got = vec![0f32; m + 1];
                    // SAFETY: the path's CPU features were detected; codebook holds m rows of d.
                    unsafe { f(x, c, &mut got[1..]) };
                    for j in 0..m {
                        let tol = 1e-5 * want[j].abs() + f32::MIN_POSITIVE * d as f32;
                        assert!((got[1 + j] - want[j]).abs() <= tol, "{name} sq d={d} m={m} j={j}");
                    }
                }
                if scale > 1e10 {
                    continue; // squared norms overflow f32: scores are not meaningful there
                }
                // Scores against the packed codebook.
                let mp = kv::padded_m(m);
                let mut panels = vec![0f32; mp * d + 1];
                kv::pack_panels(c, d, &mut panels[1..]);
                let mut hn = vec![f32::INFINITY; mp + 1];
                for j in 0..m {
                    hn[1 + j] = 0.5 * c[j * d..(j + 1) * d].iter().map(|v| v * v).sum::<f32>();
                }
                // Two 6-query tiles and one left over; or more than one 48-query block, tiles and a rest.
                let nq = if d <= 17 && m <= 33 { 103 } else { 13 };
                let q_buf = rng.vec(nq * d + 1, scale);
                let q = &q_buf[1..];
                let mut want = vec![0f32; nq * mp];
                let mut want_min = vec![0f32; nq];
                scalar::scores(q, d, &panels[1..], &hn[1..], &mut want, &mut want_min);
                let bound = |i: usize| {
                    let (qi, j) = (i / mp, i % mp);
                    let nx: f32 = q[qi * d..(qi + 1) * d].iter().map(|v| v * v).sum::<f32>().sqrt();
                    1e-5 * (nx * (2.0 * hn[1 + j]).sqrt() + hn[1 + j])
                };
                let mut got_min = vec![0f32; nq + 1];
                kv::scores(q, d, &panels[1..], &hn[1..], &mut vec![0f32; nq * mp], &mut got_min[1..]);
                for i in 0..nq {
                    assert!((got_min[1 + i] - want_min[i]).abs() <= bound(i * mp), "dispatched row_min d={d} m={m}");
                }
                for (name, f) in &p.scores {
                    let mut got = vec![0f32; nq * mp + 1];
                    let mut mins = vec![0f32; nq];
                    // SAFETY: features detected; mp whole panels of d, out holds nq * mp.
                    unsafe { f(q, d, &panels[1..], &hn[1..], &mut got[1..], &mut mins) };
                    for (i, row) in got[1..].chunks_exact(mp).enumerate() {
                        assert_eq!(mins[i], scalar::row_minimum(row), "{name} row_min d={d} m={m}");
                    }
                    for i in 0..nq * mp {
                        let (g, w) = (got[1 + i], want[i]);
                        if w.is_infinite() {
                            assert_eq!(g, w, "{name} scores padding d={d} m={m}");
                        } else {
                            assert!((g - w).abs() <= bound(i), "{name} scores d={d} m={m} i={i}: {g} vs {w}");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn argmin_paths_match_scalar_with_ties_nan_and_inf() {
    let p = paths();
    let mut rng = Rng(777);
    let mut cases: Vec<Vec<f32>> = vec![vec![], vec![f32::NAN; 40], vec![f32::INFINITY; 33], vec![1.0; 100]];
    for n in [1, 2, 7, 15, 16, 17, 31, 32, 33, 47, 64, 100, 257] {
        let mut v: Vec<f32> = (0..n).map(|_| (rng.next() % 5) as f32).collect(); // many ties
        cases.push(v.clone());
        v[n / 2] = f32::NAN;
        v[0] = f32::NAN;
        cases.push(v.clone());
        v.iter_mut().for_each(|x| *x = f32::INFINITY);
        v[n - 1] = f32::NEG_INFINITY;
        cases.push(v);
        cases.push((0..n).map(|_| rng.f32()).collect());
    }
    for v in &cases {
        let want = scalar::argmin(v);
        for (name, f) in &p.argmin {
            let unaligned: Vec<f32> = std::iter::once(0.0).chain(v.iter().copied()).collect();
            // SAFETY: features detected.
            let got = unsafe { f(&unaligned[1..]) };
            let same = match (got, want) {
                (Some((i, a)), Some((j, b))) => i == j && a.to_bits() == b.to_bits(),
                (None, None) => true,
                _ => false,
            };
            assert!(same, "{name} argmin of {v:?}: {got:?} vs {want:?}");
        }
        assert_eq!(kv::argmin(v).map(|r| r.0), want.map(|r| r.0));
        // indices_at_most (dispatched) against the scalar reference.
        let t = want.map(|r| r.1 + 1.0).unwrap_or(0.0);
        let (mut a, mut b) = ([0u32; 8], [0u32; 8]);
        assert_eq!(kv::indices_at_most(v, t, &mut a), scalar::indices_at_most(v, t, &mut b));
        assert_eq!(a, b);
    }
    // top_k: ascending, ties by index.
    let v = [3.0, 1.0, f32::NAN, 1.0, 0.0, 3.0];
    let (mut i, mut d) = ([0u32; 4], [0f32; 4]);
    assert_eq!(kv::top_k(&v, &mut i, &mut d), 4);
    assert_eq!((i, d), ([4, 1, 3, 0], [0.0, 1.0, 1.0, 3.0]));
}

#[test]
fn i8_paths_match_scalar_exactly() {
    let p = paths();
    let mut rng = Rng(4242);
    for &d in DIMS.iter().chain(&[63, 64 * 3 + 5, 1000]) {
        for &m in &MS {
            let mut x_buf: Vec<i8> = (0..d + 1).map(|_| rng.i8()).collect();
            let mut c_buf: Vec<i8> = (0..m * d + 1).map(|_| rng.i8()).collect();
            // Extremes: the largest differences and products.
            x_buf[1] = -128;
            c_buf[1] = 127;
            if d > 1 {
                x_buf[2] = -128;
                c_buf[2] = -128;
            }
            let (x, c) = (&x_buf[1..], &c_buf[1..]);
            let (mut want_sq, mut want_dot) = (vec![0u32; m], vec![0i32; m]);
            scalar::i8_sq_distances(x, c, &mut want_sq);
            scalar::i8_dots(x, c, &mut want_dot);
            for (name, f) in &p.i8_sq {
                let mut got = vec![0u32; m + 1];
                // SAFETY: features detected; m rows of d.
                unsafe { f(x, c, &mut got[1..]) };
                assert_eq!(&got[1..], &want_sq[..], "{name} i8 sq d={d} m={m}");
            }
            for (name, f) in &p.i8_dot {
                let mut got = vec![0i32; m + 1];
                // SAFETY: features detected; m rows of d.
                unsafe { f(x, c, &mut got[1..]) };
                assert_eq!(&got[1..], &want_dot[..], "{name} i8 dot d={d} m={m}");
            }
            let mut got = vec![0u32; m];
            kv::i8_sq_distances(x, c, &mut got);
            assert_eq!(got, want_sq);
        }
    }
}

#[test]
fn i8_distance_is_exact_at_the_stated_bound() {
    // D = 65 536 with the largest difference everywhere: 65 536 * 255^2 = 4 261 478 400, above
    // i32::MAX, below u32::MAX: every path must still return it exactly.
    let d = 65_536;
    let x = vec![-128i8; d];
    let c = vec![127i8; d];
    let want = 65_536u32 * 255 * 255;
    let mut out = [0u32];
    scalar::i8_sq_distances(&x, &c, &mut out);
    assert_eq!(out[0], want);
    for (name, f) in &paths().i8_sq {
        // SAFETY: features detected; one row of d.
        unsafe { f(&x, &c, &mut out) };
        assert_eq!(out[0], want, "{name}");
    }
    kv::i8_sq_distances(&x, &c, &mut out);
    assert_eq!(out[0], want);
    // Dot products at their extreme: (-128)^2 * 65 536 = 2^30.
    assert_eq!(kv::i8_dot(&x, &x), 1 << 30);
}

// ---------------------------------------------------------------- int8 screening (nearest)

/// The screening kernel's own contract, for scalar and (where the CPU has it) AVX-512 VNNI:
/// the same quantised query (scale, bounds), and every score within the stated error of the
/// f32-free score `h_j - q . c_j`: `||q - q^|| ||c_j|| + ||q^|| ||c_j - c^_j||` plus the float
/// error `2^-22 (h_j + ||q^|| ||c^_j||) + 2^-100`, with every bound computed here in f64.
#[test]
fn screen_paths_meet_their_error_bound() {
    let mut rng = Rng(777);
    // The dispatch runs the VNNI path exactly where the CPU level (FVAE_X86_LEVEL may cap it)
    // has it, and declines elsewhere.
    #[cfg(target_arch = "x86_64")]
    let have_simd = fvae::kernels::cpu::has_avx512_vnni();
    #[cfg(not(target_arch = "x86_64"))]
    let have_simd = false;
    #[cfg(target_arch = "x86_64")]
    if std::env::var("FVAE_REQUIRE_AVX512").is_ok() {
        assert!(have_simd, "AVX-512 VNNI screening path required but not present");
    }
    for &d in &[1usize, 2, 3, 5, 15, 16, 17, 33, 64, 65, 130, 1024] {
        for &m in &[1usize, 15, 16, 17, 40, 70] {
            for &scale in &[1.0f32, 1e8, 1e-8, 3e-20] {
                let mp = kv::padded_m(m);
                let g = kv::screen_words(d);
                let mut data = rng.vec(m * d, scale);
                // A zero codeword, a constant one and one with a single large value.
                data[..d].fill(0.0);
                if m > 2 {
                    data[d..2 * d].fill(scale * 0.5);
                    data[2 * d] = scale * 1e3;
                }
                let (mut sc, mut cs, mut w) = (vec![0.0; mp], vec![0.0; mp], vec![0.0; mp * g]);
                let cerr = kv::pack_screen(&data, d, &mut sc, &mut cs, &mut w);
                let mut h = vec![f32::INFINITY; mp];
                for (j, hj) in h.iter_mut().take(m).enumerate() {
                    *hj = (0.5 * kv::sq_norm_exact(&data[j * d..(j + 1) * d])) as f32;
                }
                let n = 7;
                let mut q = rng.vec(n * d + 1, scale);
                q[1..=d].fill(0.0); // a zero query
                let qs = &q[1..]; // unaligned
                let mut want = (vec![0.0; n * mp], vec![0.0; n], vec![kv::ScreenQuery::default(); n]);
                scalar::screen(qs, d, &w, &sc, &cs, &h, &mut want.0, &mut want.1, &mut want.2);
                let mut got = (vec![0.0; n * mp], vec![0.0; n], vec![kv::ScreenQuery::default(); n]);
                let ran = kv::screen(qs, d, &w, &sc, &cs, &h, &mut got.0, &mut got.1, &mut got.2);
                assert_eq!(ran, have_simd, "screen dispatch d={d}");
                let paths: Vec<_> = if ran { vec![("scalar", &want), ("simd", &got)] } else { vec![("scalar", &want)] };
                for (name, (out, mins, info)) in paths {
                    for r in 0..n {
                        let x = &qs[r * d..(r + 1) * d];
                        assert_eq!(info[r].scale, want.2[r].scale, "{name} scale d={d}");
                        let row = &out[r * mp..(r + 1) * mp];
                        assert_eq!(mins[r], row.iter().copied().fold(f32::INFINITY, f32::min), "{name} min");
                        assert!(row[m..].iter().all(|v| *v == f32::INFINITY), "{name} padding");
                        for j in 0..m {
                            let c = &data[j * d..(j + 1) * d];
                            let dot: f64 = x.iter().zip(c).map(|(&a, &b)| a as f64 * b as f64).sum();
                            let cn = kv::sq_norm_exact(c).sqrt();
                            let chat = cn + cerr;
                            let bound = info[r].err * cn
                                + info[r].norm * cerr
                                + 2f64.powi(-22) * (h[j] as f64 + info[r].norm * chat)
                                + 2f64.powi(-100);
                            let exact = h[j] as f64 - dot;
                            let diff = (row[j] as f64 - exact).abs();
                            assert!(diff <= bound, "{name} d={d} m={m} scale={scale} q={r} j={j}: {diff} > {bound}");
                        }
                    }
                }
            }
        }
    }
}

/// The fused single-query screen (`screen_nearest`, what `Codebook::nearest` uses) against its
/// scalar reference and against `screen` + `indices_at_most` on the same path: the same
/// candidates (ascending, as many as fit, the full count), the same quantised query, the same
/// minimum handed to the window; odd D, M off the panels, ties, a zero query, extremes, a
/// NaN window (no candidate), and `None` past `SCREEN_ONE_MAX_M`.
#[test]
fn screen_nearest_matches_screen_and_scan() {
    let mut rng = Rng(4242);
    #[cfg(target_arch = "x86_64")]
    let have_simd = fvae::kernels::cpu::has_avx512_vnni();
    #[cfg(not(target_arch = "x86_64"))]
    let have_simd = false;
    for &d in &[1usize, 3, 5, 16, 17, 64, 65, 130, 1024] {
        for &m in &[1usize, 15, 16, 17, 70, 512, 2048] {
            for &scale in &[1.0f32, 1e8, 3e-20] {
                let mp = kv::padded_m(m);
                let g = kv::screen_words(d);
                let mut data = rng.vec(m * d, scale);
                if m > 3 {
                    // Duplicate codewords: tied scores.
                    let (a, b) = data.split_at_mut(d);
                    b[..d].copy_from_slice(a);
                    b[2 * d..3 * d].copy_from_slice(a);
                }
                let (mut sc, mut cs, mut w) = (vec![0.0; mp], vec![0.0; mp], vec![0.0; mp * g]);
                kv::pack_screen(&data, d, &mut sc, &mut cs, &mut w);
                let mut h = vec![f32::INFINITY; mp];
                for (j, hj) in h.iter_mut().take(m).enumerate() {
                    *hj = (0.5 * kv::sq_norm_exact(&data[j * d..(j + 1) * d])) as f32;
                }
                let mut qs = rng.vec(3 * d + 1, scale);
                qs[1..=d].copy_from_slice(&data[..d]); // a codeword (tied with its duplicates)
                qs[d + 1..=2 * d].fill(0.0); // a zero query
                for (r, x) in qs[1..].chunks_exact(d).enumerate() {
                    // unaligned rows
                    for &(widen, cap) in &[(0.0f32, 32usize), (0.25, 4), (f32::NAN, 8), (f32::INFINITY, 3)] {
                        let what = format!("d={d} m={m} scale={scale} r={r} widen={widen} cap={cap}");
                        let window = |mn: f32, _: &kv::ScreenQuery| mn + widen * mn.abs();
                        let mut want_cand = vec![u32::MAX; cap];
                        let (want_count, want_info) =
                            scalar::screen_nearest(x, &w, &sc, &cs, &h, m, window, &mut want_cand);
                        let mut got_cand = vec![u32::MAX; cap];
                        let got = kv::screen_nearest(x, &w, &sc, &cs, &h, m, window, &mut got_cand);
                        assert_eq!(got.is_some(), have_simd, "dispatch {what}");
                        let Some((count, info)) = got else { continue };
                        assert_eq!(info.scale, want_info.scale, "scale {what}");
                        assert_eq!((count, &got_cand), (want_count, &want_cand), "candidates {what}");
                        // The batch screen on the same path gives the same numbers.
                        let (mut out, mut mn, mut inf) = (vec![0.0; mp], [0f32], [kv::ScreenQuery::default()]);
                        assert!(kv::screen(x, d, &w, &sc, &cs, &h, &mut out, &mut mn, &mut inf));
                        assert_eq!(info, inf[0], "info {what}");
                        let mut scan = vec![u32::MAX; cap];
                        let n = kv::indices_at_most(&out[..m], window(mn[0], &inf[0]), &mut scan);
                        assert_eq!((count, &got_cand), (n, &scan), "scan {what}");
                        if widen.is_nan() {
                            assert_eq!(count, 0, "NaN window {what}");
                        }
                    }
                }
            }
        }
    }
    // Past SCREEN_ONE_MAX_M: declined, nothing written (Codebook::nearest takes its batch path).
    let mp = kv::SCREEN_ONE_MAX_M + kv::PANEL;
    let (w, sc, cs, h) = (vec![0.0; mp], vec![1.0; mp], vec![0.0; mp], vec![0.0; mp]);
    let mut cand = [7u32; 2];
    assert_eq!(kv::screen_nearest(&[1.0], &w, &sc, &cs, &h, mp, |m, _| m, &mut cand), None);
    assert_eq!(cand, [7, 7]);
}

/// Every search form against the definition (f64 distances rounded to f32, ties on that f32 to
/// the lowest index): plain, packed (int8 screen where the CPU has it), batch and top-k.
fn check_all_forms(data: &[f32], d: usize, queries: &[f32], what: &str) {
    let m = data.len() / d;
    let cb = Codebook::new(data, d).unwrap();
    let mut storage = vec![0.0; Codebook::packed_len(m, d)];
    let packed = cb.pack(&mut storage).unwrap();
    let n = queries.len() / d;
    let want: Vec<(u32, f32)> = queries.chunks_exact(d).map(|x| brute_top_k(x, data, d, 1)[0]).collect();
    for (name, c) in [("plain", cb), ("packed", packed)] {
        for (i, x) in queries.chunks_exact(d).enumerate() {
            let r = c.nearest(x).unwrap();
            assert_eq!((r.index, r.distance), want[i], "{what}: {name} nearest, query {i}");
            let (mut idx, mut dist) = ([0u32; 2], [0f32; 2]);
            c.top_k(x, &mut idx[..1], &mut dist[..1]).unwrap();
            assert_eq!((idx[0], dist[0]), want[i], "{what}: {name} top-1, query {i}");
        }
        for scratch_len in [0, c.batch_scratch_len()] {
            let (mut idx, mut dist) = (vec![0u32; n], vec![0f32; n]);
            let mut scratch = vec![0.0; scratch_len];
            c.nearest_batch(queries, &mut idx, &mut dist, &mut scratch).unwrap();
            let got: Vec<(u32, f32)> = idx.into_iter().zip(dist).collect();
            assert_eq!(got, want, "{what}: {name} batch, scratch {scratch_len}");
            // Indices alone: the same, with or without the exact re-check of a lone candidate.
            let mut idx = vec![u32::MAX; n];
            c.nearest_indices_batch(queries, &mut idx, &mut scratch).unwrap();
            let want_idx: Vec<u32> = want.iter().map(|w| w.0).collect();
            assert_eq!(idx, want_idx, "{what}: {name} indices only, scratch {scratch_len}");
        }
    }
}

/// At |x| ~ 1e8 two f64 distances (1e16 and 1e16 + 2e5) round to the same f32, so the lower
/// index wins although its f64 distance is larger. Every path must agree (the packed path's
/// window includes the f32 tie margin); a fuzzer found this case.
#[test]
fn f32_ties_at_huge_magnitudes_go_to_the_lowest_index() {
    for d in [1usize, 2, 7, 16, 64] {
        // Codeword j at -1e-3 j on the first axis (codeword 0 at -1e-3): 1e16 + 2e5 j from the
        // query, all rounding to the f32 1e16, and codeword 1 (zero) the f64 nearest. Small norms keep every fast
        // window far narrower than the 2e5 gap, so only the tie margin admits codeword 0.
        let mut data = vec![0.0f32; 20 * d];
        for (j, c) in data.chunks_exact_mut(d).enumerate() {
            c[0] = if j == 1 { 0.0 } else { -1e-3 * j.max(1) as f32 };
        }
        let mut x = vec![0.0f32; d];
        x[0] = 1e8;
        let want = brute_top_k(&x, &data, d, 1)[0];
        assert_eq!(want.0, 0, "the definition picks the lower index on an f32 tie");
        check_all_forms(&data, d, &x, &format!("tie at 1e8, d={d}"));
    }
}

fn adversarial_case(seed: u64, m: usize, d: usize, scale: f32, offset: f32, n: usize) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Rng(seed | 1);
    let mut data = rng.vec(m * d, scale);
    data.iter_mut().for_each(|v| *v += offset);
    if m > 5 {
        // Duplicates (exact ties), a one-ulp neighbour and a codeword of mixed magnitudes.
        let c0 = data[..d].to_vec();
        data[3 * d..4 * d].copy_from_slice(&c0);
        data[(m - 1) * d..].copy_from_slice(&c0);
        data[2 * d..3 * d].copy_from_slice(&c0);
        data[2 * d] = f32::from_bits(c0[0].to_bits() + 1);
        data[4 * d] = offset + scale * 1e4;
    }
    let mut q = rng.vec(n * d, scale);
    q.iter_mut().for_each(|v| *v += offset);
    // A query at codeword 0 (a four-way near tie), one midway between codewords 0 and 1, one
    // with a single dominant value, and one ulp off codeword 0.
    q[..d].copy_from_slice(&data[..d]);
    if m > 1 && n > 3 {
        for i in 0..d {
            q[d + i] = 0.5 * (data[i] + data[d + i]);
            q[3 * d + i] = f32::from_bits(data[i].to_bits() ^ 1);
        }
        q[2 * d] = offset + scale * 1e3;
    }
    (data, q)
}

#[test]
fn screened_search_matches_definition_on_adversarial_data() {
    for &(m, d, scale, offset) in &[
        (1usize, 1usize, 1.0f32, 0.0f32),
        (17, 3, 1.0, 0.0),
        (256, 16, 1.0, 0.0),
        (512, 64, 1.0, 0.0),
        (100, 65, 1e8, 0.0),
        (100, 9, 1e-8, 0.0),
        (70, 33, 1.0, 1e4),
        (40, 130, 1e-3, -2.0),
        (33, 7, 3e-20, 0.0),
        (48, 16, 1e14, 0.0),
    ] {
        let (data, q) = adversarial_case((m * 1000 + d) as u64, m, d, scale, offset, 50);
        check_all_forms(&data, d, &q, &format!("m={m} d={d} scale={scale} offset={offset}"));
    }
}

/// Codewords whose norms span three decades (as a k-means codebook of image patches: flat ones
/// near 0, textured ones large), with near-duplicates among the small ones and queries at every
/// scale: the window of the largest codeword holds most of the codebook there, so the search
/// takes the per-codeword window, which must still give the definition's answer.
#[test]
fn screened_search_with_spread_norms_matches_definition() {
    for &(m, d) in &[(256usize, 16usize), (512, 64), (100, 9)] {
        let mut rng = Rng((m * 7 + d) as u64);
        let mut data = rng.vec(m * d, 1.0);
        for (j, c) in data.chunks_exact_mut(d).enumerate() {
            let s = 10f32.powf(-3.0 + 3.0 * j as f32 / m as f32);
            c.iter_mut().for_each(|v| *v *= s);
        }
        // Near-duplicates of small codewords (one ulp, and an exact copy).
        let c0 = data[..d].to_vec();
        data[d..2 * d].copy_from_slice(&c0);
        data[d] = f32::from_bits(c0[0].to_bits() + 1);
        data[2 * d..3 * d].copy_from_slice(&c0);
        let mut q = rng.vec(60 * d, 1.0);
        for (i, x) in q.chunks_exact_mut(d).enumerate() {
            let s = 10f32.powf(-4.0 + 4.0 * (i % 12) as f32 / 11.0);
            x.iter_mut().for_each(|v| *v *= s);
        }
        q[..d].copy_from_slice(&c0);
        for i in 0..d {
            q[d + i] = 0.5 * (data[3 * d + i] + data[4 * d + i]);
        }
        check_all_forms(&data, d, &q, &format!("spread norms m={m} d={d}"));
    }
}

mod screen_properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// Random shapes (odd D, M off the 16-lane panels), magnitudes from 1e-8 to 1e8 and
        /// near-duplicate codewords: every search form returns the definition's answer.
        #[test]
        fn nearest_is_exact_for_any_shape_and_magnitude(
            seed in any::<u64>(),
            m in 1usize..90,
            d in 1usize..80,
            exp in -8i32..=8,
            offset in prop_oneof![Just(0.0f32), -100.0f32..100.0],
        ) {
            let scale = 10f32.powi(exp);
            let (data, q) = adversarial_case(seed, m, d, scale, offset, 9);
            check_all_forms(&data, d, &q, &format!("seed={seed} m={m} d={d} scale={scale} offset={offset}"));
        }
    }
}

/// The exact distance is part of the result's definition: every path returns the same bits.
#[test]
fn sq_distance_exact_paths_give_the_same_bits() {
    let mut rng = Rng(99);
    for d in (0..40).chain([63, 64, 65, 130, 1000]) {
        for &scale in &[1.0f32, 1e8, 1e-8, 1e-20, 1e19] {
            let x = rng.vec(d + 1, scale);
            let c = rng.vec(d + 3, scale);
            let (x, c) = (&x[1..], &c[..d]);
            let want = scalar::sq_distance_exact(x, c);
            assert_eq!(kv::sq_distance_exact(x, c).to_bits(), want.to_bits(), "dispatch d={d}");
            #[cfg(target_arch = "x86_64")]
            if fvae::kernels::cpu::detected_x86_level() >= fvae::kernels::cpu::X86Level::Avx512 {
                // SAFETY: the CPU has the level's features (the ones the function enables).
                let got = unsafe { fvae::kernels::vq::x86_64::avx512::sq_distance_exact(x, c) };
                assert_eq!(got.to_bits(), want.to_bits(), "avx512 d={d} scale={scale}");
            }
        }
    }
}

#[test]
fn packed_int8_codebook_matches_unpacked() {
    for case in CASES {
        let file = AlignedFile::read(&format!("{DIR}/{case}/codebook_int8.safetensors"));
        let cb = CodebookI8::from_safetensors(&SafeTensors::parse(file.bytes()).unwrap()).unwrap();
        let xq: Vec<i8> = npy(case, "x_int8.npy").f64s.iter().map(|&v| v as i8).collect();
        let mut storage = vec![0i32; CodebookI8::packed_len(cb.m(), cb.d())];
        let short = CodebookI8::packed_len(cb.m(), cb.d()) - 1;
        assert!(matches!(cb.pack(&mut storage[..short]), Err(Error::BufferTooSmall { .. })));
        let packed = cb.pack(&mut storage).unwrap();
        for x in xq.chunks_exact(cb.d()) {
            assert_eq!(packed.nearest(x).unwrap(), cb.nearest(x).unwrap(), "{case}");
        }
        assert!(matches!(packed.nearest(&xq[..cb.d() - 1]), Err(Error::Shape { .. })));
    }
    // D = 16, the size of the Cortex-M assembly path, with extremes and ties.
    let mut data = [0i8; 40 * 16];
    for (i, v) in data.iter_mut().enumerate() {
        *v = match i / 16 {
            0 | 1 => 127,
            2 => -128,
            _ => ((i * 37 + 11) % 256) as u8 as i8,
        };
    }
    let cb = CodebookI8::new(&data, 16, 1.0).unwrap();
    let mut storage = [0i32; CodebookI8::packed_len(40, 16)];
    let packed = cb.pack(&mut storage).unwrap();
    for x in [[127i8; 16], [-128; 16], [0; 16], [5; 16]] {
        assert_eq!(packed.nearest(&x).unwrap(), cb.nearest(&x).unwrap());
    }
    assert_eq!(packed.nearest(&[127; 16]).unwrap().index, 0);
}
