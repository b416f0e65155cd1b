#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

/// The two base64 variants EUID uses on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Alphabet {
    /// RFC 4648 §4 alphabet (`+`, `/`) with `=` padding.
    Standard,
    /// RFC 4648 §5 alphabet (`-`, `_`) without padding.
    UrlSafeNoPad,
}

const STANDARD_CHARS: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE_CHARS: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Every 12-bit value as its two output characters (little-endian, first character in the
/// low byte): half the lookups of a 64-entry table, and words that combine into one store.
const fn pair_table(chars: &[u8; 64]) -> [u16; 4096] {
    let mut table = [0u16; 4096];
    let mut i = 0;
    while i < 4096 {
        table[i] = u16::from_le_bytes([chars[i >> 6], chars[i & 63]]);
        i += 1;
    }
    table
}

static STANDARD_PAIRS: [u16; 4096] = pair_table(STANDARD_CHARS);
static URL_SAFE_PAIRS: [u16; 4096] = pair_table(URL_SAFE_CHARS);

impl Alphabet {
    fn pairs(self) -> &'static [u16; 4096] {
        match self {
            Alphabet::Standard => &STANDARD_PAIRS,
            Alphabet::UrlSafeNoPad => &URL_SAFE_PAIRS,
        }
    }

    fn chars(self) -> &'static [u8; 64] {
        match self {
            Alphabet::Standard => STANDARD_CHARS,
            Alphabet::UrlSafeNoPad => URL_SAFE_CHARS,
        }
    }

    fn padded(self) -> bool {
        self == Alphabet::Standard
    }
}

/// Length of the encoding of `input_len` bytes.
///
/// ```
/// use euid_base64::{encoded_len, Alphabet};
/// assert_eq!(encoded_len(32, Alphabet::Standard), 44);
/// assert_eq!(encoded_len(32, Alphabet::UrlSafeNoPad), 43);
/// ```
pub const fn encoded_len(input_len: usize, alphabet: Alphabet) -> usize {
    let full = input_len / 3 * 4;
    match (input_len % 3, alphabet) {
        (0, _) => full,
        (_, Alphabet::Standard) => full + 4,
        (rem, Alphabet::UrlSafeNoPad) => full + rem + 1,
    }
}

/// Appends the base64 encoding of `input` to `out`.
///
/// ```
/// use euid_base64::{encode_into, Alphabet};
/// let mut out = Vec::new();
/// encode_into(b"euid", Alphabet::Standard, &mut out);
/// assert_eq!(out, b"ZXVpZA==");
/// ```
pub fn encode_into(input: &[u8], alphabet: Alphabet, out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + encoded_len(input.len(), alphabet), 0);
    encode_exact(input, alphabet, &mut out[start..]);
}

/// Encodes `input` into a new `String`.
///
/// ```
/// use euid_base64::{encode_to_string, Alphabet};
/// assert_eq!(encode_to_string(&[0xff; 4], Alphabet::UrlSafeNoPad), "_____w");
/// ```
pub fn encode_to_string(input: &[u8], alphabet: Alphabet) -> String {
    let mut out = Vec::with_capacity(encoded_len(input.len(), alphabet));
    encode_into(input, alphabet, &mut out);
    // Only alphabet bytes were written; the check is a fast ASCII scan.
    String::from_utf8(out).unwrap_or_default()
}

/// Writes the encoding of `input` to the start of `out` and returns its length, or `None`
/// (writing nothing) when `out` is shorter than [`encoded_len`]: for stack buffers.
///
/// ```
/// use euid_base64::{encode_to_slice, Alphabet};
/// let mut buf = [0u8; 8];
/// assert_eq!(encode_to_slice(b"euid", Alphabet::Standard, &mut buf), Some(8));
/// assert_eq!(&buf, b"ZXVpZA==");
/// assert_eq!(encode_to_slice(b"euid-rs", Alphabet::Standard, &mut buf), None);
/// ```
pub fn encode_to_slice(input: &[u8], alphabet: Alphabet, out: &mut [u8]) -> Option<usize> {
    let len = encoded_len(input.len(), alphabet);
    let out = out.get_mut(..len)?;
    encode_exact(input, alphabet, out);
    Some(len)
}

