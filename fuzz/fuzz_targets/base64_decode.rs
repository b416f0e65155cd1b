#![no_main]
//! Any bytes given to euid-base64's decoder (request bodies, refresh tokens): no panic, the
//! same verdict as the `base64` crate under Java's padding rule, and what decodes re-encodes
//! to the same text (up to padding and the ignored low bits of the last character).

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use euid_base64::{decode, decode_into, encode_to_string, Alphabet};
use euid_fuzz::reached;
use libfuzzer_sys::fuzz_target;

const CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);

fuzz_target!(|data: &[u8]| {
    for (alphabet, engine) in [
        (
            Alphabet::Standard,
            GeneralPurpose::new(&alphabet::STANDARD, CONFIG),
        ),
        (
            Alphabet::UrlSafeNoPad,
            GeneralPurpose::new(&alphabet::URL_SAFE, CONFIG),
        ),
    ] {
        let ours = decode(data, alphabet).ok();
        // Java refuses a pad that does not complete the last unit; the crate takes it.
        let java_pad_ok = !data.contains(&b'=') || data.len() % 4 == 0;
        let oracle = engine.decode(data).ok().filter(|_| java_pad_ok);
        assert_eq!(ours, oracle);

        let mut out = b"prefix".to_vec();
        match decode_into(data, alphabet, &mut out) {
            Ok(()) => assert_eq!(Some(&out[6..]), ours.as_deref()),
            Err(_) => assert_eq!(out, b"prefix"),
        }
        if let Some(bytes) = ours {
            reached("a decoded input");
            let again = encode_to_string(&bytes, alphabet);
            assert_eq!(decode(again.as_bytes(), alphabet).ok(), Some(bytes));
        }
    }
});
