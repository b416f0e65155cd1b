use crate::{base64_text, ClientSecret};
use euid_crypto::{RandomSource, GCM_IV_LEN, GCM_TAG_LEN};

/// The envelope version byte every request starts with.
pub const REQUEST_VERSION: u8 = 1;
/// Version byte + IV + timestamp + nonce + tag: anything shorter is rejected unopened.
pub const MIN_REQUEST_LEN: usize = 1 + GCM_IV_LEN + 8 + 8 + GCM_TAG_LEN;
/// The docs pointer the live EUID operator appends to envelope errors.
pub const DOCS_HINT: &str =
    " See https://euid.eu/docs/getting-started/gs-encryption-decryption for details on the request envelope format.";

const HEADER_LEN: usize = 1 + GCM_IV_LEN;
const PLAINTEXT_PREFIX_LEN: usize = 16;

/// Why a request envelope was refused. `Display` is the live operator's exact message
/// (`wire.md` §1.1), so a server can return it unchanged in `{"status":"client_error"}`.
///
/// Authentication failure is one opaque variant: it never says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The body is empty.
    #[error("Invalid body: Body is missing.")]
    BodyMissing,
    /// The body is plain JSON, not an envelope.
    #[error("Invalid body: The request body is unencrypted JSON. It must be an encrypted request envelope. See https://euid.eu/docs/getting-started/gs-encryption-decryption#encryption-and-decryption-code-examples for encryption and decryption code examples.")]
    UnencryptedJson,
    /// The body is not standard base64.
    #[error("Invalid body: Body is not valid base64.{DOCS_HINT}")]
    NotBase64,
    /// Fewer than [`MIN_REQUEST_LEN`] bytes.
    #[error("Invalid body: Body too short. Check encryption method.{DOCS_HINT}")]
    TooShort,
    /// The first byte is not [`REQUEST_VERSION`]; carries it as Java's signed byte prints.
    #[error("Invalid body: Invalid request envelope format version: received {0}, must be 1.{DOCS_HINT}")]
    Version(i8),
    /// AES-GCM authentication failed (wrong secret, tampering or truncation).
    #[error("Invalid body: Check encryption key (ClientSecret).{DOCS_HINT}")]
    Decryption,
    /// The timestamp is outside the allowed clock skew.
    #[error("Invalid timestamp: Request too old or client time drift.")]
    Timestamp,
    /// The payload is neither empty nor a JSON object in UTF-8.
    #[error("Invalid payload in body: Data is not valid json string.")]
    PayloadNotJsonObject,
}

/// How far a request timestamp may be from the server clock.
///
/// The default, ±120 s, is the live operator's effective window (decision 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SkewPolicy {
    /// The most a timestamp may lie in the past, in ms.
    pub max_past_ms: i64,
    /// The most a timestamp may lie in the future, in ms.
    pub max_future_ms: i64,
}

impl SkewPolicy {
    /// The same window both ways.
    pub const fn symmetric(max_skew_ms: i64) -> Self {
        Self {
            max_past_ms: max_skew_ms,
            max_future_ms: max_skew_ms,
        }
    }

    /// Whether a request made at `timestamp_ms` is acceptable at `now_ms`.
    pub fn allows(&self, timestamp_ms: i64, now_ms: i64) -> bool {
        let age = i128::from(now_ms) - i128::from(timestamp_ms);
        age <= i128::from(self.max_past_ms) && -age <= i128::from(self.max_future_ms)
    }
}

impl Default for SkewPolicy {
    fn default() -> Self {
        Self::symmetric(120_000)
    }
}

/// How an HTTP body carries an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyEncoding {
    /// Standard base64 text (the default; any Content-Type).
    Base64Text,
    /// Raw bytes (`Content-Type: application/octet-stream`).
    Binary,
}

/// An opened, authenticated, in-window request. `Debug` shows the JSON's length, not the
/// JSON (it holds identities and tokens).
#[derive(Clone, PartialEq, Eq)]
pub struct OpenedRequest {
    /// The client's timestamp, Unix ms.
    pub timestamp_ms: i64,
    /// The nonce the response must echo.
    pub nonce: [u8; 8],
    /// The request JSON: empty, or a JSON object.
    pub json: Vec<u8>,
    /// How to encode the response: binary only when the binary body opened as such.
    pub response_encoding: BodyEncoding,
}

impl std::fmt::Debug for OpenedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedRequest")
            .field("timestamp_ms", &self.timestamp_ms)
            .field("nonce", &self.nonce)
            .field("json_len", &self.json.len())
            .field("response_encoding", &self.response_encoding)
            .finish_non_exhaustive()
    }
}

