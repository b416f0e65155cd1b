//! Errors of token minting, decoding and configuration.

/// Why a token could not be minted or decoded, or a configuration was refused.
///
/// Messages never contain key material or identities.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The lifetimes are not positive or violate `refresh_expires >= identity_expires >= refresh_from`.
    #[error("invalid token configuration: {0}")]
    InvalidConfig(&'static str),
    /// No active key in a keyset needed to mint (the live operator's HTTP 500 text).
    #[error("No active encryption key available")]
    NoActiveKey {
        /// The keyset that had none (for the site key: the site's keyset or the fallback).
        keyset_id: i32,
    },
    /// Only v3 and v4 advertising tokens can be minted.
    #[error("advertising tokens can be minted as v3 or v4 only")]
    CannotMint,
    /// The token text is not base64 / base64url.
    #[error("token is not valid base64")]
    NotBase64,
    /// The version byte is not 2, 112 or 128.
    #[error("token version not supported")]
    VersionNotSupported,
    /// The token is too short or a length field is out of range.
    #[error("token is malformed: {0}")]
    Malformed(&'static str),
    /// The prefix byte has unknown bits, or disagrees with the raw UID's prefix.
    #[error("token identity prefix is invalid")]
    InvalidHeader,
    /// The master key id is not in the key store.
    #[error("master key {0} not found")]
    UnknownMasterKey(i32),
    /// The site key id is not in the key store.
    #[error("site key {0} not found")]
    UnknownSiteKey(i32),
    /// Authentication or padding failed.
    #[error("token decryption failed")]
    Decryption,
    /// The token expired before `now`.
    #[error("token expired")]
    Expired {
        /// Its expiry, Unix ms.
        expires_ms: i64,
    },
}
