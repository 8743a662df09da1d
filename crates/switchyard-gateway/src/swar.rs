//! Byte tests on eight bytes at once, in a `u64` (SIMD within a register): the JSON
//! scanners and writers use them to pass over runs of plain bytes a word at a time.
//!
//! Each returns the high bit of every byte that passes. The lowest flag is exact; a flag
//! above it may be a false one (a borrow from the byte below), so a caller reads only
//! the lowest, with `trailing_zeros` on a little-endian word.

pub(crate) const LOW_BITS: u64 = 0x0101_0101_0101_0101;
pub(crate) const HIGH_BITS: u64 = LOW_BITS << 7;

/// The bytes of `word` equal to `byte`.
pub(crate) fn bytes_equal_to(word: u64, byte: u8) -> u64 {
    let differences = word ^ (u64::from(byte) * LOW_BITS);
    differences.wrapping_sub(LOW_BITS) & !differences & HIGH_BITS
}

/// The bytes of `word` below `limit` (at most 0x80: bytes from 0x80 up never pass).
pub(crate) fn bytes_below(word: u64, limit: u8) -> u64 {
    word.wrapping_sub(u64::from(limit) * LOW_BITS) & !word & HIGH_BITS
}
