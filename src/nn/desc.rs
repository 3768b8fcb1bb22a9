//! The run-time description of one operator ([`OpDesc`]): i32 words in the arena, decoded once
//! at set-up so that `invoke` does no flatbuffer lookups. Stored variable-length: a head of
//! [`HEAD_WORDS`] words (what `invoke` reads in place, and `stored`, the count of words stored),
//! then the tail up to the operator's last non-zero field; the constants follow.
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
    (fields: [$($f:ident),* $(,)?], head: [$($h:ident),* $(,)?], tail: [$($t:ident),* $(,)?]) => {
        /// Everything an operator needs at run time, decoded once from the flatbuffer and kept
        /// in the arena as i32 words (so `invoke` does no flatbuffer lookups). The fields are in
        /// their own order (the operators' code was measured in it: stored order cost conv_decoder
        /// 1 800 more instructions per inference on Cortex-M4F), the stored words in another.
        #[derive(Debug, Clone, Copy, Default)]
        pub(crate) struct OpDesc { $(pub $f: i32,)* }
        const DESC_FIELDS: &[&str] = &[$(stringify!($h),)* $(stringify!($t)),*];
        pub(crate) const DESC_WORDS: usize = DESC_FIELDS.len();
        /// Descriptors are stored in whole blocks of this many words (or whole), which
        /// [`OpDesc::read`] copies at a fixed size.
        const READ_BLOCK: usize = 4;
        /// Words of the head: always stored, and the only ones `invoke` reads in place.
        pub(crate) const HEAD_WORDS: usize = [$(stringify!($h)),*].len();
        impl OpDesc {
            fn words(&self) -> [i32; DESC_WORDS] {
                [$(self.$h,)* $(self.$t,)*]
            }
            /// The words stored in the arena: the head, then the tail up to its last non-zero
            /// word (the plan-time fields `scratch_words` and `scratch_bytes`, last, are never
            /// stored).
            pub(crate) fn stored_words(&self) -> usize {
                let w = self.words();
                let tail = w.get(HEAD_WORDS..DESC_WORDS - 2).unwrap_or(&[]);
                let n = HEAD_WORDS + tail.iter().rposition(|&v| v != 0).map_or(0, |i| i + 1);
                n.next_multiple_of(READ_BLOCK).min(DESC_WORDS)
            }
            /// Writes the [`OpDesc::stored_words`] words (`w` holds that many), `stored` set
            /// (and the plan-time fields zero).
            pub(crate) fn write(&self, w: &mut [i32]) {
                let n = self.stored_words();
                let mut words = self.words();
                words[at::STORED] = n as i32;
                (words[DESC_WORDS - 2], words[DESC_WORDS - 1]) = (0, 0); // plan-time only
                for (slot, v) in w.iter_mut().zip(words.iter().take(n)) {
                    *slot = *v;
                }
            }
            /// The descriptor from its stored words (the rest zero). Out of line: inlined
            /// into `invoke`'s loop it cost more than the call (mlp_decoder on Cortex-M4F:
            /// 24 747 instructions per inference inlined, 24 578 out of line).
            #[inline(never)]
            pub(crate) fn read(stored: &[i32]) -> Self {
                let mut w = [0i32; DESC_WORDS];
                // Whole blocks of fixed size, each a few load/store-multiple instructions (cheaper
                // on Cortex-M than a copy of variable length).
                for (d, s) in w.chunks_exact_mut(READ_BLOCK).zip(stored.chunks_exact(READ_BLOCK)) {
                    d.copy_from_slice(s);
                }
                // (The last, partial block: the whole descriptor stored.)
                let (full, tail) = (DESC_WORDS / READ_BLOCK * READ_BLOCK, DESC_WORDS % READ_BLOCK);
                if stored.len() >= DESC_WORDS {
                    for (d, &s) in w.iter_mut().zip(stored).skip(full).take(tail) {
                        *d = s;
                    }
                }
                let [$($h,)* $($t),*] = w;
                OpDesc { $($f,)* }
            }
        }
    };
}

op_desc!(
    fields: [
        kind, index, input, input2, output, in_len, in2_len, out_len, outputs, w_off, w_len, pers_words, lut_bytes,
        scratch_words, scratch_bytes, batches, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, stride_h, stride_w,
        dil_h, dil_w, pad_h, pad_w, depth_mult, in_zp, in2_zp, out_zp, act_min, act_max, mult, shift, mult2, shift2,
        mult3, shift3, left_shift, flags, fscale, tile, a0, a1, a2, a3, b0, b1, b2, b3, o0, o1, o2, o3, stored,
    ],
    // The stored order: the head, then the tail.
    head: [
        kind,
        index,
        stored,
        input,
        input2,
        output,
        in_len,
        in2_len,
        out_len,
        outputs,
        pers_words,
        lut_bytes,
        flags,
        w_off,
        w_len,
        in_c,
        out_c,
        act_min,
        act_max,
    ],
    // The tail, the most used first (each operator stores up to its last non-zero word).
    tail: [
        in_zp,
        out_zp,
        batches,
        mult,
        shift,
        in2_zp,
        mult2,
        shift2,
        mult3,
        shift3,
        left_shift,
        fscale,
        in_h,
        in_w,
        out_h,
        out_w,
        k_h,
        k_w,
        stride_h,
        stride_w,
        dil_h,
        dil_w,
        pad_h,
        pad_w,
        depth_mult,
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
        scratch_words,
        scratch_bytes,
    ]
);

// The two plan-time fields are the last two (`stored_words` leaves them out).
const _: () = assert!(desc_at("scratch_words") == DESC_WORDS - 2 && desc_at("scratch_bytes") == DESC_WORDS - 1);

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

/// The word of head field `name` (a field outside the head does not build).
const fn head_at(name: &str) -> usize {
    let i = desc_at(name);
    assert!(i < HEAD_WORDS, "read in place: must be a head field");
    i
}

/// Word indices of the [`OpDesc`] fields `invoke` reads directly (without copying the whole
/// descriptor, which cost more than a small layer): all in the head.
pub(crate) mod at {
    use super::head_at as desc_at;
    pub const STORED: usize = desc_at("stored");
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field survives `write` then `read`; a descriptor stores its head and its tail up to
    /// the last non-zero field, in whole blocks of 4 words, never the two plan-time fields.
    #[test]
    fn stored_words_round_trip() {
        let block = |n: usize| n.next_multiple_of(4).min(DESC_WORDS);
        let all: [i32; DESC_WORDS] = core::array::from_fn(|i| 1000 + i as i32);
        for (k, name) in DESC_FIELDS.iter().enumerate() {
            let mut one = [0i32; DESC_WORDS];
            one[k] = -7 - k as i32;
            let plan_time = k >= DESC_WORDS - 2;
            let tail = k >= HEAD_WORDS && !plan_time;
            for (w, want) in [(one, block(if tail { k + 1 } else { HEAD_WORDS })), (all, block(DESC_WORDS - 2))] {
                let d = OpDesc::read(&w);
                let n = d.stored_words();
                assert_eq!(n, want, "{name}");
                let mut stored = [0i32; DESC_WORDS];
                d.write(&mut stored[..n]);
                assert_eq!(stored[at::STORED], n as i32);
                let (mut expect, back) = (d, OpDesc::read(&stored[..n]));
                expect.stored = n as i32;
                (expect.scratch_words, expect.scratch_bytes) = (0, 0);
                assert_eq!(back.words(), expect.words(), "{name}");
            }
        }
    }
}
