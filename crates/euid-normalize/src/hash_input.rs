//! `email_hash` / `phone_hash` inputs (`wire.md` §2.2).
//!
//! The operator accepts exactly two shapes: 44 characters that Java's strict standard
//! base64 decoder accepts (kept as decoded, even when that is 31 or 33 bytes), or 64 hex
//! digits of either case (32 bytes). Java's decoder ignores the unused low bits of the
//! last character, so `...W/d=` decodes like `...W/c=`; the engine below does the same,
//! and [`IdentityHash::to_base64`] gives back the canonical form.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

use crate::identity_hash::{MAX_IDENTITY_HASH_LEN, SHA256_IDENTITY_HASH_LEN};
use crate::{IdentityHash, IdentityType, NormalizeError};

/// Length of a base64 hash input.
pub const BASE64_HASH_INPUT_LEN: usize = 44;
/// Length of a hex hash input.
pub const HEX_HASH_INPUT_LEN: usize = 64;

/// Standard alphabet, padding optional, non-zero trailing bits allowed: what
/// `java.util.Base64.getDecoder()` accepts. No whitespace, no URL-safe characters.
const JAVA_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Parses an `email_hash` input: 44-character standard base64 or 64-character hex.
pub fn parse_email_hash(text: &str) -> Result<IdentityHash, NormalizeError> {
    parse_hash_input(IdentityType::Email, text)
}

/// Parses a `phone_hash` input: 44-character standard base64 or 64-character hex.
pub fn parse_phone_hash(text: &str) -> Result<IdentityHash, NormalizeError> {
    parse_hash_input(IdentityType::Phone, text)
}

/// Parses a hash input of either type; [`parse_email_hash`] and [`parse_phone_hash`]
/// are this with the type fixed.
pub fn parse_hash_input(
    identity_type: IdentityType,
    text: &str,
) -> Result<IdentityHash, NormalizeError> {
    // Java measures UTF-16 units, Rust bytes; they differ only for non-ASCII text, which
    // neither base64 nor hex can contain, so the verdict is the same.
    match text.len() {
        BASE64_HASH_INPUT_LEN => {
            let mut decoded = [0u8; MAX_IDENTITY_HASH_LEN];
            let len = JAVA_BASE64
                .decode_slice(text, &mut decoded)
                .map_err(|_| NormalizeError::HashBase64)?;
            let bytes = decoded.get(..len).ok_or(NormalizeError::HashBase64)?;
            IdentityHash::from_bytes(identity_type, bytes)
        }
        HEX_HASH_INPUT_LEN => {
            let mut bytes = [0u8; SHA256_IDENTITY_HASH_LEN];
            for (byte, pair) in bytes.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
                let &[high, low] = pair else {
                    return Err(NormalizeError::HashHex);
                };
                *byte = (hex_value(high)? << 4) | hex_value(low)?;
            }
            Ok(IdentityHash::from_sha256(identity_type, bytes))
        }
        len => Err(NormalizeError::HashLength { len }),
    }
}

fn hex_value(digit: u8) -> Result<u8, NormalizeError> {
    match digit {
        b'0'..=b'9' => Ok(digit - b'0'),
        b'a'..=b'f' => Ok(digit - b'a' + 10),
        b'A'..=b'F' => Ok(digit - b'A' + 10),
        _ => Err(NormalizeError::HashHex),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use NormalizeError::*;

    // Verdicts and decoded lengths below were checked against
    // `java.util.Base64.getDecoder().decode` (OpenJDK), which the operator uses.
    const CANONICAL: &str = "ntI244ZRTXwAwpki6/M5cyBYW7h/Wq576lnN3l9+W/c=";

    #[test]
    fn base64_accepts_what_java_accepts() {
        let accepted = [
            (CANONICAL, 32, CANONICAL),
            // Non-zero unused bits: accepted, re-encoded canonically.
            (
                "ntI244ZRTXwAwpki6/M5cyBYW7h/Wq576lnN3l9+W/d=",
                32,
                CANONICAL,
            ),
            // No padding: 33 bytes.
            (
                "ntI244ZRTXwAwpki6/M5cyBYW7h/Wq576lnN3l9+W/cA",
                33,
                "ntI244ZRTXwAwpki6/M5cyBYW7h/Wq576lnN3l9+W/cA",
            ),
            // Two padding characters: 31 bytes.
            (
                "ntI244ZRTXwAwpki6/M5cyBYW7h/Wq576lnN3l9+Wz==",
                31,
                "ntI244ZRTXwAwpki6/M5cyBYW7h/Wq576lnN3l9+Ww==",
            ),
        ];
        for (input, len, canonical) in accepted {
            let hash = parse_email_hash(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(hash.as_bytes().len(), len, "{input}");
            assert_eq!(hash.to_base64(), canonical, "{input}");
        }
    }

    #[test]
    fn base64_rejects_what_java_rejects() {
        for input in [
            "ntI244ZRTXwAwpki6/M5cyBYW7h/Wq576lnN3l9+W===",
            "ntI244ZRTXwAwpki6/M5cyBYW7h/Wq576lnN3l9+W=c=",
            "ntI244ZRTXwAwpki6/M5cyBYW7h/Wq576lnN3l9+W/c-",
            "ntI244ZRTXwAwpki6/M5cyBYW7h/Wq576lnN3l9+W/c\n",
            "ntI244ZRTXwAwpki6/M5cyBYW7h/Wq576lnN3l9==W/c",
            "============================================",
            "ntI244ZRTXwAwpki6_M5cyBYW7h_Wq576lnN3l9-W_c=",
        ] {
            assert_eq!(input.len(), 44);
            assert_eq!(parse_phone_hash(input), Err(HashBase64), "{input:?}");
        }
    }

    #[test]
    fn hex_either_case_gives_the_same_bytes() {
        let lower = "9ed236e386514d7c00c29922ebf3397320585bb87f5aae7bea59cdde5f7e5bf7";
        let upper = lower.to_ascii_uppercase();
        let from_lower = parse_email_hash(lower).unwrap();
        assert_eq!(parse_email_hash(&upper), Ok(from_lower));
        assert_eq!(from_lower.to_base64(), CANONICAL);
        assert_eq!(from_lower.identity_type(), IdentityType::Email);
        assert_eq!(
            parse_phone_hash(lower).unwrap().identity_type(),
            IdentityType::Phone
        );
    }

    #[test]
    fn hex_rejects_non_hex_digits() {
        let mut bad = "9ed236e386514d7c00c29922ebf3397320585bb87f5aae7bea59cdde5f7e5bf7".to_owned();
        bad.replace_range(63.., "g");
        assert_eq!(parse_email_hash(&bad), Err(HashHex));
        let spaced = format!("{} ", &bad[..63]);
        assert_eq!(parse_email_hash(&spaced), Err(HashHex));
    }

    #[test]
    fn other_lengths_are_rejected_by_length() {
        for len in [0, 43, 45, 63, 65, 88] {
            let text = "A".repeat(len);
            assert_eq!(parse_email_hash(&text), Err(HashLength { len }), "{len}");
        }
    }
}
