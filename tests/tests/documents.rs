//! Issued documents through HTTP: an invoice PDF is rendered once, by the issuing worker
//! right after its number is issued, and stored; every download answers the same bytes with an `ETag` (304 to
//! `If-None-Match`), across instances and restarts, whatever the configuration says
//! later; a numbered invoice whose PDF a crash left unmade gets exactly the same bytes
//! from the start-up backfill or the first download. Every test runs on SQLite and, with
//! TEST_DATABASE_URL, on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use sha2::{Digest, Sha256};
use tariff_domain::catalogue::CatalogueService;
use tariff_domain::documents::{DocumentKind, DocumentStore};
use tariff_domain::{Limit, Limits, PlanDraft, Resource};
use tariff_persistence::{Backend, DieselDocumentStore, DieselPlanRepository};
use tariff_tests::{backends, execute_sql, json, spawn_app, spawn_app_on_url_with, TestApp};

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
            tariff_domain::audit::Actor::Operator,
        )
        .await
        .unwrap();
    plan.id().get()
}

/// A customer with Cyrillic and Greek billing details orders a paid plan; an admin
/// marks it paid. Returns (admin token, customer token, order id).
async fn paid_order(app: &TestApp) -> (String, String, i64) {
    let admin = app.seed_user("admin@example.com", "admin").await;
    let customer = app.seed_user("dmitri@example.com", "user").await;
    let updated = app
        .put_as(
            &admin.token,
            &format!("/api/admin/users/{}", customer.id),
            &json!({"company": "ООО «Ромашка» Ωμέγα", "city": "Москва", "country": "RU"}),
        )
        .await;
    assert_eq!(updated.status(), StatusCode::OK, "billing details");
    let plan = create_plan(app, "Pro", "9.99").await;
    let order = json(
        app.post_as(&customer.token, "/api/orders", &json!({"planId": plan}))
            .await,
    )
    .await;
    let id = order["id"].as_i64().unwrap();
    let paid = app
        .post_as(
            &admin.token,
            &format!("/api/admin/orders/{id}/mark-paid"),
            &json!({"reference": "BANK-1"}),
        )
        .await;
    assert_eq!(paid.status(), StatusCode::OK);
    (admin.token, customer.token, id)
}

/// GET the invoice, optionally with `If-None-Match`; returns status, ETag and body.
async fn fetch(
    app: &TestApp,
    token: &str,
    id: i64,
    if_none_match: Option<&str>,
) -> (StatusCode, Option<String>, Vec<u8>) {
    let mut request = app
        .client
        .get(app.url(&format!("/api/orders/{id}/invoice")))
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
    (status, etag, response.bytes().await.unwrap().to_vec())
}

fn quoted_sha256(bytes: &[u8]) -> String {
    format!("\"{}\"", hex::encode(Sha256::digest(bytes)))
}

/// The stored invoice of order `id`, as the hash of its bytes (short assertion output).
async fn stored(app: &TestApp, id: i64) -> Option<String> {
    DieselDocumentStore::new(app.db.clone())
        .get(DocumentKind::Invoice, id)
        .await
        .unwrap()
        .map(|document| quoted_sha256(document.content()))
}

