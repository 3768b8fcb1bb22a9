//! Cortex-M DSP int8 dot products, the scheme CMSIS-NN uses: one 32-bit load holds four i8;
//! `sxtb16` sign-extends bytes 0 and 2 into two i16 halves, `sxtb16 ..., ror #8` bytes 1 and 3;
//! `smlad` multiplies both halves pairwise and adds both products to an i32 accumulator. Two
//! multiply-accumulates per instruction; the sums wrap like the scalar reference (`smlad`
//! only sets the sticky Q flag on overflow).
//!
//! The DSP intrinsics in `core::arch::arm` are unstable, hence `asm!`.
//!
//! [`fully_connected_pairs`] is a whole layer in assembly (a naked function, for the 14 registers
//! it needs): the input is widened once per call (`sxtb16` pairs, doubled); each pass reads the
//! weights of two rows 8 bytes per `ldm` and the input 8 elements per `ldm`, 19 instructions
//! per 16 multiply-accumulates (weights at an address that is not a multiple of 4, as a model
//! from a bare `include_bytes!` may put them: two unaligned `ldr` instead of the `ldm`, 21),
//! then requantises both rows in 4 instructions each. With
//! `A = 2 acc` (bias and input doubled beforehand, so no instruction doubles it), `m` the
//! multiplier, `e >= 1` the right shift and `n = [acc < 0]`:
//!
//! - `smmlar(A, m, R) = R + floor((2 acc m + 2^31) / 2^32) = R + floor((acc m + 2^30) / 2^31)`,
//!   which is gemmlowp's `SaturatingRoundingDoublingHighMul(acc, m) = x` for any `m` but
//!   `i32::MIN` (its nudge `1 - 2^30` for negative products gives the same floor).
//! - `RoundingDivideByPOT(x, e)` (ties away from zero) is `floor((floor((x - n) / 2^(e-1)) + 1) / 2)`
//!   (`n` from the sign of `acc`, which gives `x`'s, or 0 where `x` is 0 and the result is 0 either way).
//! - So with `R = (1 + 2 zp) 2^(e-1) - n` (one `add` with an `asr #31` operand, the constant
//!   precomputed per row), `asr` by `e - 1` and `ssat #8, asr #1` give
//!   `clamp(zp + RoundingDivideByPOT(x, e), -128, 127)` exactly.
//!
//! No step overflows where [`crate::int8::fc_double`] allows the doubled form: every partial
//! sum `|2 acc| < 2^31`, `|R| <= 2^29 + 1`, `e <= 30`.

use core::arch::asm;

/// The four i8 at `s[j..j + 4]` as one word. Callers loop while `j + 4 <= len`; the `get` keeps
/// the one range check the optimiser cannot drop (it cannot rule out `j + 4` wrapping) without
/// a panic path: the `_` arm is never taken.
#[inline(always)]
fn load4(s: &[i8], j: usize) -> u32 {
    match s.get(j..j.wrapping_add(4)) {
        Some(&[a, b, c, d]) => u32::from_le_bytes([a as u8, b as u8, c as u8, d as u8]),
        _ => 0,
    }
}

/// `acc + a0*b0 + a1*b1 + a2*b2 + a3*b3` for four packed i8 in `a` and `b`.
#[inline(always)]
fn mac4(acc: i32, a: u32, b: u32) -> i32 {
    let out: i32;
    // SAFETY: pure register arithmetic (sxtb16/smlad exist on every DSP-extension core, which
    // the fvae_arm_dsp cfg guarantees); no memory access, no stack use, flags other than Q
    // untouched.
    unsafe {
        asm!(
            "sxtb16 {a_even}, {a}",
            "sxtb16 {b_even}, {b}",
            "smlad {acc}, {a_even}, {b_even}, {acc}",
            "sxtb16 {a_odd}, {a}, ror #8",
            "sxtb16 {b_odd}, {b}, ror #8",
            "smlad {acc}, {a_odd}, {b_odd}, {acc}",
            a = in(reg) a,
            b = in(reg) b,
            a_even = out(reg) _,
            b_even = out(reg) _,
            a_odd = out(reg) _,
            b_odd = out(reg) _,
            acc = inout(reg) acc => out,
            options(pure, nomem, nostack),
        );
    }
    out
}

