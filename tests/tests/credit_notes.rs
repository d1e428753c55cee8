//! Refunds and credit notes through HTTP: an administrator refunds a paid order (in
//! part, to account credit, with cancellation), every refund is a credit note numbered
//! in its own gapless series, whose PDF is stored once and served with an `ETag`; the
//! sum of an order's notes never exceeds its total, also under concurrent refunds; a
//! gateway refund has one credit note however often it is reported. Every test runs on
//! SQLite and, with TEST_DATABASE_URL, on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Datelike, Utc};
use diesel::prelude::*;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tariff_domain::audit::{Actor, AuditAction, AuditEntry, TargetKind};
use tariff_domain::catalogue::CatalogueService;
use tariff_domain::credit_notes::{
    CreditNote, CreditNoteJson, CreditNoteReason, CreditNoteRequest, CreditNoteStore, IssueOutcome,
    RefundDetails, RefundProvider, RefundState, DEFAULT_CREDIT_NOTE_FORMAT,
};
use tariff_domain::documents::{DocumentKind, DocumentStore};
use tariff_domain::orders::InvoiceNumberFormat;
use tariff_domain::{Currency, Limit, Limits, Money, OrderId, PlanDraft, Resource};
use tariff_persistence::schema::{credit_notes, webhook_events};
use tariff_persistence::{DieselCreditNotes, DieselDocumentStore, DieselPlanRepository};
use tariff_tests::{
    backends, execute_sql, json, spawn_app, spawn_app_on_url_with, spawn_app_with, TestApp,
    TestDatabase,
};

fn patient(settings: &mut tariff_app::settings::Settings) {
    settings.database.acquire_timeout_ms = 60_000;
    settings.database.sqlite_busy_timeout_ms = 60_000;
}

async fn create_plan(app: &TestApp, name: &str, price: &str) -> i64 {
    let catalogue = CatalogueService::new(Arc::new(DieselPlanRepository::new(app.db.clone())));
    let plan = catalogue
        .create(
            PlanDraft {
                name: name.into(),
                price: price.into(),
                plan_type: "paid".into(),
                limits: Limits::unlimited().with(Resource::Servers, Limit::new(3)),
                ..PlanDraft::default()
            },
            Actor::Operator,
        )
        .await
        .unwrap();
    plan.id().get()
}

/// A pending order of `plan` placed by `customer`; its id.
async fn pending_order(app: &TestApp, customer: &str, plan: i64) -> i64 {
    let order = app
        .post_as(customer, "/api/orders", &json!({"planId": plan}))
        .await;
    assert_eq!(order.status(), StatusCode::CREATED);
    json(order).await["id"].as_i64().unwrap()
}

