//! The memory plan of the activations: one offset per tensor, placed from tensor lifetimes so
//! that tensors which are never live together share bytes.

use super::network::Network;
use crate::{Error, Result};

/// The offset of a tensor that has no place in the activation region (a constant, or unused).
pub(super) const UNPLANNED: u32 = u32::MAX;

/// Greedy placement by decreasing size (ties by index): each tensor goes at the lowest offset
/// (4-aligned) free of every already placed tensor whose lifetime overlaps. Returns the total.
pub(super) fn plan(first: &[u16], last: &[u16], size: &[u32], offsets: &mut [u32]) -> usize {
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
            *o = best as u32; // always: `t < n`
        }
        total = total.max(best + sz);
    }
    total as usize
}

/// The planned byte offset of activation `t` inside the activation region.
pub(super) fn plan_offset(net: &Network<'_>, t: i32) -> Result<usize> {
    match net.offsets.get(t as usize) {
        Some(&off) if off != UNPLANNED => Ok(off as usize),
        _ => Err(Error::Missing { format: "tflite", name: "planned activation tensor" }),
    }
}
