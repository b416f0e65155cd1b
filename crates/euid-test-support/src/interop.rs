//! The interop tools `scripts/test-setup.sh` installs, and the one rule for when they are
//! missing: fail, naming the set-up script; outside CI, `EUID_SKIP_INTEROP=1` makes it a
//! skip with a notice; under `CI` nothing skips.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::repo_root;

/// The Python of the interop venv (the official SDK `uid2-client`): `EUID_TEST_PYTHON`, else
/// `target/interop-venv/bin/python` in the repository.
///
/// `None` (after a notice on stderr) when it is missing and the suite may be skipped; the
/// caller returns early. Panics when it is missing and may not be skipped.
pub fn interop_python(suite: &str) -> Option<PathBuf> {
    let path = std::env::var_os("EUID_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/interop-venv/bin/python"));
    if path.exists() {
        return Some(path);
    }
    missing(
        suite,
        &format!("the interop venv's Python is missing at {}", path.display()),
    );
    None
}

/// The directory of the JS tests (`EUID_TEST_JS_DIR`, else `tests/js`) when `node` runs and
/// IAB's TCF library (`@iabtechlabtcf/core`) is installed there.
///
/// `None` (after a notice on stderr) when either is missing and the suite may be skipped;
/// panics when it may not.
pub fn iab_tcf_js_dir(suite: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("EUID_TEST_JS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("tests/js"));
    let package = dir.join("node_modules/@iabtechlabtcf/core");
    if !package.is_dir() {
        missing(
            suite,
            &format!(
                "{} is not installed (npm ci in tests/js)",
                package.display()
            ),
        );
        return None;
    }
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match node {
        Ok(status) if status.success() => Some(dir),
        Ok(status) => {
            missing(suite, &format!("`node --version` exited with {status}"));
            None
        }
        Err(e) => {
            missing(suite, &format!("cannot run node ({e}): is it on PATH?"));
            None
        }
    }
}

/// Fails the test, or prints the notice and returns when skipping is allowed.
fn missing(suite: &str, why: &str) {
    missing_with(suite, why, "Run scripts/test-setup.sh");
}

/// [`missing`] with the set-up step to name (`remedy`), for tools other than the interop
/// venv (the PostgreSQL cluster).
pub(crate) fn missing_with(suite: &str, why: &str, remedy: &str) {
    match decide(
        suite,
        why,
        remedy,
        std::env::var_os("CI"),
        std::env::var_os("EUID_SKIP_INTEROP"),
    ) {
        Ok(notice) => eprintln!("{notice}"),
        Err(failure) => panic!("{failure}"),
    }
}

/// The rule, from the two variables: `Ok(notice)` to skip, `Err(message)` to fail.
fn decide(
    suite: &str,
    why: &str,
    remedy: &str,
    ci: Option<OsString>,
    skip: Option<OsString>,
) -> Result<String, String> {
    let cannot = format!("{suite} cannot run: {why}. {remedy}");
    if ci.is_some() {
        return Err(format!("{cannot}; CI must not skip it."));
    }
    if skip.as_deref() != Some("1".as_ref()) {
        return Err(format!(
            "{cannot}, or set EUID_SKIP_INTEROP=1 to skip it outside CI."
        ));
    }
    Ok(format!(
        "NOTICE: EUID_SKIP_INTEROP=1, skipping {suite}: {why}"
    ))
}

/// Runs an interop script (`tests/interop/*.py`) with `python`: `script COMMAND`, `request` as
/// JSON on stdin, one JSON value back on stdout. Panics, with the script's stderr, when it
/// fails or prints something else.
pub fn run_interop_script(
    python: &std::path::Path,
    script: &std::path::Path,
    command: &str,
    request: &serde_json::Value,
) -> serde_json::Value {
    use std::io::Write as _;
    let mut child = Command::new(python)
        .arg(script)
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the interop Python");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = request.to_string();
    // Written from a thread: the script may fill its stdout pipe before reading all of stdin.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("the interop Python runs");
    writer
        .join()
        .expect("writer")
        .expect("write to the interop Python");
    let name = script.file_name().unwrap_or_default().to_string_lossy();
    assert!(
        out.status.success(),
        "{name} {command} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{name} {command} printed no JSON value: {e}"))
}

#[cfg(test)]
mod tests {
    use super::decide;

    fn run(ci: Option<&str>, skip: Option<&str>) -> Result<String, String> {
        decide(
            "the suite",
            "no tool",
            "Run scripts/test-setup.sh",
            ci.map(Into::into),
            skip.map(Into::into),
        )
    }

    #[test]
    fn a_missing_tool_fails_naming_the_set_up_script() {
        let failure = run(None, None).unwrap_err();
        assert!(failure.contains("scripts/test-setup.sh"), "{failure}");
        assert!(failure.contains("EUID_SKIP_INTEROP=1"), "{failure}");
        assert!(failure.contains("no tool"), "{failure}");
    }

    #[test]
    fn only_skip_interop_1_outside_ci_skips() {
        let notice = run(None, Some("1")).unwrap();
        assert!(notice.starts_with("NOTICE: "), "{notice}");
        assert!(notice.contains("the suite") && notice.contains("no tool"));
        for other in ["", "0", "yes", "true"] {
            assert!(
                run(None, Some(other)).is_err(),
                "EUID_SKIP_INTEROP={other:?}"
            );
        }
    }

    #[test]
    fn under_ci_nothing_skips() {
        for skip in [None, Some("1")] {
            let failure = run(Some("true"), skip).unwrap_err();
            assert!(failure.contains("CI must not skip it"), "{failure}");
            assert!(failure.contains("scripts/test-setup.sh"), "{failure}");
        }
    }
}
