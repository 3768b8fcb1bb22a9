//! The Gaussian kernels as dispatched on this core against their scalar reference, bit for bit.
//!
//! On thumbv7em-none-eabihf (Cortex-M4F, M7) the dispatch runs `arm::m4f` (assembly loops moving 4 or
//! 8 floats per `vldmia`/`vstmia`, the reference's arithmetic in the reference's order, non-fused), and
//! `kernels::math::sqrt` is one `vsqrt.f32`; on thumbv6m both are the reference itself, so this checks
//! the dispatch only. Inputs: pseudo-random rows of every length 1..=13 plus 16, 31, 32 and 33 (the
//! assembly's blocks and its tails), slices offset by one element (unaligned for 8-byte accesses),
//! zero and negative posteriors, huge and tiny magnitudes; sqrt on normal, subnormal, zero, negative,
//! infinite and NaN arguments.
#![no_std]
#![no_main]

use fvae::kernels::gaussian::{self as g, scalar};
use fvae::kernels::math;
use fvae_qemu::{check, entry, Rng, Suite};

const KMAX: usize = 3;
const DMAX: usize = 34;

fn same(a: &[f32], b: &[f32]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

#[entry]
fn main() -> ! {
    let mut s = Suite::new("gaussian");
    let mut rng = Rng(0x2545_f491);
    let lengths = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 31, 32, 33];
    let (mut dist_bad, mut acc_bad, mut kahan_bad, mut soft_bad) = (0, 0, 0, 0);
    for round in 0..6 {
        // Magnitudes: ordinary, huge (products near f32's range) and tiny (subnormal products).
        let scale = [1.0, 10.0, 1e-3, 1e15, 1e-20, 3.0][round];
        for &d in &lengths {
            for offset in [0usize, 1] {
                let mut buf = [0.0f32; 1 + DMAX * (1 + 2 * KMAX)];
                for v in buf.iter_mut() {
                    *v = rng.f(scale);
                }
                let (x, rest) = buf[offset..].split_at(d);
                let (means, rest) = rest.split_at(KMAX * d);
                let mut inv_sigma = [0.0f32; KMAX * DMAX];
                for (v, r) in inv_sigma.iter_mut().zip(rest) {
                    *v = r.abs() / scale + 0.25;
                }
                let inv_sigma = &inv_sigma[..KMAX * d];

                let (mut got, mut want) = ([0.0f32; KMAX], [0.0f32; KMAX]);
                g::sq_mahalanobis(x, means, inv_sigma, &mut got);
                scalar::sq_mahalanobis(x, means, inv_sigma, &mut want);
                dist_bad += !same(&got, &want) as u32;

                // Posteriors: one zero (skipped), one negative, one ordinary.
                let q = [0.0, -0.375, rng.f(1.0).abs() + 1e-3];
                let mut sums = [[0.0f32; KMAX * DMAX]; 8];
                for (j, row) in sums.iter_mut().enumerate() {
                    for v in row.iter_mut() {
                        *v = if j % 4 < 2 { rng.f(scale) } else { rng.f(1e-7) };
                    }
                }
                let [a1, a2, b1, b2, c1, c2, e1, e2] = &mut sums;
                let n = KMAX * d;
                let (a1, a2, b1, b2) = (&mut a1[..n], &mut a2[..n], &mut b1[..n], &mut b2[..n]);
                let (c1, c2, e1, e2) = (&mut c1[..n], &mut c2[..n], &mut e1[..n], &mut e2[..n]);
                let (mut r1, mut r2) = ([0.0f32; KMAX * DMAX], [0.0f32; KMAX * DMAX]);
                r1[..n].copy_from_slice(a1);
                r2[..n].copy_from_slice(a2);
                g::accumulate(x, means, inv_sigma, &q, a1, a2);
                scalar::accumulate(x, means, inv_sigma, &q, &mut r1[..n], &mut r2[..n]);
                acc_bad += !(same(a1, &r1[..n]) && same(a2, &r2[..n])) as u32;

                let mut r = [[0.0f32; KMAX * DMAX]; 4];
                for (dst, src) in r.iter_mut().zip([&*b1, &*c1, &*b2, &*c2]) {
                    dst[..n].copy_from_slice(src);
                }
                let [rs1, rc1, rs2, rc2] = &mut r;
                for _ in 0..3 {
                    g::accumulate_compensated(x, means, inv_sigma, &q, b1, c1, b2, c2);
                    scalar::accumulate_compensated(
                        x,
                        means,
                        inv_sigma,
                        &q,
                        &mut rs1[..n],
                        &mut rc1[..n],
                        &mut rs2[..n],
                        &mut rc2[..n],
                    );
                }
                kahan_bad +=
                    !(same(b1, &rs1[..n]) && same(c1, &rc1[..n]) && same(b2, &rs2[..n]) && same(c2, &rc2[..n])) as u32;
                let _ = (e1, e2);

                let mut v = [0.0f32; DMAX];
                for t in v.iter_mut() {
                    *t = rng.f(100.0);
                }
                let mut w = v;
                let (lg, lw) = (g::softmax(&mut v[..d]), scalar::softmax(&mut w[..d]));
                soft_bad += !(lg.to_bits() == lw.to_bits() && same(&v[..d], &w[..d])) as u32;
            }
        }
    }
    check!(s, dist_bad == 0, "sq_mahalanobis differs from the reference in {} cases", dist_bad);
    check!(s, acc_bad == 0, "accumulate differs from the reference in {} cases", acc_bad);
    check!(s, kahan_bad == 0, "accumulate_compensated differs from the reference in {} cases", kahan_bad);
    check!(s, soft_bad == 0, "softmax differs from the reference in {} cases", soft_bad);

    let mut sqrt_bad = 0;
    let specials = [0.0f32, -0.0, 1.0, 2.0, 0.25, 1e-45, 1.17e-38, 3.4e38, f32::INFINITY, -1.0, f32::NAN];
    for &v in &specials {
        let (a, b) = (math::sqrt(v), libm::sqrtf(v));
        sqrt_bad += !(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())) as u32;
    }
    for _ in 0..2000 {
        let v = f32::from_bits(rng.next() & 0x7fff_ffff);
        let (a, b) = (math::sqrt(v), libm::sqrtf(v));
        sqrt_bad += !(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())) as u32;
    }
    check!(s, sqrt_bad == 0, "sqrt differs from libm's in {} cases", sqrt_bad);
    s.finish()
}
