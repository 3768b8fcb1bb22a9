//! The run-time description of one operator ([`OpDesc`]): fixed i32 words in the arena, decoded
//! once at set-up so that `invoke` does no flatbuffer lookups.
//!
//! Most operators write one tensor (`output`, `out_len` bytes; `outputs` 0). An operator with
//! several (SPLIT, SPLIT_V, UNPACK) has `outputs` = n > 1 and its constants start with the
//! table [`output_table`]: `(tensor, bytes)` of each output in order; `invoke` writes them one
//! at a time (`registry::eval_output`).

/// Words of the outputs table at the start of the constants of an operator with `n` > 1
/// outputs (none for one output, which the descriptor itself holds).
pub(crate) const fn output_table(n: usize) -> usize {
    if n > 1 {
        2 * n
    } else {
        0
    }
}

macro_rules! op_desc {
    ($($field:ident),* $(,)?) => {
        /// Everything an operator needs at run time, decoded once from the flatbuffer and kept
        /// in the arena as i32 words (so `invoke` does no flatbuffer lookups).
        #[derive(Debug, Clone, Copy, Default)]
        pub(crate) struct OpDesc { $(pub $field: i32,)* }
        const DESC_FIELDS: &[&str] = &[$(stringify!($field)),*];
        pub(crate) const DESC_WORDS: usize = DESC_FIELDS.len();
        impl OpDesc {
            pub(crate) fn write(&self, w: &mut [i32; DESC_WORDS]) {
                let mut it = w.iter_mut();
                $( if let Some(slot) = it.next() { *slot = self.$field; } )*
            }
            /// A plain copy of the words (no iterator, no zeroing first). Out of line: inlined
            /// into `invoke`'s loop it cost more than the call (mlp_decoder on Cortex-M4F: 24 747
            /// instructions per inference inlined, 24 578 out of line).
            #[inline(never)]
            pub(crate) fn read(w: &[i32; DESC_WORDS]) -> Self {
                let [$($field),*] = *w;
                OpDesc { $($field,)* }
            }
        }
    };
}

op_desc!(
    kind,
    index,
    input,
    input2,
    output,
    in_len,
    in2_len,
    out_len,
    outputs,
    w_off,
    w_len,
    pers_words,
    lut_bytes,
    scratch_words,
    scratch_bytes,
    batches,
    in_h,
    in_w,
    in_c,
    out_h,
    out_w,
    out_c,
    k_h,
    k_w,
    stride_h,
    stride_w,
    dil_h,
    dil_w,
    pad_h,
    pad_w,
    depth_mult,
    in_zp,
    in2_zp,
    out_zp,
    act_min,
    act_max,
    mult,
    shift,
    mult2,
    shift2,
    mult3,
    shift3,
    left_shift,
    flags,
    fscale,
    tile,
    a0,
    a1,
    a2,
    a3,
    b0,
    b1,
    b2,
    b3,
    o0,
    o1,
    o2,
    o3,
);

/// The word of field `name` in a stored [`OpDesc`] (evaluated at compile time: an unknown name
/// does not build).
const fn desc_at(name: &str) -> usize {
    let mut i = 0;
    while i < DESC_WORDS {
        let f = DESC_FIELDS[i].as_bytes();
        let n = name.as_bytes();
        if f.len() == n.len() {
            let mut k = 0;
            while k < n.len() && f[k] == n[k] {
                k += 1;
            }
            if k == n.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("not an OpDesc field")
}

/// Word indices of the [`OpDesc`] fields `invoke` reads directly (without copying the whole
/// descriptor, which cost more than a small layer).
pub(crate) mod at {
    use super::desc_at;
    pub const KIND: usize = desc_at("kind");
    pub const INDEX: usize = desc_at("index");
    pub const INPUT: usize = desc_at("input");
    pub const INPUT2: usize = desc_at("input2");
    pub const OUTPUT: usize = desc_at("output");
    pub const IN_LEN: usize = desc_at("in_len");
    pub const IN2_LEN: usize = desc_at("in2_len");
    pub const OUT_LEN: usize = desc_at("out_len");
    pub const OUTPUTS: usize = desc_at("outputs");
    pub const PERS_WORDS: usize = desc_at("pers_words");
    pub const LUT_BYTES: usize = desc_at("lut_bytes");
    pub const FLAGS: usize = desc_at("flags");
    pub const W_OFF: usize = desc_at("w_off");
    pub const W_LEN: usize = desc_at("w_len");
    pub const IN_C: usize = desc_at("in_c");
    pub const OUT_C: usize = desc_at("out_c");
    pub const ACT_MIN: usize = desc_at("act_min");
    pub const ACT_MAX: usize = desc_at("act_max");
}
