//! `TokenGenerator`: generate, refresh, the refresh envelope and their error texts.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_crypto::{AesGcmKey, BatchedOsRandom, RandomSource};
use euid_test_support::{key_store, salt_store, CountingRandom, SITE};
use euid_token::*;

const NOW: i64 = 1_700_000_000_000;
const DAY: i64 = 86_400_000;

fn generator() -> TokenGenerator {
    TokenGenerator::new(TokenConfig::default()).unwrap()
}

fn ih(n: u8) -> [u8; 32] {
    [n; 32]
}

/// Counts `fill` calls, to check randomness is drawn once per issue.
struct CountingCalls(BatchedOsRandom, usize);

impl RandomSource for CountingCalls {
    fn fill(&mut self, dest: &mut [u8]) {
        self.1 += 1;
        self.0.fill(dest);
    }
}

#[test]
fn config_defaults_and_validation() {
    let c = TokenConfig::default();
    assert_eq!(c.identity_expires_after_ms, 3 * DAY);
    assert_eq!(c.refresh_identity_after_ms, 3_600_000);
    assert_eq!(c.refresh_expires_after_ms, 30 * DAY);
    assert_eq!(c.scope, IdentityScope::Euid);
    assert!(c.raw_uid_v3);
    let bad = |f: fn(&mut TokenConfig)| {
        let mut c = TokenConfig::default();
        f(&mut c);
        TokenGenerator::new(c).unwrap_err()
    };
    assert!(matches!(
        bad(|c| c.refresh_expires_after_ms = DAY),
        TokenError::InvalidConfig(_)
    ));
    assert!(matches!(
        bad(|c| c.refresh_identity_after_ms = 4 * DAY),
        TokenError::InvalidConfig(_)
    ));
    assert!(matches!(
        bad(|c| c.identity_expires_after_ms = 0),
        TokenError::InvalidConfig(_)
    ));
    // Equal lifetimes are allowed.
    let mut c = TokenConfig::default();
    c.refresh_identity_after_ms = c.identity_expires_after_ms;
    c.refresh_expires_after_ms = c.identity_expires_after_ms;
    assert!(TokenGenerator::new(c).is_ok());
}

#[test]
fn generate_issues_an_sdk_shaped_token_pair() {
    let (keys, salts) = (key_store(), salt_store(64));
    let mut rng = CountingCalls(BatchedOsRandom::new(), 0);
    let t = generator()
        .generate(
            &keys,
            &salts,
            &GenerateRequest {
                identity_type: IdentityType::Email,
                identity_hash: &ih(1),
                site_id: SITE,
                privacy_bits: PRIVACY_BITS_GENERATE,
                now_ms: NOW,
            },
            &mut rng,
        )
        .unwrap();
    assert_eq!(rng.1, 1, "one draw of randomness per token pair");
    assert_eq!(t.identity_expires, NOW + 3 * DAY);
    assert_eq!(t.refresh_from, NOW + 3_600_000);
    assert_eq!(t.refresh_expires, NOW + 30 * DAY);
    assert!(t.advertising_token.starts_with("E4") && t.advertising_token.len() == 219);
    assert_eq!(t.refresh_token.len(), REFRESH_ENVELOPE_LEN);
    assert!(
        t.refresh_token.starts_with('E'),
        "EUID envelopes start with scope byte 0x10"
    );
    assert_eq!(t.refresh_response_key.len(), 44);
    assert_eq!(STANDARD.decode(&t.refresh_response_key).unwrap().len(), 32);

    let ad = decode_advertising_token(&keys, &t.advertising_token, NOW).unwrap();
    assert_eq!(ad.version, TokenVersion::V4);
    assert_eq!(
        (ad.scope, ad.identity_type),
        (IdentityScope::Euid, IdentityType::Email)
    );
    assert_eq!((ad.master_key_id, ad.site_key_id, ad.site_id), (1, 4, SITE));
    assert_eq!(
        (ad.expires_ms, ad.created_ms, ad.refreshed_ms),
        (NOW + 3 * DAY, Some(NOW), Some(NOW))
    );
    assert_eq!((ad.established_ms, ad.privacy_bits), (NOW, 1));
    assert_eq!(ad.operator, Some(OperatorIdentity::SERVICE));
    let flh = first_level_hash(&ih(1), &salts);
    assert_eq!(
        ad.raw_uid,
        raw_uid(&flh, IdentityScope::Euid, IdentityType::Email, &salts)
    );

    let opened = open_refresh_envelope(&keys, &t.refresh_token).unwrap();
    assert_eq!(
        opened.refresh_response_key.expose_secret_base64(),
        t.refresh_response_key
    );
    let r = &opened.token;
    assert_eq!(
        (r.scope, r.identity_type, r.key_id),
        (IdentityScope::Euid, IdentityType::Email, 2)
    );
    assert_eq!(
        (r.expires_ms, r.created_ms, r.established_ms),
        (NOW + 30 * DAY, NOW, NOW)
    );
    assert_eq!(
        (r.site_id, r.privacy_bits, r.first_level_hash),
        (SITE, 1, flh)
    );
    assert_eq!(r.operator, OperatorIdentity::SERVICE);

    // Every token pair is fresh.
    let again = generator()
        .generate(
            &keys,
            &salts,
            &GenerateRequest {
                identity_type: IdentityType::Email,
                identity_hash: &ih(1),
                site_id: SITE,
                privacy_bits: 1,
                now_ms: NOW,
            },
            &mut rng,
        )
        .unwrap();
    assert_ne!(again.refresh_response_key, t.refresh_response_key);
    assert_ne!(again.advertising_token, t.advertising_token);
    let dbg = format!("{t:?}");
    assert!(!dbg.contains(&t.refresh_response_key) && !dbg.contains(&t.advertising_token));
}

