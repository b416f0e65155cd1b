//! Refresh tokens: the inner v3 token (`wire.md` §4.4) and the 388-character refresh envelope
//! that wraps it with a `refresh_response_key` (§1.3–1.4).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_crypto::{AesGcmKey, GCM_IV_LEN, GCM_TAG_LEN};
use serde::Deserialize;
use zeroize::{Zeroize, Zeroizing};

use crate::advertising_token::OperatorIdentity;
use crate::byte_reader::Reader;
use crate::identity::{split_prefix, token_prefix};
use crate::keys::{Key, KeyLookup};
use crate::{IdentityScope, IdentityType};

/// Length of a refresh envelope in base64 characters (291 bytes). The live operator routes
/// only bodies of exactly this length to the v2 refresh path.
pub const REFRESH_ENVELOPE_LEN: usize = 388;
/// Length of the inner v3 refresh token in base64 characters (124 bytes).
pub const INNER_REFRESH_TOKEN_LEN: usize = 168;
const INNER_PAYLOAD_LEN: usize = 90;
const INNER_BYTES: usize = 6 + GCM_IV_LEN + INNER_PAYLOAD_LEN + GCM_TAG_LEN;
const ENVELOPE_BYTES: usize = 291;
const REFRESH_TOKEN_V3: u8 = 112;

/// How the operator should answer a [`RefreshError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefreshErrorKind {
    /// The envelope itself is unreadable: HTTP 400 `client_error` with the error's text.
    Envelope,
    /// The envelope opened but the token in it is not valid: HTTP 400 `invalid_token`
    /// (`Invalid Token presented`), or `error` / `Error refreshing token` without an API key.
    InvalidToken,
}

/// Why a refresh envelope could not be opened. The texts of the envelope errors are the live
/// operator's messages (`wire.md` §1.3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RefreshError {
    /// Not standard base64.
    #[error("Invalid body: Body is not valid base64.")]
    NotBase64,
    /// The envelope's key id is not in the key store.
    #[error("Invalid key: Generator of this token (Key ID: {0}) does not exist.")]
    UnknownKey(i32),
    /// AES-GCM authentication failed.
    #[error("Invalid data: Check encryption method and encryption key.")]
    Decryption,
    /// The decrypted payload is not the expected JSON.
    #[error("Invalid format: Payload is not valid json or missing required data.")]
    Format,
    /// Not 388 characters: the live operator takes such bodies for legacy tokens, which are
    /// not issued any more.
    #[error("Invalid Token presented")]
    WrongLength(usize),
    /// The inner refresh token does not decode (unknown key, failed authentication, bad
    /// layout, unsupported version).
    #[error("Invalid Token presented")]
    InvalidToken(&'static str),
    /// The token's scope is not this operator's, or the envelope and token disagree.
    #[error("Invalid Token presented")]
    ScopeMismatch,
}

impl RefreshError {
    /// Which kind of error response this becomes.
    pub fn kind(&self) -> RefreshErrorKind {
        match self {
            Self::NotBase64 | Self::UnknownKey(_) | Self::Decryption | Self::Format => {
                RefreshErrorKind::Envelope
            }
            _ => RefreshErrorKind::InvalidToken,
        }
    }
}

