//! Every error answer the operator gives, in one place: each variant knows its HTTP status,
//! its `status` field and its exact message (`wire.md` §7 and the spec README's decisions),
//! and [`ApiError`] becomes an [`ApiResponse`] in one way only. Also the refusals sealed into
//! a 200 ([`SealedRefusal`]) and the reasons `/ops/healthcheck` answers 503 ([`HealthProblem`]).
//!
//! A leaf of the module graph beside `api_response`: the endpoints, the pipeline and the
//! HTTP shell all name their errors here, and no wire text is written anywhere else.

use euid_cstg::CstgError;
use euid_envelope::RequestError;
use euid_token::RefreshError;

use crate::api_response::{ApiResponse, JSON, TEXT};

/// An error answer: a plain (never encrypted, decision 9) JSON body
/// `{"message":…,"status":…}`, or `{"status":"unauthorized"}` for a 401.
///
/// `Display` is exactly the `message` sent; [`ApiError::http_status`] and
/// [`ApiError::status`] give the rest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// 401: no API key, an unknown or disabled one, or one without the endpoint's role.
    #[error("unauthorized")]
    Unauthorized,
    /// 400: the request envelope does not open; the message is the envelope's own text.
    #[error(transparent)]
    Envelope(#[from] RequestError),
    /// 400: the refresh envelope does not open; the message is the envelope's own text.
    #[error(transparent)]
    RefreshEnvelope(RefreshError),
    /// 400, 401 or 403 from client-side token generation; status and message are euid-cstg's.
    #[error(transparent)]
    ClientGenerate(#[from] CstgError),
    /// 400: the decrypted payload is not the JSON the endpoint reads.
    #[error("Invalid payload in body: Data is not valid json string.")]
    InvalidJson,
    /// 400: none or more than one identity field (decision 2, `wire.md` §2.4).
    #[error("Required Parameter Missing: exactly one of [email, email_hash, phone, phone_hash] must be specified")]
    ExactlyOneIdentity,
    /// 400: the identity does not normalise, or is not a string.
    #[error("Invalid Identifier")]
    InvalidIdentifier,
    /// 400: generate without `tcf_consent_string` (decision 3).
    #[error("Required Parameter Missing: tcf_consent_string")]
    ConsentMissing,
    /// 400: an empty or undecodable consent string (decision 3).
    #[error("User consent is invalid")]
    ConsentInvalid,
    /// 400: validate with a missing or undecodable advertising token.
    #[error("Invalid token")]
    InvalidAdvertisingToken,
    /// 400: validate of a token whose site key is not the caller's site.
    #[error("Unauthorised to validate token")]
    ValidateOtherSite,
    /// 400: an identity map field that is present but not an array.
    #[error("{field} must be an array")]
    NotAnArray {
        /// The request field.
        field: &'static str,
    },
    /// 400: an identity map request over `endpoints::MAX_IDENTITY_MAP_ITEMS` identities.
    #[error("Request payload is too large: at most 5000 identities per request")]
    TooManyIdentities,
    /// 400: `/v3/identity/map` with none of the four arrays (`{}` or no JSON).
    #[error("Required Parameter Missing: one or more of [email, email_hash, phone, phone_hash] must be specified")]
    NoIdentityArrays,
    /// 400: `/v3/identity/map` JSON that is not its request shape: an unknown field, a `null`
    /// or non-string element, a field that is not an array (the live operator's strict parse).
    #[error("Incorrect request format")]
    IncorrectRequestFormat,
    /// 400: `/v2/identity/buckets` without a `since_timestamp`.
    #[error("missing parameter since_timestamp")]
    SinceTimestampMissing,
    /// 400: a `since_timestamp` that is not an ISO 8601 local date-time.
    #[error("invalid date, must conform to ISO 8601")]
    SinceTimestampInvalid,
    /// 400: opt-out status without an `advertising_ids` array.
    #[error("Required Parameter Missing: advertising_ids")]
    AdvertisingIdsMissing,
    /// 400: opt-out status over `endpoints::MAX_OPTOUT_STATUS_IDS` ids.
    #[error("Request payload is too large")]
    TooManyAdvertisingIds,
    /// 400 `invalid_token`: refresh of a token that is not valid, with a valid API key.
    #[error("Invalid Token presented")]
    RefreshInvalidToken,
    /// 400 `expired_token`: refresh of an expired token, with a valid API key.
    #[error("Expired Token presented")]
    RefreshExpiredToken,
    /// 400 `error`: a refresh that fails without a valid API key (invalid or expired alike).
    #[error("Error refreshing token")]
    RefreshFailed,
    /// 404: no such endpoint.
    #[error("Unknown endpoint")]
    UnknownEndpoint,
    /// 408: the body or the answer took longer than `request_timeout_ms`.
    #[error("Request timed out")]
    TimedOut,
    /// 413: the body (or its `Content-Length`) is over `max_body_bytes`.
    #[error("Request body is too large")]
    BodyTooLarge,
    /// 500: the opt-out records cannot be read, so no token, mapping or status is given.
    #[error("Opt-out records are unavailable")]
    OptOutsUnavailable,
    /// 500: logout could not record the opt-out durably.
    #[error("Opt-out could not be recorded")]
    OptOutNotRecorded,
    /// 503: logout while the opt-out store (a shared database) does not answer: nothing was
    /// recorded, and the caller may retry; tokens and lookups are still served from memory.
    #[error("Opt-out could not be recorded: the opt-out store is unavailable, retry later")]
    OptOutStoreUnavailable,
    /// 500: no active key to mint tokens with.
    #[error("No active encryption key available")]
    NoActiveKey,
    /// 500: the request's work could not run (a panic, a closed semaphore).
    #[error("Internal error")]
    Internal,
}

impl ApiError {
    /// The refresh answer for a token that is not valid: the texts depend on whether a valid
    /// API key came with the request (`wire.md` §1.3).
    pub const fn refresh_invalid(authenticated: bool) -> Self {
        if authenticated {
            Self::RefreshInvalidToken
        } else {
            Self::RefreshFailed
        }
    }

    /// The refresh answer for an expired token, by whether a valid API key came along.
    pub const fn refresh_expired(authenticated: bool) -> Self {
        if authenticated {
            Self::RefreshExpiredToken
        } else {
            Self::RefreshFailed
        }
    }

    /// The HTTP status code.
    pub const fn http_status(&self) -> u16 {
        match self {
            Self::Unauthorized => 401,
            Self::ClientGenerate(e) => e.http_status(),
            Self::UnknownEndpoint => 404,
            Self::TimedOut => 408,
            Self::BodyTooLarge => 413,
            Self::OptOutStoreUnavailable => 503,
            Self::OptOutsUnavailable
            | Self::OptOutNotRecorded
            | Self::NoActiveKey
            | Self::Internal => 500,
            _ => 400,
        }
    }

    /// The `status` field of the body.
    pub const fn status(&self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::ClientGenerate(e) => e.status(),
            Self::RefreshInvalidToken => "invalid_token",
            Self::RefreshExpiredToken => "expired_token",
            Self::RefreshFailed => "error",
            Self::OptOutsUnavailable
            | Self::OptOutNotRecorded
            | Self::OptOutStoreUnavailable
            | Self::NoActiveKey
            | Self::Internal => "unknown",
            _ => "client_error",
        }
    }

    /// The `message` field: none on a 401 (`wire.md` §7), else the `Display` text.
    pub fn message(&self) -> Option<String> {
        (self.http_status() != 401).then(|| self.to_string())
    }
}

