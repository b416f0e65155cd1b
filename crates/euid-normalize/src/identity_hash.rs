use alloc::string::String;
use core::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::{IdentityType, NormalizeError};

/// Length of a SHA-256 identity hash: what raw emails, raw phones and 64-character hex
/// inputs produce.
pub const SHA256_IDENTITY_HASH_LEN: usize = 32;
/// Shortest identity hash: a 44-character base64 input ending in `==` decodes to 31 bytes.
pub const MIN_IDENTITY_HASH_LEN: usize = 31;
/// Longest identity hash: a 44-character base64 input without padding decodes to 33 bytes.
pub const MAX_IDENTITY_HASH_LEN: usize = 33;

/// The identity hash of one piece of directly identifying information, and its type.
///
/// Usually the 32-byte SHA-256 of the normalized email or phone number. The operator also
/// accepts any 44-character base64 `email_hash` / `phone_hash` as-is, which decodes to
/// 31, 32 or 33 bytes (`wire.md` §2.2), so up to 33 bytes are held inline: no heap.
///
/// `Debug` shows the type and length only: a hash of an email is still personal data.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdentityHash {
    identity_type: IdentityType,
    // Invariant: MIN_IDENTITY_HASH_LEN <= len <= MAX_IDENTITY_HASH_LEN, and the bytes
    // past `len` are zero so that the derived comparisons only see the hash itself.
    len: u8,
    bytes: [u8; MAX_IDENTITY_HASH_LEN],
}

impl IdentityHash {
    /// An identity hash from its raw bytes, which must be 31 to 33 bytes long
    /// (32 for every SHA-256; 31 and 33 only come from unusual base64 hash inputs).
    pub fn from_bytes(identity_type: IdentityType, bytes: &[u8]) -> Result<Self, NormalizeError> {
        let len = bytes.len();
        if !(MIN_IDENTITY_HASH_LEN..=MAX_IDENTITY_HASH_LEN).contains(&len) {
            return Err(NormalizeError::IdentityHashLength { len });
        }
        let mut inline = [0u8; MAX_IDENTITY_HASH_LEN];
        inline[..len].copy_from_slice(bytes);
        Ok(Self {
            identity_type,
            len: len as u8,
            bytes: inline,
        })
    }

    /// An identity hash from a SHA-256 digest; cannot fail.
    pub fn from_sha256(
        identity_type: IdentityType,
        digest: [u8; SHA256_IDENTITY_HASH_LEN],
    ) -> Self {
        let mut inline = [0u8; MAX_IDENTITY_HASH_LEN];
        inline[..SHA256_IDENTITY_HASH_LEN].copy_from_slice(&digest);
        Self {
            identity_type,
            len: SHA256_IDENTITY_HASH_LEN as u8,
            bytes: inline,
        }
    }

    /// Whether this was made from an email or a phone number.
    pub fn identity_type(&self) -> IdentityType {
        self.identity_type
    }

    /// The identity hash bytes: 32 for every SHA-256, 31 or 33 only for unusual base64
    /// hash inputs.
    pub fn as_bytes(&self) -> &[u8] {
        // In bounds by the invariant every constructor establishes.
        &self.bytes[..usize::from(self.len)]
    }

    /// The canonical standard base64 (with `=` padding) of [`as_bytes`](Self::as_bytes),
    /// as the operator re-encodes it before the first-level hash (`wire.md` §3).
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.as_bytes())
    }

    /// Appends the canonical base64 to `out`; allocates only if `out` lacks capacity.
    pub fn write_base64(&self, out: &mut String) {
        STANDARD.encode_string(self.as_bytes(), out);
    }
}

impl fmt::Debug for IdentityHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityHash")
            .field("identity_type", &self.identity_type)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_bytes_accepts_31_to_33_bytes_only() {
        for len in 0..=40 {
            let bytes = vec![0xA5; len];
            let result = IdentityHash::from_bytes(IdentityType::Phone, &bytes);
            if (31..=33).contains(&len) {
                let hash = result.expect("length in range");
                assert_eq!(hash.as_bytes(), &bytes[..]);
                assert_eq!(hash.identity_type(), IdentityType::Phone);
            } else {
                assert_eq!(result, Err(NormalizeError::IdentityHashLength { len }));
            }
        }
    }

    #[test]
    fn equality_covers_type_and_length() {
        let bytes = [7u8; 33];
        let email32 = IdentityHash::from_bytes(IdentityType::Email, &bytes[..32]).unwrap();
        let phone32 = IdentityHash::from_bytes(IdentityType::Phone, &bytes[..32]).unwrap();
        let email33 = IdentityHash::from_bytes(IdentityType::Email, &bytes).unwrap();
        assert_ne!(email32, phone32);
        assert_ne!(email32, email33);
        assert_eq!(
            email32,
            IdentityHash::from_sha256(IdentityType::Email, [7; 32])
        );
    }

    #[test]
    fn base64_is_canonical_and_appends() {
        let hash = IdentityHash::from_sha256(IdentityType::Email, [0xFF; 32]);
        assert_eq!(
            hash.to_base64(),
            "//////////////////////////////////////////8="
        );
        let mut out = String::from("x:");
        hash.write_base64(&mut out);
        assert_eq!(out, format!("x:{}", hash.to_base64()));
    }

    #[test]
    fn debug_hides_the_bytes() {
        let hash = IdentityHash::from_sha256(IdentityType::Email, [0xAB; 32]);
        let shown = format!("{hash:?}");
        assert!(shown.contains("Email"), "{shown}");
        assert!(
            !shown.contains("171, 171") && !shown.to_lowercase().contains("abab"),
            "{shown}"
        );
        assert!(!shown.contains(&hash.to_base64()), "{shown}");
    }
}
