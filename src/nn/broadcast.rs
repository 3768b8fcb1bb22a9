//! What the two-input elementwise operators share (ADD, SUB, MUL, MAXIMUM, MINIMUM,
//! SQUARED_DIFFERENCE, PRELU): the operand checks, one constant operand read from the model in
//! place, and NumPy-style broadcasting up to rank 6 as TFLite's `BroadcastBinaryOpSimple`
//! (shapes aligned at the last dimension; a dimension of 1 repeats).
//!
//! An element's value does not depend on the order the reference visits the output in, so the
//! loop here is a plain row-major walk: output dimensions and the two inputs' strides (0 along a
//! repeated dimension) are kept as [`BROADCAST_WORDS`] persistent words when the shapes differ.
//! An activation combined with a one-element constant (`x * c`, `x + c`, ...) is a function of
//! one int8 value: set-up evaluates the operator's arithmetic for all 256 and run time is a
//! table lookup.

use super::logistic::eval_lut;
use super::{as_i8, as_i8_mut, w32, Kind, OpDesc, Run, Setup, TensorRef, MAX_RANK};
use crate::{Error, Result};

/// `flags` bit: input 0 is a constant (`w_off`, `w_len`).
pub(crate) const CONST_A: i32 = 1;
/// `flags` bit: input 1 is a constant.
pub(crate) const CONST_B: i32 = 2;
/// `flags` bit: the shapes differ; the broadcast strides follow the description.
pub(crate) const BROADCAST: i32 = 4;
/// `flags` bit: one input is a one-element constant, the other has the output's size; a
/// 256-entry table maps the activation's bytes.
pub(crate) const TABLE: i32 = 8;
/// Persistent words of a broadcasting operator: output dimensions, then each input's strides.
pub(crate) const BROADCAST_WORDS: usize = 3 * MAX_RANK;

/// The scales of a binary operator's two inputs and output, and the output's zero point (what
/// the operators' multipliers and clamp ranges are computed from).
pub(crate) struct Scales {
    pub a: f32,
    pub b: f32,
    pub y: f32,
    pub y_zero_point: i32,
}

/// `t`'s dimensions right-aligned to rank 6 (leading 1s).
fn dims6(t: &TensorRef<'_>) -> [usize; MAX_RANK] {
    let mut d = [1usize; MAX_RANK];
    for (k, &v) in t.dims.iter().take(t.rank).enumerate() {
        if let Some(slot) = d.get_mut(MAX_RANK - t.rank + k) {
            *slot = v;
        }
    }
    d
}

/// Reads and checks the operands of a binary operator, int8 inputs and output: at most one
/// constant input, the output shape the broadcast of the inputs'.
/// Fills the tensor fields, the zero points, `flags` and the constant's place; the operator adds
/// its multipliers.
#[inline(never)] // set-up only: its own stack frame, not one merged into every operator's
pub(crate) fn describe(s: &Setup<'_, '_>, kind: Kind) -> Result<(OpDesc, Scales)> {
    let (a, b, y) = (s.need_input(0)?, s.need_input(1)?, s.output()?);
    if s.op.inputs().len() != 2 {
        return Err(s.unsupported("a binary operator without exactly two inputs"));
    }
    for t in [&a, &b, &y] {
        s.check_i8(t)?;
    }
    let (da, db, dy) = (dims6(&a), dims6(&b), dims6(&y));
    for k in 0..MAX_RANK {
        if da[k] != 1 && db[k] != 1 && da[k] != db[k] {
            return Err(s.shape(da[k], db[k])); // the inputs do not broadcast
        }
        let want = if da[k] == 1 { db[k] } else { da[k] };
        if dy[k] != want {
            return Err(s.shape(want, dy[k]));
        }
    }
    let mut d = OpDesc {
        kind: kind as i32,
        input: a.index,
        input2: b.index,
        output: y.index,
        in_len: w32(s, a.bytes())?,
        in2_len: w32(s, b.bytes())?,
        out_len: w32(s, y.bytes())?,
        in_zp: a.zero_point,
        in2_zp: b.zero_point,
        out_zp: y.zero_point,
        ..OpDesc::default()
    };
    match (a.data, b.data) {
        (Some(_), Some(_)) => return Err(s.unsupported("elementwise operator of two constants")),
        (Some((off, len)), None) => {
            d.flags |= CONST_A;
            d.input = -1;
            (d.w_off, d.w_len) = (w32(s, off)?, w32(s, len)?);
        }
        (None, Some((off, len))) => {
            d.flags |= CONST_B;
            d.input2 = -1;
            (d.w_off, d.w_len) = (w32(s, off)?, w32(s, len)?);
        }
        (None, None) => {}
    }
    let scalar_a = d.flags & CONST_A != 0 && a.numel == 1 && b.numel == y.numel;
    let scalar_b = d.flags & CONST_B != 0 && b.numel == 1 && a.numel == y.numel;
    if scalar_a || scalar_b {
        d.flags |= TABLE;
        d.lut_bytes = 256;
    } else if a.numel != y.numel || b.numel != y.numel {
        d.flags |= BROADCAST;
        d.pers_words = BROADCAST_WORDS as i32;
    }
    Ok((d, Scales { a: a.scale, b: b.scale, y: y.scale, y_zero_point: y.zero_point }))
}

