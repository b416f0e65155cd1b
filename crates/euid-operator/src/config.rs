//! Operator configuration: the live operator's key names plus euid-rs's own settings.

use std::collections::BTreeMap;

use euid_token::{IdentityConfig, IdentityEnvironment};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

// The key lifetimes are the store's too: `euid init` and `euid keys rotate` use them.
use euid_store::{DEFAULT_KEY_LIFETIME_SECONDS, DEFAULT_KEY_NOTICE_SECONDS};

/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Operator settings, read from a JSON file (`--config FILE`) whose keys are the live
/// operator's names where one exists (`wire.md` §6). Every key is optional.
///
/// Unknown keys are accepted (a live operator config can be reused) and reported by
/// [`OperatorConfig::unknown_keys`]. It serializes to the same JSON shape, without the
/// unknown keys (`docs/CONFIG.md` is checked against the serialized defaults).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct OperatorConfig {
    /// Advertising token lifetime (→ `identity_expires`). Default 259200 (3 days).
    pub identity_token_expires_after_seconds: i64,
    /// Refresh token lifetime (→ `refresh_expires`). Default 2592000 (30 days).
    pub refresh_token_expires_after_seconds: i64,
    /// When clients should start refreshing (→ `refresh_from`). Default 3600 (1 hour).
    pub refresh_identity_token_after_seconds: i64,
    /// Sharing token lifetime published by `/v2/key/sharing`. Default 2592000.
    pub sharing_token_expiry_seconds: i64,
    /// Clock skew the SDKs may allow when decrypting tokens (published). Default 1800.
    pub allow_clock_skew_seconds: i64,
    /// Request envelope timestamp window, either way (decision 8). Default 120.
    pub envelope_max_skew_seconds: i64,
    /// TCF vendor whose consent is required (decision 3). Default 21.
    pub tcf_vendor_id: u16,
    /// TCF purposes that must all be granted. Default 1, 2, 3, 4, 7, 10.
    pub tcf_purposes: Vec<u8>,
    /// Check opt-out records on generate (the live operator's behaviour; decision 4). Default off.
    pub optout_check_on_generate: bool,
    /// Largest accepted request body in bytes; larger gets 413. Default 1 MiB.
    pub max_body_bytes: usize,
    /// Per-request time limit in milliseconds; slower requests get 408. Default 10000.
    pub request_timeout_ms: u64,
    /// Listen address; `--listen` and `EUID_LISTEN` override it. Default `127.0.0.1:8080`.
    pub listen: Option<String>,
    /// How often the data directory is checked for changed files, in milliseconds. Default 1000.
    pub reload_interval_ms: u64,
    /// Add each keyset's next key ahead of expiry and drop keys no token can use any more
    /// (`docs/KEYS.md`). Default on; turn it off when something else manages the key files.
    pub auto_rotate_keys: bool,
    /// Lifetime of the keys the operator makes, seconds. Default 3600 (one hour keeps each
    /// key well under 2^32 random-IV messages at the measured throughput).
    pub key_lifetime_seconds: i64,
    /// How long before activation the operator adds a key, seconds. Default 3600.
    pub key_notice_seconds: i64,
    /// `identity_v3`: 33-byte v3 raw UIDs (a scope and type prefix) instead of the 32-byte v2
    /// ones for salted buckets, in tokens, identity maps, validate and opt-outs. Default off,
    /// as the live operator.
    pub identity_v3: bool,
    /// `identity_environment`: `test`, `integ` or `prod`, carried in the v4 raw UIDs of
    /// buckets with key material. Default `test`, as the live operator.
    #[serde(
        deserialize_with = "identity_environment",
        serialize_with = "identity_environment_name"
    )]
    pub identity_environment: IdentityEnvironment,
    /// Keys in the file this operator does not know.
    #[serde(flatten, skip_serializing)]
    unknown: BTreeMap<String, serde_json::Value>,
}

