#![no_main]
//! The `euid` CLI's readers of outside bytes, run in process through `euid_cli::run`:
//!
//! Input: one mode byte, then:
//! - 0: the `token decrypt --keys` file, for the SDK's cross-platform golden token of
//!   `testdata/` (keys 164 and 165). A run that succeeds printed that token's raw UID and
//!   site; one that fails does so with exit code 2 (a bad keys file) or 1 (the keys do not
//!   open the token).
//! - 1: the refresh input on stdin (`euid refresh` without flags). It gets to the network
//!   (a closed port on 127.0.0.1: exit code 1) exactly when stdin is JSON whose `body` (or
//!   itself) has string `refresh_token` and `refresh_response_key`, the key base64 of 32
//!   bytes; otherwise exit code 2.
//! - 2: `demo-client.json` for `euid generate --demo` (with `--url` of a closed port on
//!   127.0.0.1, so a file's `base_url` never sends anything anywhere). It gets to the
//!   network exactly when the file is a JSON object with a string `api_key` (or `key`) and a
//!   `secret` (or `client_secret`) that is base64 of 32 bytes; otherwise exit code 2.
//! - 3: the token text for `token decrypt` with the golden keys file.
//! - 4 and 5: the CRM list of `euid map --input FILE` (5: with `--column email`, a CSV with a
//!   header), mapped against a server that answers 400. A run fails with exit code 2 only for the input
//!   errors it documents (a line that is not UTF-8 or too long, a quote never closed, no such
//!   column); it gets to the network (exit code 1) or, with nothing valid to send, writes
//!   the CSV header and the locally answered rows (exit code 0).
//!
//! Every run: a documented exit code, nothing on stdout after a failure, an error line
//! starting `euid: `, and no secret in it (`fuzz/src/lib.rs`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_fuzz::{reached, run_cli, GOLDEN_MASTER_KEY, GOLDEN_SITE_KEY};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::OnceLock;

const TOKEN: &str = "AIAAAACkOqJj9VoxXJNnuX3v-ymceRf8_Av0vA5asOj9YBZJc1kV1vHdmb0AIjlzWnFF-gxIlgXqhRFhPo3iXpugPBl3gv4GKnGkw-Zgm2QqMsDPPLpMCYiWrIUqHPm8hQiq9PuTU-Ba9xecRsSIAN0WCwKLwA_EDVdzmnLJu64dQoeYmuu3u1G2EuTkuMrevmP98tJqSUePKwnfK73-0Zdshw";
const RAW_UID: &str = "ywsvDNINiZOVSsfkHpLpSJzXzhr6Jx9Z/4Q0+lsEUvM=";
/// Nothing listens on port 1: the CLI fails fast at connect.
const CLOSED: &str = "http://127.0.0.1:1";

/// A directory of this process for the files the CLI reads.
fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("euid-fuzz-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    })
}

fn golden_keys_file() -> &'static PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let path = dir().join("golden-keys.json");
        let keys = serde_json::json!({"keys": [
            {"id": 164, "created": 0, "activates": 0, "expires": 4_000_000_000i64, "secret": GOLDEN_MASTER_KEY},
            {"id": 165, "created": 0, "activates": 0, "expires": 4_000_000_000i64, "secret": GOLDEN_SITE_KEY},
        ]});
        std::fs::write(&path, keys.to_string()).expect("golden keys file");
        path
    })
}

fn is_key(text: &str) -> bool {
    STANDARD
        .decode(text.trim().trim_end_matches(['\n', '\r']))
        .is_ok_and(|k| k.len() == 32)
}

fn decrypt(token: &str, keys: &std::path::Path) -> euid_fuzz::CliRun {
    let keys = keys.to_str().expect("a UTF-8 temp path");
    run_cli(
        &["token", "decrypt", token, "--keys", keys, "--ignore-expiry"],
        b"",
        &[GOLDEN_MASTER_KEY, GOLDEN_SITE_KEY],
    )
}

fn keys_file(data: &[u8]) {
    let path = dir().join("keys.json");
    std::fs::write(&path, data).expect("keys file");
    let run = decrypt(TOKEN, &path);
    if run.code == 0 {
        reached("a keys file that decrypts the golden token");
        let out: Value = serde_json::from_slice(&run.stdout).expect("JSON output");
        assert_eq!(out["raw_uid"], RAW_UID, "{out}");
        assert_eq!(out["site_id"], 9000, "{out}");
    } else if run.code == euid_cli::EXIT_FAILED {
        reached("a keys file that loads");
    }
}

