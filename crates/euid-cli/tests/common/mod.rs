//! Running the built `euid` binary, and what every error must look like.
#![allow(dead_code, unreachable_pub)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// The outcome of one `euid` run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Stdout parsed as one JSON value.
    pub fn json(&self) -> serde_json::Value {
        assert_eq!(self.code, 0, "euid failed: {}", self.stderr);
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }

    /// Asserts a failure with `code` and exactly one line on stderr, starting `euid: `, that
    /// contains `needle` and none of `secrets`; no backtrace, nothing on stdout.
    pub fn assert_error(&self, code: i32, needle: &str, secrets: &[&str]) {
        assert_eq!(self.code, code, "exit code; stderr: {}", self.stderr);
        assert!(
            self.stdout.is_empty(),
            "stdout should be empty: {}",
            self.stdout
        );
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "stderr should be one line: {:?}",
            self.stderr
        );
        assert!(lines[0].starts_with("euid: "), "stderr: {}", self.stderr);
        assert!(
            lines[0].contains(needle),
            "stderr {:?} should contain {needle:?}",
            self.stderr
        );
        assert!(!self.stderr.contains("panicked") && !self.stderr.contains("RUST_BACKTRACE"));
        for secret in secrets {
            assert!(
                !self.stderr.contains(secret),
                "stderr echoes a secret: {}",
                self.stderr
            );
        }
    }
}

/// The built binary.
pub fn euid_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_euid"))
}

/// Runs `euid ARGS` with `stdin`, without the EUID_* environment of the caller.
pub fn euid(args: &[&str], stdin: &[u8]) -> Run {
    euid_env(args, stdin, &[])
}

/// Runs `euid ARGS` with `stdin` and these environment variables.
pub fn euid_env(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(euid_bin());
    cmd.args(args)
        .env_remove("EUID_SECRET")
        .env_remove("EUID_API_KEY")
        .env_remove("EUID_URL")
        .env_remove("EUID_STORE")
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn euid");
    let mut pipe = child.stdin.take().expect("stdin");
    // A command that does not read stdin may close it first: ignore EPIPE.
    let _ = pipe.write_all(stdin);
    drop(pipe);
    let out: Output = child.wait_with_output().expect("wait for euid");
    Run {
        code: out.status.code().expect("exit code (not a signal)"),
        stdout: String::from_utf8(out.stdout).expect("stdout UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr UTF-8"),
    }
}

/// A string field of a JSON value.
pub fn s<'a>(v: &'a serde_json::Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string in {v}"))
}
