//! Raw UIDs as the live operator derives them (`wire.md` §3 items 4–6): the version chosen by
//! config and salt data, the previous raw UID within 90 days of a rotation, and the identity
//! map's refresh time.

use crate::identity::{
    bucket_raw_uid, first_level_hash, keyed_raw_uid, raw_uid_prefix, salted_raw_uid,
};
use crate::raw_uid_v4::IdentityEnvironment;
use crate::salts::{SaltBucketRef, SaltStore};
use crate::{IdentityScope, IdentityType, RawUid};

const DAY_MS: i64 = 86_400_000;

/// How long after a bucket's `lastUpdated` its previous raw UID is still given: 90 days.
pub const PREVIOUS_RAW_UID_WINDOW_MS: i64 = 90 * DAY_MS;

/// The live operator's raw UID settings: `identity_v3` and `identity_environment`.
///
/// The default is the live default: v2 raw UIDs (32 bytes) for salted buckets, and the `test`
/// environment in v4 raw UIDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct IdentityConfig {
    /// `identity_v3`: 33-byte v3 raw UIDs instead of 32-byte v2 ones for salted buckets.
    pub identity_v3: bool,
    /// `identity_environment`: bits 6–7 of v4 raw UIDs.
    pub environment: IdentityEnvironment,
}

/// Everything `/v3/identity/map` says about one identity (`wire.md` §3).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct IdentityMapping {
    /// The first-level hash (what refresh tokens and opt-out records carry).
    pub first_level_hash: [u8; 32],
    /// The salt bucket's index in the store (`SaltStore::bucket`, for `bucket_id`).
    pub bucket_index: usize,
    /// The current raw UID (`u`).
    pub raw_uid: RawUid,
    /// The raw UID before the bucket's last rotation (`p`), within 90 days of it.
    pub previous_raw_uid: Option<RawUid>,
    /// When the client should map again (`r`), Unix ms (identity map v3 sends seconds).
    pub refresh_from_ms: i64,
}

impl std::fmt::Debug for IdentityMapping {
    // The first-level hash is what opt-out records are keyed by: left out, like salts.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityMapping")
            .field("bucket_index", &self.bucket_index)
            .field("raw_uid", &self.raw_uid)
            .field("previous_raw_uid", &self.previous_raw_uid)
            .field("refresh_from_ms", &self.refresh_from_ms)
            .finish_non_exhaustive()
    }
}

impl IdentityConfig {
    /// The current raw UID of a first-level hash, as every endpoint computes it (tokens, both
    /// identity maps, validate, logout): v2, or v3 with `identity_v3`, from the bucket's salt;
    /// v4 from its key material when it has no current salt.
    pub fn raw_uid(
        &self,
        first_level_hash: &[u8; 32],
        scope: IdentityScope,
        identity_type: IdentityType,
        salts: &SaltStore,
    ) -> RawUid {
        self.bucket_raw_uid(
            first_level_hash,
            scope,
            identity_type,
            salts.bucket_for(first_level_hash),
        )
    }

    /// [`IdentityConfig::raw_uid`] for a bucket already looked up.
    pub fn bucket_raw_uid(
        &self,
        first_level_hash: &[u8; 32],
        scope: IdentityScope,
        identity_type: IdentityType,
        bucket: SaltBucketRef<'_>,
    ) -> RawUid {
        bucket_raw_uid(
            first_level_hash,
            bucket,
            scope,
            identity_type,
            self.identity_v3,
            self.environment,
        )
    }

    /// The raw UID before the bucket's last rotation: only while `now − lastUpdated` is under
    /// 90 days (a `lastUpdated` in the future counts as under) and the bucket has a previous
    /// salt (v2/v3) or, failing that, previous key material (v4); otherwise `None`.
    pub fn previous_raw_uid(
        &self,
        first_level_hash: &[u8; 32],
        scope: IdentityScope,
        identity_type: IdentityType,
        bucket: SaltBucketRef<'_>,
        now_ms: i64,
    ) -> Option<RawUid> {
        if now_ms.saturating_sub(bucket.last_updated()) >= PREVIOUS_RAW_UID_WINDOW_MS {
            return None;
        }
        if let Some(salt) = bucket.previous_salt() {
            let prefix = self
                .identity_v3
                .then(|| raw_uid_prefix(scope, identity_type));
            return Some(salted_raw_uid(first_level_hash, salt, prefix));
        }
        let key = bucket.previous_key()?;
        Some(keyed_raw_uid(
            first_level_hash,
            key,
            scope,
            identity_type,
            self.environment,
        ))
    }

    /// Maps an identity hash (`/v3/identity/map`): first-level hash, bucket, current and
    /// previous raw UID, and refresh time at `now_ms`.
    pub fn map(
        &self,
        identity_hash: &[u8],
        scope: IdentityScope,
        identity_type: IdentityType,
        salts: &SaltStore,
        now_ms: i64,
    ) -> IdentityMapping {
        let flh = first_level_hash(identity_hash, salts);
        self.map_first_level_hash(&flh, scope, identity_type, salts, now_ms)
    }

    /// [`IdentityConfig::map`] from a first-level hash.
    pub fn map_first_level_hash(
        &self,
        first_level_hash: &[u8; 32],
        scope: IdentityScope,
        identity_type: IdentityType,
        salts: &SaltStore,
        now_ms: i64,
    ) -> IdentityMapping {
        let bucket = salts.bucket_for(first_level_hash);
        IdentityMapping {
            first_level_hash: *first_level_hash,
            bucket_index: bucket.index(),
            raw_uid: self.bucket_raw_uid(first_level_hash, scope, identity_type, bucket),
            previous_raw_uid: self.previous_raw_uid(
                first_level_hash,
                scope,
                identity_type,
                bucket,
                now_ms,
            ),
            refresh_from_ms: refresh_from_ms(bucket, now_ms),
        }
    }
}

