//! `euid map` end to end over real HTTP: against the real operator, and against a scripted
//! `/v3/identity/map` server (euid-test-support's) where a test must see what each request
//! carried (`u` is "U" + the sent hash, and optout@example.com is opted out there).

mod common;

use euid_test_support::scripted_v3;

use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::{euid, euid_env};

const SECRET_BYTES: [u8; 32] = [7; 32];
const API_KEY: &str = "EUID-C-L-999-mapper.key";
const HEADER: &str = "input,raw_uid,previous_raw_uid,refresh_from,unmapped_reason";

fn secret() -> String {
    STANDARD.encode(SECRET_BYTES)
}

fn email_hash(email: &str) -> String {
    euid_normalize::hash_email(email).unwrap().to_base64()
}

fn run_map(url: &str, extra: &[&str]) -> common::Run {
    let secret = secret();
    let mut args = vec![
        "map",
        "--url",
        url,
        "--api-key",
        API_KEY,
        "--secret",
        &secret,
    ];
    args.extend_from_slice(extra);
    euid(&args, b"")
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

#[test]
fn a_long_list_maps_in_input_order_in_batches_of_at_most_5000() {
    let (url, log) = scripted_v3::v3_server(SECRET_BYTES);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("crm.txt");
    let output = dir.path().join("mapped.csv");
    // 10,003 valid emails across two chunks, a blank line (skipped), an invalid one
    // (answered locally), an opt-out, CRLF line ends and surrounding spaces.
    let mut text = String::new();
    let mut expected = Vec::new();
    for i in 0..10_003 {
        let email = format!("user{i}@example.com");
        text.push_str(&email);
        text.push_str(if i % 2 == 0 { "\n" } else { "\r\n" });
        expected.push(format!("{email},U{},,1700000000,", email_hash(&email)));
        if i == 4_999 {
            text.push_str("\n  \nnot an email\n  optout@example.com  \n");
            expected.push("not an email,,,,invalid identifier".to_owned());
            expected.push("optout@example.com,,,,optout".to_owned());
        }
    }
    std::fs::write(&input, text).unwrap();
    let run = run_map(
        &url,
        &["--input", path_str(&input), "--output", path_str(&output)],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.is_empty() && run.stderr.is_empty(),
        "{run:?}",
        run = run.stderr
    );
    let csv = std::fs::read_to_string(&output).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some(HEADER));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), expected.len());
    for (i, (row, want)) in rows.iter().zip(&expected).enumerate() {
        assert_eq!(row, want, "row {i}");
    }
    // Only valid identities are sent, in binary requests of at most 5,000, and the list is
    // streamed in rounds of 10,000 lines: the first round (with the invalid line) sends
    // 5,000 + 4,999, the second the last 5. Mapped whole it would be 5,000 + 5,000 + 4.
    let seen = log.lock().unwrap().clone();
    assert!(seen.iter().all(|(ct, _)| ct == "application/octet-stream"));
    let sizes: Vec<usize> = seen.iter().map(|(_, n)| *n).collect();
    assert_eq!(sizes, [5000, 4999, 5]);
}

