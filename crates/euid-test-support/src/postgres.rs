//! The PostgreSQL server the storage tests run against: the throw-away cluster that
//! `scripts/pg-cluster.sh start DIR` starts (scripts/test.sh does it and exports
//! `EUID_TEST_POSTGRES_URL`), with the interop suites' rule for when it is missing, and
//! [`PrivateCluster`] for a test that needs a server of its own.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::interop::missing_with;
use crate::testdata::repo_root;

/// The URL of the test cluster (`EUID_TEST_POSTGRES_URL`: role `euid`, CREATEDB, so a test
/// can create a database of its own).
///
/// `None` (after a notice on stderr) when it is unset and the suite may be skipped
/// (`EUID_SKIP_INTEROP=1` outside CI); panics when it may not.
pub fn postgres_url(suite: &str) -> Option<String> {
    match std::env::var("EUID_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            missing_with(
                suite,
                "EUID_TEST_POSTGRES_URL is not set",
                "Start a cluster with `scripts/pg-cluster.sh start DIR` and export the URL it \
                 prints as EUID_TEST_POSTGRES_URL",
            );
            None
        }
    }
}

/// A cluster of a test's own (`scripts/pg-cluster.sh start DIR`), for tests that stop,
/// restart, pause or reconfigure their server: the shared cluster belongs to the others.
/// Dropping it stops the server and removes DIR.
#[derive(Debug)]
pub struct PrivateCluster {
    dir: PathBuf,
    url: String,
    extra_options: String,
}

impl PrivateCluster {
    /// Starts a fresh cluster in `dir` (which must not exist yet); panics when it cannot.
    pub fn start(dir: &Path) -> Self {
        let out = Command::new("bash")
            .arg(repo_root().join("scripts/pg-cluster.sh"))
            .arg("start")
            .arg(dir)
            .output()
            .expect("pg-cluster.sh runs");
        assert!(
            out.status.success(),
            "pg-cluster.sh start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        Self {
            dir: dir.to_path_buf(),
            url,
            extra_options: String::new(),
        }
    }

    /// `postgres://euid:euid-test@127.0.0.1:PORT/euid`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        let (_, rest) = self.url.rsplit_once(':').expect("a port in the URL");
        rest.split('/')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a numeric port")
    }

    /// The cluster's data directory (owned by `postgres` when the tests run as root).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Stops the server (`pg_ctl stop -m fast`), waiting until it is down.
    pub fn stop_server(&self) {
        self.pg_ctl(&["-m", "fast", "-w", "stop"]);
    }

    /// Starts the server again on the same port, with the options of
    /// [`PrivateCluster::restart_with`] if it was given any.
    pub fn start_server(&self) {
        let log = self.dir.join("server.log");
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c max_connections=200 {}",
            self.port(),
            self.dir.display(),
            self.extra_options
        );
        self.pg_ctl(&[
            "-l",
            log.to_str().expect("a UTF-8 path"),
            "-w",
            "-t",
            "60",
            "-o",
            options.trim(),
            "start",
        ]);
    }

    /// Stops the server, writes `files` (name, contents; mode 0600, owned by the server's
    /// user) into the data directory, and starts it with `options` added (`-c ssl=on`).
    pub fn restart_with(&mut self, files: &[(&str, &[u8])], options: &str) {
        self.stop_server();
        let data = self.data_dir();
        for (name, contents) in files {
            let path = data.join(name);
            std::fs::write(&path, contents).expect("write into the data directory");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .expect("chmod 0600");
            if running_as_root() {
                let status = Command::new("chown")
                    .arg("postgres:")
                    .arg(&path)
                    .status()
                    .expect("chown runs");
                assert!(status.success(), "chown postgres {}", path.display());
            }
        }
        options.clone_into(&mut self.extra_options);
        self.start_server();
    }

    /// Freezes every process of the server (`SIGSTOP` to the postmaster and its children):
    /// connections stay open and the kernel still acknowledges what is sent, but nothing is
    /// answered, which is how a hung database host looks to a client. The returned guard
    /// resumes it (`SIGCONT`) when dropped, so a failing test never leaves it frozen.
    pub fn freeze(&self) -> Frozen {
        let pids = self.server_pids();
        assert!(signal(&pids, "STOP"), "kill -STOP {pids:?}");
        Frozen { pids }
    }

    /// The postmaster's pid and its children's.
    fn server_pids(&self) -> Vec<String> {
        let pidfile = std::fs::read_to_string(self.data_dir().join("postmaster.pid"))
            .expect("postmaster.pid of a running server");
        let postmaster = pidfile
            .lines()
            .next()
            .expect("a pid line")
            .trim()
            .to_owned();
        let out = Command::new("pgrep")
            .args(["-P", &postmaster])
            .output()
            .expect("pgrep runs");
        let mut pids = vec![postmaster];
        pids.extend(
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(str::to_owned),
        );
        pids
    }

    /// `pg_ctl ARGS` on the cluster's data directory, as the `postgres` user when root.
    fn pg_ctl(&self, args: &[&str]) {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("Debian's PostgreSQL")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin/pg_ctl")))
            .filter(|p| p.exists())
            .max()
            .expect("pg_ctl");
        let mut command = if running_as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        let out = command
            .arg("-D")
            .arg(self.data_dir())
            .args(args)
            .output()
            .expect("pg_ctl runs");
        assert!(
            out.status.success(),
            "pg_ctl {args:?}: {}{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
        );
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(repo_root().join("scripts/pg-cluster.sh"))
            .arg("stop")
            .arg(&self.dir)
            .output();
    }
}

/// A frozen server ([`PrivateCluster::freeze`]); dropping it resumes the server.
#[derive(Debug)]
#[must_use = "the server resumes when this guard is dropped"]
pub struct Frozen {
    pids: Vec<String>,
}

impl Drop for Frozen {
    fn drop(&mut self) {
        // No assertion here: a drop during a failing test's unwinding must not panic.
        let _ = signal(&self.pids, "CONT");
    }
}

/// `kill -NAME PIDS`; whether it succeeded.
fn signal(pids: &[String], name: &str) -> bool {
    Command::new("kill")
        .arg(format!("-{name}"))
        .args(pids)
        .status()
        .is_ok_and(|s| s.success())
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout == b"0\n")
}
