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

/// Scans a packed int8 codebook of 16-byte codewords ([`crate::vq::I8Packed`]: per codeword the
/// squared norm, then 4 words of bytes; then a sentinel entry `[i32::MIN, 0, 0, 0, 0]`; `end` is just
/// past the sentinel). `q` holds `-2 x` as halfword pairs: `q[2k] = (-2 x[4k], -2 x[4k+2])`,
/// `q[2k+1] = (-2 x[4k+1], -2 x[4k+3])`, so one codeword's score is
/// `|c|^2 - 2 x.c = norm + sum smlad(sxtb16(word), q)`: 20 instructions per codeword (two `ldm`, 8
/// `sxtb16`, 8 `smlad`, `cmp`, `bge`). Returns the address just past the entry of the first smallest
/// score, and that score.
///
/// The loop has no counter (all 14 usable registers are taken): it leaves only through the new-best
/// branch, which checks for the end. The sentinel's score is `i32::MIN`, below any real score
/// (`>= -|x|^2 > -2^19` for 16 values), so the scan always takes that branch there.
///
/// Inline `asm!` (not `global_asm!`) so that the assembler sees the function's target features:
/// `-C target-cpu=cortex-m33` enables the DSP instructions for `asm!` but not for module-level
/// assembly. The block saves and restores every register it uses beyond its operands (r6, r7 and
/// the rest cannot be operands, so it pushes them itself).
///
/// # Safety
/// `q` readable (8 words); `packed..end` a whole packed codebook as [`crate::vq::i8_pack`] writes
/// it, word-aligned, with at least one codeword.
#[inline(always)]
unsafe fn nearest16(q: *const [u32; 8], packed: *const i32, end: *const i32) -> (usize, u32) {
    let (past, score): (usize, u32);
    // SAFETY: the caller's contract; the block reads only q and [packed, end), pushes and pops its
    // own frame (so sp is restored), and restores r4-r11 and lr; r2, r3 and r12 are declared clobbered. The flags are clobbered (no
    // `preserves_flags`).
    unsafe {
        asm!(
        "    push {{r4-r11, lr}}",
        // [sp] = just past the best entry so far, [sp + 4] = end.
        "    push {{r1, r2}}",
        "    mov r8, r1",
        "    ldm r0, {{r0-r7}}",
        // best = i32::MAX: the first codeword always improves on it.
        "    mvn lr, #0x80000000",
        "1:",
        "    ldm r8!, {{r9, r10, r11}}",
        "    sxtb16 r12, r10",
        "    smlad r9, r12, r0, r9",
        "    sxtb16 r10, r10, ror #8",
        "    smlad r9, r10, r1, r9",
        "    sxtb16 r12, r11",
        "    smlad r9, r12, r2, r9",
        "    sxtb16 r11, r11, ror #8",
        "    smlad r9, r11, r3, r9",
        "    ldm r8!, {{r10, r11}}",
        "    sxtb16 r12, r10",
        "    smlad r9, r12, r4, r9",
        "    sxtb16 r10, r10, ror #8",
        "    smlad r9, r10, r5, r9",
        "    sxtb16 r12, r11",
        "    smlad r9, r12, r6, r9",
        "    sxtb16 r11, r11, ror #8",
        "    smlad r9, r11, r7, r9",
        "    cmp r9, lr",
        "    bge 1b",
        // A new best, or the sentinel.
        "    ldr r12, [sp, #4]",
        "    cmp r8, r12",
        "    beq 2f",
        "    mov lr, r9",
        "    str r8, [sp]",
        "    b 1b",
        "2:",
        "    ldr r0, [sp]",
        "    mov r1, lr",
        "    add sp, #8",
        "    pop {{r4-r11, lr}}",
                inout("r0") q => past,
                inout("r1") packed => score,
                inout("r2") end => _,
                out("r3") _,
                out("r12") _,
            )
    };
    (past, score)
}