/// Writes the broadcast words (output dimensions, row-major strides of each input with 0 along
/// its repeated dimensions) if the operator broadcasts, or the table of `f` with the constant
/// (entry `x as u8` for activation byte `x`) for a one-element constant operand.
pub(crate) fn prepare(
    s: &Setup<'_, '_>,
    d: &OpDesc,
    pers: &mut [i32],
    lut: &mut [u8],
    f: impl Fn(i8, i8) -> i8,
) -> Result<()> {
    if d.flags & TABLE == 0 {
        return write_strides(s, d, pers);
    }
    let c = constant_value(s, d)?;
    for x in -128i32..=127 {
        if let Some(slot) = lut.get_mut(x as u8 as usize) {
            let r = if d.flags & CONST_A != 0 { f(c, x as i8) } else { f(x as i8, c) };
            *slot = r as u8;
        }
    }
    Ok(())
}

/// The one-element constant operand's value.
#[inline(never)] // set-up only; not repeated in every operator's `prepare`
fn constant_value(s: &Setup<'_, '_>, d: &OpDesc) -> Result<i8> {
    let t = s.need_input(if d.flags & CONST_A != 0 { 0 } else { 1 })?;
    let constant = s.const_bytes(&t)?;
    Ok(*constant.first().ok_or(s.shape(1, 0))? as i8)
}

#[inline(never)] // set-up only; not repeated in every operator's `prepare`
fn write_strides(s: &Setup<'_, '_>, d: &OpDesc, pers: &mut [i32]) -> Result<()> {
    if d.flags & BROADCAST == 0 {
        return Ok(());
    }
    let (a, b, y) = (s.need_input(0)?, s.need_input(1)?, s.output()?);
    let (da, db, dy) = (dims6(&a), dims6(&b), dims6(&y));
    let strides = |dims: [usize; MAX_RANK]| -> Result<[i32; MAX_RANK]> {
        let mut st = [0i32; MAX_RANK];
        let mut acc = 1usize;
        for k in (0..MAX_RANK).rev() {
            st[k] = if dims[k] == 1 { 0 } else { w32(s, acc)? };
            acc *= dims[k]; // at most the tensor's element count, checked when it was read
        }
        Ok(st)
    };
    let words = [dy.map(|v| v as i32), strides(da)?, strides(db)?];
    for (slot, v) in pers.iter_mut().zip(words.iter().flatten()) {
        *slot = *v;
    }
    Ok(())
}

