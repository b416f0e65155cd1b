//! Properties: round trips for any identity, site, time and key set; bit flips fail;
//! rotation keeps old tokens decodable while their keys are in the store.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use euid_crypto::AesGcmKey;
use euid_test_support::{keyset, CountingRandom};
use euid_token::*;
use proptest::prelude::*;

const YEAR_S: i64 = 365 * 86_400;

/// A key store with master, refresh, fallback and one site keyset, from arbitrary ids and
/// secrets; keys activate at `activates_s` and live for a year.
fn store(ids: [i32; 4], secrets: [[u8; 32]; 4], site: i32, activates_s: i64) -> KeyStore {
    let keysets = vec![
        keyset(MASTER_KEYSET_ID, -1),
        keyset(REFRESH_KEYSET_ID, -2),
        keyset(FALLBACK_PUBLISHER_KEYSET_ID, 2),
        keyset(1000, site),
    ];
    let keyset_of = [
        MASTER_KEYSET_ID,
        REFRESH_KEYSET_ID,
        FALLBACK_PUBLISHER_KEYSET_ID,
        1000,
    ];
    let keys = (0..4)
        .map(|i| {
            Key::new(
                ids[i],
                keyset_of[i],
                activates_s,
                activates_s,
                activates_s + YEAR_S,
                AesGcmKey::from_bytes(secrets[i]),
            )
        })
        .collect();
    KeyStore::new(keysets, keys).unwrap()
}

fn distinct_ids() -> impl Strategy<Value = [i32; 4]> {
    proptest::collection::hash_set(any::<i32>(), 4).prop_map(|s| {
        let v: Vec<i32> = s.into_iter().collect();
        [v[0], v[1], v[2], v[3]]
    })
}

fn identity_type() -> impl Strategy<Value = IdentityType> {
    prop_oneof![Just(IdentityType::Email), Just(IdentityType::Phone)]
}

