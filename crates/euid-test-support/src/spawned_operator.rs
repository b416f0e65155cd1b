//! The built `euid-operator` binary, started as a child process on `127.0.0.1:0`.

use std::ffi::OsStr;
use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const LISTENING: &str = "euid-operator is listening on http://";

/// The real `euid-operator` binary on 127.0.0.1:0, its stdout and stderr captured in full.
pub struct SpawnedOperator {
    /// The child process.
    pub child: Child,
    /// Where it listens (from the line it prints at start).
    pub addr: SocketAddr,
    readers: Vec<JoinHandle<Vec<u8>>>,
}

impl SpawnedOperator {
    /// Starts the binary `bin` (the test's `env!("CARGO_BIN_EXE_euid-operator")`: only the
    /// crate that owns a binary knows its path) on `data_dir` with `args` and `envs` added,
    /// without the caller's `RUST_LOG`, `EUID_ACCESS_LOG` and `EUID_STORE`; waits for its
    /// address.
    pub fn spawn(
        bin: impl AsRef<OsStr>,
        data_dir: &Path,
        args: &[&str],
        envs: &[(&str, &str)],
    ) -> Self {
        let mut command = Command::new(bin);
        command.arg("--data-dir").arg(data_dir);
        Self::spawn_command(command, args, envs)
    }

    /// Starts the binary `bin` on the shared store `store_url` (`--store`, e.g. a
    /// PostgreSQL URL; no `--data-dir`) with `args` and `envs` added, as
    /// [`SpawnedOperator::spawn`] does otherwise.
    pub fn spawn_on_store(
        bin: impl AsRef<OsStr>,
        store_url: &str,
        args: &[&str],
        envs: &[(&str, &str)],
    ) -> Self {
        let mut command = Command::new(bin);
        command.args(["--store", store_url]);
        Self::spawn_command(command, args, envs)
    }

    fn spawn_command(mut command: Command, args: &[&str], envs: &[(&str, &str)]) -> Self {
        command
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("RUST_LOG")
            .env_remove("EUID_ACCESS_LOG")
            .env_remove("EUID_STORE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("spawn euid-operator");
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let mut stdout = child.stdout.take().expect("stdout");
        let stdout_reader = std::thread::spawn(move || {
            let mut all = Vec::new();
            let mut buf = [0u8; 4096];
            let mut announced = false;
            loop {
                match stdout.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => all.extend_from_slice(&buf[..n]),
                }
                if !announced {
                    let text = String::from_utf8_lossy(&all);
                    if let Some(line) = text.lines().find(|l| l.starts_with(LISTENING)) {
                        announced = true;
                        let _ = tx.send(line.to_owned());
                    }
                }
            }
            all
        });
        let mut stderr = child.stderr.take().expect("stderr");
        let stderr_reader = std::thread::spawn(move || {
            let mut all = Vec::new();
            let _ = stderr.read_to_end(&mut all);
            all
        });
        let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) else {
            // Exited (or hung) before listening: say what it wrote.
            let _ = child.kill();
            let _ = child.wait();
            let out = stdout_reader.join().unwrap_or_default();
            let err = stderr_reader.join().unwrap_or_default();
            panic!(
                "the binary did not print its address:\n{}{}",
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&err)
            );
        };
        let addr = line
            .trim_start_matches(LISTENING)
            .trim()
            .parse()
            .expect("address");
        Self {
            child,
            addr,
            readers: vec![stdout_reader, stderr_reader],
        }
    }

    /// SIGTERM (a graceful stop), then everything the process wrote; panics unless it exits
    /// successfully within 30 s.
    pub fn stop(mut self) -> String {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        let exit = loop {
            if let Some(exit) = self.child.try_wait().expect("wait") {
                break exit;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the operator did not stop on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(exit.success(), "exit status {exit:?}");
        self.output()
    }

    /// `kill -9` (no shutdown of any kind), then everything the process wrote.
    pub fn kill(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.output()
    }

    fn output(&mut self) -> String {
        let mut log = Vec::new();
        for reader in std::mem::take(&mut self.readers) {
            log.extend(reader.join().expect("reader thread"));
        }
        String::from_utf8_lossy(&log).into_owned()
    }
}

impl Drop for SpawnedOperator {
    /// A test that panics must not leave its operator running (a no-op once it was waited for).
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
