//! Automatic key rotation for the operator's own data directory (`docs/KEYS.md`).
//!
//! Every token and envelope is sealed with AES-256-GCM under a random 96-bit IV, which is
//! safe for about 2^32 messages per key; past that an IV collision, which reveals the XOR of
//! two plaintexts and the GHASH key, stops being negligible. Keys therefore live one hour
//! ([`DEFAULT_KEY_LIFETIME_SECONDS`]), and the operator adds each keyset's next key ahead of
//! time and drops keys that can no longer open any token.

use euid_crypto::{AesGcmKey, RandomSource};
use std::path::Path;

use euid_crypto::BatchedOsRandom;
use euid_token::{Key, KeyStore, Keyset, MASTER_KEYSET_ID, REFRESH_KEYSET_ID};

use crate::config::OperatorConfig;
pub use crate::config::{DEFAULT_KEY_LIFETIME_SECONDS, DEFAULT_KEY_NOTICE_SECONDS};
use crate::data_dir::{self, write_atomic, DataDir, DataDirError};

/// How the operator keeps its keys fresh.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RotationPolicy {
    /// Lifetime of each added key, seconds.
    pub lifetime_seconds: i64,
    /// Minimum time between adding a key and its activation, seconds.
    pub notice_seconds: i64,
    /// How long after its expiry a refresh key is kept: a refresh token sealed just before
    /// the key expired must still open for its whole lifetime.
    pub refresh_key_retention_seconds: i64,
    /// How long after its expiry a master or site key is kept: the longer of an advertising
    /// token's and a sharing token's lifetime, plus the clock skew SDKs allow (what
    /// `/v2/key/sharing` still publishes).
    pub token_key_retention_seconds: i64,
}

impl RotationPolicy {
    /// The policy for an operator with `config`: its key lifetime and notice, and retention
    /// derived from its token lifetimes and clock skew.
    pub fn for_config(config: &OperatorConfig) -> Self {
        let skew = config.allow_clock_skew_seconds;
        Self {
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
}

/// What [`maintain_keys`] changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyMaintenance {
    /// Keys added: `(keyset_id, key_id, activates)`.
    pub added: Vec<(i32, i32, i64)>,
    /// Ids of keys removed because no token sealed with them can still be valid.
    pub pruned: Vec<i32>,
}

impl KeyMaintenance {
    /// Whether the key file was left as it was.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.pruned.is_empty()
    }
}

/// The keysets rotation manages: master, refresh, and every enabled default keyset of a site
/// (the publisher fallback included), as `euid keys rotate` does.
fn managed_keysets(store: &KeyStore) -> Vec<i32> {
    let mut targets = vec![MASTER_KEYSET_ID, REFRESH_KEYSET_ID];
    targets.extend(
        store
            .keysets()
            .filter(|ks| ks.enabled && ks.default && ks.site_id > 0)
            .map(|ks| ks.keyset_id),
    );
    targets.sort_unstable();
    targets.dedup();
    targets
}

/// Brings the keys in the data directory at `path` up to `policy` at `now_s` (epoch seconds):
/// each managed keyset gets keys until its newest one expires at least
/// `notice + lifetime` from now, each activating when the previous one expires (or now, if
/// the keyset has no live key, so the operator can always mint); keys of managed keysets that
/// expired longer ago than their retention are removed. Writes `keyset_keys.json` atomically,
/// and only when something changed; a running operator picks it up on its next reload.
pub fn maintain_keys(
    path: &Path,
    policy: &RotationPolicy,
    now_s: i64,
) -> Result<KeyMaintenance, DataDirError> {
    if policy.lifetime_seconds <= 0 || policy.notice_seconds < 0 {
        return Err(DataDirError::invalid(
            path,
            "key lifetime must be positive and notice must not be negative",
        ));
    }
    let dir = DataDir::new(path);
    let keys_path = dir.keyset_keys();
    let store = data_dir::load_key_store(&dir)?;
    let managed = managed_keysets(&store);
    let mut report = KeyMaintenance::default();

    let mut keys: Vec<Key> = store
        .keys()
        .filter(|k| {
            let retention = if k.keyset_id == REFRESH_KEYSET_ID {
                policy.refresh_key_retention_seconds
            } else {
                policy.token_key_retention_seconds
            };
            let dead = managed.contains(&k.keyset_id)
                && k.expires.saturating_add(retention.max(0)) < now_s;
            if dead {
                report.pruned.push(k.id);
            }
            !dead
        })
        .cloned()
        .collect();

    let horizon = now_s
        .saturating_add(policy.notice_seconds)
        .saturating_add(policy.lifetime_seconds);
    let mut next_id = store
        .keys()
        .map(|k| k.id)
        .max()
        .unwrap_or(0)
        .saturating_add(1);
    let mut rng = BatchedOsRandom::new();
    for &keyset_id in &managed {
        let mut newest = store
            .keys_of_keyset(keyset_id)
            .map(|k| k.expires)
            .max()
            .unwrap_or(i64::MIN);
        while newest < horizon {
            let activates = newest.max(now_s);
            let expires = activates.saturating_add(policy.lifetime_seconds);
            keys.push(Key::new(
                next_id,
                keyset_id,
                now_s,
                activates,
                expires,
                random_key(&mut rng),
            ));
            report.added.push((keyset_id, next_id, activates));
            next_id = next_id.saturating_add(1);
            newest = expires;
        }
    }
    if report.is_empty() {
        return Ok(report);
    }
    let keysets: Vec<Keyset> = store.keysets().cloned().collect();
    let new_store =
        KeyStore::new(keysets, keys).map_err(|e| DataDirError::invalid(&keys_path, e))?;
    write_atomic(&keys_path, new_store.keyset_keys_json().as_bytes())?;
    Ok(report)
}