impl Default for OperatorConfig {
    fn default() -> Self {
        Self {
            identity_token_expires_after_seconds: 259_200,
            refresh_token_expires_after_seconds: 2_592_000,
            refresh_identity_token_after_seconds: 3600,
            sharing_token_expiry_seconds: 2_592_000,
            allow_clock_skew_seconds: 1800,
            envelope_max_skew_seconds: 120,
            tcf_vendor_id: 21,
            tcf_purposes: vec![1, 2, 3, 4, 7, 10],
            optout_check_on_generate: false,
            max_body_bytes: 1 << 20,
            request_timeout_ms: 10_000,
            listen: None,
            reload_interval_ms: 1000,
            auto_rotate_keys: true,
            key_lifetime_seconds: DEFAULT_KEY_LIFETIME_SECONDS,
            key_notice_seconds: DEFAULT_KEY_NOTICE_SECONDS,
            identity_v3: false,
            identity_environment: IdentityEnvironment::Test,
            unknown: BTreeMap::new(),
        }
    }
}

/// `identity_environment` by its live name.
fn identity_environment<'de, D: Deserializer<'de>>(d: D) -> Result<IdentityEnvironment, D::Error> {
    let name = String::deserialize(d)?;
    IdentityEnvironment::from_name(&name).ok_or_else(|| {
        serde::de::Error::custom("identity_environment must be \"test\", \"integ\" or \"prod\"")
    })
}

/// `identity_environment` as its live name.
fn identity_environment_name<S: Serializer>(
    environment: &IdentityEnvironment,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(environment.as_str())
}

/// Why a configuration was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a JSON object of the expected shape.
    #[error("config is not valid: {0}")]
    Parse(#[from] serde_json::Error),
    /// A value breaks a rule.
    #[error("config is not valid: {0}")]
    Invalid(String),
}