fn salts(n: usize, first: &str) -> SaltStore {
    SaltStore::new(
        first.to_owned(),
        (0..n)
            .map(|i| SaltBucket::new(i as i64, 0, format!("salt{i}")))
            .collect(),
    )
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn generate_then_decode_round_trips(
        ids in distinct_ids(),
        secrets in any::<[[u8; 32]; 4]>(),
        site in 3i32..i32::MAX,
        ty in identity_type(),
        ih in proptest::collection::vec(any::<u8>(), 31..34),
        first in "[a-zA-Z0-9+/]{1,44}",
        buckets in 1usize..40,
        privacy_bits in any::<u32>(),
        activates_s in 1_500_000_000i64..2_000_000_000,
        offset_ms in 0i64..(YEAR_S - 31 * 86_400) * 1000,
        seed in any::<u8>(),
    ) {
        let keys = store(ids, secrets, site, activates_s);
        let salts = salts(buckets, &first);
        let now = activates_s * 1000 + offset_ms;
        let gen = TokenGenerator::new(TokenConfig::default()).unwrap();
        let t = gen
            .generate(&keys, &salts, &GenerateRequest { identity_type: ty, identity_hash: &ih, site_id: site, privacy_bits, now_ms: now }, &mut CountingRandom(seed))
            .unwrap();
        let ad = decode_advertising_token(&keys, &t.advertising_token, now).unwrap();
        let flh = first_level_hash(&ih, &salts);
        prop_assert_eq!(ad.raw_uid, raw_uid(&flh, IdentityScope::Euid, ty, &salts));
        prop_assert_eq!((ad.site_id, ad.identity_type, ad.privacy_bits), (site, ty, privacy_bits));
        prop_assert_eq!((ad.master_key_id, ad.site_key_id), (ids[0], ids[3]));
        prop_assert_eq!((ad.created_ms, ad.established_ms), (Some(now), now));

        let opened = open_refresh_envelope(&keys, &t.refresh_token).unwrap();
        prop_assert_eq!(opened.token.first_level_hash, flh);
        prop_assert_eq!((opened.token.site_id, opened.token.key_id), (site, ids[1]));
        prop_assert_eq!(opened.refresh_response_key.expose_secret_base64(), t.refresh_response_key);

        let later = now + 86_400_000;
        match gen.refresh(&keys, &salts, &t.refresh_token, later, &mut CountingRandom(seed ^ 0xFF)) {
            RefreshOutcome::Refreshed { tokens, first_level_hash: f, .. } => {
                prop_assert_eq!(f, flh);
                let again = decode_advertising_token(&keys, &tokens.advertising_token, later).unwrap();
                prop_assert_eq!(again.raw_uid, ad.raw_uid);
                prop_assert_eq!((again.established_ms, again.privacy_bits), (now, privacy_bits));
            }
            other => prop_assert!(false, "expected Refreshed, got {:?}", other),
        }
    }

    #[test]
    fn mint_then_decode_round_trips_every_field(
        ids in distinct_ids(),
        secrets in any::<[[u8; 32]; 4]>(),
        v3_uid in any::<bool>(),
        uid_bytes in any::<[u8; 32]>(),
        scope in prop_oneof![Just(IdentityScope::Uid2), Just(IdentityScope::Euid)],
        ty in identity_type(),
        version in prop_oneof![Just(TokenVersion::V3), Just(TokenVersion::V4)],
        site_id in any::<i32>(),
        publisher_id in any::<i64>(),
        client_key_id in any::<i32>(),
        privacy_bits in any::<u32>(),
        times in any::<[i64; 4]>(),
        op in any::<(i32, u8, i32, i32)>(),
        ivs in any::<([u8; 12], [u8; 12])>(),
    ) {
        let keys = store(ids, secrets, 0, 0);
        let uid = if v3_uid {
            let mut b = vec![(scope.wire_value() << 4) | (ty.wire_value() << 2)];
            b.extend_from_slice(&uid_bytes);
            RawUid::from_slice(&b).unwrap()
        } else {
            RawUid::from_slice(&uid_bytes).unwrap()
        };
        let fields = AdvertisingTokenFields {
            version, scope, identity_type: ty,
            expires_ms: times[0], created_ms: times[1],
            operator: OperatorIdentity { site_id: op.0, operator_type: op.1, version: op.2, key_id: op.3 },
            site_id, publisher_id, client_key_id, privacy_bits,
            established_ms: times[2], refreshed_ms: times[3], raw_uid: &uid,
        };
        let master = keys.key_by_id(ids[0]).unwrap();
        let site = keys.key_by_id(ids[3]).unwrap();
        let text = mint_advertising_token(&fields, master, site, &ivs.0, &ivs.1).unwrap();
        let t = decode_advertising_token(&keys, &text, times[0]).unwrap();
        prop_assert_eq!(t.version, version);
        prop_assert_eq!((t.scope, t.identity_type), (scope, ty));
        prop_assert_eq!((t.expires_ms, t.created_ms, t.established_ms, t.refreshed_ms),
            (times[0], Some(times[1]), times[2], Some(times[3])));
        prop_assert_eq!(t.operator, Some(fields.operator));
        prop_assert_eq!((t.site_id, t.publisher_id, t.client_key_id, t.privacy_bits),
            (site_id, publisher_id, client_key_id, privacy_bits));
        prop_assert_eq!(t.raw_uid, uid);
        if times[0] > i64::MIN {
            let expired = decode_advertising_token(&keys, &text, times[0].saturating_add(1));
            prop_assert_eq!(expired, Err(TokenError::Expired { expires_ms: times[0] }));
        }
    }

    /// With the default 33-byte raw UID every single-bit change to the token is refused.
    #[test]
    fn any_bit_flip_in_an_advertising_token_fails(
        ids in distinct_ids(),
        secrets in any::<[[u8; 32]; 4]>(),
        ty in identity_type(),
        ih in any::<[u8; 32]>(),
        bit in any::<prop::sample::Index>(),
    ) {
        let keys = store(ids, secrets, 100, 1_600_000_000);
        let now = 1_600_000_000_000;
        let gen = TokenGenerator::new(TokenConfig::default()).unwrap();
        let t = gen
            .generate(&keys, &salts(4, "x"), &GenerateRequest { identity_type: ty, identity_hash: &ih, site_id: 100, privacy_bits: 1, now_ms: now }, &mut CountingRandom(1))
            .unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(&t.advertising_token).unwrap();
        let i = bit.index(bytes.len() * 8);
        bytes[i / 8] ^= 1 << (i % 8);
        let flipped = URL_SAFE_NO_PAD.encode(&bytes);
        prop_assert!(decode_advertising_token(&keys, &flipped, now).is_err(), "bit {} accepted", i);
    }

    #[test]
    fn any_bit_flip_in_a_refresh_envelope_fails(
        ids in distinct_ids(),
        secrets in any::<[[u8; 32]; 4]>(),
        ih in any::<[u8; 32]>(),
        bit in any::<prop::sample::Index>(),
    ) {
        let keys = store(ids, secrets, 100, 1_600_000_000);
        let now = 1_600_000_000_000;
        let gen = TokenGenerator::new(TokenConfig::default()).unwrap();
        let salts = salts(4, "x");
        let t = gen
            .generate(&keys, &salts, &GenerateRequest { identity_type: IdentityType::Email, identity_hash: &ih, site_id: 100, privacy_bits: 1, now_ms: now }, &mut CountingRandom(1))
            .unwrap();
        let mut bytes = STANDARD.decode(&t.refresh_token).unwrap();
        let i = bit.index(bytes.len() * 8);
        bytes[i / 8] ^= 1 << (i % 8);
        let flipped = STANDARD.encode(&bytes);
        prop_assert!(open_refresh_envelope(&keys, &flipped).is_err(), "bit {} accepted", i);
        prop_assert!(
            matches!(gen.refresh(&keys, &salts, &flipped, now, &mut CountingRandom(2)), RefreshOutcome::Invalid(_)),
            "bit {} refreshed", i
        );
    }

    /// A token minted before a rotation decodes afterwards while its keys are in the store,
    /// and new tokens use the new keys.
    #[test]
    fn tokens_survive_rotation_while_their_keys_remain(
        ids in distinct_ids(),
        new_ids in distinct_ids(),
        secrets in any::<[[u8; 32]; 4]>(),
        new_secrets in any::<[[u8; 32]; 4]>(),
        ih in any::<[u8; 32]>(),
        gap_s in 1i64..86_400,
    ) {
        prop_assume!(ids.iter().all(|i| !new_ids.contains(i)));
        let t0 = 1_600_000_000;
        let old = store(ids, secrets, 100, t0);
        let gen = TokenGenerator::new(TokenConfig::default()).unwrap();
        let salts = salts(4, "x");
        let before = gen
            .generate(&old, &salts, &GenerateRequest { identity_type: IdentityType::Email, identity_hash: &ih, site_id: 100, privacy_bits: 1, now_ms: t0 * 1000 }, &mut CountingRandom(1))
            .unwrap();

        // The rotated snapshot keeps the old keys and adds new ones activating at t0 + gap.
        let fresh = store(new_ids, new_secrets, 100, t0 + gap_s);
        let rotated = KeyStore::new(
            old.keysets().cloned().collect(),
            old.keys().chain(fresh.keys()).cloned().collect(),
        ).unwrap();
        let now = (t0 + gap_s) * 1000;
        let ad = decode_advertising_token(&rotated, &before.advertising_token, now).unwrap();
        prop_assert_eq!((ad.master_key_id, ad.site_key_id), (ids[0], ids[3]));
        prop_assert!(open_refresh_envelope(&rotated, &before.refresh_token).is_ok());

        let after = gen
            .generate(&rotated, &salts, &GenerateRequest { identity_type: IdentityType::Email, identity_hash: &ih, site_id: 100, privacy_bits: 1, now_ms: now }, &mut CountingRandom(2))
            .unwrap();
        let ad2 = decode_advertising_token(&rotated, &after.advertising_token, now).unwrap();
        prop_assert_eq!((ad2.master_key_id, ad2.site_key_id), (new_ids[0], new_ids[3]));
        prop_assert_eq!(ad2.raw_uid, ad.raw_uid);
        prop_assert_eq!(open_refresh_envelope(&rotated, &after.refresh_token).unwrap().token.key_id, new_ids[1]);

        // Once the old keys are removed, old tokens no longer decode.
        prop_assert_eq!(
            decode_advertising_token(&fresh, &before.advertising_token, now),
            Err(TokenError::UnknownMasterKey(ids[0]))
        );
    }

    #[test]
    fn decoders_never_panic_on_garbage(text in ".{0,400}", bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let keys = store([1, 2, 3, 4], [[7; 32]; 4], 100, 0);
        let _ = decode_advertising_token(&keys, &text, 0);
        let _ = decode_advertising_token(&keys, &URL_SAFE_NO_PAD.encode(&bytes), 0);
        let _ = decode_advertising_token(&keys, &STANDARD.encode(&bytes), 0);
        let _ = open_refresh_envelope(&keys, &text);
        let _ = open_refresh_envelope(&keys, &STANDARD.encode(&bytes));
        let _ = decode_refresh_token(&keys, &STANDARD.encode(&bytes));
    }

    /// Whoever holds a master, fallback or site key (what `/v2/key/sharing` and
    /// `/v2/key/bidstream` hand out) cannot make a refresh token: under any non-refresh key,
    /// in either layer, with any fields, the envelope never opens and never refreshes.
    #[test]
    fn a_refresh_token_sealed_under_a_non_refresh_key_never_decodes(
        ids in distinct_ids(),
        secrets in any::<[[u8; 32]; 4]>(),
        ih in any::<[u8; 32]>(),
        wrong in prop::sample::select(vec![0usize, 2, 3]),
        site_id in any::<i32>(),
        privacy_bits in any::<u32>(),
        established_ms in any::<i64>(),
        ivs in any::<[[u8; 12]; 2]>(),
        inner_only in any::<bool>(),
    ) {
        let keys = store(ids, secrets, 100, 1_600_000_000);
        let now = 1_600_000_000_000;
        let gen = TokenGenerator::new(TokenConfig::default()).unwrap();
        let salts = salts(4, "x");
        let t = gen
            .generate(&keys, &salts, &GenerateRequest { identity_type: IdentityType::Email, identity_hash: &ih, site_id: 100, privacy_bits: 1, now_ms: now }, &mut CountingRandom(1))
            .unwrap();
        let mut token = open_refresh_envelope(&keys, &t.refresh_token).unwrap().token;
        token.site_id = site_id;
        token.privacy_bits = privacy_bits;
        token.established_ms = established_ms;
        let forger = keys.key_by_id(ids[wrong]).unwrap();
        let refresh = keys.key_by_id(ids[1]).unwrap();
        let inner = mint_refresh_token(&token, forger, &ivs[0]);
        // The outer layer under the forger's key too, or (were the refresh key ever known)
        // under the refresh key with only the inner token forged.
        let outer = if inner_only { refresh } else { forger };
        let envelope = seal_refresh_envelope(
            IdentityScope::Euid, outer, &inner, &t.refresh_response_key, &ivs[1],
        );
        let opened = open_refresh_envelope(&keys, &envelope);
        if inner_only {
            prop_assert_eq!(opened.err(), Some(RefreshError::InvalidToken("unknown key")));
        } else {
            prop_assert_eq!(opened.err(), Some(RefreshError::UnknownKey(forger.id)));
        }
        prop_assert!(decode_refresh_token(&keys, &inner).is_err());
        prop_assert!(matches!(
            gen.refresh(&keys, &salts, &envelope, now, &mut CountingRandom(2)),
            RefreshOutcome::Invalid(_)
        ));
        // Control: the same fields under the refresh key do decode.
        let honest = mint_refresh_token(&token, refresh, &ivs[0]);
        prop_assert_eq!(decode_refresh_token(&keys, &honest).map(|t| t.site_id), Ok(site_id));
    }
}

