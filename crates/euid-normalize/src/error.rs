/// Why an email, phone number or hash input was rejected.
///
/// Every variant maps to the operator's `400 client_error` "Invalid Identifier"
/// (`wire.md` §2.4). The message names the rule that failed and never contains the input
/// itself, so it is safe to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NormalizeError {
    /// The email has no `@`.
    #[error("email has no '@'")]
    EmailMissingAt,
    /// The email has a second `@` after the first.
    #[error("email has more than one '@'")]
    EmailSecondAt,
    /// Nothing but spaces (or nothing at all) follows the `@`.
    #[error("email domain is empty")]
    EmailEmptyDomain,
    /// The local part is empty once spaces (and, for `gmail.com`, dots and the `+` suffix)
    /// are removed.
    #[error("email local part is empty after normalization")]
    EmailEmptyLocalPart,
    /// The phone number does not start with `+`.
    #[error("phone number does not start with '+'")]
    PhoneMissingPlus,
    /// Something other than an ASCII digit follows the `+`.
    #[error("phone number has a character other than an ASCII digit after '+'")]
    PhoneNonDigit,
    /// The phone number has fewer than 10 or more than 15 digits.
    #[error("phone number has {digits} digits; 10 to 15 are required")]
    PhoneDigitCount {
        /// How many digits follow the `+`.
        digits: usize,
    },
    /// A hash input is neither 44 (base64) nor 64 (hex) bytes long.
    #[error("identity hash input is {len} bytes long; only 44 (base64) or 64 (hex) are accepted")]
    HashLength {
        /// The input length in bytes.
        len: usize,
    },
    /// A 44-character hash input is not valid standard base64.
    #[error("44-character identity hash input is not valid standard base64")]
    HashBase64,
    /// A 64-character hash input is not valid hex.
    #[error("64-character identity hash input is not valid hex")]
    HashHex,
    /// Raw identity hash bytes have a length no operator input can produce.
    #[error("identity hash is {len} bytes long; 31 to 33 are accepted")]
    IdentityHashLength {
        /// The rejected length in bytes.
        len: usize,
    },
}
