#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
// Only `alloc` is needed; unit tests keep the std prelude.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

mod bits;
mod encode;
mod error;
mod model;
mod policy;
mod tc_string;

pub use encode::encode;
pub use error::{Segment, TcfError, VendorList};
pub use model::{PublisherRestriction, TcfModel, VendorIds, VendorSet};
pub use policy::{ConsentPolicy, ConsentVerdict};
pub use tc_string::TcString;

/// Parses, validates and fully decodes a TC string: `TcString::parse(text)?.decode()`.
pub fn decode(text: &str) -> Result<TcfModel, TcfError> {
    Ok(TcString::parse(text)?.decode())
}
