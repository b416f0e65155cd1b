//! Key endpoints, identity map, roles and hot reload of clients, over real HTTP.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_operator::OperatorConfig;
use euid_operator::Role;
use euid_test_support::{add_client, fast_reload, now_ms, read_key_store, ApiClient, TestServer};

#[test]
fn bidstream_and_sharing_keys_have_the_sdk_shape() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), OperatorConfig::default());
    let client = ApiClient::demo(&server);
    let store = read_key_store(dir.path());
    let refresh_key_ids: Vec<i64> = store
        .keys_of_keyset(euid_token::REFRESH_KEYSET_ID)
        .map(|k| i64::from(k.id))
        .collect();
    let master_ids: Vec<i64> = store
        .keys_of_keyset(euid_token::MASTER_KEYSET_ID)
        .map(|k| i64::from(k.id))
        .collect();
    assert!(!refresh_key_ids.is_empty() && !master_ids.is_empty());

    // Key requests carry no JSON at all.
    let (body, nonce) = client.envelope("", now_ms());
    let bid = client.open(&client.post("/v2/key/bidstream", &body, &[]), nonce);
    let b = &bid["body"];
    assert_eq!(b["identity_scope"], "EUID");
    assert_eq!(b["max_bidstream_lifetime_seconds"], 259_200 + 10);
    assert_eq!(b["allow_clock_skew_seconds"], 1800);
    let now_s = now_ms() / 1000;
    for key in b["keys"].as_array().unwrap() {
        let id = key["id"].as_i64().unwrap();
        assert!(!refresh_key_ids.contains(&id), "refresh key exposed");
        assert!(key.get("keyset_id").is_none());
        for t in ["created", "activates", "expires"] {
            let v = key[t].as_i64().unwrap();
            assert!(
                (now_s - 86_400..now_s + 400 * 86_400).contains(&v),
                "{t} in seconds: {v}"
            );
        }
        assert_eq!(key["secret"].as_str().unwrap().len(), 44);
    }
    let ids: Vec<i64> = b["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_i64().unwrap())
        .collect();
    assert!(
        master_ids.iter().all(|m| ids.contains(m)),
        "master key missing"
    );

    let sharing = client.call("/v2/key/sharing", "{}");
    let s = &sharing["body"];
    assert_eq!(s["caller_site_id"], server.demo.site_id);
    assert_eq!(s["master_keyset_id"], 9_999_999);
    assert_eq!(s["token_expiry_seconds"], "2592000");
    assert_eq!(s["max_sharing_lifetime_seconds"], 2_592_000 + 10);
    assert_eq!(s["identity_scope"], "EUID");
    let default_keyset = s["default_keyset_id"].as_i64().unwrap();
    let keys = s["keys"].as_array().unwrap();
    assert!(keys.iter().any(|k| k["keyset_id"] == 9_999_999));
    assert!(keys.iter().any(|k| k["keyset_id"] == default_keyset));
    assert!(keys
        .iter()
        .all(|k| !refresh_key_ids.contains(&k["id"].as_i64().unwrap())));

    // The generated token's master and site keys are among the bidstream keys.
    let tokens = client.generate(r#""email":"dsp@example.org""#);
    let decoded = euid_token::decode_advertising_token(
        &store,
        tokens["advertising_token"].as_str().unwrap(),
        now_ms(),
    )
    .unwrap();
    assert!(ids.contains(&i64::from(decoded.master_key_id)));
    assert!(ids.contains(&i64::from(decoded.site_key_id)));
}

#[test]
fn identity_map_echoes_identifiers_and_reports_optouts() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), OperatorConfig::default());
    let client = ApiClient::demo(&server);
    client.call("/v2/token/logout", r#"{"email":"gone@example.org"}"#);
    let hash = "dvECjPKZHya0/SIhSGwP0m8SgTv1vzLxPULUOsm880M=";
    let out = client.call(
        "/v2/identity/map",
        r#"{"email":["Gone@example.org","TEst.TEST@Test.com ","nope","optout@example.com"]}"#,
    );
    let body = &out["body"];
    let mapped = body["mapped"].as_array().unwrap();
    assert_eq!(mapped.len(), 1, "{out}");
    assert_eq!(mapped[0]["identifier"], "TEst.TEST@Test.com ");
    let uid = mapped[0]["advertising_id"].as_str().unwrap();
    // The live default (`identity_v3` off): a 32-byte v2 raw UID, no scope/type prefix.
    assert_eq!(STANDARD.decode(uid).unwrap().len(), 32, "{uid}");
    assert!(!mapped[0]["bucket_id"].as_str().unwrap().is_empty());
    let unmapped = body["unmapped"].as_array().unwrap();
    let reasons: Vec<(String, String)> = unmapped
        .iter()
        .map(|u| {
            (
                u["identifier"].as_str().unwrap().to_owned(),
                u["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(reasons.contains(&("Gone@example.org".into(), "optout".into())));
    assert!(reasons.contains(&("nope".into(), "invalid identifier".into())));
    assert!(reasons.contains(&("optout@example.com".into(), "optout".into())));

    // The same raw UID as the token's, and as mapping the hash.
    let by_hash = client.call(
        "/v2/identity/map",
        &format!(r#"{{"email_hash":["{hash}"]}}"#),
    );
    assert_eq!(by_hash["body"]["mapped"][0]["advertising_id"], uid);
    assert!(by_hash["body"].get("unmapped").is_none());
    let tokens = client.generate(&format!(r#""email_hash":"{hash}""#));
    let decoded = euid_token::decode_advertising_token(
        &read_key_store(dir.path()),
        tokens["advertising_token"].as_str().unwrap(),
        now_ms(),
    )
    .unwrap();
    assert_eq!(decoded.raw_uid.to_base64(), uid);
    let phones = client.call("/v2/identity/map", r#"{"phone":["+12025550123"]}"#);
    let phone_uid = phones["body"]["mapped"][0]["advertising_id"]
        .as_str()
        .unwrap();
    assert_eq!(STANDARD.decode(phone_uid).unwrap().len(), 32, "{phone_uid}");

    let exactly_one = "Required Parameter Missing: exactly one of [email, email_hash, phone, phone_hash] must be specified";
    for (json, message) in [
        (r#"{"email":"a@b.com"}"#, "email must be an array"),
        (r#"{"email":[],"phone":[]}"#, exactly_one),
        ("{}", exactly_one),
    ] {
        let (r, _) = client.send("/v2/identity/map", json);
        r.assert_error(400, "client_error", Some(message));
    }
}

#[test]
fn roles_are_enforced_and_new_clients_load_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), fast_reload());
    let mapper = add_client(&server, dir.path(), 1234, &[Role::Mapper]);
    // Known key, wrong role.
    let (r, _) = mapper.send("/v2/token/generate", "{}");
    r.assert_error(401, "unauthorized", None);
    let (r, _) = mapper.send("/v2/key/bidstream", "");
    r.assert_error(401, "unauthorized", None);
    let (r, _) = mapper.send("/v2/token/logout", r#"{"email":"a@b.com"}"#);
    r.assert_error(401, "unauthorized", None);
    // Right role.
    assert_eq!(
        mapper.call("/v2/identity/map", r#"{"email":["a@b.com"]}"#)["status"],
        "success"
    );
    assert_eq!(
        mapper.call("/v2/optout/status", r#"{"advertising_ids":[]}"#)["status"],
        "success"
    );

    // A SHARER-only client sees no unrestricted keysets of other sites and gets
    // max_sharing_lifetime_seconds; an ID_READER gets the fallback keyset too.
    let sharer = add_client(&server, dir.path(), 1235, &[Role::Sharer]);
    let s = sharer.call("/v2/key/sharing", "");
    assert_eq!(s["body"]["caller_site_id"], 1235);
    assert!(s["body"].get("default_keyset_id").is_none());
    assert!(s["body"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["keyset_id"] == 9_999_999));

    // A generator of a site without its own keyset gets tokens under the fallback key,
    // which it may not validate.
    let publisher = add_client(&server, dir.path(), 1236, &[Role::Generator]);
    let tokens = publisher.generate(r#""email":"x@example.org""#);
    let token = tokens["advertising_token"].as_str().unwrap();
    let (r, _) = publisher.send(
        "/v2/token/validate",
        &format!(r#"{{"token":"{token}","email":"x@example.org"}}"#),
    );
    r.assert_error(400, "client_error", Some("Unauthorised to validate token"));
}
