//! Salt rotation, sans-IO: a new [`SaltStore`] in which a random fraction of buckets has a
//! fresh salt (or fresh key material) and keeps the old one as previous, the way the live salt
//! service (uid2-admin `SaltRotation`) rotates a bucket.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_crypto::RandomSource;
use zeroize::Zeroizing;

use crate::raw_uid_derivation::next_utc_midnight_ms;
use crate::salts::{SaltBucket, SaltError, SaltKeyMaterial, SaltStore, MAX_SALT_KEY_ID};

const DAY_MS: i64 = 86_400_000;

/// How long after a rotation a bucket may rotate again: 30 days. A rotated bucket's
/// `refreshFrom` is the start (UTC midnight) of the rotation day plus this, what the live salt
/// service gives a bucket it rotates.
pub const SALT_REFRESH_INTERVAL_MS: i64 = 30 * DAY_MS;

/// The share of buckets `euid salts rotate` rotates unless told otherwise: 5%.
pub const DEFAULT_ROTATION_FRACTION: f64 = 0.05;

/// Random bytes behind a new salt (44 base64 characters), as the live salt service makes them.
const SALT_RANDOM_LEN: usize = 32;
/// Random bytes behind a new key (32 base64 characters: the AES-256 key's bytes).
const KEY_RANDOM_LEN: usize = 24;

/// The result of [`rotate_salts`].
#[derive(Debug)]
pub struct SaltRotation {
    /// The new snapshot (same first-level salt and bucket-id settings).
    pub salts: SaltStore,
    /// Indices of the rotated buckets, ascending.
    pub rotated: Vec<usize>,
}

/// Salts are secrets: one that is replaced is wiped, not just freed.
fn wipe(salt: Option<String>) {
    if let Some(mut salt) = salt {
        zeroize::Zeroize::zeroize(&mut salt);
    }
}

/// Rotates `ceil(fraction × buckets)` buckets chosen uniformly at random (at least one when
/// `fraction > 0`; none when it is 0). A rotated bucket:
///
/// - with a current salt gets a new one (base64 of 32 random bytes) and keeps the old one as
///   `previousSalt`; its current key material, if any, becomes its previous (normally none);
/// - with key material instead of a salt gets new key material (the next key id, a key of 32
///   base64 characters, a key salt of 44) and keeps the old one as previous; it has no previous
///   salt then;
/// - gets `lastUpdated = now_ms` and `refreshFrom` = UTC midnight of `now_ms`'s day +
///   [`SALT_REFRESH_INTERVAL_MS`].
///
/// Every other bucket is copied unchanged. Key ids continue from the highest id among the most
/// recently updated key-material buckets, wrapping to 0 after [`MAX_SALT_KEY_ID`] (the live
/// salt service's rule). Unlike the live service, which runs daily and rotates only buckets
/// whose `refreshFrom` falls on that day (spread over age groups), this picks from every bucket,
/// since it runs when an operator asks.
pub fn rotate_salts(
    salts: &SaltStore,
    fraction: f64,
    now_ms: i64,
    rng: &mut impl RandomSource,
) -> Result<SaltRotation, SaltError> {
    if !(0.0..=1.0).contains(&fraction) {
        return Err(SaltError::BadRotationFraction);
    }
    let count = rotation_count(salts.len(), fraction);
    let rotated = pick_distinct(salts.len(), count, rng);

    let mut next_key_id = next_key_id(salts);
    let refresh_from = next_utc_midnight_ms(now_ms)
        .saturating_sub(DAY_MS)
        .saturating_add(SALT_REFRESH_INTERVAL_MS);
    let mut buckets: Vec<SaltBucket> = salts.buckets().map(|b| b.to_bucket()).collect();
    for &index in &rotated {
        let Some(bucket) = buckets.get_mut(index) else {
            continue;
        };
        if bucket.current_salt.is_empty() && bucket.current_key.is_some() {
            let key = SaltKeyMaterial::new(
                next_key_id,
                random_base64(KEY_RANDOM_LEN, rng).as_str(),
                random_base64(SALT_RANDOM_LEN, rng).as_str(),
            );
            next_key_id = if next_key_id >= MAX_SALT_KEY_ID {
                0
            } else {
                next_key_id + 1
            };
            bucket.previous_key = bucket.current_key.replace(key);
            wipe(bucket.previous_salt.take());
        } else {
            let salt = random_base64(SALT_RANDOM_LEN, rng);
            wipe(bucket.previous_salt.take());
            bucket.previous_salt = Some(std::mem::replace(
                &mut bucket.current_salt,
                salt.as_str().to_owned(),
            ));
            bucket.previous_key = bucket.current_key.take();
        }
        bucket.last_updated = now_ms;
        bucket.refresh_from = Some(refresh_from);
    }
    Ok(SaltRotation {
        salts: salts.with_buckets(buckets)?,
        rotated,
    })
}

