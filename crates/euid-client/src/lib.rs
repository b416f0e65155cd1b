#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod decrypt;
mod envelope;
mod error;
mod identity_map;
mod identity_map_v3;
mod keys;
mod publisher;

#[cfg(feature = "tokio")]
mod async_clients;
#[cfg(any(feature = "blocking", feature = "tokio"))]
mod calls;
#[cfg(feature = "blocking")]
mod clients;
pub mod transport;

pub use decrypt::{
    decrypt_token, encrypt_raw_uid, ClientType, DecryptionResponse, DecryptionStatus,
    EncryptionError,
};
pub use envelope::{
    open_refresh, open_refresh_json, refresh_request_body, EnvelopeRequest, ResponseJson,
    CLIENT_VERSION,
};
pub use error::ClientError;
pub use identity_map::{
    optout_status_request_json, parse_optout_status, IdentityMapInput, IdentityMapResponse,
    MappedIdentity, UnmappedIdentity, MAX_OPTOUT_STATUS_IDS,
};
pub use identity_map_v3::{
    IdentityMapV3Input, IdentityMapV3Outcome, IdentityMapV3Result, UnmappedReason,
    MAX_IDENTITY_MAP_V3_BATCH,
};
pub use keys::{KeySnapshot, KeysError};
pub use publisher::{IdentityTokens, TokenGenerateInput, TokenResponse};

#[cfg(feature = "blocking")]
pub use clients::{
    BackgroundRefresh, BidstreamClient, IdentityMapClient, PublisherClient, SharingClient,
};
pub use transport::TransportConfig;

#[cfg(feature = "tokio")]
pub use async_clients::{
    AsyncBackgroundRefresh, AsyncBidstreamClient, AsyncIdentityMapClient, AsyncPublisherClient,
    AsyncSharingClient,
};

pub use euid_envelope::ClientSecret;

/// The wall clock, Unix ms.
#[cfg(any(feature = "blocking", feature = "tokio"))]
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
pub use euid_token::{IdentityScope, IdentityType, TokenVersion};
