//! The packed int8 nearest search and the direct f32 nearest scan (the Cortex-M search forms) against
//! the plain definitions, on the host: random rows, -128/127 extremes, ties, infinities and NaN. (The
//! Cortex-M assembly is checked against the same references under QEMU, `qemu/tests/vq.rs`.)

use fvae_kernels::vq::{self, scalar};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 16) as u32
    }
}

#[test]
fn packed_i8_nearest_equals_exact_scan() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut checked = 0;
    for d in [1usize, 3, 4, 5, 13, 16, 17, 64, 65] {
        for m in [1usize, 2, 7, 64] {
            for case in 0..4 {
                let mut c: Vec<i8> = (0..m * d + 1).map(|_| rng.next() as i8).collect();
                let mut x: Vec<i8> = (0..d + 1).map(|_| rng.next() as i8).collect();
                match case {
                    1 => {
                        x.iter_mut().for_each(|v| *v = -128);
                        c.iter_mut().enumerate().for_each(|(i, v)| *v = if i % 3 == 0 { 127 } else { -128 });
                    }
                    2 => {
                        // Ties: codewords repeating with period 2.
                        for j in 2..m {
                            for i in 0..d {
                                c[1 + j * d + i] = c[1 + (j % 2) * d + i];
                            }
                        }
                    }
                    3 => {
                        let last = 1 + (m - 1) * d;
                        x[1..].copy_from_slice(&c[last..last + d]);
                    }
                    _ => {}
                }
                // Offset by one byte.
                let (x, cb) = (&x[1..], &c[1..]);
                let mut dist = vec![0u32; m];
                scalar::i8_sq_distances(x, cb, &mut dist);
                let want = vq::argmin_u32(&dist);
                let mut storage = vec![0i32; vq::i8_packed_len(m, d)];
                let packed = vq::i8_pack(cb, d, &mut storage).expect("storage is large enough");
                assert_eq!((packed.m(), packed.d()), (m, d));
                assert_eq!(vq::i8_nearest_packed(x, &packed), want, "d {d} m {m} case {case}");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 9 * 4 * 4);
}

#[test]
fn packing_rejects_what_it_cannot_hold() {
    let mut storage = [7i32; 7];
    assert!(vq::i8_pack(&[1, 2], 0, &mut storage).is_none());
    assert!(vq::i8_pack(&[1; 8], 4, &mut storage[..3 * 2 - 1]).is_none());
    assert!(vq::i8_pack(&[1; 40_000], 40_000, &mut storage).is_none());
    let packed = vq::i8_pack(&[1, 2, 3, -4, 5], 2, &mut storage).unwrap();
    // Two whole codewords (the fifth value is a partial row), then the sentinel.
    assert_eq!(packed.words(), &[5, 0x0201, 25, 0xfc03, i32::MIN, 0]);
    assert_eq!(vq::i8_nearest_packed(&[1], &packed), None);
}

#[test]
fn direct_nearest_equals_argmin_of_direct_distances() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for d in [1usize, 8, 15, 16, 17] {
        for m in [1usize, 3, 40] {
            for case in 0..4 {
                let mut c: Vec<f32> = (0..m * d + 1).map(|_| rng.next() as f32 / 4e9 - 0.5).collect();
                let x: Vec<f32> = (0..d).map(|_| rng.next() as f32 / 4e9 - 0.5).collect();
                match case {
                    1 => c.iter_mut().for_each(|v| *v *= 1e20),
                    2 => c[1 + (m - 1) * d] = f32::NAN,
                    3 => c.iter_mut().for_each(|v| *v = f32::NAN),
                    _ => {}
                }
                let cb = &c[1..];
                let mut dist = vec![0f32; m];
                scalar::sq_distances(&x, cb, &mut dist);
                let want = scalar::argmin(&dist);
                let got = vq::nearest_direct(&x, cb);
                assert_eq!(got.map(|(j, v)| (j, v.to_bits())), want.map(|(j, v)| (j, v.to_bits())), "d {d} m {m}");
            }
        }
    }
}
