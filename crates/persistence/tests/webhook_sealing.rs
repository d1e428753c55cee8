//! Webhook secrets at rest, on SQLite and (with TEST_DATABASE_URL) PostgreSQL: sealed in
//! the table, never in clear; rows stored in clear before sealing are sealed at start;
//! a configured key takes over from the generated one without losing a secret; a
//! rotation's two secrets both open; a key the instance does not hold is refused.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use diesel::prelude::*;
use tariff_domain::webhooks::{
    EndpointSpec, SecretSealer, SigningKeys, WebhookEndpoints, WebhookSecret,
};
use tariff_persistence::testing::{execute_sql, TestDatabase};
use tariff_persistence::{
    open_sealer, Database, DieselWebhookEndpoints, KeySource, PoolOptions, SealingKey,
};

/// The stored `secret` and `previous_secret` columns of endpoint `id`.
async fn stored_columns(db: &Database, id: i64) -> (String, Option<String>) {
    db.query(move |c| {
        let sql = format!("SELECT secret, previous_secret FROM webhook_endpoints WHERE id = {id}");
        Ok(c.load_raw_pair(&sql)?)
    })
    .await
    .unwrap()
}

/// How many rows the generated-key table holds.
async fn stored_keys(db: &Database) -> i64 {
    db.query(|c| Ok(c.count_raw("SELECT COUNT(*) AS n FROM webhook_sealing_key")?))
        .await
        .unwrap()
}

#[derive(QueryableByName)]
struct Pair {
    #[diesel(sql_type = diesel::sql_types::Text)]
    secret: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    previous_secret: Option<String>,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

trait RawReads {
    fn load_raw_pair(&mut self, sql: &str) -> QueryResult<(String, Option<String>)>;
    fn count_raw(&mut self, sql: &str) -> QueryResult<i64>;
}

impl RawReads for tariff_persistence::DbConn<'_> {
    fn load_raw_pair(&mut self, sql: &str) -> QueryResult<(String, Option<String>)> {
        let row: Pair = self.get_result(diesel::sql_query(sql))?;
        Ok((row.secret, row.previous_secret))
    }

    fn count_raw(&mut self, sql: &str) -> QueryResult<i64> {
        let row: Count = self.get_result(diesel::sql_query(sql))?;
        Ok(row.n)
    }
}

#[tokio::test]
async fn secrets_are_sealed_at_rest_and_clear_rows_are_sealed_at_start() {
    for test_db in TestDatabase::all() {
        let backend = test_db.backend();
        let db = Database::connect(test_db.url(), &PoolOptions::default()).unwrap();
        db.migrate().await.unwrap();

        // A row written in clear, as stored before secrets were sealed.
        let legacy = WebhookSecret::generate();
        let legacy_text = legacy.expose();
        let now = Utc::now().naive_utc().format("%Y-%m-%d %H:%M:%S");
        execute_sql(
            &db,
            format!(
                "INSERT INTO webhook_endpoints (url, events, description, enabled, secret, \
                 previous_secret, previous_signs_until, created_at, updated_at) VALUES \
                 ('http://127.0.0.1:9/old', '[\"*\"]', NULL, TRUE, '{legacy_text}', NULL, NULL, \
                 '{now}', '{now}')"
            ),
        )
        .await
        .unwrap();

        // First start without a configured key: a key is generated and kept, the clear
        // row is sealed with it.
        let (sealer, report) = open_sealer(&db, None).await.unwrap();
        assert_eq!(report.source, KeySource::Stored, "{backend:?}");
        assert_eq!(report.resealed, 1, "{backend:?}");
        assert_eq!(stored_keys(&db).await, 1, "{backend:?}");
        let endpoints = DieselWebhookEndpoints::new(db.clone(), sealer.clone());
        let listed = endpoints
            .list(tariff_domain::PageRequest::default())
            .await
            .unwrap();
        let old = listed.items[0].clone();
        assert_eq!(
            old.keys().current(),
            &legacy,
            "{backend:?}: the clear secret survives"
        );
        let (column, _) = stored_columns(&db, old.id().get()).await;
        assert!(column.starts_with("sealed:v1:"), "{backend:?}: {column}");
        assert!(!column.contains(&legacy_text[6..]), "{backend:?}");

        // A new endpoint and a rotation: both secrets are sealed, both open.
        let spec = EndpointSpec::new("http://127.0.0.1:9/new", &["*"], None, None).unwrap();
        let first = WebhookSecret::generate();
        let created = endpoints
            .create(spec, SigningKeys::new(first.clone()), Utc::now())
            .await
            .unwrap();
        let second = WebhookSecret::generate();
        let rotated = endpoints
            .rotate_secret(
                created.id(),
                second.clone(),
                Utc::now(),
                TimeDelta::hours(24),
            )
            .await
            .unwrap();
        assert_eq!(
            rotated.keys().active(Utc::now()),
            vec![second.clone(), first.clone()],
            "{backend:?}: both secrets sign during the rotation"
        );
        let (current, previous) = stored_columns(&db, created.id().get()).await;
        let previous = previous.unwrap();
        for (column, secret) in [(&current, &second), (&previous, &first)] {
            assert!(column.starts_with("sealed:v1:"), "{backend:?}");
            assert!(!column.contains(&secret.expose()[6..]), "{backend:?}");
        }

        // A second start: nothing left to seal.
        let (_, again) = open_sealer(&db, None).await.unwrap();
        assert_eq!(again.resealed, 0, "{backend:?}");

        // An operator sets webhooks.encryption_key: every secret is sealed again with it
        // and the generated key is dropped from the database.
        let configured = SealingKey::generate().unwrap();
        let (taken_over, report) = open_sealer(&db, Some(configured.clone())).await.unwrap();
        assert_eq!(report.source, KeySource::Configured, "{backend:?}");
        assert_eq!(report.resealed, 3, "{backend:?}");
        assert!(report.dropped_stored_key, "{backend:?}");
        assert_eq!(stored_keys(&db).await, 0, "{backend:?}");
        let (current, previous) = stored_columns(&db, created.id().get()).await;
        assert!(taken_over.is_current(&current), "{backend:?}");
        assert!(
            taken_over.is_current(previous.as_deref().unwrap()),
            "{backend:?}"
        );
        let endpoints = DieselWebhookEndpoints::new(db.clone(), taken_over.clone());
        let read = endpoints.get(created.id()).await.unwrap();
        assert_eq!(read.keys(), rotated.keys(), "{backend:?}");

        // The generated key is gone: the old sealer cannot open what the configured key
        // sealed, and an instance with another key is refused rather than signing wrong.
        assert!(sealer.open(&current).is_err(), "{backend:?}");
        let stranger: Arc<dyn SecretSealer> =
            open_sealer(&db, Some(configured.clone())).await.unwrap().0;
        assert!(stranger.open(&current).is_ok(), "{backend:?}");
        let other = SealingKey::generate().unwrap();
        let refused = open_sealer(&db, Some(other)).await;
        assert!(
            refused.is_err(),
            "{backend:?}: a key that opens nothing is refused"
        );
    }
}