/// Every field of an inner refresh token.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// Identity scope.
    pub scope: IdentityScope,
    /// Identity type.
    pub identity_type: IdentityType,
    /// The refresh key (keyset −2) that encrypted it.
    pub key_id: i32,
    /// When it expires (= `refresh_expires`), Unix ms.
    pub expires_ms: i64,
    /// When it was created, Unix ms.
    pub created_ms: i64,
    /// The operator block.
    pub operator: OperatorIdentity,
    /// The publisher's site id.
    pub site_id: i32,
    /// Publisher id (0).
    pub publisher_id: i64,
    /// Client key id (0).
    pub client_key_id: i32,
    /// Privacy bits, copied into refreshed advertising tokens.
    pub privacy_bits: u32,
    /// When the identity was first established, Unix ms.
    pub established_ms: i64,
    /// The first-level hash (opt-out records are keyed by it).
    pub first_level_hash: [u8; 32],
}

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshToken")
            .field("scope", &self.scope)
            .field("identity_type", &self.identity_type)
            .field("key_id", &self.key_id)
            .field("expires_ms", &self.expires_ms)
            .field("created_ms", &self.created_ms)
            .field("operator", &self.operator)
            .field("site_id", &self.site_id)
            .field("publisher_id", &self.publisher_id)
            .field("client_key_id", &self.client_key_id)
            .field("privacy_bits", &self.privacy_bits)
            .field("established_ms", &self.established_ms)
            .field("first_level_hash", &"<redacted>")
            .finish()
    }
}

/// A refresh envelope after opening: the key to encrypt the response with, and the token.
#[derive(Debug, Clone)]
pub struct OpenedRefresh {
    /// The `refresh_response_key` from the envelope; the refresh response is encrypted with it.
    pub refresh_response_key: AesGcmKey,
    /// The decoded inner refresh token.
    pub token: RefreshToken,
}

/// Mints the inner v3 refresh token (168 characters of standard base64) under `key` with the
/// given IV. `token.key_id` is ignored: the key's id is written.
pub fn mint_refresh_token(token: &RefreshToken, key: &Key, iv: &[u8; GCM_IV_LEN]) -> String {
    let mut scratch = Zeroizing::new(Vec::new());
    let mut out = Vec::new();
    mint_refresh_token_into(token, key, iv, &mut scratch, &mut out);
    STANDARD.encode(&out)
}

/// Writes the inner token's bytes to `out` (cleared first), using `scratch` for the payload.
pub(crate) fn mint_refresh_token_into(
    token: &RefreshToken,
    key: &Key,
    iv: &[u8; GCM_IV_LEN],
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
) {
    let prefix = token_prefix(token.scope, token.identity_type);
    let w = scratch;
    w.clear();
    w.reserve(INNER_PAYLOAD_LEN);
    w.extend_from_slice(&token.expires_ms.to_be_bytes());
    w.extend_from_slice(&token.created_ms.to_be_bytes());
    token.operator.write(w);
    w.extend_from_slice(&token.site_id.to_be_bytes());
    w.extend_from_slice(&token.publisher_id.to_be_bytes());
    w.extend_from_slice(&token.client_key_id.to_be_bytes());
    w.extend_from_slice(&token.privacy_bits.to_be_bytes());
    w.extend_from_slice(&token.established_ms.to_be_bytes());
    w.push(prefix);
    w.extend_from_slice(&token.first_level_hash);

    out.clear();
    out.reserve(INNER_BYTES);
    out.push(prefix);
    out.push(REFRESH_TOKEN_V3);
    out.extend_from_slice(&key.id.to_be_bytes());
    key.secret().seal_into(iv, &[], w, out);
}

/// Appends the standard base64 of `input` to `out`.
fn push_base64(out: &mut Vec<u8>, input: &[u8]) {
    euid_base64::encode_into(input, euid_base64::Alphabet::Standard, out);
}

