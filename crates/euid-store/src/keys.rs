//! Key lifetimes, and the two ways keys are added: `euid keys rotate` ([`plan_rotation`])
//! and the operator's automatic rotation ([`plan_maintenance`], `docs/KEYS.md`). Both are
//! pure (a key store in, the new one out), so every backend writes the same keys; the data
//! directory's [`rotate_keys`] and [`maintain_keys`] read and write `keyset_keys.json`.
//!
//! Every token and envelope is sealed with AES-256-GCM under a random 96-bit IV, which is
//! safe for about 2^32 messages per key; past that an IV collision, which reveals the XOR of
//! two plaintexts and the GHASH key, stops being negligible. Keys therefore live one hour
//! ([`DEFAULT_KEY_LIFETIME_SECONDS`]), and the operator adds each keyset's next key ahead of
//! time and drops keys that can no longer open any token.

use std::path::Path;

use euid_crypto::{AesGcmKey, BatchedOsRandom, RandomSource};
use euid_token::{Key, KeyStore, KeyStoreError, Keyset, MASTER_KEYSET_ID, REFRESH_KEYSET_ID};

use crate::data_dir::{load_key_store, write_atomic, DataDir};
use crate::error::StoreError;

/// The default lifetime of a master, refresh or site key: one hour.
///
/// A generate (or refresh) seals once under the master key, once under the site key and twice
/// under the refresh key (inner token and envelope). At the measured ~65,000 generates/s on
/// 2 vCPUs (`docs/PERFORMANCE.md`) that is 130,000 refresh-key messages per second, so an
/// hour is 4.7 × 10^8 ≈ 2^28.8 messages: under 2^30, and 9× under 2^32.
pub const DEFAULT_KEY_LIFETIME_SECONDS: i64 = 3600;
/// How long a key added by rotation sits in the store before it activates, by default: one
/// hour, so SDKs that refresh their keys hourly hold a master or site key before the first
/// token under it appears.
pub const DEFAULT_KEY_NOTICE_SECONDS: i64 = 3600;

/// A fresh AES-256 key from `rng`.
pub fn random_key(rng: &mut impl RandomSource) -> AesGcmKey {
    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
    rng.fill(&mut bytes[..]);
    AesGcmKey::from_bytes(*bytes)
}

/// How [`rotate_keys`] makes the new keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotateOptions {
    /// Seconds from now until the new keys activate (so every operator and SDK has them
    /// before they are used). Default 3600.
    pub activates_in_seconds: i64,
    /// Lifetime of the new keys after activation, seconds. Default one hour
    /// ([`DEFAULT_KEY_LIFETIME_SECONDS`]): a longer-lived key would hold off automatic
    /// rotation and take more messages than random IVs allow.
    pub lifetime_seconds: i64,
}

impl Default for RotateOptions {
    fn default() -> Self {
        Self {
            activates_in_seconds: 3600,
            lifetime_seconds: DEFAULT_KEY_LIFETIME_SECONDS,
        }
    }
}

impl RotateOptions {
    /// Whether the options make sense: a delay that is not negative, a positive lifetime.
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.activates_in_seconds < 0 || self.lifetime_seconds <= 0 {
            return Err("activation delay must not be negative and lifetime must be positive");
        }
        Ok(())
    }
}

/// One key added by [`rotate_keys`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RotatedKey {
    /// The keyset it belongs to.
    pub keyset_id: i32,
    /// The new key's id.
    pub key_id: i32,
    /// When it activates, epoch seconds.
    pub activates: i64,
    /// When it expires, epoch seconds.
    pub expires: i64,
}

/// The keys of `store` plus a new key for the master keyset, the refresh keyset and every
/// enabled default keyset of a site, activating `options.activates_in_seconds` after
/// `now_s`. Old keys stay (tokens they encrypted keep decoding).
pub fn plan_rotation(
    store: &KeyStore,
    options: &RotateOptions,
    now_s: i64,
    rng: &mut impl RandomSource,
) -> Result<(KeyStore, Vec<RotatedKey>), KeyStoreError> {
    let activates = now_s.saturating_add(options.activates_in_seconds);
    let expires = activates.saturating_add(options.lifetime_seconds);
    let mut next_id = next_key_id(store);
    let mut targets: Vec<i32> = vec![MASTER_KEYSET_ID, REFRESH_KEYSET_ID];
    targets.extend(
        store
            .keysets()
            .filter(|ks| ks.enabled && ks.default && ks.site_id > 0)
            .map(|ks| ks.keyset_id),
    );
    targets.dedup();
    let mut keys: Vec<Key> = store.keys().cloned().collect();
    let mut added = Vec::new();
    for keyset_id in targets {
        keys.push(Key::new(
            next_id,
            keyset_id,
            now_s,
            activates,
            expires,
            random_key(rng),
        ));
        added.push(RotatedKey {
            keyset_id,
            key_id: next_id,
            activates,
            expires,
        });
        next_id = next_id.saturating_add(1);
    }
    let keysets: Vec<Keyset> = store.keysets().cloned().collect();
    Ok((KeyStore::new(keysets, keys)?, added))
}

