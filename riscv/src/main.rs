//! fvae on a RISC-V core (QEMU `virt`), against the float64 references in tests/data:
//! - `digits_k16` (K=16, D=64), the first 256 descriptors: log-densities (1e-5 of max(1, |v|) per
//!   value) and posteriors (1e-4 relative L2), the tolerances of docs/design.md;
//! - `digits_m64` VQ (M=64, D=64), the first 256 queries: f32 nearest codeword (index equal to the
//!   reference) and int8 nearest (index and integer distance exact).
//!
//! Prints one line per check over semihosting, then `riscv: N passed, M failed`, and exits 0 only if
//! every check passed. A panic prints and exits 1 (semihosting's panic handler).
#![no_std]
#![no_main]

use fvae::formats::{npy::Npy, safetensors::SafeTensors, Aligned};
use fvae::gmm::DiagGmm;
use fvae::vq::{Codebook, CodebookI8};
use semihosting::{println, process};

macro_rules! fixture {
    ($path:literal) => {{
        static F: &Aligned<[u8]> = &Aligned(*include_bytes!(concat!("../../tests/data/", $path)));
        &F.0
    }};
}

const ROWS: usize = 256;

struct Suite {
    passed: u32,
    failed: u32,
}

impl Suite {
    fn check(&mut self, ok: bool, what: &str, measure: f64, tol: f64) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
        }
        println!("{} riscv {what}: {measure:.3e} (tolerance {tol:e})", if ok { "ok  " } else { "FAIL" });
    }
}

/// The `i`-th value of a little-endian f64 or i64 `.npy` (read byte-wise: no alignment needed).
fn f64_at(npy: &Npy<'_>, i: usize) -> f64 {
    f64::from_le_bytes(npy.bytes()[8 * i..8 * i + 8].try_into().unwrap())
}
fn i64_at(npy: &Npy<'_>, i: usize) -> i64 {
    i64::from_le_bytes(npy.bytes()[8 * i..8 * i + 8].try_into().unwrap())
}

fn gmm(s: &mut Suite) {
    const K: usize = 16;
    const D: usize = 64;
    let mut constants = [0.0f32; DiagGmm::constants_len(K, D)];
    let file = SafeTensors::parse(fixture!("gmm/digits_k16/gmm.safetensors")).unwrap();
    let gmm = DiagGmm::from_safetensors(&file, &mut constants).unwrap();
    let x = Npy::parse(fixture!("gmm/digits_k16/x.npy")).unwrap();
    let x = x.as_f32("x").unwrap();
    let ld = Npy::parse(fixture!("gmm/digits_k16/log_density.npy")).unwrap();
    let post = Npy::parse(fixture!("gmm/digits_k16/posteriors.npy")).unwrap();
    let (mut worst, mut err2, mut ref2) = (0.0f64, 0.0f64, 0.0f64);
    for (i, xi) in x.chunks_exact(D).take(ROWS).enumerate() {
        let mut out = [0.0f32; K];
        gmm.log_densities(xi, &mut out).unwrap();
        for (k, &v) in out.iter().enumerate() {
            let want = f64_at(&ld, i * K + k);
            worst = worst.max((v as f64 - want).abs() / want.abs().max(1.0));
        }
        gmm.posteriors(xi, &mut out).unwrap();
        for (k, &v) in out.iter().enumerate() {
            let want = f64_at(&post, i * K + k);
            err2 += (v as f64 - want) * (v as f64 - want);
            ref2 += want * want;
        }
    }
    s.check(worst <= 1e-5, "digits log-densities, max |err|/max(1,|v|)", worst, 1e-5);
    let rel = libm::sqrt(err2 / ref2);
    s.check(rel <= 1e-4, "digits posteriors, relative L2", rel, 1e-4);
}

fn vq(s: &mut Suite) {
    const D: usize = 64;
    let file = SafeTensors::parse(fixture!("vq/digits_m64/codebook.safetensors")).unwrap();
    let cb = Codebook::from_safetensors(&file).unwrap();
    let x = Npy::parse(fixture!("vq/digits_m64/x.npy")).unwrap();
    let nearest = Npy::parse(fixture!("vq/digits_m64/nearest.npy")).unwrap();
    let mut wrong = 0;
    for (i, xi) in x.as_f32("x").unwrap().chunks_exact(D).take(ROWS).enumerate() {
        wrong += (cb.nearest(xi).unwrap().index as i64 != i64_at(&nearest, i)) as u32;
    }
    s.check(wrong == 0, "vq f32 nearest, indices differing", wrong as f64, 0.0);

    let file = SafeTensors::parse(fixture!("vq/digits_m64/codebook_int8.safetensors")).unwrap();
    let cb = CodebookI8::from_safetensors(&file).unwrap();
    let x = Npy::parse(fixture!("vq/digits_m64/x_int8.npy")).unwrap();
    let idx = Npy::parse(fixture!("vq/digits_m64/nearest_int8.npy")).unwrap();
    let dist = Npy::parse(fixture!("vq/digits_m64/nearest_int8_distance.npy")).unwrap();
    let mut wrong = 0;
    for (i, xi) in x.as_i8("x").unwrap().chunks_exact(D).take(ROWS).enumerate() {
        let n = cb.nearest(xi).unwrap();
        wrong += (n.index as i64 != i64_at(&idx, i) || n.distance as i64 != i64_at(&dist, i)) as u32;
    }
    s.check(wrong == 0, "vq int8 nearest, (index, distance) differing", wrong as f64, 0.0);
}

#[riscv_rt::entry]
fn main() -> ! {
    println!(
        "riscv: fvae on {} (float kernels: {}, int8: {})",
        env!("FVAE_RISCV_TARGET"),
        fvae::kernels::cpu::float_path_name(),
        fvae::kernels::int8::path_name()
    );
    let mut s = Suite { passed: 0, failed: 0 };
    gmm(&mut s);
    vq(&mut s);
    println!("riscv: {} passed, {} failed", s.passed, s.failed);
    process::exit(if s.failed == 0 && s.passed > 0 { 0 } else { 1 })
}
