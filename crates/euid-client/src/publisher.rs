//! Publisher calls: token generate and refresh, and the identity the browser SDK stores.

use euid_crypto::AesGcmKey;
use serde::{Deserialize, Serialize};

use crate::{ClientError, ResponseJson};

/// What to generate a token for. Hashes locally by default, as the SDKs: an email or phone
/// number is normalized and sent as `email_hash` / `phone_hash`; [`do_not_hash`] sends it
/// raw. `Debug` shows the kind only.
///
/// [`do_not_hash`]: TokenGenerateInput::do_not_hash
#[derive(Clone)]
pub struct TokenGenerateInput {
    identity: Identity,
    hash: bool,
    tcf_consent_string: Option<String>,
}

#[derive(Clone)]
enum Identity {
    Email(String),
    Phone(String),
    EmailHash(String),
    PhoneHash(String),
}

impl std::fmt::Debug for TokenGenerateInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.identity {
            Identity::Email(_) => "email",
            Identity::Phone(_) => "phone",
            Identity::EmailHash(_) => "email_hash",
            Identity::PhoneHash(_) => "phone_hash",
        };
        f.debug_struct("TokenGenerateInput")
            .field("kind", &kind)
            .field("hash", &self.hash)
            .field("has_tcf_consent_string", &self.tcf_consent_string.is_some())
            .finish()
    }
}

impl TokenGenerateInput {
    fn new(identity: Identity) -> Self {
        Self {
            identity,
            hash: true,
            tcf_consent_string: None,
        }
    }

    /// An email address (normalized and hashed before sending unless [`Self::do_not_hash`]).
    pub fn from_email(email: impl Into<String>) -> Self {
        Self::new(Identity::Email(email.into()))
    }

    /// A phone number in E.164 form (`+` then 10–15 digits).
    pub fn from_phone(phone: impl Into<String>) -> Self {
        Self::new(Identity::Phone(phone.into()))
    }

    /// The base64 SHA-256 of a normalized email.
    pub fn from_hashed_email(hash: impl Into<String>) -> Self {
        Self::new(Identity::EmailHash(hash.into()))
    }

    /// The base64 SHA-256 of a normalized phone number.
    pub fn from_hashed_phone(hash: impl Into<String>) -> Self {
        Self::new(Identity::PhoneHash(hash.into()))
    }

    /// Adds the TCF consent string (the EUID operator requires one).
    pub fn with_transparency_and_consent_string(mut self, tcf: impl Into<String>) -> Self {
        self.tcf_consent_string = Some(tcf.into());
        self
    }

    /// Sends an email or phone number as typed, for the operator to normalize and hash.
    pub fn do_not_hash(mut self) -> Self {
        self.hash = false;
        self
    }

    /// The request JSON for `/v2/token/generate`. Phone numbers must be normalized either way
    /// and hashes must be 44-character base64 or 64-character hex, as the operator requires.
    pub fn to_request_json(&self) -> Result<Vec<u8>, ClientError> {
        let (field, value) = match &self.identity {
            Identity::Email(e) if self.hash => {
                ("email_hash", euid_normalize::hash_email(e)?.to_base64())
            }
            Identity::Email(e) => ("email", e.clone()),
            Identity::Phone(p) if self.hash => {
                ("phone_hash", euid_normalize::hash_phone(p)?.to_base64())
            }
            Identity::Phone(p) => {
                euid_normalize::validate_phone(p)?;
                ("phone", p.clone())
            }
            Identity::EmailHash(h) => {
                euid_normalize::parse_email_hash(h)?;
                ("email_hash", h.clone())
            }
            Identity::PhoneHash(h) => {
                euid_normalize::parse_phone_hash(h)?;
                ("phone_hash", h.clone())
            }
        };
        let mut map = serde_json::Map::new();
        map.insert(field.to_owned(), value.into());
        if let Some(tc) = &self.tcf_consent_string {
            map.insert("tcf_consent_string".to_owned(), tc.clone().into());
        }
        Ok(serde_json::to_vec(&map).unwrap_or_default())
    }
}

/// A generate or refresh answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenResponse {
    /// New tokens.
    Success(IdentityTokens),
    /// The user opted out: no tokens, and none may be used for them.
    OptOut,
    /// The TCF string lacks the consent EUID needs (generate only).
    InsufficientUserConsent,
}

