//! Cortex-M DSP extension paths for int8 (thumbv7em: Cortex-M4/M7): four bytes per 32-bit
//! load, `sxtb16` to sign-extend the even and odd bytes into two 16-bit halves, `ssub16` for
//! differences (range [-255, 255] fits 16 bits) and `smlad` for two 16x16 multiplies added to
//! the 32-bit accumulator in one instruction. `smlad` wraps on overflow (it only sets the sticky
//! Q flag), which is what the exactness argument in `vq/mod.rs` needs (sums read as `u32`).
//!
//! Compiled only with cfg `fvae_arm_dsp` (set by `kernels/build.rs` for `thumbv7em*`), so the
//! instructions are always available where this code exists: the functions are safe.

use core::arch::asm;

/// Bytes 0 and 2 of `w`, sign-extended into the low and high halfwords.
#[inline(always)]
fn sxtb16(w: u32) -> u32 {
    let r;
    // SAFETY: a register-only DSP instruction (present on every fvae_arm_dsp target); no memory,
    // no stack.
    unsafe { asm!("sxtb16 {r}, {w}", r = lateout(reg) r, w = in(reg) w, options(pure, nomem, nostack)) };
    r
}

/// Bytes 1 and 3 of `w`, sign-extended into the low and high halfwords.
#[inline(always)]
fn sxtb16_ror8(w: u32) -> u32 {
    let r;
    // SAFETY: as in `sxtb16`.
    unsafe { asm!("sxtb16 {r}, {w}, ror #8", r = lateout(reg) r, w = in(reg) w, options(pure, nomem, nostack)) };
    r
}

/// Halfword-wise `a - b`.
#[inline(always)]
fn ssub16(a: u32, b: u32) -> u32 {
    let r;
    // SAFETY: register-only DSP instruction; it writes the GE flags, which `asm!` assumes
    // clobbered (no `preserves_flags`).
    unsafe {
        asm!("ssub16 {r}, {a}, {b}", r = lateout(reg) r, a = in(reg) a, b = in(reg) b, options(pure, nomem, nostack))
    };
    r
}

/// `acc + a.lo * b.lo + a.hi * b.hi` (signed halfwords, wrapping 32-bit sum).
#[inline(always)]
fn smlad(a: u32, b: u32, acc: u32) -> u32 {
    let r;
    // SAFETY: register-only DSP instruction; it may set the sticky Q flag (flags are assumed
    // clobbered).
    unsafe {
        asm!("smlad {r}, {a}, {b}, {acc}", r = lateout(reg) r, a = in(reg) a, b = in(reg) b, acc = in(reg) acc,
             options(pure, nomem, nostack))
    };
    r
}

#[inline(always)]
fn word(b: &[i8]) -> u32 {
    u32::from_le_bytes([b[0] as u8, b[1] as u8, b[2] as u8, b[3] as u8])
}

/// See [`crate::vq::i8_sq_distances`]. Needs `codebook.len() >= out.len() * x.len()` (the
/// dispatch guarantees it; with a shorter one the rows past it are left unfinished, never read past).
///
/// The query is the same for every codeword, so it is sign-extended once per 16-byte group
/// (eight halfword pairs held in registers across the codewords) instead of once per codeword;
/// each group adds to the codewords' running sums (wrapping, as `smlad` does, so the order of the
/// partial sums does not matter). What is left of D (fewer than 16 bytes) takes the per-word and
/// per-element loops.
pub fn i8_sq_distances(x: &[i8], codebook: &[i8], out: &mut [u32]) {
    let d = x.len();
    let groups = d / 16;
    out.iter_mut().for_each(|o| *o = 0);
    for g in 0..groups {
        let xs = &x[16 * g..16 * g + 16];
        let (x0, x1, x2, x3) = (word(&xs[0..4]), word(&xs[4..8]), word(&xs[8..12]), word(&xs[12..16]));
        // Written out (no loop over the four words) so that the eight halves stay in registers.
        let (e0, e1, e2, e3) = (sxtb16(x0), sxtb16(x1), sxtb16(x2), sxtb16(x3));
        let (o0, o1, o2, o3) = (sxtb16_ror8(x0), sxtb16_ror8(x1), sxtb16_ror8(x2), sxtb16_ror8(x3));
        let step = |acc: u32, e: u32, o: u32, wc: u32| {
            let de = ssub16(e, sxtb16(wc));
            let dd = ssub16(o, sxtb16_ror8(wc));
            smlad(dd, dd, smlad(de, de, acc))
        };
        for (o, c) in out.iter_mut().zip(codebook.chunks_exact(d)) {
            let c = &c[16 * g..16 * g + 16];
            let mut acc = *o;
            acc = step(acc, e0, o0, word(&c[0..4]));
            acc = step(acc, e1, o1, word(&c[4..8]));
            acc = step(acc, e2, o2, word(&c[8..12]));
            acc = step(acc, e3, o3, word(&c[12..16]));
            *o = acc;
        }
    }
    if 16 * groups == d {
        return;
    }
    let xm = x.get(16 * groups..).unwrap_or(&[]);
    for (j, o) in out.iter_mut().enumerate() {
        // `get`, chunks and `zip`: no index the optimiser could not prove (the contract makes it `Some`).
        let Some(cm) = codebook.get(j * d + 16 * groups..(j + 1) * d) else { return };
        let mut acc = *o;
        let (xw, cw) = (xm.chunks_exact(4), cm.chunks_exact(4));
        let (xt, ct) = (xw.remainder(), cw.remainder());
        for (xs, cs) in xw.zip(cw) {
            let (wx, wc) = (word(xs), word(cs));
            let de = ssub16(sxtb16(wx), sxtb16(wc));
            let dd = ssub16(sxtb16_ror8(wx), sxtb16_ror8(wc));
            acc = smlad(dd, dd, smlad(de, de, acc));
        }
        for (&xk, &ck) in xt.iter().zip(ct) {
            let t = xk as i32 - ck as i32;
            acc = acc.wrapping_add((t * t) as u32);
        }
        *o = acc;
    }
}

/// See [`crate::vq::i8_dots`]. Needs `codebook.len() >= out.len() * x.len()`.
pub fn i8_dots(x: &[i8], codebook: &[i8], out: &mut [i32]) {
    let d = x.len();
    let whole = d / 4 * 4;
    for (j, o) in out.iter_mut().enumerate() {
        let c = &codebook[j * d..(j + 1) * d];
        let mut acc = 0u32;
        for (xs, cs) in x[..whole].chunks_exact(4).zip(c[..whole].chunks_exact(4)) {
            let (wx, wc) = (word(xs), word(cs));
            acc = smlad(sxtb16_ror8(wx), sxtb16_ror8(wc), smlad(sxtb16(wx), sxtb16(wc), acc));
        }
        let mut s = acc as i32;
        for k in whole..d {
            s = s.wrapping_add(x[k] as i32 * c[k] as i32);
        }
        *o = s;
    }
}