/// Every one of the 1,312 bits of one token, and of one refresh envelope, exhaustively.
#[test]
fn every_single_bit_flip_is_refused() {
    let keys = store(
        [10, 20, 30, 40],
        [[1; 32], [2; 32], [3; 32], [4; 32]],
        100,
        1_600_000_000,
    );
    let now = 1_600_000_000_000;
    let gen = TokenGenerator::new(TokenConfig::default()).unwrap();
    let salts = salts(4, "x");
    let t = gen
        .generate(
            &keys,
            &salts,
            &GenerateRequest {
                identity_type: IdentityType::Phone,
                identity_hash: &[9; 32],
                site_id: 100,
                privacy_bits: 1,
                now_ms: now,
            },
            &mut CountingRandom(7),
        )
        .unwrap();
    let ad = URL_SAFE_NO_PAD.decode(&t.advertising_token).unwrap();
    for i in 0..ad.len() * 8 {
        let mut b = ad.clone();
        b[i / 8] ^= 1 << (i % 8);
        assert!(
            decode_advertising_token(&keys, &URL_SAFE_NO_PAD.encode(&b), now).is_err(),
            "advertising token bit {i}"
        );
    }
    let env = STANDARD.decode(&t.refresh_token).unwrap();
    for i in 0..env.len() * 8 {
        let mut b = env.clone();
        b[i / 8] ^= 1 << (i % 8);
        assert!(
            open_refresh_envelope(&keys, &STANDARD.encode(&b)).is_err(),
            "refresh envelope bit {i}"
        );
    }
}