impl TokenResponse {
    /// The identity, when the answer is `Success`.
    pub fn identity(&self) -> Option<&IdentityTokens> {
        match self {
            Self::Success(t) => Some(t),
            _ => None,
        }
    }

    /// Whether the user opted out.
    pub fn is_optout(&self) -> bool {
        matches!(self, Self::OptOut)
    }

    /// Reads a decrypted `/v2/token/generate` answer.
    pub fn from_generate(response: ResponseJson) -> Result<Self, ClientError> {
        match response.status.as_str() {
            "success" => Ok(Self::Success(IdentityTokens::from_value(response.body)?)),
            "optout" => Ok(Self::OptOut),
            "insufficient_user_consent" => Ok(Self::InsufficientUserConsent),
            _ => Err(ClientError::UnexpectedStatus(response.status)),
        }
    }

    /// Reads a decrypted `/v2/token/refresh` answer at `now_ms`: a new identity must itself
    /// be refreshable, as the SDKs require.
    pub fn from_refresh(response: ResponseJson, now_ms: i64) -> Result<Self, ClientError> {
        match response.status.as_str() {
            "success" => {
                let tokens = IdentityTokens::from_value(response.body)?;
                if !tokens.is_refreshable(now_ms) {
                    return Err(ClientError::NotRefreshable);
                }
                Ok(Self::Success(tokens))
            }
            "optout" => Ok(Self::OptOut),
            _ => Err(ClientError::UnexpectedStatus(response.status)),
        }
    }
}

/// An identity: the six fields of a generate/refresh body, serialized exactly as the browser
/// SDK stores them (times in Unix **milliseconds**). `Debug` shows the times only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityTokens {
    /// The token to put in bid requests.
    pub advertising_token: String,
    /// The opaque token to refresh with.
    pub refresh_token: String,
    /// The key the refresh answer is encrypted with (base64 of 32 bytes).
    pub refresh_response_key: String,
    /// When the advertising token expires, Unix ms.
    pub identity_expires: i64,
    /// From when the identity should be refreshed, Unix ms.
    pub refresh_from: i64,
    /// When the refresh token expires, Unix ms.
    pub refresh_expires: i64,
}

impl std::fmt::Debug for IdentityTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityTokens")
            .field("identity_expires", &self.identity_expires)
            .field("refresh_from", &self.refresh_from)
            .field("refresh_expires", &self.refresh_expires)
            .finish_non_exhaustive()
    }
}

impl IdentityTokens {
    fn from_value(body: serde_json::Value) -> Result<Self, ClientError> {
        // serde's messages could quote a token: keep only missing-field names.
        Self::deserialize(body).map_err(|e| {
            let msg = e.to_string();
            ClientError::invalid(if msg.starts_with("missing field") {
                msg
            } else {
                "identity field has the wrong type".to_owned()
            })
        })
    }

    /// Reads the JSON the browser SDK stores (or [`Self::to_json_string`] wrote).
    pub fn from_json_str(json: &str) -> Result<Self, ClientError> {
        let value: serde_json::Value = serde_json::from_str(json).map_err(|e| {
            ClientError::invalid(format!("identity is not JSON ({:?})", e.classify()))
        })?;
        Self::from_value(value)
    }

    /// The JSON the browser SDK stores.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Whether it is time to refresh (`refresh_from` has passed).
    pub fn is_due_for_refresh(&self, now_ms: i64) -> bool {
        now_ms >= self.refresh_from
    }

    /// Whether the refresh token can still be used.
    pub fn is_refreshable(&self, now_ms: i64) -> bool {
        !self.refresh_token.is_empty() && now_ms < self.refresh_expires
    }

    /// Whether the advertising token has expired.
    pub fn has_identity_expired(&self, now_ms: i64) -> bool {
        now_ms >= self.identity_expires
    }

