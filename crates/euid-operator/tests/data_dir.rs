//! The data directory never loses what it holds: startup on a partial directory fails and
//! changes nothing, the demo client is optional, and everything created is owner-only
//! (directories 0700, files 0600, whatever the umask), with temporary files that never follow
//! a planted symlink. The real binary where the process matters, real files throughout.
#![cfg(unix)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use euid_operator::DataDir;
use euid_operator::{InitOptions, OperatorConfig, ServerOptions};
use euid_test_support::{http, TestServer};

/// Every entry under `root`: kind, mode and content (symlinks by target), for a
/// byte-for-byte comparison.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, (String, u32, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, (String, u32, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let mode = meta.permissions().mode() & 0o7777;
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                out.insert(
                    rel,
                    (
                        "link".into(),
                        0,
                        target.into_os_string().into_encoded_bytes(),
                    ),
                );
            } else if meta.is_dir() {
                out.insert(rel, ("dir".into(), mode, Vec::new()));
                walk(root, &path, out);
            } else {
                out.insert(rel, ("file".into(), mode, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let dest = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &dest);
        } else {
            std::fs::copy(&path, &dest).unwrap();
        }
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// A data directory as a first start leaves it, opt-out database included.
fn first_started_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut server = TestServer::start_in(dir.path(), OperatorConfig::default());
    server.stop();
    dir
}

/// `euid_operator::start` on `dir` in a runtime of its own: `Ok` if it started (then it is
/// stopped again), else the error's text.
fn start(dir: &Path, init: InitOptions) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let options = ServerOptions {
        data_dir: dir.to_path_buf(),
        listen: Some("127.0.0.1:0".to_owned()),
        init,
        ..ServerOptions::default()
    };
    match runtime.block_on(euid_operator::start(options)) {
        Ok(server) => {
            runtime.block_on(server.shutdown()).unwrap();
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}

/// The real `euid-operator` binary under umask 000, so nothing the umask would remove is
/// left to chance; stdout and stderr piped.
fn spawn_operator(args: &[&str]) -> Child {
    Command::new("sh")
        .arg("-c")
        .arg(r#"umask 000; exec "$0" "$@""#)
        .arg(env!("CARGO_BIN_EXE_euid-operator"))
        .args(args)
        .env_remove("EUID_DATA_DIR")
        .env_remove("EUID_LISTEN")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn euid-operator")
}

/// Waits for `child` to exit (killing it after 30 s) and returns its status and stderr.
fn wait_exit(mut child: Child) -> (Option<i32>, String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (status, stderr)
}

#[test]
fn startup_on_a_directory_missing_a_required_file_fails_naming_it_and_changes_nothing() {
    let base = first_started_dir();
    for missing in [
        "salts/metadata.json",
        "salts/salts.txt",
        "keyset_keys.json",
        "keysets.json",
        "clients.json",
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        copy_dir(base.path(), &dir);
        std::fs::remove_file(dir.join(missing)).unwrap();
        let before = snapshot(&dir);
        let message = start(&dir, InitOptions::default()).unwrap_err();
        assert!(
            message.contains(missing) && message.contains("nothing was created or changed"),
            "{missing}: {message}"
        );
        assert_eq!(snapshot(&dir), before, "{missing}: the directory changed");
    }
}

#[test]
fn the_binary_refuses_a_directory_that_lost_its_salts_and_keeps_it_intact() {
    let base = first_started_dir();
    std::fs::remove_file(base.path().join("salts/metadata.json")).unwrap();
    std::fs::remove_file(base.path().join("salts/salts.txt")).unwrap();
    let before = snapshot(base.path());
    let data = base.path().to_str().unwrap();
    let child = spawn_operator(&["--data-dir", data, "--listen", "127.0.0.1:0"]);
    let (code, stderr) = wait_exit(child);
    assert_eq!(code, Some(1), "stderr: {stderr}");
    assert!(
        stderr.contains("salts/metadata.json, salts/salts.txt"),
        "stderr: {stderr}"
    );
    assert_eq!(snapshot(base.path()), before);
}

#[test]
fn a_directory_with_only_unrelated_files_is_not_empty() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("notes.txt"), b"not a data directory").unwrap();
    let before = snapshot(tmp.path());
    let message = start(tmp.path(), InitOptions::default()).unwrap_err();
    for file in euid_store::REQUIRED_FILES {
        assert!(message.contains(file), "{message}");
    }
    assert_eq!(snapshot(tmp.path()), before);
}

#[test]
fn the_server_starts_on_clients_json_without_demo_client_json() {
    let tmp = first_started_dir();
    std::fs::remove_file(tmp.path().join("demo-client.json")).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime
        .block_on(euid_operator::start(ServerOptions {
            data_dir: tmp.path().to_path_buf(),
            listen: Some("127.0.0.1:0".to_owned()),
            ..ServerOptions::default()
        }))
        .expect("starts without demo-client.json");
    assert!(server.demo_client().is_none());
    // The clients of clients.json are served: the healthcheck sees them.
    let health = http(server.local_addr(), "GET", "/ops/healthcheck", &[], b"");
    assert_eq!(health.status, 200, "{}", health.text());
    assert!(!tmp.path().join("demo-client.json").exists());
    runtime.block_on(server.shutdown()).unwrap();
}

