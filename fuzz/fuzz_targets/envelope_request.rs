#![no_main]
//! Any body, either encoding: open_request returns a typed error or a request, never panics.

use euid_envelope::{open_request, BodyEncoding, ClientSecret, SkewPolicy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let secret = ClientSecret::from_bytes([9; 32]);
    for encoding in [BodyEncoding::Base64Text, BodyEncoding::Binary] {
        let _ = open_request(
            data,
            encoding,
            &secret,
            1_700_000_000_000,
            &SkewPolicy::default(),
        );
    }
});