/// Decodes an inner v3 refresh token (no expiry check). Only a refresh key opens it (see
/// [`KeyLookup`]); any other key id is an unknown key.
pub fn decode_refresh_token<K: KeyLookup + ?Sized>(
    keys: &K,
    inner: &str,
) -> Result<RefreshToken, RefreshError> {
    let mut bytes = Zeroizing::new(
        euid_base64::decode(inner.as_bytes(), euid_base64::Alphabet::Standard)
            .map_err(|_| RefreshError::InvalidToken("not base64"))?,
    );
    if bytes.len() != INNER_BYTES {
        return Err(RefreshError::InvalidToken("length"));
    }
    if bytes[1] != REFRESH_TOKEN_V3 {
        return Err(RefreshError::InvalidToken("version not supported"));
    }
    let prefix = bytes[0];
    let (scope, identity_type) =
        split_prefix(prefix).ok_or(RefreshError::InvalidToken("identity prefix"))?;
    let key_id = i32::from_be_bytes([bytes[2], bytes[3], bytes[4], bytes[5]]);
    let key = keys
        .refresh_key(key_id)
        .ok_or(RefreshError::InvalidToken("unknown key"))?;
    let (iv, ct) = bytes[6..].split_at_mut(GCM_IV_LEN);
    let payload = key
        .secret()
        .open_in_place(iv, &[], ct)
        .map_err(|_| RefreshError::InvalidToken("decryption"))?;

    let mut r = Reader::new(payload);
    let bad = || RefreshError::InvalidToken("payload");
    let expires_ms = r.i64().ok_or_else(bad)?;
    let created_ms = r.i64().ok_or_else(bad)?;
    let operator = OperatorIdentity::read(&mut r).ok_or_else(bad)?;
    let site_id = r.i32().ok_or_else(bad)?;
    let publisher_id = r.i64().ok_or_else(bad)?;
    let client_key_id = r.i32().ok_or_else(bad)?;
    let privacy_bits = r.u32().ok_or_else(bad)?;
    let established_ms = r.i64().ok_or_else(bad)?;
    // The header byte is not authenticated; the copy inside the payload is.
    if r.u8().ok_or_else(bad)? != prefix {
        return Err(RefreshError::InvalidToken("identity prefix mismatch"));
    }
    let first_level_hash = r.array::<32>().ok_or_else(bad)?;
    Ok(RefreshToken {
        scope,
        identity_type,
        key_id,
        expires_ms,
        created_ms,
        operator,
        site_id,
        publisher_id,
        client_key_id,
        privacy_bits,
        established_ms,
        first_level_hash,
    })
}

/// Wraps an inner refresh token into the 388-character envelope: `scope << 4`, the refresh
/// key's id, and AES-GCM of `{"refresh_response_key":…,"refresh_token":…}` under that key.
pub fn seal_refresh_envelope(
    scope: IdentityScope,
    refresh_key: &Key,
    inner_token: &str,
    refresh_response_key_b64: &str,
    iv: &[u8; GCM_IV_LEN],
) -> String {
    let mut json = Zeroizing::new(Vec::with_capacity(ENVELOPE_JSON_CAPACITY));
    json.extend_from_slice(JSON_HEAD);
    json.extend_from_slice(refresh_response_key_b64.as_bytes());
    json.extend_from_slice(JSON_MIDDLE);
    json.extend_from_slice(inner_token.as_bytes());
    json.extend_from_slice(JSON_TAIL);
    let mut out = Vec::new();
    seal_envelope_json(scope, refresh_key, &json, iv, &mut out);
    STANDARD.encode(&out)
}

const JSON_HEAD: &[u8] = b"{\"refresh_response_key\":\"";
const JSON_MIDDLE: &[u8] = b"\",\"refresh_token\":\"";
const JSON_TAIL: &[u8] = b"\"}";
const ENVELOPE_JSON_CAPACITY: usize = 264;
/// Where the base64 `refresh_response_key` sits in the envelope JSON.
pub(crate) const RESPONSE_KEY_IN_JSON: std::ops::Range<usize> =
    JSON_HEAD.len()..JSON_HEAD.len() + 44;

/// Writes the envelope JSON for raw `refresh_response_key` and inner-token bytes to `json`
/// (cleared first), base64-encoding both in place.
pub(crate) fn envelope_json_into(
    refresh_response_key: &[u8],
    inner_token: &[u8],
    json: &mut Vec<u8>,
) {
    json.clear();
    json.reserve(ENVELOPE_JSON_CAPACITY);
    json.extend_from_slice(JSON_HEAD);
    push_base64(json, refresh_response_key);
    json.extend_from_slice(JSON_MIDDLE);
    push_base64(json, inner_token);
    json.extend_from_slice(JSON_TAIL);
}

