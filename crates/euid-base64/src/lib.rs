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
            Self::Standard => &STANDARD_PAIRS,
            Self::UrlSafeNoPad => &URL_SAFE_PAIRS,
        }
    }

    fn chars(self) -> &'static [u8; 64] {
        match self {
            Self::Standard => STANDARD_CHARS,
            Self::UrlSafeNoPad => URL_SAFE_CHARS,
        }
    }

    fn padded(self) -> bool {
        self == Self::Standard
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

/// The text is not base64 under the rules of [`decode`]. Says nothing about where or why:
/// callers map it to their own error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not base64")]
pub struct DecodeError;

/// Any set bit in the top byte marks an invalid character.
const INVALID: u32 = 0xff00_0000;

/// `table[k][c]`: the 6-bit value of character `c` shifted into its place for position `k`
/// of a 4-character unit, or [`INVALID`]. OR-ing four lookups decodes and validates a unit.
const fn decode_tables(chars: &[u8; 64]) -> [[u32; 256]; 4] {
    let mut tables = [[INVALID; 256]; 4];
    let mut k = 0;
    while k < 4 {
        let mut v = 0;
        while v < 64 {
            tables[k][chars[v] as usize] = (v as u32) << (18 - 6 * k);
            v += 1;
        }
        k += 1;
    }
    tables
}

static STANDARD_DECODE: [[u32; 256]; 4] = decode_tables(STANDARD_CHARS);
static URL_SAFE_DECODE: [[u32; 256]; 4] = decode_tables(URL_SAFE_CHARS);

/// Decodes `text` in `alphabet` under the rules of Java's `java.util.Base64` decoders, which
/// the live operator uses: padding is optional for both alphabets but, when present, must
/// complete the last unit (`Zg=` is refused); the unused low bits of the last character are
/// ignored; whitespace, the other alphabet's characters and a lone final character are
/// refused.
///
/// ```
/// use euid_base64::{decode, Alphabet, DecodeError};
/// assert_eq!(decode(b"ZXVpZA==", Alphabet::Standard), Ok(b"euid".to_vec()));
/// assert_eq!(decode(b"ZXVpZA", Alphabet::Standard), Ok(b"euid".to_vec()));
/// assert_eq!(decode(b"-_8", Alphabet::UrlSafeNoPad), Ok(vec![0xfb, 0xff]));
/// assert_eq!(decode(b"ZXVpZA=", Alphabet::Standard), Err(DecodeError));
/// assert_eq!(decode(b"-_8", Alphabet::Standard), Err(DecodeError));
/// ```
pub fn decode(text: &[u8], alphabet: Alphabet) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    decode_into(text, alphabet, &mut out)?;
    Ok(out)
}