/// Marks order `id` paid; its invoice number.
async fn mark_paid(app: &TestApp, admin: &str, id: i64) -> String {
    let paid = app
        .post_as(
            admin,
            &format!("/api/admin/orders/{id}/mark-paid"),
            &json!({"reference": "BANK-1"}),
        )
        .await;
    assert_eq!(paid.status(), StatusCode::OK);
    json(paid).await["order"]["invoiceNumber"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn refund(app: &TestApp, token: &str, id: i64, body: Value) -> reqwest::Response {
    app.post_as(token, &format!("/api/admin/orders/{id}/refund"), &body)
        .await
}

fn year() -> i32 {
    Utc::now().year()
}

fn number(seq: i64) -> String {
    format!("CN-{}-{seq:06}", year())
}

async fn stored_events(app: &TestApp, event_type: &'static str) -> Vec<Value> {
    let bodies: Vec<String> = app
        .db
        .query(move |c| {
            Ok(c.load(
                webhook_events::table
                    .filter(webhook_events::event_type.eq(event_type))
                    .order(webhook_events::id.asc())
                    .select(webhook_events::body),
            )?)
        })
        .await
        .unwrap();
    bodies
        .iter()
        .map(|body| serde_json::from_str(body).unwrap())
        .collect()
}

async fn audit_actions(app: &TestApp, admin: &str, action: &str) -> Vec<Value> {
    let page = json(app.get_as(admin, "/api/admin/audit?per_page=100").await).await;
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["action"] == action)
        .cloned()
        .collect()
}

#[tokio::test]
async fn administrators_refund_paid_orders_with_credit_notes() {
    for database in backends() {
        let app = spawn_app(database).await;
        let label = app.backend().name();
        let admin = app.seed_user("admin@example.com", "admin").await;
        let alice = app.seed_user("alice@example.com", "user").await;
        let mallory = app.seed_user("mallory@example.com", "user").await;
        let plan = create_plan(&app, "Pro", "9.99").await;
        let id = pending_order(&app, &alice.token, plan).await;

        // Never paid: nothing to refund.
        let unpaid = refund(&app, &admin.token, id, json!({"reason": "Oops"})).await;
        assert_eq!(unpaid.status(), StatusCode::CONFLICT, "{label}");
        assert_eq!(json(unpaid).await["error"], "conflict");

        let invoice = mark_paid(&app, &admin.token, id).await;

        // Administrators only.
        let forbidden = refund(&app, &alice.token, id, json!({"reason": "Mine"})).await;
        assert_eq!(forbidden.status(), StatusCode::FORBIDDEN, "{label}");
        let missing = refund(&app, &admin.token, 999_999, json!({"reason": "x"})).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND, "{label}");

        // Bad input: a clear 400 naming the field, nothing stored.
        for (body, field) in [
            (json!({"amount": 0, "reason": "x"}), "amount"),
            (json!({"amount": -1, "reason": "x"}), "amount"),
            (json!({"amount": "1.001", "reason": "x"}), "amount"),
            (json!({"amount": "abc", "reason": "x"}), "amount"),
            (json!({"reason": "   "}), "reason"),
        ] {
            let bad = refund(&app, &admin.token, id, body.clone()).await;
            assert_eq!(bad.status(), StatusCode::BAD_REQUEST, "{label}: {body}");
            let bad = json(bad).await;
            assert_eq!(bad["error"], "validation_failed", "{label}: {body}");
            assert_eq!(bad["field"], field, "{label}: {body}");
        }
        for body in [
            json!({"reason": "x", "to": "bank"}),
            json!({"amount": 1}),
            json!({"reason": "x", "cancel": "yes"}),
            json!({"reason": "x", "extra": 1}),
        ] {
            let bad = refund(&app, &admin.token, id, body.clone()).await;
            assert_eq!(bad.status(), StatusCode::BAD_REQUEST, "{label}: {body}");
        }

        // A partial refund to the original payment: recorded as manual (payments off).
        let first = refund(
            &app,
            &admin.token,
            id,
            json!({"amount": "2.50", "reason": "Outage on the 3rd"}),
        )
        .await;
        assert_eq!(first.status(), StatusCode::CREATED, "{label}");
        let first = json(first).await;
        assert_eq!(first["number"], number(1), "{label}");
        assert_eq!(first["orderId"], id);
        assert_eq!(first["invoiceNumber"], invoice.as_str());
        assert_eq!(first["amount"], json!(2.5));
        assert_eq!(first["currency"], "USD");
        assert_eq!(first["reason"], "Outage on the 3rd");
        assert_eq!(
            first["refund"],
            json!({"to": "original", "provider": "manual", "status": "succeeded", "reference": null}),
            "{label}"
        );
        assert!(first["createdAt"].as_str().unwrap().ends_with('Z'));

        // More than is left (7.49): 409, nothing stored.
        let too_much = refund(
            &app,
            &admin.token,
            id,
            json!({"amount": 7.5, "reason": "Too much"}),
        )
        .await;
        assert_eq!(too_much.status(), StatusCode::CONFLICT, "{label}");
        let too_much = json(too_much).await;
        assert_eq!(too_much["error"], "conflict");
        assert!(
            too_much["message"].as_str().unwrap().contains("7.49"),
            "{label}: {too_much}"
        );

        // To account credit: the balance grows in the same transaction.
        let credited = refund(
            &app,
            &admin.token,
            id,
            json!({"amount": 2, "reason": "Goodwill", "to": "credit"}),
        )
        .await;
        assert_eq!(credited.status(), StatusCode::CREATED, "{label}");
        let credited = json(credited).await;
        assert_eq!(credited["number"], number(2));
        assert_eq!(
            credited["refund"],
            json!({"to": "credit", "provider": "credit", "status": "succeeded", "reference": null})
        );
        let statement = json(
            app.get_as(&alice.token, &format!("/api/users/{}/credit", alice.id))
                .await,
        )
        .await;
        assert_eq!(
            statement["balances"],
            json!([{"currency": "USD", "amount": 2.0}]),
            "{label}"
        );
        assert_eq!(statement["entries"][0]["orderId"], id);

        // The rest, cancelling the order in the same transaction.
        let rest = refund(
            &app,
            &admin.token,
            id,
            json!({"reason": "Closing the account", "cancel": true}),
        )
        .await;
        assert_eq!(rest.status(), StatusCode::CREATED, "{label}");
        let rest = json(rest).await;
        assert_eq!(rest["amount"], json!(5.49), "{label}: what was left");
        assert_eq!(rest["number"], number(3));
        let order = json(app.get_as(&alice.token, &format!("/api/orders/{id}")).await).await;
        assert_eq!(order["status"], "cancelled", "{label}");
        // The panel hears of the cancellation as of any other: the order, then the
        // account back on the default plan.
        let cancelled = stored_events(&app, "order.cancelled").await;
        let last = cancelled.last().unwrap();
        assert_eq!(last["data"]["id"], id, "{label}: {last}");
        assert_eq!(last["data"]["status"], "cancelled", "{label}");
        let changed = stored_events(&app, "account.plan_changed").await;
        let last_change = changed.last().unwrap();
        assert!(
            last_change["data"]["order"].is_null(),
            "{label}: {last_change}"
        );
        assert!(
            last_change["sequence"].as_u64() > last["sequence"].as_u64(),
            "{label}: plan change after the cancellation"
        );

        // Cancelled after payment: still refundable, but nothing is left.
        let nothing = refund(&app, &admin.token, id, json!({"reason": "Again"})).await;
        assert_eq!(nothing.status(), StatusCode::CONFLICT, "{label}");

        // The order's notes: its customer and administrators; anyone else 404.
        let listed = app
            .get_as(&alice.token, &format!("/api/orders/{id}/credit-notes"))
            .await;
        assert_eq!(listed.status(), StatusCode::OK);
        let listed = json(listed).await;
        let numbers: Vec<&str> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|note| note["number"].as_str().unwrap())
            .collect();
        assert_eq!(numbers, [number(1), number(2), number(3)], "{label}");
        assert_eq!(listed[0], first);
        let sum: f64 = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|note| note["amount"].as_f64().unwrap())
            .sum();
        assert!((sum - 9.99).abs() < 1e-9, "{label}: {sum}");
        assert_eq!(
            app.get_as(&admin.token, &format!("/api/orders/{id}/credit-notes"))
                .await
                .status(),
            StatusCode::OK
        );
        assert_eq!(
            app.get_as(&mallory.token, &format!("/api/orders/{id}/credit-notes"))
                .await
                .status(),
            StatusCode::NOT_FOUND,
            "{label}"
        );
        let anonymous = app.get(&format!("/api/orders/{id}/credit-notes")).await;
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
        let bad_id = app
            .get_as(&alice.token, "/api/orders/abc/credit-notes")
            .await;
        assert_eq!(bad_id.status(), StatusCode::BAD_REQUEST);

        // An audit entry and a `credit_note.issued` event for each refund.
        let audited = audit_actions(&app, &admin.token, "order.refund").await;
        assert_eq!(audited.len(), 3, "{label}");
        let events = stored_events(&app, "credit_note.issued").await;
        assert_eq!(events.len(), 3, "{label}");
        assert_eq!(
            events[0]["data"], first,
            "{label}: the event carries the note"
        );
        assert_eq!(
            events[0]["account"],
            json!({"kind": "user", "id": alice.id})
        );
    }
}