/// `ceil(len × fraction)`, at least 1 for a positive fraction, at most `len`.
fn rotation_count(len: usize, fraction: f64) -> usize {
    if fraction <= 0.0 || len == 0 {
        return 0;
    }
    // Float to int casts saturate; the product is at most `len`.
    let count = (len as f64 * fraction).ceil() as usize;
    count.clamp(1, len)
}

/// `count` distinct indices below `len`, uniformly chosen (a partial Fisher–Yates shuffle),
/// ascending.
fn pick_distinct(len: usize, count: usize, rng: &mut impl RandomSource) -> Vec<usize> {
    let mut indices: Vec<usize> = (0..len).collect();
    for i in 0..count.min(len) {
        let j = i + uniform_below(len - i, rng);
        indices.swap(i, j);
    }
    indices.truncate(count);
    indices.sort_unstable();
    indices
}

/// A uniform integer in `0..bound` (`bound > 0`), by rejection so there is no modulo bias.
fn uniform_below(bound: usize, rng: &mut impl RandomSource) -> usize {
    let bound = bound as u64;
    let zone = u64::MAX - (u64::MAX % bound.max(1));
    loop {
        let mut bytes = [0u8; 8];
        rng.fill(&mut bytes);
        let x = u64::from_le_bytes(bytes);
        if x < zone {
            // Smaller than `bound`, which came from a usize.
            return (x % bound.max(1)) as usize;
        }
    }
}

/// The key id the next new key material gets: one past the highest id among the
/// key-material buckets updated last; 0 when no bucket has key material.
fn next_key_id(salts: &SaltStore) -> u32 {
    let latest = salts
        .buckets()
        .filter(|b| b.current_key().is_some())
        .map(|b| b.last_updated())
        .max();
    let Some(latest) = latest else {
        return 0;
    };
    let highest = salts
        .buckets()
        .filter(|b| b.last_updated() == latest)
        .filter_map(|b| b.current_key().map(|k| k.id()))
        .max()
        .unwrap_or(0);
    if highest >= MAX_SALT_KEY_ID {
        0
    } else {
        highest + 1
    }
}