/// The identity map's `r`: the bucket's `refreshFrom` when it is at or after `now_ms`;
/// otherwise (or when the file gave none) the next UTC midnight after `now_ms`.
pub fn refresh_from_ms(bucket: SaltBucketRef<'_>, now_ms: i64) -> i64 {
    match bucket.refresh_from() {
        Some(r) if r >= now_ms => r,
        _ => next_utc_midnight_ms(now_ms),
    }
}

/// The first UTC midnight strictly after `now_ms` (the start of the next day).
pub(crate) fn next_utc_midnight_ms(now_ms: i64) -> i64 {
    now_ms
        .div_euclid(DAY_MS)
        .saturating_add(1)
        .saturating_mul(DAY_MS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::salts::{SaltBucket, SaltKeyMaterial};
    use crate::RawUidVersion;

    const KEY: &str = "key12345key12345key12345key12345";

    fn store(bucket: SaltBucket) -> SaltStore {
        SaltStore::new("fl".into(), vec![bucket]).unwrap()
    }

    #[test]
    fn next_midnight_and_refresh_rule() {
        assert_eq!(next_utc_midnight_ms(0), DAY_MS);
        assert_eq!(next_utc_midnight_ms(DAY_MS - 1), DAY_MS);
        assert_eq!(next_utc_midnight_ms(DAY_MS), 2 * DAY_MS);
        assert_eq!(next_utc_midnight_ms(-1), 0);
        assert_eq!(next_utc_midnight_ms(i64::MAX), i64::MAX);
        let mut b = SaltBucket::new(1, 0, "s");
        b.refresh_from = Some(5 * DAY_MS);
        let s = store(b);
        let bucket = s.bucket(0).unwrap();
        assert_eq!(
            refresh_from_ms(bucket, 5 * DAY_MS),
            5 * DAY_MS,
            "equal is kept"
        );
        assert_eq!(refresh_from_ms(bucket, 3 * DAY_MS + 7), 5 * DAY_MS);
        assert_eq!(refresh_from_ms(bucket, 5 * DAY_MS + 1), 6 * DAY_MS);
        let s = store(SaltBucket::new(1, 0, "s"));
        assert_eq!(refresh_from_ms(s.bucket(0).unwrap(), 10), DAY_MS);
    }

    #[test]
    fn previous_raw_uid_window_and_choice() {
        let flh = [3u8; 32];
        let (scope, ty) = (IdentityScope::Euid, IdentityType::Phone);
        let mut b = SaltBucket::with_key_material(1, 1000, SaltKeyMaterial::new(7, KEY, "ks"));
        b.previous_salt = Some("old".into());
        b.previous_key = Some(SaltKeyMaterial::new(6, KEY, "ks0"));
        let s = store(b);
        let bucket = s.bucket(0).unwrap();
        for (v3, version) in [(false, RawUidVersion::V2), (true, RawUidVersion::V3)] {
            let config = IdentityConfig {
                identity_v3: v3,
                environment: IdentityEnvironment::Prod,
            };
            assert_eq!(
                config.bucket_raw_uid(&flh, scope, ty, bucket).version(),
                RawUidVersion::V4
            );
            let p = config.previous_raw_uid(
                &flh,
                scope,
                ty,
                bucket,
                1000 + PREVIOUS_RAW_UID_WINDOW_MS - 1,
            );
            // The previous salt wins over previous key material, as in the live operator.
            assert_eq!(p.map(|p| p.version()), Some(version));
            assert_eq!(
                config.previous_raw_uid(&flh, scope, ty, bucket, 1000 + PREVIOUS_RAW_UID_WINDOW_MS),
                None
            );
            assert!(config
                .previous_raw_uid(&flh, scope, ty, bucket, i64::MIN)
                .is_some());
        }
        let mut b = SaltBucket::new(1, 1000, "cur");
        b.previous_key = Some(SaltKeyMaterial::new(6, KEY, "ks0"));
        let s = store(b);
        let p =
            IdentityConfig::default().previous_raw_uid(&flh, scope, ty, s.bucket(0).unwrap(), 1000);
        assert_eq!(p.map(|p| p.version()), Some(RawUidVersion::V4));
        let s = store(SaltBucket::new(1, 1000, "cur"));
        assert_eq!(
            IdentityConfig::default().previous_raw_uid(&flh, scope, ty, s.bucket(0).unwrap(), 1000),
            None
        );
    }

    #[test]
    fn environment_and_type_reach_the_v4_metadata() {
        let flh = [9u8; 32];
        let s = store(SaltBucket::with_key_material(
            1,
            0,
            SaltKeyMaterial::new(0x123456, KEY, "ks"),
        ));
        let config = IdentityConfig {
            identity_v3: false,
            environment: IdentityEnvironment::Integ,
        };
        let uid = config.raw_uid(&flh, IdentityScope::Uid2, IdentityType::Phone, &s);
        assert_eq!(uid.as_bytes()[0], 0x40 | 0x20 | 0x04);
        assert_eq!(&uid.as_bytes()[1..4], &[0x12, 0x34, 0x56]);
        assert_eq!(
            uid.scope_and_type(),
            Some((IdentityScope::Uid2, IdentityType::Phone))
        );
        let m = config.map_first_level_hash(&flh, IdentityScope::Uid2, IdentityType::Phone, &s, 0);
        assert_eq!(m.raw_uid, uid);
        assert!(!format!("{m:?}").contains("first_level_hash"));
    }
}
