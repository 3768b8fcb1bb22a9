//! Gaussian kernels for Cortex-M cores with a single-precision FPU (Cortex-M4F, M7; cfg
//! `fvae_arm_fpu`).
//!
//! The inner loops are assembly (naked functions, because stable Rust has no inline-`asm!`
//! register class for the S registers on these targets; each sets `.fpu`, which naked assembly
//! is parsed without, and restores the target's state after it): they move 4 or 8 floats per `vldmia`/`vstmia`
//! instead of one per `vldr`/`vstr`, which is most of what the compiled scalar loops spend, and do
//! the same arithmetic in the same order with the same roundings as [`scalar`] (non-fused
//! `vmla`/`vnmls`, one accumulator per sum): every function here gives the reference's results bit
//! for bit. Row lengths that are not a multiple of the block are finished by the reference's own
//! element code.

use crate::gaussian::scalar::{self, kahan_add};
use crate::math;

/// void fvae_m4f_sq_dist8(const usize a[7] /* x, mu, inv_sigma, out, k, blocks, tail_bytes */):
/// for each of k rows (k, blocks >= 1): out[row] = sum ((x - mu) inv_sigma)^2 over the first
/// blocks * 8 elements, in element order; mu and inv_sigma then step over the row's tail_bytes.
#[unsafe(naked)]
unsafe extern "C" fn fvae_m4f_sq_dist8(args: *const [usize; 7]) {
    core::arch::naked_asm!(
        ".fpu fpv4-sp-d16",
        "    push {{r4, r5, r6, r7, lr}}",
        "    vpush {{s16-s25}}",
        "    ldm.w r0, {{r0, r2, r3, r4, r5, r6, r7}}",
        "    movs r12, #0",
        "    vmov s25, r12",
        "2:",
        "    vmov.f32 s0, s25",
        "    mov r1, r0",
        "    mov r12, r6",
        "1:",
        "    vldmia r1!, {{s1-s8}}",
        "    vldmia r2!, {{s9-s16}}",
        "    vsub.f32 s9, s1, s9",
        "    vsub.f32 s10, s2, s10",
        "    vsub.f32 s11, s3, s11",
        "    vsub.f32 s12, s4, s12",
        "    vsub.f32 s13, s5, s13",
        "    vsub.f32 s14, s6, s14",
        "    vsub.f32 s15, s7, s15",
        "    vsub.f32 s16, s8, s16",
        "    vldmia r3!, {{s17-s24}}",
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
        "    subs r12, r12, #1",
        "    bne 1b",
        "    vstmia r4!, {{s0}}",
        "    add r2, r2, r7",
        "    add r3, r3, r7",
        "    subs r5, r5, #1",
        "    bne 2b",
        "    vpop {{s16-s25}}",
        "    pop {{r4, r5, r6, r7, pc}}",
        crate::restore_asm_state!(),
    )
}

/// void fvae_m4f_acc4(float *const p[5] /* x, mu, inv_sigma, s1, s2 */, size_t blocks, float q):
/// s1 += q t, s2 += q (t t - 1) with t = (x - mu) inv_sigma, over blocks * 4 elements (>= 1).
#[unsafe(naked)]
unsafe extern "C" fn fvae_m4f_acc4(p: *const [*mut f32; 5], blocks: usize, q: f32) {
    core::arch::naked_asm!(
        ".fpu fpv4-sp-d16",
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
        crate::restore_asm_state!(),
    )
}

