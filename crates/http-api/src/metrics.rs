//! Prometheus metrics: requests by method, route pattern and status, and a latency
//! histogram, served as text at `GET /metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tariff_domain::webhooks::{QueueStats, WorkerReport};

/// Upper bounds of the latency buckets, in microseconds.
const BUCKETS_US: [u64; 10] = [
    250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 1_000_000,
];

/// Process-wide request metrics, shared by every worker.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    buckets: [AtomicU64; BUCKETS_US.len()],
    latency_sum_us: AtomicU64,
    latency_count: AtomicU64,
}

impl Metrics {
    /// Records one finished request; `route` is the matched pattern (`/api/plans/{id}`),
    /// never the raw path, so ids do not explode the label space.
    pub fn record(&self, method: &str, route: &str, status: u16, latency: Duration) {
        if let Ok(mut requests) = self.requests.lock() {
            *requests
                .entry((method.to_owned(), route.to_owned(), status))
                .or_insert(0) += 1;
        }
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        for (bound, bucket) in BUCKETS_US.iter().zip(&self.buckets) {
            if us <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_sum_us.fetch_add(us, Ordering::Relaxed);
        self.latency_count.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        out.push_str(
            "# HELP tariff_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE tariff_http_requests_total counter\n");
        if let Ok(requests) = self.requests.lock() {
            for ((method, route, status), count) in requests.iter() {
                let _ = writeln!(
                    out,
                    "tariff_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {count}",
                    route.replace('\\', "\\\\").replace('"', "\\\"")
                );
            }
        }
        out.push_str("# HELP tariff_http_request_duration_seconds Request latency.\n");
        out.push_str("# TYPE tariff_http_request_duration_seconds histogram\n");
        for (bound, bucket) in BUCKETS_US.iter().zip(&self.buckets) {
            let _ = writeln!(
                out,
                "tariff_http_request_duration_seconds_bucket{{le=\"{}\"}} {}",
                seconds_text(*bound),
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "tariff_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "tariff_http_request_duration_seconds_sum {}",
            seconds_text(self.latency_sum_us.load(Ordering::Relaxed))
        );
        let _ = writeln!(out, "tariff_http_request_duration_seconds_count {count}");
        if let Some(rss) = resident_bytes() {
            out.push_str("# HELP process_resident_memory_bytes Resident memory.\n");
            out.push_str("# TYPE process_resident_memory_bytes gauge\n");
            let _ = writeln!(out, "process_resident_memory_bytes {rss}");
        }
        out
    }
}

/// The webhook section: this instance's deliveries by outcome (counted by its worker
/// since it started), and the outbox's depth and oldest pending age (shared by every
/// instance; omitted when the database could not be read).
pub fn render_webhooks(
    report: Option<WorkerReport>,
    queue: Option<QueueStats>,
    now: DateTime<Utc>,
) -> String {
    let mut out = String::with_capacity(512);
    if let Some(report) = report {
        out.push_str(
            "# HELP tariff_webhook_deliveries_total Webhook attempts by outcome (this instance).\n",
        );
        out.push_str("# TYPE tariff_webhook_deliveries_total counter\n");
        for (outcome, count) in [
            ("delivered", report.delivered),
            ("retrying", report.retrying),
            ("failed", report.failed),
        ] {
            let _ = writeln!(
                out,
                "tariff_webhook_deliveries_total{{outcome=\"{outcome}\"}} {count}"
            );
        }
    }
    if let Some(queue) = queue {
        out.push_str("# HELP tariff_webhook_queue_depth Pending webhook deliveries.\n");
        out.push_str("# TYPE tariff_webhook_queue_depth gauge\n");
        let _ = writeln!(out, "tariff_webhook_queue_depth {}", queue.pending);
        out.push_str(
            "# HELP tariff_webhook_oldest_pending_age_seconds Age of the oldest pending webhook event.\n",
        );
        out.push_str("# TYPE tariff_webhook_oldest_pending_age_seconds gauge\n");
        let _ = writeln!(
            out,
            "tariff_webhook_oldest_pending_age_seconds {}",
            queue.oldest_pending_age(now).num_seconds()
        );
    }
    out
}

/// The payments section: recorded payments by status (shared by every instance;
/// omitted when the database could not be read) and the inbound gateway webhooks this
/// instance refused for their signature.
pub fn render_payments(
    counts: Option<Vec<(tariff_domain::payments::PaymentStatus, u64)>>,
    signature_failures: u64,
) -> String {
    let mut out = String::with_capacity(512);
    if let Some(counts) = counts {
        out.push_str("# HELP tariff_payments Recorded payments by status.\n");
        out.push_str("# TYPE tariff_payments gauge\n");
        for (status, count) in counts {
            let _ = writeln!(out, "tariff_payments{{status=\"{status}\"}} {count}");
        }
    }
    out.push_str(
        "# HELP tariff_payment_webhook_signature_failures_total Inbound payment webhooks refused for their signature (this instance).\n",
    );
    out.push_str("# TYPE tariff_payment_webhook_signature_failures_total counter\n");
    let _ = writeln!(
        out,
        "tariff_payment_webhook_signature_failures_total{{provider=\"stripe\"}} {signature_failures}"
    );
    out
}

/// Microseconds as decimal seconds text, without floats: 2500 → `0.0025`.
fn seconds_text(us: u64) -> String {
    let text = format!("{}.{:06}", us / 1_000_000, us % 1_000_000);
    let trimmed = text.trim_end_matches('0');
    trimmed
        .strip_suffix('.')
        .map_or_else(|| trimmed.to_owned(), |t| format!("{t}.0"))
}

fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    kb.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histogram() {
        let metrics = Metrics::default();
        metrics.record("GET", "/api/plans", 200, Duration::from_micros(300));
        metrics.record("GET", "/api/plans", 200, Duration::from_millis(3));
        let text = metrics.render();
        assert!(text.contains(
            "tariff_http_requests_total{method=\"GET\",route=\"/api/plans\",status=\"200\"} 2"
        ));
        assert!(text.contains("tariff_http_request_duration_seconds_bucket{le=\"0.0005\"} 1"));
        assert!(text.contains("tariff_http_request_duration_seconds_bucket{le=\"0.005\"} 2"));
        assert!(text.contains("tariff_http_request_duration_seconds_count 2"));
        assert_eq!(seconds_text(1_000_000), "1.0");
        assert_eq!(seconds_text(3_300), "0.0033");
    }
}
