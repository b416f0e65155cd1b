//! Base64 as the Java operator reads request bodies (`java.util.Base64.getDecoder()`): the
//! standard alphabet, strict, padding optional but complete when present, unused low bits
//! of the last character ignored. The rules and their tests live in `euid-base64`.

/// Decodes standard base64 with or without padding; `None` when it is not base64.
pub(crate) fn decode(text: &[u8]) -> Option<Vec<u8>> {
    euid_base64::decode(text, euid_base64::Alphabet::Standard).ok()
}
