#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod decrypt;
mod envelope;
mod error;
mod identity_map;
mod identity_map_v3;
mod keys;
mod publisher;

#[cfg(feature = "blocking")]
mod clients;
#[cfg(feature = "blocking")]
pub mod transport;

pub use decrypt::{
    decrypt_token, encrypt_raw_uid, ClientType, DecryptionResponse, DecryptionStatus,
    EncryptionError,
};
pub use envelope::{
    open_refresh, refresh_request_body, EnvelopeRequest, ResponseJson, CLIENT_VERSION,
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
pub use keys::KeySnapshot;
pub use publisher::{IdentityTokens, TokenGenerateInput, TokenResponse};

#[cfg(feature = "blocking")]
pub use clients::{
    BackgroundRefresh, BidstreamClient, IdentityMapClient, PublisherClient, SharingClient,
};
#[cfg(feature = "blocking")]
pub use transport::TransportConfig;

pub use euid_envelope::ClientSecret;
pub use euid_token::{IdentityScope, IdentityType, TokenVersion};