impl OperatorConfig {
    /// Parses and validates a JSON config.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ConfigError> {
        let config: Self = serde_json::from_slice(bytes)?;
        config.validate()?;
        Ok(config)
    }

    /// How raw UIDs are derived (`identity_v3`, `identity_environment`): the one choice every
    /// endpoint that computes a raw UID makes.
    pub fn identity(&self) -> IdentityConfig {
        IdentityConfig {
            identity_v3: self.identity_v3,
            environment: self.identity_environment,
        }
    }

    /// Keys in the file that this operator ignores (for a start-up warning).
    pub fn unknown_keys(&self) -> impl Iterator<Item = &str> {
        self.unknown.keys().map(String::as_str)
    }

    /// Checks the rules: positive lifetimes and
    /// `refresh_expires >= identity_expires >= refresh_from` (decision 7).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        if self.refresh_identity_token_after_seconds <= 0
            || self.identity_token_expires_after_seconds <= 0
            || self.refresh_token_expires_after_seconds <= 0
            || self.sharing_token_expiry_seconds <= 0
        {
            return invalid("token lifetimes must be positive");
        }
        if self.identity_token_expires_after_seconds < self.refresh_identity_token_after_seconds {
            return invalid(
                "identity_token_expires_after_seconds must be >= refresh_identity_token_after_seconds",
            );
        }
        if self.refresh_token_expires_after_seconds < self.identity_token_expires_after_seconds {
            return invalid(
                "refresh_token_expires_after_seconds must be >= identity_token_expires_after_seconds",
            );
        }
        // Lifetimes end up in i64 milliseconds; keep them far from overflow.
        let max = 100 * 365 * 86_400;
        if self.refresh_token_expires_after_seconds > max || self.sharing_token_expiry_seconds > max
        {
            return invalid("token lifetimes must be under 100 years");
        }
        if self.allow_clock_skew_seconds < 0 || self.envelope_max_skew_seconds < 0 {
            return invalid("clock skews must not be negative");
        }
        if self.envelope_max_skew_seconds > 86_400 {
            return invalid("envelope_max_skew_seconds must be at most 86400");
        }
        if self.tcf_purposes.is_empty() || self.tcf_purposes.iter().any(|p| *p == 0 || *p > 24) {
            return invalid("tcf_purposes must list purposes between 1 and 24");
        }
        if self.max_body_bytes == 0 {
            return invalid("max_body_bytes must be positive");
        }
        if self.key_lifetime_seconds <= 0 || self.key_notice_seconds < 0 {
            return invalid(
                "key_lifetime_seconds must be positive and key_notice_seconds not negative",
            );
        }
        if self.key_lifetime_seconds > max || self.key_notice_seconds > max {
            return invalid("key lifetimes must be under 100 years");
        }
        if self.request_timeout_ms == 0 || self.reload_interval_ms == 0 {
            return invalid("request_timeout_ms and reload_interval_ms must be positive");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_demo_client_points_at_the_default_listen_address() {
        assert_eq!(
            format!("http://{DEFAULT_LISTEN}"),
            euid_store::DEFAULT_BASE_URL
        );
    }

    #[test]
    fn defaults_are_the_euid_production_values() {
        let c = OperatorConfig::from_json(b"{}").unwrap();
        assert_eq!(c.identity_token_expires_after_seconds, 3 * 86_400);
        assert_eq!(c.refresh_token_expires_after_seconds, 30 * 86_400);
        assert_eq!(c.refresh_identity_token_after_seconds, 3600);
        assert_eq!(c.tcf_vendor_id, 21);
        assert_eq!(c.tcf_purposes, vec![1, 2, 3, 4, 7, 10]);
        assert!(!c.optout_check_on_generate);
        assert_eq!(c.identity(), IdentityConfig::default());
        assert!(!c.identity_v3);
        assert_eq!(c.identity_environment, IdentityEnvironment::Test);
    }

    #[test]
    fn identity_keys_take_the_live_names_and_values() {
        let c = OperatorConfig::from_json(br#"{"identity_v3":true,"identity_environment":"prod"}"#)
            .unwrap();
        assert_eq!(
            c.identity(),
            IdentityConfig {
                identity_v3: true,
                environment: IdentityEnvironment::Prod
            }
        );
        assert_eq!(c.unknown_keys().count(), 0);
        for bad in [
            r#"{"identity_environment":"Prod"}"#,
            r#"{"identity_environment":"staging"}"#,
            r#"{"identity_environment":2}"#,
            r#"{"identity_v3":"yes"}"#,
        ] {
            assert!(
                matches!(
                    OperatorConfig::from_json(bad.as_bytes()),
                    Err(ConfigError::Parse(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_serialized_config_reads_back_the_same_without_its_unknown_keys() {
        let c = OperatorConfig::from_json(
            br#"{"identity_environment":"integ","identity_v3":true,"listen":"0.0.0.0:9000",
                "tcf_purposes":[1],"enable_phone_support":true}"#,
        )
        .unwrap();
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["identity_environment"], "integ");
        assert!(json.get("enable_phone_support").is_none());
        let back = OperatorConfig::from_json(json.to_string().as_bytes()).unwrap();
        assert_eq!(back.unknown_keys().count(), 0);
        assert_eq!(
            OperatorConfig {
                unknown: BTreeMap::new(),
                ..c
            },
            back
        );
    }

    #[test]
    fn live_key_names_are_read_and_unknown_keys_reported() {
        let c = OperatorConfig::from_json(
            br#"{"identity_token_expires_after_seconds":3600,"refresh_token_expires_after_seconds":86400,
                "refresh_identity_token_after_seconds":900,"enable_phone_support":true}"#,
        )
        .unwrap();
        assert_eq!(c.identity_token_expires_after_seconds, 3600);
        assert_eq!(c.refresh_identity_token_after_seconds, 900);
        assert_eq!(
            c.unknown_keys().collect::<Vec<_>>(),
            vec!["enable_phone_support"]
        );
    }

    #[test]
    fn lifetime_ordering_is_enforced() {
        for bad in [
            r#"{"identity_token_expires_after_seconds":100,"refresh_identity_token_after_seconds":200}"#,
            r#"{"identity_token_expires_after_seconds":100000,"refresh_token_expires_after_seconds":5000}"#,
            r#"{"refresh_identity_token_after_seconds":0}"#,
            r#"{"tcf_purposes":[]}"#,
            r#"{"tcf_purposes":[25]}"#,
            r#"{"max_body_bytes":0}"#,
            r#"{"key_lifetime_seconds":0}"#,
            r#"{"key_notice_seconds":-1}"#,
        ] {
            assert!(
                matches!(
                    OperatorConfig::from_json(bad.as_bytes()),
                    Err(ConfigError::Invalid(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            OperatorConfig::from_json(br#"{"identity_token_expires_after_seconds":"x"}"#),
            Err(ConfigError::Parse(_))
        ));
        // Equal values satisfy the ordering.
        OperatorConfig::from_json(
            br#"{"identity_token_expires_after_seconds":3600,"refresh_identity_token_after_seconds":3600,"refresh_token_expires_after_seconds":3600}"#,
        )
        .unwrap();
    }
}
