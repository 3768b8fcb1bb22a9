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
//!
//! RAM: the codebooks are read in place from flash; a packed 16 x 64 stage needs 16 x 65 floats (4 KiB).
#![no_std]
#![no_main]

use fvae::formats::safetensors::SafeTensors;
use fvae::kernels::vq as kv;
use fvae::vq::{Codebook, CodebookI8, ResidualVq};
use fvae_qemu::{check, entry, Errors, Suite};

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
