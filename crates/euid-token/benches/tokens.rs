//! Criterion benchmarks: a full generate (advertising token + refresh envelope), minting an
//! advertising token alone, decoding one, and a refresh; raw UID derivation from a salt (v2)
//! and from key material (v4), and a whole identity-map entry with a previous raw UID.
#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use euid_crypto::{AesGcmKey, BatchedOsRandom};
use euid_token::*;

const NOW: i64 = 1_750_000_000_000;

fn keys() -> KeyStore {
    let keyset = |keyset_id, site_id| Keyset {
        keyset_id,
        site_id,
        name: String::new(),
        allowed_sites: None,
        created: 0,
        enabled: true,
        default: true,
    };
    let key = |id, keyset_id| {
        Key::new(
            id,
            keyset_id,
            0,
            1_700_000_000,
            1_900_000_000,
            AesGcmKey::from_bytes([id as u8; 32]),
        )
    };
    // Some sites and keys around the one used, as in a real snapshot.
    let mut keysets = vec![keyset(-1, -1), keyset(-2, -2), keyset(2, 2)];
    let mut all = vec![key(1, -1), key(2, -2), key(3, 2)];
    for site in 0..200 {
        keysets.push(keyset(100 + site, 1000 + site));
        all.push(key(10 + site, 100 + site));
    }
    KeyStore::new(keysets, all).expect("valid key store")
}

fn salts() -> SaltStore {
    let buckets = (0..PRODUCTION_BUCKET_COUNT)
        .map(|i| SaltBucket::new(1_000_000 + i as i64, 1_700_000_000_000, format!("{i:044}")))
        .collect();
    SaltStore::new(
        "first-level-salt-0123456789abcdefghijklmnopq".into(),
        buckets,
    )
    .expect("valid salts")
}

fn benches(c: &mut Criterion) {
    let keys = keys();
    let salts = salts();
    let gen = TokenGenerator::new(TokenConfig::default()).expect("valid config");
    let mut rng = BatchedOsRandom::new();
    let site = 1042;
    let mut ih = [0u8; 32];

    c.bench_function("generate_full", |b| {
        b.iter(|| {
            ih[0] = ih[0].wrapping_add(1);
            gen.generate(
                &keys,
                &salts,
                &GenerateRequest {
                    identity_type: IdentityType::Email,
                    identity_hash: black_box(&ih),
                    site_id: site,
                    privacy_bits: 1,
                    now_ms: NOW,
                },
                &mut rng,
            )
        })
    });

    // The same with a free random source, to show what the OS generator costs per pair.
    struct Counter(u8);
    impl euid_crypto::RandomSource for Counter {
        fn fill(&mut self, dest: &mut [u8]) {
            dest.fill(self.0);
            self.0 = self.0.wrapping_add(1);
        }
    }
    let mut counter = Counter(0);
    c.bench_function("generate_full_without_os_random", |b| {
        b.iter(|| {
            ih[0] = ih[0].wrapping_add(1);
            gen.generate(
                &keys,
                &salts,
                &GenerateRequest {
                    identity_type: IdentityType::Email,
                    identity_hash: black_box(&ih),
                    site_id: site,
                    privacy_bits: 1,
                    now_ms: NOW,
                },
                &mut counter,
            )
        })
    });

    let flh = first_level_hash(&ih, &salts);
    let uid = raw_uid(&flh, IdentityScope::Euid, IdentityType::Email, &salts);
    let master = keys.active_key(MASTER_KEYSET_ID, NOW).expect("master key");
    let site_key = keys.site_key(site, NOW).expect("site key");
    let fields = AdvertisingTokenFields {
        version: TokenVersion::V4,
        scope: IdentityScope::Euid,
        identity_type: IdentityType::Email,
        expires_ms: NOW + 259_200_000,
        created_ms: NOW,
        operator: OperatorIdentity::SERVICE,
        site_id: site,
        publisher_id: 0,
        client_key_id: 0,
        privacy_bits: 1,
        established_ms: NOW,
        refreshed_ms: NOW,
        raw_uid: &uid,
    };
    c.bench_function("mint_advertising_token", |b| {
        b.iter(|| {
            // Key selection and IVs are part of minting a token in the operator.
            let master = keys.active_key(MASTER_KEYSET_ID, NOW).expect("master key");
            let site_key = keys.site_key(site, NOW).expect("site key");
            let mut ivs = [0u8; 24];
            euid_crypto::RandomSource::fill(&mut rng, &mut ivs);
            let (a, b) = ivs.split_at(12);
            mint_advertising_token(
                black_box(&fields),
                master,
                site_key,
                a.try_into().expect("12"),
                b.try_into().expect("12"),
            )
        })
    });

    let token =
        mint_advertising_token(&fields, master, site_key, &[1; 12], &[2; 12]).expect("mint");
    c.bench_function("decode_advertising_token", |b| {
        b.iter(|| decode_advertising_token(&keys, black_box(&token), NOW))
    });

    let pair = gen
        .generate(
            &keys,
            &salts,
            &GenerateRequest {
                identity_type: IdentityType::Email,
                identity_hash: &ih,
                site_id: site,
                privacy_bits: 1,
                now_ms: NOW,
            },
            &mut rng,
        )
        .expect("generate");
    c.bench_function("refresh", |b| {
        b.iter(|| {
            gen.refresh(
                &keys,
                &salts,
                black_box(&pair.refresh_token),
                NOW + 1,
                &mut rng,
            )
        })
    });
}

/// Two buckets: a salted one (v2/v3 raw UIDs) and one with key material (v4), both rotated
/// recently so the identity map also derives a previous raw UID.
fn raw_uid_salts() -> SaltStore {
    let key = |id, c: char| SaltKeyMaterial::new(id, c.to_string().repeat(32), "k".repeat(44));
    let mut salted = SaltBucket::new(1, NOW, "s".repeat(44));
    salted.previous_salt = Some("p".repeat(44));
    let mut keyed = SaltBucket::with_key_material(2, NOW, key(7, 'a'));
    keyed.previous_key = Some(key(6, 'b'));
    SaltStore::new("first-level".into(), vec![salted, keyed]).expect("valid salts")
}

fn raw_uid_benches(c: &mut Criterion) {
    let salts = raw_uid_salts();
    let config = IdentityConfig {
        identity_v3: false,
        environment: IdentityEnvironment::Prod,
    };
    // First-level hashes that fall into bucket 0 (salted) and bucket 1 (key material).
    let flh_in = |bucket: usize| {
        (0u8..=255)
            .map(|b| [b; 32])
            .find(|flh| salts.bucket_for(flh).index() == bucket)
            .expect("some byte lands in each of two buckets")
    };
    let (salted, keyed) = (flh_in(0), flh_in(1));
    let (scope, ty) = (IdentityScope::Euid, IdentityType::Email);
    c.bench_function("raw_uid_v2", |b| {
        b.iter(|| config.raw_uid(black_box(&salted), scope, ty, &salts))
    });
    c.bench_function("raw_uid_v4", |b| {
        b.iter(|| config.raw_uid(black_box(&keyed), scope, ty, &salts))
    });
    c.bench_function("identity_map_v4_with_previous", |b| {
        b.iter(|| config.map_first_level_hash(black_box(&keyed), scope, ty, &salts, NOW))
    });
}

criterion_group!(tokens, benches, raw_uid_benches);
criterion_main!(tokens);