/// [`maintain_keys`] with the policy of `config`, when `auto_rotate_keys` is on.
pub(crate) fn maintain_if_enabled(
    path: &Path,
    config: &OperatorConfig,
    now_s: i64,
) -> Result<KeyMaintenance, DataDirError> {
    if !config.auto_rotate_keys {
        return Ok(KeyMaintenance::default());
    }
    maintain_keys(path, &RotationPolicy::for_config(config), now_s)
}

/// How often the reload loop runs [`maintain_keys`]: a tenth of the key lifetime, between
/// one second and a minute (far inside the notice, and no re-parse of the key file per tick).
pub(crate) fn check_interval(config: &OperatorConfig) -> std::time::Duration {
    let seconds = (config.key_lifetime_seconds / 10).clamp(1, 60);
    std::time::Duration::from_secs(seconds.unsigned_abs())
}

/// One reload-loop tick of rotation: a failure is logged (the keys in use stay valid until
/// they expire, and the healthcheck reports a keyset without an active key).
/// A fresh AES-256 key from `rng`.
pub(crate) fn random_key(rng: &mut impl RandomSource) -> AesGcmKey {
    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
    rng.fill(&mut bytes[..]);
    AesGcmKey::from_bytes(*bytes)
}

pub(crate) fn maintain_logged(operator: &crate::state::Operator) {
    let now_s = crate::clock::now_ms() / 1000;
    match maintain_if_enabled(operator.data_dir().root(), operator.config(), now_s) {
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
    use crate::init::{init_data_dir, InitOptions, DEMO_KEYSET_ID};
    use euid_token::FALLBACK_PUBLISHER_KEYSET_ID;

    const HOUR: i64 = 3600;

    fn policy() -> RotationPolicy {
        RotationPolicy {
            lifetime_seconds: HOUR,
            notice_seconds: HOUR,
            refresh_key_retention_seconds: 30 * 86_400,
            token_key_retention_seconds: 3 * 86_400,
        }
    }

    fn load(path: &Path) -> KeyStore {
        let dir = DataDir::new(path);
        KeyStore::from_json(
            &std::fs::read(dir.keysets()).unwrap(),
            &std::fs::read(dir.keyset_keys()).unwrap(),
        )
        .unwrap()
    }

    fn init(path: &Path) -> i64 {
        let options = InitOptions {
            salt_bucket_count: 4,
            ..InitOptions::default()
        };
        init_data_dir(path, &options).unwrap();
        load(path).keys().map(|k| k.created).max().unwrap()
    }

    #[test]
    fn retention_covers_every_token_a_key_can_have_sealed() {
        let c = OperatorConfig::default();
        let p = RotationPolicy::for_config(&c);
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
    fn default_lifetimes_keep_each_key_under_2_pow_30_messages() {
        // Measured throughput (docs/PERFORMANCE.md) and seals per generate per key.
        let generates_per_second: i64 = 65_000;
        let refresh_seals = 2 * generates_per_second * DEFAULT_KEY_LIFETIME_SECONDS;
        assert!(refresh_seals < 1 << 30, "{refresh_seals}");
        assert_eq!(InitOptions::default().key_lifetime_seconds, HOUR);
        assert_eq!(OperatorConfig::default().key_lifetime_seconds, HOUR);
        assert_eq!(
            crate::init::RotateOptions::default().lifetime_seconds,
            DEFAULT_KEY_LIFETIME_SECONDS
        );
    }

    #[test]
    fn successors_are_added_ahead_of_expiry_without_gaps() {
        let tmp = tempfile::tempdir().unwrap();
        let t0 = init(tmp.path());
        let first = maintain_keys(tmp.path(), &policy(), t0).unwrap();
        // Each managed keyset gets the key after the initial one.
        let keysets: Vec<i32> = first.added.iter().map(|a| a.0).collect();
        for k in [
            MASTER_KEYSET_ID,
            REFRESH_KEYSET_ID,
            FALLBACK_PUBLISHER_KEYSET_ID,
            DEMO_KEYSET_ID,
        ] {
            assert_eq!(keysets.iter().filter(|&&x| x == k).count(), 1, "{k}");
        }
        assert!(first.added.iter().all(|a| a.2 == t0 + HOUR));
        // Nothing more to do at the same time; the file is not rewritten.
        let bytes = std::fs::read(DataDir::new(tmp.path()).keyset_keys()).unwrap();
        assert!(maintain_keys(tmp.path(), &policy(), t0).unwrap().is_empty());
        assert_eq!(
            std::fs::read(DataDir::new(tmp.path()).keyset_keys()).unwrap(),
            bytes
        );
        // A day of hourly ticks: always exactly one active key per keyset, every key announced
        // at least the notice before it activates, and no key lives past the lifetime.
        for hour in 1..=24 {
            let now = t0 + hour * HOUR - 5;
            let report = maintain_keys(tmp.path(), &policy(), now).unwrap();
            for (_, _, activates) in &report.added {
                assert!(*activates - now >= HOUR, "{activates} {now}");
            }
            let store = load(tmp.path());
            for keyset in [MASTER_KEYSET_ID, REFRESH_KEYSET_ID, DEMO_KEYSET_ID] {
                for probe in [now, now + 5, now + 10] {
                    assert!(store.active_key(keyset, probe * 1000).is_some());
                }
            }
            assert!(store.keys().all(|k| k.expires - k.activates <= HOUR));
        }
    }

    #[test]
    fn an_operator_that_was_down_gets_keys_that_work_at_once() {
        let tmp = tempfile::tempdir().unwrap();
        let t0 = init(tmp.path());
        let later = t0 + 10 * HOUR;
        maintain_keys(tmp.path(), &policy(), later).unwrap();
        let store = load(tmp.path());
        for keyset in [MASTER_KEYSET_ID, REFRESH_KEYSET_ID, DEMO_KEYSET_ID] {
            let active = store.active_key(keyset, later * 1000).unwrap();
            assert_eq!(active.activates, later);
        }
    }

    #[test]
    fn old_keys_stay_findable_while_tokens_can_use_them_then_go() {
        let tmp = tempfile::tempdir().unwrap();
        let t0 = init(tmp.path());
        let before = load(tmp.path());
        let refresh0 = before.active_key(REFRESH_KEYSET_ID, t0 * 1000).unwrap().id;
        let master0 = before.active_key(MASTER_KEYSET_ID, t0 * 1000).unwrap().id;
        let p = policy();
        // The master key expired at t0 + 1h; kept through identity lifetime + skew.
        let master_gone = t0 + HOUR + p.token_key_retention_seconds;
        maintain_keys(tmp.path(), &p, master_gone).unwrap();
        let store = load(tmp.path());
        assert!(store.key_by_id(master0).is_some());
        assert!(store.key_by_id(refresh0).is_some());
        let report = maintain_keys(tmp.path(), &p, master_gone + 1).unwrap();
        assert!(report.pruned.contains(&master0), "{report:?}");
        assert!(!report.pruned.contains(&refresh0), "{report:?}");
        // A refresh token sealed the second before its key expired lives 30 days more.
        let refresh_gone = t0 + HOUR + p.refresh_key_retention_seconds;
        maintain_keys(tmp.path(), &p, refresh_gone).unwrap();
        assert!(load(tmp.path()).key_by_id(refresh0).is_some());
        let report = maintain_keys(tmp.path(), &p, refresh_gone + 1).unwrap();
        assert!(report.pruned.contains(&refresh0), "{report:?}");
        // Pruning never leaves a managed keyset without an active key.
        let store = load(tmp.path());
        for keyset in [MASTER_KEYSET_ID, REFRESH_KEYSET_ID, DEMO_KEYSET_ID] {
            assert!(store
                .active_key(keyset, (refresh_gone + 1) * 1000)
                .is_some());
        }
    }
}