/// GET a credit note's PDF, optionally with `If-None-Match`; status, ETag, body.
async fn fetch_pdf(
    app: &TestApp,
    token: &str,
    id: i64,
    if_none_match: Option<&str>,
) -> (StatusCode, Option<String>, Vec<u8>) {
    let mut request = app
        .client
        .get(app.url(&format!("/api/credit-notes/{id}/pdf")))
        .bearer_auth(token);
    if let Some(tag) = if_none_match {
        request = request.header("If-None-Match", tag);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned());
    if status == StatusCode::OK {
        assert_eq!(response.headers()["content-type"], "application/pdf");
        assert!(response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"credit-note-CN-"));
    }
    (status, etag, response.bytes().await.unwrap().to_vec())
}

fn quoted_sha256(bytes: &[u8]) -> String {
    format!("\"{}\"", hex::encode(Sha256::digest(bytes)))
}

/// The text of a PDF through `pdftotext`, or `None` (with a loud line) without it.
fn pdf_text(pdf: &[u8]) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credit-note.pdf");
    std::fs::write(&path, pdf).unwrap();
    match std::process::Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
    {
        Ok(out) if out.status.success() => Some(String::from_utf8_lossy(&out.stdout).into_owned()),
        _ => {
            eprintln!("SKIPPING PDF text checks: pdftotext is not available");
            None
        }
    }
}