#[test]
fn generate_is_deterministic_given_the_randomness() {
    let (keys, salts) = (key_store(), salt_store(8));
    let a = generator()
        .generate(
            &keys,
            &salts,
            &GenerateRequest {
                identity_type: IdentityType::Phone,
                identity_hash: &ih(2),
                site_id: SITE,
                privacy_bits: 1,
                now_ms: NOW,
            },
            &mut CountingRandom(0),
        )
        .unwrap();
    let b = generator()
        .generate(
            &keys,
            &salts,
            &GenerateRequest {
                identity_type: IdentityType::Phone,
                identity_hash: &ih(2),
                site_id: SITE,
                privacy_bits: 1,
                now_ms: NOW,
            },
            &mut CountingRandom(0),
        )
        .unwrap();
    assert_eq!(a, b);
    assert!(a.advertising_token.starts_with("F4"));
    // The response key is the 32 bytes after the four IVs.
    assert_eq!(
        STANDARD.decode(&a.refresh_response_key).unwrap(),
        (48u8..80).collect::<Vec<_>>()
    );
}

#[test]
fn site_without_keys_uses_the_fallback_and_missing_keys_fail() {
    let (keys, salts) = (key_store(), salt_store(8));
    let t = generator()
        .generate(
            &keys,
            &salts,
            &GenerateRequest {
                identity_type: IdentityType::Email,
                identity_hash: &ih(3),
                site_id: 999,
                privacy_bits: 1,
                now_ms: NOW,
            },
            &mut CountingRandom(0),
        )
        .unwrap();
    let ad = decode_advertising_token(&keys, &t.advertising_token, NOW).unwrap();
    assert_eq!((ad.site_id, ad.site_key_id), (999, 3));

    for missing in [
        MASTER_KEYSET_ID,
        REFRESH_KEYSET_ID,
        FALLBACK_PUBLISHER_KEYSET_ID,
    ] {
        let kept: Vec<Key> = key_store()
            .keys()
            .filter(|k| k.keyset_id != missing)
            .cloned()
            .collect();
        let sets: Vec<Keyset> = key_store().keysets().cloned().collect();
        let keys = KeyStore::new(sets, kept).unwrap();
        let err = generator()
            .generate(
                &keys,
                &salts,
                &GenerateRequest {
                    identity_type: IdentityType::Email,
                    identity_hash: &ih(3),
                    site_id: 999,
                    privacy_bits: 1,
                    now_ms: NOW,
                },
                &mut CountingRandom(0),
            )
            .unwrap_err();
        assert_eq!(err, TokenError::NoActiveKey { keyset_id: missing });
        assert_eq!(err.to_string(), "No active encryption key available");
    }
    // Before any key activates.
    let err = generator()
        .generate(
            &keys,
            &salts,
            &GenerateRequest {
                identity_type: IdentityType::Email,
                identity_hash: &ih(3),
                site_id: SITE,
                privacy_bits: 1,
                now_ms: 1_000,
            },
            &mut CountingRandom(0),
        )
        .unwrap_err();
    assert!(matches!(err, TokenError::NoActiveKey { .. }));
}

