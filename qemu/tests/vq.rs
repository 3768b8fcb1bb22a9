//! Vector quantisation on a Cortex-M core, against the fixtures of tests/data/vq.
//!
//! - `digits_m64` (M=64, D=64), the first 64 queries: f32 nearest (index exact, distance within 1e-5 of
//!   max(1, |d|)) and top-4; int8 quantisation of the f32 queries (equal to `x_int8.npy`) and int8 nearest
//!   (index and integer distance exact). On thumbv7em the int8 distances run on the DSP path
//!   (`smlad`/`sxtb16`), on thumbv6m on the scalar reference.
//! - The DSP (or scalar) int8 kernels against the scalar reference on adversarial rows (odd lengths,
//!   -128/127 extremes), exact.
//! - `residual_digits_4x16` (S=4, M=16): greedy codes exact, reconstructions within 1e-5; and the packed
//!   (ranking) search of a stage agrees with the direct one, index and distance, on every query.
//! - The fused f32 nearest scan (`nearest_direct`: assembly on FPU cores for D a multiple of 8) against the scalar
//!   reference, bit for bit, on random rows, ties, huge values (infinite distances), NaN and rows offset
//!   by one float; on FPU cores `Codebook::nearest`, `top_k` and the packed codebook agree with it.
//! - The packed int8 nearest (`i8_nearest_packed`: `smlad` assembly for D = 13..16 on DSP cores) against
//!   `i8_sq_distances` + `argmin_u32`, exact, on random rows, -128/127 extremes, ties and odd lengths;
//!   and `CodebookI8::pack` against the unpacked codebook on the fixture.
//!
//! RAM: the codebooks are read in place from flash; a packed 16 x 64 stage needs 16 x 65 floats (4 KiB).
#![no_std]
#![no_main]

use fvae::formats::safetensors::SafeTensors;
use fvae::kernels::vq as kv;
use fvae::vq::{Codebook, CodebookI8, ResidualVq};
use fvae_qemu::{check, entry, Errors, Rng, Suite};

mod fx {
    fvae_qemu::fixtures!("vq");
}

const D: usize = 64;
const N: usize = 64;

