//! Automatic key rotation of the operator's own store (`docs/KEYS.md`): the policy its config
//! gives and the reload loop's periodic tick. What keys to add and prune, and writing them,
//! is euid-store's ([`euid_store::keys`]).

use std::path::Path;

use crate::config::OperatorConfig;
use euid_store::DataDirError;
use euid_store::{maintain_keys, KeyMaintenance, RotationPolicy};

/// The policy for an operator with `config`: its key lifetime and notice, and retention
/// derived from its token lifetimes and clock skew.
pub fn rotation_policy(config: &OperatorConfig) -> RotationPolicy {
    let skew = config.allow_clock_skew_seconds;
    RotationPolicy {
        lifetime_seconds: config.key_lifetime_seconds,
        notice_seconds: config.key_notice_seconds,
        refresh_key_retention_seconds: config
            .refresh_token_expires_after_seconds
            .saturating_add(skew),
        token_key_retention_seconds: config
            .identity_token_expires_after_seconds
            .max(config.sharing_token_expiry_seconds)
            .saturating_add(skew),
    }
}

/// [`maintain_keys`] on the data directory at `path` with the policy of `config`, when
/// `auto_rotate_keys` is on.
pub(crate) fn maintain_if_enabled(
    path: &Path,
    config: &OperatorConfig,
    now_s: i64,
) -> Result<KeyMaintenance, DataDirError> {
    if !config.auto_rotate_keys {
        return Ok(KeyMaintenance::default());
    }
    maintain_keys(path, &rotation_policy(config), now_s)
}

/// [`maintain_if_enabled`] for any store (a shared database serializes the writers, so two
/// replicas starting together add one successor).
pub(crate) fn maintain_store_if_enabled(
    store: &dyn euid_store::Store,
    config: &OperatorConfig,
    now_s: i64,
) -> Result<KeyMaintenance, DataDirError> {
    if !config.auto_rotate_keys {
        return Ok(KeyMaintenance::default());
    }
    store.maintain_keys(&rotation_policy(config), now_s)
}

/// How often the reload loop runs [`maintain_keys`]: a tenth of the key lifetime, between
/// one second and a minute (far inside the notice, and no re-parse of the key file per tick).
pub(crate) fn check_interval(config: &OperatorConfig) -> std::time::Duration {
    let seconds = (config.key_lifetime_seconds / 10).clamp(1, 60);
    std::time::Duration::from_secs(seconds.unsigned_abs())
}

/// One reload-loop tick of rotation, through the operator's store: a failure is logged (the
/// keys in use stay valid until they expire, and the healthcheck reports a keyset without an
/// active key).
pub(crate) fn maintain_logged(operator: &crate::state::Operator) {
    let config = operator.config();
    if !config.auto_rotate_keys {
        return;
    }
    let now_s = crate::clock::now_ms() / 1000;
    match operator
        .store()
        .maintain_keys(&rotation_policy(config), now_s)
    {
        Ok(report) if !report.is_empty() => tracing::info!(
            added = report.added.len(),
            pruned = report.pruned.len(),
            "keys rotated"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "automatic key rotation failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use euid_store::DEFAULT_KEY_LIFETIME_SECONDS;

    const HOUR: i64 = 3600;

    #[test]
    fn retention_covers_every_token_a_key_can_have_sealed() {
        let c = OperatorConfig::default();
        let p = rotation_policy(&c);
        assert_eq!(
            p.refresh_key_retention_seconds,
            c.refresh_token_expires_after_seconds + c.allow_clock_skew_seconds
        );
        // Sharing tokens (30 days) outlive advertising tokens (3 days).
        assert_eq!(
            p.token_key_retention_seconds,
            c.sharing_token_expiry_seconds + c.allow_clock_skew_seconds
        );
    }

    #[test]
    fn the_operator_makes_one_hour_keys_by_default() {
        assert_eq!(DEFAULT_KEY_LIFETIME_SECONDS, HOUR);
        assert_eq!(OperatorConfig::default().key_lifetime_seconds, HOUR);
        assert_eq!(
            crate::InitOptions::default().key_lifetime_seconds,
            OperatorConfig::default().key_lifetime_seconds
        );
    }

    #[test]
    fn maintenance_follows_auto_rotate_keys() {
        let tmp = tempfile::tempdir().unwrap();
        let options = crate::InitOptions {
            salt_bucket_count: 4,
            ..crate::InitOptions::default()
        };
        euid_store::init_data_dir(tmp.path(), &options).unwrap();
        let off = OperatorConfig::from_json(br#"{"auto_rotate_keys":false}"#).unwrap();
        let now = crate::clock::now_ms() / 1000;
        assert!(maintain_if_enabled(tmp.path(), &off, now)
            .unwrap()
            .is_empty());
        let on = OperatorConfig::default();
        assert!(!maintain_if_enabled(tmp.path(), &on, now)
            .unwrap()
            .is_empty());
    }
}
