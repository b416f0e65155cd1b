//! The client's error type.

/// Why a client call failed. Messages never contain secrets, tokens or identities.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The client secret is not base64 of 32 bytes.
    #[error("invalid client secret: {0}")]
    Secret(#[from] euid_envelope::SecretError),
    /// The API key is empty or holds control characters.
    #[error("the API key is empty or holds control characters")]
    ApiKey,
    /// An email, phone number or hash was rejected before sending.
    #[error("invalid identity: {0}")]
    Identity(#[from] euid_normalize::NormalizeError),
    /// The operator answered with an HTTP status other than 200.
    #[error("the operator answered HTTP {status}")]
    HttpStatus {
        /// The HTTP status code.
        status: u16,
        /// The response body (plain JSON error for the operator's 4xx/5xx).
        body: String,
    },
    /// The response envelope did not open under the expected key.
    #[error("the response could not be opened: {0}")]
    Envelope(#[from] euid_envelope::ResponseError),
    /// The response JSON is not what the endpoint documents.
    #[error("unexpected response: {0}")]
    InvalidResponse(String),
    /// The operator answered a status the call does not know (e.g. `client_error`).
    #[error("the operator answered status {0:?}")]
    UnexpectedStatus(String),
    /// A refresh succeeded but the new identity cannot be refreshed again.
    #[error("the refreshed identity is not refreshable")]
    NotRefreshable,
    /// The key response is unusable.
    #[error("invalid key response: {0}")]
    Keys(#[from] crate::KeysError),
    /// An input to a local operation is invalid (e.g. a raw UID that is not base64 of 32 or 33 bytes).
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    /// Sharing encryption failed.
    #[error("encryption failed: {0}")]
    Encryption(#[from] crate::EncryptionError),
    /// The HTTP exchange failed (after retries, when the call is retried).
    #[error(transparent)]
    Transport(#[from] crate::transport::TransportError),
}

impl ClientError {
    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        Self::InvalidResponse(reason.into())
    }
}
