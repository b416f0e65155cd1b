//! `normalize` and `hash` through the built binary, on testdata/normalization.json.

mod common;

use common::{euid, s};
use euid_test_support::testdata;

#[test]
fn normalize_and_hash_emails_match_the_vectors() {
    let v = testdata("normalization.json");
    for case in v["email"]["valid"].as_array().expect("cases") {
        let input = s(case, "input");
        let out = euid(&["normalize", "email", input], b"").json();
        assert_eq!(out["normalized"], case["normalized"], "{input:?}");
        assert_eq!(out["hash"], case["email_hash"], "{input:?}");
        let run = euid(&["hash", "email", input], b"");
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(
            run.stdout,
            format!("{}\n", s(case, "email_hash")),
            "{input:?}"
        );
    }
    for input in v["email"]["invalid"].as_array().expect("cases") {
        let input = input.as_str().expect("str");
        // The error names the rule, never the address (short inputs like "@" are in any text).
        let secrets: &[&str] = if input.trim().len() > 3 {
            &[input]
        } else {
            &[]
        };
        euid(&["normalize", "email", input], b"").assert_error(2, "invalid email", secrets);
        euid(&["hash", "email", input], b"").assert_error(2, "invalid email", secrets);
    }
}

#[test]
fn normalize_and_hash_phones_match_the_vectors() {
    let v = testdata("normalization.json");
    for case in v["phone"]["valid"].as_array().expect("cases") {
        let input = s(case, "input");
        let out = euid(&["normalize", "phone", input], b"").json();
        assert_eq!(out["normalized"], case["input"]);
        assert_eq!(out["hash"], case["phone_hash"], "{input:?}");
        let run = euid(&["hash", "phone", input], b"");
        assert_eq!(run.stdout.trim_end(), s(case, "phone_hash"));
    }
    for input in v["phone"]["invalid"].as_array().expect("cases") {
        let input = input.as_str().expect("str");
        let secrets: &[&str] = if input.len() > 3 { &[input] } else { &[] };
        euid(&["normalize", "phone", input], b"").assert_error(2, "invalid phone number", secrets);
    }
}
