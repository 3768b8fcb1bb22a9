//! x86_64 int8 paths: AVX2 and AVX-512 (BW, and VNNI where present).

pub mod avx2;
pub mod avx512;

/// The last `row.len() % 4` bytes of `row`, zero-padded to one little-endian word (0 when the
/// length is a multiple of 4): the partial group the packed kernels add last.
#[inline(always)]
fn tail_word(row: &[u8]) -> i32 {
    let mut t = [0u8; 4];
    let rest = row.get(row.len() / 4 * 4..).unwrap_or_default();
    t[..rest.len()].copy_from_slice(rest);
    i32::from_le_bytes(t)
}
