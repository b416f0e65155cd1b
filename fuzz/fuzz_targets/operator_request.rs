//! Whatever body an authenticated client sends to any endpoint, the operator answers without
//! a 5xx: bad input is always the client's 4xx.
//!
//! Input: one selector byte, then the body. The selector's low nibble picks the endpoint
//! (0–10: `Endpoint::ALL` in order — generate, refresh, validate, logout, key/bidstream,
//! key/sharing, identity/map, optout/status, client-generate, v3 identity/map,
//! identity/buckets; 11 (the document, a GET) and above: client-generate too); bit 7 asks for
//! binary envelopes; bit 6 drops the `Authorization` header on refresh and the `Origin`
//! header on client-generate. Envelope endpoints get the body sealed into a request envelope
//! with the demo client's secret, so their JSON parsers see it; refresh and client-generate
//! get it as is. In the body, `@AT@` and `@RT@` stand for a valid advertising token and a
//! valid refresh token of this operator, so validate and refresh reach past decryption.
//!
//! Checked: no status >= 500; every 200 of an envelope endpoint opens with the client secret
//! and echoes the request nonce; every 200 of refresh given the fixture's token opens with
//! its refresh response key.
#![no_main]

use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_crypto::{AesGcmKey, BatchedOsRandom};
use euid_envelope::{open_refresh_response, open_response, seal_request, ClientSecret};
use euid_fuzz::{in_memory_operator, reached, DiscardOptOuts};
use euid_operator::now_ms;
use euid_operator::KEYPAIRS_FILE;
use euid_operator::{handle, ApiRequest, ApiResponse, Endpoint, Operator, OperatorConfig};
use euid_test_support::SUFFICIENT_TCF;
use libfuzzer_sys::fuzz_target;

/// The WebCrypto vector's server keypair (also in `cstg_request`), so seeds made from that
/// vector's request reach token generation.
const CSTG_PUBLIC: &str = "EUID-X-L-MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEeHLpW9mMUl57JmVEavzln9X23MW+l1Cn+IK3BdWHw8DT/dj2CQC0hlyKtUUf80Y9K+wc9yoi6qUjYeiVOc+L6w==";
const CSTG_PRIVATE: &str = "EUID-Y-L-MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg7GVtmZngoX5I7kFmiS50WbzXi3DXJjHfNVvNmgl9PJmhRANCAAR4culb2YxSXnsmZURq/OWf1fbcxb6XUKf4grcF1YfDwNP92PYJALSGXIq1RR/zRj0r7Bz3KiLqpSNh6JU5z4vr";

const NONCE: [u8; 8] = [7; 8];

struct Fixture {
    operator: Operator,
    auth: String,
    secret: ClientSecret,
    advertising_token: Vec<u8>,
    refresh_token: Vec<u8>,
    refresh_response_key: AesGcmKey,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        // An advertising id whose first byte is zero counts as opted out, so `optout/status`
        // reaches its answer path (test identities do that for the others).
        let (operator, demo) = in_memory_operator(
            "euid-fuzz-operator",
            OperatorConfig::default(),
            DiscardOptOuts::zero_ids_opted_out(),
            |dir, demo| {
                let keypairs = format!(
                    r#"[{{"subscription_id":"WebCrypto1","public_key":"{CSTG_PUBLIC}","private_key":"{CSTG_PRIVATE}","site_id":{},"domain_names":["localhost"],"app_names":["com.example.app"]}}]"#,
                    demo.site_id
                );
                std::fs::write(dir.join(KEYPAIRS_FILE), keypairs).expect("keypairs file");
            },
        );
        let auth = format!("Bearer {}", demo.api_key);
        let secret = ClientSecret::from_base64(&demo.client_secret).expect("secret");

        // One real token pair, minted through the generate endpoint.
        let mut rng = BatchedOsRandom::new();
        let now = now_ms();
        let json = format!(r#"{{"email":"fuzz@example.com","tcf_consent_string":"{SUFFICIENT_TCF}"}}"#);
        let body = seal_request(&secret, now, NONCE, json.as_bytes(), &mut rng);
        let request = ApiRequest {
            endpoint: Endpoint::TokenGenerate,
            authorization: Some(&auth),
            origin: None,
            binary: true,
            body: &body,
        };
        let response = handle(&operator.snapshot(), operator.optouts(), &request, now, &mut rng);
        assert_eq!(response.http_status, 200, "fixture generate");
        let opened = open_response(&secret, &response.body, Some(NONCE)).expect("fixture response");
        let json: serde_json::Value = serde_json::from_slice(&opened.json).expect("fixture json");
        let field = |name: &str| {
            json["body"][name]
                .as_str()
                .unwrap_or_else(|| panic!("fixture response without {name}: {json}"))
                .to_owned()
        };
        let key = STANDARD.decode(field("refresh_response_key")).expect("key base64");
        Fixture {
            operator,
            auth,
            secret,
            advertising_token: field("advertising_token").into_bytes(),
            refresh_token: field("refresh_token").into_bytes(),
            refresh_response_key: AesGcmKey::from_bytes(key.try_into().expect("32-byte key")),
        }
    })
}

