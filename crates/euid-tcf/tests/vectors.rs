//! The shared test vectors: field values from IAB's JS decoder (`testdata/tcf.json`) and the
//! live operator's verdicts (`testdata/tcf_operator_verdicts.jsonl`, decision 11).

use euid_tcf::{decode, ConsentPolicy, ConsentVerdict, TcString, TcfError, TcfModel, VendorSet};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn testdata(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn ids(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|x| x.as_u64().expect("id"))
        .collect()
}

fn ids_from_ranges(v: &Value) -> Vec<u64> {
    let mut out = Vec::new();
    for r in v.as_array().expect("ranges") {
        let (s, e) = (r[0].as_u64().expect("start"), r[1].as_u64().expect("end"));
        out.extend(s..=e);
    }
    out
}

fn small(v: &[u8]) -> Vec<u64> {
    v.iter().map(|&x| u64::from(x)).collect()
}

fn set(v: &VendorSet) -> Vec<u64> {
    v.iter().map(u64::from).collect()
}

/// Publisher restrictions merged by (purpose, type), as IAB's JS decoder reports them.
fn merged_restrictions(model: &TcfModel) -> BTreeMap<(u64, u64), Vec<u64>> {
    let mut map: BTreeMap<(u64, u64), VendorSet> = BTreeMap::new();
    for r in &model.publisher_restrictions {
        let key = (u64::from(r.purpose_id), u64::from(r.restriction_type));
        let entry = map.entry(key).or_default();
        *entry = VendorSet::from_ranges(entry.ranges().chain(r.vendors.ranges()));
    }
    map.into_iter().map(|(k, v)| (k, set(&v))).collect()
}

fn js_restrictions(v: &Value) -> BTreeMap<(u64, u64), Vec<u64>> {
    let mut map: BTreeMap<(u64, u64), Vec<u64>> = BTreeMap::new();
    for r in v.as_array().expect("restrictions") {
        let key = (
            r["purposeId"].as_u64().expect("p"),
            r["restrictionType"].as_u64().expect("t"),
        );
        let vendors = if r.get("vendors").is_some() {
            ids(&r["vendors"])
        } else {
            ids_from_ranges(&r["vendorRanges"])
        };
        let entry = map.entry(key).or_default();
        entry.extend(vendors);
        entry.sort_unstable();
        entry.dedup();
    }
    map
}

