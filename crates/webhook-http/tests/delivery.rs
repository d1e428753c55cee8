//! The delivery worker with the real HTTP transport and real receivers on port 0 (the
//! outbox is a simple in-memory fake: the database outbox is tested in persistence).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

#[path = "../../domain/tests/support/fake_outbox.rs"]
mod fake_outbox;
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use fake_outbox::FakeOutbox;
use support::receiver::{Mode, Receiver};
use tariff_domain::webhooks::{
    DeliveryId, DeliveryStatus, DeliveryWorker, EndpointId, EndpointUrl, Envelope, EventId,
    EventType, InstanceId, RetrySchedule, Sequence, SigningKeys, WebhookSecret, WorkerReport,
    WorkerSettings,
};
use tariff_domain::{AccountRef, SystemClock, UserId};
use tariff_webhook_http::HttpTransport;
use tokio::sync::watch;

struct Panel {
    id: EndpointId,
    url: EndpointUrl,
    keys: SigningKeys,
    receiver: Receiver,
}

async fn panel(id: i64, mode: Mode) -> Panel {
    let secret = WebhookSecret::generate();
    let receiver = Receiver::start(vec![secret.clone()], mode).await;
    Panel {
        id: EndpointId::new(id).unwrap(),
        url: EndpointUrl::parse(&receiver.url()).unwrap(),
        keys: SigningKeys::new(secret),
        receiver,
    }
}

/// Stores `n` events of one account, sequences 1..=n, for `panel`.
fn store_events(outbox: &FakeOutbox, panel: &Panel, n: u64) -> Vec<DeliveryId> {
    (1..=n)
        .map(|sequence| {
            let envelope = Envelope::new(
                EventId::generate(),
                EventType::AccountPlanChanged,
                Utc::now(),
                Some(AccountRef::User(UserId::new(7).unwrap())),
                Sequence::new(sequence).unwrap(),
                serde_json::json!({"plan": {"id": 2}, "limits": {}, "order": null}),
            )
            .unwrap();
            outbox.enqueue(
                panel.id,
                &panel.url,
                &panel.keys,
                envelope.id().clone(),
                envelope.event_type(),
                envelope.to_body(),
            )
        })
        .collect()
}

fn start(
    outbox: &Arc<FakeOutbox>,
    schedule: &str,
) -> (watch::Sender<bool>, tokio::task::JoinHandle<WorkerReport>) {
    let worker = DeliveryWorker::new(
        outbox.clone(),
        Arc::new(HttpTransport::new().unwrap()),
        Arc::new(SystemClock),
        schedule.parse::<RetrySchedule>().unwrap(),
        WorkerSettings {
            timeout: Duration::from_secs(5),
            max_in_flight: 32,
            per_endpoint: 4,
            poll_interval: Duration::from_millis(10),
            lease_margin: Duration::from_secs(5),
            requeue_interval: Duration::from_secs(1),
            shutdown_grace: Duration::from_millis(100),
        },
        InstanceId::generate("test"),
    );
    let (stop, signal) = watch::channel(false);
    (stop, tokio::spawn(async move { worker.run(signal).await }))
}

async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn all(outbox: &FakeOutbox, ids: &[DeliveryId], status: DeliveryStatus) -> bool {
    ids.iter()
        .all(|id| outbox.row(*id).delivery.status == status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_a_real_receiver_signed_and_in_a_sequence_it_can_order() {
    let outbox = Arc::new(FakeOutbox::new());
    let panel = panel(1, Mode::Accept).await;
    let ids = store_events(&outbox, &panel, 12);
    let (stop, worker) = start(&outbox, "100ms");

    wait_until("all are delivered", Duration::from_secs(10), || {
        all(&outbox, &ids, DeliveryStatus::Delivered)
    })
    .await;
    stop.send(true).unwrap();
    assert_eq!(worker.await.unwrap().delivered, 12);

    let got = panel.receiver.received();
    assert_eq!(got.len(), 12);
    assert!(got.iter().all(|r| r.verified));
    let mut sequences: Vec<u64> = got
        .iter()
        .map(|r| r.json()["sequence"].as_u64().unwrap())
        .collect();
    sequences.sort_unstable();
    assert_eq!(
        sequences,
        (1..=12).collect::<Vec<_>>(),
        "every event once; sequence orders them"
    );
    for r in &got {
        assert_eq!(
            r.header("webhook-id").unwrap(),
            r.json()["id"].as_str().unwrap()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_failing_on_demand_gets_the_same_event_until_it_accepts() {
    let outbox = Arc::new(FakeOutbox::new());
    let panel = panel(1, Mode::FailNext(2)).await;
    let ids = store_events(&outbox, &panel, 1);
    let (stop, worker) = start(&outbox, "100ms,100ms,100ms");

    wait_until("it is delivered", Duration::from_secs(10), || {
        all(&outbox, &ids, DeliveryStatus::Delivered)
    })
    .await;
    stop.send(true).unwrap();
    worker.await.unwrap();

    let got = panel.receiver.received();
    assert_eq!(
        got.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![503, 503, 200]
    );
    assert!(got.iter().all(|r| r.verified
        && r.body == got[0].body
        && r.header("webhook-id") == got[0].header("webhook-id")));
    let row = outbox.row(ids[0]);
    assert_eq!(row.delivery.attempts, 3);
    assert_eq!(row.records[0].error.as_deref(), Some("HTTP 503: try later"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_receiver_does_not_delay_another_endpoint() {
    let outbox = Arc::new(FakeOutbox::new());
    let slow = panel(1, Mode::Slow(Duration::from_secs(4))).await;
    let fast = panel(2, Mode::Accept).await;
    let slow_ids = store_events(&outbox, &slow, 10);
    let fast_ids = store_events(&outbox, &fast, 10);
    let started = Instant::now();
    let (stop, worker) = start(&outbox, "1s");

    wait_until(
        "the fast endpoint has everything",
        Duration::from_secs(10),
        || all(&outbox, &fast_ids, DeliveryStatus::Delivered),
    )
    .await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(2500),
        "the fast endpoint waited {took:?}"
    );
    assert!(
        all(&outbox, &slow_ids, DeliveryStatus::Pending),
        "the slow endpoint is still answering"
    );
    stop.send(true).unwrap();
    let report = worker.await.unwrap();
    assert!(
        report.released >= 1,
        "stuck attempts were released at shutdown: {report:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_for_the_whole_schedule_ends_failed_and_others_are_unaffected() {
    let outbox = Arc::new(FakeOutbox::new());
    let down = panel(
        1,
        Mode::Answer {
            status: 500,
            body: "down".into(),
        },
    )
    .await;
    let up = panel(2, Mode::Accept).await;
    let down_ids = store_events(&outbox, &down, 2);
    let up_ids = store_events(&outbox, &up, 2);
    let (stop, worker) = start(&outbox, "50ms,50ms");

    wait_until("both settle", Duration::from_secs(10), || {
        all(&outbox, &down_ids, DeliveryStatus::Failed)
            && all(&outbox, &up_ids, DeliveryStatus::Delivered)
    })
    .await;
    stop.send(true).unwrap();
    let report = worker.await.unwrap();

    assert_eq!(report.failed, 2);
    assert_eq!(report.delivered, 2);
    for id in down_ids {
        let row = outbox.row(id);
        assert_eq!(row.delivery.attempts, 3);
        assert_eq!(row.delivery.last_status_code, Some(500));
        assert_eq!(row.delivery.last_error.as_deref(), Some("HTTP 500: down"));
    }
}
