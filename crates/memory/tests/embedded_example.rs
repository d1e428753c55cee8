//! The `embedded` example, run as a test: its walk-through must do what it prints.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../examples/embedded.rs"]
mod embedded;

use chrono::{Datelike, Utc};
use tariff_domain::quota::UsageOutcome;
use tariff_domain::Resource;

#[tokio::test]
async fn the_embedded_service_orders_pays_and_hits_the_limit() {
    let report = embedded::run().await.unwrap();
    // The first invoice of the year the example runs in.
    let year = Utc::now().year();
    assert_eq!(report.invoice_number, format!("INV-{year}-000001"));
    assert_eq!(report.servers_allowed, 2);
    assert_eq!(report.granted, vec![1, 2]);
    assert!(report.retry_replayed);
    assert_eq!(
        report.refusal,
        Some(UsageOutcome::Exceeded {
            resource: Resource::Servers,
            limit: 2,
            used: 2,
            requested: 1
        })
    );
    assert_eq!(report.lines.len(), 9, "{:#?}", report.lines);
    assert!(
        report.lines[2].contains("is pending"),
        "{}",
        report.lines[2]
    );
    assert!(report.lines[3].contains("is active"), "{}", report.lines[3]);
    assert!(
        report.lines[8].starts_with("refused a third server"),
        "{}",
        report.lines[8]
    );
}
