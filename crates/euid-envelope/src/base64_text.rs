//! Base64 as the Java operator reads it: the standard alphabet, strict (no whitespace,
//! no foreign characters), padding optional.

use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

const LENIENT_PADDING: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Decodes standard base64 with or without padding; `None` when it is not base64.
pub(crate) fn decode(text: &[u8]) -> Option<Vec<u8>> {
    LENIENT_PADDING.decode(text).ok()
}
