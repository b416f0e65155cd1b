//! The access log: one line per request (endpoint, status, latency, site), formatted and
//! written by a thread of its own.
//!
//! A request only copies five small values into a bounded queue (no formatting, no write, no
//! lock held while writing); the log thread turns them into lines in the shape of the
//! operator's other log lines and writes them in batches. When the queue is full (the writer
//! cannot keep up, e.g. a blocked terminal) lines are dropped and counted rather than slowing
//! requests down. Lines can be sampled (one in N) or turned off (`--access-log`).
//!
//! Never bodies, keys, tokens or identities: only what [`AccessLog::record`] takes.

use std::fmt::Write as _;
use std::io::Write;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Requests that may wait in the queue before lines are dropped.
const QUEUE_CAPACITY: usize = 16 * 1024;

/// Which requests get an access line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AccessLogMode {
    /// None.
    #[default]
    Off,
    /// Every request.
    On,
    /// One request in N (the first, then every Nth), for busy operators.
    Sample(u32),
}

/// A `--access-log` value that is not `on`, `off` or `sample:N` (N ≥ 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("access log mode must be on, off or sample:N with N >= 1, not {0:?}")]
pub struct AccessLogModeError(String);

impl FromStr for AccessLogMode {
    type Err = AccessLogModeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "on" => Ok(Self::On),
            "off" => Ok(Self::Off),
            _ => match s.strip_prefix("sample:").map(str::parse::<u32>) {
                Some(Ok(1)) => Ok(Self::On),
                Some(Ok(n)) if n > 1 => Ok(Self::Sample(n)),
                _ => Err(AccessLogModeError(s.to_owned())),
            },
        }
    }
}

/// What the log thread is sent.
enum Msg {
    Line(Entry),
    /// Write everything before this, then answer.
    Flush(SyncSender<()>),
}

/// What one access line says.
#[derive(Clone, Copy, Debug)]
struct Entry {
    at: SystemTime,
    endpoint: &'static str,
    status: u16,
    latency_us: u64,
    site_id: Option<i32>,
}

/// The access log of one server. Dropping it writes what is queued and stops its thread.
pub struct AccessLog {
    sender: Option<SyncSender<Msg>>,
    every: u64,
    seen: AtomicU64,
    dropped: AtomicU64,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessLog")
            .field("enabled", &self.sender.is_some())
            .field("every", &self.every)
            .field("dropped", &self.dropped())
            .finish()
    }
}

impl AccessLog {
    /// An access log that writes nothing.
    pub fn off() -> Self {
        Self {
            sender: None,
            every: 1,
            seen: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            thread: Mutex::new(None),
        }
    }