#[entry]
fn main() -> ! {
    static mut PACKED: [f32; Codebook::packed_len(16, 64)] = [0.0; Codebook::packed_len(16, 64)];
    let mut s = Suite::new("vq");
    check!(s, fx::X_SHAPE == [N, D], "x shape {:?}", fx::X_SHAPE);

    // f32 nearest and top-4.
    if let Some(cb) = s.ok("codebook", SafeTensors::parse(&fx::CODEBOOK.0).and_then(|f| Codebook::from_safetensors(&f)))
    {
        let mut dist = Errors::default();
        let mut dist4 = Errors::default();
        let (mut wrong, mut wrong4) = (0, 0);
        for i in 0..N {
            let x = &fx::X[i * D..(i + 1) * D];
            if let Some(r) = s.ok("nearest", cb.nearest(x)) {
                wrong += (r.index as i32 != fx::NEAREST[i]) as u32;
                dist.add_one(r.distance as f64, fx::NEAREST_DISTANCE[i]);
            }
            let (mut idx, mut d4) = ([0u32; 4], [0f32; 4]);
            if s.ok("top4", cb.top_k(x, &mut idx, &mut d4)).is_some() {
                for k in 0..4 {
                    wrong4 += (idx[k] as i32 != fx::TOP4[i * 4 + k]) as u32;
                    dist4.add_one(d4[k] as f64, fx::TOP4_DISTANCE[i * 4 + k]);
                }
            }
        }
        check!(s, wrong == 0, "{} of {} nearest indices differ", wrong, N);
        check!(s, wrong4 == 0, "{} of {} top-4 indices differ", wrong4, 4 * N);
        s.check_each("nearest distances", &dist, 1e-5);
        s.check_each("top-4 distances", &dist4, 1e-5);
    }

    // int8: quantisation of the f32 queries, then exact search.
    if let Some(cb) =
        s.ok("int8 codebook", SafeTensors::parse(&fx::CODEBOOK_I8.0).and_then(|f| CodebookI8::from_safetensors(&f)))
    {
        let (mut wrong_q, mut wrong) = (0, 0);
        for i in 0..N {
            let mut q = [0i8; D];
            if s.ok("quantize", cb.quantize(&fx::X[i * D..(i + 1) * D], &mut q)).is_some() {
                wrong_q += (q[..] != fx::X_I8[i * D..(i + 1) * D]) as u32;
            }
            if let Some(r) = s.ok("int8 nearest", cb.nearest(&fx::X_I8[i * D..(i + 1) * D])) {
                wrong += (r.index as i32 != fx::NEAREST_I8[i] || r.distance as i64 != fx::NEAREST_I8_DIST[i]) as u32;
            }
        }
        check!(s, wrong_q == 0, "{} of {} quantised queries differ from x_int8.npy", wrong_q, N);
        check!(s, wrong == 0, "{} of {} int8 results (index, distance) differ", wrong, N);
        // The same searches on the first 16 codewords, packed (D = 64: the portable packed loop; 1 KiB).
        static mut PACKED_I8: [i32; CodebookI8::packed_len(16, 64)] = [0; CodebookI8::packed_len(16, 64)];
        // SAFETY: main runs once, single-threaded, and this is the only reference to the static.
        let storage = unsafe { &mut *core::ptr::addr_of_mut!(PACKED_I8) };
        let small = CodebookI8::new(&cb.data()[..16 * D], D, cb.scale());
        if let (Some(cb), Some(p)) = (small.ok(), s.ok("int8 pack", small.and_then(|c| c.pack(storage)))) {
            let mut differ = 0;
            for i in 0..N {
                let x = &fx::X_I8[i * D..(i + 1) * D];
                differ += (p.nearest(x).ok() != cb.nearest(x).ok()) as u32;
            }
            check!(s, differ == 0, "{} of {} packed int8 results differ", differ, N);
        }
    }

    // The dispatched int8 kernels (DSP on thumbv7em) against the scalar reference, bit for bit.
    let mut seed = 0x2545_f491u32;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed as i8
    };
    let mut mismatches = 0;
    for &d in &[1usize, 2, 3, 4, 5, 7, 8, 15, 16, 17, 32, 33, 48, 64, 67] {
        let (mut x, mut c) = ([0i8; 68], [0i8; 68 * 3]);
        x.iter_mut().for_each(|v| *v = next());
        c.iter_mut().for_each(|v| *v = next());
        (x[1], c[1], c[1 + d]) = (-128, 127, -128);
        // Offset by one byte: unaligned words for the DSP path.
        let (x, c) = (&x[1..1 + d], &c[1..1 + 3 * d]);
        let (mut a, mut b) = ([0u32; 3], [0u32; 3]);
        kv::i8_sq_distances(x, c, &mut a);
        kv::scalar::i8_sq_distances(x, c, &mut b);
        let (mut e, mut f) = ([0i32; 3], [0i32; 3]);
        kv::i8_dots(x, c, &mut e);
        kv::scalar::i8_dots(x, c, &mut f);
        mismatches += (a != b) as u32 + (e != f) as u32;
    }
    check!(s, mismatches == 0, "{} int8 kernel results differ from the scalar reference", mismatches);

    direct_f32_scan(&mut s);
    packed_i8(&mut s);

    // Residual VQ, and the packed search of one stage against the direct one.
    if let Some(rvq) =
        s.ok("codebooks", SafeTensors::parse(&fx::CODEBOOKS.0).and_then(|f| ResidualVq::from_safetensors(&f)))
    {
        let (mut wrong, mut recon, mut packed_wrong) = (0, Errors::default(), 0);
        let stage0 = rvq.stage(0);
        let packed = stage0.and_then(|c| c.pack(PACKED));
        for i in 0..N {
            let x = &fx::RX[i * D..(i + 1) * D];
            let (mut codes, mut residual, mut y) = ([0u32; 4], [0f32; D], [0f32; D]);
            if s.ok("encode", rvq.encode(x, &mut codes, &mut residual)).is_some()
                && s.ok("decode", rvq.decode(&codes, &mut y)).is_some()
            {
                wrong += (0..4).filter(|&k| codes[k] as i32 != fx::CODES[i * 4 + k]).count() as u32;
                recon.add(&y, &fx::RECONSTRUCTION[i * D..(i + 1) * D]);
            }
            if let (Ok(a), Ok(b)) = (stage0, packed) {
                packed_wrong += (a.nearest(x).ok() != b.nearest(x).ok()) as u32;
            }
        }
        check!(s, wrong == 0, "{} of {} residual codes differ", wrong, 4 * N);
        s.check_each("reconstruction", &recon, 1e-5);
        check!(s, packed.is_ok(), "packing a stage");
        check!(s, packed_wrong == 0, "{} packed results differ from direct ones", packed_wrong);
    }
    s.finish()
}

