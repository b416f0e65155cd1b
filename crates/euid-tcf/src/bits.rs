//! Base64url validation with the operator's rules, and bit reads straight from the text.
//!
//! Nothing is decoded into a buffer: after one validating pass over a segment's characters,
//! fields are read by looking up the 6 bits of each character they span.

use alloc::{string::String, vec::Vec};

use crate::error::{Segment, TcfError};

const NOT_BASE64: u8 = 0xFF;

/// 6-bit value of each base64url character; `NOT_BASE64` for everything else (`=` included).
static SEXTET: [u8; 256] = {
    let mut table = [NOT_BASE64; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut i = 0;
    while i < 64 {
        table[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Whether every byte is a base64url alphabet character (no `=`, no `.`, nothing else):
/// the table values OR together below 64 only then.
pub(crate) fn all_alphabet(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .fold(0u8, |acc, &b| acc | SEXTET[usize::from(b)])
        < 64
}

/// Base64url alphabet, for the encoder.
pub(crate) const ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A validated base64url segment, viewed as a bit string.
///
/// `bit_len` follows `java.util.Base64`: the segment is worth ⌊6·chars/8⌋ whole bytes, so the
/// 2 or 4 bits of the last character beyond the last whole byte are unreadable.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bits<'a> {
    /// The data characters (padding stripped), all known to be in the alphabet.
    data: &'a [u8],
    bit_len: usize,
}

impl<'a> Bits<'a> {
    /// Validates one `.`-separated part exactly as `Base64.getUrlDecoder().decode` does:
    /// alphabet `A–Z a–z 0–9 - _`; `=` padding only at the end and only when correct (`xx==`,
    /// `xxx=`) or absent; no dangling single character; non-zero trailing bits ignored.
    pub(crate) fn from_part(part: &'a str, index: usize) -> Result<Self, TcfError> {
        let bytes = part.as_bytes();
        let first_invalid = if all_alphabet(bytes) {
            None
        } else {
            bytes
                .iter()
                .position(|&b| SEXTET[usize::from(b)] == NOT_BASE64)
        };
        let data_len = match first_invalid {
            None => bytes.len(),
            Some(pos) => {
                if bytes.get(pos) != Some(&b'=') {
                    return Err(TcfError::IllegalCharacter {
                        part: index,
                        position: pos,
                    });
                }
                let padding_ok = match pos % 4 {
                    // `xx==` and nothing after it.
                    2 => bytes.len() == pos + 2 && bytes.get(pos + 1) == Some(&b'='),
                    // `xxx=` and nothing after it.
                    3 => bytes.len() == pos + 1,
                    // `x=`: the dangling character is reported below.
                    1 => return Err(TcfError::DanglingCharacter { part: index }),
                    _ => false,
                };
                if !padding_ok {
                    return Err(TcfError::BadPadding { part: index });
                }
                pos
            }
        };
        if data_len % 4 == 1 {
            return Err(TcfError::DanglingCharacter { part: index });
        }
        let data = bytes.get(..data_len).unwrap_or_default();
        Ok(Bits {
            data,
            bit_len: data_len * 6 / 8 * 8,
        })
    }

    /// A view over a part already known to be all alphabet characters (no padding).
    pub(crate) fn from_alphabet_only(part: &'a str, index: usize) -> Result<Self, TcfError> {
        let data = part.as_bytes();
        if data.len() % 4 == 1 {
            return Err(TcfError::DanglingCharacter { part: index });
        }
        Ok(Bits {
            data,
            bit_len: data.len() * 6 / 8 * 8,
        })
    }

    /// Number of readable bits.
    pub(crate) fn bit_len(&self) -> usize {
        self.bit_len
    }

    #[inline]
    pub(crate) fn sextet(&self, index: usize) -> u64 {
        // Every data character was validated, so the mask never changes a value.
        self.data
            .get(index)
            .map_or(0, |&c| u64::from(SEXTET[usize::from(c)] & 0x3F))
    }

    /// Reads `n` (≤ 36) bits at `offset`, MSB first; `None` past the readable end.
    #[inline]
    pub(crate) fn read(&self, offset: usize, n: u32) -> Option<u64> {
        debug_assert!(n <= 36);
        let end = offset.checked_add(n as usize)?;
        if end > self.bit_len {
            return None;
        }
        if n == 0 {
            return Some(0);
        }
        let first = offset / 6;
        let last = end.div_ceil(6);
        // At most 7 characters (5 leading bits + 36): 42 bits fit in the accumulator.
        let mut acc = 0u64;
        for &c in self.data.get(first..last)? {
            acc = (acc << 6) | u64::from(SEXTET[usize::from(c)] & 0x3F);
        }
        Some((acc >> (last * 6 - end)) & ((1u64 << n) - 1))
    }

    /// Reads one bit; `false` past the readable end (callers validated the range first).
    #[inline]
    pub(crate) fn bit(&self, offset: usize) -> bool {
        if offset >= self.bit_len {
            return false;
        }
        (self.sextet(offset / 6) >> (5 - offset % 6)) & 1 == 1
    }
}

/// A sequential reader over one segment that reports truncation as a typed error.
///
/// Characters are decoded once each into a small bit buffer as reading advances.
pub(crate) struct Cursor<'a> {
    bits: Bits<'a>,
    pos: usize,
    /// The low `buffered` bits of `acc` are the bits at `pos..`.
    acc: u64,
    buffered: u32,
    /// Next character to decode into `acc`.
    next_char: usize,
    segment: Segment,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bits: Bits<'a>, pos: usize, segment: Segment) -> Self {
        let mut cursor = Cursor {
            bits,
            pos,
            acc: 0,
            buffered: 0,
            next_char: 0,
            segment,
        };
        cursor.align();
        cursor
    }

    /// Refills the buffer from the character holding `pos`.
    fn align(&mut self) {
        self.next_char = self.pos / 6;
        self.acc = 0;
        self.buffered = 0;
        let into_char = (self.pos % 6) as u32;
        if into_char > 0 {
            self.acc = self.bits.sextet(self.next_char);
            self.next_char += 1;
            self.buffered = 6 - into_char;
        }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn bits(&self) -> Bits<'a> {
        self.bits
    }

    #[cold]
    fn truncated(&self, needed: usize) -> TcfError {
        TcfError::Truncated {
            segment: self.segment,
            needed,
            available: self.bits.bit_len(),
        }
    }

    /// Reads `n` (≤ 36) bits and advances.
    #[inline]
    pub(crate) fn read(&mut self, n: u32) -> Result<u64, TcfError> {
        debug_assert!(n <= 36);
        let end = self.pos.saturating_add(n as usize);
        if end > self.bits.bit_len() {
            return Err(self.truncated(end));
        }
        while self.buffered < n {
            // Bits above the 42 in use fall off the top; only the low `buffered` matter.
            self.acc = (self.acc << 6) | self.bits.sextet(self.next_char);
            self.next_char += 1;
            self.buffered += 6;
        }
        self.buffered -= n;
        self.pos = end;
        Ok((self.acc >> self.buffered) & ((1u64 << n) - 1))
    }

    #[inline]
    pub(crate) fn read_u16(&mut self, n: u32) -> Result<u16, TcfError> {
        debug_assert!(n <= 16);
        Ok(u16::try_from(self.read(n)?).unwrap_or(u16::MAX))
    }

    #[inline]
    pub(crate) fn read_bool(&mut self) -> Result<bool, TcfError> {
        Ok(self.read(1)? == 1)
    }

    /// Skips `n` bits that must all be present (a bit field).
    pub(crate) fn skip(&mut self, n: usize) -> Result<(), TcfError> {
        let end = self.pos.saturating_add(n);
        if end > self.bits.bit_len() {
            return Err(self.truncated(end));
        }
        self.pos = end;
        self.align();
        Ok(())
    }
}

/// Appends bits MSB first and renders them as unpadded base64url.
#[derive(Debug, Default)]
pub(crate) struct BitWriter {
    bytes: Vec<u8>,
    /// Bits used in the last byte (0 = the last byte is full or there is none).
    used: u32,
}

impl BitWriter {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Appends the low `n` (≤ 64) bits of `value`.
    pub(crate) fn write(&mut self, value: u64, n: u32) {
        for i in (0..n).rev() {
            self.push_bit((value >> i) & 1 == 1);
        }
    }

    pub(crate) fn push_bit(&mut self, bit: bool) {
        if self.used == 0 {
            self.bytes.push(0);
        }
        if bit {
            if let Some(last) = self.bytes.last_mut() {
                *last |= 0x80 >> self.used;
            }
        }
        self.used = (self.used + 1) % 8;
    }

    /// Pads to a whole byte with zeros and encodes without `=` padding. Whole bytes matter:
    /// the operator's decoder cannot read bits beyond the last whole byte.
    pub(crate) fn finish(self) -> String {
        let mut out = String::with_capacity(self.bytes.len().div_ceil(3) * 4);
        for chunk in self.bytes.chunks(3) {
            let b0 = chunk.first().copied().unwrap_or(0);
            let b1 = chunk.get(1).copied().unwrap_or(0);
            let b2 = chunk.get(2).copied().unwrap_or(0);
            let group = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
            let chars = chunk.len() + 1;
            for k in 0..chars {
                let sextet = (group >> (18 - 6 * k)) & 0x3F;
                out.push(char::from(ALPHABET[sextet as usize]));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(s: &str) -> Result<Bits<'_>, TcfError> {
        Bits::from_part(s, 0)
    }

    #[test]
    fn byte_granular_length_like_java() {
        assert_eq!(bits("").map(|b| b.bit_len()), Ok(0));
        assert_eq!(bits("AA").map(|b| b.bit_len()), Ok(8));
        assert_eq!(bits("AAA").map(|b| b.bit_len()), Ok(16));
        assert_eq!(bits("AAAA").map(|b| b.bit_len()), Ok(24));
        assert_eq!(bits("AA==").map(|b| b.bit_len()), Ok(8));
        assert_eq!(bits("AAA=").map(|b| b.bit_len()), Ok(16));
    }

    #[test]
    fn padding_and_alphabet_rules() {
        assert!(matches!(
            bits("A"),
            Err(TcfError::DanglingCharacter { part: 0 })
        ));
        assert!(matches!(
            bits("AAAAA"),
            Err(TcfError::DanglingCharacter { .. })
        ));
        assert!(matches!(
            bits("A="),
            Err(TcfError::DanglingCharacter { .. })
        ));
        assert!(matches!(bits("AAAA="), Err(TcfError::BadPadding { .. })));
        assert!(matches!(bits("AA="), Err(TcfError::BadPadding { .. })));
        assert!(matches!(bits("AA=A"), Err(TcfError::BadPadding { .. })));
        assert!(matches!(bits("AA==="), Err(TcfError::BadPadding { .. })));
        assert!(matches!(bits("AAA=A"), Err(TcfError::BadPadding { .. })));
        assert!(matches!(bits("="), Err(TcfError::BadPadding { .. })));
        assert!(matches!(
            bits("AB+A"),
            Err(TcfError::IllegalCharacter { position: 2, .. })
        ));
        assert!(matches!(
            bits("AB/A"),
            Err(TcfError::IllegalCharacter { .. })
        ));
        assert!(matches!(
            bits("AB A"),
            Err(TcfError::IllegalCharacter { .. })
        ));
        assert!(matches!(
            bits("ABé"),
            Err(TcfError::IllegalCharacter { .. })
        ));
    }

    #[test]
    fn reads_msb_first_across_characters() {
        // "gA" = 100000 000000 → byte 0x80.
        let b = bits("gAAB").expect("valid");
        assert_eq!(b.read(0, 1), Some(1));
        assert_eq!(b.read(1, 7), Some(0));
        assert_eq!(b.read(0, 24), Some(0x80_0001));
        assert!(b.bit(0));
        assert!(b.bit(23));
        assert!(!b.bit(22));
        assert_eq!(b.read(20, 5), None);
        assert_eq!(b.read(24, 0), Some(0));
    }

    #[test]
    fn writer_round_trips_through_reader() {
        let mut w = BitWriter::new();
        w.write(0b101, 3);
        w.write(0xABCDE, 20);
        w.write(1, 1);
        w.write(0x3F, 6);
        let text = w.finish();
        let b = bits(&text).expect("valid");
        assert_eq!(b.bit_len(), 32);
        assert_eq!(b.read(0, 3), Some(0b101));
        assert_eq!(b.read(3, 20), Some(0xABCDE));
        assert_eq!(b.read(23, 1), Some(1));
        assert_eq!(b.read(24, 6), Some(0x3F));
        assert_eq!(b.read(30, 2), Some(0));
    }
}