impl From<ApiError> for ApiResponse {
    fn from(error: ApiError) -> Self {
        let body = match error.message() {
            Some(m) => serde_json::json!({ "status": error.status(), "message": m }),
            None => serde_json::json!({ "status": error.status() }),
        };
        Self {
            http_status: error.http_status(),
            content_type: JSON,
            body: body.to_string().into_bytes(),
            site_id: None,
        }
    }
}

/// A refusal that is not an error on the wire: sealed into a 200 like a success, so only the
/// caller can read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealedRefusal {
    /// `{"status":"optout"}`: the identity opted out (generate, refresh, client-generate).
    OptOut,
    /// `{"status":"insufficient_user_consent"}`: the TCF string does not allow it (generate).
    InsufficientUserConsent,
}

impl SealedRefusal {
    /// The JSON to seal.
    pub const fn json(self) -> &'static [u8] {
        match self {
            Self::OptOut => br#"{"status":"optout"}"#,
            Self::InsufficientUserConsent => br#"{"status":"insufficient_user_consent"}"#,
        }
    }
}

/// Why `/ops/healthcheck` answers 503; `Display` is the plain-text body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HealthProblem {
    /// A data directory that changed and does not load: the snapshot in use is stale.
    #[error("stale: data directory does not reload ({seconds}s): {what}")]
    Stale {
        /// For how long, in seconds.
        seconds: u64,
        /// Which file and what kind of failure, without paths or OS error text.
        what: String,
    },
    /// A snapshot from a database that changed (or whose link is down) and does not load:
    /// the snapshot in use is stale.
    #[error("stale: database does not reload ({seconds}s): {what}")]
    StaleDatabase {
        /// For how long, in seconds.
        seconds: u64,
        /// What failed, without the URL, a password or the database's error text.
        what: String,
    },
    /// The opt-out records cannot be read.
    #[error("opt-out records are unavailable")]
    OptOutsUnavailable,
    /// The opt-out store takes no writes (a shared database that does not answer): logouts
    /// answer 503, while tokens, refreshes and lookups are served from memory.
    #[error("degraded: the opt-out store is unavailable: logouts are refused, tokens and opt-out lookups are served from memory")]
    OptOutStoreDegraded,
    /// No active key in the master keyset.
    #[error("no active master key")]
    NoMasterKey,
    /// No active key in the refresh keyset.
    #[error("no active refresh key")]
    NoRefreshKey,
    /// No active key in the publisher fallback keyset.
    #[error("no active publisher fallback key (keyset 2)")]
    NoFallbackPublisherKey,
    /// `clients.json` holds no clients.
    #[error("no API clients loaded")]
    NoClients,
}

