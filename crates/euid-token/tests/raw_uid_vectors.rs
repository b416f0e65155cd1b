//! The live operator's raw UID vectors (`testdata/raw_uid/`): its own 11-column test salt
//! file and 80 rows its Java code computed for both scopes, both environments and both
//! `identity_v3` settings. Every field of every row must match.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_normalize::{hash_email, hash_phone, parse_email_hash, parse_phone_hash, IdentityHash};
use euid_token::{
    bucket_index, first_level_hash, IdentityConfig, IdentityEnvironment, IdentityScope,
    IdentityType, SaltStore,
};

const ROWS: usize = 80;

fn read(name: &str) -> Vec<u8> {
    let path = euid_test_support::testdata_path(&format!("raw_uid/{name}"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn salts() -> SaltStore {
    SaltStore::from_files(&read("metadata.json"), &read("salts.txt")).expect("live salt files")
}

fn str_field<'a>(row: &'a serde_json::Value, name: &str) -> &'a str {
    row[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} in {row}"))
}

fn identity_hash(kind: &str, value: &str) -> (IdentityType, IdentityHash) {
    match kind {
        "email" => (IdentityType::Email, hash_email(value).unwrap()),
        "phone" => (IdentityType::Phone, hash_phone(value).unwrap()),
        "email_hash" => (IdentityType::Email, parse_email_hash(value).unwrap()),
        "phone_hash" => (IdentityType::Phone, parse_phone_hash(value).unwrap()),
        other => panic!("unknown kind {other}"),
    }
}

#[test]
fn every_live_row_matches() {
    let salts = salts();
    let text = String::from_utf8(read("vectors.jsonl")).unwrap();
    let mut checked = 0;
    let mut seen = std::collections::BTreeSet::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        let scope = match str_field(&row, "scope") {
            "euid" => IdentityScope::Euid,
            "uid2" => IdentityScope::Uid2,
            other => panic!("scope {other}"),
        };
        let environment = IdentityEnvironment::from_name(str_field(&row, "env")).unwrap();
        let config = IdentityConfig {
            identity_v3: row["identity_v3"].as_bool().unwrap(),
            environment,
        };
        let now_ms = row["as_of_ms"].as_i64().unwrap();
        let kind = str_field(&row, "kind");
        let (identity_type, ih) = identity_hash(kind, str_field(&row, "value"));
        let ctx = line;

        assert_eq!(
            ih.to_base64(),
            str_field(&row, "identity_hash_b64"),
            "{ctx}"
        );
        let flh = first_level_hash(ih.as_bytes(), &salts);
        assert_eq!(
            STANDARD.encode(flh),
            str_field(&row, "first_level_hash_b64"),
            "{ctx}"
        );

        let m = config.map(ih.as_bytes(), scope, identity_type, &salts, now_ms);
        assert_eq!(m.first_level_hash, flh, "{ctx}");
        let index = row["bucket_index"].as_u64().unwrap() as usize;
        assert_eq!(m.bucket_index, index, "{ctx}");
        assert_eq!(bucket_index(&flh, salts.len()), index, "{ctx}");
        let bucket = salts.bucket(index).unwrap();
        assert_eq!(
            bucket.id(),
            row["bucket_numeric_id"].as_i64().unwrap(),
            "{ctx}"
        );
        assert_eq!(bucket.bucket_id(), str_field(&row, "bucket_id"), "{ctx}");

        assert_eq!(
            m.raw_uid.to_base64(),
            str_field(&row, "raw_uid_b64"),
            "{ctx}"
        );
        assert_eq!(
            m.raw_uid.version().as_str(),
            str_field(&row, "raw_uid_version"),
            "{ctx}"
        );
        // The token path makes the same choice as the identity map.
        assert_eq!(
            config.raw_uid(&flh, scope, identity_type, &salts),
            m.raw_uid,
            "{ctx}"
        );
        assert_eq!(
            m.previous_raw_uid.map(|p| p.to_base64()).as_deref(),
            row["previous_raw_uid_b64"].as_str(),
            "{ctx}"
        );
        assert_eq!(
            m.refresh_from_ms,
            row["refresh_from_ms"].as_i64().unwrap(),
            "{ctx}"
        );
        seen.insert((
            str_field(&row, "scope").to_owned(),
            environment.as_str(),
            config.identity_v3,
            kind.to_owned(),
            m.raw_uid.version().as_str(),
        ));
        checked += 1;
    }
    assert_eq!(checked, ROWS);
    // Both scopes × both environments × both settings, every input kind, every version.
    let combos: std::collections::BTreeSet<_> =
        seen.iter().map(|(s, e, v3, _, _)| (s, e, v3)).collect();
    assert_eq!(combos.len(), 8);
    let kinds: std::collections::BTreeSet<_> = seen.iter().map(|k| k.3.as_str()).collect();
    assert_eq!(kinds.len(), 4);
    let versions: std::collections::BTreeSet<_> = seen.iter().map(|k| k.4).collect();
    assert_eq!(versions.into_iter().collect::<Vec<_>>(), ["v2", "v3", "v4"]);
}

/// The vectors give hash inputs in base64 only; the 64-digit hex form of the same hash must map
/// identically (`wire.md` §2.2), in both cases.
#[test]
fn hex_hash_inputs_map_like_their_base64_rows() {
    let salts = salts();
    let text = String::from_utf8(read("vectors.jsonl")).unwrap();
    let mut checked = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        let kind = str_field(&row, "kind");
        if !kind.ends_with("_hash") {
            continue;
        }
        let scope = if row["scope"] == "euid" {
            IdentityScope::Euid
        } else {
            IdentityScope::Uid2
        };
        let config = IdentityConfig {
            identity_v3: row["identity_v3"].as_bool().unwrap(),
            environment: IdentityEnvironment::from_name(str_field(&row, "env")).unwrap(),
        };
        let bytes = STANDARD.decode(str_field(&row, "value")).unwrap();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        for hex in [hex.clone(), hex.to_uppercase()] {
            let (identity_type, ih) = identity_hash(kind, &hex);
            assert_eq!(ih.to_base64(), str_field(&row, "identity_hash_b64"));
            let m = config.map(
                ih.as_bytes(),
                scope,
                identity_type,
                &salts,
                row["as_of_ms"].as_i64().unwrap(),
            );
            assert_eq!(
                m.raw_uid.to_base64(),
                str_field(&row, "raw_uid_b64"),
                "{line}"
            );
            assert_eq!(
                m.previous_raw_uid.map(|p| p.to_base64()).as_deref(),
                row["previous_raw_uid_b64"].as_str()
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * 16);
}

#[test]
fn the_live_salt_file_round_trips_byte_for_byte() {
    let salts = salts();
    let csv = read("salts.txt");
    assert_eq!(salts.salts_csv().as_bytes(), csv.as_slice());
    let b = salts.bucket(2).unwrap();
    assert!(!b.has_current_salt());
    let (cur, prev) = (b.current_key().unwrap(), b.previous_key().unwrap());
    assert_eq!((cur.id(), prev.id()), (2_100_002, 2_000_002));
    assert_eq!(b.refresh_from(), Some(1_806_364_800_000));
    let b = salts.bucket(4).unwrap();
    assert!(b.current_key().is_some() && b.previous_salt().is_some());
    assert!(b.previous_key().is_none());
}
