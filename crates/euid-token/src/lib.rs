#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod advertising_token;
mod byte_reader;
mod error;
mod generator;
mod hashids;
mod identity;
mod keys;
#[cfg(feature = "legacy-v2")]
mod legacy_cbc;
mod raw_uid_derivation;
mod raw_uid_v4;
mod refresh_token;
mod salt_rotation;
mod salts;

pub use euid_normalize::IdentityType;

#[cfg(feature = "legacy-v2")]
pub use advertising_token::decode_advertising_token_with_legacy;
pub use advertising_token::{
    decode_advertising_token, mint_advertising_token, mint_advertising_token_bytes,
    AdvertisingToken, AdvertisingTokenFields, OperatorIdentity, TokenVersion,
};
pub use error::TokenError;
pub use generator::{
    GenerateRequest, IdentityTokens, RefreshOutcome, TokenConfig, TokenGenerator,
    PRIVACY_BITS_CLIENT_SIDE, PRIVACY_BITS_GENERATE,
};
pub use identity::{
    first_level_hash, raw_uid, raw_uid_v2, IdentityScope, RawUid, RawUidVersion, RAW_UID_V2_LEN,
    RAW_UID_V3_LEN,
};
pub use keys::{
    Key, KeyLookup, KeyStore, KeyStoreError, Keyset, UnscopedKeys, FALLBACK_PUBLISHER_KEYSET_ID,
    FALLBACK_PUBLISHER_SITE_ID, MASTER_KEYSET_ID, MASTER_KEYSET_ID_FOR_SDKS, REFRESH_KEYSET_ID,
};
pub use raw_uid_derivation::{
    refresh_from_ms, IdentityConfig, IdentityMapping, PREVIOUS_RAW_UID_WINDOW_MS,
};
pub use raw_uid_v4::IdentityEnvironment;
pub use refresh_token::{
    decode_refresh_token, mint_refresh_token, open_refresh_envelope, seal_refresh_envelope,
    OpenedRefresh, RefreshError, RefreshErrorKind, RefreshToken, INNER_REFRESH_TOKEN_LEN,
    REFRESH_ENVELOPE_LEN,
};
pub use salt_rotation::{
    rotate_salts, SaltRotation, DEFAULT_ROTATION_FRACTION, SALT_REFRESH_INTERVAL_MS,
};
pub use salts::{
    bucket_index, SaltBucket, SaltBucketRef, SaltError, SaltFileLocation, SaltKeyMaterial,
    SaltKeyRef, SaltStore, MAX_SALT_KEY_ID, PRODUCTION_BUCKET_COUNT, SALT_KEY_LEN,
};