fn refresh_stdin(data: &[u8]) {
    let run = run_cli(&["refresh", "--url", CLOSED, "--timeout", "2"], data, &[]);
    let parsed: Option<Value> = serde_json::from_slice(data).ok();
    let to_network = parsed.as_ref().is_some_and(|v| {
        let body = v.get("body").unwrap_or(v);
        body.get("refresh_token").is_some_and(Value::is_string)
            && body
                .get("refresh_response_key")
                .and_then(Value::as_str)
                .is_some_and(is_key)
    });
    if to_network {
        reached("refresh input that parses");
        assert_eq!(run.code, euid_cli::EXIT_FAILED, "{}", run.stderr);
    } else {
        assert_eq!(run.code, euid_cli::EXIT_INVALID, "{}", run.stderr);
    }
}

fn demo_client(data: &[u8]) {
    let demo = dir().join("demo");
    std::fs::create_dir_all(&demo).expect("demo dir");
    std::fs::write(demo.join("demo-client.json"), data).expect("demo-client.json");
    let run = run_cli(
        &[
            "generate",
            "--demo",
            demo.to_str().expect("a UTF-8 temp path"),
            "--url",
            CLOSED,
            "--timeout",
            "2",
            "--email",
            "user@example.com",
        ],
        b"",
        &[],
    );
    let parsed: Option<Value> = serde_json::from_slice(data).ok();
    let field = |names: &[&str]| {
        let v = parsed.as_ref()?;
        names.iter().find_map(|n| v.get(*n).and_then(Value::as_str))
    };
    let to_network = field(&["api_key", "key"]).is_some()
        && field(&["secret", "client_secret"]).is_some_and(is_key);
    if to_network {
        reached("a demo-client.json that parses");
        assert_eq!(run.code, euid_cli::EXIT_FAILED, "{}", run.stderr);
    } else {
        assert_eq!(run.code, euid_cli::EXIT_INVALID, "{}", run.stderr);
    }
    // The secret of a demo client file never shows in an error.
    if let Some(secret) = field(&["secret", "client_secret"]).filter(|s| s.len() >= 8) {
        assert!(!run.stderr.contains(secret), "the demo secret in stderr");
    }
}

/// A server on 127.0.0.1 that answers every request 400 at once: `euid map` does not retry
/// a 400 (a closed port would be retried with backoff, a second or more per run).
fn refusing_server() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let _ = stream.write_all(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
                );
            }
        });
        url
    })
}

fn map_input(data: &[u8], column: bool) {
    let path = dir().join("crm.csv");
    std::fs::write(&path, data).expect("CRM list");
    let secret = STANDARD.encode([7u8; 32]);
    let mut args = vec![
        "map",
        "--url",
        refusing_server(),
        "--timeout",
        "2",
        "--api-key",
        "EUID-C-L-999-fuzz.key",
        "--secret",
        &secret,
        "--input",
        path.to_str().expect("a UTF-8 temp path"),
    ];
    if column {
        args.extend(["--column", "email"]);
    }
    let run = run_cli(&args, b"", &[&secret]);
    match run.code {
        euid_cli::EXIT_INVALID => {
            let documented = [
                "is not UTF-8 text",
                "is longer than",
                "a quoted field is never closed",
                "a record longer than",
                "has no column",
            ];
            assert!(
                documented.iter().any(|d| run.stderr.contains(d)),
                "an undocumented input error: {}",
                run.stderr
            );
        }
        euid_cli::EXIT_FAILED => reached("a map input that parses and is sent"),
        _ => {
            let out = String::from_utf8(run.stdout).expect("UTF-8 CSV");
            let header = "input,raw_uid,previous_raw_uid,refresh_from,unmapped_reason\n";
            assert!(out.starts_with(header), "{out}");
            // Nothing reached the operator, so the rows, if any, are the ones answered here:
            // invalid identifiers, with no raw UID.
            assert!(
                out == header || out.ends_with(",,,,invalid identifier\n"),
                "{out}"
            );
            reached("a map input with nothing to send");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 6 {
        0 => keys_file(rest),
        1 => refresh_stdin(rest),
        2 => demo_client(rest),
        4 => map_input(rest, false),
        5 => map_input(rest, true),
        _ => {
            let Ok(token) = std::str::from_utf8(rest) else {
                return;
            };
            // clap takes a leading '-' for a flag.
            if token.starts_with('-') || token.contains('\0') {
                return;
            }
            let run = decrypt(token, golden_keys_file());
            if run.code == 0 {
                reached("a token text that decrypts");
            }
        }
    }
});
