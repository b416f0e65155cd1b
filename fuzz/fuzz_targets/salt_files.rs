#![no_main]
//! Any bytes as salts metadata.json + salts CSV (split at the first NUL) load or fail cleanly.
//! A loaded store (11-column lines with key material, or the older 3- and 5-column ones)
//! derives identities under every raw UID setting; the files it writes load to a store with
//! the same buckets, the same bytes and the same identities; and a rotation of it changes
//! exactly the buckets it reports, keeping their old salt or key material as previous.

use euid_crypto::RandomSource;
use euid_fuzz::reached;
use euid_token::{
    first_level_hash, raw_uid, rotate_salts, IdentityConfig, IdentityEnvironment, IdentityScope,
    IdentityType, SaltFileLocation, SaltStore,
};
use libfuzzer_sys::fuzz_target;

/// Deterministic bytes from the input, so a crash replays.
struct InputRandom(u64);

impl RandomSource for InputRandom {
    fn fill(&mut self, dest: &mut [u8]) {
        for b in dest {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            *b = (self.0 >> 56) as u8;
        }
    }
}

const CONFIGS: [IdentityConfig; 4] = [
    IdentityConfig {
        identity_v3: false,
        environment: IdentityEnvironment::Test,
    },
    IdentityConfig {
        identity_v3: true,
        environment: IdentityEnvironment::Test,
    },
    IdentityConfig {
        identity_v3: false,
        environment: IdentityEnvironment::Prod,
    },
    IdentityConfig {
        identity_v3: true,
        environment: IdentityEnvironment::Integ,
    },
];

fn location() -> SaltFileLocation {
    SaltFileLocation {
        generated_s: 1,
        effective_ms: 2,
        expires_ms: 3,
        location: "salts.txt".to_owned(),
    }
}

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (meta, csv) = data.split_at(split);
    let csv = csv.get(1..).unwrap_or_default();
    let Ok(salts) = SaltStore::from_files(meta, csv) else {
        return;
    };
    reached("a loaded salt store");
    if salts
        .buckets()
        .any(|b| b.current_key().is_some() || b.previous_key().is_some())
    {
        reached("a salt store with key material");
    }
    let now_ms = salts.bucket(0).map_or(0, |b| b.last_updated());
    let flh = first_level_hash(data, &salts);
    let uid = raw_uid(&flh, IdentityScope::Euid, IdentityType::Phone, &salts);
    let maps = CONFIGS.map(|c| {
        c.map_first_level_hash(
            &flh,
            IdentityScope::Euid,
            IdentityType::Phone,
            &salts,
            now_ms,
        )
    });
    let bucket_id = salts.bucket_for(&flh).bucket_id();

    // Written files read back to the same table.
    let csv = salts.salts_csv();
    let meta = salts.metadata_json(&location());
    let again =
        SaltStore::from_files(meta.as_bytes(), csv.as_bytes()).expect("written salt files load");
    assert!(again.salts_csv() == csv, "salts CSV round trip differs");
    assert_eq!(again.len(), salts.len());
    for (a, b) in again.buckets().zip(salts.buckets()) {
        assert!(
            a.to_bucket() == b.to_bucket(),
            "bucket {} differs",
            b.index()
        );
    }
    assert_eq!(first_level_hash(data, &again), flh);
    assert_eq!(
        raw_uid(&flh, IdentityScope::Euid, IdentityType::Phone, &again),
        uid
    );
    for (c, m) in CONFIGS.iter().zip(&maps) {
        let m2 = c.map_first_level_hash(
            &flh,
            IdentityScope::Euid,
            IdentityType::Phone,
            &again,
            now_ms,
        );
        assert_eq!(&m2, m);
    }
    assert_eq!(again.bucket_for(&flh).bucket_id(), bucket_id);

    // A rotation: fraction and seed from the input.
    let fraction = f64::from(data.last().copied().unwrap_or(0)) / 255.0;
    let seed = data
        .iter()
        .fold(0u64, |h, &b| h.rotate_left(5) ^ u64::from(b));
    let rotation_now = now_ms.saturating_add(1);
    let r = rotate_salts(&salts, fraction, rotation_now, &mut InputRandom(seed))
        .expect("fractions in 0..=1 rotate");
    reached("a salt rotation");
    assert!(r.rotated.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(r.rotated.is_empty(), fraction == 0.0);
    let (old_csv, new_csv) = (salts.salts_csv(), r.salts.salts_csv());
    for (i, (old, new)) in old_csv.lines().zip(new_csv.lines()).enumerate() {
        let (ob, nb) = (salts.bucket(i).unwrap(), r.salts.bucket(i).unwrap());
        if r.rotated.binary_search(&i).is_err() {
            assert_eq!(old, new, "untouched bucket {i} changed");
        } else if ob.has_current_salt() {
            assert_eq!(nb.previous_salt(), Some(ob.current_salt()));
            assert_ne!(old, new, "rotated bucket {i} unchanged");
        } else {
            assert_ne!(old, new, "rotated bucket {i} unchanged");
            let (p, o) = (nb.previous_key().unwrap(), ob.current_key().unwrap());
            assert!(p.to_key_material() == o.to_key_material());
        }
    }
    let rotated_again = SaltStore::from_files(meta.as_bytes(), new_csv.as_bytes())
        .expect("rotated salt files load");
    assert!(rotated_again.salts_csv() == new_csv);
    let m = CONFIGS[0].map_first_level_hash(
        &flh,
        IdentityScope::Euid,
        IdentityType::Phone,
        &r.salts,
        rotation_now,
    );
    if r.rotated.binary_search(&m.bucket_index).is_ok() {
        let before = CONFIGS[0].raw_uid(&flh, IdentityScope::Euid, IdentityType::Phone, &salts);
        assert_eq!(m.previous_raw_uid, Some(before));
    }
});