#[test]
fn no_demo_client_binary_makes_a_private_directory_without_one() {
    let tmp = tempfile::tempdir().unwrap();
    // Parents that do not exist yet: every directory created is 0700.
    let parent = tmp.path().join("new");
    let data = parent.join("euid-data");
    let mut child = spawn_operator(&[
        "--data-dir",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--no-demo-client",
    ]);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let Some(base) = line
        .trim()
        .strip_prefix("euid-operator is listening on http://")
    else {
        let _ = child.kill();
        panic!("no listening line: {line:?}: {:?}", wait_exit(child));
    };
    let addr = base.parse().unwrap();
    // Listening, and honest: no client yet.
    let health = http(addr, "GET", "/ops/healthcheck", &[], b"");
    assert_eq!(
        (health.status, health.text().as_str()),
        (503, "no API clients loaded")
    );
    // The server runs: optout.db's -wal and -shm files exist now.
    let entries = snapshot(&parent);
    let _ = child.kill();
    let _ = child.wait();

    assert!(!data.join("demo-client.json").exists());
    assert!(!data.join("client_side_keypairs.json").exists());
    let clients: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("clients.json")).unwrap()).unwrap();
    assert_eq!(clients, serde_json::json!([]));
    for name in [
        "euid-data/optout.db",
        "euid-data/optout.db-wal",
        "euid-data/optout.db-shm",
        "euid-data/keyset_keys.json",
        "euid-data/salts/salts.txt",
    ] {
        assert!(entries.contains_key(Path::new(name)), "{name}: {entries:?}");
    }
    assert_eq!(mode(&parent), 0o700);
    for (path, (kind, mode, _)) in &entries {
        let want = if kind == "dir" { 0o700 } else { 0o600 };
        assert_eq!(*mode, want, "{} ({kind}) has mode {mode:o}", path.display());
    }
}

#[test]
fn first_start_makes_every_file_and_directory_owner_only() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("euid-data");
    let server = TestServer::start_in(&data, OperatorConfig::default());
    let entries = snapshot(&data);
    drop(server);
    assert_eq!(mode(&data), 0o700);
    for name in [
        "optout.db",
        "optout.db-wal",
        "optout.db-shm",
        "demo-client.json",
        "client_side_keypairs.json",
        "clients.json",
        "salts",
    ] {
        assert!(entries.contains_key(Path::new(name)), "{name}: {entries:?}");
    }
    for (path, (kind, mode, _)) in &entries {
        let want = if kind == "dir" { 0o700 } else { 0o600 };
        assert_eq!(*mode, want, "{} ({kind}) has mode {mode:o}", path.display());
    }
}

#[test]
fn a_planted_symlink_at_the_temp_file_path_is_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let pid = std::process::id();
    // The names a write in this process tries first: a dangling symlink must not be created
    // through, an existing target must not be written through.
    let absent = tmp.path().join("absent");
    std::os::unix::fs::symlink(&absent, data.join(format!(".keysets.json.tmp-{pid}"))).unwrap();
    euid_operator::init_data_dir(&data, &InitOptions::default()).unwrap();
    assert!(!absent.exists(), "the dangling symlink was followed");
    assert!(std::fs::symlink_metadata(data.join("keysets.json"))
        .unwrap()
        .file_type()
        .is_file());

    let victim = tmp.path().join("victim");
    std::fs::write(&victim, b"untouched").unwrap();
    let planted = data.join(format!(".keyset_keys.json.tmp-{pid}"));
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    let rotated = euid_operator::rotate_keys(&data, &Default::default()).unwrap();
    assert!(!rotated.is_empty());
    assert_eq!(std::fs::read(&victim).unwrap(), b"untouched");
    let keys = data.join("keyset_keys.json");
    let meta = std::fs::symlink_metadata(&keys).unwrap();
    assert!(
        meta.file_type().is_file(),
        "keyset_keys.json is not a plain file"
    );
    assert_eq!(mode(&keys), 0o600);
    let stored: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&keys).unwrap()).unwrap();
    assert!(stored.len() > rotated.len());
    // What someone else put there is theirs: left in place, not followed.
    assert!(std::fs::symlink_metadata(&planted)
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn permissive_modes_of_an_existing_directory_are_reported_not_changed() {
    let tmp = first_started_dir();
    let set = |p: &Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    };
    set(tmp.path(), 0o755);
    set(&tmp.path().join("optout.db"), 0o644);
    let dir = DataDir::new(tmp.path());
    let warnings = dir.permission_warnings();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("mode 755"), "{warnings:?}");
    assert!(warnings[1].contains("optout.db") && warnings[1].contains("mode 644"));
    let mut server = TestServer::start_in(tmp.path(), OperatorConfig::default());
    server.stop();
    assert_eq!(mode(tmp.path()), 0o755);
    assert_eq!(mode(&tmp.path().join("optout.db")), 0o644);
}
