//! Key snapshots from `/v2/key/bidstream` and `/v2/key/sharing` answers.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use euid_crypto::AesGcmKey;
use euid_token::{IdentityScope, Key, KeyStore};
use serde::Deserialize;

use crate::ClientError;

/// The keyset id given to keys that came without one (every `/v2/key/bidstream` key).
/// Decryption looks keys up by id only, so it never matters there.
const NO_KEYSET: i32 = i32::MIN;

/// How long a sharing token lives when the answer does not say: 30 days, as the SDKs.
const DEFAULT_TOKEN_EXPIRY_SECONDS: i64 = 30 * 86_400;
/// The clock skew allowed when the answer does not say, as the SDKs.
const DEFAULT_CLOCK_SKEW_SECONDS: i64 = 1800;

/// Why a key answer's body is unusable. Messages never quote a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeysError {
    /// A field is missing or has the wrong type: `missing field …`, or `a field has the wrong
    /// type` (serde's other messages could quote a value).
    #[error("{0}")]
    Shape(String),
    /// A key's `secret` is not base64 of 32 bytes.
    #[error("key {key_id}: bad secret")]
    BadSecret {
        /// The key's `id`.
        key_id: i32,
    },
    /// The keys do not form a key store (e.g. two keys share an id).
    #[error("{0}")]
    Store(String),
    /// `token_expiry_seconds` is a string that is not a number.
    #[error("token_expiry_seconds is not a number")]
    TokenExpirySeconds,
}

/// An immutable snapshot of the keys and settings of one key answer. Share it as an `Arc`
/// and swap it on refresh. `Debug` shows counts, never secrets.
pub struct KeySnapshot {
    keys: KeyStore,
    /// EUID when the answer says `"identity_scope":"EUID"`, else UID2 (as the SDKs).
    pub identity_scope: IdentityScope,
    /// The caller's site id (sharing answers).
    pub caller_site_id: Option<i32>,
    /// The keyset to take the master key from when encrypting (sharing answers).
    pub master_keyset_id: Option<i32>,
    /// The keyset to take the site key from when encrypting (sharing answers).
    pub default_keyset_id: Option<i32>,
    /// Lifetime of tokens this client encrypts, in seconds.
    pub token_expiry_seconds: i64,
    /// The longest lifetime a bidstream token may have, in seconds (no limit when absent).
    pub max_bidstream_lifetime_seconds: Option<i64>,
    /// The longest lifetime a sharing token may have, in seconds (no limit when absent).
    pub max_sharing_lifetime_seconds: Option<i64>,
    /// How far in the future a token's generation time may lie, in seconds.
    pub allow_clock_skew_seconds: i64,
    /// Each site's domain and app names (`site_data`), lower-cased.
    pub site_data: HashMap<i32, Vec<String>>,
    latest_expiry_s: i64,
}

impl std::fmt::Debug for KeySnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySnapshot")
            .field("keys", &self.keys.keys().count())
            .field("identity_scope", &self.identity_scope)
            .field("caller_site_id", &self.caller_site_id)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct RawBody {
    keys: Vec<RawKey>,
    #[serde(default)]
    identity_scope: Option<String>,
    #[serde(default)]
    caller_site_id: Option<i32>,
    #[serde(default)]
    master_keyset_id: Option<i32>,
    #[serde(default)]
    default_keyset_id: Option<i32>,
    #[serde(default)]
    token_expiry_seconds: Option<NumberOrString>,
    #[serde(default)]
    max_bidstream_lifetime_seconds: Option<i64>,
    #[serde(default)]
    max_sharing_lifetime_seconds: Option<i64>,
    #[serde(default)]
    allow_clock_skew_seconds: Option<i64>,
    #[serde(default)]
    site_data: Option<Vec<RawSite>>,
}

#[derive(Deserialize)]
struct RawKey {
    id: i32,
    #[serde(default)]
    keyset_id: Option<i32>,
    created: i64,
    activates: i64,
    expires: i64,
    secret: String,
}

#[derive(Deserialize)]
struct RawSite {
    id: i32,
    #[serde(default)]
    domain_names: Vec<String>,
}

/// The live operator sends `token_expiry_seconds` as a string.
#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrString {
    Number(i64),
    String(String),
}