#[tokio::test]
async fn an_issued_invoice_is_stored_once_and_served_with_an_etag() {
    for db in backends() {
        let app = spawn_app(db).await;
        let (_, customer, id) = paid_order(&app).await;

        // Stored by the issuing worker right after numbering, before anyone asked for it.
        let at_numbering = stored_soon(&app, id).await;
        let (status, etag, first) = fetch(&app, &customer, id, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(quoted_sha256(&first), at_numbering);
        assert!(
            first.len() < 60 * 1024,
            "Cyrillic/Greek invoice: {} bytes",
            first.len()
        );
        let etag = etag.expect("an issued invoice has an ETag");
        assert_eq!(etag, quoted_sha256(&first));

        let (status, again_tag, again) = fetch(&app, &customer, id, None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(again == first, "every download answers the same bytes");
        assert_eq!(again_tag.as_deref(), Some(etag.as_str()));

        let (status, tag, body) = fetch(&app, &customer, id, Some(&etag)).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        assert_eq!(tag.as_deref(), Some(etag.as_str()));
        assert!(body.is_empty());
        let listed = format!("\"other\", W/{etag}");
        let (status, _, _) = fetch(&app, &customer, id, Some(&listed)).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "weak comparison, lists");
        let (status, _, body) = fetch(&app, &customer, id, Some("\"stale\"")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body == first);

        // The access rule comes first: a stranger learns nothing, ETag or not.
        let stranger = app.seed_user("stranger@example.com", "user").await;
        let (status, tag, _) = fetch(&app, &stranger.token, id, Some(&etag)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(tag, None);
    }
}

#[tokio::test]
async fn a_proforma_is_rendered_per_request_without_an_etag() {
    for db in backends() {
        let app = spawn_app(db).await;
        let customer = app.seed_user("zoe@example.com", "user").await;
        let plan = create_plan(&app, "Pro", "9.99").await;
        let order = json(
            app.post_as(&customer.token, "/api/orders", &json!({"planId": plan}))
                .await,
        )
        .await;
        let id = order["id"].as_i64().unwrap();
        let (status, etag, body) = fetch(&app, &customer.token, id, Some("*")).await;
        assert_eq!(status, StatusCode::OK, "a proforma is never 304");
        assert_eq!(etag, None);
        assert!(body.starts_with(b"%PDF"));
        assert_eq!(stored(&app, id).await, None, "proformas are not stored");
    }
}

#[tokio::test]
async fn stored_bytes_survive_restarts_and_configuration_changes() {
    for db in backends() {
        let app = spawn_app(db).await;
        let (_, customer, id) = paid_order(&app).await;
        let (_, etag, before) = fetch(&app, &customer, id, None).await;

        // Another instance (a restart) with another company name and footer: the issued
        // invoice does not change.
        let url = app.database.url().to_owned();
        let restarted = spawn_app_on_url_with(&url, |settings| {
            settings.invoice.company_name = "Renamed Hosting Ltd".into();
            settings.invoice.footer = "A different footer".into();
        })
        .await;
        let (status, tag, after) = fetch(&restarted, &customer, id, None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(after == before, "the stored bytes, not a new render");
        assert_eq!(tag, etag);
    }
}

/// Waits up to twenty seconds (a loaded test machine) for the invoice of `id` to be
/// stored; its hash.
async fn stored_soon(app: &TestApp, id: i64) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(hash) = stored(app, id).await {
            return hash;
        }
        assert!(Instant::now() < deadline, "invoice {id} not stored");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_invoice_a_crash_left_unstored_gets_the_same_bytes_back() {
    for db in backends() {
        let app = spawn_app(db).await;
        let (_, customer, id) = paid_order(&app).await;
        let original = stored_soon(&app, id).await;
        let url = app.database.url().to_owned();

        // A crash between the numbering commit and storing the PDF: a numbered order
        // without its document. The next start's backfill makes it.
        let crash = format!("DELETE FROM documents WHERE kind = 'invoice' AND owner_id = {id}");
        execute_sql(&app.db, crash.clone()).await.unwrap();
        assert_eq!(stored(&app, id).await, None);
        let restarted = spawn_app_on_url_with(&url, |_| {}).await;
        assert_eq!(stored_soon(&restarted, id).await, original);

        // The same crash, and a download right after the next start, racing its
        // backfill: whichever stores it, the bytes are the original ones.
        execute_sql(&app.db, crash).await.unwrap();
        let again = spawn_app_on_url_with(&url, |_| {}).await;
        let (status, etag, body) = fetch(&again, &customer, id, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            quoted_sha256(&body),
            original,
            "re-rendering gives the same bytes"
        );
        assert_eq!(etag, Some(original.clone()));
        assert_eq!(stored(&again, id).await, Some(original));
    }
}

#[tokio::test]
async fn orders_numbered_before_documents_were_stored_are_backfilled() {
    for db in backends() {
        let app = spawn_app(db).await;
        let (_, _, first) = paid_order(&app).await;
        let customer = app.seed_user("second@example.com", "user").await;
        let plan = create_plan(&app, "Team", "19.99").await;
        let admin = app.seed_user("admin2@example.com", "admin").await;
        let applied = json(
            app.post_as(
                &admin.token,
                &format!("/api/admin/users/{}/apply-plan", customer.id),
                &json!({"planId": plan}),
            )
            .await,
        )
        .await;
        let second = applied["order"]["id"].as_i64().unwrap();
        let originals = [
            stored_soon(&app, first).await,
            stored_soon(&app, second).await,
        ];
        // As after the migration on a database with numbered orders: no documents.
        execute_sql(&app.db, "DELETE FROM documents".into())
            .await
            .unwrap();
        let url = app.database.url().to_owned();
        let restarted = spawn_app_on_url_with(&url, |_| {}).await;
        assert_eq!(stored_soon(&restarted, first).await, originals[0]);
        assert_eq!(stored_soon(&restarted, second).await, originals[1]);
    }
}

#[tokio::test]
async fn concurrent_first_downloads_on_two_instances_store_one_version() {
    for db in backends() {
        let app = spawn_app(db).await;
        let (_, customer, id) = paid_order(&app).await;
        let original = stored_soon(&app, id).await;
        let url = app.database.url().to_owned();
        // Fresh instances (nothing cached), the PDF lost to a crash, and eight first
        // downloads at once. Two instances on PostgreSQL; one on SQLite, which serves a
        // single instance (docs/OPERATIONS.md).
        let one = spawn_app_on_url_with(&url, |_| {}).await;
        let two = match app.backend() {
            Backend::Postgres => Some(spawn_app_on_url_with(&url, |_| {}).await),
            Backend::Sqlite => None,
        };
        tokio::time::sleep(Duration::from_millis(300)).await; // their backfills: nothing to do
        execute_sql(
            &app.db,
            format!("DELETE FROM documents WHERE owner_id = {id}"),
        )
        .await
        .unwrap();
        let downloads = (0..8).map(|n| {
            let instance = match &two {
                Some(two) if n % 2 == 1 => two,
                _ => &one,
            };
            fetch(instance, &customer, id, None)
        });
        for (status, etag, body) in futures_util::future::join_all(downloads).await {
            assert_eq!(status, StatusCode::OK);
            assert_eq!(quoted_sha256(&body), original);
            assert_eq!(etag.as_deref(), Some(original.as_str()));
        }
        assert_eq!(stored(&app, id).await, Some(original));
    }
}
