#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod client;
mod error;
mod keypair;
mod origin;
mod request;

pub use client::{ClientIdentity, ClientRequest, ClientSession};
pub use error::{CstgError, KeypairError};
pub use keypair::{
    generate_subscription_id, KeypairStore, ServerKeypair, PRIVATE_KEY_PREFIX, PUBLIC_KEY_PREFIX,
};
pub use origin::{app_name_allowed, origin_allowed};
pub use request::{aad_for, decode_request, DecodedRequest, HashedIdentity};

/// Length of the AES-GCM IV the SDK sends in `iv` and that prefixes the response.
pub const IV_LEN: usize = euid_crypto::GCM_IV_LEN;
