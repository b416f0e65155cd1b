//! Properties of salt files and salt rotation: any table written in the 11-column format reads
//! back identically, older 3- and 5-column lines still load, and a rotation changes exactly
//! the buckets it reports, keeping each one's old salt or key material as previous.

use euid_crypto::RandomSource;
use euid_token::*;
use proptest::prelude::*;

const DAY_MS: i64 = 86_400_000;

/// xorshift64 from a proptest seed: deterministic per case, different across cases.
struct SeededRandom(u64);

impl RandomSource for SeededRandom {
    fn fill(&mut self, dest: &mut [u8]) {
        for b in dest {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            *b = self.0 as u8;
        }
    }
}

fn text() -> impl Strategy<Value = String> {
    "[A-Za-z0-9+/=]{1,44}"
}

fn key_material() -> impl Strategy<Value = SaltKeyMaterial> {
    // Printable ASCII without the comma: what a salts file column can hold.
    (0..=MAX_SALT_KEY_ID, "[!-+\\--~]{32}", text())
        .prop_map(|(id, key, salt)| SaltKeyMaterial::new(id, key, salt))
}

fn bucket() -> impl Strategy<Value = SaltBucket> {
    (
        any::<i64>(),
        any::<i64>(),
        prop_oneof![Just(String::new()), text()],
        proptest::option::of(any::<i64>()),
        proptest::option::of(text()),
        proptest::option::of(key_material()),
        proptest::option::of(key_material()),
    )
        .prop_map(
            |(id, last_updated, salt, refresh_from, previous, cur, prev)| {
                // A bucket needs a current salt or current key material.
                let salt = if salt.is_empty() && cur.is_none() {
                    "s".to_owned()
                } else {
                    salt
                };
                let mut b = SaltBucket::new(id, last_updated, salt);
                b.refresh_from = refresh_from;
                b.previous_salt = previous;
                b.current_key = cur;
                b.previous_key = prev;
                b
            },
        )
}

fn store(buckets: Vec<SaltBucket>) -> SaltStore {
    SaltStore::new("first-level".into(), buckets)
        .unwrap()
        .with_bucket_ids("b", "id secret")
}

fn location() -> SaltFileLocation {
    SaltFileLocation {
        generated_s: 1,
        effective_ms: 2,
        expires_ms: 3,
        location: "salts.txt".into(),
    }
}

