//! With the `serde` feature, `TcfModel` serializes with exactly the agreed JSON keys (the CLI
//! prints it as `euid tcf decode`) and reads back unchanged.
#![cfg(feature = "serde")]

use euid_tcf::{decode, TcfModel};
use serde_json::{json, Value};

#[test]
fn docs_string_serializes_with_exactly_the_agreed_keys() {
    let model =
        decode("CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA").expect("docs string");
    let value = serde_json::to_value(&model).expect("serialize");
    let object = value.as_object().expect("object");
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut expected = TcfModel::JSON_KEYS.to_vec();
    expected.sort_unstable();
    assert_eq!(keys, expected);
    assert_eq!(
        value,
        json!({
            "version": 2,
            "created": 1_666_220_705_200_i64,
            "last_updated": 1_666_220_705_200_i64,
            "cmp_id": 1,
            "cmp_version": 12,
            "consent_screen": 1,
            "consent_language": "FR",
            "vendor_list_version": 2,
            "policy_version": 1,
            "is_service_specific": true,
            "use_non_standard_texts": false,
            "special_feature_optins": [1],
            "purpose_consents": [1, 3, 4],
            "purpose_legitimate_interests": [2, 7, 10],
            "purpose_one_treatment": true,
            "publisher_country_code": "DE",
            "vendor_consents": [21],
            "vendor_legitimate_interests": [21],
            "publisher_restrictions": [],
            "disclosed_vendors": [],
            "allowed_vendors": [],
            "publisher_purpose_consents": [],
            "publisher_purpose_legitimate_interests": [],
            "num_custom_purposes": null,
            "publisher_custom_purpose_consents": [],
            "publisher_custom_purpose_legitimate_interests": [],
        })
    );
    let back: TcfModel = serde_json::from_value(value).expect("deserialize");
    assert_eq!(back, model);
}

#[test]
fn json_keys_are_the_fields_in_the_order_they_are_written() {
    let text = serde_json::to_string(&TcfModel::default()).expect("serialize");
    let mut at = 0;
    for key in TcfModel::JSON_KEYS {
        let needle = format!("\"{key}\":");
        let found = text[at..]
            .find(&needle)
            .unwrap_or_else(|| panic!("{key} is not written after byte {at}: {text}"));
        at += found + needle.len();
    }
}

#[test]
fn restrictions_and_segments_serialize_as_id_lists() {
    // Publisher restrictions, DisclosedVendors and AllowedVendors (iabtcf-java test strings).
    let text = "COrEAV4OrXx94ACABBENAHCIAD-AAAAAAACAAxAAAAgAIAwgAgAAAAEAgQAAAAAEAYQAQAAAACAAAABAAA.IBAgAAAgAIAwgAgAAAAEAAAACA.QAagAQAgAIAwgA";
    let model = decode(text).expect("decodes");
    let value = serde_json::to_value(&model).expect("serialize");
    assert_eq!(
        value["disclosed_vendors"],
        json!([23, 37, 47, 48, 53, 65, 98, 129])
    );
    assert_eq!(value["allowed_vendors"], json!([12, 23, 37, 47, 48, 53]));
    assert_eq!(
        value["vendor_legitimate_interests"],
        json!([37, 47, 48, 53, 65, 98, 129])
    );
    let back: TcfModel = serde_json::from_value::<TcfModel>(value.clone()).expect("deserialize");
    assert_eq!(back, model);
    assert_eq!(serde_json::to_value(&back).expect("serialize"), value);

    let text =
        "CPLVzJxPLVzJxCOxLHDEUDFgAAIAwAApoAqIAPL6E1ywAef__9PgBkwAYAE4ALgAxABsAHCoAEADo0AEAAcABgAA";
    let value: Value = serde_json::to_value(decode(text).expect("decodes")).expect("serialize");
    // Wire order, one item per wire entry.
    assert_eq!(
        value["publisher_restrictions"],
        json!([
            {"purpose_id": 9, "restriction_type": 2, "vendors": [19, 23, 24, 27, 28]},
            {"purpose_id": 10, "restriction_type": 2, "vendors": [29]},
            {"purpose_id": 6, "restriction_type": 2, "vendors": [7, 12]},
        ])
    );
}
