//! Cortex-M DSP int8 dot products, the scheme CMSIS-NN uses: one 32-bit load holds four i8;
//! `sxtb16` sign-extends bytes 0 and 2 into two i16 halves, `sxtb16 ..., ror #8` bytes 1 and 3;
//! `smlad` multiplies both halves pairwise and adds both products to an i32 accumulator. Two
//! multiply-accumulates per instruction; the sums wrap like the scalar reference (`smlad`
//! only sets the sticky Q flag on overflow).
//!
//! The DSP intrinsics in `core::arch::arm` are unstable, hence `asm!`.

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
    // `get` (never `None`): both then have length exactly `n`, so every index below is proven.
    let (Some(a), Some(b)) = (a.get(..n), b.get(..n)) else { return 0 };
    let mut acc = 0i32;
    let mut j = 0;
    while j + 4 <= n {
        acc = mac4(acc, load4(a, j), load4(b, j));
        j += 4;
    }
    for k in j..n {
        acc = acc.wrapping_add(a[k] as i32 * b[k] as i32);
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
