//! Properties of `euid_cli::run`, in process: what encrypt-request seals always opens on the
//! operator side, and any failure is one line on stderr.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_envelope::{BodyEncoding, ClientSecret, SkewPolicy};
use proptest::prelude::*;

fn run(args: &[&str], stdin: &[u8]) -> (u8, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut input = stdin;
    let mut argv = vec!["euid"];
    argv.extend_from_slice(args);
    let code = euid_cli::run(argv, &mut input, &mut out, &mut err);
    (
        code,
        String::from_utf8(out).expect("stdout UTF-8"),
        String::from_utf8(err).expect("stderr UTF-8"),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn encrypt_request_seals_any_object_with_the_chosen_nonce(
        secret in any::<[u8; 32]>(),
        nonce in any::<[u8; 8]>(),
        fields in proptest::collection::btree_map("[a-z_]{1,12}", "\\PC{0,40}", 0..6),
        timestamp in 0i64..4_000_000_000_000,
    ) {
        let json = serde_json::to_string(&fields).expect("json");
        let secret_b64 = STANDARD.encode(secret);
        let nonce_hex: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
        let ts = timestamp.to_string();
        let (code, out, err) = run(
            &["encrypt-request", &secret_b64, "--nonce", &nonce_hex, "--timestamp-ms", &ts],
            format!("  {json}\n").as_bytes(),
        );
        prop_assert_eq!(code, 0, "{}", err);
        let opened = euid_envelope::open_request(
            out.trim_end().as_bytes(),
            BodyEncoding::Base64Text,
            &ClientSecret::from_bytes(secret),
            timestamp,
            &SkewPolicy::default(),
        ).expect("opens");
        prop_assert_eq!(opened.json, json.into_bytes());
        prop_assert_eq!(opened.nonce, nonce);
        prop_assert_eq!(opened.timestamp_ms, timestamp);
    }

    #[test]
    fn decrypt_response_of_any_bytes_fails_on_one_line_without_the_secret(
        secret in any::<[u8; 32]>(),
        body in proptest::collection::vec(any::<u8>(), 0..200),
        as_text in any::<bool>(),
    ) {
        let secret_b64 = STANDARD.encode(secret);
        let body = if as_text { STANDARD.encode(&body).into_bytes() } else { body };
        let (code, out, err) = run(&["decrypt-response", &secret_b64], &body);
        // Random bytes never authenticate; whatever they are, the failure is one clean line.
        prop_assert_eq!(code, 1);
        prop_assert!(out.is_empty());
        prop_assert_eq!(err.lines().count(), 1);
        prop_assert!(err.starts_with("euid: "));
        prop_assert!(!err.contains(&secret_b64));
    }

    #[test]
    fn any_arguments_end_in_a_code_and_at_most_one_error_line(
        args in proptest::collection::vec("[-a-z0-9 =]{0,12}", 0..5),
    ) {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        // Commands that write a directory or open a connection are tested elsewhere.
        let first = argv.first().map(|a| a.trim());
        prop_assume!(!matches!(first, Some("init" | "keys" | "generate" | "refresh")));
        let (code, _out, err) = run(&argv, b"");
        prop_assert!(code <= 2);
        if code != 0 && !err.contains("Usage:") {
            prop_assert_eq!(err.lines().count(), 1, "{}", err);
        }
    }
}