#[tokio::test]
async fn a_credit_note_pdf_is_stored_once_and_served_with_an_etag() {
    for database in backends() {
        let app = spawn_app(database).await;
        let label = app.backend().name();
        let admin = app.seed_user("admin@example.com", "admin").await;
        let alice = app.seed_user("alice@example.com", "user").await;
        let mallory = app.seed_user("mallory@example.com", "user").await;
        let plan = create_plan(&app, "Pro", "9.99").await;
        let id = pending_order(&app, &alice.token, plan).await;
        let invoice = mark_paid(&app, &admin.token, id).await;
        let note = json(
            refund(
                &app,
                &admin.token,
                id,
                json!({"amount": "4.25", "reason": "Service outage"}),
            )
            .await,
        )
        .await;
        let note_id = note["id"].as_i64().unwrap();

        // Stored when the number was issued, before anyone asked for it.
        let stored = DieselDocumentStore::new(app.db.clone())
            .get(DocumentKind::CreditNote, note_id)
            .await
            .unwrap()
            .expect("stored at issue");
        assert_eq!(stored.number(), number(1));
        let (status, etag, first) = fetch_pdf(&app, &alice.token, note_id, None).await;
        assert_eq!(status, StatusCode::OK, "{label}");
        assert!(first.starts_with(b"%PDF"));
        assert_eq!(first, stored.content(), "{label}: the stored bytes");
        let etag = etag.expect("an ETag");
        assert_eq!(etag, quoted_sha256(&first));

        let (again, _, bytes) = fetch_pdf(&app, &admin.token, note_id, None).await;
        assert_eq!(again, StatusCode::OK);
        assert_eq!(bytes, first, "{label}: the same bytes every time");
        let (not_modified, tag, body) = fetch_pdf(&app, &alice.token, note_id, Some(&etag)).await;
        assert_eq!(not_modified, StatusCode::NOT_MODIFIED, "{label}");
        assert_eq!(tag.as_deref(), Some(etag.as_str()));
        assert!(body.is_empty());
        let (changed, _, _) = fetch_pdf(&app, &alice.token, note_id, Some("\"other\"")).await;
        assert_eq!(changed, StatusCode::OK);

        // Same access rule as the order: others learn nothing.
        let (hidden, _, _) = fetch_pdf(&app, &mallory.token, note_id, None).await;
        assert_eq!(hidden, StatusCode::NOT_FOUND, "{label}");
        let (absent, _, _) = fetch_pdf(&app, &admin.token, 999_999, None).await;
        assert_eq!(absent, StatusCode::NOT_FOUND);

        if let Some(text) = pdf_text(&first) {
            assert!(text.contains("CREDIT NOTE"), "{label}: {text}");
            assert!(text.contains(&number(1)), "{label}: {text}");
            assert!(text.contains(&invoice), "{label}: {text}");
            assert!(text.contains("4.25"), "{label}: {text}");
            assert!(text.contains("Service outage"), "{label}: {text}");
        }
    }
}