/// void fvae_m4f_acc8_kahan(const usize a[12]
///     /* x, mu, inv_sigma, s1, c1, s2, row_bytes, c2, q, k, blocks, tail_bytes */):
/// for each of k rows (k, blocks >= 1) whose q[row] != 0, the Kahan-compensated sums
/// (y = v - c; t = s + y; c = (t - s) - y; s = t) of v = q t and v = q (t t - 1), with
/// t = (x - mu) inv_sigma, over the first blocks * 8 elements; then every row pointer steps
/// over the row's tail_bytes (row_bytes for a skipped row). Eight t per block (three loads),
/// the sums four at a time.
#[unsafe(naked)]
unsafe extern "C" fn fvae_m4f_acc8_kahan(args: *const [usize; 12]) {
    core::arch::naked_asm!(
        ".fpu fpv4-sp-d16",
        "    push {{r4, r5, r6, r7, r8, r9, r10, r11, lr}}",
        "    vpush {{s16-s21}}",
        "    ldm.w r0, {{r0, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11, lr}}",
        "    vmov.f32 s1, #1.0",
        "3:",
        "    vldmia r9!, {{s0}}",
        "    vcmp.f32 s0, #0.0",
        "    vmrs APSR_nzcv, fpscr",
        "    beq 4f",
        "    mov r1, r0",
        "    mov r12, r11",
        "1:",
        // t = (x - mu) inv_sigma, eight at a time, in s2-s9
        "    vldmia r1!, {{s2-s9}}",
        "    vldmia r2!, {{s10-s17}}",
        "    vsub.f32 s2, s2, s10",
        "    vsub.f32 s3, s3, s11",
        "    vsub.f32 s4, s4, s12",
        "    vsub.f32 s5, s5, s13",
        "    vsub.f32 s6, s6, s14",
        "    vsub.f32 s7, s7, s15",
        "    vsub.f32 s8, s8, s16",
        "    vsub.f32 s9, s9, s17",
        "    vldmia r3!, {{s10-s17}}",
        "    vmul.f32 s2, s2, s10",
        "    vmul.f32 s3, s3, s11",
        "    vmul.f32 s4, s4, s12",
        "    vmul.f32 s5, s5, s13",
        "    vmul.f32 s6, s6, s14",
        "    vmul.f32 s7, s7, s15",
        "    vmul.f32 s8, s8, s16",
        "    vmul.f32 s9, s9, s17",
        // s1, c1: y = q v - c; t = s + y; c = (t - s) - y; s = t (four values from s2)
        "    vldm r5, {{s10-s13}}",
        "    vnmls.f32 s10, s0, s2",
        "    vnmls.f32 s11, s0, s3",
        "    vnmls.f32 s12, s0, s4",
        "    vnmls.f32 s13, s0, s5",
        "    vldm r4, {{s14-s17}}",
        "    vadd.f32 s18, s14, s10",
        "    vadd.f32 s19, s15, s11",
        "    vadd.f32 s20, s16, s12",
        "    vadd.f32 s21, s17, s13",
        "    vsub.f32 s14, s18, s14",
        "    vsub.f32 s15, s19, s15",
        "    vsub.f32 s16, s20, s16",
        "    vsub.f32 s17, s21, s17",
        "    vsub.f32 s14, s14, s10",
        "    vsub.f32 s15, s15, s11",
        "    vsub.f32 s16, s16, s12",
        "    vsub.f32 s17, s17, s13",
        "    vstmia r4!, {{s18-s21}}",
        "    vstmia r5!, {{s14-s17}}",
        // s1, c1: y = q v - c; t = s + y; c = (t - s) - y; s = t (four values from s6)
        "    vldm r5, {{s10-s13}}",
        "    vnmls.f32 s10, s0, s6",
        "    vnmls.f32 s11, s0, s7",
        "    vnmls.f32 s12, s0, s8",
        "    vnmls.f32 s13, s0, s9",
        "    vldm r4, {{s14-s17}}",
        "    vadd.f32 s18, s14, s10",
        "    vadd.f32 s19, s15, s11",
        "    vadd.f32 s20, s16, s12",
        "    vadd.f32 s21, s17, s13",
        "    vsub.f32 s14, s18, s14",
        "    vsub.f32 s15, s19, s15",
        "    vsub.f32 s16, s20, s16",
        "    vsub.f32 s17, s21, s17",
        "    vsub.f32 s14, s14, s10",
        "    vsub.f32 s15, s15, s11",
        "    vsub.f32 s16, s16, s12",
        "    vsub.f32 s17, s17, s13",
        "    vstmia r4!, {{s18-s21}}",
        "    vstmia r5!, {{s14-s17}}",
        // u = t t - 1
        "    vmul.f32 s2, s2, s2",
        "    vmul.f32 s3, s3, s3",
        "    vmul.f32 s4, s4, s4",
        "    vmul.f32 s5, s5, s5",
        "    vmul.f32 s6, s6, s6",
        "    vmul.f32 s7, s7, s7",
        "    vmul.f32 s8, s8, s8",
        "    vmul.f32 s9, s9, s9",
        "    vsub.f32 s2, s2, s1",
        "    vsub.f32 s3, s3, s1",
        "    vsub.f32 s4, s4, s1",
        "    vsub.f32 s5, s5, s1",
        "    vsub.f32 s6, s6, s1",
        "    vsub.f32 s7, s7, s1",
        "    vsub.f32 s8, s8, s1",
        "    vsub.f32 s9, s9, s1",
        // s2, c2: y = q v - c; t = s + y; c = (t - s) - y; s = t (four values from s2)
        "    vldm r8, {{s10-s13}}",
        "    vnmls.f32 s10, s0, s2",
        "    vnmls.f32 s11, s0, s3",
        "    vnmls.f32 s12, s0, s4",
        "    vnmls.f32 s13, s0, s5",
        "    vldm r6, {{s14-s17}}",
        "    vadd.f32 s18, s14, s10",
        "    vadd.f32 s19, s15, s11",
        "    vadd.f32 s20, s16, s12",
        "    vadd.f32 s21, s17, s13",
        "    vsub.f32 s14, s18, s14",
        "    vsub.f32 s15, s19, s15",
        "    vsub.f32 s16, s20, s16",
        "    vsub.f32 s17, s21, s17",
        "    vsub.f32 s14, s14, s10",
        "    vsub.f32 s15, s15, s11",
        "    vsub.f32 s16, s16, s12",
        "    vsub.f32 s17, s17, s13",
        "    vstmia r6!, {{s18-s21}}",
        "    vstmia r8!, {{s14-s17}}",
        // s2, c2: y = q v - c; t = s + y; c = (t - s) - y; s = t (four values from s6)
        "    vldm r8, {{s10-s13}}",
        "    vnmls.f32 s10, s0, s6",
        "    vnmls.f32 s11, s0, s7",
        "    vnmls.f32 s12, s0, s8",
        "    vnmls.f32 s13, s0, s9",
        "    vldm r6, {{s14-s17}}",
        "    vadd.f32 s18, s14, s10",
        "    vadd.f32 s19, s15, s11",
        "    vadd.f32 s20, s16, s12",
        "    vadd.f32 s21, s17, s13",
        "    vsub.f32 s14, s18, s14",
        "    vsub.f32 s15, s19, s15",
        "    vsub.f32 s16, s20, s16",
        "    vsub.f32 s17, s21, s17",
        "    vsub.f32 s14, s14, s10",
        "    vsub.f32 s15, s15, s11",
        "    vsub.f32 s16, s16, s12",
        "    vsub.f32 s17, s17, s13",
        "    vstmia r6!, {{s18-s21}}",
        "    vstmia r8!, {{s14-s17}}",
        "    subs r12, r12, #1",
        "    bne 1b",
        "    add r2, r2, lr",
        "    add r3, r3, lr",
        "    add r4, r4, lr",
        "    add r5, r5, lr",
        "    add r6, r6, lr",
        "    add r8, r8, lr",
        "    b 5f",
        "4:",
        "    add r2, r2, r7",
        "    add r3, r3, r7",
        "    add r4, r4, r7",
        "    add r5, r5, r7",
        "    add r6, r6, r7",
        "    add r8, r8, r7",
        "5:",
        "    subs r10, r10, #1",
        "    bne 3b",
        "    vpop {{s16-s21}}",
        "    pop {{r4, r5, r6, r7, r8, r9, r10, r11, pc}}",
        crate::restore_asm_state!(),
    )
}