#[test]
fn raw_uid_v2_option_gives_163_byte_tokens() {
    let (keys, salts) = (key_store(), salt_store(8));
    let config = TokenConfig {
        raw_uid_v3: false,
        ..TokenConfig::default()
    };
    let t = TokenGenerator::new(config)
        .unwrap()
        .generate(
            &keys,
            &salts,
            &GenerateRequest {
                identity_type: IdentityType::Email,
                identity_hash: &ih(4),
                site_id: SITE,
                privacy_bits: 1,
                now_ms: NOW,
            },
            &mut CountingRandom(0),
        )
        .unwrap();
    assert_eq!(t.advertising_token.len(), 218);
    let ad = decode_advertising_token(&keys, &t.advertising_token, NOW).unwrap();
    let flh = first_level_hash(&ih(4), &salts);
    assert_eq!(ad.raw_uid, raw_uid_v2(&flh, &salts));
}

#[test]
fn refresh_keeps_the_identity_and_rotates_the_response_key() {
    let (keys, salts) = (key_store(), salt_store(64));
    let gen = generator();
    let mut rng = BatchedOsRandom::new();
    let first = gen
        .generate(
            &keys,
            &salts,
            &GenerateRequest {
                identity_type: IdentityType::Phone,
                identity_hash: &ih(5),
                site_id: SITE,
                privacy_bits: 3,
                now_ms: NOW,
            },
            &mut rng,
        )
        .unwrap();
    let later = NOW + 2 * 3_600_000;
    match gen.refresh(&keys, &salts, &first.refresh_token, later, &mut rng) {
        RefreshOutcome::Refreshed {
            tokens,
            first_level_hash: flh,
            identity_type,
            site_id,
            refresh_response_key,
        } => {
            assert_eq!(
                refresh_response_key.expose_secret_base64(),
                first.refresh_response_key
            );
            assert_ne!(tokens.refresh_response_key, first.refresh_response_key);
            assert_eq!(flh, first_level_hash(&ih(5), &salts));
            assert_eq!((identity_type, site_id), (IdentityType::Phone, SITE));
            assert_eq!(tokens.identity_expires, later + 3 * DAY);
            assert_eq!(tokens.refresh_expires, later + 30 * DAY);
            let old = decode_advertising_token(&keys, &first.advertising_token, later).unwrap();
            let new = decode_advertising_token(&keys, &tokens.advertising_token, later).unwrap();
            assert_eq!(new.raw_uid, old.raw_uid);
            assert_eq!(
                (new.established_ms, new.privacy_bits, new.site_id),
                (NOW, 3, SITE)
            );
            assert_eq!(
                (new.created_ms, new.refreshed_ms),
                (Some(later), Some(later))
            );
            let inner = open_refresh_envelope(&keys, &tokens.refresh_token)
                .unwrap()
                .token;
            assert_eq!((inner.established_ms, inner.created_ms), (NOW, later));
        }
        other => panic!("expected Refreshed, got {other:?}"),
    }
}

