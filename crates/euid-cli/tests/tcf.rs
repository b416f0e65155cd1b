//! `tcf decode` and `tcf check` through the built binary, on testdata/tcf.json.

mod common;

use common::{euid, s};
use euid_tcf::TcfModel;
use euid_test_support::testdata;

#[test]
fn tcf_decode_prints_exactly_the_contract_keys_with_the_reference_values() {
    let v = testdata("tcf.json");
    // The JSON keys `euid tcf decode` prints: a contract (issue 8).
    let expected_keys: std::collections::BTreeSet<&str> = TcfModel::JSON_KEYS.into_iter().collect();
    let cases = v["valid"].as_array().expect("cases");
    assert!(cases.len() >= 20);
    for case in cases {
        let input = s(case, "input");
        let out = euid(&["tcf", "decode", input], b"").json();
        let keys: std::collections::BTreeSet<&str> = out
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, expected_keys, "{input}");

        assert_eq!(out["created"], case["created"]["ms"], "{input}");
        assert_eq!(out["last_updated"], case["lastUpdated"]["ms"], "{input}");
        for (ours, reference) in [
            ("version", "version"),
            ("cmp_id", "cmpId"),
            ("cmp_version", "cmpVersion"),
            ("consent_screen", "consentScreen"),
            ("consent_language", "consentLanguage"),
            ("vendor_list_version", "vendorListVersion"),
            ("policy_version", "policyVersion"),
            ("is_service_specific", "isServiceSpecific"),
            ("use_non_standard_texts", "useNonStandardTexts"),
            ("special_feature_optins", "specialFeatureOptins"),
            ("purpose_consents", "purposeConsents"),
            ("purpose_legitimate_interests", "purposeLegitimateInterests"),
            ("purpose_one_treatment", "purposeOneTreatment"),
            ("publisher_country_code", "publisherCountryCode"),
            ("vendor_consents", "vendorConsents"),
            ("vendor_legitimate_interests", "vendorLegitimateInterests"),
            ("disclosed_vendors", "vendorsDisclosed"),
            ("allowed_vendors", "vendorsAllowed"),
            ("publisher_purpose_consents", "publisherConsents"),
            (
                "publisher_purpose_legitimate_interests",
                "publisherLegitimateInterests",
            ),
            (
                "publisher_custom_purpose_consents",
                "publisherCustomConsents",
            ),
            (
                "publisher_custom_purpose_legitimate_interests",
                "publisherCustomLegitimateInterests",
            ),
        ] {
            assert_eq!(out[ours], case[reference], "{ours} of {input}");
        }
        // Absent custom-purpose segment: the reference says null, a count says 0.
        let custom = case["numCustomPurposes"].as_u64().unwrap_or(0);
        assert_eq!(
            out["num_custom_purposes"].as_u64().unwrap_or(0),
            custom,
            "{input}"
        );
        let restrictions: Vec<serde_json::Value> = case["publisherRestrictions"]
            .as_array()
            .expect("restrictions")
            .iter()
            .map(|r| {
                serde_json::json!({
                    "purpose_id": r["purposeId"],
                    "restriction_type": r["restrictionType"],
                    "vendors": r["vendors"],
                })
            })
            .collect();
        assert_eq!(
            out["publisher_restrictions"],
            serde_json::Value::Array(restrictions),
            "{input}"
        );
    }
}

#[test]
fn tcf_check_gives_the_reference_verdicts() {
    let v = testdata("tcf.json");
    for case in v["valid"].as_array().expect("cases") {
        let input = s(case, "input");
        let run = euid(&["tcf", "check", input], b"");
        let expected = &case["euid"];
        let sufficient = expected["sufficient"].as_bool().expect("bool");
        assert_eq!(
            run.code,
            if sufficient { 0 } else { 1 },
            "{input}: {}",
            run.stderr
        );
        let out: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("json");
        assert_eq!(out["sufficient"], sufficient);
        assert_eq!(out["vendor"], 21);
        assert_eq!(out["purposes"], serde_json::json!([1, 2, 3, 4, 7, 10]));
        assert_eq!(
            out["missing_purposes"], expected["missingPurposes"],
            "{input}"
        );
    }

    // A narrower policy: the docs string grants purpose 1 to vendor 21, not to vendor 22.
    let docs = "CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA";
    let run = euid(
        &["tcf", "check", docs, "--vendor", "21", "--purposes", "1"],
        b"",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = euid(
        &["tcf", "check", docs, "--vendor", "22", "--purposes", "1,2"],
        b"",
    );
    assert_eq!(run.code, 1);
    let out: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("json");
    assert_eq!(out["sufficient"], false);
    euid(&["tcf", "check", docs, "--purposes", "0"], b"").assert_error(2, "purpose 0", &[]);
    euid(&["tcf", "check", docs, "--purposes", "1,x"], b"").assert_error(2, "invalid value", &[]);
}

#[test]
fn invalid_tc_strings_exit_2_with_one_line() {
    let v = testdata("tcf.json");
    for case in v["invalid"].as_array().expect("cases") {
        let input = s(case, "input");
        euid(&["tcf", "decode", input], b"").assert_error(2, "invalid TC string", &[]);
        euid(&["tcf", "check", input], b"").assert_error(2, "invalid TC string", &[]);
    }
    euid(&["tcf", "decode", "not a tc string"], b"").assert_error(2, "invalid TC string", &[]);
}
