#![no_main]
//! Any bytes handed to AES-GCM open fail cleanly, never panic.

use euid_crypto::AesGcmKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = AesGcmKey::from_bytes([9; 32]);
    let _ = key.open(data);
});
