#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod client;
mod ecdh;
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

// For benchmarks and tests that put the ECDH backends side by side; not part of the stable API.
#[doc(hidden)]
pub use ecdh::EcdhBackend;
#[doc(hidden)]
pub use request::decode_request_with;

/// Length of the AES-GCM IV the SDK sends in `iv` and that prefixes the response.
pub const IV_LEN: usize = euid_crypto::GCM_IV_LEN;