/// Writes the encoding into `out`, which is exactly `encoded_len(input.len())` long.
fn encode_exact(input: &[u8], alphabet: Alphabet, out: &mut [u8]) {
    let pairs = alphabet.pairs();
    let full = input.len() / 3 * 3;
    let (body, tail) = input.split_at(full);
    let (out_body, out_tail) = out.split_at_mut(full / 3 * 4);
    // Twelve input bytes a step: two overlapping 8-byte loads, four 12-bit indices each.
    let mut src = body.chunks_exact(12);
    let mut dst = out_body.chunks_exact_mut(16);
    for (s, d) in (&mut src).zip(&mut dst) {
        let mut first = [0u8; 8];
        first.copy_from_slice(&s[..8]);
        let mut second = [0u8; 8];
        second.copy_from_slice(&s[4..]);
        // Bytes 0..6 sit in the top 48 bits of the first load, bytes 6..12 in the low 48
        // bits of the second.
        let a = u64::from_be_bytes(first) >> 16;
        let b = u64::from_be_bytes(second);
        for (half, word) in d.chunks_exact_mut(8).zip([a, b]) {
            let p0 = u64::from(pairs[((word >> 36) & 0xfff) as usize]);
            let p1 = u64::from(pairs[((word >> 24) & 0xfff) as usize]);
            let p2 = u64::from(pairs[((word >> 12) & 0xfff) as usize]);
            let p3 = u64::from(pairs[(word & 0xfff) as usize]);
            half.copy_from_slice(&(p0 | p1 << 16 | p2 << 32 | p3 << 48).to_le_bytes());
        }
    }
    for (s, d) in src
        .remainder()
        .chunks_exact(3)
        .zip(dst.into_remainder().chunks_exact_mut(4))
    {
        let n = (usize::from(s[0]) << 16) | (usize::from(s[1]) << 8) | usize::from(s[2]);
        let word = u32::from(pairs[n >> 12]) | u32::from(pairs[n & 0xfff]) << 16;
        d.copy_from_slice(&word.to_le_bytes());
    }
    let chars = alphabet.chars();
    match *tail {
        [a] => {
            out_tail[0] = chars[usize::from(a >> 2)];
            out_tail[1] = chars[usize::from((a & 3) << 4)];
        }
        [a, b] => {
            out_tail[0] = chars[usize::from(a >> 2)];
            out_tail[1] = chars[usize::from(((a & 3) << 4) | (b >> 4))];
            out_tail[2] = chars[usize::from((b & 15) << 2)];
        }
        _ => {}
    }
    if alphabet.padded() {
        let written = match tail.len() {
            1 => 2,
            2 => 3,
            _ => return,
        };
        out_tail[written..].fill(b'=');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use base64::Engine as _;
    use proptest::prelude::*;

    #[test]
    fn rfc4648_test_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(
                encode_to_string(input.as_bytes(), Alphabet::Standard),
                expected
            );
            assert_eq!(
                encode_to_string(input.as_bytes(), Alphabet::UrlSafeNoPad),
                expected.trim_end_matches('=')
            );
        }
    }

    #[test]
    fn every_length_through_the_wide_loop_matches_the_base64_crate() {
        let data: Vec<u8> = (0..=255u8).rev().chain(0..=255).collect();
        for len in 0..data.len() {
            let input = &data[..len];
            assert_eq!(
                encode_to_string(input, Alphabet::Standard),
                STANDARD.encode(input)
            );
            assert_eq!(
                encode_to_string(input, Alphabet::UrlSafeNoPad),
                URL_SAFE_NO_PAD.encode(input)
            );
        }
    }

    #[test]
    fn slices_get_the_same_bytes_or_nothing() {
        let input = [7u8; 40];
        let mut buf = [b'#'; 64];
        assert_eq!(
            encode_to_slice(&input, Alphabet::Standard, &mut buf[..55]),
            None
        );
        assert_eq!(buf, [b'#'; 64]);
        assert_eq!(
            encode_to_slice(&input, Alphabet::Standard, &mut buf),
            Some(56)
        );
        assert_eq!(&buf[..56], STANDARD.encode(input).as_bytes());
        assert_eq!(&buf[56..], &[b'#'; 8]);
    }

    #[test]
    fn appends_after_existing_bytes() {
        let mut out = b"x".to_vec();
        encode_into(&[0xfb, 0xff], Alphabet::Standard, &mut out);
        encode_into(&[0xfb, 0xff], Alphabet::UrlSafeNoPad, &mut out);
        assert_eq!(out, b"x+/8=-_8");
    }

    proptest! {
        #[test]
        fn matches_the_base64_crate(input in proptest::collection::vec(any::<u8>(), 0..600)) {
            prop_assert_eq!(encode_to_string(&input, Alphabet::Standard), STANDARD.encode(&input));
            prop_assert_eq!(encode_to_string(&input, Alphabet::UrlSafeNoPad), URL_SAFE_NO_PAD.encode(&input));
            prop_assert_eq!(encode_to_string(&input, Alphabet::Standard).len(), encoded_len(input.len(), Alphabet::Standard));
        }
    }
}
