//! ADD, int8 with broadcasting up to 4-D (TFLite Micro's `AddElementwise` / `BroadcastAdd4DSlow`).
//!
//! With `left_shift = 20`, `twice_max = 2 * max(s_a, s_b)` and multipliers (all in f64, then
//! `QuantizeMultiplier`) `M_a = s_a / twice_max`, `M_b = s_b / twice_max`,
//! `M_y = twice_max / (2^20 * s_y)`:
//!
//! `a' = MultiplyByQuantizedMultiplier((a - zp_a) * 2^20, M_a)`, likewise `b'`,
//! `y = clamp(zp_y + MultiplyByQuantizedMultiplier(a' + b', M_y), act_min, act_max)`.
//!
//! One input may be a constant tensor (read from the model in place).

use super::quant::{activation_range, quantize_multiplier};
use super::{as_i8, as_i8_mut, w32, Kind, OpDesc, Run, Setup, TensorRef};
use crate::kernels::int8::multiply_by_quantized_multiplier as mbqm;
use crate::{Error, Result};

const LEFT_SHIFT: i32 = 20;

fn dims4(s: &Setup<'_, '_>, t: &TensorRef<'_>) -> Result<[usize; 4]> {
    if t.rank > 4 {
        return Err(s.unsupported("ADD of tensors above rank 4"));
    }
    let mut d = [1usize; 4];
    for i in 0..t.rank {
        d[4 - t.rank + i] = t.dims[i];
    }
    Ok(d)
}

pub(crate) fn describe(s: &Setup<'_, '_>) -> Result<OpDesc> {
    let act = s.op.add_activation()?;
    let (a, b, y) = (s.need_input(0)?, s.need_input(1)?, s.output()?);
    for t in [&a, &b, &y] {
        s.check_i8(t)?;
    }
    let (da, db, dy) = (dims4(s, &a)?, dims4(s, &b)?, dims4(s, &y)?);
    for i in 0..4 {
        let want = if da[i] == 1 { db[i] } else { da[i] };
        if (da[i] != 1 && db[i] != 1 && da[i] != db[i]) || dy[i] != want {
            return Err(s.shape(want, dy[i]));
        }
    }
    let mut d = OpDesc {
        kind: Kind::Add as i32,
        input: a.index,
        input2: b.index,
        output: y.index,
        in_len: w32(s, a.numel)?,
        in2_len: w32(s, b.numel)?,
        out_len: w32(s, y.numel)?,
        in_zp: a.zero_point,
        in2_zp: b.zero_point,
        out_zp: y.zero_point,
        left_shift: LEFT_SHIFT,
        a0: w32(s, da[0])?,
        a1: w32(s, da[1])?,
        a2: w32(s, da[2])?,
        a3: w32(s, da[3])?,
        b0: w32(s, db[0])?,
        b1: w32(s, db[1])?,
        b2: w32(s, db[2])?,
        b3: w32(s, db[3])?,
        o0: w32(s, dy[0])?,
        o1: w32(s, dy[1])?,
        o2: w32(s, dy[2])?,
        o3: w32(s, dy[3])?,
        ..OpDesc::default()
    };
    match (a.data, b.data) {
        (Some(_), Some(_)) => return Err(s.unsupported("ADD of two constants")),
        (Some((off, len)), None) => {
            d.flags = 1;
            d.input = -1;
            (d.w_off, d.w_len) = (w32(s, off)?, w32(s, len)?);
        }
        (None, Some((off, len))) => {
            d.flags = 2;
            d.input2 = -1;
            (d.w_off, d.w_len) = (w32(s, off)?, w32(s, len)?);
        }
        (None, None) => {}
    }
    let twice_max = 2.0 * (a.scale.max(b.scale) as f64);
    (d.mult, d.shift) = quantize_multiplier(a.scale as f64 / twice_max);
    (d.mult2, d.shift2) = quantize_multiplier(b.scale as f64 / twice_max);
    (d.mult3, d.shift3) = quantize_multiplier(twice_max / ((1u32 << LEFT_SHIFT) as f64 * y.scale as f64));
    (d.act_min, d.act_max) = activation_range(act, y.scale, y.zero_point, s.index)?;
    Ok(d)
}

pub(crate) fn eval(d: &OpDesc, run: &Run<'_>, in1: &[u8], in2: &[u8], output: &mut [u8]) -> Result<()> {
    let constant = || {
        let (off, len) = (d.w_off as usize, d.w_len as usize);
        run.model.get(off..off + len).ok_or(Error::Missing { format: "tflite", name: "ADD constant" })
    };
    let a = as_i8(if d.flags == 1 { constant()? } else { in1 })?;
    let b = as_i8(if d.flags == 2 { constant()? } else { in2 })?;
    let y = as_i8_mut(output)?;
    let one = |x: i8, z: i8| -> i8 {
        let sa = mbqm((x as i32 - d.in_zp).wrapping_mul(1 << LEFT_SHIFT), d.mult, d.shift);
        let sb = mbqm((z as i32 - d.in2_zp).wrapping_mul(1 << LEFT_SHIFT), d.mult2, d.shift2);
        let r = mbqm(sa.wrapping_add(sb), d.mult3, d.shift3).wrapping_add(d.out_zp);
        r.max(d.act_min).min(d.act_max) as i8
    };
    if a.len() == y.len() && b.len() == y.len() {
        for ((o, &x), &z) in y.iter_mut().zip(a).zip(b) {
            *o = one(x, z);
        }
        return Ok(());
    }
    let da = [d.a0, d.a1, d.a2, d.a3].map(|v| v as usize);
    let db = [d.b0, d.b1, d.b2, d.b3].map(|v| v as usize);
    let dy = [d.o0, d.o1, d.o2, d.o3].map(|v| v as usize);
    // Row-major strides, 0 along broadcast dimensions.
    let strides = |dims: [usize; 4]| {
        let full = [dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3], 1];
        [0, 1, 2, 3].map(|i| if dims[i] == 1 { 0 } else { full[i] })
    };
    let (sa, sb) = (strides(da), strides(db));
    let mut k = 0;
    for i0 in 0..dy[0] {
        for i1 in 0..dy[1] {
            for i2 in 0..dy[2] {
                for i3 in 0..dy[3] {
                    let ia = i0 * sa[0] + i1 * sa[1] + i2 * sa[2] + i3 * sa[3];
                    let ib = i0 * sb[0] + i1 * sb[1] + i2 * sb[2] + i3 * sb[3];
                    match (a.get(ia), b.get(ib), y.get_mut(k)) {
                        (Some(&x), Some(&z), Some(o)) => *o = one(x, z),
                        _ => return Err(Error::Shape { what: "ADD", expected: y.len(), found: k }),
                    }
                    k += 1;
                }
            }
        }
    }
    Ok(())
}
