#![no_main]
//! Any bytes, read as an email, phone number or hash input, give a typed result and
//! never panic; accepted results are consistent with each other.

use euid_fuzz::reached;
use euid_normalize::{
    hash_email, hash_phone, normalize_email, parse_email_hash, parse_phone_hash, IdentityHash,
    IdentityInput, IdentityType,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);

    match normalize_email(&text) {
        Ok(normalized) => {
            reached("a normalized email");
            assert_eq!(
                normalize_email(&normalized).as_deref(),
                Ok(normalized.as_str())
            );
            assert_eq!(hash_email(&text), hash_email(&normalized));
        }
        Err(err) => assert_eq!(hash_email(&text), Err(err)),
    }

    // A hash computed from an email or phone number is a valid hash input of its type.
    if let Ok(hash) = hash_email(&text) {
        assert_eq!(parse_email_hash(&hash.to_base64()), Ok(hash));
    }
    if let Ok(hash) = hash_phone(&text) {
        assert_eq!(parse_phone_hash(&hash.to_base64()), Ok(hash));
    }

    // Whatever hash input was accepted re-encodes to a canonical form that parses to itself.
    if let Ok(hash) = parse_email_hash(&text) {
        assert_eq!(parse_email_hash(&hash.to_base64()), Ok(hash));
    }
    if let Ok(hash) = parse_phone_hash(&text) {
        assert_eq!(parse_phone_hash(&hash.to_base64()), Ok(hash));
    }

    for input in [
        IdentityInput::Email(&text),
        IdentityInput::EmailHash(&text),
        IdentityInput::Phone(&text),
        IdentityInput::PhoneHash(&text),
    ] {
        if let Ok(hash) = input.to_identity_hash() {
            reached("an identity hash");
            assert_eq!(hash.identity_type(), input.identity_type());
        }
    }

    let _ = IdentityHash::from_bytes(IdentityType::Phone, data);
});
