//! Interop both ways with the official SDK `uid2-client` (PyPI, pinned in
//! `scripts/test-setup.sh`), through `tests/interop/sdk_token.py`:
//! tokens minted here decrypt in the SDK's `BidstreamClient` and `SharingClient`, and tokens
//! the SDK mints (`SharingClient.encrypt_raw_uid_into_token`, and its legacy v2/v3 encoders)
//! decode here.
//!
//! Without the interop venv these tests fail; outside CI, `EUID_SKIP_INTEROP=1` makes them
//! skip with a notice instead.

use std::path::Path;

use euid_crypto::BatchedOsRandom;
use euid_test_support::{
    interop_python, key_store, now_ms, repo_root, run_interop_script, salt_store, SITE, SITE_KEYSET,
};
use euid_token::*;
use serde_json::{json, Value};

/// The interop Python; `None` when the suite is skipped.
fn python() -> Option<std::path::PathBuf> {
    interop_python("the SDK token interop tests")
}

fn sdk(python: &Path, command: &str, request: &Value) -> Value {
    run_interop_script(
        python,
        &repo_root().join("tests/interop/sdk_token.py"),
        command,
        request,
    )
}

/// A `/v2/key/sharing`-shaped body for site `SITE`: master and site keys (never the refresh
/// keys), sharing header fields as the live operator sends them.
fn key_response(keys: &KeyStore) -> Value {
    let identity_ttl_s = TokenConfig::default().identity_expires_after_ms / 1000;
    let entries: Vec<Value> = keys
        .keys()
        .filter(|k| k.keyset_id != REFRESH_KEYSET_ID)
        .map(|k| match k.keyset_id {
            MASTER_KEYSET_ID => k.to_sdk_json(Some(MASTER_KEYSET_ID_FOR_SDKS)),
            SITE_KEYSET => k.to_sdk_json(Some(SITE_KEYSET)),
            _ => k.to_sdk_json(None),
        })
        .collect();
    json!({
        "caller_site_id": SITE,
        "master_keyset_id": MASTER_KEYSET_ID_FOR_SDKS,
        "default_keyset_id": SITE_KEYSET,
        "token_expiry_seconds": "2592000",
        "max_sharing_lifetime_seconds": 2_592_010,
        "max_bidstream_lifetime_seconds": identity_ttl_s + 10,
        "identity_scope": "EUID",
        "allow_clock_skew_seconds": 1800,
        "keys": entries,
    })
}

#[test]
fn tokens_minted_here_decrypt_in_the_sdk() {
    let Some(python) = python() else { return };
    let (keys, salts) = (key_store(), salt_store(256));
    let gen = TokenGenerator::new(TokenConfig::default()).unwrap();
    let mut rng = BatchedOsRandom::new();
    let now = now_ms();
    let cases = [
        (IdentityType::Email, [1u8; 32], SITE),
        (IdentityType::Phone, [2u8; 32], SITE),
        (IdentityType::Email, [3u8; 32], 4567), // no keyset of its own: fallback site-2 key
        (IdentityType::Phone, [4u8; 32], 4567),
    ];
    let mut tokens = Vec::new();
    let mut expected = Vec::new();
    for (ty, ih, site) in cases {
        let t = gen
            .generate(
                &keys,
                &salts,
                &GenerateRequest {
                    identity_type: ty,
                    identity_hash: &ih,
                    site_id: site,
                    privacy_bits: PRIVACY_BITS_GENERATE,
                    now_ms: now,
                },
                &mut rng,
            )
            .unwrap();
        let flh = first_level_hash(&ih, &salts);
        let uid = raw_uid(&flh, IdentityScope::Euid, ty, &salts);
        // A refreshed token must work the same way.
        let RefreshOutcome::Refreshed { tokens: r, .. } =
            gen.refresh(&keys, &salts, &t.refresh_token, now, &mut rng)
        else {
            panic!("refresh failed")
        };
        for token in [t.advertising_token.clone(), r.advertising_token.clone()] {
            tokens.push(token);
            expected.push((uid.to_base64(), site, ty));
        }
    }
    let answer = sdk(
        &python,
        "decrypt",
        &json!({"key_response": key_response(&keys), "tokens": tokens}),
    );
    let answer = answer.as_array().unwrap();
    assert_eq!(answer.len(), expected.len());
    for (got, (uid, site, ty)) in answer.iter().zip(&expected) {
        for client in ["bidstream", "sharing"] {
            let d = &got[client];
            assert_eq!(d["status"], "SUCCESS", "{client}: {d}");
            assert_eq!(d["uid"], uid.as_str(), "{client}");
            assert_eq!(d["site_id"], *site, "{client}");
            assert_eq!(d["identity_scope"], 1, "{client}: scope EUID");
            assert_eq!(d["identity_type"], ty.wire_value(), "{client}");
            assert_eq!(d["version"], 128, "{client}");
        }
    }
}