    /// The parsed `refresh_response_key`.
    pub fn refresh_response_key(&self) -> Result<AesGcmKey, ClientError> {
        AesGcmKey::from_base64(&self.refresh_response_key).map_err(|_| {
            ClientError::InvalidInput("refresh_response_key is not base64 of 32 bytes")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_by_default_and_sends_raw_on_request() {
        let json = |i: TokenGenerateInput| {
            serde_json::from_slice::<serde_json::Value>(&i.to_request_json().unwrap()).unwrap()
        };
        let v = json(
            TokenGenerateInput::from_email("Test@Example.com ")
                .with_transparency_and_consent_string("TC"),
        );
        let expected = euid_normalize::hash_email("test@example.com")
            .unwrap()
            .to_base64();
        assert_eq!(v["email_hash"], expected);
        assert_eq!(v["tcf_consent_string"], "TC");
        assert!(v.get("email").is_none());
        let v = json(TokenGenerateInput::from_email("Test@Example.com").do_not_hash());
        assert_eq!(v["email"], "Test@Example.com");
        assert!(v.get("tcf_consent_string").is_none());
        let v = json(TokenGenerateInput::from_phone("+12345678901"));
        assert_eq!(v["phone_hash"].as_str().unwrap().len(), 44);
        let v = json(TokenGenerateInput::from_phone("+12345678901").do_not_hash());
        assert_eq!(v["phone"], "+12345678901");
        assert!(TokenGenerateInput::from_phone("12345678901")
            .to_request_json()
            .is_err());
        assert!(TokenGenerateInput::from_phone("12345")
            .do_not_hash()
            .to_request_json()
            .is_err());
        assert!(TokenGenerateInput::from_email("nope")
            .to_request_json()
            .is_err());
        assert!(TokenGenerateInput::from_hashed_email("short")
            .to_request_json()
            .is_err());
        let input = TokenGenerateInput::from_email("secret@example.com");
        assert!(!format!("{input:?}").contains("secret"));
    }

    #[test]
    fn identity_round_trips_through_browser_json_and_tells_times() {
        let json = r#"{"advertising_token":"AT","refresh_token":"RT","identity_expires":3000,"refresh_from":2000,"refresh_expires":4000,"refresh_response_key":"P941vVeuyjaDRVnFQ8DPd0AZnW4bPeiJPXER2K9QXcU="}"#;
        let id = IdentityTokens::from_json_str(json).unwrap();
        let again = IdentityTokens::from_json_str(&id.to_json_string()).unwrap();
        assert_eq!(id, again);
        let v: serde_json::Value = serde_json::from_str(&id.to_json_string()).unwrap();
        for k in [
            "advertising_token",
            "refresh_token",
            "identity_expires",
            "refresh_from",
            "refresh_expires",
            "refresh_response_key",
        ] {
            assert!(v.get(k).is_some(), "{k}");
        }
        assert!(!id.is_due_for_refresh(1999) && id.is_due_for_refresh(2000));
        assert!(!id.has_identity_expired(2999) && id.has_identity_expired(3000));
        assert!(id.is_refreshable(3999) && !id.is_refreshable(4000));
        assert!(!format!("{id:?}").contains("RT"));
        assert!(id.refresh_response_key().is_ok());
        assert!(IdentityTokens::from_json_str(r#"{"advertising_token":"AT"}"#).is_err());
        assert!(IdentityTokens::from_json_str(r#"{"advertising_token":1,"refresh_token":"RT","identity_expires":3000,"refresh_from":2000,"refresh_expires":4000,"refresh_response_key":"k"}"#).is_err());
    }

    #[test]
    fn generate_and_refresh_statuses() {
        let r = |status: &str| ResponseJson {
            status: status.to_owned(),
            body: serde_json::Value::Null,
        };
        assert_eq!(
            TokenResponse::from_generate(r("optout")).unwrap(),
            TokenResponse::OptOut
        );
        assert_eq!(
            TokenResponse::from_generate(r("insufficient_user_consent")).unwrap(),
            TokenResponse::InsufficientUserConsent
        );
        assert!(matches!(
            TokenResponse::from_generate(r("client_error")),
            Err(ClientError::UnexpectedStatus(_))
        ));
        assert!(matches!(
            TokenResponse::from_refresh(r("insufficient_user_consent"), 0),
            Err(ClientError::UnexpectedStatus(_))
        ));
        assert!(TokenResponse::from_generate(r("success")).is_err());
        let body = serde_json::json!({"advertising_token":"AT","refresh_token":"RT","identity_expires":3000,"refresh_from":2000,"refresh_expires":4000,"refresh_response_key":"k"});
        let ok = ResponseJson {
            status: "success".into(),
            body,
        };
        assert!(TokenResponse::from_refresh(ok.clone(), 3999).is_ok());
        assert!(matches!(
            TokenResponse::from_refresh(ok, 4000),
            Err(ClientError::NotRefreshable)
        ));
    }
}