/// Runs a binary int8 operator whose element function is `f`: the table lookup (see [`TABLE`]),
/// or [`apply`] over the two operands.
#[inline(always)]
pub(crate) fn eval(
    d: &OpDesc,
    run: &Run<'_>,
    in1: &[u8],
    in2: &[u8],
    output: &mut [u8],
    f: impl Fn(i8, i8) -> i8,
) -> Result<()> {
    if d.flags & TABLE != 0 {
        return eval_lut(run, if d.flags & CONST_A != 0 { in2 } else { in1 }, output);
    }
    let (a, b) = operands(d, run, in1, in2)?;
    apply(d, run.params, as_i8(a)?, as_i8(b)?, as_i8_mut(output)?, f)
}

/// The two operands' bytes: the activations, or the constant from the model.
fn operands<'x>(d: &OpDesc, run: &Run<'x>, in1: &'x [u8], in2: &'x [u8]) -> Result<(&'x [u8], &'x [u8])> {
    let constant = || {
        let (off, len) = (d.w_off as usize, d.w_len as usize);
        run.model.get(off..off + len).ok_or(Error::Missing { format: "tflite", name: "elementwise constant operand" })
    };
    let a = if d.flags & CONST_A != 0 { constant()? } else { in1 };
    let b = if d.flags & CONST_B != 0 { constant()? } else { in2 };
    Ok((a, b))
}

/// `y[i] = f(a[ia], b[ib])` over the output, `ia` and `ib` the broadcast positions.
#[inline(always)]
fn apply<T: Copy, U: Copy, V>(
    d: &OpDesc,
    params: &[i32],
    a: &[T],
    b: &[U],
    y: &mut [V],
    f: impl Fn(T, U) -> V,
) -> Result<()> {
    let expected = y.len();
    let short = |found| Error::Shape { what: "elementwise operand", expected, found };
    // Same shapes: one row of the output's length, both inputs contiguous (the loop below, once).
    let flat = |k: usize| match k {
        k if k == MAX_RANK - 1 => y.len(),
        k if k == 2 * MAX_RANK - 1 || k == 3 * MAX_RANK - 1 => 1,
        k if k < MAX_RANK => 1,
        _ => 0,
    };
    let broadcast = d.flags & BROADCAST != 0;
    let word = |k: usize| if broadcast { params.get(k).map_or(0, |&v| v as usize) } else { flat(k) };
    let dims: [usize; MAX_RANK] = core::array::from_fn(word);
    let sa: [usize; MAX_RANK] = core::array::from_fn(|k| word(MAX_RANK + k));
    let sb: [usize; MAX_RANK] = core::array::from_fn(|k| word(2 * MAX_RANK + k));
    let inner = dims[MAX_RANK - 1];
    let outer: usize = dims[..MAX_RANK - 1].iter().product();
    if outer * inner != y.len() {
        return Err(short(outer * inner));
    }
    let (ia_step, ib_step) = (sa[MAX_RANK - 1], sb[MAX_RANK - 1]);
    let mut index = [0usize; MAX_RANK - 1];
    for row in y.chunks_exact_mut(inner.max(1)) {
        let ia: usize = (0..MAX_RANK - 1).map(|k| index[k] * sa[k]).sum();
        let ib: usize = (0..MAX_RANK - 1).map(|k| index[k] * sb[k]).sum();
        // Along the last dimension each input either repeats one value (step 0) or runs
        // contiguously (step 1): three plain loops, as the reference's innermost one.
        let span = |step: usize| if step == 0 { 1 } else { row.len() };
        let ra = a.get(ia..ia + span(ia_step)).ok_or(short(a.len()))?;
        let rb = b.get(ib..ib + span(ib_step)).ok_or(short(b.len()))?;
        match (ra, rb) {
            (&[x], _) if ia_step == 0 => row.iter_mut().zip(rb).for_each(|(o, &z)| *o = f(x, z)),
            (_, &[z]) if ib_step == 0 => row.iter_mut().zip(ra).for_each(|(o, &x)| *o = f(x, z)),
            _ => row.iter_mut().zip(ra).zip(rb).for_each(|((o, &x), &z)| *o = f(x, z)),
        }
        // Next outer index, last dimension fastest.
        for k in (0..MAX_RANK - 1).rev() {
            index[k] += 1;
            if index[k] < dims[k] {
                break;
            }
            index[k] = 0;
        }
    }
    Ok(())
}
