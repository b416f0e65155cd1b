//! `encrypt-request`, `decrypt-response` and `token decrypt` on the golden vectors, and their
//! error cases, through the built binary.

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::{euid, s};
use euid_crypto::AesGcmKey;
use euid_envelope::{BodyEncoding, ClientSecret, SkewPolicy};
use euid_test_support::{now_ms, testdata};
use euid_token::{
    AdvertisingTokenFields, IdentityScope, IdentityType, Key, OperatorIdentity, RawUid,
    TokenVersion,
};

fn vectors() -> serde_json::Value {
    testdata("tokens_and_envelopes.json")
}

#[test]
fn decrypt_response_opens_the_golden_response_and_checks_the_nonce() {
    let v = vectors();
    let secret = s(&v, "client_secret");
    let env = &v["response_envelope"];
    // curl output has no newline, `echo` adds one: both must work.
    for body in [
        s(env, "expect_base64").to_owned(),
        format!("{}\n", s(env, "expect_base64")),
    ] {
        let run = euid(&["decrypt-response", secret], body.as_bytes());
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.stdout.trim_end(), s(env, "json"));
    }
    let run = euid(
        &["decrypt-response", secret, "--nonce", s(env, "nonce_hex")],
        s(env, "expect_base64").as_bytes(),
    );
    assert_eq!(run.stdout.trim_end(), s(env, "json"));

    let run = euid(
        &["decrypt-response", secret, "--nonce", "0102030405060709"],
        s(env, "expect_base64").as_bytes(),
    );
    run.assert_error(1, "nonce mismatch", &[secret]);
}

