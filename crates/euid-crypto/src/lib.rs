#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod aes_gcm_key;
mod random;

pub use aes_gcm_key::{AesGcmKey, CryptoError, GCM_IV_LEN, GCM_TAG_LEN};
pub use random::{BatchedOsRandom, FastRandom, RandomSource};
