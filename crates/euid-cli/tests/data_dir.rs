//! `euid init` and `euid keys rotate` on real directories with the built binary: owner-only
//! modes whatever the umask, an optional demo client, and an init that fills gaps without
//! ever overwriting or silently replacing lost salts.
#![cfg(unix)]

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{euid, euid_bin, Run};

/// `euid ARGS` under umask 000, so the modes cannot come from the umask.
fn euid_umask0(args: &[&str]) -> Run {
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"umask 000; exec "$0" "$@""#)
        .arg(euid_bin())
        .args(args)
        .output()
        .expect("spawn euid");
    Run {
        code: out.status.code().expect("exit code"),
        stdout: String::from_utf8(out.stdout).expect("UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("UTF-8"),
    }
}

/// Every entry under `root` with its mode and content (directories: empty).
fn snapshot(root: &Path) -> BTreeMap<PathBuf, (bool, u32, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, (bool, u32, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            let mode = meta.permissions().mode() & 0o7777;
            let rel = path.strip_prefix(root).expect("prefix").to_path_buf();
            if meta.is_dir() {
                out.insert(rel, (true, mode, Vec::new()));
                walk(root, &path, out);
            } else {
                out.insert(rel, (false, mode, std::fs::read(&path).expect("read")));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

#[track_caller]
fn assert_owner_only(root: &Path) {
    assert_eq!(
        std::fs::metadata(root).expect("root").permissions().mode() & 0o7777,
        0o700
    );
    for (path, (is_dir, mode, _)) in snapshot(root) {
        let want = if is_dir { 0o700 } else { 0o600 };
        assert_eq!(mode, want, "{} has mode {mode:o}", path.display());
    }
}

#[test]
fn init_and_rotate_write_owner_only_files_whatever_the_umask() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("a").join("data");
    let data_s = data.to_str().expect("path");
    let init = euid_umask0(&["init", data_s]).json();
    assert_eq!(init["site_id"], 999);
    assert!(data.join("demo-client.json").exists());
    assert!(data.join("client_side_keypairs.json").exists());
    assert_owner_only(&tmp.path().join("a"));

    let rotated = euid_umask0(&["keys", "rotate", data_s]).json();
    assert!(!rotated["rotated"].as_array().expect("rotated").is_empty());
    assert_owner_only(&tmp.path().join("a"));
}

#[test]
fn init_no_demo_client_makes_a_directory_without_one() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    let data_s = data.to_str().expect("path");
    let init = euid_umask0(&["init", "--no-demo-client", data_s]).json();
    assert!(init.get("demo_client_file").is_none(), "{init}");
    assert!(init.get("site_id").is_none(), "{init}");
    assert!(!data.join("demo-client.json").exists());
    assert!(!data.join("client_side_keypairs.json").exists());
    let clients: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("clients.json")).expect("clients"))
            .expect("json");
    assert_eq!(clients, serde_json::json!([]));
    // No keyset for a demo site that does not exist.
    let keysets: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(data.join("keysets.json")).expect("keysets"))
            .expect("json");
    assert!(keysets.iter().all(|k| k["site_id"] != 999), "{keysets:?}");
    assert_owner_only(&data);
    // Again: nothing to create.
    let again = euid(&["init", "--no-demo-client", data_s], b"").json();
    assert_eq!(again["created"], serde_json::json!([]));
}

#[test]
fn init_refuses_new_salts_next_to_optout_db_unless_asked() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    let data_s = data.to_str().expect("path");
    euid(&["init", data_s], b"").json();
    // Opt-outs recorded under the salts that are about to be lost.
    drop(euid_operator::SqliteOptOutStore::open(&data.join("optout.db")).expect("optout db"));
    std::fs::remove_file(data.join("salts/metadata.json")).expect("rm");
    std::fs::remove_file(data.join("salts/salts.txt")).expect("rm");
    let before = snapshot(&data);
    euid(&["init", data_s], b"").assert_error(1, "--allow-new-salts", &[]);
    assert_eq!(
        snapshot(&data),
        before,
        "a refused init changed the directory"
    );

    let keys = std::fs::read(data.join("keyset_keys.json")).expect("keys");
    let init = euid(&["init", "--allow-new-salts", data_s], b"").json();
    assert_eq!(
        init["created"],
        serde_json::json!(["salts/salts.txt", "salts/metadata.json"])
    );
    assert_eq!(
        std::fs::read(data.join("keyset_keys.json")).expect("keys"),
        keys
    );
}

#[test]
fn init_fills_gaps_but_never_replaces_half_of_a_pair() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    let data_s = data.to_str().expect("path");
    euid(&["init", data_s], b"").json();
    std::fs::remove_file(data.join("keyset_keys.json")).expect("rm");
    let before = snapshot(&data);
    euid(&["init", data_s], b"").assert_error(1, "keyset_keys.json", &[]);
    assert_eq!(snapshot(&data), before);

    // A gap that can be filled without touching anything else: clients.json and the demo
    // client, when both are gone.
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    let data_s = data.to_str().expect("path");
    euid(&["init", data_s], b"").json();
    std::fs::remove_file(data.join("clients.json")).expect("rm");
    let demo = std::fs::read(data.join("demo-client.json")).expect("demo");
    euid(&["init", data_s], b"").assert_error(1, "demo-client.json", &[]);
    assert_eq!(
        std::fs::read(data.join("demo-client.json")).expect("demo"),
        demo
    );
    std::fs::remove_file(data.join("demo-client.json")).expect("rm");
    let keys = std::fs::read(data.join("keyset_keys.json")).expect("keys");
    let init = euid(&["init", data_s], b"").json();
    assert_eq!(
        init["created"],
        serde_json::json!(["clients.json", "demo-client.json"])
    );
    assert_eq!(
        std::fs::read(data.join("keyset_keys.json")).expect("keys"),
        keys
    );
}