#[test]
fn refresh_expired_and_scope_mismatch() {
    let (keys, salts) = (key_store(), salt_store(8));
    let t = generator()
        .generate(
            &keys,
            &salts,
            &GenerateRequest {
                identity_type: IdentityType::Email,
                identity_hash: &ih(6),
                site_id: SITE,
                privacy_bits: 1,
                now_ms: NOW,
            },
            &mut CountingRandom(0),
        )
        .unwrap();
    let end = NOW + 30 * DAY;
    assert!(matches!(
        generator().refresh(&keys, &salts, &t.refresh_token, end, &mut CountingRandom(0)),
        RefreshOutcome::Refreshed { .. }
    ));
    match generator().refresh(
        &keys,
        &salts,
        &t.refresh_token,
        end + 1,
        &mut CountingRandom(0),
    ) {
        RefreshOutcome::Expired {
            refresh_response_key,
        } => {
            assert_eq!(
                refresh_response_key.expose_secret_base64(),
                t.refresh_response_key
            )
        }
        other => panic!("expected Expired, got {other:?}"),
    }
    // A UID2 token presented to the EUID operator.
    let uid2 = TokenGenerator::new(TokenConfig {
        scope: IdentityScope::Uid2,
        ..TokenConfig::default()
    })
    .unwrap();
    let t = uid2
        .generate(
            &keys,
            &salts,
            &GenerateRequest {
                identity_type: IdentityType::Email,
                identity_hash: &ih(6),
                site_id: SITE,
                privacy_bits: 1,
                now_ms: NOW,
            },
            &mut CountingRandom(0),
        )
        .unwrap();
    assert!(t.refresh_token.starts_with('A') && t.advertising_token.starts_with("A4"));
    match generator().refresh(&keys, &salts, &t.refresh_token, NOW, &mut CountingRandom(0)) {
        RefreshOutcome::Invalid(e) => {
            assert_eq!(e, RefreshError::ScopeMismatch);
            assert_eq!(e.kind(), RefreshErrorKind::InvalidToken);
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn envelope_errors_use_the_operator_texts() {
    let (keys, salts) = (key_store(), salt_store(8));
    let t = generator()
        .generate(
            &keys,
            &salts,
            &GenerateRequest {
                identity_type: IdentityType::Email,
                identity_hash: &ih(7),
                site_id: SITE,
                privacy_bits: 1,
                now_ms: NOW,
            },
            &mut CountingRandom(0),
        )
        .unwrap();
    let open = |s: &str| open_refresh_envelope(&keys, s).unwrap_err();

    let e = open(&format!("{}!", &t.refresh_token[..387]));
    assert_eq!(e.to_string(), "Invalid body: Body is not valid base64.");
    assert_eq!(e.kind(), RefreshErrorKind::Envelope);

    let mut bytes = STANDARD.decode(&t.refresh_token).unwrap();
    bytes[1..5].copy_from_slice(&4242i32.to_be_bytes());
    let e = open(&STANDARD.encode(&bytes));
    assert_eq!(
        e.to_string(),
        "Invalid key: Generator of this token (Key ID: 4242) does not exist."
    );

    let mut bytes = STANDARD.decode(&t.refresh_token).unwrap();
    bytes[100] ^= 1;
    let e = open(&STANDARD.encode(&bytes));
    assert_eq!(
        e.to_string(),
        "Invalid data: Check encryption method and encryption key."
    );

    // A well-sealed envelope with the wrong JSON.
    let refresh_key = keys.active_key(REFRESH_KEYSET_ID, NOW).unwrap();
    let mut sealed = vec![0x10u8];
    sealed.extend_from_slice(&refresh_key.id.to_be_bytes());
    let junk = vec![b'x'; 291 - 5 - 28];
    refresh_key
        .secret()
        .seal_into(&[0; 12], &[], &junk, &mut sealed);
    let e = open(&STANDARD.encode(&sealed));
    assert_eq!(
        e.to_string(),
        "Invalid format: Payload is not valid json or missing required data."
    );
    assert_eq!(e.kind(), RefreshErrorKind::Envelope);

    let e = open(&t.refresh_token[..300]);
    assert_eq!(e, RefreshError::WrongLength(300));
    assert_eq!(e.to_string(), "Invalid Token presented");

    // An envelope around an inner token that does not decode.
    let bad_inner = seal_refresh_envelope(
        IdentityScope::Euid,
        refresh_key,
        &"A".repeat(INNER_REFRESH_TOKEN_LEN),
        &AesGcmKey::from_bytes([1; 32]).expose_secret_base64(),
        &[0; 12],
    );
    assert_eq!(bad_inner.len(), REFRESH_ENVELOPE_LEN);
    let e = open(&bad_inner);
    assert!(matches!(e, RefreshError::InvalidToken(_)), "{e:?}");
    assert_eq!(e.kind(), RefreshErrorKind::InvalidToken);

    // The envelope's scope byte must agree with the token.
    let mut bytes = STANDARD.decode(&t.refresh_token).unwrap();
    bytes[0] = 0x00;
    assert_eq!(open(&STANDARD.encode(&bytes)), RefreshError::ScopeMismatch);
}

#[test]
fn inner_refresh_token_layout() {
    let keys = key_store();
    let key = keys.active_key(REFRESH_KEYSET_ID, NOW).unwrap();
    let token = RefreshToken {
        scope: IdentityScope::Euid,
        identity_type: IdentityType::Phone,
        key_id: key.id,
        expires_ms: NOW + 10,
        created_ms: NOW,
        operator: OperatorIdentity::SERVICE,
        site_id: 55,
        publisher_id: 6,
        client_key_id: 7,
        privacy_bits: 9,
        established_ms: NOW - 10,
        first_level_hash: [0xAB; 32],
    };
    let text = mint_refresh_token(&token, key, &[3; 12]);
    assert_eq!(text.len(), INNER_REFRESH_TOKEN_LEN);
    let bytes = STANDARD.decode(&text).unwrap();
    assert_eq!(bytes.len(), 124);
    assert_eq!((bytes[0], bytes[1]), (0x17, 112));
    assert_eq!(decode_refresh_token(&keys, &text).unwrap(), token);
    let dbg = format!("{token:?}");
    assert!(dbg.contains("<redacted>") && !dbg.contains("171, 171"));
    // The header prefix byte is checked against the authenticated copy.
    let mut flipped = bytes;
    flipped[0] = 0x13;
    assert!(decode_refresh_token(&keys, &STANDARD.encode(&flipped)).is_err());
}

#[test]
fn envelope_json_in_another_field_order_still_opens() {
    let (keys, salts) = (key_store(), salt_store(8));
    let t = generator()
        .generate(
            &keys,
            &salts,
            &GenerateRequest {
                identity_type: IdentityType::Email,
                identity_hash: &ih(8),
                site_id: SITE,
                privacy_bits: 1,
                now_ms: NOW,
            },
            &mut CountingRandom(3),
        )
        .unwrap();
    let inner_token = {
        let opened = open_refresh_envelope(&keys, &t.refresh_token).unwrap();
        let key = keys.key_by_id(opened.token.key_id).unwrap();
        mint_refresh_token(&opened.token, key, &[4; 12])
    };
    // Same length as the operator's order, so still 388 characters.
    let json = format!(
        "{{\"refresh_token\":\"{inner_token}\",\"refresh_response_key\":\"{}\"}}",
        t.refresh_response_key
    );
    let refresh_key = keys.active_key(REFRESH_KEYSET_ID, NOW).unwrap();
    let mut sealed = vec![0x10u8];
    sealed.extend_from_slice(&refresh_key.id.to_be_bytes());
    refresh_key
        .secret()
        .seal_into(&[9; 12], &[], json.as_bytes(), &mut sealed);
    let envelope = STANDARD.encode(&sealed);
    assert_eq!(envelope.len(), REFRESH_ENVELOPE_LEN);
    let opened = open_refresh_envelope(&keys, &envelope).unwrap();
    assert_eq!(
        opened.refresh_response_key.expose_secret_base64(),
        t.refresh_response_key
    );
    assert_eq!(
        opened.token.first_level_hash,
        first_level_hash(&ih(8), &salts)
    );
}