fn csv_lines(s: &SaltStore) -> Vec<String> {
    s.salts_csv().lines().map(str::to_owned).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn eleven_column_files_round_trip(buckets in proptest::collection::vec(bucket(), 1..20)) {
        let s = store(buckets.clone());
        let csv = s.salts_csv();
        for line in csv.lines() {
            prop_assert_eq!(line.split(',').count(), 11, "{}", line);
        }
        let meta = s.metadata_json(&location());
        let again = SaltStore::from_files(meta.as_bytes(), csv.as_bytes()).unwrap();
        prop_assert!(*again.salts_csv() == *csv);
        prop_assert_eq!(again.len(), buckets.len());
        for (read, original) in again.buckets().zip(&buckets) {
            prop_assert!(read.to_bucket() == *original, "{:?} vs {:?}", read, original);
            prop_assert_eq!(read.bucket_id(), s.bucket(read.index()).unwrap().bucket_id());
        }
    }

    #[test]
    fn three_and_five_column_files_still_load(
        rows in proptest::collection::vec(
            (any::<i64>(), any::<i64>(), text(), proptest::option::of((any::<i64>(), text()))),
            1..20,
        )
    ) {
        let mut csv = String::new();
        for (id, updated, salt, rest) in &rows {
            match rest {
                None => csv.push_str(&format!("{id},{updated},{salt}\n")),
                Some((r, p)) => csv.push_str(&format!("{id},{updated},{salt},{r},{p}\n")),
            }
        }
        let meta = store(vec![SaltBucket::new(1, 1, "x")]).metadata_json(&location());
        let s = SaltStore::from_files(meta.as_bytes(), csv.as_bytes()).unwrap();
        for (b, (id, updated, salt, rest)) in s.buckets().zip(&rows) {
            prop_assert_eq!(b.id(), *id);
            prop_assert_eq!(b.last_updated(), *updated);
            prop_assert_eq!(b.current_salt(), salt.as_str());
            prop_assert_eq!(b.refresh_from(), rest.as_ref().map(|r| r.0));
            prop_assert_eq!(b.previous_salt(), rest.as_ref().map(|r| r.1.as_str()));
            prop_assert!(b.current_key().is_none() && b.previous_key().is_none());
        }
    }

    #[test]
    fn rotation_changes_exactly_the_rotated_buckets(
        buckets in proptest::collection::vec(bucket(), 1..40),
        fraction in 0.0f64..=1.0,
        now_ms in 0i64..4_000_000_000_000,
        seed in 1u64..,
        flh in any::<[u8; 32]>(),
        identity_v3 in any::<bool>(),
    ) {
        let before = store(buckets);
        let r = rotate_salts(&before, fraction, now_ms, &mut SeededRandom(seed)).unwrap();
        let after = &r.salts;

        let n = before.len();
        let expected = if fraction == 0.0 {
            0
        } else {
            ((n as f64 * fraction).ceil() as usize).clamp(1, n)
        };
        prop_assert_eq!(r.rotated.len(), expected);
        prop_assert!(r.rotated.windows(2).all(|w| w[0] < w[1]));
        prop_assert!(r.rotated.iter().all(|&i| i < n));

        let (old_lines, new_lines) = (csv_lines(&before), csv_lines(after));
        prop_assert_eq!(new_lines.len(), n);
        let next_refresh = now_ms - now_ms.rem_euclid(DAY_MS) + SALT_REFRESH_INTERVAL_MS;
        for i in 0..n {
            let (old, new) = (before.bucket(i).unwrap(), after.bucket(i).unwrap());
            prop_assert_eq!((new.id(), new.bucket_id()), (old.id(), old.bucket_id()));
            if r.rotated.binary_search(&i).is_err() {
                prop_assert_eq!(&new_lines[i], &old_lines[i], "untouched bucket {} changed", i);
                continue;
            }
            prop_assert_eq!(new.last_updated(), now_ms);
            prop_assert_eq!(new.refresh_from(), Some(next_refresh));
            if old.has_current_salt() {
                prop_assert_eq!(new.previous_salt(), Some(old.current_salt()));
                prop_assert!(new.has_current_salt());
                prop_assert_ne!(new.current_salt(), old.current_salt());
                prop_assert!(
                    new.previous_key().map(|k| k.to_key_material())
                        == old.current_key().map(|k| k.to_key_material())
                );
            } else {
                let (o, n) = (old.current_key().unwrap(), new.current_key().unwrap());
                prop_assert!(new.previous_key().unwrap().to_key_material() == o.to_key_material());
                prop_assert!(!new.has_current_salt() && new.previous_salt().is_none());
                prop_assert_ne!(n.key(), o.key());
                prop_assert_eq!(n.key().len(), SALT_KEY_LEN);
            }
        }

        // What the buckets endpoint reports since the rotation: the rotated buckets, plus any
        // untouched one whose lastUpdated is not before it.
        let since: Vec<usize> = after.buckets_updated_since(now_ms).map(|b| b.index()).collect();
        let untouched_later: Vec<usize> = before
            .buckets_updated_since(now_ms)
            .map(|b| b.index())
            .filter(|i| r.rotated.binary_search(i).is_err())
            .collect();
        let mut expected_since = r.rotated.clone();
        expected_since.extend(untouched_later);
        expected_since.sort_unstable();
        prop_assert_eq!(since, expected_since);

        // The identity map after a rotation: the old `u` comes back as `p`.
        for environment in [IdentityEnvironment::Test, IdentityEnvironment::Prod] {
            let config = IdentityConfig { identity_v3, environment };
            let (scope, ty) = (IdentityScope::Euid, IdentityType::Email);
            let old_u = config.raw_uid(&flh, scope, ty, &before);
            let m = config.map_first_level_hash(&flh, scope, ty, after, now_ms);
            if r.rotated.binary_search(&m.bucket_index).is_ok() {
                prop_assert_eq!(m.previous_raw_uid, Some(old_u));
                prop_assert_ne!(m.raw_uid, old_u);
                prop_assert_eq!(m.refresh_from_ms, next_refresh);
            } else {
                prop_assert_eq!(m.raw_uid, old_u);
            }
        }
    }
}

#[test]
fn rotation_of_a_million_buckets_keeps_the_share() {
    let buckets = (0..PRODUCTION_BUCKET_COUNT as i64)
        .map(|i| SaltBucket::new(i, 0, "s"))
        .collect();
    let s = SaltStore::new("fl".into(), buckets).unwrap();
    let r = rotate_salts(&s, DEFAULT_ROTATION_FRACTION, DAY_MS, &mut SeededRandom(7)).unwrap();
    assert_eq!(r.rotated.len(), 52_429);
    assert_eq!(r.salts.buckets_updated_since(1).count(), 52_429);
}
