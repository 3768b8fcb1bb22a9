//! Gaussian kernels for Cortex-M cores with a single-precision FPU (Cortex-M4F, M7; cfg
//! `fvae_arm_fpu`).
//!
//! The inner loops are assembly (`global_asm!`, because stable Rust has no inline-`asm!` register
//! class for the S registers on these targets): they move 4 or 8 floats per `vldmia`/`vstmia`
//! instead of one per `vldr`/`vstr`, which is most of what the compiled scalar loops spend, and do
//! the same arithmetic in the same order with the same roundings as [`scalar`] (non-fused
//! `vmla`/`vnmls`, one accumulator per sum): every function here gives the reference's results bit
//! for bit. Row lengths that are not a multiple of the block are finished by the reference's own
//! element code.

use crate::gaussian::scalar::{self, kahan_add};

core::arch::global_asm!(
    // float fvae_m4f_sq_dist8(const float *x, const float *mu, const float *inv_sigma,
    //                         size_t blocks, float acc): acc + sum ((x - mu) inv_sigma)^2 over
    // blocks * 8 elements (blocks >= 1), summed in element order.
    // The FPU the build targets has at least these instructions (the assembler needs telling).
    ".fpu fpv4-sp-d16",
    ".section .text.fvae_m4f_sq_dist8,\"ax\",%progbits",
    ".global fvae_m4f_sq_dist8",
    ".p2align 2",
    ".type fvae_m4f_sq_dist8,%function",
    ".thumb_func",
    "fvae_m4f_sq_dist8:",
    "    vpush {{s16-s24}}",
    "1:",
    "    vldmia r0!, {{s1-s8}}",
    "    vldmia r1!, {{s9-s16}}",
    "    vsub.f32 s9, s1, s9",
    "    vsub.f32 s10, s2, s10",
    "    vsub.f32 s11, s3, s11",
    "    vsub.f32 s12, s4, s12",
    "    vsub.f32 s13, s5, s13",
    "    vsub.f32 s14, s6, s14",
    "    vsub.f32 s15, s7, s15",
    "    vsub.f32 s16, s8, s16",
    "    vldmia r2!, {{s17-s24}}",
    "    vmul.f32 s9, s9, s17",
    "    vmul.f32 s10, s10, s18",
    "    vmul.f32 s11, s11, s19",
    "    vmul.f32 s12, s12, s20",
    "    vmul.f32 s13, s13, s21",
    "    vmul.f32 s14, s14, s22",
    "    vmul.f32 s15, s15, s23",
    "    vmul.f32 s16, s16, s24",
    "    vmla.f32 s0, s9, s9",
    "    vmla.f32 s0, s10, s10",
    "    vmla.f32 s0, s11, s11",
    "    vmla.f32 s0, s12, s12",
    "    vmla.f32 s0, s13, s13",
    "    vmla.f32 s0, s14, s14",
    "    vmla.f32 s0, s15, s15",
    "    vmla.f32 s0, s16, s16",
    "    subs r3, r3, #1",
    "    bne 1b",
    "    vpop {{s16-s24}}",
    "    bx lr",
    ".size fvae_m4f_sq_dist8, . - fvae_m4f_sq_dist8",
    //
    // void fvae_m4f_acc4(float *const p[5] /* x, mu, inv_sigma, s1, s2 */, size_t blocks, float q):
    // s1 += q t, s2 += q (t t - 1) with t = (x - mu) inv_sigma, over blocks * 4 elements (>= 1).
    ".section .text.fvae_m4f_acc4,\"ax\",%progbits",
    ".global fvae_m4f_acc4",
    ".p2align 2",
    ".type fvae_m4f_acc4,%function",
    ".thumb_func",
    "fvae_m4f_acc4:",
    "    push {{r4, r5, r6}}",
    "    ldm.w r0, {{r2, r3, r4, r5, r6}}",
    "    vmov.f32 s1, #1.0",
    "1:",
    "    vldmia r2!, {{s2-s5}}",
    "    vldmia r3!, {{s6-s9}}",
    "    vsub.f32 s2, s2, s6",
    "    vsub.f32 s3, s3, s7",
    "    vsub.f32 s4, s4, s8",
    "    vsub.f32 s5, s5, s9",
    "    vldmia r4!, {{s6-s9}}",
    "    vmul.f32 s2, s2, s6",
    "    vmul.f32 s3, s3, s7",
    "    vmul.f32 s4, s4, s8",
    "    vmul.f32 s5, s5, s9",
    "    vldm r5, {{s6-s9}}",
    "    vmla.f32 s6, s0, s2",
    "    vmla.f32 s7, s0, s3",
    "    vmla.f32 s8, s0, s4",
    "    vmla.f32 s9, s0, s5",
    "    vstmia r5!, {{s6-s9}}",
    "    vmul.f32 s2, s2, s2",
    "    vmul.f32 s3, s3, s3",
    "    vmul.f32 s4, s4, s4",
    "    vmul.f32 s5, s5, s5",
    "    vsub.f32 s2, s2, s1",
    "    vsub.f32 s3, s3, s1",
    "    vsub.f32 s4, s4, s1",
    "    vsub.f32 s5, s5, s1",
    "    vldm r6, {{s6-s9}}",
    "    vmla.f32 s6, s0, s2",
    "    vmla.f32 s7, s0, s3",
    "    vmla.f32 s8, s0, s4",
    "    vmla.f32 s9, s0, s5",
    "    vstmia r6!, {{s6-s9}}",
    "    subs r1, r1, #1",
    "    bne 1b",
    "    pop {{r4, r5, r6}}",
    "    bx lr",
    ".size fvae_m4f_acc4, . - fvae_m4f_acc4",
    //
    // void fvae_m4f_acc4_kahan(float *const p[7] /* x, mu, inv_sigma, s1, c1, s2, c2 */,
    //                          size_t blocks, float q): the same sums, Kahan-compensated
    // (y = v - c; t = s + y; c = (t - s) - y; s = t), over blocks * 4 elements (>= 1).
    ".section .text.fvae_m4f_acc4_kahan,\"ax\",%progbits",
    ".global fvae_m4f_acc4_kahan",
    ".p2align 2",
    ".type fvae_m4f_acc4_kahan,%function",
    ".thumb_func",
    "fvae_m4f_acc4_kahan:",
    "    push {{r4, r5, r6, r8}}",
    "    vpush {{s16-s17}}",
    "    ldm.w r0, {{r2, r3, r4, r5, r6, r8, r12}}",
    "    vmov.f32 s1, #1.0",
    "1:",
    "    vldmia r2!, {{s2-s5}}",
    "    vldmia r3!, {{s6-s9}}",
    "    vsub.f32 s2, s2, s6",
    "    vsub.f32 s3, s3, s7",
    "    vsub.f32 s4, s4, s8",
    "    vsub.f32 s5, s5, s9",
    "    vldmia r4!, {{s6-s9}}",
    "    vmul.f32 s2, s2, s6",
    "    vmul.f32 s3, s3, s7",
    "    vmul.f32 s4, s4, s8",
    "    vmul.f32 s5, s5, s9",
    // y = q t - c1
    "    vldm r6, {{s6-s9}}",
    "    vnmls.f32 s6, s0, s2",
    "    vnmls.f32 s7, s0, s3",
    "    vnmls.f32 s8, s0, s4",
    "    vnmls.f32 s9, s0, s5",
    // s1' = s1 + y; c1' = (s1' - s1) - y
    "    vldm r5, {{s10-s13}}",
    "    vadd.f32 s14, s10, s6",
    "    vadd.f32 s15, s11, s7",
    "    vadd.f32 s16, s12, s8",
    "    vadd.f32 s17, s13, s9",
    "    vsub.f32 s10, s14, s10",
    "    vsub.f32 s11, s15, s11",
    "    vsub.f32 s12, s16, s12",
    "    vsub.f32 s13, s17, s13",
    "    vsub.f32 s10, s10, s6",
    "    vsub.f32 s11, s11, s7",
    "    vsub.f32 s12, s12, s8",
    "    vsub.f32 s13, s13, s9",
    "    vstmia r5!, {{s14-s17}}",
    "    vstmia r6!, {{s10-s13}}",
    // u = t t - 1; y = q u - c2
    "    vmul.f32 s2, s2, s2",
    "    vmul.f32 s3, s3, s3",
    "    vmul.f32 s4, s4, s4",
    "    vmul.f32 s5, s5, s5",
    "    vsub.f32 s2, s2, s1",
    "    vsub.f32 s3, s3, s1",
    "    vsub.f32 s4, s4, s1",
    "    vsub.f32 s5, s5, s1",
    "    vldm r12, {{s6-s9}}",
    "    vnmls.f32 s6, s0, s2",
    "    vnmls.f32 s7, s0, s3",
    "    vnmls.f32 s8, s0, s4",
    "    vnmls.f32 s9, s0, s5",
    "    vldm r8, {{s10-s13}}",
    "    vadd.f32 s14, s10, s6",
    "    vadd.f32 s15, s11, s7",
    "    vadd.f32 s16, s12, s8",
    "    vadd.f32 s17, s13, s9",
    "    vsub.f32 s10, s14, s10",
    "    vsub.f32 s11, s15, s11",
    "    vsub.f32 s12, s16, s12",
    "    vsub.f32 s13, s17, s13",
    "    vsub.f32 s10, s10, s6",
    "    vsub.f32 s11, s11, s7",
    "    vsub.f32 s12, s12, s8",
    "    vsub.f32 s13, s13, s9",
    "    vstmia r8!, {{s14-s17}}",
    "    vstmia r12!, {{s10-s13}}",
    "    subs r1, r1, #1",
    "    bne 1b",
    "    vpop {{s16-s17}}",
    "    pop {{r4, r5, r6, r8}}",
    "    bx lr",
    ".size fvae_m4f_acc4_kahan, . - fvae_m4f_acc4_kahan",
    ".text",
);