    /// Starts the log thread writing lines to `out` in `mode`; `Off` starts nothing.
    pub fn start(mode: AccessLogMode, out: Box<dyn Write + Send>) -> std::io::Result<Self> {
        let every = match mode {
            AccessLogMode::Off => return Ok(Self::off()),
            AccessLogMode::On => 1,
            AccessLogMode::Sample(n) => u64::from(n.max(1)),
        };
        let (sender, receiver) = sync_channel(QUEUE_CAPACITY);
        let thread = std::thread::Builder::new()
            .name("euid-access-log".to_owned())
            .spawn(move || write_lines(&receiver, out))?;
        Ok(Self {
            sender: Some(sender),
            every,
            seen: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Records one request; never blocks and never formats.
    pub fn record(
        &self,
        endpoint: &'static str,
        status: u16,
        latency: Duration,
        site_id: Option<i32>,
    ) {
        let Some(sender) = &self.sender else {
            return;
        };
        if self.every > 1 && self.seen.fetch_add(1, Ordering::Relaxed) % self.every != 0 {
            return;
        }
        let entry = Entry {
            at: SystemTime::now(),
            endpoint,
            status,
            latency_us: u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
            site_id,
        };
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            sender.try_send(Msg::Line(entry))
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Lines dropped because the writer could not keep up.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Waits (at most `timeout`) until every line recorded so far is written: for a clean
    /// shutdown, where the process may exit before this log is dropped.
    pub fn flush(&self, timeout: Duration) {
        let Some(sender) = &self.sender else {
            return;
        };
        let (ack, done) = sync_channel(1);
        if sender.send(Msg::Flush(ack)).is_ok() {
            let _ = done.recv_timeout(timeout);
        }
    }

    /// Writes what is queued and stops the thread (also done on drop).
    pub fn finish(&mut self) {
        self.sender = None;
        let thread = self.thread.get_mut().map_or(None, Option::take);
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

impl Drop for AccessLog {
    fn drop(&mut self) {
        self.finish();
    }
}

/// How long the log thread sleeps between batches. It polls rather than blocking on the
/// queue: a blocked receiver must be woken by every `try_send` (a futex wake and a context
/// switch per request, measured at about a fifth of the binary's throughput on 2 cores),
/// while a sleeping one costs requests nothing.
const BATCH_INTERVAL: Duration = Duration::from_millis(20);

/// The log thread: every [`BATCH_INTERVAL`], formats everything queued and writes it at once;
/// ends when the log is dropped, after writing what is left.
fn write_lines(receiver: &Receiver<Msg>, mut out: Box<dyn Write + Send>) {
    let mut text = String::with_capacity(64 * 1024);
    let mut acks = Vec::new();
    loop {
        // Drain until the queue is empty, the log is dropped, or a batch is full.
        let state = loop {
            match receiver.try_recv() {
                Ok(Msg::Line(entry)) => format_line(&entry, &mut text),
                Ok(Msg::Flush(ack)) => acks.push(ack),
                Err(TryRecvError::Empty) => break TryRecvError::Empty,
                Err(TryRecvError::Disconnected) => break TryRecvError::Disconnected,
            }
            if text.len() >= 60 * 1024 {
                // More may be queued: write this batch and come straight back.
                break TryRecvError::Empty;
            }
        };
        let full = text.len() >= 60 * 1024;
        if !text.is_empty() {
            // A log that cannot be written is not worth stopping requests for.
            let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
            text.clear();
        }
        for ack in acks.drain(..) {
            let _ = ack.try_send(());
        }
        if state == TryRecvError::Disconnected {
            return;
        }
        if !full {
            std::thread::sleep(BATCH_INTERVAL);
        }
    }
}

/// One line, in the shape of the operator's other (tracing) log lines.
fn format_line(e: &Entry, out: &mut String) {
    push_rfc3339(e.at, out);
    let _ = write!(
        out,
        "  INFO euid_operator::access: request endpoint=\"{}\" status={} latency_us={}",
        e.endpoint, e.status, e.latency_us
    );
    if let Some(site) = e.site_id {
        let _ = write!(out, " site_id={site}");
    }
    out.push('\n');
}

/// `YYYY-MM-DDThh:mm:ss.ffffffZ` (UTC, microseconds), as tracing-subscriber writes it.
fn push_rfc3339(at: SystemTime, out: &mut String) {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        since.subsec_micros()
    );
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines(mode: AccessLogMode, requests: u32) -> Vec<String> {
        let out = Shared::default();
        let mut log = AccessLog::start(mode, Box::new(out.clone())).unwrap();
        for i in 0..requests {
            let site = (i % 2 == 0).then_some(999);
            log.record(
                "/v2/token/generate",
                200,
                Duration::from_micros(u64::from(i)),
                site,
            );
        }
        log.finish();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn every_request_gets_one_line_in_the_tracing_shape() {
        let got = lines(AccessLogMode::On, 3);
        assert_eq!(got.len(), 3);
        assert!(got[0].ends_with(
            "  INFO euid_operator::access: request endpoint=\"/v2/token/generate\" status=200 latency_us=0 site_id=999"
        ), "{}", got[0]);
        assert!(
            got[1].ends_with("latency_us=1"),
            "no site when there is none: {}",
            got[1]
        );
        let stamp = &got[0][..27];
        assert_eq!(stamp.len(), 27);
        assert!(stamp.starts_with("20") && stamp.ends_with('Z') && &stamp[10..11] == "T");
    }

    #[test]
    fn sampling_keeps_one_in_n_and_off_keeps_none() {
        assert_eq!(lines(AccessLogMode::Sample(10), 95).len(), 10);
        assert!(lines(AccessLogMode::Off, 50).is_empty());
    }

    #[test]
    fn modes_parse() {
        assert_eq!("on".parse(), Ok(AccessLogMode::On));
        assert_eq!("off".parse(), Ok(AccessLogMode::Off));
        assert_eq!("sample:1".parse(), Ok(AccessLogMode::On));
        assert_eq!("sample:100".parse(), Ok(AccessLogMode::Sample(100)));
        for bad in ["", "yes", "sample:", "sample:0", "sample:-1", "sample:x"] {
            assert!(bad.parse::<AccessLogMode>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_writer_that_blocks_drops_lines_instead_of_requests() {
        // A writer that never returns until released: the queue fills, then records are
        // counted as dropped, and `record` itself never waits.
        struct Stuck(Arc<Mutex<()>>);
        impl Write for Stuck {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                drop(self.0.lock().unwrap());
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let gate = Arc::new(Mutex::new(()));
        let held = gate.lock().unwrap();
        let mut log = AccessLog::start(AccessLogMode::On, Box::new(Stuck(gate.clone()))).unwrap();
        // The thread takes up to one batch (60 KiB of lines) before its write blocks.
        let n = QUEUE_CAPACITY as u64 + 5000;
        for _ in 0..n {
            log.record("/v2/token/generate", 200, Duration::ZERO, None);
        }
        let dropped = log.dropped();
        // Release the writer before asserting, so a failure cannot deadlock the join.
        drop(held);
        log.finish();
        assert!(dropped >= 4000, "dropped {dropped} of {n}");
    }

    #[test]
    fn dates_are_gregorian() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(20_786), (2026, 11, 29));
        let mut s = String::new();
        push_rfc3339(
            UNIX_EPOCH + Duration::from_micros(1_796_000_000_123_456),
            &mut s,
        );
        assert_eq!(s, "2026-11-30T00:53:20.123456Z");
    }
}