/// Generate → decode → refresh over a salt table of realistic size (2^20 buckets, as large
/// as production tables get), for random identities: the round trip holds, and the
/// identities spread over the whole table (a bucket index cut to 16 bits, say, would never
/// reach the upper buckets; with the 1–40 buckets above it could not show).
#[test]
fn round_trips_over_a_million_salt_buckets() {
    use proptest::test_runner::TestRunner;
    use std::sync::Mutex;

    const BUCKETS: usize = 1 << 20;
    let salts = salts(BUCKETS, "first-level-salt");
    let keys = store(
        [1, 2, 3, 4],
        [[1; 32], [2; 32], [3; 32], [4; 32]],
        4242,
        1_700_000_000,
    );
    let gen = TokenGenerator::new(TokenConfig::default()).unwrap();
    let now = 1_700_000_000_000 + 86_400_000;
    let buckets = Mutex::new(Vec::new());
    let strategy = (identity_type(), any::<[u8; 32]>(), any::<u8>());
    let mut runner = TestRunner::new(ProptestConfig::with_cases(128));
    let result = runner.run(&strategy, |(ty, ih, seed)| {
        let t = gen
            .generate(
                &keys,
                &salts,
                &GenerateRequest {
                    identity_type: ty,
                    identity_hash: &ih,
                    site_id: 4242,
                    privacy_bits: 0,
                    now_ms: now,
                },
                &mut CountingRandom(seed),
            )
            .unwrap();
        let ad = decode_advertising_token(&keys, &t.advertising_token, now).unwrap();
        let flh = first_level_hash(&ih, &salts);
        prop_assert_eq!(&ad.raw_uid, &raw_uid(&flh, IdentityScope::Euid, ty, &salts));
        let bucket: i64 = salts.bucket_for(&flh).bucket_id().parse().unwrap();
        prop_assert!((0..BUCKETS as i64).contains(&bucket));
        buckets.lock().unwrap().push(bucket);
        match gen.refresh(
            &keys,
            &salts,
            &t.refresh_token,
            now + 1000,
            &mut CountingRandom(!seed),
        ) {
            RefreshOutcome::Refreshed { tokens, .. } => {
                let again =
                    decode_advertising_token(&keys, &tokens.advertising_token, now + 1000).unwrap();
                prop_assert_eq!(again.raw_uid, ad.raw_uid);
            }
            other => prop_assert!(false, "expected Refreshed, got {:?}", other),
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let mut buckets = buckets.into_inner().unwrap();
    let cases = buckets.len();
    buckets.sort_unstable();
    buckets.dedup();
    // 128 draws from 2^20 buckets: a collision is unlikely, many would mean poor spreading.
    assert!(
        buckets.len() >= cases - 2,
        "{} buckets for {cases} identities",
        buckets.len()
    );
    assert!(
        buckets.iter().filter(|&&b| b >= 1 << 19).count() >= cases / 4,
        "the upper half of the table is rarely used: {buckets:?}"
    );
}
