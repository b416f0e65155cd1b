#![no_main]
//! Any refresh response body: open_refresh_response never panics.

use euid_crypto::AesGcmKey;
use euid_envelope::open_refresh_response;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = AesGcmKey::from_bytes([9; 32]);
    let _ = open_refresh_response(&key, data);
});