/// The stored credit note `id`, as the quoted hash of its bytes.
async fn stored_pdf(app: &TestApp, id: i64) -> Option<String> {
    DieselDocumentStore::new(app.db.clone())
        .get(DocumentKind::CreditNote, id)
        .await
        .unwrap()
        .map(|document| quoted_sha256(document.content()))
}

/// Waits (bounded) for the start-up backfill to store credit note `id`.
async fn stored_pdf_soon(app: &TestApp, id: i64) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(hash) = stored_pdf(app, id).await {
            return hash;
        }
        assert!(Instant::now() < deadline, "credit note {id} not stored");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_credit_note_a_crash_left_unstored_gets_the_same_bytes_back() {
    for database in backends() {
        let app = spawn_app(database).await;
        let label = app.backend().name();
        let admin = app.seed_user("admin@example.com", "admin").await;
        let alice = app.seed_user("alice@example.com", "user").await;
        let plan = create_plan(&app, "Pro", "9.99").await;
        let id = pending_order(&app, &alice.token, plan).await;
        mark_paid(&app, &admin.token, id).await;
        let note = json(refund(&app, &admin.token, id, json!({"reason": "Outage"})).await).await;
        let note_id = note["id"].as_i64().unwrap();
        let original = stored_pdf(&app, note_id).await.expect("stored at issue");
        let url = app.database.url().to_owned();

        // A crash between the issuing commit and storing the PDF: the next start's
        // backfill makes it, with the same bytes.
        let crash =
            format!("DELETE FROM documents WHERE kind = 'credit_note' AND owner_id = {note_id}");
        execute_sql(&app.db, crash.clone()).await.unwrap();
        assert_eq!(stored_pdf(&app, note_id).await, None);
        let restarted = spawn_app_on_url_with(&url, |_| {}).await;
        assert_eq!(
            stored_pdf_soon(&restarted, note_id).await,
            original,
            "{label}"
        );

        // The same crash, then a download: made on first request, the same bytes.
        execute_sql(&app.db, crash).await.unwrap();
        let (status, etag, body) = fetch_pdf(&app, &alice.token, note_id, None).await;
        assert_eq!(status, StatusCode::OK, "{label}");
        assert_eq!(
            quoted_sha256(&body),
            original,
            "{label}: re-rendered identically"
        );
        assert_eq!(etag, Some(original.clone()));
        assert_eq!(stored_pdf(&app, note_id).await, Some(original));
    }
}

