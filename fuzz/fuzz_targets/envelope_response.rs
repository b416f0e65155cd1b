#![no_main]
//! Any response body: open_response never panics.

use euid_envelope::{open_response, ClientSecret};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let secret = ClientSecret::from_bytes([9; 32]);
    let _ = open_response(&secret, data, Some([1; 8]));
});