#[test]
fn tokens_minted_by_the_sdk_decode_here() {
    let Some(python) = python() else { return };
    let (keys, salts) = (key_store(), salt_store(256));
    let uids: Vec<RawUid> = (0u8..6)
        .map(|i| {
            let ty = if i % 2 == 0 {
                IdentityType::Email
            } else {
                IdentityType::Phone
            };
            raw_uid(
                &first_level_hash(&[i; 32], &salts),
                IdentityScope::Euid,
                ty,
                &salts,
            )
        })
        .collect();
    let before = now_ms();
    let answer = sdk(
        &python,
        "encrypt",
        &json!({
            "key_response": key_response(&keys),
            "raw_uids": uids.iter().map(RawUid::to_base64).collect::<Vec<_>>(),
        }),
    );
    let after = now_ms();
    let master = keys.active_key(MASTER_KEYSET_ID, before).unwrap();
    let site_key = keys.active_key(SITE_KEYSET, before).unwrap();
    let answer = answer.as_array().unwrap();
    // zip stops at the shorter side: a short answer must not pass unchecked.
    assert_eq!(answer.len(), uids.len(), "one SDK answer per raw UID");
    for (got, uid) in answer.iter().zip(&uids) {
        assert_eq!(got["status"], "SUCCESS", "{got}");
        let token = got["token"].as_str().unwrap();
        let t = decode_advertising_token(&keys, token, after).unwrap();
        assert_eq!(t.raw_uid, *uid);
        assert_eq!(t.version, TokenVersion::V4);
        assert_eq!(t.scope, IdentityScope::Euid);
        assert_eq!(Some((t.scope, t.identity_type)), uid.scope_and_type());
        assert_eq!(t.site_id, SITE);
        assert_eq!((t.master_key_id, t.site_key_id), (master.id, site_key.id));
        assert_eq!(t.privacy_bits, 0);
        assert_eq!(t.operator, Some(OperatorIdentity::SERVICE));
        // The SDK truncates its clock to whole seconds.
        let created = t.created_ms.unwrap();
        assert!(created <= after && created >= before - 1000, "{created}");
        assert_eq!(t.expires_ms, created + 2_592_000_000);
    }
}

#[test]
fn legacy_v2_and_v3_tokens_from_the_sdk_decode_here() {
    let Some(python) = python() else { return };
    let (keys, salts) = (key_store(), salt_store(16));
    let master = keys.active_key(MASTER_KEYSET_ID, now_ms()).unwrap();
    let site_key = keys.active_key(SITE_KEYSET, now_ms()).unwrap();
    let uid = raw_uid(
        &first_level_hash(&[9; 32], &salts),
        IdentityScope::Euid,
        IdentityType::Phone,
        &salts,
    );
    let key = |k: &Key| json!({"id": k.id, "secret": k.secret().expose_secret_base64()});
    let established_s = 1_700_000_000i64;
    let expires_s = 1_900_000_000i64;
    for version in [2, 3] {
        let answer = sdk(
            &python,
            "mint_legacy",
            &json!({
                "master": key(master), "site": key(site_key), "site_id": 4242,
                "raw_uid": uid.to_base64(), "version": version,
                "expires_s": expires_s, "established_s": established_s,
            }),
        );
        let token = answer["token"].as_str().unwrap();
        if version == 2 {
            // The default decoder (the operator's) refuses unauthenticated v2 tokens.
            assert_eq!(
                decode_advertising_token(&keys, token, established_s * 1000),
                Err(TokenError::VersionNotSupported)
            );
        }
        let decode_advertising_token = decode_advertising_token_with_legacy::<KeyStore>;
        let t = decode_advertising_token(&keys, token, established_s * 1000).unwrap();
        assert_eq!(t.version.wire_value(), if version == 2 { 2 } else { 112 });
        assert_eq!(t.raw_uid, uid);
        assert_eq!(t.site_id, 4242);
        assert_eq!((t.master_key_id, t.site_key_id), (master.id, site_key.id));
        assert_eq!(t.expires_ms, expires_s * 1000);
        assert_eq!(t.established_ms, established_s * 1000);
        assert_eq!(
            (t.scope, t.identity_type),
            (IdentityScope::Euid, IdentityType::Phone)
        );
        assert_eq!(
            decode_advertising_token(&keys, token, expires_s * 1000 + 1),
            Err(TokenError::Expired {
                expires_ms: expires_s * 1000
            })
        );
    }
}