/// Most words of a query [`i8_nearest_packed`] expands on the stack for its general loop (D <= 256).
const MAX_WORDS: usize = 64;

/// `-2 x` as halfword pairs per word of 4 values (zero-padded): `q[2k] = (-2 x[4k], -2 x[4k+2])`,
/// `q[2k+1] = (-2 x[4k+1], -2 x[4k+3])`, the order `sxtb16` and `sxtb16 ror #8` give a codeword
/// word in; and `|x|^2`.
fn expand(x: &[i8], q: &mut [u32]) -> u32 {
    let pair = |a: i8, b: i8| ((-2 * a as i32) as u16 as u32) | (((-2 * b as i32) as u16 as u32) << 16);
    for (qs, xs) in q.chunks_exact_mut(2).zip(x.chunks(4)) {
        let mut w = [0i8; 4];
        w[..xs.len()].copy_from_slice(xs);
        qs[0] = pair(w[0], w[2]);
        qs[1] = pair(w[1], w[3]);
    }
    x.iter().map(|&v| (v as i32 * v as i32) as u32).sum()
}

/// See [`crate::vq::i8_nearest_packed`]; `x.len() == packed.d()` (the dispatch checks). Codewords of
/// 13 to 16 values (4 words) take the assembly scan; up to 256 values a loop of `smlad` over the
/// expanded query; longer ones the reference.
pub fn i8_nearest_packed(x: &[i8], packed: &crate::vq::I8Packed<'_>) -> Option<(usize, u32)> {
    let (d, m, words) = (packed.d(), packed.m(), packed.words());
    let nw = d.div_ceil(4);
    if nw > MAX_WORDS || m == 0 || x.len() != d {
        return crate::vq::scalar::i8_nearest_packed(x, packed);
    }
    if nw != 4 {
        let mut q = [0u32; 2 * MAX_WORDS];
        let q = &mut q[..2 * nw];
        let nx = expand(x, q);
        // Scores |c|^2 - 2 x.c are exact in i32 here: |c|^2 <= 2^14 D and |2 x.c| <= 2^15 D, D <= 256.
        let mut best: Option<(usize, i32)> = None;
        for (j, e) in words.chunks_exact(1 + nw).take(m).enumerate() {
            let (norm, cw) = e.split_first().unwrap_or((&0, &[]));
            let mut acc = *norm as u32;
            for (&w, qs) in cw.iter().zip(q.chunks_exact(2)) {
                let w = w as u32;
                acc = smlad(sxtb16_ror8(w), qs[1], smlad(sxtb16(w), qs[0], acc));
            }
            let s = acc as i32;
            if best.is_none_or(|(_, b)| s < b) {
                best = Some((j, s));
            }
        }
        return best.map(|(j, s)| (j, nx.wrapping_add(s as u32)));
    }
    // Eight words, not the general loop's buffer: zeroing 512 bytes would cost ~70 instructions a query.
    let mut q = [0u32; 8];
    let nx = expand(x, &mut q);
    let base = words.as_ptr();
    // SAFETY: I8Packed guarantees `words` is (m + 1) entries of 5 words written by `i8_pack` (it keeps
    // the storage borrowed, so nothing changed them): m codewords with their true norms, then the
    // sentinel [i32::MIN, 0, 0, 0, 0]. Real scores are >= -|x|^2 > i32::MIN and the first is below
    // i32::MAX, so the routine stops at the sentinel, reading only [base, base + 5 (m + 1)) with
    // word-aligned `ldm` (&[i32] is 4-aligned). It saves what it uses and writes only its own stack.
    let (past, score) = unsafe { nearest16(&q, base, base.add(5 * (m + 1))) };
    let j = (past - base as usize) / 20 - 1;
    // |x - c|^2 = |x|^2 + (|c|^2 - 2 x.c), exact: the true value is below 2^32 (module notes).
    Some((j, nx.wrapping_add(score)))
}