/// [`decode`] appending to `out`. On error `out` is left as it was.
pub fn decode_into(text: &[u8], alphabet: Alphabet, out: &mut Vec<u8>) -> Result<(), DecodeError> {
    let tables = match alphabet {
        Alphabet::Standard => &STANDARD_DECODE,
        Alphabet::UrlSafeNoPad => &URL_SAFE_DECODE,
    };
    let unit = |a: u8, b: u8, c: u8, d: u8| {
        tables[0][usize::from(a)]
            | tables[1][usize::from(b)]
            | tables[2][usize::from(c)]
            | tables[3][usize::from(d)]
    };
    // Padding only completes the last unit, so every unit before it is 4 alphabet characters.
    let (full, last) = match text.len() % 4 {
        0 if text.is_empty() => return Ok(()),
        0 => text.split_at(text.len() - 4),
        1 => return Err(DecodeError),
        r => text.split_at(text.len() - r),
    };
    // 'A' (zero) stands in for the sextets a short or padded last unit lacks.
    let (last_bits, kept) = match *last {
        [a, b, b'=', b'='] | [a, b] => (unit(a, b, b'A', b'A'), 1),
        [a, b, c, b'='] | [a, b, c] => (unit(a, b, c, b'A'), 2),
        [a, b, c, d] => (unit(a, b, c, d), 3),
        _ => return Err(DecodeError),
    };
    let start = out.len();
    out.resize(start + full.len() / 4 * 3, 0);
    let mut bad = last_bits;
    for (src, dst) in full.chunks_exact(4).zip(out[start..].chunks_exact_mut(3)) {
        let bits = unit(src[0], src[1], src[2], src[3]);
        bad |= bits;
        let [_, x, y, z] = bits.to_be_bytes();
        dst.copy_from_slice(&[x, y, z]);
    }
    if bad & INVALID != 0 {
        out.truncate(start);
        return Err(DecodeError);
    }
    out.extend_from_slice(&last_bits.to_be_bytes()[1..=kept]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::alphabet;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine as _;
    use proptest::prelude::*;

    const CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true);
    const LENIENT_STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, CONFIG);
    const LENIENT_URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, CONFIG);

    /// Java's rules in terms of the `base64` crate: lenient, except that padding must make
    /// the length a multiple of four (the crate also takes a partial `Zg=`).
    fn oracle(text: &[u8], alphabet: Alphabet) -> Result<Vec<u8>, DecodeError> {
        if text.contains(&b'=') && text.len() % 4 != 0 {
            return Err(DecodeError);
        }
        let engine = match alphabet {
            Alphabet::Standard => LENIENT_STANDARD,
            Alphabet::UrlSafeNoPad => LENIENT_URL_SAFE,
        };
        engine.decode(text).map_err(|_| DecodeError)
    }

    #[test]
    fn decoding_padding_trailing_bits_and_strictness() {
        for (text, expected) in [
            ("", Some(&b""[..])),
            ("Zg==", Some(b"f")),
            ("Zg", Some(b"f")),
            ("Zh==", Some(b"f")), // unused bits ignored, as Java does
            ("Zm8=", Some(b"fo")),
            ("Zm8", Some(b"fo")),
            ("Zm9v", Some(b"foo")),
            ("Z", None),
            ("Zg=", None), // Java wants `==`; the base64 crate would take it
            ("Zg=A", None),
            ("Z===", None),
            ("Zm9v\n", None),
            ("Zm9v====", None),
            ("Zm-v", None),
            ("Zm9v Zg==", None),
        ] {
            let got = decode(text.as_bytes(), Alphabet::Standard);
            assert_eq!(got.as_deref().ok(), expected, "{text:?}");
            assert_eq!(
                oracle(text.as_bytes(), Alphabet::Standard),
                got,
                "oracle {text:?}"
            );
        }
        assert_eq!(
            decode(b"-_8=", Alphabet::UrlSafeNoPad),
            Ok(vec![0xfb, 0xff])
        );
        assert_eq!(decode(b"+/8=", Alphabet::UrlSafeNoPad), Err(DecodeError));
    }

    #[test]
    fn a_failed_decode_leaves_the_buffer_as_it_was() {
        let mut out = b"kept".to_vec();
        assert_eq!(
            decode_into(b"Zm9v!m9v", Alphabet::Standard, &mut out),
            Err(DecodeError)
        );
        assert_eq!(
            decode_into(b"Zm9vZ", Alphabet::Standard, &mut out),
            Err(DecodeError)
        );
        assert_eq!(out, b"kept");
        decode_into(b"Zm9v", Alphabet::Standard, &mut out).unwrap();
        assert_eq!(out, b"keptfoo");
    }

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
        fn decoding_matches_the_oracle_on_base64_like_text(text in "[A-Za-z0-9+/=\\-_ ]{0,80}") {
            for alphabet in [Alphabet::Standard, Alphabet::UrlSafeNoPad] {
                prop_assert_eq!(decode(text.as_bytes(), alphabet), oracle(text.as_bytes(), alphabet));
            }
        }

        #[test]
        fn decoding_matches_the_oracle_on_any_bytes(text in proptest::collection::vec(any::<u8>(), 0..40)) {
            for alphabet in [Alphabet::Standard, Alphabet::UrlSafeNoPad] {
                prop_assert_eq!(decode(&text, alphabet), oracle(&text, alphabet));
            }
        }

        #[test]
        fn decoding_inverts_encoding(input in proptest::collection::vec(any::<u8>(), 0..300), strip in any::<bool>()) {
            for alphabet in [Alphabet::Standard, Alphabet::UrlSafeNoPad] {
                let mut text = encode_to_string(&input, alphabet);
                if strip {
                    text = text.trim_end_matches('=').to_owned();
                }
                prop_assert_eq!(decode(text.as_bytes(), alphabet), Ok(input.clone()));
            }
        }

        #[test]
        fn matches_the_base64_crate(input in proptest::collection::vec(any::<u8>(), 0..600)) {
            prop_assert_eq!(encode_to_string(&input, Alphabet::Standard), STANDARD.encode(&input));
            prop_assert_eq!(encode_to_string(&input, Alphabet::UrlSafeNoPad), URL_SAFE_NO_PAD.encode(&input));
            prop_assert_eq!(encode_to_string(&input, Alphabet::Standard).len(), encoded_len(input.len(), Alphabet::Standard));
        }
    }
}