impl HealthProblem {
    /// The `/ops/healthcheck` answer: 200 `OK`, or 503 with the problem, as plain text.
    pub fn healthcheck(problem: Option<&Self>) -> ApiResponse {
        let (http_status, body) = match problem {
            None => (200, "OK".to_owned()),
            Some(p) => (503, p.to_string()),
        };
        ApiResponse {
            http_status,
            content_type: TEXT,
            body: body.into_bytes(),
            site_id: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(error: ApiError) -> (u16, String) {
        let response = ApiResponse::from(error);
        assert_eq!(response.content_type, "application/json");
        (
            response.http_status,
            String::from_utf8(response.body).expect("UTF-8"),
        )
    }

    #[test]
    fn every_error_answer_is_pinned() {
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (ApiError::Unauthorized, 401, r#"{"status":"unauthorized"}"#),
            (
                ApiError::Envelope(RequestError::Timestamp),
                400,
                r#"{"message":"Invalid timestamp: Request too old or client time drift.","status":"client_error"}"#,
            ),
            (
                ApiError::RefreshEnvelope(RefreshError::Format),
                400,
                r#"{"message":"Invalid format: Payload is not valid json or missing required data.","status":"client_error"}"#,
            ),
            (
                ApiError::ClientGenerate(CstgError::BadIv),
                400,
                r#"{"message":"bad iv","status":"client_error"}"#,
            ),
            (
                ApiError::ClientGenerate(CstgError::InvalidHttpOrigin),
                403,
                r#"{"message":"unexpected http origin","status":"invalid_http_origin"}"#,
            ),
            (
                ApiError::ClientGenerate(CstgError::InvalidAppName),
                403,
                r#"{"message":"unexpected app name","status":"invalid_app_name"}"#,
            ),
            (
                ApiError::ClientGenerate(CstgError::KeypairDisabled),
                401,
                r#"{"status":"unauthorized"}"#,
            ),
            (
                ApiError::InvalidJson,
                400,
                r#"{"message":"Invalid payload in body: Data is not valid json string.","status":"client_error"}"#,
            ),
            (
                ApiError::ExactlyOneIdentity,
                400,
                r#"{"message":"Required Parameter Missing: exactly one of [email, email_hash, phone, phone_hash] must be specified","status":"client_error"}"#,
            ),
            (
                ApiError::InvalidIdentifier,
                400,
                r#"{"message":"Invalid Identifier","status":"client_error"}"#,
            ),
            (
                ApiError::ConsentMissing,
                400,
                r#"{"message":"Required Parameter Missing: tcf_consent_string","status":"client_error"}"#,
            ),
            (
                ApiError::ConsentInvalid,
                400,
                r#"{"message":"User consent is invalid","status":"client_error"}"#,
            ),
            (
                ApiError::InvalidAdvertisingToken,
                400,
                r#"{"message":"Invalid token","status":"client_error"}"#,
            ),
            (
                ApiError::ValidateOtherSite,
                400,
                r#"{"message":"Unauthorised to validate token","status":"client_error"}"#,
            ),
            (
                ApiError::NotAnArray {
                    field: "phone_hash",
                },
                400,
                r#"{"message":"phone_hash must be an array","status":"client_error"}"#,
            ),
            (
                ApiError::TooManyIdentities,
                400,
                r#"{"message":"Request payload is too large: at most 5000 identities per request","status":"client_error"}"#,
            ),
            (
                ApiError::NoIdentityArrays,
                400,
                r#"{"message":"Required Parameter Missing: one or more of [email, email_hash, phone, phone_hash] must be specified","status":"client_error"}"#,
            ),
            (
                ApiError::IncorrectRequestFormat,
                400,
                r#"{"message":"Incorrect request format","status":"client_error"}"#,
            ),
            (
                ApiError::SinceTimestampMissing,
                400,
                r#"{"message":"missing parameter since_timestamp","status":"client_error"}"#,
            ),
            (
                ApiError::SinceTimestampInvalid,
                400,
                r#"{"message":"invalid date, must conform to ISO 8601","status":"client_error"}"#,
            ),
            (
                ApiError::AdvertisingIdsMissing,
                400,
                r#"{"message":"Required Parameter Missing: advertising_ids","status":"client_error"}"#,
            ),
            (
                ApiError::TooManyAdvertisingIds,
                400,
                r#"{"message":"Request payload is too large","status":"client_error"}"#,
            ),
            (
                ApiError::RefreshInvalidToken,
                400,
                r#"{"message":"Invalid Token presented","status":"invalid_token"}"#,
            ),
            (
                ApiError::RefreshExpiredToken,
                400,
                r#"{"message":"Expired Token presented","status":"expired_token"}"#,
            ),
            (
                ApiError::RefreshFailed,
                400,
                r#"{"message":"Error refreshing token","status":"error"}"#,
            ),
            (
                ApiError::UnknownEndpoint,
                404,
                r#"{"message":"Unknown endpoint","status":"client_error"}"#,
            ),
            (
                ApiError::TimedOut,
                408,
                r#"{"message":"Request timed out","status":"client_error"}"#,
            ),
            (
                ApiError::BodyTooLarge,
                413,
                r#"{"message":"Request body is too large","status":"client_error"}"#,
            ),
            (
                ApiError::OptOutsUnavailable,
                500,
                r#"{"message":"Opt-out records are unavailable","status":"unknown"}"#,
            ),
            (
                ApiError::OptOutNotRecorded,
                500,
                r#"{"message":"Opt-out could not be recorded","status":"unknown"}"#,
            ),
            (
                ApiError::OptOutStoreUnavailable,
                503,
                r#"{"message":"Opt-out could not be recorded: the opt-out store is unavailable, retry later","status":"unknown"}"#,
            ),
            (
                ApiError::NoActiveKey,
                500,
                r#"{"message":"No active encryption key available","status":"unknown"}"#,
            ),
            (
                ApiError::Internal,
                500,
                r#"{"message":"Internal error","status":"unknown"}"#,
            ),
        ];
        for (error, http_status, body) in cases {
            assert_eq!(
                wire(error.clone()),
                (http_status, body.to_owned()),
                "{error:?}"
            );
        }
    }

    #[test]
    fn client_generate_errors_keep_euid_cstg_bodies() {
        for error in [
            CstgError::RequiredParameters,
            CstgError::BadSubscriptionId,
            CstgError::BadPublicKey,
            CstgError::PayloadDecryptionFailed,
            CstgError::InvalidPayloadJson,
            CstgError::ExactlyOneHash,
            CstgError::KeypairDisabled,
            CstgError::InvalidHttpOrigin,
        ] {
            let expected = (error.http_status(), error.to_json_body());
            assert_eq!(wire(ApiError::from(error)), expected);
        }
    }

    #[test]
    fn refresh_pairs_follow_the_api_key() {
        assert_eq!(
            ApiError::refresh_invalid(true),
            ApiError::RefreshInvalidToken
        );
        assert_eq!(ApiError::refresh_invalid(false), ApiError::RefreshFailed);
        assert_eq!(
            ApiError::refresh_expired(true),
            ApiError::RefreshExpiredToken
        );
        assert_eq!(ApiError::refresh_expired(false), ApiError::RefreshFailed);
    }

    #[test]
    fn the_item_limit_in_the_text_is_the_enforced_one() {
        let text = ApiError::TooManyIdentities.to_string();
        let limit = crate::endpoints::MAX_IDENTITY_MAP_ITEMS;
        assert!(text.contains(&format!(" {limit} ")), "{text}");
    }

    #[test]
    fn sealed_refusals_are_pinned() {
        assert_eq!(SealedRefusal::OptOut.json(), br#"{"status":"optout"}"#);
        assert_eq!(
            SealedRefusal::InsufficientUserConsent.json(),
            br#"{"status":"insufficient_user_consent"}"#
        );
    }

    #[test]
    fn healthcheck_answers_are_pinned() {
        let cases = [
            (None, 200, "OK"),
            (
                Some(HealthProblem::Stale {
                    seconds: 7,
                    what: "salts.txt is not valid".to_owned(),
                }),
                503,
                "stale: data directory does not reload (7s): salts.txt is not valid",
            ),
            (
                Some(HealthProblem::StaleDatabase {
                    seconds: 3,
                    what: "the database does not answer".to_owned(),
                }),
                503,
                "stale: database does not reload (3s): the database does not answer",
            ),
            (
                Some(HealthProblem::OptOutsUnavailable),
                503,
                "opt-out records are unavailable",
            ),
            (
                Some(HealthProblem::OptOutStoreDegraded),
                503,
                "degraded: the opt-out store is unavailable: logouts are refused, tokens and opt-out lookups are served from memory",
            ),
            (
                Some(HealthProblem::NoMasterKey),
                503,
                "no active master key",
            ),
            (
                Some(HealthProblem::NoRefreshKey),
                503,
                "no active refresh key",
            ),
            (
                Some(HealthProblem::NoFallbackPublisherKey),
                503,
                "no active publisher fallback key (keyset 2)",
            ),
            (Some(HealthProblem::NoClients), 503, "no API clients loaded"),
        ];
        for (problem, http_status, body) in cases {
            let response = HealthProblem::healthcheck(problem.as_ref());
            assert_eq!(response.http_status, http_status);
            assert_eq!(response.content_type, "text/plain");
            assert_eq!(response.body, body.as_bytes(), "{problem:?}");
        }
    }
}