/// See [`scalar::sq_mahalanobis`]; the same lengths contract, the same results bit for bit.
pub fn sq_mahalanobis(x: &[f32], means: &[f32], inv_sigma: &[f32], out: &mut [f32]) {
    let (d, k) = (x.len(), out.len());
    let blocks = d / 8;
    if blocks == 0 || k == 0 {
        return scalar::sq_mahalanobis(x, means, inv_sigma, out);
    }
    let (mu, s, o) = (means.as_ptr() as usize, inv_sigma.as_ptr() as usize, out.as_mut_ptr() as usize);
    let args = [x.as_ptr() as usize, mu, s, o, k, blocks, 4 * (d - 8 * blocks)];
    // SAFETY: means and inv_sigma hold k rows of d >= 8 * blocks floats (the dispatch's contract), of
    // which the routine reads the first 8 * blocks of each, stepping over the rest; it reads x[..8 *
    // blocks] and writes out[..k] (exclusively borrowed), and restores what AAPCS-VFP requires.
    unsafe { fvae_m4f_sq_dist8(&args) };
    if d == 8 * blocks {
        return;
    }
    // The rest of each row, continuing each sum in element order (as the reference does).
    let head = blocks * 8;
    for (k, o) in out.iter_mut().enumerate() {
        // `get` and `zip`: no index the optimiser could not prove (the contract makes both `Some`).
        let (Some(mu), Some(s)) = (means.get(k * d + head..(k + 1) * d), inv_sigma.get(k * d + head..(k + 1) * d))
        else {
            return;
        };
        let mut acc = *o;
        for ((&xi, &m), &si) in x[head..].iter().zip(mu).zip(s) {
            let t = (xi - m) * si;
            acc += t * t;
        }
        *o = acc;
    }
}

