use crate::{base64_text, ClientSecret};
use euid_crypto::{AesGcmKey, RandomSource, GCM_IV_LEN, GCM_TAG_LEN};

/// Why a response could not be opened (the client side).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// Too short to hold an IV, a timestamp, a nonce and a tag.
    #[error("response too short to be an envelope")]
    TooShort,
    /// Neither the base64 text nor the raw bytes authenticate under the key.
    #[error("response decryption failed")]
    Decryption,
    /// The response does not echo the request's nonce.
    #[error("nonce mismatch")]
    NonceMismatch,
}

/// An opened response envelope. `Debug` shows the JSON's length, not the JSON (it holds
/// tokens and keys).
#[derive(Clone, PartialEq, Eq)]
pub struct OpenedResponse {
    /// The server's timestamp, Unix ms (clients do not check it).
    pub timestamp_ms: i64,
    /// The echoed nonce.
    pub nonce: [u8; 8],
    /// The response JSON.
    pub json: Vec<u8>,
}

impl std::fmt::Debug for OpenedResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedResponse")
            .field("timestamp_ms", &self.timestamp_ms)
            .field("nonce", &self.nonce)
            .field("json_len", &self.json.len())
            .finish_non_exhaustive()
    }
}

/// Seals a response: `IV ‖ GCM(ts ‖ nonce ‖ json) ‖ tag`, raw bytes, no version byte.
pub fn seal_response(
    secret: &ClientSecret,
    timestamp_ms: i64,
    nonce: [u8; 8],
    json: &[u8],
    rng: &mut impl RandomSource,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(GCM_IV_LEN + 16 + json.len() + GCM_TAG_LEN);
    seal_response_into(secret, timestamp_ms, nonce, json, rng, &mut out);
    out
}

/// [`seal_response`] appending to `out`, for callers that reuse buffers.
pub fn seal_response_into(
    secret: &ClientSecret,
    timestamp_ms: i64,
    nonce: [u8; 8],
    json: &[u8],
    rng: &mut impl RandomSource,
    out: &mut Vec<u8>,
) {
    let mut iv = [0u8; GCM_IV_LEN];
    rng.fill(&mut iv);
    out.reserve(GCM_IV_LEN + 16 + json.len() + GCM_TAG_LEN);
    out.extend_from_slice(&iv);
    let start = out.len();
    out.extend_from_slice(&timestamp_ms.to_be_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(json);
    secret.key().seal_tail_in_place(&iv, &[], out, start);
}

/// Opens a response envelope given as raw bytes or base64 text (trailing whitespace is
/// ignored), and checks the nonce echo when `expected_nonce` is given.
pub fn open_response(
    secret: &ClientSecret,
    body: &[u8],
    expected_nonce: Option<[u8; 8]>,
) -> Result<OpenedResponse, ResponseError> {
    let plaintext = open_text_or_raw(secret.key(), body, 16)?;
    let (prefix, json) = plaintext.split_at(16);
    let mut ts = [0u8; 8];
    ts.copy_from_slice(&prefix[..8]);
    let mut nonce = [0u8; 8];
    nonce.copy_from_slice(&prefix[8..]);
    if expected_nonce.is_some_and(|expected| expected != nonce) {
        return Err(ResponseError::NonceMismatch);
    }
    Ok(OpenedResponse {
        timestamp_ms: i64::from_be_bytes(ts),
        nonce,
        json: json.to_vec(),
    })
}

/// Seals a `/v2/token/refresh` response: `IV ‖ GCM(refresh_response_key; json) ‖ tag`,
/// with no timestamp and no nonce (`wire.md` §1.3).
pub fn seal_refresh_response(key: &AesGcmKey, json: &[u8], rng: &mut impl RandomSource) -> Vec<u8> {
    let mut iv = [0u8; GCM_IV_LEN];
    rng.fill(&mut iv);
    key.seal(&iv, json)
}

/// Opens a refresh response (raw bytes or base64 text) and returns its JSON.
pub fn open_refresh_response(key: &AesGcmKey, body: &[u8]) -> Result<Vec<u8>, ResponseError> {
    open_text_or_raw(key, body, 0)
}

fn open_text_or_raw(key: &AesGcmKey, body: &[u8], prefix: usize) -> Result<Vec<u8>, ResponseError> {
    let min = GCM_IV_LEN + prefix + GCM_TAG_LEN;
    let text = body.trim_ascii_end();
    let mut too_short = true;
    // Base64 first (the usual body); raw bytes that happen to be base64 still get a second try.
    let candidates = [base64_text::decode(text), Some(body.to_vec())];
    for candidate in candidates.into_iter().flatten() {
        if candidate.len() < min {
            continue;
        }
        too_short = false;
        if let Ok(plaintext) = key.open(&candidate) {
            return Ok(plaintext);
        }
    }
    Err(if too_short {
        ResponseError::TooShort
    } else {
        ResponseError::Decryption
    })
}