/// `data` with every `@AT@` / `@RT@` replaced by the fixture's tokens.
fn expand(data: &[u8], f: &Fixture) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut rest = data;
    while !rest.is_empty() {
        if rest.starts_with(b"@AT@") {
            out.extend_from_slice(&f.advertising_token);
            rest = &rest[4..];
        } else if rest.starts_with(b"@RT@") {
            out.extend_from_slice(&f.refresh_token);
            rest = &rest[4..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

fn no_server_error(response: &ApiResponse, what: &str) {
    assert!(
        response.http_status < 500,
        "HTTP {} from {what} for bad input",
        response.http_status
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let f = fixture();
    let snapshot = f.operator.snapshot();
    let body = expand(rest, f);
    let mut rng = BatchedOsRandom::new();
    let now = now_ms();
    let index = usize::from(selector & 0x0f);
    let binary = selector & 0x80 != 0;
    let omit_header = selector & 0x40 != 0;

    // `GET /openapi.yaml` reads no body: its index falls to client-generate as well.
    let endpoint = Endpoint::ALL
        .get(index)
        .copied()
        .filter(|e| e.method() == "POST")
        .unwrap_or(Endpoint::ClientGenerate);

    if endpoint == Endpoint::ClientGenerate {
        let request = ApiRequest {
            endpoint,
            authorization: None,
            origin: (!omit_header).then_some("http://localhost:3000"),
            binary,
            body: &body,
        };
        let response = handle(&snapshot, f.operator.optouts(), &request, now, &mut rng);
        no_server_error(&response, "client-generate");
        if response.http_status == 200 {
            reached("client-generate answers 200");
        }
        return;
    };

    if endpoint == Endpoint::TokenRefresh {
        let request = ApiRequest {
            endpoint,
            authorization: (!omit_header).then_some(f.auth.as_str()),
            origin: None,
            binary,
            body: &body,
        };
        let response = handle(&snapshot, f.operator.optouts(), &request, now, &mut rng);
        no_server_error(&response, "refresh");
        if response.http_status == 200 && body == f.refresh_token {
            open_refresh_response(&f.refresh_response_key, &response.body)
                .expect("a refresh 200 opens with the token's response key");
            reached("refresh of the fixture's token answers 200");
        }
        return;
    }

    let sealed = seal_request(&f.secret, now, NONCE, &body, &mut rng);
    let sealed = if binary {
        sealed
    } else {
        STANDARD.encode(sealed).into_bytes()
    };
    let request = ApiRequest {
        endpoint,
        authorization: Some(&f.auth),
        origin: None,
        binary,
        body: &sealed,
    };
    let response = handle(&snapshot, f.operator.optouts(), &request, now, &mut rng);
    no_server_error(&response, endpoint.path());
    if response.http_status == 200 {
        let opened = open_response(&f.secret, &response.body, Some(NONCE))
            .expect("a 200 opens with the client secret and echoes the nonce");
        let json: serde_json::Value =
            serde_json::from_slice(&opened.json).expect("a 200 carries JSON");
        assert!(json["status"].is_string(), "a 200 without status: {json}");
        reached("an envelope endpoint answers 200");
        if json["status"] == "success" {
            match endpoint {
                Endpoint::IdentityMapV3 => {
                    // Always all four arrays, whatever the request held.
                    let body = json["body"]
                        .as_object()
                        .expect("a v3 map body is an object");
                    let mut keys: Vec<&str> = body.keys().map(String::as_str).collect();
                    keys.sort_unstable();
                    assert_eq!(keys, ["email", "email_hash", "phone", "phone_hash"]);
                    assert!(body.values().all(serde_json::Value::is_array), "{json}");
                    reached("/v3/identity/map answers success");
                }
                Endpoint::IdentityBuckets => {
                    for bucket in json["body"].as_array().expect("buckets are a list") {
                        let updated = bucket["last_updated"].as_str().expect("last_updated");
                        // yyyy-MM-ddTHH:mm:ss.SSS: exactly three fraction digits.
                        assert_eq!(updated.len(), 23, "{bucket}");
                        assert_eq!(&updated[19..20], ".", "{bucket}");
                    }
                    reached("/v2/identity/buckets answers success");
                }
                _ => {}
            }
        }
    }
});
