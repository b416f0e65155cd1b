use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_crypto::{AesGcmKey, RandomSource, GCM_IV_LEN};
use euid_normalize::IdentityType;
use serde::Deserialize;
use zeroize::Zeroize;

use crate::ecdh::EcdhBackend;
use crate::error::CstgError;
use crate::keypair::{parse_spki_base64, KeypairStore, ServerKeypair};
use crate::origin::{app_name_allowed, origin_allowed};

/// The plain JSON body the SDK posts. Unknown fields are ignored.
#[derive(Deserialize)]
struct WireRequest {
    payload: Option<String>,
    iv: Option<String>,
    public_key: Option<String>,
    // Java reads a primitive long: absent means 0.
    #[serde(default)]
    timestamp: i64,
    subscription_id: Option<String>,
    app_name: Option<String>,
}

/// The identity hash a client sent: base64 SHA-256 of a normalized email or phone.
///
/// Not validated here: the operator checks it like any `email_hash` / `phone_hash`
/// (`wire.md` §2.2). `Debug` hides the hash.
#[derive(Clone, PartialEq, Eq)]
pub struct HashedIdentity {
    /// Email or phone.
    pub identity_type: IdentityType,
    /// The `email_hash` / `phone_hash` string as sent.
    pub hash: String,
}

impl fmt::Debug for HashedIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashedIdentity")
            .field("identity_type", &self.identity_type)
            .field("hash", &"<redacted>")
            .finish()
    }
}

/// A request that passed every check: the identity to issue tokens for, and the shared
/// key to seal the answer with.
#[derive(Debug)]
pub struct DecodedRequest<'a> {
    /// The subscription's keypair (site id, names).
    pub keypair: &'a ServerKeypair,
    /// What to generate tokens for.
    pub identity: HashedIdentity,
    /// The client's `timestamp` (ms); not checked, as upstream since Nov 2023.
    pub timestamp_ms: i64,
    /// The `app_name`, when a mobile app sent one.
    pub app_name: Option<String>,
    shared_key: AesGcmKey,
}

impl DecodedRequest<'_> {
    /// Seals a response JSON (`{"status":"success","body":{…}}` or `{"status":"optout"}`)
    /// for the client: base64 of `IV ‖ GCM(shared secret, json) ‖ tag`, no AAD.
    pub fn seal_response(&self, json: &[u8], rng: &mut impl RandomSource) -> String {
        seal_base64(&self.shared_key, json, rng)
    }

    /// The ECDH shared secret used as the AES-256-GCM key.
    pub fn shared_key(&self) -> &AesGcmKey {
        &self.shared_key
    }
}

pub(crate) fn seal_base64(key: &AesGcmKey, json: &[u8], rng: &mut impl RandomSource) -> String {
    let mut iv = [0u8; GCM_IV_LEN];
    rng.fill(&mut iv);
    let mut sealed = Vec::new();
    key.seal_into(&iv, &[], json, &mut sealed);
    STANDARD.encode(sealed)
}

/// The AAD the client authenticated: the compact JSON array `[timestamp]` or
/// `[timestamp,"app_name"]`, as Vert.x and `JSON.stringify` both write it.
pub fn aad_for(timestamp_ms: i64, app_name: Option<&str>) -> Vec<u8> {
    match app_name {
        None => format!("[{timestamp_ms}]").into_bytes(),
        Some(name) => {
            // A string always serializes.
            let quoted = serde_json::to_string(name).unwrap_or_default();
            format!("[{timestamp_ms},{quoted}]").into_bytes()
        }
    }
}

