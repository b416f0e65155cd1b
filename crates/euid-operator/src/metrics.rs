//! Request counts and latency histograms by endpoint and HTTP status, in the Prometheus text
//! exposition format (written here: a dozen lines do not need a metrics framework).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Latency bucket upper bounds, seconds.
const BUCKETS: [f64; 12] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

#[derive(Default, Clone)]
struct Series {
    count: u64,
    sum_seconds: f64,
    buckets: [u64; BUCKETS.len()],
}

/// Counters for every (endpoint, status) pair seen.
#[derive(Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<(&'static str, u16), Series>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// Records one finished request.
    pub fn observe(&self, endpoint: &'static str, status: u16, latency: Duration) {
        let secs = latency.as_secs_f64();
        let Ok(mut map) = self.series.lock() else {
            return;
        };
        let s = map.entry((endpoint, status)).or_default();
        s.count += 1;
        s.sum_seconds += secs;
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            s.buckets[i] += 1;
        }
    }

    /// The Prometheus text exposition of every series.
    pub fn render(&self) -> String {
        let snapshot: Vec<_> = match self.series.lock() {
            Ok(map) => map.iter().map(|(k, v)| (*k, v.clone())).collect(),
            Err(_) => Vec::new(),
        };
        let mut out = String::new();
        out.push_str("# HELP euid_http_requests_total HTTP requests by endpoint and status.\n");
        out.push_str("# TYPE euid_http_requests_total counter\n");
        for ((endpoint, status), s) in &snapshot {
            let _ = writeln!(
                out,
                "euid_http_requests_total{{endpoint=\"{endpoint}\",status=\"{status}\"}} {}",
                s.count
            );
        }
        out.push_str(
            "# HELP euid_http_request_duration_seconds HTTP request latency by endpoint and status.\n",
        );
        out.push_str("# TYPE euid_http_request_duration_seconds histogram\n");
        for ((endpoint, status), s) in &snapshot {
            let labels = format!("endpoint=\"{endpoint}\",status=\"{status}\"");
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(s.buckets.iter()) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "euid_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "euid_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "euid_http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum_seconds
            );
            let _ = writeln!(
                out,
                "euid_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
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
}
