//! Differential test against IAB's reference decoder (`@iabtechlabtcf/core`, pinned in
//! `tests/js/package.json`): `tests/js/tcf_differential.mjs` builds random TC models with IAB's
//! library, encodes them (bit fields, range-encoded vendor sections, publisher restrictions,
//! optional segments in any order) and reports what IAB's decoder reads back. This crate must
//! read exactly the same fields, reach the same EUID verdict, and re-encode to an equal model.
//!
//! Needs `node` and `tests/js/node_modules` (`scripts/test-setup.sh` runs `npm ci`). Without
//! them the test fails; outside CI, `EUID_SKIP_INTEROP=1` turns that into a skip with a
//! notice. `EUID_TCF_DIFF_SEED` and `EUID_TCF_DIFF_COUNT` override the seed and the count
//! (at least 1).

use euid_tcf::{encode, ConsentPolicy, ConsentVerdict, TcString, TcfModel, VendorSet};
use euid_test_support::iab_tcf_js_dir;
use serde_json::{json, Value};
use std::process::Command;

const DEFAULT_SEED: u32 = 20_260_705;
const DEFAULT_COUNT: usize = 1000;

fn ranges(set: &VendorSet) -> Value {
    Value::Array(
        set.ranges()
            .map(|r| json!([*r.start(), *r.end()]))
            .collect(),
    )
}

/// This crate's decode, in the shape the script prints.
fn fields(m: &TcfModel, verdict: &ConsentVerdict) -> Value {
    json!({
        "version": m.version,
        "created": m.created,
        "lastUpdated": m.last_updated,
        "cmpId": m.cmp_id,
        "cmpVersion": m.cmp_version,
        "consentScreen": m.consent_screen,
        "consentLanguage": m.consent_language,
        "vendorListVersion": m.vendor_list_version,
        "policyVersion": m.policy_version,
        "isServiceSpecific": m.is_service_specific,
        "useNonStandardTexts": m.use_non_standard_texts,
        "specialFeatureOptins": m.special_feature_optins,
        "purposeConsents": m.purpose_consents,
        "purposeLegitimateInterests": m.purpose_legitimate_interests,
        "purposeOneTreatment": m.purpose_one_treatment,
        "publisherCountryCode": m.publisher_country_code,
        "vendorConsents": ranges(&m.vendor_consents),
        "vendorLegitimateInterests": ranges(&m.vendor_legitimate_interests),
        "publisherRestrictions": m.publisher_restrictions.iter().map(|r| json!({
            "purposeId": r.purpose_id,
            "restrictionType": r.restriction_type,
            "vendors": ranges(&r.vendors),
        })).collect::<Vec<_>>(),
        "vendorsDisclosed": ranges(&m.disclosed_vendors),
        "vendorsAllowed": ranges(&m.allowed_vendors),
        "publisherConsents": m.publisher_purpose_consents,
        "publisherLegitimateInterests": m.publisher_purpose_legitimate_interests,
        "numCustomPurposes": m.num_custom_purposes,
        "publisherCustomConsents": m.publisher_custom_purpose_consents,
        "publisherCustomLegitimateInterests": m.publisher_custom_purpose_legitimate_interests,
        "euidMissingPurposes": match verdict {
            ConsentVerdict::Sufficient => Vec::new(),
            ConsentVerdict::Insufficient { missing_purposes } => missing_purposes.clone(),
        },
    })
}

/// Each segment without its trailing zero characters (`A` is six zero bits): the padding
/// IAB's encoder adds to reach a whole byte.
fn without_padding(tc: &str) -> String {
    tc.split('.')
        .map(|segment| segment.trim_end_matches('A'))
        .collect::<Vec<_>>()
        .join(".")
}

/// In-place lookups agree with the owned decode around every range boundary.
fn check_lookups(tc: &TcString<'_>, m: &TcfModel, input: &str) {
    let lookups: [(&VendorSet, &dyn Fn(u16) -> bool); 4] = [
        (&m.vendor_consents, &|v| tc.has_vendor_consent(v)),
        (&m.vendor_legitimate_interests, &|v| {
            tc.has_vendor_legitimate_interest(v)
        }),
        (&m.disclosed_vendors, &|v| tc.is_vendor_disclosed(v)),
        (&m.allowed_vendors, &|v| tc.is_vendor_allowed(v)),
    ];
    for (set, lookup) in lookups {
        let probes = set
            .ranges()
            .flat_map(|r| {
                [
                    r.start().saturating_sub(1),
                    *r.start(),
                    *r.end(),
                    r.end().saturating_add(1),
                ]
            })
            .chain([0, 1, 21, 65535]);
        for v in probes {
            assert_eq!(
                lookup(v),
                set.contains(v),
                "lookup of vendor {v} in {input}"
            );
        }
    }
}