/// `nearest_direct` (dispatched) against the scalar reference, and the searches of `Codebook` against it
/// on FPU cores (where it is the contract).
#[inline(never)]
fn direct_f32_scan(s: &mut Suite) {
    const MAXM: usize = 24;
    let mut rng = Rng(0x1357_9bdf);
    let (mut differ, mut api_differ, mut cases) = (0, 0, 0);
    for &d in &[16usize, 1, 3, 8, 15, 17, 24, 32] {
        for &m in &[1usize, 2, 5, 16, MAXM] {
            for case in 0..6 {
                let mut x = [0f32; 32];
                let mut c = [0f32; 32 * MAXM + 1];
                x.iter_mut().for_each(|v| *v = rng.f(1.0));
                c.iter_mut().for_each(|v| *v = rng.f(1.0) * 1.5);
                match case {
                    // Ties: every codeword equal to one of a few, the query equal to the last.
                    1 => {
                        for j in 0..m {
                            let src = (j % 3) * d;
                            for i in 0..d {
                                c[1 + j * d + i] = c[1 + src + i];
                            }
                        }
                    }
                    // Huge values: some or all distances overflow to +inf (the first +inf wins if all do).
                    2 => c.iter_mut().step_by(3).for_each(|v| *v *= 3e19),
                    3 => {
                        x.iter_mut().for_each(|v| *v = 3e19);
                        c.iter_mut().for_each(|v| *v = -3e19);
                    }
                    // NaN in some codewords (skipped), and exact zeros.
                    4 => {
                        c[1 + d / 2] = f32::NAN;
                        c[1 + (m - 1) * d] = f32::NAN;
                    }
                    5 => {
                        c[1..1 + d].copy_from_slice(&x[..d]);
                    }
                    _ => {}
                }
                // Offset by one float: rows that are not 8-byte aligned.
                let (x, cb) = (&x[..d], &c[1..1 + m * d]);
                let want = kv::scalar::nearest_direct(x, cb);
                let got = kv::nearest_direct(x, cb);
                let same = match (got, want) {
                    (Some((a, u)), Some((b, v))) => a == b && u.to_bits() == v.to_bits(),
                    (None, None) => true,
                    _ => false,
                };
                differ += !same as u32;
                cases += 1;
                if kv::F32_DIRECT && case != 4 {
                    if let (Ok(book), Some((j, v))) = (Codebook::new(cb, d), want) {
                        let n = book.nearest(x).ok();
                        let (mut idx, mut dist) = ([0u32; 3], [0f32; 3]);
                        let t = book.top_k(x, &mut idx, &mut dist).ok();
                        let mut dd = [0f32; MAXM];
                        kv::scalar::sq_distances(x, cb, &mut dd[..m]);
                        let top_ok = t == Some(3.min(m))
                            && idx[0] as usize == j
                            && dist[0].to_bits() == v.to_bits()
                            && (1..3.min(m)).all(|r| dist[r] == dd[idx[r] as usize] && dist[r] >= dist[r - 1]);
                        api_differ += (n.map(|n| (n.index as usize, n.distance.to_bits())) != Some((j, v.to_bits()))
                            || !top_ok) as u32;
                    }
                }
            }
        }
    }
    check!(s, differ == 0, "{} of {} nearest_direct results differ from the scalar reference", differ, cases);
    check!(s, api_differ == 0, "{} Codebook nearest/top-k results differ from the direct f32 contract", api_differ);
}

/// `i8_nearest_packed` (dispatched) against `i8_sq_distances` + `argmin_u32`, exact.
#[inline(never)]
fn packed_i8(s: &mut Suite) {
    const MAXM: usize = 24;
    let mut rng = Rng(0x2468_ace1);
    let (mut differ, mut cases) = (0, 0);
    for &d in &[16usize, 13, 14, 15, 1, 4, 5, 12, 17, 33] {
        for &m in &[1usize, 2, 3, 17, MAXM] {
            for case in 0..5 {
                let mut x = [0i8; 34];
                let mut c = [0i8; 33 * MAXM + 1];
                x.iter_mut().for_each(|v| *v = rng.next() as i8);
                c.iter_mut().for_each(|v| *v = rng.next() as i8);
                match case {
                    // Extremes: the largest distances (-128 against 127) and the largest dot products.
                    1 => {
                        x.iter_mut().for_each(|v| *v = -128);
                        c.iter_mut().enumerate().for_each(|(i, v)| *v = if i % 2 == 0 { 127 } else { -128 });
                    }
                    2 => {
                        x.iter_mut().for_each(|v| *v = 127);
                        c.iter_mut().enumerate().for_each(|(i, v)| *v = if (i / 3) % 2 == 0 { -128 } else { 127 });
                    }
                    // Ties: codewords repeating, so several share the smallest distance.
                    3 => {
                        for j in 1..m {
                            for i in 0..d {
                                c[1 + j * d + i] = c[1 + (j % 2) * d + i];
                            }
                        }
                    }
                    // The query equal to the last codeword: distance 0 there.
                    4 => {
                        let last = 1 + (m - 1) * d;
                        x[..d].copy_from_slice(&c[last..last + d]);
                    }
                    _ => {}
                }
                // Offset by one byte: the codebook is copied into the packed storage, the query read as bytes.
                let (x, cb) = (&x[..d], &c[1..1 + m * d]);
                let mut dist = [0u32; MAXM];
                kv::scalar::i8_sq_distances(x, cb, &mut dist[..m]);
                let want = kv::argmin_u32(&dist[..m]);
                let mut storage = [0i32; kv::i8_packed_len(MAXM, 33)];
                let got = kv::i8_pack(cb, d, &mut storage).and_then(|p| kv::i8_nearest_packed(x, &p));
                differ += (got != want) as u32;
                cases += 1;
            }
        }
    }
    check!(s, differ == 0, "{} of {} packed int8 nearest results differ from the exact scan", differ, cases);
}
