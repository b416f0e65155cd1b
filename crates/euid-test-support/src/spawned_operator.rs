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
    /// without the caller's `RUST_LOG` and `EUID_ACCESS_LOG`; waits for its address.
    pub fn spawn(
        bin: impl AsRef<OsStr>,
        data_dir: &Path,
        args: &[&str],
        envs: &[(&str, &str)],
    ) -> Self {
        let mut command = Command::new(bin);
        command
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(args)
            .env_remove("RUST_LOG")
            .env_remove("EUID_ACCESS_LOG")
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
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the binary prints its address");
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
        let mut log = Vec::new();
        for reader in self.readers {
            log.extend(reader.join().expect("reader thread"));
        }
        String::from_utf8_lossy(&log).into_owned()
    }
}