impl KeySnapshot {
    /// Reads the `body` of a key answer (the SDKs ignore its `status`, and so does this).
    pub fn from_body(body: &serde_json::Value) -> Result<Self, ClientError> {
        // A serde message could quote a secret: keep only what kind of error it was.
        let raw = RawBody::deserialize(body).map_err(|e| {
            let msg = e.to_string();
            KeysError::Shape(if msg.starts_with("missing field") {
                msg
            } else {
                "a field has the wrong type".to_owned()
            })
        })?;
        let mut keys = Vec::with_capacity(raw.keys.len());
        let mut latest_expiry_s = i64::MIN;
        for k in &raw.keys {
            let secret = AesGcmKey::from_base64(&k.secret)
                .map_err(|_| KeysError::BadSecret { key_id: k.id })?;
            latest_expiry_s = latest_expiry_s.max(k.expires);
            keys.push(Key::new(
                k.id,
                k.keyset_id.unwrap_or(NO_KEYSET),
                k.created,
                k.activates,
                k.expires,
                secret,
            ));
        }
        let keys = KeyStore::new(Vec::new(), keys).map_err(|e| KeysError::Store(e.to_string()))?;
        let token_expiry_seconds = match raw.token_expiry_seconds {
            None => DEFAULT_TOKEN_EXPIRY_SECONDS,
            Some(NumberOrString::Number(n)) => n,
            Some(NumberOrString::String(s)) => s
                .trim()
                .parse()
                .map_err(|_| KeysError::TokenExpirySeconds)?,
        };
        let site_data = raw
            .site_data
            .unwrap_or_default()
            .into_iter()
            .map(|s| {
                let names = s
                    .domain_names
                    .into_iter()
                    .map(|n| n.to_ascii_lowercase())
                    .collect();
                (s.id, names)
            })
            .collect();
        Ok(Self {
            keys,
            identity_scope: if raw.identity_scope.as_deref() == Some("EUID") {
                IdentityScope::Euid
            } else {
                IdentityScope::Uid2
            },
            caller_site_id: raw.caller_site_id,
            master_keyset_id: raw.master_keyset_id,
            default_keyset_id: raw.default_keyset_id,
            token_expiry_seconds,
            max_bidstream_lifetime_seconds: raw.max_bidstream_lifetime_seconds,
            max_sharing_lifetime_seconds: raw.max_sharing_lifetime_seconds,
            allow_clock_skew_seconds: raw
                .allow_clock_skew_seconds
                .unwrap_or(DEFAULT_CLOCK_SKEW_SECONDS),
            site_data,
            latest_expiry_s,
        })
    }

    /// Reads a whole decrypted key answer, `{"status":...,"body":{...}}`.
    pub fn from_json(json: &[u8]) -> Result<Self, ClientError> {
        let response = crate::ResponseJson::parse(json)?;
        Self::from_body(&response.body)
    }

    /// The keys, for decoding with [`KeyStore::unscoped`].
    pub fn key_store(&self) -> &KeyStore {
        &self.keys
    }

    /// Whether the snapshot holds no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.keys().next().is_none()
    }

    /// Whether some key is still unexpired at `now_ms` (the SDKs' "keys synced" test).
    pub fn is_valid_at(&self, now_ms: i64) -> bool {
        self.latest_expiry_s.saturating_mul(1000) > now_ms
    }

    /// Whether `domain_or_app_name` is one of `site_id`'s names (case-insensitive).
    pub fn is_domain_or_app_name_allowed(&self, site_id: i32, domain_or_app_name: &str) -> bool {
        self.site_data.get(&site_id).is_some_and(|names| {
            names
                .iter()
                .any(|n| n.eq_ignore_ascii_case(domain_or_app_name))
        })
    }
}

/// The current key snapshot of a bidstream or sharing client, swapped whole on refresh so
/// decrypts never wait for a fetch.
#[derive(Debug, Default)]
#[cfg_attr(not(any(feature = "blocking", feature = "tokio")), allow(dead_code))]
pub(crate) struct KeyCell(RwLock<Option<Arc<KeySnapshot>>>);