/// Decodes a `/v2/token/client-generate` body (`wire.md` §7) for the keypairs in `store`.
///
/// `origin` is the request's `Origin` header, if any (pass a present but unreadable header
/// as `Some("")`, so it is refused rather than ignored). Checks, in order: body shape and
/// subscription id, disabled keypair (401), the origin whenever there is one, the app name
/// when `app_name` is present, and with neither an origin nor an app name 403
/// `invalid_http_origin`; then the three required fields, public key, IV, decryption, payload
/// JSON, exactly one of `email_hash` / `phone_hash`.
pub fn decode_request<'a>(
    store: &'a KeypairStore,
    body: &[u8],
    origin: Option<&str>,
) -> Result<DecodedRequest<'a>, CstgError> {
    decode_request_with(EcdhBackend::DEFAULT, store, body, origin)
}

/// [`decode_request`] with the ECDH computed by `backend`.
///
/// Not part of the stable API: for benchmarks and tests that compare the backends.
#[doc(hidden)]
pub fn decode_request_with<'a>(
    backend: EcdhBackend,
    store: &'a KeypairStore,
    body: &[u8],
    origin: Option<&str>,
) -> Result<DecodedRequest<'a>, CstgError> {
    let request: WireRequest =
        serde_json::from_slice(body).map_err(|_| CstgError::RequiredParameters)?;
    let keypair = request
        .subscription_id
        .as_deref()
        .and_then(|id| store.get(id))
        .ok_or(CstgError::BadSubscriptionId)?;
    if keypair.disabled {
        return Err(CstgError::KeypairDisabled);
    }
    // A browser always sends `Origin`, so when there is one it is checked even if the body
    // names an app: otherwise any web page could borrow a site's app name.
    if let Some(origin) = origin {
        if !origin_allowed(origin, &keypair.domain_names) {
            return Err(CstgError::InvalidHttpOrigin);
        }
    }
    match request.app_name.as_deref() {
        Some(app) => {
            if !app_name_allowed(app, &keypair.app_names) {
                return Err(CstgError::InvalidAppName);
            }
        }
        None => {
            if origin.is_none() {
                return Err(CstgError::InvalidHttpOrigin);
            }
        }
    }
    let (Some(payload), Some(iv), Some(public_key)) =
        (request.payload, request.iv, request.public_key)
    else {
        return Err(CstgError::RequiredParameters);
    };
    let client_public = parse_spki_base64(&public_key).ok_or(CstgError::BadPublicKey)?;
    let iv = STANDARD.decode(iv).map_err(|_| CstgError::BadIv)?;
    if iv.len() != GCM_IV_LEN {
        return Err(CstgError::BadIv);
    }
    let shared_key = keypair
        .static_key()
        .agree(&client_public, backend)
        .ok_or(CstgError::BadPublicKey)?;
    let mut ciphertext = STANDARD
        .decode(payload)
        .map_err(|_| CstgError::PayloadDecryptionFailed)?;
    let aad = aad_for(request.timestamp, request.app_name.as_deref());
    let plaintext = shared_key
        .open_in_place(&iv, &aad, &mut ciphertext)
        .map_err(|_| CstgError::PayloadDecryptionFailed)?;
    let identity = parse_payload(plaintext);
    ciphertext.zeroize();
    Ok(DecodedRequest {
        keypair,
        identity: identity?,
        timestamp_ms: request.timestamp,
        app_name: request.app_name,
        shared_key,
    })
}

fn parse_payload(plaintext: &[u8]) -> Result<HashedIdentity, CstgError> {
    let value: serde_json::Value =
        serde_json::from_slice(plaintext).map_err(|_| CstgError::InvalidPayloadJson)?;
    let object = value.as_object().ok_or(CstgError::InvalidPayloadJson)?;
    let field = |name: &str| object.get(name).filter(|v| !v.is_null());
    match (field("email_hash"), field("phone_hash")) {
        (Some(serde_json::Value::String(h)), None) => Ok(HashedIdentity {
            identity_type: IdentityType::Email,
            hash: h.clone(),
        }),
        (None, Some(serde_json::Value::String(h))) => Ok(HashedIdentity {
            identity_type: IdentityType::Phone,
            hash: h.clone(),
        }),
        _ => Err(CstgError::ExactlyOneHash),
    }
}