/// `sum a[j] * b[j]` over the common length.
pub fn dot(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let (a, b) = (a.get(..n).unwrap_or(&[]), b.get(..n).unwrap_or(&[]));
    // Chunks of 4 (no index checks: the fully-connected fallback calls this on its own now).
    let (mut ca, mut cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let mut acc = 0i32;
    for (x, y) in (&mut ca).zip(&mut cb) {
        acc = mac4(acc, load4(x, 0), load4(y, 0));
    }
    for (&x, &y) in ca.remainder().iter().zip(cb.remainder()) {
        acc = acc.wrapping_add(x as i32 * y as i32);
    }
    acc
}

/// `out[r] = bias[r] + sum_j x[j] * w[r * D + j]`, two rows per pass so each load of `x`
/// serves two rows.
pub fn matvec(x: &[i8], w: &[i8], bias: &[i32], out: &mut [i32]) {
    let d = x.len();
    let rows = out.len().min(bias.len()).min(w.len().checked_div(d).unwrap_or(usize::MAX));
    let mut r = 0;
    while r + 2 <= rows {
        // `get` (never `None`: `rows` fits every slice): the rows then have length exactly `d`, so
        // every index below is proven and no panic path is left.
        let row = |i: usize| w.get(i * d..).and_then(|s| s.get(..d));
        let (Some(w0), Some(w1), Some(&[b0, b1])) = (row(r), row(r + 1), bias.get(r..r + 2)) else { return };
        let (mut a0, mut a1) = (b0, b1);
        let mut j = 0;
        while j + 4 <= d {
            let vx = load4(x, j);
            a0 = mac4(a0, vx, load4(w0, j));
            a1 = mac4(a1, vx, load4(w1, j));
            j += 4;
        }
        for t in j..d {
            a0 = a0.wrapping_add(x[t] as i32 * w0[t] as i32);
            a1 = a1.wrapping_add(x[t] as i32 * w1[t] as i32);
        }
        if let Some([o0, o1]) = out.get_mut(r..r + 2) {
            (*o0, *o1) = (a0, a1);
        }
        r += 2;
    }
    if r < rows {
        if let (Some(wr), Some(&br), Some(o)) = (w.get(r * d..).and_then(|s| s.get(..d)), bias.get(r), out.get_mut(r)) {
            *o = br.wrapping_add(dot(x, wr));
        }
    }
}

// One 8-input step of the two-row loop (every instruction 32-bit, so a pass can enter the
// unrolled loop part-way, Duff's-device style): r0 -> input pairs, r1/r2 -> weights of the
// pass's two rows, r3/r4 their sums. Two forms: `ldm` for 4-byte aligned weights (76 bytes, 19
// instructions), two unaligned `ldr` otherwise (84 bytes, 21 instructions).
macro_rules! fc_weights {
    (ldm, $r:literal) => {
        concat!("    ldm.w ", $r, "!, {{r9, r10}}\n")
    };
    (ldr, $r:literal) => {
        concat!("    ldr.w r9, [", $r, "], #4\n", "    ldr.w r10, [", $r, "], #4\n")
    };
}
macro_rules! fc_chunk {
    ($load:ident) => {
        concat!(
            "    ldm.w r0!, {{r5, r6, r7, r8}}\n",
            fc_weights!($load, "r1"),
            "    sxtb16 r11, r9\n",
            "    smlad r3, r11, r5, r3\n",
            "    sxtb16 r9, r9, ror #8\n",
            "    smlad r3, r9, r6, r3\n",
            "    sxtb16 r11, r10\n",
            "    smlad r3, r11, r7, r3\n",
            "    sxtb16 r10, r10, ror #8\n",
            "    smlad r3, r10, r8, r3\n",
            fc_weights!($load, "r2"),
            "    sxtb16 r11, r9\n",
            "    smlad r4, r11, r5, r4\n",
            "    sxtb16 r9, r9, ror #8\n",
            "    smlad r4, r9, r6, r4\n",
            "    sxtb16 r11, r10\n",
            "    smlad r4, r11, r7, r4\n",
            "    sxtb16 r10, r10, ror #8\n",
            "    smlad r4, r10, r8, r4\n",
        )
    };
}

/// void fvae_dsp_fc_s8(const usize a[7] /* x2, w, d, slots, h, out, x */):
/// rows p and p + h (p < h, h >= 1) of a fully-connected layer, requantised, one pass per p.
/// x: d int8 inputs (d a non-zero multiple of 8); x2: d / 2 words of scratch, filled with the
/// inputs doubled and widened to i16 pairs (x0, x2), (x1, x3), (x4, x6), ... (the halves
/// `sxtb16` gives of a weight word and of it rotated by 8); w: 2h rows of d int8 weights, any
/// alignment (`ldm` where 4-byte aligned, `ldr` otherwise); slots: 2h groups [2 bias, mult, e - 1, (1 + 2 zp) << (e - 1)], rows p and
/// p + h at 2p and 2p + 1; out: 2h int8.
///
/// Each row's doubled sum A2 = 2 acc (bias included) is requantised as
///   ssat8((smmlar(A2, mult, K - [acc < 0]) >> (e - 1)) >> 1)
/// which equals TFLite's clamp(zp + RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(acc,
/// mult), e), -128, 127) while every partial sum of 2 acc fits in i32 (the module docs say why).
///
/// Naked (like global) assembly is assembled without the build's target-cpu, which is where a
/// Cortex-M33 build names its DSP extension: the body asks for the ARMv7E-M instruction set
/// (which v8-M Mainline with the DSP extension runs unchanged) and restores the target's own
/// at its end (`restore_asm_state!`), so that the setting cannot leak into assembly after it.
#[unsafe(naked)]
unsafe extern "C" fn fvae_dsp_fc_s8(a: *const usize) {
    core::arch::naked_asm!(
        ".arch armv7e-m",
        "    push {{r4, r5, r6, r7, r8, r9, r10, r11, lr}}",
        "    sub sp, sp, #24",
        "    ldm.w r0, {{r1, r2, r3, r4, r5, r6, r7}}",
        // Widen and double the input: 4 bytes -> 2 words.
        "    mov r8, r1",
        "    add r10, r7, r3",
        "1:",
        "    ldr r11, [r7], #4",
        "    sxtb16 r12, r11",
        "    sxtb16 r11, r11, ror #8",
        "    sadd16 r12, r12, r12",
        "    sadd16 r11, r11, r11",
        "    strd r12, r11, [r8], #8",
        "    cmp r7, r10",
        "    blo 1b",
        // Frame: [x2, out, out + h, h, loop entry, x2 end]. The loop does 8 steps per turn; a pass
        // enters it (-d / 8) mod 8 steps in, so that it ends after d / 8 steps.
        "    add r8, r6, r5",
        "    add r12, r1, r3, lsl #1",
        "    lsrs r9, r3, #3",
        "    negs r9, r9",
        "    and r9, r9, #7",
        // The loop for aligned weights (rows start d apart, d a multiple of 8: all or none are).
        "    movs r10, #76",
        "    adr.w r11, 3f",
        "    tst r2, #3",
        "    beq 2f",
        "    movs r10, #84",
        "    adr.w r11, 4f",
        "2:",
        "    mla r9, r9, r10, r11",
        "    orr r9, r9, #1",
        "    strd r1, r6, [sp]",
        "    strd r8, r5, [sp, #8]",
        "    strd r9, r12, [sp, #16]",
        // r0 -> x2, r1 -> row p, r2 -> row p + h, lr -> slots.
        "    mov lr, r4",
        "    mov r0, r1",
        "    mov r1, r2",
        "    mla r2, r5, r3, r2",
        "    ldr r3, [lr]",
        "    ldr r4, [lr, #16]",
        "    bx r9",
        ".p2align 2",
        "3:",
        fc_chunk!(ldm),
        fc_chunk!(ldm),
        fc_chunk!(ldm),
        fc_chunk!(ldm),
        fc_chunk!(ldm),
        fc_chunk!(ldm),
        fc_chunk!(ldm),
        fc_chunk!(ldm),
        "    cmp r0, r12",
        "    blo 3b",
        "    b 5f",
        ".p2align 2",
        "4:",
        fc_chunk!(ldr),
        fc_chunk!(ldr),
        fc_chunk!(ldr),
        fc_chunk!(ldr),
        fc_chunk!(ldr),
        fc_chunk!(ldr),
        fc_chunk!(ldr),
        fc_chunk!(ldr),
        "    cmp r0, r12",
        "    blo 4b",
        "5:",
        // Requantise both rows; the weight pointers already point at rows p + 1 and p + h + 1.
        "    ldm.w lr!, {{r5, r6, r7, r8, r9, r10, r11, r12}}",
        "    add r8, r8, r3, asr #31",
        "    smmlar r3, r3, r6, r8",
        "    asr r3, r3, r7",
        "    ssat r3, #8, r3, asr #1",
        "    add r12, r12, r4, asr #31",
        "    smmlar r4, r4, r10, r12",
        "    asr r4, r4, r11",
        "    ssat r4, #8, r4, asr #1",
        "    ldm.w sp, {{r0, r5, r6, r7, r9, r12}}",
        "    strb r4, [r5, r7]",
        "    strb r3, [r5], #1",
        "    cmp r5, r6",
        "    beq 9f",
        "    str r5, [sp, #4]",
        "    ldr r3, [lr]",
        "    ldr r4, [lr, #16]",
        "    bx r9",
        "9:",
        "    add sp, sp, #24",
        "    pop {{r4, r5, r6, r7, r8, r9, r10, r11, pc}}",
        crate::restore_asm_state!(),
    )
}

/// The fused fully-connected layer ([`crate::int8::fully_connected`]) on its doubled
/// parameters ([`crate::int8::fc_double`]; `slots` without the header), for the first
/// `2 (n / 2)` of the `n = out.len()` rows (an odd last row is left to the caller).
///
/// # Safety
/// `D = x.len()` is a non-zero multiple of 8; `w` holds `n * D` bytes; `slots` holds the `n`
/// doubled rows (`4 n` words) that `fc_double` wrote for these weights; `x2` holds `D / 2`
/// words; `n >= 2`. `x` and `w` may be unaligned: they are read with `ldr`, which ARMv7-M and
/// ARMv8-M Mainline allow unaligned (unless firmware sets `CCR.UNALIGN_TRP`).
pub unsafe fn fully_connected_pairs(x: &[i8], w: &[i8], slots: &[i32], x2: &mut [i32], out: &mut [i8]) {
    let a = [
        x2.as_mut_ptr() as usize,
        w.as_ptr() as usize,
        x.len(),
        slots.as_ptr() as usize,
        out.len() / 2,
        out.as_mut_ptr() as usize,
        x.as_ptr() as usize,
    ];
    // SAFETY: the caller guarantees the lengths and alignment the routine reads and writes
    // (documented above it); it saves the callee-saved registers it uses.
    unsafe { fvae_dsp_fc_s8(a.as_ptr()) }
}

/// The fused fully-connected layer ([`crate::int8::fully_connected`]) on its doubled parameters
/// for a `D = x.len()` that is a multiple of 4 but not of 8 (the assembly's step), as the small
/// latent inputs of decoders are: the input widened into `x2` once, then per row one word of
/// weights per 4 inputs (`sxtb16` twice, `smlad` twice) and the doubled requantisation of
/// [`fvae_dsp_fc_s8`] ([`requantize_doubled_one`]), every row of `out`, saturated to i8 (the
/// caller narrows to the activation). Rows are taken in slot order ([`crate::int8::fc_slot`]), the order `slots`
/// holds them in.
///
/// `slots` holds the `out.len()` doubled rows `fc_double` wrote for `w`; `x2` at least `D / 2`
/// words; rows past what `w` holds are left unchanged.
pub fn fully_connected_by4(x: &[i8], w: &[i8], slots: &[i32], x2: &mut [i32], out: &mut [i8]) {
    let (d, n) = (x.len(), out.len());
    crate::int8::scalar::widen_pairs(x, 0, x2);
    let x2 = x2.get(..d / 2).unwrap_or(&[]);
    let h = n / 2;
    for (slot, p) in slots.chunks_exact(4).enumerate().take(n) {
        // Slots 2p and 2p + 1 hold rows p and p + h; an odd last row is last.
        let r = if slot >= 2 * h { slot } else { slot / 2 + (slot % 2) * h };
        let (Some(row), &[a2, m, e1, k]) = (w.get(r * d..(r + 1) * d), p) else { return };
        // `a2` is the doubled bias (even), so `a2 >> 1` is the bias.
        let acc = dot_pairs(a2 >> 1, row, x2);
        if let Some(o) = out.get_mut(r) {
            *o = requantize_doubled_one(acc, m, e1, k) as i8;
        }
    }
}

/// `acc + sum` of the 4 raw int8 in `raw` times the i16 pairs `even` (elements 0, 2) and `odd`
/// (1, 3): two `sxtb16`, two `smlad`.
#[inline(always)]
fn mac4_pairs(acc: i32, raw: u32, even: i32, odd: i32) -> i32 {
    let out: i32;
    // SAFETY: register arithmetic only (see `mac4`).
    unsafe {
        asm!(
            "sxtb16 {t}, {r}",
            "smlad {acc}, {t}, {e}, {acc}",
            "sxtb16 {t}, {r}, ror #8",
            "smlad {acc}, {t}, {o}, {acc}",
            r = in(reg) raw,
            e = in(reg) even,
            o = in(reg) odd,
            t = out(reg) _,
            acc = inout(reg) acc => out,
            options(pure, nomem, nostack),
        );
    }
    out
}

/// [`crate::int8::pairs::dot`]: one word load of `raw` (unaligned allowed on ARMv7-M and ARMv8-M
/// Mainline), one of each pair word, two `sxtb16` and two `smlad` per 4 elements.
#[inline(always)]
pub fn dot_pairs(mut acc: i32, raw: &[i8], pairs: &[i32]) -> i32 {
    for (r, p) in raw.chunks_exact(4).zip(pairs.chunks_exact(2)) {
        // SAFETY: `r` is 4 bytes; an unaligned read of them.
        let word = unsafe { core::ptr::read_unaligned(r.as_ptr() as *const u32) };
        acc = mac4_pairs(acc, word, p[0], p[1]);
    }
    acc
}

/// `acc + sum_j x[j] v[j]` over `8 n` elements (`n >= 1`): `x` raw int8 (any alignment), `p`
/// the pair words (4-byte aligned). One loop of 14 instructions per 8 multiply-accumulates.
///
/// # Safety
/// `x` points to `8 n` readable bytes, `p` to `4 n` aligned words, `n >= 1`.
#[inline(always)]
unsafe fn dot8_pairs(acc: i32, x: *const i8, p: *const i32, n: usize) -> i32 {
    let out: i32;
    // SAFETY: reads only the ranges the caller guarantees; no stack use; flags are clobbered
    // (`subs`), which asm! assumes unless `preserves_flags`.
    unsafe {
        asm!(
            "2:",
            "ldr {a}, [{x}], #4",
            "ldr {b}, [{x}], #4",
            "ldrd {e}, {o}, [{p}], #8",
            "sxtb16 {t}, {a}",
            "smlad {acc}, {t}, {e}, {acc}",
            "sxtb16 {t}, {a}, ror #8",
            "smlad {acc}, {t}, {o}, {acc}",
            "ldrd {e}, {o}, [{p}], #8",
            "sxtb16 {t}, {b}",
            "smlad {acc}, {t}, {e}, {acc}",
            "sxtb16 {t}, {b}, ror #8",
            "smlad {acc}, {t}, {o}, {acc}",
            "subs {n}, {n}, #1",
            "bne 2b",
            x = inout(reg) x => _,
            p = inout(reg) p => _,
            n = inout(reg) n => _,
            a = out(reg) _,
            b = out(reg) _,
            e = out(reg) _,
            o = out(reg) _,
            t = out(reg) _,
            acc = inout(reg) acc => out,
            options(readonly, nostack),
        );
    }
    out
}

/// [`crate::int8::pairs::dot_taps`] without range checks: per row and tap, [`dot8_pairs`] over
/// the multiple of 8, then one 4-element step.
///
/// # Safety
/// For every row `r < sums.len()` and tap `t`, `raw[r * raw_stride + t[0]..][..t[2]]` and
/// `pairs[r * pairs_stride + t[1]..][..t[2] / 2]` are inside their buffers, `t[2] % 4 == 0`;
/// `pairs` is 4-byte aligned (an `&[i32]`'s pointer).
pub unsafe fn dot_taps(
    sums: &mut [i32],
    raw: *const i8,
    raw_stride: usize,
    pairs: *const i32,
    pairs_stride: usize,
    taps: &[[usize; 3]],
) {
    if pairs_stride == 0 && taps.iter().all(|t| t[2] == 8) {
        // SAFETY: the caller's guarantee, as for the general loop below.
        return unsafe { dot_taps_shared8(sums, raw, raw_stride, pairs, taps) };
    }
    let (mut raw_row, mut pairs_row) = (raw, pairs);
    for s in sums.iter_mut() {
        let mut acc = *s;
        for t in taps {
            // SAFETY (all pointer steps and reads): inside the ranges the caller guarantees.
            unsafe {
                let (x, p, eighths) = (raw_row.add(t[0]), pairs_row.add(t[1]), t[2] / 8);
                if eighths > 0 {
                    acc = dot8_pairs(acc, x, p, eighths);
                }
                if t[2] % 8 != 0 {
                    let (x, p) = (x.add(8 * eighths), p.add(4 * eighths));
                    acc = mac4_pairs(acc, core::ptr::read_unaligned(x as *const u32), *p, *p.add(1));
                }
            }
        }
        *s = acc;
        // wrapping_add: the pointers are only dereferenced for rows the caller covers.
        (raw_row, pairs_row) = (raw_row.wrapping_add(raw_stride), pairs_row.wrapping_add(pairs_stride));
    }
}

/// [`dot_taps`] where every row shares the pairs (`pairs_stride == 0`) and each tap is 8
/// elements long (a transposed convolution with 8 input channels: the tap's input pixel against
/// each output channel's filter tap): taps outer, the tap's 4 pair words held in registers over
/// the rows, each row's sum updated in place, two rows per pass in assembly (one `ldrd` and
/// one `strd` of both sums, one loop step: 26 instructions per 16 multiply-accumulates, where one
/// row per pass took 30).
///
/// # Safety
/// As [`dot_taps`], with `pairs_stride == 0` and every `t[2] == 8`.
unsafe fn dot_taps_shared8(
    sums: &mut [i32],
    raw: *const i8,
    raw_stride: usize,
    pairs: *const i32,
    taps: &[[usize; 3]],
) {
    for t in taps {
        // SAFETY (all pointer steps and reads): inside the ranges the caller guarantees.
        unsafe {
            let p = pairs.add(t[1]);
            let (p0, p1, p2, p3) = (*p, *p.add(1), *p.add(2), *p.add(3));
            // Row r's 8 weights times the tap's pairs, added to `s`.
            let row = |s: i32, x: *const i8| {
                let (a, b) =
                    (core::ptr::read_unaligned(x as *const u32), core::ptr::read_unaligned(x.add(4) as *const u32));
                mac4_pairs(mac4_pairs(s, a, p0, p1), b, p2, p3)
            };
            let x = raw.add(t[0]);
            let pairs = sums.len() / 2;
            if pairs > 0 {
                // SAFETY: reads 8 bytes of each of the `2 pairs` rows (inside `raw`, as above) and
                // reads and writes the `2 pairs` sums; flags clobbered (`subs`), no stack.
                asm!(
                    "2:",
                    "ldrd {s0}, {s1}, [{s}]",
                    "ldr {a}, [{x}]",
                    "sxtb16 {b}, {a}",
                    "smlad {s0}, {b}, {p0}, {s0}",
                    "sxtb16 {a}, {a}, ror #8",
                    "smlad {s0}, {a}, {p1}, {s0}",
                    "ldr {a}, [{x}, #4]",
                    "sxtb16 {b}, {a}",
                    "smlad {s0}, {b}, {p2}, {s0}",
                    "sxtb16 {a}, {a}, ror #8",
                    "smlad {s0}, {a}, {p3}, {s0}",
                    "add {x}, {x}, {stride}",
                    "ldr {a}, [{x}]",
                    "sxtb16 {b}, {a}",
                    "smlad {s1}, {b}, {p0}, {s1}",
                    "sxtb16 {a}, {a}, ror #8",
                    "smlad {s1}, {a}, {p1}, {s1}",
                    "ldr {a}, [{x}, #4]",
                    "sxtb16 {b}, {a}",
                    "smlad {s1}, {b}, {p2}, {s1}",
                    "sxtb16 {a}, {a}, ror #8",
                    "smlad {s1}, {a}, {p3}, {s1}",
                    "add {x}, {x}, {stride}",
                    "strd {s0}, {s1}, [{s}], #8",
                    "subs {n}, {n}, #1",
                    "bne 2b",
                    s = inout(reg) sums.as_mut_ptr() => _,
                    x = inout(reg) x => _,
                    n = inout(reg) pairs => _,
                    stride = in(reg) raw_stride,
                    p0 = in(reg) p0,
                    p1 = in(reg) p1,
                    p2 = in(reg) p2,
                    p3 = in(reg) p3,
                    a = out(reg) _,
                    b = out(reg) _,
                    s0 = out(reg) _,
                    s1 = out(reg) _,
                    options(nostack),
                );
            }
            let x = x.wrapping_add(2 * pairs * raw_stride);
            if let Some(s) = sums.get_mut(2 * pairs) {
                *s = row(*s, x);
            }
        }
    }
}

/// [`crate::int8::scalar::depthwise_tap`]. Multiplier 1: per 4 channels one word of inputs and
/// one of weights, both `sxtb16`-split into channels (0, 2) and (1, 3), the offset taken off the
/// inputs with one `ssub16` per half (`x - offset` fits i16), then `smlabb`/`smlatt` into each
/// channel's accumulator, the 4 accumulators by one `ldm` and one `stm` (18 instructions per 4
/// channels in the depthwise loop, where the plain one took 6 or more per channel). A multiplier
/// that is a multiple of 4: each input value, less the offset, in both halves of one register
/// against its outputs' weights 4 at a time (the same `smlabb`/`smlatt` step). Tails and other multipliers as the reference.
pub fn depthwise_tap(acc: &mut [i32], x: &[i8], w: &[i8], offset: i32, multiplier: usize) {
    if multiplier == 1 {
        return depthwise_tap1(acc, x, w, offset);
    }
    if multiplier == 0 || !multiplier.is_multiple_of(4) {
        return crate::int8::scalar::depthwise_tap(acc, x, w, offset, multiplier);
    }
    for ((ac, &x), wc) in acc.chunks_exact_mut(multiplier).zip(x).zip(w.chunks_exact(multiplier)) {
        let v = x as i32 - offset;
        let v2 = (v & 0xffff) | (v << 16);
        for (a, ws) in ac.chunks_exact_mut(4).zip(wc.chunks_exact(4)) {
            mac_lanes(a, v2, v2, ws);
        }
    }
    // The outputs past the last whole channel (a short `w` or `acc`) as the reference.
    let whole = (acc.len().min(w.len()) / multiplier).min(x.len());
    if whole < x.len() && whole * multiplier < acc.len().min(w.len()) {
        if let (Some(a), Some(x), Some(w)) =
            (acc.get_mut(whole * multiplier..), x.get(whole..), w.get(whole * multiplier..))
        {
            crate::int8::scalar::depthwise_tap(a, x, w, offset, multiplier);
        }
    }
}

/// [`depthwise_tap`] with multiplier 1.
fn depthwise_tap1(acc: &mut [i32], x: &[i8], w: &[i8], offset: i32) {
    let n = acc.len().min(x.len()).min(w.len());
    let (Some(acc), Some(x), Some(w)) = (acc.get_mut(..n), x.get(..n), w.get(..n)) else { return };
    let off2 = (offset & 0xffff) | (offset << 16);
    let (mut ca, mut cx, mut cw) = (acc.chunks_exact_mut(4), x.chunks_exact(4), w.chunks_exact(4));
    for ((a, xs), ws) in (&mut ca).zip(&mut cx).zip(&mut cw) {
        // SAFETY: `xs` is 4 bytes: an unaligned word read of them.
        let xv = unsafe { core::ptr::read_unaligned(xs.as_ptr() as *const u32) };
        let (xe, xo): (i32, i32);
        // SAFETY: register arithmetic only (DSP instructions the fvae_arm_dsp cfg guarantees).
        unsafe {
            asm!(
                "sxtb16 {e}, {x}",
                "sxtb16 {o}, {x}, ror #8",
                "ssub16 {e}, {e}, {off}",
                "ssub16 {o}, {o}, {off}",
                x = in(reg) xv,
                off = in(reg) off2,
                e = out(reg) xe,
                o = out(reg) xo,
                options(pure, nomem, nostack),
            );
        }
        mac_lanes(a, xe, xo, ws);
    }
    crate::int8::scalar::depthwise_tap(ca.into_remainder(), cx.remainder(), cw.remainder(), offset, 1);
}

/// `a[0] += lo(xe) w0`, `a[1] += lo(xo) w1`, `a[2] += hi(xe) w2`, `a[3] += hi(xo) w3` for the 4
/// int8 weights `ws` (any alignment) and the i16 halves of `xe`, `xo`: `sxtb16` twice, then
/// `smlabb`/`smlatt` into each accumulator.
#[inline(always)]
fn mac_lanes(a: &mut [i32], xe: i32, xo: i32, ws: &[i8]) {
    let (Some(w), [a0, a1, a2, a3]) = (ws.get(..4), a) else { return };
    // SAFETY: `w` is 4 bytes: an unaligned word read of them.
    let wv = unsafe { core::ptr::read_unaligned(w.as_ptr() as *const u32) };
    // SAFETY: register arithmetic only (DSP instructions the fvae_arm_dsp cfg guarantees).
    unsafe {
        asm!(
            "sxtb16 {we}, {w}",
            "sxtb16 {w}, {w}, ror #8",
            "smlabb {a0}, {xe}, {we}, {a0}",
            "smlatt {a2}, {xe}, {we}, {a2}",
            "smlabb {a1}, {xo}, {w}, {a1}",
            "smlatt {a3}, {xo}, {w}, {a3}",
            w = inout(reg) wv => _,
            xe = in(reg) xe,
            xo = in(reg) xo,
            we = out(reg) _,
            a0 = inout(reg) *a0,
            a1 = inout(reg) *a1,
            a2 = inout(reg) *a2,
            a3 = inout(reg) *a3,
            options(pure, nomem, nostack),
        );
    }
}

/// [`crate::int8::scalar::requantize_doubled`]: five instructions per value (`add` with the
/// sign, `lsl`, `smmlar`, `asr`, `ssat`), then the activation clamp, of which only the sides
/// `ssat` leaves to do are done (none without a fused activation, the lower for a RELU): in
/// the convolutions' per-pixel loop the clamp was a third of each value's instructions.
pub fn requantize_doubled(acc: &[i32], mult: &[i32], e1: &[i32], k: &[i32], min: i32, max: i32, out: &mut [i8]) {
    match (min <= -128, max >= 127) {
        (true, true) => requantize_doubled_with(acc, mult, e1, k, out, |v| v),
        (false, true) => requantize_doubled_with(acc, mult, e1, k, out, |v| v.max(min)),
        _ => requantize_doubled_with(acc, mult, e1, k, out, |v| v.max(min).min(max)),
    }
}

/// [`requantize_doubled`]'s loop, with the activation clamp `clamp` on the saturated value.
#[inline(always)]
fn requantize_doubled_with(
    acc: &[i32],
    mult: &[i32],
    e1: &[i32],
    k: &[i32],
    out: &mut [i8],
    clamp: impl Fn(i32) -> i32,
) {
    for ((((o, &a), &m), &e1), &k) in out.iter_mut().zip(acc).zip(mult).zip(e1).zip(k) {
        *o = clamp(requantize_doubled_one(a, m, e1, k)) as i8;
    }
}

/// [`crate::int8::scalar::requantize_doubled_one`]: `add` with the sign, `lsl`, `smmlar`, `asr`,
/// `ssat`.
#[inline(always)]
pub fn requantize_doubled_one(acc: i32, mult: i32, e1: i32, k: i32) -> i32 {
    let v: i32;
    // SAFETY: register arithmetic only; `e1` is 0..=29 (requant_doubled), so `asr` by it is
    // the arithmetic shift the formula needs.
    unsafe {
        asm!(
            "add {k}, {k}, {a}, asr #31",
            "lsl {a}, {a}, #1",
            "smmlar {v}, {a}, {m}, {k}",
            "asr {v}, {v}, {e}",
            "ssat {v}, #8, {v}, asr #1",
            a = inout(reg) acc => _,
            k = inout(reg) k => _,
            m = in(reg) mult,
            e = in(reg) e1,
            v = out(reg) v,
            options(pure, nomem, nostack),
        );
    }
    v
}
