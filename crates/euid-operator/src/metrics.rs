//! Request counts and latency histograms by endpoint and HTTP status, in the Prometheus text
//! exposition format (written here: a dozen lines do not need a metrics framework).
//!
//! Every series is a fixed set of atomic counters, allocated up front for each endpoint and
//! status the operator answers: recording a request takes no lock, so requests on different
//! workers never wait for each other here.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::route::Endpoint;

/// Latency bucket upper bounds, seconds.
const BUCKETS: [f64; 12] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

/// The statuses with a series of their own; any other is counted as `status="other"`.
const STATUSES: [u16; 12] = [200, 400, 401, 403, 404, 405, 408, 413, 415, 429, 500, 503];

/// The endpoints with series of their own; any other is counted as `endpoint="other"`.
const ENDPOINTS: [&str; Endpoint::ALL.len()] = {
    let mut paths = [""; Endpoint::ALL.len()];
    let mut i = 0;
    while i < Endpoint::ALL.len() {
        paths[i] = Endpoint::ALL[i].path();
        i += 1;
    }
    paths
};

#[derive(Default)]
struct Series {
    count: AtomicU64,
    sum_nanos: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
}

/// Counters for every (endpoint, status) pair.
pub struct Metrics {
    /// `(ENDPOINTS.len() + 1) × (STATUSES.len() + 1)` series, the last of each being "other".
    series: Box<[Series]>,
}

impl Default for Metrics {
    fn default() -> Self {
        let n = (ENDPOINTS.len() + 1) * (STATUSES.len() + 1);
        Self {
            series: (0..n).map(|_| Series::default()).collect(),
        }
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn endpoint_label(i: usize) -> &'static str {
    ENDPOINTS.get(i).copied().unwrap_or("other")
}

fn status_label(i: usize) -> String {
    STATUSES
        .get(i)
        .map_or_else(|| "other".to_owned(), u16::to_string)
}

impl Metrics {
    fn series(&self, endpoint: &str, status: u16) -> Option<&Series> {
        let e = ENDPOINTS
            .iter()
            .position(|p| *p == endpoint)
            .unwrap_or(ENDPOINTS.len());
        let s = STATUSES
            .iter()
            .position(|c| *c == status)
            .unwrap_or(STATUSES.len());
        self.series.get(e * (STATUSES.len() + 1) + s)
    }

    /// Records one finished request.
    pub fn observe(&self, endpoint: &'static str, status: u16, latency: Duration) {
        let Some(s) = self.series(endpoint, status) else {
            return;
        };
        let secs = latency.as_secs_f64();
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        s.count.fetch_add(1, Ordering::Relaxed);
        s.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            s.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The Prometheus text exposition of every series that counted a request.
    pub fn render(&self) -> String {
        let seen: Vec<(String, u64, f64, [u64; BUCKETS.len()])> = self
            .series
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let count = s.count.load(Ordering::Relaxed);
                if count == 0 {
                    return None;
                }
                let labels = format!(
                    "endpoint=\"{}\",status=\"{}\"",
                    endpoint_label(i / (STATUSES.len() + 1)),
                    status_label(i % (STATUSES.len() + 1))
                );
                let sum = Duration::from_nanos(s.sum_nanos.load(Ordering::Relaxed)).as_secs_f64();
                let buckets = std::array::from_fn(|b| s.buckets[b].load(Ordering::Relaxed));
                Some((labels, count, sum, buckets))
            })
            .collect();
        let mut out = String::new();
        out.push_str("# HELP euid_http_requests_total HTTP requests by endpoint and status.\n");
        out.push_str("# TYPE euid_http_requests_total counter\n");
        for (labels, count, _, _) in &seen {
            let _ = writeln!(out, "euid_http_requests_total{{{labels}}} {count}");
        }
        out.push_str(
            "# HELP euid_http_request_duration_seconds HTTP request latency by endpoint and status.\n",
        );
        out.push_str("# TYPE euid_http_request_duration_seconds histogram\n");
        for (labels, count, sum, buckets) in &seen {
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(buckets.iter()) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "euid_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            // Counters are read one by one: never show fewer in +Inf than in a bucket.
            let _ = writeln!(
                out,
                "euid_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                (*count).max(cumulative)
            );
            let _ = writeln!(
                out,
                "euid_http_request_duration_seconds_sum{{{labels}}} {sum}"
            );
            let _ = writeln!(
                out,
                "euid_http_request_duration_seconds_count{{{labels}}} {count}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_cumulative_buckets() {
        let m = Metrics::default();
        m.observe("/v2/token/generate", 200, Duration::from_micros(50));
        m.observe("/v2/token/generate", 200, Duration::from_millis(3));
        m.observe("/v2/token/generate", 400, Duration::from_secs(5));
        let text = m.render();
        assert!(text.contains(
            "euid_http_requests_total{endpoint=\"/v2/token/generate\",status=\"200\"} 2\n"
        ));
        assert!(text.contains(
            "euid_http_requests_total{endpoint=\"/v2/token/generate\",status=\"400\"} 1\n"
        ));
        assert!(text.contains("status=\"200\",le=\"0.0001\"} 1\n"));
        assert!(text.contains("status=\"200\",le=\"0.005\"} 2\n"));
        assert!(text.contains("status=\"400\",le=\"2.5\"} 0\n"));
        assert!(text.contains("status=\"400\",le=\"+Inf\"} 1\n"));
    }

    #[test]
    fn unknown_endpoints_and_statuses_are_counted_as_other() {
        let m = Metrics::default();
        m.observe("/v2/token/client-generate", 403, Duration::from_millis(1));
        m.observe("/elsewhere", 200, Duration::from_millis(1));
        m.observe("/v2/identity/map", 418, Duration::from_millis(1));
        let text = m.render();
        for line in [
            "euid_http_requests_total{endpoint=\"/v2/token/client-generate\",status=\"403\"} 1\n",
            "euid_http_requests_total{endpoint=\"other\",status=\"200\"} 1\n",
            "euid_http_requests_total{endpoint=\"/v2/identity/map\",status=\"other\"} 1\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        assert_eq!(text.matches("euid_http_requests_total{").count(), 3);
    }

    #[test]
    fn concurrent_observations_are_all_counted() {
        let m = Metrics::default();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..10_000 {
                        m.observe("/v2/token/generate", 200, Duration::from_micros(200));
                    }
                });
            }
        });
        let text = m.render();
        assert!(text.contains(
            "euid_http_requests_total{endpoint=\"/v2/token/generate\",status=\"200\"} 40000\n"
        ));
        assert!(text.contains("status=\"200\",le=\"0.00025\"} 40000\n"));
    }
}
