//! Sans-IO request and response bytes: seal a request for an endpoint, open its answer.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_crypto::{AesGcmKey, RandomSource};
use euid_envelope::{open_refresh_response, open_response, seal_request, ClientSecret};
use serde::Deserialize;

use crate::ClientError;

/// The value of the `X-UID2-Client-Version` header this crate sends.
pub const CLIENT_VERSION: &str = concat!("euid-client-rs-", env!("CARGO_PKG_VERSION"));

/// The `Content-Type` of text bodies; the operator ignores it.
pub(crate) const TEXT: &str = "text/plain";
/// The `Content-Type` of binary envelopes.
const BINARY: &str = "application/octet-stream";

/// The longest error body kept in [`ClientError::HttpStatus`].
const MAX_ERROR_BODY: usize = 1024;

/// A sealed request: POST `body` (base64 text) to `path`; keep it to open the answer, which
/// must echo its nonce. `Debug` shows the path only.
#[derive(Clone)]
pub struct EnvelopeRequest {
    /// The endpoint path, e.g. `/v2/token/generate`.
    pub path: &'static str,
    /// The HTTP body: the envelope as standard base64 text, or raw bytes for binary requests.
    pub body: Vec<u8>,
    /// The `Content-Type` to send: `text/plain`, or `application/octet-stream` for binary
    /// requests (the live operator then answers in raw bytes too).
    pub content_type: &'static str,
    nonce: [u8; 8],
}

impl std::fmt::Debug for EnvelopeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvelopeRequest")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl EnvelopeRequest {
    /// Seals `json` (empty for key requests) under `secret` at `now_ms`, with a nonce and IV
    /// drawn from `rng`.
    pub fn seal(
        secret: &ClientSecret,
        path: &'static str,
        json: &[u8],
        now_ms: i64,
        rng: &mut impl RandomSource,
    ) -> Self {
        let mut nonce = [0u8; 8];
        rng.fill(&mut nonce);
        let raw = seal_request(secret, now_ms, nonce, json, rng);
        Self {
            path,
            body: STANDARD.encode(raw).into_bytes(),
            content_type: TEXT,
            nonce,
        }
    }

    /// [`Self::seal`] as raw bytes sent as `application/octet-stream`, as the SDKs' v3
    /// identity map does.
    pub fn seal_binary(
        secret: &ClientSecret,
        path: &'static str,
        json: &[u8],
        now_ms: i64,
        rng: &mut impl RandomSource,
    ) -> Self {
        let mut nonce = [0u8; 8];
        rng.fill(&mut nonce);
        Self {
            path,
            body: seal_request(secret, now_ms, nonce, json, rng),
            content_type: BINARY,
            nonce,
        }
    }

    /// Opens the HTTP answer: a non-200 status is [`ClientError::HttpStatus`]; a 200 body must
    /// open under `secret` and echo the nonce, and hold `{"status": ..., "body": ...}`.
    pub fn open(
        &self,
        secret: &ClientSecret,
        http_status: u16,
        body: &[u8],
    ) -> Result<ResponseJson, ClientError> {
        ResponseJson::parse(&self.open_json(secret, http_status, body)?)
    }

    /// [`Self::open`] without reading the JSON: the decrypted bytes exactly as the operator
    /// sent them, for tools that print or store the answer verbatim (the `euid` CLI).
    pub fn open_json(
        &self,
        secret: &ClientSecret,
        http_status: u16,
        body: &[u8],
    ) -> Result<Vec<u8>, ClientError> {
        check_status(http_status, body)?;
        Ok(open_response(secret, body, Some(self.nonce))?.json)
    }
}

/// A `/v2/token/refresh` request: the refresh token text is the whole body, no envelope.
pub fn refresh_request_body(refresh_token: &str) -> Vec<u8> {
    refresh_token.as_bytes().to_vec()
}

/// Opens a `/v2/token/refresh` answer with the previous identity's `refresh_response_key`.
pub fn open_refresh(
    refresh_response_key: &AesGcmKey,
    http_status: u16,
    body: &[u8],
) -> Result<ResponseJson, ClientError> {
    ResponseJson::parse(&open_refresh_json(refresh_response_key, http_status, body)?)
}

/// [`open_refresh`] without reading the JSON: the decrypted bytes exactly as the operator sent
/// them.
pub fn open_refresh_json(
    refresh_response_key: &AesGcmKey,
    http_status: u16,
    body: &[u8],
) -> Result<Vec<u8>, ClientError> {
    check_status(http_status, body)?;
    Ok(open_refresh_response(refresh_response_key, body)?)
}

fn check_status(http_status: u16, body: &[u8]) -> Result<(), ClientError> {
    if http_status == 200 {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX_ERROR_BODY)]).into_owned();
    Err(ClientError::HttpStatus {
        status: http_status,
        body: text,
    })
}