/// Writes the envelope bytes (scope byte, key id, sealed JSON) to `out` (cleared first).
pub(crate) fn seal_envelope_json(
    scope: IdentityScope,
    refresh_key: &Key,
    json: &[u8],
    iv: &[u8; GCM_IV_LEN],
    out: &mut Vec<u8>,
) {
    out.clear();
    out.reserve(ENVELOPE_BYTES);
    out.push(scope.wire_value() << 4);
    out.extend_from_slice(&refresh_key.id.to_be_bytes());
    refresh_key.secret().seal_into(iv, &[], json, out);
}

/// The two fields of the envelope JSON, read without allocating when the JSON has exactly the
/// shape this operator and the live one write; other JSON goes through serde.
fn parse_envelope_json(json: &[u8]) -> Result<(AesGcmKey, &str), ()> {
    let fast = json
        .strip_prefix(JSON_HEAD)
        .and_then(|rest| rest.strip_suffix(JSON_TAIL))
        .and_then(|rest| {
            let key = rest.get(..44)?;
            let token = rest.get(44..)?.strip_prefix(JSON_MIDDLE)?;
            Some((key, token))
        });
    if let Some((key, token)) = fast {
        let key = std::str::from_utf8(key).map_err(|_| ())?;
        let token = std::str::from_utf8(token).map_err(|_| ())?;
        if !token.contains(['"', '\\']) {
            return Ok((AesGcmKey::from_base64(key).map_err(|_| ())?, token));
        }
    }
    Err(())
}

#[derive(Deserialize)]
struct EnvelopePayload {
    refresh_response_key: String,
    refresh_token: String,
}

impl Drop for EnvelopePayload {
    fn drop(&mut self) {
        self.refresh_response_key.zeroize();
    }
}

/// Opens a refresh envelope and decodes the refresh token inside (expiry is not checked: the
/// caller compares `token.expires_ms` with its clock, after its opt-out check). Both layers
/// open only under refresh keys (see [`KeyLookup`]): a key of any other keyset is an unknown
/// key, so the master and site keys handed to partners cannot forge a refresh token.
pub fn open_refresh_envelope<K: KeyLookup + ?Sized>(
    keys: &K,
    envelope: &str,
) -> Result<OpenedRefresh, RefreshError> {
    if envelope.len() != REFRESH_ENVELOPE_LEN {
        return Err(RefreshError::WrongLength(envelope.len()));
    }
    let mut bytes = Zeroizing::new(
        euid_base64::decode(envelope.as_bytes(), euid_base64::Alphabet::Standard)
            .map_err(|_| RefreshError::NotBase64)?,
    );
    if bytes.len() < 5 + GCM_IV_LEN + GCM_TAG_LEN {
        return Err(RefreshError::Decryption);
    }
    let scope_byte = bytes[0];
    let key_id = i32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
    let key = keys
        .refresh_key(key_id)
        .ok_or(RefreshError::UnknownKey(key_id))?;
    let (iv, ct) = bytes[5..].split_at_mut(GCM_IV_LEN);
    let json = key
        .secret()
        .open_in_place(iv, &[], ct)
        .map_err(|_| RefreshError::Decryption)?;
    let payload;
    let (refresh_response_key, inner) = match parse_envelope_json(json) {
        Ok(fields) => fields,
        Err(()) => {
            payload = serde_json::from_slice::<EnvelopePayload>(json)
                .map_err(|_| RefreshError::Format)?;
            let key = AesGcmKey::from_base64(&payload.refresh_response_key)
                .map_err(|_| RefreshError::Format)?;
            (key, payload.refresh_token.as_str())
        }
    };
    let token = decode_refresh_token(keys, inner)?;
    if scope_byte != token.scope.wire_value() << 4 {
        return Err(RefreshError::ScopeMismatch);
    }
    Ok(OpenedRefresh {
        refresh_response_key,
        token,
    })
}