#[cfg_attr(not(any(feature = "blocking", feature = "tokio")), allow(dead_code))]
impl KeyCell {
    pub(crate) fn get(&self) -> Option<Arc<KeySnapshot>> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set(&self, snapshot: KeySnapshot) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(snapshot));
    }

    /// Decrypts a token against the current snapshot.
    pub(crate) fn decrypt(
        &self,
        token: &str,
        domain_or_app_name: Option<&str>,
        client_type: crate::ClientType,
        now_ms: i64,
    ) -> crate::DecryptionResponse {
        let keys = self.get();
        crate::decrypt_token(
            keys.as_deref(),
            token,
            domain_or_app_name,
            client_type,
            now_ms,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_sdk_test_key_response() {
        // The shape of uid2-client-python tests/test_key_parse.py.
        let json = br#"{"body":{"caller_site_id":11,"master_keyset_id":1,"default_keyset_id":99999,
            "token_expiry_seconds":"1728000","identity_scope":"EUID","unknown":[1],
            "keys":[{"id":3,"keyset_id":99999,"created":1609459200,"activates":1609459210,"expires":1893456000,"secret":"o8HsvkwJ5Ulnrd0uui3GpukpwDapj+JLqb7qfN/GJKo="},
                    {"id":2,"keyset_id":1,"created":1609459200,"activates":1609459210,"expires":1893456000,"secret":"DD67xF8OFmbJ1/lEPQfAhqB0ZO2pFM6y6xgCmCGvN0E="}]},
            "status":"success"}"#;
        let snap = KeySnapshot::from_json(json).unwrap();
        assert_eq!(snap.caller_site_id, Some(11));
        assert_eq!(snap.master_keyset_id, Some(1));
        assert_eq!(snap.default_keyset_id, Some(99999));
        assert_eq!(snap.token_expiry_seconds, 1_728_000);
        assert_eq!(snap.identity_scope, IdentityScope::Euid);
        assert_eq!(snap.allow_clock_skew_seconds, 1800);
        assert_eq!(snap.key_store().key_by_id(3).unwrap().keyset_id, 99999);
        assert!(snap.is_valid_at(1_800_000_000_000));
        assert!(!snap.is_valid_at(1_893_456_000_000));
        assert!(!format!("{snap:?}").contains("o8Hs"));
    }

    #[test]
    fn refuses_malformed_bodies_without_quoting_secrets() {
        for body in [
            r#"{}"#,
            r#"{"keys":[{"id":1}]}"#,
            r#"{"keys":[{"id":1,"created":1,"activates":1,"expires":2,"secret":"c2VjcmV0LXNlY3JldA=="}]}"#,
            r#"{"keys":"nope"}"#,
            r#"{"keys":[],"token_expiry_seconds":"soon"}"#,
        ] {
            let v: serde_json::Value = serde_json::from_str(body).unwrap();
            let err = KeySnapshot::from_body(&v).unwrap_err();
            assert!(matches!(err, ClientError::Keys(_)), "{body}");
            if body.contains("c2VjcmV0") {
                assert!(matches!(
                    err,
                    ClientError::Keys(KeysError::BadSecret { key_id: 1 })
                ));
            }
            assert!(!err.to_string().contains("c2VjcmV0"), "{err}");
        }
        let v: serde_json::Value = serde_json::from_str(r#"{"keys":[]}"#).unwrap();
        let snap = KeySnapshot::from_body(&v).unwrap();
        assert!(snap.is_empty());
        assert_eq!(snap.identity_scope, IdentityScope::Uid2);
    }

    #[test]
    fn site_data_is_matched_case_insensitively() {
        let v: serde_json::Value = serde_json::from_str(
            r#"{"keys":[],"site_data":[{"id":7,"domain_names":["Example.COM","com.app"]}]}"#,
        )
        .unwrap();
        let snap = KeySnapshot::from_body(&v).unwrap();
        assert!(snap.is_domain_or_app_name_allowed(7, "example.com"));
        assert!(snap.is_domain_or_app_name_allowed(7, "COM.APP"));
        assert!(!snap.is_domain_or_app_name_allowed(7, "other.com"));
        assert!(!snap.is_domain_or_app_name_allowed(8, "example.com"));
    }
}