/// See [`scalar::softmax`]; the same results bit for bit. Once the maximum is known to be finite,
/// every `v - max` is in `[-inf, 0]` and never NaN, so the exponential skips the reference's NaN and
/// overflow tests and its rounding of the (never positive) reduction argument takes one branch: the
/// same operations on every value that reaches them.
pub fn softmax(v: &mut [f32]) -> f32 {
    let mut max = f32::NEG_INFINITY;
    for &x in v.iter() {
        if x.is_nan() || x > max {
            max = x;
        }
    }
    if !max.is_finite() {
        return max;
    }
    let mut sum = 0.0f32;
    for x in v.iter_mut() {
        let d = *x - max;
        *x = if d < math::EXP_MIN { 0.0 } else { exp_nonpositive(d) };
        sum += *x;
    }
    let inv = 1.0 / sum;
    for x in v.iter_mut() {
        *x *= inv;
    }
    max + libm::logf(sum)
}

/// [`math::exp`] for `x` in `[EXP_MIN, 0]`: there `t = x log2 e <= 0`, where the reference rounds by
/// `(t - 0.5) as i32` (also for `t = 0`, where both of its forms give 0), and `n >= -126`.
#[inline(always)]
fn exp_nonpositive(x: f32) -> f32 {
    let n = (x * math::LOG2E - 0.5) as i32;
    let nf = n as f32;
    let r = x - nf * math::LN2_HI - nf * math::LN2_LO;
    math::exp_poly(r) * math::pow2i(n)
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
        let (Some(mu), Some(s), Some(a1), Some(a2)) =
            (means.get(r.clone()), inv_sigma.get(r.clone()), s1.get_mut(r.clone()), s2.get_mut(r))
        else {
            return;
        };
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
        let h = blocks * 4;
        if h == d {
            continue;
        }
        let (Some(xt), Some(mt), Some(st)) = (x.get(h..), mu.get(h..), s.get(h..)) else { return };
        let (Some(t1), Some(t2)) = (a1.get_mut(h..), a2.get_mut(h..)) else { return };
        for (((&xi, &m), &si), (a1, a2)) in xt.iter().zip(mt).zip(st).zip(t1.iter_mut().zip(t2.iter_mut())) {
            let t = (xi - m) * si;
            *a1 += qk * t;
            *a2 += qk * (t * t - 1.0);
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
    let (d, k) = (x.len(), q.len());
    let blocks = d / 8;
    if blocks == 0 || k == 0 {
        return scalar::accumulate_compensated(x, means, inv_sigma, q, s1, c1, s2, c2);
    }
    let ptr = |v: &[f32]| v.as_ptr() as usize;
    let (tail, row) = (4 * (d - 8 * blocks), 4 * d);
    let args = [
        ptr(x),
        ptr(means),
        ptr(inv_sigma),
        s1.as_mut_ptr() as usize,
        c1.as_mut_ptr() as usize,
        s2.as_mut_ptr() as usize,
        row,
        c2.as_mut_ptr() as usize,
        ptr(q),
        k,
        blocks,
        tail,
    ];
    // SAFETY: means, inv_sigma, s1, c1, s2 and c2 hold k rows of d >= 8 * blocks floats (the
    // dispatch's contract), q holds k; the routine reads x[..8 * blocks], q, and the first 8 * blocks
    // of each row of means and inv_sigma, and writes the same elements of s1, c1, s2, c2 (exclusively
    // borrowed, disjoint), stepping over the rest; it restores what AAPCS-VFP requires.
    unsafe { fvae_m4f_acc8_kahan(&args) };
    // The rest of each row (per element the same sequence of compensated adds as the reference).
    if tail == 0 {
        return;
    }
    for (k, &qk) in q.iter().enumerate() {
        if qk == 0.0 {
            continue;
        }
        let r = k * d + blocks * 8..(k + 1) * d;
        let (Some(mu), Some(s)) = (means.get(r.clone()), inv_sigma.get(r.clone())) else {
            return;
        };
        let (Some(a1), Some(e1), Some(a2), Some(e2)) =
            (s1.get_mut(r.clone()), c1.get_mut(r.clone()), s2.get_mut(r.clone()), c2.get_mut(r))
        else {
            return;
        };
        let sums = a1.iter_mut().zip(e1.iter_mut()).zip(a2.iter_mut().zip(e2.iter_mut()));
        for (((&xi, &m), &si), ((a1, e1), (a2, e2))) in x.iter().skip(blocks * 8).zip(mu).zip(s).zip(sums) {
            let t = (xi - m) * si;
            kahan_add(a1, e1, qk * t);
            kahan_add(a2, e2, qk * (t * t - 1.0));
        }
    }
}