#[test]
fn decrypt_response_refresh_opens_the_golden_refresh_response() {
    let v = vectors();
    let r = &v["refresh_response"];
    let key = s(r, "refresh_response_key");
    let run = euid(
        &["decrypt-response", "--refresh", key],
        s(r, "expect_base64").as_bytes(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.trim_end(), s(r, "json"));
}

#[test]
fn decrypt_response_errors_are_one_line_and_never_echo_the_secret() {
    let v = vectors();
    let body = s(&v["response_envelope"], "expect_base64");
    let wrong = STANDARD.encode([7u8; 32]);
    euid(&["decrypt-response", &wrong], body.as_bytes()).assert_error(
        1,
        "cannot decrypt",
        &[&wrong],
    );

    let malformed = "c2VjcmV0LXRoYXQtaXMtdG9vLXNob3J0";
    euid(&["decrypt-response", malformed], body.as_bytes()).assert_error(
        2,
        "32 bytes",
        &[malformed],
    );
    let not_b64 = "not*base64*at*all";
    euid(&["decrypt-response", not_b64], body.as_bytes()).assert_error(2, "base64", &[not_b64]);

    // The operator's non-200 answers are plain JSON: shown on stderr, exit 1.
    let answer = r#"{"status":"client_error","message":"Invalid body: Body is not valid base64."}"#;
    euid(
        &["decrypt-response", s(&v, "client_secret")],
        answer.as_bytes(),
    )
    .assert_error(1, answer, &[s(&v, "client_secret")]);
    euid(&["decrypt-response", s(&v, "client_secret")], b"").assert_error(1, "empty", &[]);
    euid(
        &["decrypt-response", s(&v, "client_secret"), "--nonce", "xyz"],
        body.as_bytes(),
    )
    .assert_error(2, "16 hex digits", &[]);
}

#[test]
fn encrypt_request_output_opens_as_a_request_envelope() {
    let v = vectors();
    let secret_text = s(&v, "client_secret");
    let secret = ClientSecret::from_base64(secret_text).expect("secret");
    let json = s(&v["request_envelope"], "json");
    let before = now_ms();
    let run = euid(
        &[
            "encrypt-request",
            secret_text,
            "--nonce",
            "0a0b0c0d0e0f1011",
        ],
        format!("{json}\n").as_bytes(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let after = now_ms();
    let body = run.stdout.trim_end();
    let opened = euid_envelope::open_request(
        body.as_bytes(),
        BodyEncoding::Base64Text,
        &secret,
        after,
        &SkewPolicy::default(),
    )
    .expect("the operator side opens what euid sealed");
    assert_eq!(opened.json, json.as_bytes());
    assert_eq!(
        opened.nonce,
        [0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11]
    );
    assert!(before <= opened.timestamp_ms && opened.timestamp_ms <= after);

    // Two runs never share an IV or a random nonce.
    let a = euid(&["encrypt-request", secret_text], json.as_bytes());
    let b = euid(&["encrypt-request", secret_text], json.as_bytes());
    assert_ne!(a.stdout, b.stdout);
    let na = euid_envelope::open_request(
        a.stdout.trim().as_bytes(),
        BodyEncoding::Base64Text,
        &secret,
        now_ms(),
        &SkewPolicy::default(),
    )
    .expect("a");
    let nb = euid_envelope::open_request(
        b.stdout.trim().as_bytes(),
        BodyEncoding::Base64Text,
        &secret,
        now_ms(),
        &SkewPolicy::default(),
    )
    .expect("b");
    assert_ne!(na.nonce, nb.nonce);

    // Empty stdin: an envelope without JSON, as the key endpoints take.
    let run = euid(
        &[
            "encrypt-request",
            secret_text,
            "--timestamp-ms",
            "1672534861000",
        ],
        b"",
    );
    let opened = euid_envelope::open_request(
        run.stdout.trim().as_bytes(),
        BodyEncoding::Base64Text,
        &secret,
        1_672_534_861_000,
        &SkewPolicy::default(),
    )
    .expect("empty");
    assert!(opened.json.is_empty());
    assert_eq!(opened.timestamp_ms, 1_672_534_861_000);
}

#[test]
fn encrypt_request_refuses_what_the_operator_would_refuse() {
    let secret = STANDARD.encode([1u8; 32]);
    euid(&["encrypt-request", &secret], b"{\"email\":").assert_error(
        2,
        "not valid JSON",
        &[&secret],
    );
    euid(&["encrypt-request", &secret], b"[1,2]").assert_error(2, "JSON object", &[&secret]);
    euid(&["encrypt-request", "short"], b"{}").assert_error(2, "client secret", &["short"]);
    // Without SECRET and without EUID_SECRET: a usage error, one line.
    euid(&["encrypt-request"], b"{}").assert_error(2, "SECRET", &[]);
    // EUID_SECRET stands in for the argument.
    let run = common::euid_env(&["encrypt-request"], b"{}", &[("EUID_SECRET", &secret)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

fn write_keys_file(dir: &std::path::Path, name: &str, content: &serde_json::Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, content.to_string()).expect("write keys");
    path.display().to_string()
}

fn golden_keys_body(v: &serde_json::Value) -> serde_json::Value {
    let keys: Vec<serde_json::Value> = ["164", "165"]
        .iter()
        .map(|id| {
            serde_json::json!({
                "id": id.parse::<i32>().expect("id"),
                "created": 1_600_000_000,
                "activates": 1_600_000_000,
                "expires": 4_000_000_000_i64,
                "secret": s(&v["keys"], id),
            })
        })
        .collect();
    serde_json::json!({ "identity_scope": "EUID", "allow_clock_skew_seconds": 1800, "keys": keys })
}

#[test]
fn token_decrypt_decodes_the_golden_tokens_from_either_key_file_shape() {
    let v = vectors();
    let dir = temp_dir("token-golden");
    let body = golden_keys_body(&v);
    let whole = write_keys_file(
        &dir,
        "bidstream.json",
        &serde_json::json!({ "status": "success", "body": body }),
    );
    let bare = write_keys_file(&dir, "body.json", &body);

    let euid_token = &v["advertising_tokens"][1];
    let inputs = &euid_token["inputs"];
    for keys in [&whole, &bare] {
        let out = euid(
            &["token", "decrypt", s(euid_token, "token"), "--keys", keys],
            b"",
        )
        .json();
        assert_eq!(out["version"], 4);
        assert_eq!(out["scope"], "EUID");
        assert_eq!(out["identity_type"], "email");
        assert_eq!(out["raw_uid"], inputs["raw_uid"]);
        for (field, input) in [
            ("site_id", "site_id"),
            ("master_key_id", "master_key_id"),
            ("site_key_id", "site_key_id"),
            ("expires", "expires_ms"),
            ("created", "generated_ms"),
            ("established", "established_ms"),
            ("refreshed", "refreshed_ms"),
            ("privacy_bits", "privacy_bits"),
            ("publisher_id", "publisher_id"),
            ("client_key_id", "client_key_id"),
        ] {
            assert_eq!(out[field], inputs[input], "{field}");
        }
        assert_eq!(out["is_client_side_generated"], false);
        assert_eq!(out["operator"]["type"], inputs["operator_type"]);
        assert_eq!(out["operator"]["site_id"], inputs["operator_site_id"]);
    }

    // The SDK's own cross-platform vector (UID2 scope, 32-byte raw UID).
    let sdk = &v["advertising_tokens"][0];
    let out = euid(
        &[
            "token",
            "decrypt",
            s(sdk, "token"),
            "--keys",
            &whole,
            "--ignore-expiry",
        ],
        b"",
    )
    .json();
    assert_eq!(out["raw_uid"], sdk["expect"]["raw_uid"]);
    assert_eq!(out["site_id"], sdk["expect"]["site_id"]);
    assert_eq!(out["version"], 4);
}

#[test]
fn token_decrypt_checks_expiry_unless_told_not_to() {
    let dir = temp_dir("token-expiry");
    let master = Key::new(7, -1, 0, 0, 4_000_000_000, AesGcmKey::from_bytes([3; 32]));
    let site = Key::new(8, 9, 0, 0, 4_000_000_000, AesGcmKey::from_bytes([4; 32]));
    // Byte 0 of a 33-byte raw UID is (scope << 4) | (type << 2): EUID phone.
    let mut uid = [0x5a; 33];
    uid[0] = 0x14;
    let raw_uid = RawUid::from_slice(&uid).expect("raw uid");
    let fields = AdvertisingTokenFields {
        version: TokenVersion::V4,
        scope: IdentityScope::Euid,
        identity_type: IdentityType::Phone,
        expires_ms: 1_700_000_000_000,
        created_ms: 1_690_000_000_000,
        operator: OperatorIdentity::SERVICE,
        site_id: 123,
        publisher_id: 0,
        client_key_id: 0,
        privacy_bits: 3,
        established_ms: 1_680_000_000_000,
        refreshed_ms: 1_690_000_000_000,
        raw_uid: &raw_uid,
    };
    let token = euid_token::mint_advertising_token(&fields, &master, &site, &[1; 12], &[2; 12])
        .expect("mint");
    let keys = write_keys_file(
        &dir,
        "keys.json",
        &serde_json::json!({ "keys": [master.to_sdk_json(None), site.to_sdk_json(Some(9))] }),
    );
    euid(&["token", "decrypt", &token, "--keys", &keys], b"").assert_error(
        1,
        "expired at 1700000000000",
        &[],
    );
    let out = euid(
        &[
            "token",
            "decrypt",
            &token,
            "--keys",
            &keys,
            "--ignore-expiry",
        ],
        b"",
    )
    .json();
    assert_eq!(out["identity_type"], "phone");
    assert_eq!(out["is_client_side_generated"], true);
    assert_eq!(out["site_id"], 123);
    assert_eq!(out["raw_uid"], raw_uid.to_base64());
}

#[test]
fn token_decrypt_errors() {
    let v = vectors();
    let dir = temp_dir("token-errors");
    let keys = write_keys_file(&dir, "keys.json", &golden_keys_body(&v));
    let token = s(&v["advertising_tokens"][1], "token");

    // Missing key: only the site key is there.
    let mut only_site = golden_keys_body(&v);
    only_site["keys"].as_array_mut().expect("keys").remove(0);
    let only_site = write_keys_file(&dir, "only-site.json", &only_site);
    euid(&["token", "decrypt", token, "--keys", &only_site], b"").assert_error(
        1,
        "master key 164 not found",
        &[],
    );

    // A tampered token fails authentication.
    let mut tampered: Vec<char> = token.chars().collect();
    let i = tampered.len() - 10;
    tampered[i] = if tampered[i] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    euid(&["token", "decrypt", &tampered, "--keys", &keys], b"").assert_error(
        1,
        "cannot decrypt the token",
        &[],
    );
    euid(&["token", "decrypt", "x", "--keys", &keys], b"").assert_error(
        1,
        "cannot decrypt the token",
        &[],
    );

    // Key files: missing, not JSON, no keys, a bad secret (never echoed).
    euid(
        &[
            "token",
            "decrypt",
            token,
            "--keys",
            "/nonexistent/keys.json",
        ],
        b"",
    )
    .assert_error(2, "cannot open", &[]);
    let not_json = dir.join("not.json");
    std::fs::write(&not_json, "{\"keys\": [").expect("write");
    euid(
        &[
            "token",
            "decrypt",
            token,
            "--keys",
            &not_json.display().to_string(),
        ],
        b"",
    )
    .assert_error(2, "not valid JSON", &[]);
    let no_keys = write_keys_file(
        &dir,
        "nokeys.json",
        &serde_json::json!({"status": "success", "body": {}}),
    );
    euid(&["token", "decrypt", token, "--keys", &no_keys], b"").assert_error(2, "no \"keys\"", &[]);
    let bad_secret = "QUJDREVGR0g=";
    let bad = write_keys_file(
        &dir,
        "bad.json",
        &serde_json::json!({"keys": [{"id": 1, "created": 0, "activates": 0, "expires": 1, "secret": bad_secret}]}),
    );
    euid(&["token", "decrypt", token, "--keys", &bad], b"").assert_error(2, "key 1", &[bad_secret]);
    let typed = write_keys_file(
        &dir,
        "typed.json",
        &serde_json::json!({"keys": [{"id": "secret-looking", "created": 0, "activates": 0, "expires": 1, "secret": bad_secret}]}),
    );
    euid(&["token", "decrypt", token, "--keys", &typed], b"").assert_error(
        2,
        "keys",
        &[bad_secret, "secret-looking"],
    );
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("euid-cli-test-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn token_decrypt_reads_only_the_keys_of_a_key_file() {
    // Fields besides "keys" are not what decoding needs: odd values there do not make the
    // file unreadable (as before the CLI read key files through euid-client).
    let v = vectors();
    let dir = temp_dir("token-keys-only");
    let mut body = golden_keys_body(&v);
    body["token_expiry_seconds"] = "soon".into();
    body["caller_site_id"] = "not a number".into();
    body["site_data"] = serde_json::json!({"oops": true});
    let keys = write_keys_file(
        &dir,
        "odd.json",
        &serde_json::json!({"status": "success", "body": body}),
    );
    let token = s(&v["advertising_tokens"][1], "token");
    let run = euid(
        &[
            "token",
            "decrypt",
            token,
            "--keys",
            &keys,
            "--ignore-expiry",
        ],
        b"",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.json()["raw_uid"].is_string());
}
