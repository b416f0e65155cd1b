//! Base64 as the Java operator reads it (`java.util.Base64.getDecoder()`): the standard
//! alphabet, strict (no whitespace, no foreign characters), padding optional but, when
//! present, it must complete the last unit (`Zg=` is refused), and the unused low bits of
//! the last character are ignored.
//!
//! Hand-written because it is on every request's path: four table lookups OR-ed together
//! decode and validate a 4-character unit, about twice as fast as the `base64` crate on
//! envelope-sized bodies (the crate stays as the test oracle).

/// Any set bit in the top byte marks an invalid character.
const INVALID: u32 = 0xff00_0000;

/// `TABLES[k][c]`: the 6-bit value of character `c` shifted into its place for position `k`
/// of a unit, or [`INVALID`]. 4 KiB, stays in L1.
static TABLES: [[u32; 256]; 4] = build_tables();

const fn build_tables() -> [[u32; 256]; 4] {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut tables = [[INVALID; 256]; 4];
    let mut k = 0;
    while k < 4 {
        let mut v = 0;
        while v < 64 {
            tables[k][alphabet[v] as usize] = (v as u32) << (18 - 6 * k);
            v += 1;
        }
        k += 1;
    }
    tables
}

fn unit_bits(a: u8, b: u8, c: u8, d: u8) -> u32 {
    TABLES[0][usize::from(a)]
        | TABLES[1][usize::from(b)]
        | TABLES[2][usize::from(c)]
        | TABLES[3][usize::from(d)]
}

/// Decodes standard base64 with or without padding; `None` when it is not base64.
pub(crate) fn decode(text: &[u8]) -> Option<Vec<u8>> {
    // Padding only completes the last unit, so every unit before it is 4 alphabet characters.
    let (full, last) = match text.len() % 4 {
        0 if text.is_empty() => return Some(Vec::new()),
        0 => text.split_at(text.len() - 4),
        1 => return None,
        r => text.split_at(text.len() - r),
    };
    let mut out = vec![0u8; full.len() / 4 * 3];
    let mut bad = 0u32;
    for (unit, dst) in full.chunks_exact(4).zip(out.chunks_exact_mut(3)) {
        let bits = unit_bits(unit[0], unit[1], unit[2], unit[3]);
        bad |= bits;
        let [_, x, y, z] = bits.to_be_bytes();
        dst.copy_from_slice(&[x, y, z]);
    }
    // `xxxx`, `xxx=`, `xx==`, or unpadded `xxx` / `xx`; 'A' stands in for the missing sextets.
    let (bits, kept) = match *last {
        [a, b, b'=', b'='] | [a, b] => (unit_bits(a, b, b'A', b'A'), 1),
        [a, b, c, b'='] | [a, b, c] => (unit_bits(a, b, c, b'A'), 2),
        [a, b, c, d] => (unit_bits(a, b, c, d), 3),
        _ => return None,
    };
    if (bad | bits) & INVALID != 0 {
        return None;
    }
    out.extend_from_slice(&bits.to_be_bytes()[1..=kept]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::decode;
    use base64::alphabet::STANDARD;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine as _;
    use proptest::prelude::*;

    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );

    /// Java's rules in terms of the `base64` crate: lenient, except that padding must make
    /// the length a multiple of four (the crate also takes a partial `Zg=`).
    fn oracle(text: impl AsRef<[u8]>) -> Option<Vec<u8>> {
        let text = text.as_ref();
        if text.contains(&b'=') && text.len() % 4 != 0 {
            return None;
        }
        LENIENT.decode(text).ok()
    }

    #[test]
    fn padding_trailing_bits_and_strictness() {
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
            assert_eq!(decode(text.as_bytes()).as_deref(), expected, "{text:?}");
            assert_eq!(oracle(text).as_deref(), expected, "oracle {text:?}");
        }
    }

    proptest! {
        #[test]
        fn matches_the_oracle_on_base64_like_text(text in "[A-Za-z0-9+/=\\-_ ]{0,80}") {
            prop_assert_eq!(decode(text.as_bytes()), oracle(&text));
        }

        #[test]
        fn matches_the_oracle_on_encodings(bytes in proptest::collection::vec(any::<u8>(), 0..300), strip in any::<bool>()) {
            let mut text = LENIENT.encode(&bytes);
            if strip {
                text = text.trim_end_matches('=').to_owned();
            }
            prop_assert_eq!(decode(text.as_bytes()), Some(bytes));
        }

        #[test]
        fn matches_the_oracle_on_any_bytes(text in proptest::collection::vec(any::<u8>(), 0..40)) {
            prop_assert_eq!(decode(&text), oracle(&text));
        }
    }
}