#[test]
fn a_csv_column_maps_to_stdout_with_credentials_from_the_environment() {
    let (url, _log) = scripted_v3::v3_server(SECRET_BYTES);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("crm.csv");
    std::fs::write(
        &input,
        "id,name,phone\n1,\"Doe, Jane\",+12345678901\n2,\"multi\nline\",  +447700900123 \n3,x,12345\n4,y\n",
    )
    .unwrap();
    let secret = secret();
    let run = euid_env(
        &[
            "map",
            "--input",
            path_str(&input),
            "--column",
            "phone",
            "--type",
            "phone",
        ],
        b"",
        &[
            ("EUID_URL", &url),
            ("EUID_API_KEY", API_KEY),
            ("EUID_SECRET", &secret),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let phone = |p: &str| euid_normalize::hash_phone(p).unwrap().to_base64();
    // The scripted server answers phone hashes like email hashes: "U" + the hash.
    let expected = format!(
        "{HEADER}\n+12345678901,U{},,1700000000,\n+447700900123,U{},,1700000000,\n12345,,,,invalid identifier\n",
        phone("+12345678901"),
        phone("+447700900123")
    );
    assert_eq!(run.stdout, expected);

    // Hashes as given, from stdin; a value with a comma is quoted in the output.
    let hash = email_hash("user@example.com");
    let run = euid_env(
        &["map", "--input", "-", "--type", "email_hash"],
        format!("{hash}\nnot,a hash\n").as_bytes(),
        &[
            ("EUID_URL", &url),
            ("EUID_API_KEY", API_KEY),
            ("EUID_SECRET", &secret),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        format!("{HEADER}\n{hash},U{hash},,1700000000,\n\"not,a hash\",,,,invalid identifier\n")
    );
}

#[test]
fn bad_usage_and_failures_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("crm.csv");
    std::fs::write(&input, "email\nuser@example.com\n").unwrap();
    let input = path_str(&input);
    let secret = secret();
    let (url, _log) = scripted_v3::v3_server(SECRET_BYTES);

    run_map(&url, &["--input", input, "--column", "mail"]).assert_error(
        2,
        "no column \"mail\"",
        &[API_KEY, &secret],
    );
    run_map(&url, &["--input", "/nonexistent/crm.txt"]).assert_error(2, "cannot open", &[]);
    run_map("ftp://prod.euid.eu", &["--input", input]).assert_error(
        2,
        "must start with http:// or https://",
        &[],
    );
    euid(
        &["map", "--url", &url, "--secret", &secret, "--input", input],
        b"",
    )
    .assert_error(2, "no API key", &[&secret]);
    euid(
        &[
            "map",
            "--url",
            &url,
            "--api-key",
            API_KEY,
            "--secret",
            "short",
            "--input",
            input,
        ],
        b"",
    )
    .assert_error(2, "client secret", &[API_KEY, "short"]);
    let unclosed = dir.path().join("open.csv");
    std::fs::write(&unclosed, "email\n\"user@example.com\n").unwrap();
    run_map(&url, &["--input", path_str(&unclosed), "--column", "email"]).assert_error(
        2,
        "never closed",
        &[],
    );

    // A wrong secret: the scripted server cannot open the envelope and closes the
    // connection; after euid-client's retries the run fails with exit 1, one line.
    let wrong = STANDARD.encode([9u8; 32]);
    euid(
        &[
            "map",
            "--url",
            &url,
            "--api-key",
            API_KEY,
            "--secret",
            &wrong,
            "--timeout",
            "2",
            "--input",
            input,
        ],
        b"",
    )
    .assert_error(1, "failed", &[API_KEY, &wrong, "user@example.com"]);
}

#[test]
fn a_list_maps_against_the_real_operator_as_its_v2_map_does() {
    let server = euid_test_support::TestServer::start(euid_operator::OperatorConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("crm.txt");
    std::fs::write(
        &input,
        "someone@example.com\nnot an email\noptout@example.com\nother@example.com\n",
    )
    .unwrap();
    let url = server.url();
    let data_dir = server.data_dir().to_str().expect("UTF-8 path").to_owned();
    let run = euid(
        &[
            "map",
            "--url",
            &url,
            "--demo",
            &data_dir,
            "--input",
            path_str(&input),
        ],
        b"",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut lines = run.stdout.lines();
    assert_eq!(lines.next(), Some(HEADER));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 4, "{}", run.stdout);
    assert_eq!(rows[1], ["not an email", "", "", "", "invalid identifier"]);
    assert_eq!(rows[2], ["optout@example.com", "", "", "", "optout"]);
    let now_s = euid_test_support::now_ms() / 1000;
    for (row, email) in [
        (&rows[0], "someone@example.com"),
        (&rows[3], "other@example.com"),
    ] {
        assert_eq!(row[0], email);
        // The operator's 32-byte v2 raw UID, no previous one before a rotation, a refresh
        // time ahead, no reason.
        assert_eq!(STANDARD.decode(row[1]).unwrap().len(), 32, "{row:?}");
        assert_eq!(row[2], "");
        assert!(row[3].parse::<i64>().unwrap() > now_s, "{row:?}");
        assert_eq!(row[4], "");
    }
    // The same raw UIDs as the operator's v2 map.
    let v2 = euid_test_support::ApiClient::demo(&server).call(
        "/v2/identity/map",
        r#"{"email":["someone@example.com","other@example.com"]}"#,
    );
    let mapped = v2["body"]["mapped"].as_array().unwrap();
    for (row, email) in [
        (&rows[0], "someone@example.com"),
        (&rows[3], "other@example.com"),
    ] {
        let m = mapped
            .iter()
            .find(|m| m["identifier"] == email)
            .unwrap_or_else(|| panic!("{email} not in {v2}"));
        assert_eq!(m["advertising_id"], row[1], "{email}");
    }
    assert_ne!(rows[0][1], rows[3][1]);
}

#[test]
fn spreadsheet_exports_map_row_for_row_and_runaway_lines_are_refused() {
    let (url, _log) = scripted_v3::v3_server(SECRET_BYTES);
    let dir = tempfile::tempdir().unwrap();
    // A byte order mark before the header (Excel's "CSV UTF-8") and stray quotes inside
    // unquoted fields: every row still maps on its own.
    let input = dir.path().join("export.csv");
    std::fs::write(
        &input,
        "\u{feff}email,height\na@x.com,5\" tall\nb@y.com,6\" tall\n",
    )
    .unwrap();
    let run = run_map(&url, &["--input", path_str(&input), "--column", "email"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let expected = format!(
        "{HEADER}\na@x.com,U{},,1700000000,\nb@y.com,U{},,1700000000,\n",
        email_hash("a@x.com"),
        email_hash("b@y.com")
    );
    assert_eq!(run.stdout, expected);
    // Without --column, the mark is not part of the first identity either.
    let plain = dir.path().join("list.txt");
    std::fs::write(&plain, "\u{feff}a@x.com\n").unwrap();
    let run = run_map(&url, &["--input", path_str(&plain)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        format!(
            "{HEADER}\na@x.com,U{},,1700000000,\n",
            email_hash("a@x.com")
        )
    );

    // A file without line breaks, or a quoted field that never closes, is refused with the
    // line named instead of being read whole.
    let runaway = dir.path().join("one-line.txt");
    std::fs::write(&runaway, "x".repeat(200_000)).unwrap();
    let run = run_map(&url, &["--input", path_str(&runaway)]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("line 1 is longer than 65536 bytes"),
        "{}",
        run.stderr
    );
    let open_quote = dir.path().join("open.csv");
    std::fs::write(
        &open_quote,
        format!("email\n\"a@x.com\n{}", "b@y.com\n".repeat(10_000)),
    )
    .unwrap();
    let run = run_map(
        &url,
        &["--input", path_str(&open_quote), "--column", "email"],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("line 2: a record longer than"),
        "{}",
        run.stderr
    );
}
