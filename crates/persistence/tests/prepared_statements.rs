//! The hot writes of an activation are prepared once per connection and then only run:
//! diesel reports each statement it puts in a connection's prepared-statement cache, and
//! a statement it parses again on every run is never put there. Its own test binary,
//! because diesel's instrumentation hook is process-wide.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::sync::Mutex;

use chrono::{DateTime, TimeZone, Utc};
use diesel::connection::{set_default_instrumentation, Instrumentation, InstrumentationEvent};
use tariff_domain::catalogue::PlanRepository;
use tariff_domain::orders::{
    Activation, InvoiceNumberFormat, NewOrder, OrderActivation, SellerDetails,
};
use tariff_domain::{AccountRef, PlanDraft, PlanSpec, TaxRate, UserId};
use tariff_persistence::testing::{seed_user, TestDatabase};
use tariff_persistence::{
    Backend, Database, DieselOrderRepository, DieselPlanRepository, PoolOptions,
};

/// What diesel reported: a statement run, or a statement prepared into a cache.
#[derive(Debug, Clone)]
enum Event {
    Ran(String),
    Prepared(String),
}

static EVENTS: Mutex<Vec<Event>> = Mutex::new(Vec::new());

struct Recorder;

impl Instrumentation for Recorder {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        let event = match event {
            InstrumentationEvent::StartQuery { query, .. } => {
                let text = query.to_string();
                // The debug text ends with the binds; the SQL is what comes before.
                let sql = text.split(" -- binds:").next().unwrap_or_default();
                Event::Ran(sql.to_owned())
            }
            InstrumentationEvent::CacheQuery { sql, .. } => Event::Prepared(sql.to_owned()),
            _ => return,
        };
        EVENTS.lock().unwrap().push(event);
    }
}

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 10, 0, 0).unwrap()
}

fn terms() -> Activation {
    Activation {
        activated_at: at(2026, 5, 1),
        expires_at: at(2026, 6, 1),
        payment_reference: None,
        seller: SellerDetails {
            company_name: "Seller Co".into(),
            issued_from_name: "Seller Billing".into(),
            issued_from_address: "1 Main St".into(),
            logo_path: None,
        },
        numbering: InvoiceNumberFormat::default(),
    }
}

/// How often statements starting with `prefix` ran, and were prepared.
fn counts(events: &[Event], prefix: &str) -> (usize, usize) {
    let ran = events
        .iter()
        .filter(|e| matches!(e, Event::Ran(sql) if sql.starts_with(prefix)))
        .count();
    let prepared = events
        .iter()
        .filter(|e| matches!(e, Event::Prepared(sql) if sql.starts_with(prefix)))
        .count();
    (ran, prepared)
}

#[tokio::test]
async fn activation_statements_are_prepared_once_per_connection() {
    set_default_instrumentation(|| Some(Box::new(Recorder))).unwrap();
    const ACTIVATIONS: usize = 12;
    let options = PoolOptions {
        max_connections: 2,
        ..PoolOptions::default()
    };
    for test_db in TestDatabase::all() {
        let db = Database::connect(test_db.url(), &options).unwrap();
        db.migrate().await.unwrap();
        let pro = DieselPlanRepository::new(db.clone())
            .create(
                PlanSpec::new(PlanDraft {
                    name: "Pro".into(),
                    price: "9.99".into(),
                    ..PlanDraft::default()
                })
                .unwrap(),
                None,
            )
            .await
            .unwrap();
        let repo = DieselOrderRepository::new(db.clone());
        let mut users = Vec::new();
        for n in 0..ACTIVATIONS {
            users.push(
                UserId::new(
                    seed_user(&db, &format!("u{n}@example.com"), "user")
                        .await
                        .id,
                )
                .unwrap(),
            );
        }
        EVENTS.lock().unwrap().clear();
        for user in users {
            let order = NewOrder::for_plan(
                &pro,
                AccountRef::User(user),
                None,
                TaxRate::parse_percent("19").unwrap(),
                at(2026, 5, 1),
            )
            .unwrap();
            repo.create_active(order, terms(), None).await.unwrap();
        }
        let events = EVENTS.lock().unwrap().clone();
        let hot: &[&str] = match test_db.backend() {
            Backend::Sqlite => &[
                "INSERT INTO orders (",
                "INSERT INTO order_items (",
                "UPDATE orders SET status = ",
                "UPDATE invoice_counters SET last_seq",
                "UPDATE orders SET invoice_year = ",
            ],
            // Activations run in batches on their lanes: the placeholder, then the
            // batch's counter bump and the statement that writes the numbers.
            Backend::Postgres => &[
                "WITH new_order AS (",
                "UPDATE orders SET status = ",
                "UPDATE orders SET invoice_year = ",
                "UPDATE invoice_counters SET last_seq = last_seq + ",
                "WITH n AS (",
            ],
        };
        // At most one connection per pooled slot and the SQLite writer's own, or the
        // PostgreSQL batch lanes' (three).
        let connections = options.max_connections as usize
            + match test_db.backend() {
                Backend::Sqlite => 1,
                Backend::Postgres => 3,
            };
        for prefix in hot {
            let (ran, prepared) = counts(&events, prefix);
            assert!(
                ran >= ACTIVATIONS,
                "{:?}: `{prefix}` ran {ran} times",
                test_db.backend()
            );
            assert!(
                (1..=connections).contains(&prepared),
                "{:?}: `{prefix}` ran {ran} times and was prepared {prepared} times",
                test_db.backend()
            );
        }
    }
}