fn random_base64(len: usize, rng: &mut impl RandomSource) -> Zeroizing<String> {
    let mut bytes = Zeroizing::new([0u8; SALT_RANDOM_LEN]);
    let bytes = &mut bytes[..len.min(SALT_RANDOM_LEN)];
    rng.fill(bytes);
    Zeroizing::new(STANDARD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts up from a seed: deterministic, and every fill differs.
    struct Counter(u8);

    impl RandomSource for Counter {
        fn fill(&mut self, dest: &mut [u8]) {
            for b in dest {
                self.0 = self.0.wrapping_mul(31).wrapping_add(7);
                *b = self.0;
            }
        }
    }

    const KEY: &str = "key12345key12345key12345key12345";

    fn store() -> SaltStore {
        let mut buckets: Vec<SaltBucket> = (0..10)
            .map(|i| SaltBucket::new(i, 1_000 + i, format!("salt{i}")))
            .collect();
        buckets[3] = SaltBucket::with_key_material(3, 5_000, SaltKeyMaterial::new(41, KEY, "a"));
        buckets[4] = SaltBucket::with_key_material(4, 5_000, SaltKeyMaterial::new(40, KEY, "b"));
        buckets[5] = SaltBucket::with_key_material(5, 9, SaltKeyMaterial::new(900, KEY, "c"));
        SaltStore::new("fl".into(), buckets)
            .unwrap()
            .with_bucket_ids("a", "secret")
    }

    #[test]
    fn counts_and_fractions() {
        assert_eq!(rotation_count(20, 0.05), 1);
        assert_eq!(rotation_count(21, 0.05), 2);
        assert_eq!(rotation_count(1 << 20, 0.05), 52_429);
        assert_eq!(rotation_count(3, 1e-9), 1);
        assert_eq!(rotation_count(3, 0.0), 0);
        assert_eq!(rotation_count(3, 1.0), 3);
        let s = store();
        for bad in [f64::NAN, -0.1, 1.01, f64::INFINITY] {
            assert_eq!(
                rotate_salts(&s, bad, 0, &mut Counter(1)).unwrap_err(),
                SaltError::BadRotationFraction
            );
        }
        let none = rotate_salts(&s, 0.0, 7, &mut Counter(1)).unwrap();
        assert!(none.rotated.is_empty());
        assert_eq!(*none.salts.salts_csv(), *s.salts_csv());
    }

    #[test]
    fn rotates_everything_the_live_way() {
        let s = store();
        let now = 20 * DAY_MS + 5_000;
        let r = rotate_salts(&s, 1.0, now, &mut Counter(9)).unwrap();
        assert_eq!(r.rotated, (0..10).collect::<Vec<_>>());
        assert_eq!(next_key_id(&s), 42);
        let mut next_ids = Vec::new();
        for (old, new) in s.buckets().zip(r.salts.buckets()) {
            assert_eq!((new.id(), new.bucket_id()), (old.id(), old.bucket_id()));
            assert_eq!(new.last_updated(), now);
            assert_eq!(new.refresh_from(), Some(50 * DAY_MS));
            if old.has_current_salt() {
                assert_eq!(new.previous_salt(), Some(old.current_salt()));
                assert_eq!(new.current_salt().len(), 44);
                assert_ne!(new.current_salt(), old.current_salt());
                assert!(new.current_key().is_none() && new.previous_key().is_none());
            } else {
                let (o, n) = (old.current_key().unwrap(), new.current_key().unwrap());
                let p = new.previous_key().unwrap();
                assert_eq!((p.id(), p.key(), p.salt()), (o.id(), o.key(), o.salt()));
                assert_eq!((n.key().len(), n.salt().len()), (32, 44));
                assert_ne!(n.key(), o.key());
                assert!(!new.has_current_salt() && new.previous_salt().is_none());
                next_ids.push(n.id());
            }
        }
        assert_eq!(next_ids, [42, 43, 44]);
        let since: Vec<usize> = r
            .salts
            .buckets_updated_since(now)
            .map(|b| b.index())
            .collect();
        assert_eq!(since, r.rotated);
        assert_eq!(s.buckets_updated_since(5_000).count(), 2);
    }

    #[test]
    fn key_ids_wrap_and_picks_are_distinct() {
        let buckets = vec![SaltBucket::with_key_material(
            1,
            1,
            SaltKeyMaterial::new(MAX_SALT_KEY_ID, KEY, "a"),
        )];
        let s = SaltStore::new("fl".into(), buckets).unwrap();
        assert_eq!(next_key_id(&s), 0);
        let s = SaltStore::new("fl".into(), vec![SaltBucket::new(1, 1, "x")]).unwrap();
        assert_eq!(next_key_id(&s), 0);
        let mut rng = Counter(3);
        for count in [0, 1, 5, 99, 100] {
            let picked = pick_distinct(100, count, &mut rng);
            assert_eq!(picked.len(), count);
            assert!(picked.windows(2).all(|w| w[0] < w[1]) && picked.iter().all(|&i| i < 100));
        }
    }
}
