//! f32 VQ search for Cortex-M cores with a single-precision FPU (Cortex-M4F, M7, M33F; cfg
//! `fvae_arm_fpu`). These cores have no double-precision hardware, so the search contract there is
//! the direct f32 form (see [`crate::vq::F32_DIRECT`]): a codeword's distance is
//! [`scalar::sq_distances`]' value (`t = x - c`, `acc += t * t` in element order, each step
//! rounded), and the nearest is the first smallest one. The assembly below computes exactly that,
//! bit for bit (`vsub`, then `vmul`/`vmla`, which the FPv4/FPv5 units round after the multiply and
//! again after the add, like the separate Rust operations), fused with the argmin so nothing is
//! stored per codeword. The scans are naked functions (see `gaussian::arm::m4f` for why and for
//! the assembler state they restore).
//!
//! For D = 16 the query lives in `s16-s31` for the whole scan and each codeword is read with two
//! `vldmia` of eight registers: 39 instructions per codeword of 16 (2 loads, 16 subtractions, 16
//! multiply-adds, a 3-instruction compare, the loop test). Other multiples of 8 re-read the query
//! beside each block of 8 values (20 instructions per block); other D run the reference.

use crate::vq::scalar;

/// u64 fvae_m4f_vq_nearest16(const float x[16], const float *c, const float *end):
/// scans the codewords c[16 j .. 16 j + 16] up to end (at least one). Returns, in r0, the address
/// just past the nearest codeword (0 if every distance is NaN) and, in r1, the bits of its distance.
/// Distances are non-negative or NaN, so as integers their bits order like the values and every
/// NaN (bits above 0x7f800000, or the sign set) compares above +inf: starting from 0x7f800001 with
/// an unsigned `blo`, the first non-NaN smallest value wins, as `argmin` does.
#[unsafe(naked)]
unsafe extern "C" fn fvae_m4f_vq_nearest16(x: *const f32, c: *const f32, end: *const f32) -> u64 {
    core::arch::naked_asm!(
        ".fpu fpv4-sp-d16",
        "    push {{r4, lr}}",
        "    vpush {{s16-s31}}",
        "    vldm r0, {{s16-s31}}",
        "    movs r0, #0",
        "    movw r4, #1",
        "    movt r4, #0x7f80",
        "1:",
        "    vldmia r1!, {{s0-s7}}",
        "    vsub.f32 s0, s16, s0",
        "    vsub.f32 s1, s17, s1",
        "    vsub.f32 s2, s18, s2",
        "    vsub.f32 s3, s19, s3",
        "    vsub.f32 s4, s20, s4",
        "    vsub.f32 s5, s21, s5",
        "    vsub.f32 s6, s22, s6",
        "    vsub.f32 s7, s23, s7",
        "    vmul.f32 s8, s0, s0",
        "    vmla.f32 s8, s1, s1",
        "    vmla.f32 s8, s2, s2",
        "    vmla.f32 s8, s3, s3",
        "    vmla.f32 s8, s4, s4",
        "    vmla.f32 s8, s5, s5",
        "    vmla.f32 s8, s6, s6",
        "    vmla.f32 s8, s7, s7",
        "    vldmia r1!, {{s0-s7}}",
        "    vsub.f32 s0, s24, s0",
        "    vsub.f32 s1, s25, s1",
        "    vsub.f32 s2, s26, s2",
        "    vsub.f32 s3, s27, s3",
        "    vsub.f32 s4, s28, s4",
        "    vsub.f32 s5, s29, s5",
        "    vsub.f32 s6, s30, s6",
        "    vsub.f32 s7, s31, s7",
        "    vmla.f32 s8, s0, s0",
        "    vmla.f32 s8, s1, s1",
        "    vmla.f32 s8, s2, s2",
        "    vmla.f32 s8, s3, s3",
        "    vmla.f32 s8, s4, s4",
        "    vmla.f32 s8, s5, s5",
        "    vmla.f32 s8, s6, s6",
        "    vmla.f32 s8, s7, s7",
        "    vmov r3, s8",
        "    cmp r3, r4",
        "    blo 3f",
        "2:",
        "    cmp r1, r2",
        "    bne 1b",
        "    mov r1, r4",
        "    vpop {{s16-s31}}",
        "    pop {{r4, pc}}",
        // A new best (rare after the first few codewords): kept out of the straight line.
        "3:",
        "    mov r4, r3",
        "    mov r0, r1",
        "    b 2b",
        crate::restore_asm_state!(),
    )
}

