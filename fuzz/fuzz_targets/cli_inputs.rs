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

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => keys_file(rest),
        1 => refresh_stdin(rest),
        2 => demo_client(rest),
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
