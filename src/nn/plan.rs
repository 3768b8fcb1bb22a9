//! The memory plan of the activations: one offset per tensor, placed from tensor lifetimes so
//! that tensors which are never live together share bytes.

use super::network::Network;
use crate::{Error, Result};

/// The offset of a tensor that has no place in the activation region (a constant, or unused).
pub(super) const UNPLANNED: u32 = u32::MAX;

/// Greedy placement by decreasing size (ties by index): each tensor goes at the lowest offset
/// (4-aligned) free of every already placed tensor whose lifetime overlaps. Returns the total,
/// or [`TOO_LARGE`] when it does not fit the u32 offsets or this target's `usize`. (Offsets
/// are at most the total, and the total only grows: a total below `u32::MAX` means no offset
/// was cut short.)
pub(super) fn plan(first: &[u16], last: &[u16], size: &[u32], offsets: &mut [u32]) -> Result<usize> {
    let total = place(first, last, size, offsets);
    usize::try_from(total).ok().filter(|_| total < u32::MAX as u64).ok_or(TOO_LARGE)
}

/// The placement of [`plan`]; offsets past `u32::MAX` wrap, which the total then shows.
fn place(first: &[u16], last: &[u16], size: &[u32], offsets: &mut [u32]) -> u64 {
    // (The min: every index below is then provably in range; the four have the same length anyway.)
    let n = offsets.len().min(first.len()).min(last.len()).min(size.len());
    let live = |i: usize| first[i] != u16::MAX;
    let overlaps = |a: usize, b: usize| first[a] <= last[b] && first[b] <= last[a];
    let align = |x: u64| (x + 3) & !3;
    let mut total = 0u64;
    for _ in 0..n {
        // The largest unplaced live tensor.
        let mut pick = None;
        for i in 0..n {
            if live(i) && offsets[i] == UNPLANNED && pick.is_none_or(|p: usize| size[i] > size[p]) {
                pick = Some(i);
            }
        }
        let Some(t) = pick.filter(|&t| t < n) else { break }; // (always `< n`; the optimiser needs it said)
        let sz = align(size[t] as u64);
        let fits = |at: u64| {
            (0..n).all(|p| {
                offsets[p] == UNPLANNED
                    || !overlaps(p, t)
                    || at + sz <= offsets[p] as u64
                    || offsets[p] as u64 + align(size[p] as u64) <= at
            })
        };
        let mut best = if fits(0) { 0 } else { u64::MAX };
        for p in 0..n {
            if offsets[p] != UNPLANNED && overlaps(p, t) {
                let at = offsets[p] as u64 + align(size[p] as u64);
                if at < best && fits(at) {
                    best = at;
                }
            }
        }
        if let Some(o) = offsets.get_mut(t) {
            *o = best as u32; // always: `t < n`; wrapped only if the total says so
        }
        total = total.max(best + sz);
    }
    total
}

/// The error of a memory plan larger than offsets or the address space can express.
pub(super) const TOO_LARGE: Error =
    Error::Value { what: "nn memory plan", index: 0, reason: "the arena size overflows this target's address space" };

/// The planned byte offset of activation `t` inside the activation region.
pub(super) fn plan_offset(net: &Network<'_>, t: i32) -> Result<usize> {
    match net.offsets.get(t as usize) {
        Some(&off) if off != UNPLANNED => Ok(off as usize),
        _ => Err(Error::Missing { format: "tflite", name: "planned activation tensor" }),
    }
}

/// Bytes of the whole arena: `3 + 4 (persistent_words + scratch_words) + scratch_bytes +
/// lut_bytes + activation_bytes`, or [`TOO_LARGE`] when that overflows `usize`.
pub(super) fn arena_bytes(words: [usize; 2], bytes: [usize; 3]) -> Result<usize> {
    let word_bytes = words[0].checked_add(words[1]).and_then(|w| w.checked_mul(4));
    let start = word_bytes.and_then(|w| w.checked_add(3));
    start.and_then(|s| bytes.iter().try_fold(s, |acc, &b| acc.checked_add(b))).ok_or(TOO_LARGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_past_u32_are_an_error() {
        // Four tensors of 2^31 - 4 bytes, all live at once: the fourth would start at
        // 3 (2^31 - 4), past u32::MAX, which the u32 offset would wrap to an overlapping one.
        let big = u32::MAX / 2 - 3;
        let (first, last, size) = ([0u16; 4], [1u16; 4], [big; 4]);
        let mut offsets = [UNPLANNED; 4];
        assert_eq!(plan(&first, &last, &size, &mut offsets), Err(TOO_LARGE));
        // Two fit: offsets 0 and 2^31 - 4, 2^32 - 8 bytes in all.
        let mut offsets = [UNPLANNED; 2];
        assert_eq!(plan(&first[..2], &last[..2], &size[..2], &mut offsets), Ok(2 * big as usize));
        assert_eq!(offsets, [0, big]);
    }

    #[test]
    fn arena_size_overflow_is_an_error() {
        assert_eq!(arena_bytes([1, 2], [4, 5, 6]), Ok(3 + 12 + 15));
        assert_eq!(arena_bytes([usize::MAX / 4, 1], [0; 3]), Err(TOO_LARGE));
        assert_eq!(arena_bytes([usize::MAX, 0], [0; 3]), Err(TOO_LARGE));
        assert_eq!(arena_bytes([0, 0], [usize::MAX - 3, 1, 0]), Err(TOO_LARGE));
        assert_eq!(arena_bytes([0, 0], [usize::MAX - 3, 0, 0]), Ok(usize::MAX));
    }
}