/// `orders` paid orders of 9.99, each refunded `per_order` times at once with 4.00
/// (two fit), spread over `apps`: the sum per order never exceeds its total, and the
/// accepted notes are numbered 1..N without gaps or duplicates.
async fn assert_concurrent_refunds_hold(apps: &[&TestApp], label: &str) {
    let first = apps[0];
    let admin = first.seed_user("admin@example.com", "admin").await;
    let plan = create_plan(first, "Pro", "9.99").await;
    let orders = 5;
    let per_order = 6;
    let mut ids = Vec::new();
    for i in 0..orders {
        let customer = first
            .seed_user(&format!("customer{i}@example.com"), "user")
            .await;
        let id = pending_order(first, &customer.token, plan).await;
        mark_paid(first, &admin.token, id).await;
        ids.push(id);
    }
    let started = Instant::now();
    let requests = (0..orders * per_order).map(|i| {
        let app = apps[i % apps.len()];
        let id = ids[i % orders];
        let request = app
            .client
            .post(app.url(&format!("/api/admin/orders/{id}/refund")))
            .bearer_auth(&admin.token)
            .json(&json!({"amount": 4, "reason": format!("refund {i}")}));
        async move {
            let response = request.send().await.unwrap();
            (id, response.status(), response.text().await.unwrap())
        }
    });
    let answers = join_all(requests).await;
    let elapsed = started.elapsed();
    let mut accepted: HashMap<i64, usize> = HashMap::new();
    let mut numbers = Vec::new();
    for (id, status, body) in &answers {
        match *status {
            StatusCode::CREATED => {
                *accepted.entry(*id).or_default() += 1;
                let note: Value = serde_json::from_str(body).unwrap();
                numbers.push(note["number"].as_str().unwrap().to_owned());
            }
            StatusCode::CONFLICT => {}
            other => panic!("{label}: unexpected {other}: {body}"),
        }
    }
    eprintln!(
        "{label}: {} concurrent refunds on {orders} orders in {elapsed:?}: {} accepted",
        answers.len(),
        numbers.len()
    );
    for id in &ids {
        assert_eq!(
            accepted.get(id),
            Some(&2),
            "{label}: order {id}: {answers:?}"
        );
    }
    numbers.sort();
    let expected: Vec<String> = (1..=(2 * orders as i64)).map(number).collect();
    assert_eq!(numbers, expected, "{label}: gapless, no duplicates");
    // What is stored agrees: per order 8.00 of 9.99, running sums consistent.
    let rows: Vec<(i64, i64, i64, i64)> = first
        .db
        .query(|c| {
            Ok(
                c.load(credit_notes::table.order(credit_notes::id.asc()).select((
                    credit_notes::order_id,
                    credit_notes::amount_minor,
                    credit_notes::refunded_after_minor,
                    credit_notes::order_total_minor,
                )))?,
            )
        })
        .await
        .unwrap();
    let mut running: HashMap<i64, i64> = HashMap::new();
    for (order, amount, after, total) in rows {
        let sum = running.entry(order).or_default();
        *sum += amount;
        assert_eq!(*sum, after, "{label}: running sum of order {order}");
        assert!(after <= total, "{label}");
    }
    assert!(
        running.values().all(|sum| *sum == 800),
        "{label}: {running:?}"
    );
}

#[tokio::test]
async fn concurrent_refunds_never_exceed_the_total_and_number_without_gaps_on_sqlite() {
    let app = spawn_app_with(TestDatabase::sqlite(), patient).await;
    assert_concurrent_refunds_hold(&[&app], "sqlite").await;
}

#[tokio::test]
async fn concurrent_refunds_over_two_instances_hold_on_postgres() {
    let Some(database) = TestDatabase::postgres() else {
        return;
    };
    let first = spawn_app_with(database, patient).await;
    let second = spawn_app_on_url_with(first.database.url(), patient).await;
    assert_concurrent_refunds_hold(&[&first, &second], "postgres, two instances").await;
}

/// The event data a store needs; the shape does not matter here.
struct IdOnly;

impl CreditNoteJson for IdOnly {
    fn credit_note(&self, note: &CreditNote) -> Value {
        json!({"id": note.id().get()})
    }
}

fn gateway_request(order: i64, reference: &str, cents: i64) -> CreditNoteRequest {
    CreditNoteRequest {
        order: OrderId::new(order).unwrap(),
        amount: Some(Money::from_minor(
            cents,
            Currency::from_code("USD").unwrap(),
        )),
        reason: CreditNoteReason::parse(&format!("Refund {reference} made at stripe")).unwrap(),
        refund: RefundDetails::gateway(
            RefundProvider::Stripe,
            RefundState::Succeeded,
            reference.to_owned(),
        ),
        cancel: false,
        at: Utc::now(),
        numbering: InvoiceNumberFormat::parse(DEFAULT_CREDIT_NOTE_FORMAT).unwrap(),
        audit: AuditEntry::new(
            Actor::Operator,
            AuditAction::OrderRefund,
            TargetKind::Order,
            Some(order),
        ),
    }
}

