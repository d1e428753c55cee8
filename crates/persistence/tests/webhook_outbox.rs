//! The webhook outbox against real databases (SQLite always, PostgreSQL when
//! `TEST_DATABASE_URL` is set): events stored in the caller's transaction (and rolled
//! back with it), per-stream sequences, fan-out to the endpoints that want an event,
//! claims under a lease that no second claim takes, lease tokens checked on record,
//! requeue of expired leases, redelivery refused while an attempt runs, claims that top
//! an endpoint up to its share, and several outcomes recorded in one call.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use tariff_domain::webhooks::{
    AttemptRecord, ClaimRequest, DeliveryStatus, EndpointSpec, EventDraft, EventType, InstanceId,
    LeaseToken, NextStep, OutboxError, OutboxStore, SigningKeys, WebhookEndpoints, WebhookSecret,
};
use tariff_domain::{AccountRef, PageRequest, RepoError, UserId};
use tariff_persistence::errors::DbError;
use tariff_persistence::testing::TestDatabase;
use tariff_persistence::{
    open_sealer, store_event, Database, DieselOutbox, DieselWebhookEndpoints, PoolOptions,
};

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
}

async fn emit(
    db: &Database,
    event: EventType,
    account: Option<AccountRef>,
    now: DateTime<Utc>,
) -> u64 {
    let draft = EventDraft::new(event, account, serde_json::json!({"n": 1})).unwrap();
    db.write(move |conn| conn.write_transaction(|c| store_event(c, draft, now)))
        .await
        .unwrap()
        .sequence()
        .get()
}

fn claim(holder: &str, now: DateTime<Utc>, limit: u32, per_endpoint: u32) -> ClaimRequest {
    ClaimRequest {
        holder: InstanceId::generate(holder),
        token: LeaseToken::generate(),
        now,
        lease_until: now + TimeDelta::seconds(40),
        limit,
        per_endpoint,
        held: Vec::new(),
    }
}