/// Compares every field the JS oracle reports. Vendor lists come either as `vendorConsents`
/// (id lists, tcf.json) or `vendorConsentsRanges` (jsonl).
fn assert_fields(input: &str, js: &Value) {
    let tc = TcString::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
    let m = tc.decode();
    let ctx = || format!("fields of {input}");
    assert_eq!(
        u64::from(m.version),
        js["version"].as_u64().expect("v"),
        "{}",
        ctx()
    );
    assert_eq!(
        m.created,
        js["created"]["ms"].as_i64().expect("c"),
        "{}",
        ctx()
    );
    assert_eq!(
        m.last_updated,
        js["lastUpdated"]["ms"].as_i64().expect("lu"),
        "{}",
        ctx()
    );
    assert_eq!(
        u64::from(m.cmp_id),
        js["cmpId"].as_u64().expect("cmp"),
        "{}",
        ctx()
    );
    assert_eq!(
        u64::from(m.cmp_version),
        js["cmpVersion"].as_u64().expect("cv"),
        "{}",
        ctx()
    );
    assert_eq!(
        u64::from(m.consent_screen),
        js["consentScreen"].as_u64().expect("cs"),
        "{}",
        ctx()
    );
    assert_eq!(
        m.consent_language,
        js["consentLanguage"].as_str().expect("lang"),
        "{}",
        ctx()
    );
    assert_eq!(
        u64::from(m.vendor_list_version),
        js["vendorListVersion"].as_u64().expect("vlv"),
        "{}",
        ctx()
    );
    assert_eq!(
        u64::from(m.policy_version),
        js["policyVersion"].as_u64().expect("pv"),
        "{}",
        ctx()
    );
    assert_eq!(
        m.is_service_specific,
        js["isServiceSpecific"].as_bool().expect("ss"),
        "{}",
        ctx()
    );
    assert_eq!(
        m.use_non_standard_texts,
        js["useNonStandardTexts"].as_bool().expect("ns"),
        "{}",
        ctx()
    );
    assert_eq!(
        m.purpose_one_treatment,
        js["purposeOneTreatment"].as_bool().expect("p1t"),
        "{}",
        ctx()
    );
    assert_eq!(
        m.publisher_country_code,
        js["publisherCountryCode"].as_str().expect("cc"),
        "{}",
        ctx()
    );
    assert_eq!(
        small(&m.special_feature_optins),
        ids(&js["specialFeatureOptins"]),
        "{}",
        ctx()
    );
    assert_eq!(
        small(&m.purpose_consents),
        ids(&js["purposeConsents"]),
        "{}",
        ctx()
    );
    assert_eq!(
        small(&m.purpose_legitimate_interests),
        ids(&js["purposeLegitimateInterests"]),
        "{}",
        ctx()
    );
    // The JS decoder's `maxId` is the highest id present, not the wire's MaxVendorId.
    assert_eq!(
        u64::from(m.vendor_consents.max().unwrap_or(0)),
        js["vendorConsentsMaxId"].as_u64().expect("max"),
        "{}",
        ctx()
    );
    let list = |ids_key: &str, ranges_key: &str| {
        if let Some(v) = js.get(ids_key) {
            ids(v)
        } else {
            ids_from_ranges(&js[ranges_key])
        }
    };
    assert_eq!(
        set(&m.vendor_consents),
        list("vendorConsents", "vendorConsentsRanges"),
        "{}",
        ctx()
    );
    assert_eq!(
        set(&m.vendor_legitimate_interests),
        list(
            "vendorLegitimateInterests",
            "vendorLegitimateInterestsRanges"
        ),
        "{}",
        ctx()
    );
    assert_eq!(
        set(&m.disclosed_vendors),
        list("vendorsDisclosed", "vendorsDisclosedRanges"),
        "{}",
        ctx()
    );
    assert_eq!(
        set(&m.allowed_vendors),
        list("vendorsAllowed", "vendorsAllowedRanges"),
        "{}",
        ctx()
    );
    assert_eq!(
        merged_restrictions(&m),
        js_restrictions(&js["publisherRestrictions"]),
        "{}",
        ctx()
    );
    assert_eq!(
        small(&m.publisher_purpose_consents),
        ids(&js["publisherConsents"]),
        "{}",
        ctx()
    );
    assert_eq!(
        small(&m.publisher_purpose_legitimate_interests),
        ids(&js["publisherLegitimateInterests"]),
        "{}",
        ctx()
    );
    assert_eq!(
        m.num_custom_purposes.map(u64::from),
        js["numCustomPurposes"].as_u64(),
        "{}",
        ctx()
    );
    assert_eq!(
        small(&m.publisher_custom_purpose_consents),
        ids(&js["publisherCustomConsents"]),
        "{}",
        ctx()
    );
    assert_eq!(
        small(&m.publisher_custom_purpose_legitimate_interests),
        ids(&js["publisherCustomLegitimateInterests"]),
        "{}",
        ctx()
    );
    assert_lazy_view_matches_model(&tc, &m);
}

