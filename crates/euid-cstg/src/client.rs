use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_crypto::{AesGcmKey, RandomSource, GCM_IV_LEN};
use serde::Serialize;

use crate::ecdh::agree_p256;
use crate::error::CstgError;
use crate::keypair::{parse_spki_base64, random_secret_key, spki_base64};
use crate::request::aad_for;

/// What a client encrypts: one identity hash (base64 SHA-256 of the normalized value).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ClientIdentity<'a> {
    /// `{"email_hash": …}`
    EmailHash(&'a str),
    /// `{"phone_hash": …}`
    PhoneHash(&'a str),
}

impl std::fmt::Debug for ClientIdentity<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::EmailHash(_) => "EmailHash(<redacted>)",
            Self::PhoneHash(_) => "PhoneHash(<redacted>)",
        })
    }
}

#[derive(Serialize)]
struct WireBody<'a> {
    payload: String,
    iv: String,
    public_key: String,
    timestamp: i64,
    subscription_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    app_name: Option<&'a str>,
}

/// A request as the browser SDK builds it, plus the session key to read the answer.
#[derive(Debug)]
pub struct ClientRequest {
    /// The JSON body to POST to `/v2/token/client-generate`.
    pub body: String,
    /// Opens the operator's answer.
    pub session: ClientSession,
}

/// The client's half of a CSTG exchange: the ECDH shared key.
#[derive(Debug)]
pub struct ClientSession {
    key: AesGcmKey,
}

impl ClientRequest {
    /// Encodes a request the way `@unified-id/euid-sdk` 4.0.66 does: a fresh P-256 key,
    /// ECDH with the server public key (its 9-character prefix stripped), AES-256-GCM
    /// with a random 12-byte IV over `{"email_hash":…}` / `{"phone_hash":…}` with AAD
    /// `[timestamp]` (or `[timestamp,"app_name"]` for mobile SDKs).
    pub fn encode(
        server_public_key: &str,
        subscription_id: &str,
        identity: ClientIdentity<'_>,
        timestamp_ms: i64,
        app_name: Option<&str>,
        rng: &mut impl RandomSource,
    ) -> Result<Self, CstgError> {
        let server_public = server_public_key
            .get(9..)
            .and_then(parse_spki_base64)
            .ok_or(CstgError::BadPublicKey)?;
        let ephemeral = random_secret_key(rng);
        let key = agree_p256(&ephemeral, &server_public);
        let plaintext = match identity {
            ClientIdentity::EmailHash(h) => serde_json::json!({ "email_hash": h }),
            ClientIdentity::PhoneHash(h) => serde_json::json!({ "phone_hash": h }),
        }
        .to_string();
        let mut iv = [0u8; GCM_IV_LEN];
        rng.fill(&mut iv);
        let mut sealed = Vec::new();
        key.seal_into(
            &iv,
            &aad_for(timestamp_ms, app_name),
            plaintext.as_bytes(),
            &mut sealed,
        );
        let ciphertext = sealed.get(GCM_IV_LEN..).unwrap_or_default();
        let body = WireBody {
            payload: STANDARD.encode(ciphertext),
            iv: STANDARD.encode(iv),
            public_key: spki_base64(&ephemeral.public_key()),
            timestamp: timestamp_ms,
            subscription_id,
            app_name,
        };
        let body = serde_json::to_string(&body).map_err(|_| CstgError::InvalidPayloadJson)?;
        Ok(Self {
            body,
            session: ClientSession { key },
        })
    }
}

impl ClientSession {
    /// Opens a 200 response body (base64 `IV ‖ ciphertext ‖ tag`) into its JSON bytes.
    pub fn open_response(&self, body: &str) -> Result<Vec<u8>, CstgError> {
        let sealed = STANDARD
            .decode(body.trim())
            .map_err(|_| CstgError::ResponseDecryptionFailed)?;
        self.key
            .open(&sealed)
            .map_err(|_| CstgError::ResponseDecryptionFailed)
    }
}