/// Opens a request envelope, checking in the live operator's order: empty body, base64,
/// length, version byte, authentication, timestamp skew, JSON object.
///
/// With [`BodyEncoding::Binary`], a body that fails as raw bytes is tried as base64 text
/// (as the live operator does since 2025), and then answered as text.
pub fn open_request(
    body: &[u8],
    encoding: BodyEncoding,
    secret: &ClientSecret,
    now_ms: i64,
    skew: &SkewPolicy,
) -> Result<OpenedRequest, RequestError> {
    if body.is_empty() {
        return Err(RequestError::BodyMissing);
    }
    if encoding == BodyEncoding::Binary {
        let binary = open_decoded(body.to_vec(), secret, now_ms, skew, BodyEncoding::Binary);
        if binary.is_ok() {
            return binary;
        }
        return match base64_text::decode(body) {
            Some(decoded) => open_decoded(decoded, secret, now_ms, skew, BodyEncoding::Base64Text),
            None => binary,
        };
    }
    let decoded = match base64_text::decode(body) {
        Some(decoded) => decoded,
        None if looks_like_json(body) => return Err(RequestError::UnencryptedJson),
        None => return Err(RequestError::NotBase64),
    };
    open_decoded(decoded, secret, now_ms, skew, BodyEncoding::Base64Text)
}

fn looks_like_json(body: &[u8]) -> bool {
    let trimmed = body.trim_ascii();
    matches!(trimmed.first(), Some(b'{' | b'['))
        && serde_json::from_slice::<serde::de::IgnoredAny>(trimmed).is_ok()
}

fn open_decoded(
    mut buf: Vec<u8>,
    secret: &ClientSecret,
    now_ms: i64,
    skew: &SkewPolicy,
    response_encoding: BodyEncoding,
) -> Result<OpenedRequest, RequestError> {
    if buf.len() < MIN_REQUEST_LEN {
        return Err(RequestError::TooShort);
    }
    if buf[0] != REQUEST_VERSION {
        return Err(RequestError::Version(i8::from_be_bytes([buf[0]])));
    }
    let (header, sealed) = buf.split_at_mut(HEADER_LEN);
    let plaintext_len = secret
        .key()
        .open_in_place(&header[1..], &[], sealed)
        .map_err(|_| RequestError::Decryption)?
        .len();
    let plaintext = &buf[HEADER_LEN..HEADER_LEN + plaintext_len];
    let timestamp_ms = i64::from_be_bytes(read_array(&plaintext[..8]));
    let nonce: [u8; 8] = read_array(&plaintext[8..16]);
    if !skew.allows(timestamp_ms, now_ms) {
        return Err(RequestError::Timestamp);
    }
    let json_start = HEADER_LEN + PLAINTEXT_PREFIX_LEN;
    let json_len = plaintext_len - PLAINTEXT_PREFIX_LEN;
    // Reuse the decoded buffer for the JSON instead of allocating again.
    buf.copy_within(json_start..json_start + json_len, 0);
    buf.truncate(json_len);
    // JSON text is UTF-8 (RFC 8259); skipping string values does not check it, so check here.
    if !buf.is_empty()
        && (std::str::from_utf8(&buf).is_err()
            || serde_json::from_slice::<ObjectOnly>(&buf).is_err())
    {
        return Err(RequestError::PayloadNotJsonObject);
    }
    Ok(OpenedRequest {
        timestamp_ms,
        nonce,
        json: buf,
        response_encoding,
    })
}

fn read_array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(bytes);
    out
}

/// Deserializes only from a JSON object, skipping its contents.
struct ObjectOnly;

impl<'de> serde::Deserialize<'de> for ObjectOnly {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = ObjectOnly;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<ObjectOnly, A::Error> {
                while map
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(ObjectOnly)
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// Seals a request envelope (the client side): `0x01 ‖ IV ‖ GCM(ts ‖ nonce ‖ json) ‖ tag`,
/// as raw bytes; base64-encode them for the default text body.
pub fn seal_request(
    secret: &ClientSecret,
    timestamp_ms: i64,
    nonce: [u8; 8],
    json: &[u8],
    rng: &mut impl RandomSource,
) -> Vec<u8> {
    let mut iv = [0u8; GCM_IV_LEN];
    rng.fill(&mut iv);
    let mut out = Vec::with_capacity(MIN_REQUEST_LEN + json.len());
    out.push(REQUEST_VERSION);
    out.extend_from_slice(&iv);
    out.extend_from_slice(&timestamp_ms.to_be_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(json);
    secret
        .key()
        .seal_tail_in_place(&iv, &[], &mut out, HEADER_LEN);
    out
}
