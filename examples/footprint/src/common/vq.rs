//! The data of the VQ programs (`src/bin/vq_*_m256_d16.rs`): a codebook of M=256 codewords in D=16 and
//! N=64 queries, pseudo-random (uniform in [-1, 1) for f32, over all of i8 for int8), generated at compile
//! time so that they sit in flash like a real codebook (256 x 16 f32 is 16 KiB: more than the RAM) and
//! are in both builds. `brute_*` is the check: a plain scan, run in both builds too, so its code is not
//! counted as the kernel's flash.
#![allow(dead_code)]

pub const M: usize = 256;
pub const D: usize = 16;
pub const N: usize = 64;

const fn lcg(s: u32) -> u32 {
    s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223)
}

pub const fn uniform_f32<const L: usize>(seed: u32) -> [f32; L] {
    let mut a = [0.0f32; L];
    let mut s = seed;
    let mut i = 0;
    while i < L {
        s = lcg(s);
        a[i] = (s >> 8) as f32 / 8_388_608.0 - 1.0;
        i += 1;
    }
    a
}

pub const fn uniform_i8<const L: usize>(seed: u32) -> [i8; L] {
    let mut a = [0i8; L];
    let mut s = seed;
    let mut i = 0;
    while i < L {
        s = lcg(s);
        a[i] = (s >> 24) as u8 as i8;
        i += 1;
    }
    a
}

/// Index of the nearest codeword by a plain f32 scan, and its distance.
#[inline(never)]
pub fn brute_f32(codebook: &[f32], x: &[f32]) -> (u32, f32) {
    let mut best = (0u32, f32::INFINITY);
    for (j, c) in codebook.chunks_exact(x.len()).enumerate() {
        let d: f32 = c.iter().zip(x).map(|(c, x)| (c - x) * (c - x)).sum();
        if d < best.1 {
            best = (j as u32, d);
        }
    }
    best
}

/// Index of the nearest codeword by a plain exact scan (ties to the lowest index), and its distance.
#[inline(never)]
pub fn brute_i8(codebook: &[i8], x: &[i8]) -> (u32, u32) {
    let mut best = (0u32, u32::MAX);
    for (j, c) in codebook.chunks_exact(x.len()).enumerate() {
        let d: u32 = c.iter().zip(x).map(|(&c, &x)| ((c as i32 - x as i32) * (c as i32 - x as i32)) as u32).sum();
        if d < best.1 {
            best = (j as u32, d);
        }
    }
    best
}