fn next_key_id(store: &KeyStore) -> i32 {
    store
        .keys()
        .map(|k| k.id)
        .max()
        .unwrap_or(0)
        .saturating_add(1)
}

/// Adds a new key to the master keyset, the refresh keyset and every enabled default keyset
/// of a site in the data directory at `path`, activating `options.activates_in_seconds` from
/// now (see [`plan_rotation`]). A running operator picks the change up without a restart.
/// The write is atomic.
pub fn rotate_keys(path: &Path, options: &RotateOptions) -> Result<Vec<RotatedKey>, StoreError> {
    rotate_keys_at(path, options, crate::now_s())
}

pub(crate) fn rotate_keys_at(
    path: &Path,
    options: &RotateOptions,
    now_s: i64,
) -> Result<Vec<RotatedKey>, StoreError> {
    options
        .validate()
        .map_err(|message| StoreError::invalid(path, message))?;
    let dir = DataDir::new(path);
    let keys_path = dir.keyset_keys();
    let store = load_key_store(&dir)?;
    let (new_store, added) = plan_rotation(&store, options, now_s, &mut BatchedOsRandom::new())
        .map_err(|e| StoreError::invalid(&keys_path, e))?;
    write_atomic(&keys_path, new_store.keyset_keys_json().as_bytes())?;
    Ok(added)
}

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
    /// Whether the policy makes sense: a positive lifetime, a notice that is not negative.
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.lifetime_seconds <= 0 || self.notice_seconds < 0 {
            return Err("key lifetime must be positive and notice must not be negative");
        }
        Ok(())
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

/// The keys of `store` brought up to `policy` at `now_s` (epoch seconds): each managed
/// keyset gets keys until its newest one expires at least `notice + lifetime` from now, each
/// activating when the previous one expires (or now, if the keyset has no live key, so the
/// operator can always mint); keys of managed keysets that expired longer ago than their
/// retention are removed. `None` when nothing changes.
pub fn plan_maintenance(
    store: &KeyStore,
    policy: &RotationPolicy,
    now_s: i64,
    rng: &mut impl RandomSource,
) -> Result<(Option<KeyStore>, KeyMaintenance), KeyStoreError> {
    let managed = managed_keysets(store);
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
    let mut next_id = next_key_id(store);
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
                random_key(rng),
            ));
            report.added.push((keyset_id, next_id, activates));
            next_id = next_id.saturating_add(1);
            newest = expires;
        }
    }
    if report.is_empty() {
        return Ok((None, report));
    }
    let keysets: Vec<Keyset> = store.keysets().cloned().collect();
    Ok((Some(KeyStore::new(keysets, keys)?), report))
}

/// Brings the keys in the data directory at `path` up to `policy` at `now_s` (see
/// [`plan_maintenance`]). Writes `keyset_keys.json` atomically, and only when something
/// changed; a running operator picks it up on its next reload.
pub fn maintain_keys(
    path: &Path,
    policy: &RotationPolicy,
    now_s: i64,
) -> Result<KeyMaintenance, StoreError> {
    policy
        .validate()
        .map_err(|message| StoreError::invalid(path, message))?;
    let dir = DataDir::new(path);
    let keys_path = dir.keyset_keys();
    let store = load_key_store(&dir)?;
    let (new_store, report) = plan_maintenance(&store, policy, now_s, &mut BatchedOsRandom::new())
        .map_err(|e| StoreError::invalid(&keys_path, e))?;
    if let Some(new_store) = new_store {
        write_atomic(&keys_path, new_store.keyset_keys_json().as_bytes())?;
    }
    Ok(report)
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
    fn default_lifetimes_keep_each_key_under_2_pow_30_messages() {
        // Measured throughput (docs/PERFORMANCE.md) and seals per generate per key.
        let generates_per_second: i64 = 65_000;
        let refresh_seals = 2 * generates_per_second * DEFAULT_KEY_LIFETIME_SECONDS;
        assert!(refresh_seals < 1 << 30, "{refresh_seals}");
        assert_eq!(InitOptions::default().key_lifetime_seconds, HOUR);
        assert_eq!(
            RotateOptions::default().lifetime_seconds,
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

    #[test]
    fn bad_options_and_policies_are_refused_before_reading() {
        let tmp = tempfile::tempdir().unwrap();
        let bad = RotateOptions {
            activates_in_seconds: -1,
            lifetime_seconds: 1,
        };
        assert!(matches!(
            rotate_keys(tmp.path(), &bad),
            Err(StoreError::Invalid { .. })
        ));
        let bad = RotationPolicy {
            lifetime_seconds: 0,
            ..policy()
        };
        assert!(matches!(
            maintain_keys(tmp.path(), &bad, 0),
            Err(StoreError::Invalid { .. })
        ));
    }
}