/// The in-place lookups agree with the owned decode, id by id.
fn assert_lazy_view_matches_model(tc: &TcString<'_>, m: &TcfModel) {
    let top = [
        m.vendor_consents.max(),
        m.vendor_legitimate_interests.max(),
        m.disclosed_vendors.max(),
        m.allowed_vendors.max(),
        Some(tc.vendor_consents_max_id()),
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(0);
    for v in 0..=top.saturating_add(2) {
        assert_eq!(
            tc.has_vendor_consent(v),
            m.vendor_consents.contains(v),
            "consent {v}"
        );
        assert_eq!(
            tc.has_vendor_legitimate_interest(v),
            m.vendor_legitimate_interests.contains(v),
            "LI {v}"
        );
        assert_eq!(
            tc.is_vendor_disclosed(v),
            m.disclosed_vendors.contains(v),
            "DV {v}"
        );
        assert_eq!(
            tc.is_vendor_allowed(v),
            m.allowed_vendors.contains(v),
            "AV {v}"
        );
    }
    for p in 0..=26u8 {
        assert_eq!(tc.purpose_consent(p), m.purpose_consents.contains(&p));
        assert_eq!(
            tc.purpose_legitimate_interest(p),
            m.purpose_legitimate_interests.contains(&p)
        );
        assert_eq!(
            tc.special_feature_optin(p),
            m.special_feature_optins.contains(&p)
        );
    }
}

#[test]
fn tcf_json_valid_strings_decode_to_the_listed_fields_and_verdicts() {
    let doc: Value = serde_json::from_str(&testdata("tcf.json")).expect("tcf.json");
    let valid = doc["valid"].as_array().expect("valid");
    assert!(valid.len() >= 27);
    let policy = ConsentPolicy::default();
    for v in valid {
        let input = v["input"].as_str().expect("input");
        assert_fields(input, v);
        let euid = &v["euid"];
        assert_eq!(euid["vendor"].as_u64(), Some(21));
        let expected = if euid["sufficient"].as_bool().expect("sufficient") {
            ConsentVerdict::Sufficient
        } else {
            ConsentVerdict::Insufficient {
                missing_purposes: ids(&euid["missingPurposes"])
                    .into_iter()
                    .map(|p| p as u8)
                    .collect(),
            }
        };
        assert_eq!(
            policy.evaluate(input),
            Ok(expected.clone()),
            "verdict of {input}"
        );
        let tc = TcString::parse(input).expect("parse");
        assert_eq!(
            policy.evaluate_parsed(&tc),
            expected,
            "verdict of parsed {input}"
        );
    }
}

#[test]
fn tcf_json_invalid_strings_are_rejected() {
    let doc: Value = serde_json::from_str(&testdata("tcf.json")).expect("tcf.json");
    for v in doc["invalid"].as_array().expect("invalid") {
        let input = v["input"].as_str().expect("input");
        assert!(decode(input).is_err(), "{input} ({}) decoded", v["why"]);
        assert!(ConsentPolicy::default().evaluate(input).is_err(), "{input}");
    }
}

#[test]
fn every_operator_verdict_matches_decision_11() {
    let policy = ConsentPolicy::default();
    let mut counts = BTreeMap::new();
    let (mut stated_rows, mut iab_rows) = (0, 0);
    for line in testdata("tcf_operator_verdicts.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        let row: Value = serde_json::from_str(line).expect("jsonl row");
        let input = row["input"].as_str().expect("input");
        let verdict = row["euidOperator"]["verdict"].as_str().expect("verdict");
        *counts.entry(verdict.to_owned()).or_insert(0) += 1;
        let got = policy.evaluate(input);
        match verdict {
            "SUFFICIENT" => assert_eq!(
                got,
                Ok(ConsentVerdict::Sufficient),
                "{:?} {input}",
                row["name"]
            ),
            "INSUFFICIENT" => {
                let Ok(ConsentVerdict::Insufficient { missing_purposes }) = &got else {
                    panic!("{:?} {input}: {got:?}", row["name"]);
                };
                // Where the vector names the missing purposes, they are exactly ours.
                let source = row["source"].as_str().unwrap_or("");
                if let Some(stated) = stated_missing_purposes(source) {
                    assert_eq!(missing_purposes, &stated, "{source}: {input}");
                    stated_rows += 1;
                }
                // Where IAB's decoder reads the string, its fields give the missing purposes.
                let js = &row["jsRaw"];
                if js["ok"].as_bool() == Some(true) {
                    assert_eq!(
                        missing_purposes,
                        &missing_from_iab_fields(&policy, js),
                        "{:?} {input}",
                        row["name"]
                    );
                    iab_rows += 1;
                }
            }
            // Decision 11: the operator's 500s are 400 `User consent is invalid` here.
            "INVALID" | "SERVER_ERROR" => {
                assert!(got.is_err(), "{:?} {input}: {got:?}", row["name"])
            }
            other => panic!("unknown verdict {other}"),
        }
        // Where the operator accepts the string and IAB's JS decoder reads it too, both
        // decoders agree on every field, and so must this one.
        let js = &row["jsRaw"];
        if got.is_ok() && js["ok"].as_bool() == Some(true) {
            assert_fields(input, js);
        }
    }
    assert_eq!(counts.values().sum::<i32>(), 107, "{counts:?}");
    // The vectors name the missing purpose once; IAB's decoder reads 18 of 19 insufficient rows.
    assert_eq!(stated_rows, 1, "rows naming their missing purposes");
    assert_eq!(iab_rows, 18, "insufficient rows IAB's decoder reads");
}

/// The purposes a vector's `source` says are missing ("missing purpose 1 -> …",
/// "missing purposes 2 and 7 …"), or `None` when it names none.
fn stated_missing_purposes(source: &str) -> Option<Vec<u8>> {
    let at = source.find("missing purpose")?;
    let rest = source[at..]
        .trim_start_matches("missing purposes")
        .trim_start_matches("missing purpose");
    let mut purposes = Vec::new();
    for word in rest.split(|c: char| c == ',' || c.is_whitespace()) {
        match word.trim_end_matches([')', '.', ';']) {
            "" | "and" => continue,
            w => match w.parse::<u8>() {
                Ok(p) => purposes.push(p),
                Err(_) => break,
            },
        }
    }
    (!purposes.is_empty()).then_some(purposes)
}

/// The policy's purposes that IAB's decoded fields do not grant: a purpose counts with purpose
/// consent and vendor consent, or with purpose legitimate interest and vendor legitimate
/// interest (the rule the crate README states).
fn missing_from_iab_fields(policy: &ConsentPolicy, js: &Value) -> Vec<u8> {
    let vendor = u64::from(policy.vendor_id);
    let vendor_consent = ids_from_ranges(&js["vendorConsentsRanges"]).contains(&vendor);
    let vendor_li = ids_from_ranges(&js["vendorLegitimateInterestsRanges"]).contains(&vendor);
    let consents = ids(&js["purposeConsents"]);
    let interests = ids(&js["purposeLegitimateInterests"]);
    policy
        .purposes
        .iter()
        .copied()
        .filter(|&p| {
            let p64 = u64::from(p);
            !((vendor_consent && consents.contains(&p64))
                || (vendor_li && interests.contains(&p64)))
        })
        .collect()
}

#[test]
fn stated_missing_purposes_are_read_from_the_source_text() {
    assert_eq!(
        stated_missing_purposes("Test.java (missing purpose 1 -> insufficient_user_consent)"),
        Some(vec![1])
    );
    assert_eq!(
        stated_missing_purposes("x (missing purposes 2, 7 and 10)"),
        Some(vec![2, 7, 10])
    );
    assert_eq!(stated_missing_purposes("IAB spec example"), None);
}

#[test]
fn typed_errors_for_the_documented_edge_cases() {
    let docs = "CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA";
    assert_eq!(TcString::parse("").err(), Some(TcfError::Empty));
    assert_eq!(TcString::parse("..").err(), Some(TcfError::Empty));
    assert!(matches!(
        TcString::parse("BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA"),
        Err(TcfError::UnsupportedVersion { version: 1 })
    ));
    assert!(matches!(
        TcString::parse(&format!(".{docs}")),
        Err(TcfError::EmptySegment { part: 0 })
    ));
    assert!(matches!(
        TcString::parse(&format!("{docs}..IAKoAACA")),
        Err(TcfError::EmptySegment { part: 1 })
    ));
    // ... but while a segment type is still missing, an empty part is reached and fails.
    assert!(matches!(
        TcString::parse(&format!("{docs}.IAKoAACA.QAKoAACA..cAAAAAAAASAA")),
        Err(TcfError::EmptySegment { part: 3 })
    ));
    // And every part must be base64url, read or not.
    assert!(matches!(
        TcString::parse(&format!("{docs}.IAKoAACA.QAKoAACA.cAAAAAAAASAA.g+AA")),
        Err(TcfError::IllegalCharacter {
            part: 4,
            position: 1
        })
    ));
    assert!(matches!(
        TcString::parse("!!!!"),
        Err(TcfError::IllegalCharacter {
            part: 0,
            position: 0
        })
    ));
    assert!(matches!(
        TcString::parse(&docs[..40]),
        Err(TcfError::Truncated {
            segment: euid_tcf::Segment::Core,
            ..
        })
    ));
    // Accepted like the operator: trailing dot, correct padding, unknown segment types.
    for ok in [
        format!("{docs}."),
        format!("{docs}=="),
        format!("{docs}.gAAA"),
        format!("{docs}.4AAA"),
        // Once DisclosedVendors, AllowedVendors and PublisherTC are found, later parts are
        // never read (only base64-checked): the empty part here is not an error.
        format!("{docs}.IAKoAACA.QAKoAACA.cAAAAAAAASAA..gAAA"),
    ] {
        assert!(TcString::parse(&ok).is_ok(), "{ok}");
    }
}