/// The decrypted `{"status": ..., "body": ...}` of an answer. `Debug` shows the status only
/// (bodies hold tokens and keys).
#[derive(Clone)]
pub struct ResponseJson {
    /// `success`, `optout`, `insufficient_user_consent`, ...
    pub status: String,
    /// The body, `Null` when absent.
    pub body: serde_json::Value,
}

impl std::fmt::Debug for ResponseJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseJson")
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl ResponseJson {
    /// Parses the decrypted JSON of an answer.
    pub fn parse(json: &[u8]) -> Result<Self, ClientError> {
        #[derive(Deserialize)]
        struct Raw {
            status: String,
            #[serde(default)]
            body: serde_json::Value,
        }
        // serde's message could quote a token, so only its position is kept.
        let raw: Raw = serde_json::from_slice(json).map_err(|e| {
            ClientError::invalid(format!(
                "not a status object ({:?} error at column {})",
                e.classify(),
                e.column()
            ))
        })?;
        Ok(Self {
            status: raw.status,
            body: raw.body,
        })
    }

    /// The body of a `success` answer, or [`ClientError::UnexpectedStatus`].
    pub fn into_success_body(self) -> Result<serde_json::Value, ClientError> {
        if self.status == "success" {
            Ok(self.body)
        } else {
            Err(ClientError::UnexpectedStatus(self.status))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "ioG3wKxAokmp+rERx6A4kM/13qhyolUXIu14WN16Spo=";

    #[test]
    fn golden_response_envelope_opens() {
        // sdk.md §7: made by the Python SDK's helpers.
        let secret = ClientSecret::from_base64(SECRET).unwrap();
        let golden = b"AAAAAAAAAAAAAAAAWp37DYLSlwoef9sPRlZPac/dx7VQt1y098TgJQv+taoX9WQNTEClgYIXbNryBYi1zkYMLqCrQgw82aCWTgJ7n/7MIfaI/OM=";
        let req = EnvelopeRequest {
            path: "/v2/token/generate",
            body: Vec::new(),
            content_type: TEXT,
            nonce: [1, 2, 3, 4, 5, 6, 7, 8],
        };
        let out = req.open(&secret, 200, golden).unwrap();
        assert_eq!(out.status, "success");
        let verbatim = req.open_json(&secret, 200, golden).unwrap();
        assert_eq!(ResponseJson::parse(&verbatim).unwrap().body, out.body);
        assert_eq!(out.body["ok"], true);
        let other = EnvelopeRequest {
            nonce: [0; 8],
            ..req
        };
        assert!(matches!(
            other.open(&secret, 200, golden),
            Err(ClientError::Envelope(
                euid_envelope::ResponseError::NonceMismatch
            ))
        ));
        assert!(matches!(
            other.open(&secret, 401, b"{}"),
            Err(ClientError::HttpStatus { status: 401, .. })
        ));
    }

    #[test]
    fn golden_refresh_response_opens() {
        let key = AesGcmKey::from_base64("P941vVeuyjaDRVnFQ8DPd0AZnW4bPeiJPXER2K9QXcU=").unwrap();
        let out = open_refresh(
            &key,
            200,
            b"AAAAAAAAAAAAAAAAL7JlJFxC2z2y9Nruc8L79sE6BFp+r4zVo7h++yxukhttzew=",
        )
        .unwrap();
        assert_eq!(out.status, "optout");
        assert!(out.body.is_null());
        let body = b"AAAAAAAAAAAAAAAAL7JlJFxC2z2y9Nruc8L79sE6BFp+r4zVo7h++yxukhttzew=";
        let verbatim = open_refresh_json(&key, 200, body).unwrap();
        assert_eq!(verbatim, br#"{"status":"optout"}"#);
        assert!(matches!(
            open_refresh_json(&key, 400, b"{}"),
            Err(ClientError::HttpStatus { status: 400, .. })
        ));
    }

    #[test]
    fn sealed_request_opens_on_the_server_side() {
        let secret = ClientSecret::from_base64(SECRET).unwrap();
        let mut rng = euid_crypto::BatchedOsRandom::new();
        let req = EnvelopeRequest::seal(&secret, "/v2/key/sharing", b"", 1_000, &mut rng);
        let opened = euid_envelope::open_request(
            &req.body,
            euid_envelope::BodyEncoding::Base64Text,
            &secret,
            1_000,
            &euid_envelope::SkewPolicy::default(),
        )
        .unwrap();
        assert_eq!(opened.nonce, req.nonce);
        assert!(opened.json.is_empty());
        assert!(!format!("{req:?}").contains("body"));

        let binary =
            EnvelopeRequest::seal_binary(&secret, "/v3/identity/map", b"{}", 1_000, &mut rng);
        assert_eq!(binary.content_type, "application/octet-stream");
        let opened = euid_envelope::open_request(
            &binary.body,
            euid_envelope::BodyEncoding::Binary,
            &secret,
            1_000,
            &euid_envelope::SkewPolicy::default(),
        )
        .unwrap();
        assert_eq!(opened.json, b"{}");
        assert_eq!(
            opened.response_encoding,
            euid_envelope::BodyEncoding::Binary
        );
    }
}
