use thiserror::Error;

/// Why a `/v2/token/client-generate` request was refused.
///
/// `Display` is exactly the `message` the operator sends (`wire.md` §7); [`CstgError::status`]
/// and [`CstgError::http_status`] give the rest of the response.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CstgError {
    /// The body is not a JSON object, or `payload`, `iv` or `public_key` is missing.
    #[error("required parameters: payload, iv, public_key")]
    RequiredParameters,
    /// No keypair has this subscription id.
    #[error("bad subscription_id")]
    BadSubscriptionId,
    /// `public_key` is not base64 of a P-256 SubjectPublicKeyInfo.
    #[error("bad public key")]
    BadPublicKey,
    /// `iv` is not base64 of exactly 12 bytes.
    #[error("bad iv")]
    BadIv,
    /// `payload` is not base64, or GCM authentication failed (wrong key, AAD or data).
    #[error("payload decryption failed")]
    PayloadDecryptionFailed,
    /// The decrypted payload is not a JSON object.
    #[error("encrypted payload contains invalid json")]
    InvalidPayloadJson,
    /// The payload has neither or both of `email_hash` and `phone_hash`, or a non-string one.
    #[error("please provide exactly one of: email_hash, phone_hash")]
    ExactlyOneHash,
    /// The `Origin` header is not one of the site's domain names (403).
    #[error("unexpected http origin")]
    InvalidHttpOrigin,
    /// `app_name` is not one of the site's app names (403).
    #[error("unexpected app name")]
    InvalidAppName,
    /// The subscription's keypair is disabled (401).
    #[error("unauthorized")]
    KeypairDisabled,
    /// The response from the operator could not be opened (client side only).
    #[error("response decryption failed")]
    ResponseDecryptionFailed,
}

impl CstgError {
    /// The HTTP status code the operator answers with.
    pub const fn http_status(&self) -> u16 {
        match self {
            Self::InvalidHttpOrigin | Self::InvalidAppName => 403,
            Self::KeypairDisabled => 401,
            _ => 400,
        }
    }

    /// The `status` field of the JSON error body.
    pub const fn status(&self) -> &'static str {
        match self {
            Self::InvalidHttpOrigin => "invalid_http_origin",
            Self::InvalidAppName => "invalid_app_name",
            Self::KeypairDisabled => "unauthorized",
            _ => "client_error",
        }
    }

    /// The plain JSON error body: `{"status":…,"message":…}`, or `{"status":"unauthorized"}`
    /// with no message (as for every 401 in `wire.md` §7).
    pub fn to_json_body(&self) -> String {
        if matches!(self, Self::KeypairDisabled) {
            return r#"{"status":"unauthorized"}"#.to_owned();
        }
        serde_json::json!({ "status": self.status(), "message": self.to_string() }).to_string()
    }
}

/// Why a keypair or a `client_side_keypairs.json` file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum KeypairError {
    /// The file is not the expected JSON shape.
    #[error("client-side keypairs: invalid JSON: {0}")]
    Json(String),
    /// A public key lacks its 9-character `…-X-…-` prefix or is not a P-256 SPKI.
    #[error("client-side keypair {subscription_id}: bad public key")]
    PublicKey {
        /// The keypair's subscription id.
        subscription_id: String,
    },
    /// A private key lacks its 9-character `…-Y-…-` prefix or is not a P-256 PKCS#8 key.
    #[error("client-side keypair {subscription_id}: bad private key")]
    PrivateKey {
        /// The keypair's subscription id.
        subscription_id: String,
    },
    /// The stored public key is not the private key's public key.
    #[error("client-side keypair {subscription_id}: public key does not match private key")]
    Mismatch {
        /// The keypair's subscription id.
        subscription_id: String,
    },
    /// Two keypairs share a subscription id.
    #[error("client-side keypairs: duplicate subscription id {0}")]
    Duplicate(String),
}