#[test]
fn agrees_with_iab_reference_decoder_on_generated_strings() {
    let Some(dir) = iab_tcf_js_dir("the TCF differential test against IAB's JS decoder") else {
        return;
    };
    // A malformed override fails rather than silently running the default.
    let seed: u32 = std::env::var("EUID_TCF_DIFF_SEED").map_or(DEFAULT_SEED, |s| {
        s.parse()
            .unwrap_or_else(|e| panic!("EUID_TCF_DIFF_SEED={s}: {e}"))
    });
    let count: usize = std::env::var("EUID_TCF_DIFF_COUNT").map_or(DEFAULT_COUNT, |s| {
        s.parse()
            .unwrap_or_else(|e| panic!("EUID_TCF_DIFF_COUNT={s}: {e}"))
    });
    // Zero strings would compare nothing and pass.
    assert!(count > 0, "EUID_TCF_DIFF_COUNT=0 checks nothing");
    let output = Command::new("node")
        .arg("tcf_differential.mjs")
        .arg(seed.to_string())
        .arg(count.to_string())
        .current_dir(&dir)
        .output()
        .expect("node runs (iab_tcf_js_dir ran it)");
    assert!(
        output.status.success(),
        "tcf_differential.mjs failed (seed {seed}): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("utf-8 output");
    let policy = ConsentPolicy::default();
    let (mut checked, mut range_encoded, mut with_restrictions) = (0, 0, 0);
    let mut reencoded = Vec::with_capacity(count);
    let mut same_bits = 0;
    for line in stdout.lines() {
        let row: Value = serde_json::from_str(line).expect("JSON line");
        let input = row["input"].as_str().expect("input");
        let ctx = format!("seed {seed}, string {checked}: {input}");
        let tc = TcString::parse(input).unwrap_or_else(|e| panic!("{ctx}: {e}"));
        let model = tc.decode();
        let verdict = policy
            .evaluate(input)
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        assert_eq!(verdict, policy.evaluate_parsed(&tc), "{ctx}");
        let ours = fields(&model, &verdict);
        if ours != row["fields"] {
            let theirs = &row["fields"];
            let diff: Vec<String> = theirs
                .as_object()
                .expect("fields object")
                .iter()
                .filter(|(k, v)| ours.get(k.as_str()) != Some(v))
                .map(|(k, v)| format!("{k}: IAB {v} / ours {}", ours[k.as_str()]))
                .collect();
            panic!("{ctx}: fields differ:\n{}", diff.join("\n"));
        }
        check_lookups(&tc, &model, input);
        // Our encoder on a model IAB's encoder produced: same model back, and IAB's decoder
        // reads our string to the same fields (checked below, in one more node run).
        let again = encode(&model).unwrap_or_else(|e| panic!("{ctx}: re-encode: {e}"));
        assert_eq!(
            euid_tcf::decode(&again).as_ref(),
            Ok(&model),
            "{ctx}: re-encoded as {again}"
        );
        // Never longer: IAB pads segments to whole bytes (ours to whole characters) and
        // writes empty optional segments (ours leaves them out); a longer string would mean
        // a worse choice between bit field and range encoding.
        assert!(
            again.len() <= input.len(),
            "{ctx}: ours is longer than IAB's encoding: {again}"
        );
        if without_padding(&again) == without_padding(input) {
            same_bits += 1;
        }
        reencoded.push((again, row["fields"].clone()));

        checked += 1;
        if tc.vendor_consents_range_encoded() || tc.vendor_legitimate_interests_range_encoded() {
            range_encoded += 1;
        }
        if !model.publisher_restrictions.is_empty() {
            with_restrictions += 1;
        }
    }
    assert_eq!(
        checked, count,
        "seed {seed}: the script printed {checked} strings"
    );
    iab_reads_our_encodings(&dir, seed, &reencoded);
    // Most strings have no empty optional segment: there the two encoders write the same bits.
    assert!(
        same_bits > count / 2,
        "seed {seed}: only {same_bits} of {count} re-encodings are IAB's bits"
    );
    eprintln!("{same_bits} of {count} re-encodings are IAB's string up to padding");
    assert!(
        count < 100 || (range_encoded > count / 10 && with_restrictions > count / 10),
        "seed {seed}: too few range-encoded ({range_encoded}) or restricted ({with_restrictions}) strings"
    );
}

/// IAB's decoder reads each of our re-encodings to the fields it read from IAB's own string.
fn iab_reads_our_encodings(dir: &std::path::Path, seed: u32, reencoded: &[(String, Value)]) {
    use std::io::Write as _;
    let mut child = Command::new("node")
        .args(["tcf_differential.mjs", "--decode"])
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("node runs (it just did)");
    let input: String = reencoded.iter().map(|(s, _)| format!("{s}\n")).collect();
    let mut stdin = child.stdin.take().expect("stdin");
    // Written from a thread: node may fill its stdout pipe before reading all of stdin.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().expect("node --decode");
    writer.join().expect("writer").expect("write to node");
    assert!(
        output.status.success(),
        "tcf_differential.mjs --decode failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("utf-8 output");
    let rows: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(rows.len(), reencoded.len(), "one decode per re-encoding");
    for ((ours, expected), row) in reencoded.iter().zip(&rows) {
        assert_eq!(
            &row["fields"], expected,
            "seed {seed}: IAB's decoder reads our {ours} differently: {row}"
        );
    }
}
