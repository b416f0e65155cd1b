#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
// Only `alloc` is needed; unit tests keep the std prelude.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

mod email;
mod error;
mod hash_input;
mod identity_hash;
mod identity_input;
mod identity_type;
mod phone;
mod sha256;

pub use email::{hash_email, normalize_email, normalize_email_into};
pub use error::NormalizeError;
pub use hash_input::{
    parse_email_hash, parse_hash_input, parse_phone_hash, BASE64_HASH_INPUT_LEN, HEX_HASH_INPUT_LEN,
};
pub use identity_hash::{
    IdentityHash, MAX_IDENTITY_HASH_LEN, MIN_IDENTITY_HASH_LEN, SHA256_IDENTITY_HASH_LEN,
};
pub use identity_input::IdentityInput;
pub use identity_type::IdentityType;
pub use phone::{
    hash_phone, is_phone_normalized, validate_phone, MAX_PHONE_DIGITS, MIN_PHONE_DIGITS,
};