/// What `charge.refunded` relies on: one gateway refund id, reported 20 times at once
/// and again later, has exactly one credit note.
#[tokio::test]
async fn a_gateway_refund_has_one_credit_note_however_often_it_is_reported() {
    for database in backends() {
        let app = spawn_app_with(database, patient).await;
        let label = app.backend().name();
        let admin = app.seed_user("admin@example.com", "admin").await;
        let alice = app.seed_user("alice@example.com", "user").await;
        let plan = create_plan(&app, "Pro", "9.99").await;
        let id = pending_order(&app, &alice.token, plan).await;
        mark_paid(&app, &admin.token, id).await;
        let store = Arc::new(DieselCreditNotes::new(app.db.clone(), Arc::new(IdOnly)));

        let attempts = (0..20).map(|_| {
            let store = store.clone();
            async move { store.issue(gateway_request(id, "re_123", 300)).await }
        });
        let outcomes = join_all(attempts).await;
        let mut issued = Vec::new();
        let mut repeated = Vec::new();
        for outcome in outcomes {
            match outcome.unwrap() {
                IssueOutcome::Issued(note) => issued.push(note),
                IssueOutcome::AlreadyIssued(note) => repeated.push(note),
                IssueOutcome::Refused(refusal) => panic!("{label}: refused {refusal:?}"),
            }
        }
        assert_eq!(issued.len(), 1, "{label}");
        assert_eq!(repeated.len(), 19, "{label}");
        assert!(repeated.iter().all(|note| *note == issued[0]), "{label}");
        assert_eq!(issued[0].refund().reference.as_deref(), Some("re_123"));

        // Later, another refund of the same charge; then the first again.
        let second = store
            .issue(gateway_request(id, "re_456", 500))
            .await
            .unwrap();
        assert!(matches!(second, IssueOutcome::Issued(_)), "{label}");
        let again = store
            .issue(gateway_request(id, "re_123", 300))
            .await
            .unwrap();
        assert_eq!(again, IssueOutcome::AlreadyIssued(issued[0].clone()));
        // A third would exceed the total: refused, not stored.
        let third = store
            .issue(gateway_request(id, "re_789", 500))
            .await
            .unwrap();
        assert!(
            matches!(third, IssueOutcome::Refused(_)),
            "{label}: {third:?}"
        );

        let listed = json(
            app.get_as(&alice.token, &format!("/api/orders/{id}/credit-notes"))
                .await,
        )
        .await;
        assert_eq!(listed.as_array().unwrap().len(), 2, "{label}");
        assert_eq!(listed[0]["refund"]["provider"], "stripe");
        assert_eq!(listed[0]["refund"]["reference"], "re_123");
        assert_eq!(listed[1]["number"], number(2), "{label}");
        assert_eq!(stored_events(&app, "credit_note.issued").await.len(), 2);
    }
}

#[tokio::test]
async fn refund_routes_are_in_the_openapi_document_and_behind_the_billing_switch() {
    let app = spawn_app(TestDatabase::sqlite()).await;
    let doc = json(app.get("/api/openapi.json").await).await;
    for (path, method, statuses) in [
        (
            "/api/admin/orders/{id}/refund",
            "post",
            &[
                "201", "400", "401", "403", "404", "409", "413", "415", "429", "503",
            ][..],
        ),
        (
            "/api/orders/{id}/credit-notes",
            "get",
            &["200", "400", "401", "404", "429", "503"][..],
        ),
        (
            "/api/credit-notes/{id}/pdf",
            "get",
            &["200", "304", "400", "401", "404", "429", "503"][..],
        ),
    ] {
        let responses = &doc["paths"][path][method]["responses"];
        for status in statuses {
            assert!(
                responses.get(*status).is_some(),
                "{method} {path} lacks {status}"
            );
        }
    }
    let admin = app.seed_user("admin@example.com", "admin").await;
    let off = app
        .put_as(
            &admin.token,
            "/api/admin/settings",
            &json!({"billingEnabled": false}),
        )
        .await;
    assert_eq!(off.status(), StatusCode::OK);
    let disabled = refund(&app, &admin.token, 1, json!({"reason": "x"})).await;
    assert_eq!(disabled.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json(disabled).await["error"], "feature_disabled");
    assert_eq!(
        app.get_as(&admin.token, "/api/credit-notes/1/pdf")
            .await
            .status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
}