extern "C" {
    fn fvae_m4f_sq_dist8(x: *const f32, mu: *const f32, inv_sigma: *const f32, blocks: usize, acc: f32) -> f32;
    fn fvae_m4f_acc4(p: *const [*mut f32; 5], blocks: usize, q: f32);
    fn fvae_m4f_acc4_kahan(p: *const [*mut f32; 7], blocks: usize, q: f32);
}

/// See [`scalar::sq_mahalanobis`]; the same lengths contract, the same results bit for bit.
pub fn sq_mahalanobis(x: &[f32], means: &[f32], inv_sigma: &[f32], out: &mut [f32]) {
    let d = x.len();
    let blocks = d / 8;
    for (k, o) in out.iter_mut().enumerate() {
        let (mu, s) = (&means[k * d..(k + 1) * d], &inv_sigma[k * d..(k + 1) * d]);
        let mut acc = 0.0f32;
        if blocks > 0 {
            // SAFETY: x, mu and s each hold d >= 8 * blocks floats, which is all the routine reads;
            // it writes no memory and restores the callee-saved registers it uses (AAPCS-VFP).
            acc = unsafe { fvae_m4f_sq_dist8(x.as_ptr(), mu.as_ptr(), s.as_ptr(), blocks, acc) };
        }
        for i in blocks * 8..d {
            let t = (x[i] - mu[i]) * s[i];
            acc += t * t;
        }
        *o = acc;
    }
}

