//! Helpers shared by the property-test files (`prop_*.rs`): unaligned copies, ULP distance,
//! and value strategies with the extremes the kernels' contracts talk about.
#![allow(dead_code)]

use proptest::prelude::*;

/// The proptest configuration of every `prop_*` file: a moderate case count (the whole set runs
/// in well under a minute in debug on the host, and a few minutes under qemu-user / Node), and no
/// failure files (they cannot be written under WASI and would be left in the tree otherwise).
pub fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// `data` copied behind `offset` leading elements of a fresh allocation, so the slice returned by
/// [`Shifted::get`] starts `offset` elements past the allocator's alignment (offset 1 = unaligned
/// for every SIMD width).
pub struct Shifted<T> {
    buf: Vec<T>,
    offset: usize,
}

impl<T: Copy + Default> Shifted<T> {
    pub fn new(data: &[T], offset: usize) -> Self {
        let mut buf = vec![T::default(); offset];
        buf.extend_from_slice(data);
        Shifted { buf, offset }
    }
    pub fn get(&self) -> &[T] {
        &self.buf[self.offset..]
    }
    pub fn get_mut(&mut self) -> &mut [T] {
        &mut self.buf[self.offset..]
    }
}

/// Distance in units in the last place between two floats of the same sign (0 for equal values
/// and for two NaNs; `u32::MAX` across signs or against one NaN).
pub fn ulps(a: f32, b: f32) -> u32 {
    if a == b || (a.is_nan() && b.is_nan()) {
        0
    } else if a.is_nan() || b.is_nan() || a.is_sign_negative() != b.is_sign_negative() {
        u32::MAX
    } else {
        a.to_bits().abs_diff(b.to_bits())
    }
}

/// f32 machine epsilon, 2^-23 (the unit roundoff u is half of it).
pub const EPS: f32 = f32::EPSILON;
/// The smallest subnormal, 2^-149: the absolute rounding step of products that underflow.
pub const TINY: f32 = 1.0e-45;

/// Finite values over every magnitude class: ordinary, large, small, subnormal, and signed zeros.
/// `scale` caps the large class (so callers can keep sums of squares below f32::MAX).
pub fn finite_f32(scale: f32) -> impl Strategy<Value = f32> {
    prop_oneof![
        6 => -10.0f32..10.0,
        1 => (-1.0f32..1.0).prop_map(move |v| v * scale),
        1 => (-1.0f32..1.0).prop_map(|v| v * 1e-30),
        1 => (1u32..0x0080_0000, any::<bool>()).prop_map(|(b, neg)| {
            let v = f32::from_bits(b);
            if neg { -v } else { v }
        }),
        1 => prop_oneof![Just(0.0f32), Just(-0.0f32)],
    ]
}

/// [`finite_f32`] with NaN and both infinities mixed in.
pub fn any_f32(scale: f32) -> impl Strategy<Value = f32> {
    prop_oneof![
        12 => finite_f32(scale),
        1 => prop_oneof![Just(f32::NAN), Just(f32::INFINITY), Just(f32::NEG_INFINITY)],
    ]
}

/// int8 values with the extremes (-128, 127, 0) over-represented: -128 * -128 overflows i16
/// pair sums and 127 - (-128) is the largest difference.
pub fn i8_extreme() -> impl Strategy<Value = i8> {
    prop_oneof![4 => any::<i8>(), 1 => Just(-128i8), 1 => Just(127i8), 1 => Just(0i8)]
}
