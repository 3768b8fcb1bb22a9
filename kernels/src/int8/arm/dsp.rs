//! Cortex-M DSP int8 dot products, the scheme CMSIS-NN uses: one 32-bit load holds four i8;
//! `sxtb16` sign-extends bytes 0 and 2 into two i16 halves, `sxtb16 ..., ror #8` bytes 1 and 3;
//! `smlad` multiplies both halves pairwise and adds both products to an i32 accumulator. Two
//! multiply-accumulates per instruction; the sums wrap like the scalar reference (`smlad`
//! only sets the sticky Q flag on overflow).
//!
//! The DSP intrinsics in `core::arch::arm` are unstable, hence `asm!`.

use core::arch::asm;

/// The four i8 of a 4-element chunk as one word (callers pass `chunks_exact(4)` items, so the
/// indexes are proven and no panic path is left).
#[inline(always)]
fn load4(s: &[i8]) -> u32 {
    u32::from_le_bytes([s[0] as u8, s[1] as u8, s[2] as u8, s[3] as u8])
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
    let mut acc = 0i32;
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let (at, bt) = (a4.remainder(), b4.remainder());
    for (a4, b4) in a4.zip(b4) {
        acc = mac4(acc, load4(a4), load4(b4));
    }
    for (&x, &y) in at.iter().zip(bt) {
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
    // `get`, chunks and `zip`: `rows` fits every slice, which the optimiser cannot see (never `None`).
    while r + 2 <= rows {
        let (Some(w0), Some(w1)) = (w.get(r * d..(r + 1) * d), w.get((r + 1) * d..(r + 2) * d)) else { return };
        let (Some(&[b0, b1]), Some([o0, o1])) = (bias.get(r..r + 2), out.get_mut(r..r + 2)) else { return };
        let (mut a0, mut a1) = (b0, b1);
        let (x4, w04, w14) = (x.chunks_exact(4), w0.chunks_exact(4), w1.chunks_exact(4));
        let (xt, w0t, w1t) = (x4.remainder(), w04.remainder(), w14.remainder());
        for (xs, (c0, c1)) in x4.zip(w04.zip(w14)) {
            let vx = load4(xs);
            a0 = mac4(a0, vx, load4(c0));
            a1 = mac4(a1, vx, load4(c1));
        }
        for (&xv, (&v0, &v1)) in xt.iter().zip(w0t.iter().zip(w1t)) {
            a0 = a0.wrapping_add(xv as i32 * v0 as i32);
            a1 = a1.wrapping_add(xv as i32 * v1 as i32);
        }
        (*o0, *o1) = (a0, a1);
        r += 2;
    }
    if r < rows {
        if let (Some(wr), Some(&br), Some(o)) = (w.get(r * d..(r + 1) * d), bias.get(r), out.get_mut(r)) {
            *o = br.wrapping_add(dot(x, wr));
        }
    }
}