#[tokio::test]
async fn the_outbox_keeps_its_promises() {
    for test_db in TestDatabase::all() {
        let backend = test_db.backend();
        let db = Database::connect(test_db.url(), &PoolOptions::default()).unwrap();
        db.migrate().await.unwrap();
        let (sealer, _) = open_sealer(&db, None).await.unwrap();
        let endpoints = DieselWebhookEndpoints::new(db.clone(), sealer.clone());
        let outbox = DieselOutbox::new(db.clone(), sealer);
        let spec = |events: &[&str], enabled| {
            EndpointSpec::new("http://127.0.0.1:9/hook", events, None, Some(enabled)).unwrap()
        };
        let keys = || SigningKeys::new(WebhookSecret::generate());
        let all = endpoints
            .create(spec(&["*"], true), keys(), at(0))
            .await
            .unwrap();
        let plans_only = endpoints
            .create(spec(&["plan.created"], true), keys(), at(0))
            .await
            .unwrap();
        endpoints
            .create(spec(&["*"], false), keys(), at(0))
            .await
            .unwrap();

        // Sequences per stream; deliveries only where wanted and enabled.
        let user = Some(AccountRef::User(UserId::new(7).unwrap()));
        assert_eq!(emit(&db, EventType::OrderCreated, user, at(1)).await, 1);
        assert_eq!(emit(&db, EventType::OrderActivated, user, at(2)).await, 2);
        assert_eq!(emit(&db, EventType::PlanCreated, None, at(3)).await, 1);
        let stats = outbox.queue_stats().await.unwrap();
        assert_eq!(stats.pending, 4, "{backend:?}: 3 to `*`, 1 to plan.created");
        assert_eq!(stats.oldest_pending_created_at, Some(at(1)));

        // A transaction that fails after storing an event leaves nothing behind.
        let draft = EventDraft::new(EventType::PlanDeleted, None, serde_json::json!({})).unwrap();
        let failed = db
            .write(move |conn| {
                conn.write_transaction(|c| {
                    store_event(c, draft, at(4))?;
                    Err::<(), _>(DbError::Repo(RepoError::internal("the change failed")))
                })
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(
            outbox.queue_stats().await.unwrap().pending,
            4,
            "{backend:?}"
        );

        // Claims one after another: disjoint; at most one per endpoint each.
        let first = outbox.claim_due(claim("a", at(10), 10, 1)).await.unwrap();
        let second = outbox.claim_due(claim("b", at(10), 10, 1)).await.unwrap();
        assert_eq!(first.len(), 2, "{backend:?}: one per endpoint");
        assert_eq!(
            second.len(),
            1,
            "{backend:?}: only the `*` endpoint has more"
        );
        let first_ids: HashSet<_> = first.iter().map(|c| c.lease.delivery).collect();
        assert!(
            second
                .iter()
                .all(|c| !first_ids.contains(&c.lease.delivery)),
            "{backend:?}"
        );
        let third = outbox.claim_due(claim("c", at(10), 10, 10)).await.unwrap();
        assert_eq!(third.len(), 1, "{backend:?}");
        assert!(!first_ids.contains(&third[0].lease.delivery));
        assert_ne!(third[0].lease.delivery, second[0].lease.delivery);
        assert!(
            outbox
                .claim_due(claim("d", at(10), 10, 10))
                .await
                .unwrap()
                .is_empty(),
            "{backend:?}: all four leased"
        );
        assert!(first
            .iter()
            .chain(&second)
            .chain(&third)
            .all(|c| c.series_attempt == 1 && c.body.contains("\"sequence\"")));

        // A wrong token writes nothing; the right one records.
        let held = &first[0];
        let retry = AttemptRecord {
            attempted_at: at(10),
            status_code: Some(500),
            error: Some("HTTP 500".into()),
            next: NextStep::RetryAt(at(20)),
        };
        let mut forged = held.lease.clone();
        forged.token = LeaseToken::generate();
        assert!(matches!(
            outbox.record_outcome(forged, retry.clone()).await,
            Err(OutboxError::LeaseLost)
        ));
        assert!(matches!(
            outbox.redeliver(held.lease.delivery, at(11)).await,
            Err(OutboxError::InFlight)
        ));
        outbox
            .record_outcome(held.lease.clone(), retry.clone())
            .await
            .unwrap();
        assert!(
            matches!(
                outbox.record_outcome(held.lease.clone(), retry).await,
                Err(OutboxError::LeaseLost)
            ),
            "the lease ended"
        );

        // Not due before its retry time; due after it, as attempt 2 of the series.
        assert!(outbox
            .claim_due(claim("d", at(15), 10, 10))
            .await
            .unwrap()
            .is_empty());
        // The other leases expire; requeued, they are due again at once.
        assert_eq!(
            outbox.requeue_expired_leases(at(60)).await.unwrap(),
            3,
            "{backend:?}"
        );
        let again = outbox.claim_due(claim("e", at(60), 10, 10)).await.unwrap();
        assert_eq!(again.len(), 4, "{backend:?}");
        let retried = again
            .iter()
            .find(|c| c.lease.delivery == held.lease.delivery)
            .unwrap();
        assert_eq!(retried.series_attempt, 2);
        for claimed in &again {
            outbox
                .record_outcome(
                    claimed.lease.clone(),
                    AttemptRecord {
                        attempted_at: at(60),
                        status_code: Some(204),
                        error: None,
                        next: NextStep::Delivered { at: at(61) },
                    },
                )
                .await
                .unwrap();
        }
        assert_eq!(outbox.queue_stats().await.unwrap().pending, 0);

        // The log: newest first, with counts; redelivery restarts a series.
        let log = outbox
            .list_deliveries(all.id(), PageRequest::new(1, 10).unwrap())
            .await
            .unwrap();
        assert_eq!(log.total, 3);
        let types: Vec<EventType> = log.items.iter().map(|d| d.event_type).collect();
        assert_eq!(
            types,
            [
                EventType::PlanCreated,
                EventType::OrderActivated,
                EventType::OrderCreated
            ],
            "{backend:?}"
        );
        let log = outbox
            .list_deliveries(plans_only.id(), PageRequest::new(1, 10).unwrap())
            .await
            .unwrap();
        assert_eq!(log.total, 1);
        let redelivered = outbox.redeliver(log.items[0].id, at(70)).await.unwrap();
        assert_eq!(redelivered.status, DeliveryStatus::Pending);
        assert_eq!(redelivered.attempts, 1);
        let once_more = outbox.claim_due(claim("f", at(70), 10, 10)).await.unwrap();
        assert_eq!(once_more.len(), 1);
        assert_eq!(once_more[0].series_attempt, 1);
    }
}

#[tokio::test]
async fn a_claim_tops_an_endpoint_up_and_outcomes_are_recorded_together() {
    for test_db in TestDatabase::all() {
        let backend = test_db.backend();
        let db = Database::connect(test_db.url(), &PoolOptions::default()).unwrap();
        db.migrate().await.unwrap();
        let (sealer, _) = open_sealer(&db, None).await.unwrap();
        let endpoints = DieselWebhookEndpoints::new(db.clone(), sealer.clone());
        let outbox = DieselOutbox::new(db.clone(), sealer);
        let spec = EndpointSpec::new("http://127.0.0.1:9/hook", &["*"], None, Some(true)).unwrap();
        let panel = endpoints
            .create(spec, SigningKeys::new(WebhookSecret::generate()), at(0))
            .await
            .unwrap();
        for n in 1..=5 {
            emit(&db, EventType::PlanCreated, None, at(n)).await;
        }

        // A worker holding 3 of an endpoint whose share is 3 gets none more; holding 1,
        // it gets 2 more.
        let first = outbox.claim_due(claim("a", at(10), 10, 3)).await.unwrap();
        assert_eq!(first.len(), 3, "{backend:?}");
        let mut full = claim("a", at(10), 10, 3);
        full.held = vec![(panel.id(), 3)];
        assert!(
            outbox.claim_due(full).await.unwrap().is_empty(),
            "{backend:?}"
        );
        let mut topped_up = claim("a", at(10), 10, 3);
        topped_up.held = vec![(panel.id(), 1)];
        let more = outbox.claim_due(topped_up).await.unwrap();
        assert_eq!(more.len(), 2, "{backend:?}: the rest, within the share");
        let first_ids: HashSet<_> = first.iter().map(|c| c.lease.delivery).collect();
        assert!(more.iter().all(|c| !first_ids.contains(&c.lease.delivery)));

        // One call records several outcomes; one whose lease is not held is refused
        // alone.
        let delivered = AttemptRecord {
            attempted_at: at(11),
            status_code: Some(204),
            error: None,
            next: NextStep::Delivered { at: at(11) },
        };
        let retry = AttemptRecord {
            attempted_at: at(11),
            status_code: Some(500),
            error: Some("HTTP 500".into()),
            next: NextStep::RetryAt(at(30)),
        };
        let mut forged = first[1].lease.clone();
        forged.token = LeaseToken::generate();
        let results = outbox
            .record_outcomes(vec![
                (first[0].lease.clone(), delivered.clone()),
                (forged, delivered.clone()),
                (first[2].lease.clone(), retry),
                (more[0].lease.clone(), delivered.clone()),
            ])
            .await
            .unwrap();
        assert_eq!(results.len(), 4);
        assert!(results[0].is_ok() && results[2].is_ok() && results[3].is_ok());
        assert!(
            matches!(results[1], Err(OutboxError::LeaseLost)),
            "{backend:?}"
        );
        assert!(outbox.record_outcomes(Vec::new()).await.unwrap().is_empty());

        let log = outbox
            .list_deliveries(panel.id(), PageRequest::new(1, 10).unwrap())
            .await
            .unwrap();
        let by_id = |id| log.items.iter().find(|d| d.id == id).unwrap();
        assert_eq!(
            by_id(first[0].lease.delivery).status,
            DeliveryStatus::Delivered
        );
        assert_eq!(
            by_id(more[0].lease.delivery).status,
            DeliveryStatus::Delivered
        );
        let retried = by_id(first[2].lease.delivery);
        assert_eq!(retried.status, DeliveryStatus::Pending);
        assert_eq!(retried.attempts, 1);
        assert_eq!(retried.next_attempt_at, Some(at(30)));
        let untouched = by_id(first[1].lease.delivery);
        assert_eq!(untouched.status, DeliveryStatus::Pending);
        assert_eq!(
            untouched.attempts, 0,
            "{backend:?}: the refused outcome wrote nothing"
        );
        // Still leased to its real holder: not claimable.
        assert!(outbox
            .claim_due(claim("b", at(12), 10, 10))
            .await
            .unwrap()
            .is_empty());
        // Its holder records it with the right token afterwards.
        outbox
            .record_outcome(first[1].lease.clone(), delivered)
            .await
            .unwrap();
    }
}