/// u64 fvae_m4f_vq_nearest8(const float *x, const float *c, const float *end, size_t blocks):
/// the same scan for codewords of D = 8 blocks (blocks >= 1), the query re-read 8 floats at a
/// time next to the codeword (20 instructions per 8 values); returns as fvae_m4f_vq_nearest16.
#[unsafe(naked)]
unsafe extern "C" fn fvae_m4f_vq_nearest8(x: *const f32, c: *const f32, end: *const f32, blocks: usize) -> u64 {
    core::arch::naked_asm!(
        ".fpu fpv4-sp-d16",
        "    push {{r4, r5, r6, lr}}",
        "    vpush {{s16-s23}}",
        "    mov r6, r0",
        "    movs r0, #0",
        "    movw r4, #1",
        "    movt r4, #0x7f80",
        "1:",
        "    mov r5, r6",
        "    vldmia r5!, {{s16-s23}}",
        "    vldmia r1!, {{s0-s7}}",
        "    vsub.f32 s0, s16, s0",
        "    vsub.f32 s1, s17, s1",
        "    vsub.f32 s2, s18, s2",
        "    vsub.f32 s3, s19, s3",
        "    vsub.f32 s4, s20, s4",
        "    vsub.f32 s5, s21, s5",
        "    vsub.f32 s6, s22, s6",
        "    vsub.f32 s7, s23, s7",
        "    vmul.f32 s8, s0, s0",
        "    vmla.f32 s8, s1, s1",
        "    vmla.f32 s8, s2, s2",
        "    vmla.f32 s8, s3, s3",
        "    vmla.f32 s8, s4, s4",
        "    vmla.f32 s8, s5, s5",
        "    vmla.f32 s8, s6, s6",
        "    vmla.f32 s8, s7, s7",
        "    subs r12, r3, #1",
        "    beq 4f",
        "5:",
        "    vldmia r5!, {{s16-s23}}",
        "    vldmia r1!, {{s0-s7}}",
        "    vsub.f32 s0, s16, s0",
        "    vsub.f32 s1, s17, s1",
        "    vsub.f32 s2, s18, s2",
        "    vsub.f32 s3, s19, s3",
        "    vsub.f32 s4, s20, s4",
        "    vsub.f32 s5, s21, s5",
        "    vsub.f32 s6, s22, s6",
        "    vsub.f32 s7, s23, s7",
        "    vmla.f32 s8, s0, s0",
        "    vmla.f32 s8, s1, s1",
        "    vmla.f32 s8, s2, s2",
        "    vmla.f32 s8, s3, s3",
        "    vmla.f32 s8, s4, s4",
        "    vmla.f32 s8, s5, s5",
        "    vmla.f32 s8, s6, s6",
        "    vmla.f32 s8, s7, s7",
        "    subs r12, r12, #1",
        "    bne 5b",
        "4:",
        "    vmov r12, s8",
        "    cmp r12, r4",
        "    blo 3f",
        "2:",
        "    cmp r1, r2",
        "    bne 1b",
        "    mov r1, r4",
        "    vpop {{s16-s23}}",
        "    pop {{r4, r5, r6, pc}}",
        "3:",
        "    mov r4, r12",
        "    mov r0, r1",
        "    b 2b",
        crate::restore_asm_state!(),
    )
}

/// See [`crate::vq::nearest_direct`]: the same result as [`scalar::nearest_direct`], bit for bit.
/// D = 16 keeps the query in registers; other multiples of 8 re-read it per block of 8; any other
/// D runs the reference.
pub fn nearest_direct(x: &[f32], codebook: &[f32]) -> Option<(usize, f32)> {
    let d = x.len();
    let m = codebook.len().checked_div(d).unwrap_or(0);
    if !d.is_multiple_of(8) || m == 0 {
        return scalar::nearest_direct(x, codebook);
    }
    let base = codebook.as_ptr();
    // SAFETY: x holds d = 8 blocks > 0 floats and codebook m >= 1 rows of d, so [base, base + d m) is
    // readable and `end` is its one-past-the-end pointer; the routines read only x and those rows,
    // through `vldm` (4-aligned: &[f32] is), save the callee-saved registers they use (r4-r6,
    // s16-s31) and write no memory.
    let r = unsafe {
        if d == 16 {
            fvae_m4f_vq_nearest16(x.as_ptr(), base, base.add(16 * m))
        } else {
            fvae_m4f_vq_nearest8(x.as_ptr(), base, base.add(d * m), d / 8)
        }
    };
    let (past, bits) = (r as u32 as usize, (r >> 32) as u32);
    if past == 0 {
        return None;
    }
    Some(((past - base as usize) / (4 * d) - 1, f32::from_bits(bits)))
}