/// See [`scalar::softmax`] (the reference itself: 16 exponentials are not where the time goes).
pub fn softmax(v: &mut [f32]) -> f32 {
    scalar::softmax(v)
}

/// See [`scalar::accumulate`]; the same results bit for bit.
pub fn accumulate(x: &[f32], means: &[f32], inv_sigma: &[f32], q: &[f32], s1: &mut [f32], s2: &mut [f32]) {
    let d = x.len();
    let blocks = d / 4;
    for (k, &qk) in q.iter().enumerate() {
        if qk == 0.0 {
            continue;
        }
        let r = k * d..(k + 1) * d;
        let (mu, s) = (&means[r.clone()], &inv_sigma[r.clone()]);
        let (a1, a2) = (&mut s1[r.clone()], &mut s2[r]);
        if blocks > 0 {
            let p = [
                x.as_ptr() as *mut f32,
                mu.as_ptr() as *mut f32,
                s.as_ptr() as *mut f32,
                a1.as_mut_ptr(),
                a2.as_mut_ptr(),
            ];
            // SAFETY: every row holds d >= 4 * blocks floats, all the routine touches; it reads x, mu
            // and s only (the casts to *mut are for the array's one type) and writes a1, a2, which
            // are exclusively borrowed and overlap nothing; it restores what AAPCS-VFP requires.
            unsafe { fvae_m4f_acc4(&p, blocks, qk) };
        }
        for i in blocks * 4..d {
            let t = (x[i] - mu[i]) * s[i];
            a1[i] += qk * t;
            a2[i] += qk * (t * t - 1.0);
        }
    }
}

/// See [`scalar::accumulate_compensated`]; the same results bit for bit.
#[allow(clippy::too_many_arguments)]
pub fn accumulate_compensated(
    x: &[f32],
    means: &[f32],
    inv_sigma: &[f32],
    q: &[f32],
    s1: &mut [f32],
    c1: &mut [f32],
    s2: &mut [f32],
    c2: &mut [f32],
) {
    let d = x.len();
    let blocks = d / 4;
    for (k, &qk) in q.iter().enumerate() {
        if qk == 0.0 {
            continue;
        }
        let r = k * d..(k + 1) * d;
        let (mu, s) = (&means[r.clone()], &inv_sigma[r.clone()]);
        let (a1, e1, a2, e2) = (&mut s1[r.clone()], &mut c1[r.clone()], &mut s2[r.clone()], &mut c2[r]);
        if blocks > 0 {
            let p = [
                x.as_ptr() as *mut f32,
                mu.as_ptr() as *mut f32,
                s.as_ptr() as *mut f32,
                a1.as_mut_ptr(),
                e1.as_mut_ptr(),
                a2.as_mut_ptr(),
                e2.as_mut_ptr(),
            ];
            // SAFETY: as in `accumulate`: rows of d >= 4 * blocks floats; x, mu, s only read; a1, e1,
            // a2, e2 exclusively borrowed, disjoint, written.
            unsafe { fvae_m4f_acc4_kahan(&p, blocks, qk) };
        }
        for i in blocks * 4..d {
            let t = (x[i] - mu[i]) * s[i];
            kahan_add(&mut a1[i], &mut e1[i], qk * t);
            kahan_add(&mut a2[i], &mut e2[i], qk * (t * t - 1.0));
        }
    }
}
