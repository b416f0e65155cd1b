//! The repository's shared test vectors (`testdata/`).

use std::path::{Path, PathBuf};

/// The repository root: this crate lives at `crates/euid-test-support`.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `testdata/NAME` in the repository.
pub fn testdata_path(name: &str) -> PathBuf {
    repo_root().join("testdata").join(name)
}

/// `testdata/NAME`, parsed as JSON.
pub fn testdata(name: &str) -> serde_json::Value {
    let path = testdata_path(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}
