//! Phone numbers (`wire.md` §2.3): validated, never rewritten, hashed exactly as sent.

use crate::sha256::sha256;
use crate::{IdentityHash, IdentityType, NormalizeError};

/// Fewest digits after the `+` that the operator accepts.
pub const MIN_PHONE_DIGITS: usize = 10;
/// Most digits after the `+` that the operator accepts.
pub const MAX_PHONE_DIGITS: usize = 15;

/// Whether `phone` is in the only form the operator accepts: `+` then 10 to 15 ASCII
/// digits, nothing else (no spaces, dashes or parentheses).
pub fn is_phone_normalized(phone: &str) -> bool {
    validate_phone(phone).is_ok()
}

/// Like [`is_phone_normalized`], but says which rule failed.
pub fn validate_phone(phone: &str) -> Result<(), NormalizeError> {
    let digits = phone
        .strip_prefix('+')
        .ok_or(NormalizeError::PhoneMissingPlus)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NormalizeError::PhoneNonDigit);
    }
    // All ASCII, so the byte length is the digit count.
    let count = digits.len();
    if !(MIN_PHONE_DIGITS..=MAX_PHONE_DIGITS).contains(&count) {
        return Err(NormalizeError::PhoneDigitCount { digits: count });
    }
    Ok(())
}

/// Validates `phone` and returns the SHA-256 of exactly the string sent.
pub fn hash_phone(phone: &str) -> Result<IdentityHash, NormalizeError> {
    validate_phone(phone)?;
    Ok(IdentityHash::from_sha256(
        IdentityType::Phone,
        sha256(phone.as_bytes()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use NormalizeError::*;

    #[test]
    fn each_rule_gives_its_own_error() {
        let cases = [
            ("", PhoneMissingPlus),
            ("12345678901", PhoneMissingPlus),
            (" +12345678901", PhoneMissingPlus),
            ("+1234567890 ", PhoneNonDigit),
            ("+1234567890\u{0661}", PhoneNonDigit),
            ("++12345678901", PhoneNonDigit),
            ("+", PhoneDigitCount { digits: 0 }),
            ("+123456789", PhoneDigitCount { digits: 9 }),
            ("+1234567890123456", PhoneDigitCount { digits: 16 }),
        ];
        for (phone, expected) in cases {
            assert_eq!(validate_phone(phone), Err(expected), "{phone:?}");
            assert_eq!(hash_phone(phone), Err(expected), "{phone:?}");
            assert!(!is_phone_normalized(phone), "{phone:?}");
        }
    }

    #[test]
    fn bounds_are_inclusive() {
        assert!(is_phone_normalized("+1234567890"));
        assert!(is_phone_normalized("+123456789012345"));
    }
}
