//! The delivery worker's scheduling logic, against a simple in-memory outbox and a
//! scripted transport: retries along the schedule, per-endpoint isolation, graceful
//! shutdown, lost leases and redelivery. The real outbox and the real HTTP transport
//! are tested in their own crates.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{TimeDelta, Utc};
use support::fake_outbox::FakeOutbox;
use tariff_domain::webhooks::{
    verify, DeliveryId, DeliveryStatus, DeliveryWorker, EndpointId, EndpointUrl, EventId,
    EventType, InstanceId, OutboxStore, OutgoingRequest, RetrySchedule, SigningKeys,
    TransportError, TransportResponse, WebhookSecret, WebhookTransport, WorkerReport,
    WorkerSettings,
};
use tariff_domain::{PageRequest, SystemClock};
use tokio::sync::{watch, Notify};

/// How the scripted receiver behind one URL answers.
#[derive(Clone)]
enum Script {
    Answer(u16),
    /// Fails with 503 this many times, then answers 200.
    FailTimes(u32),
    /// Answers 200 after this long.
    Slow(Duration),
    /// Waits until notified, then answers 200.
    Gate(Arc<Notify>),
    /// The first call waits until notified; the others answer 200 at once.
    FirstWaits(Arc<Notify>),
    Refuse,
}

#[derive(Clone, Debug)]
struct Sent {
    url: String,
    request: OutgoingRequest,
    at: Instant,
}

#[derive(Default)]
struct ScriptedTransport {
    scripts: Mutex<HashMap<String, Script>>,
    calls: Mutex<HashMap<String, u32>>,
    sent: Mutex<Vec<Sent>>,
    in_flight: Mutex<HashMap<String, u32>>,
    peak_in_flight: Mutex<HashMap<String, u32>>,
}

impl ScriptedTransport {
    fn script(&self, url: &str, script: Script) {
        self.scripts.lock().unwrap().insert(url.to_owned(), script);
    }

    fn sent_to(&self, url: &str) -> Vec<Sent> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.url == url)
            .cloned()
            .collect()
    }

    fn peak(&self, url: &str) -> u32 {
        self.peak_in_flight
            .lock()
            .unwrap()
            .get(url)
            .copied()
            .unwrap_or(0)
    }
}

#[async_trait]
impl WebhookTransport for ScriptedTransport {
    async fn post(&self, request: OutgoingRequest) -> Result<TransportResponse, TransportError> {
        let url = request.url.as_str().to_owned();
        self.sent.lock().unwrap().push(Sent {
            url: url.clone(),
            request: request.clone(),
            at: Instant::now(),
        });
        let call = {
            let mut calls = self.calls.lock().unwrap();
            let count = calls.entry(url.clone()).or_insert(0);
            *count += 1;
            *count
        };
        {
            let mut in_flight = self.in_flight.lock().unwrap();
            let now = in_flight.entry(url.clone()).or_insert(0);
            *now += 1;
            let mut peak = self.peak_in_flight.lock().unwrap();
            let top = peak.entry(url.clone()).or_insert(0);
            *top = (*top).max(*now);
        }
        let script = self
            .scripts
            .lock()
            .unwrap()
            .get(&url)
            .cloned()
            .unwrap_or(Script::Answer(200));
        let result = match script {
            Script::Answer(status) => Ok(status),
            Script::FailTimes(n) if call <= n => Ok(503),
            Script::FailTimes(_) => Ok(200),
            Script::Slow(delay) => {
                tokio::time::sleep(delay).await;
                Ok(200)
            }
            Script::Gate(gate) => {
                gate.notified().await;
                Ok(200)
            }
            Script::FirstWaits(gate) if call == 1 => {
                gate.notified().await;
                Ok(200)
            }
            Script::FirstWaits(_) => Ok(200),
            Script::Refuse => Err(TransportError::Connect("connection refused".into())),
        };
        *self.in_flight.lock().unwrap().get_mut(&url).unwrap() -= 1;
        result.map(|status| TransportResponse {
            status,
            body_excerpt: format!("status {status}"),
        })
    }
}

struct Endpoint {
    id: EndpointId,
    url: EndpointUrl,
    secret: WebhookSecret,
    keys: SigningKeys,
}

fn endpoint(id: i64, url: &str) -> Endpoint {
    let secret = WebhookSecret::generate();
    Endpoint {
        id: EndpointId::new(id).unwrap(),
        url: EndpointUrl::parse(url).unwrap(),
        keys: SigningKeys::new(secret.clone()),
        secret,
    }
}

fn enqueue(outbox: &FakeOutbox, to: &Endpoint, n: usize) -> Vec<DeliveryId> {
    (0..n)
        .map(|i| {
            let id = EventId::generate();
            let body = format!(
                r#"{{"id":"{id}","type":"order.created","sequence":{}}}"#,
                i + 1
            );
            outbox.enqueue(to.id, &to.url, &to.keys, id, EventType::OrderCreated, body)
        })
        .collect()
}

fn settings() -> WorkerSettings {
    WorkerSettings {
        timeout: Duration::from_secs(5),
        max_in_flight: 16,
        per_endpoint: 4,
        poll_interval: Duration::from_millis(10),
        lease_margin: Duration::from_secs(5),
        requeue_interval: Duration::from_millis(50),
        shutdown_grace: Duration::from_millis(200),
    }
}

struct Running {
    stop: watch::Sender<bool>,
    handle: tokio::task::JoinHandle<WorkerReport>,
}

impl Running {
    async fn stop(self) -> WorkerReport {
        self.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.handle)
            .await
            .unwrap()
            .unwrap()
    }
}

fn start(
    outbox: &Arc<FakeOutbox>,
    transport: &Arc<ScriptedTransport>,
    schedule: &str,
    settings: WorkerSettings,
) -> Running {
    let worker = DeliveryWorker::new(
        outbox.clone(),
        transport.clone(),
        Arc::new(SystemClock),
        schedule.parse::<RetrySchedule>().unwrap(),
        settings,
        InstanceId::generate("test"),
    );
    let (stop, signal) = watch::channel(false);
    let handle = tokio::spawn(async move { worker.run(signal).await });
    Running { stop, handle }
}

async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn status(outbox: &FakeOutbox, id: DeliveryId) -> DeliveryStatus {
    outbox.row(id).delivery.status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_each_event_once_signed_with_the_endpoint_secret() {
    let outbox = Arc::new(FakeOutbox::new());
    let transport = Arc::new(ScriptedTransport::default());
    let panel = endpoint(1, "http://panel.test/hooks");
    let ids = enqueue(&outbox, &panel, 5);
    let running = start(&outbox, &transport, "1s", settings());

    wait_until("all are delivered", Duration::from_secs(5), || {
        ids.iter()
            .all(|id| status(&outbox, *id) == DeliveryStatus::Delivered)
    })
    .await;
    let report = running.stop().await;

    assert_eq!(report.delivered, 5);
    let sent = transport.sent_to(panel.url.as_str());
    assert_eq!(sent.len(), 5, "each event is sent once");
    for id in &ids {
        let row = outbox.row(*id);
        assert_eq!(row.delivery.attempts, 1);
        assert_eq!(row.delivery.last_status_code, Some(200));
        assert_eq!(row.delivery.last_error, None);
        assert!(row.delivery.delivered_at.is_some());
        let request = &sent
            .iter()
            .find(|s| s.request.headers.id == row.delivery.event_id.as_str())
            .unwrap()
            .request;
        assert_eq!(
            request.body, row.body,
            "the stored body is sent byte for byte"
        );
        verify(
            &panel.secret,
            &request.headers,
            request.body.as_bytes(),
            Utc::now(),
            TimeDelta::minutes(5),
        )
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_endpoint_is_retried_along_the_schedule_then_marked_failed() {
    let outbox = Arc::new(FakeOutbox::new());
    let transport = Arc::new(ScriptedTransport::default());
    let down = endpoint(1, "http://down.test/hooks");
    transport.script(down.url.as_str(), Script::Answer(500));
    let [id] = enqueue(&outbox, &down, 1)[..] else {
        unreachable!()
    };
    let running = start(&outbox, &transport, "100ms,100ms,200ms", settings());

    wait_until("the delivery fails", Duration::from_secs(5), || {
        status(&outbox, id) == DeliveryStatus::Failed
    })
    .await;
    let report = running.stop().await;

    let row = outbox.row(id);
    assert_eq!(row.delivery.attempts, 4, "three delays: four attempts");
    assert_eq!(row.delivery.last_status_code, Some(500));
    assert_eq!(
        row.delivery.last_error.as_deref(),
        Some("HTTP 500: status 500")
    );
    assert_eq!(row.delivery.next_attempt_at, None);
    assert_eq!((report.retrying, report.failed), (3, 1));

    let sent = transport.sent_to(down.url.as_str());
    assert_eq!(sent.len(), 4);
    let gaps: Vec<Duration> = sent.windows(2).map(|w| w[1].at - w[0].at).collect();
    for (gap, delay) in gaps.iter().zip([100, 100, 200]) {
        assert!(
            *gap >= Duration::from_millis(delay),
            "attempts waited {gaps:?}"
        );
    }
    let ids: Vec<&str> = sent.iter().map(|s| s.request.headers.id.as_str()).collect();
    assert!(
        ids.iter().all(|i| *i == row.delivery.event_id.as_str()),
        "the same webhook-id on every attempt"
    );
    assert!(
        sent.iter().all(|s| s.request.body == row.body),
        "the same body on every attempt"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_comes_back_gets_the_event_and_errors_are_kept() {
    let outbox = Arc::new(FakeOutbox::new());
    let transport = Arc::new(ScriptedTransport::default());
    let flaky = endpoint(1, "http://flaky.test/hooks");
    let gone = endpoint(2, "http://gone.test/hooks");
    transport.script(flaky.url.as_str(), Script::FailTimes(2));
    transport.script(gone.url.as_str(), Script::Refuse);
    let [flaky_id] = enqueue(&outbox, &flaky, 1)[..] else {
        unreachable!()
    };
    let [gone_id] = enqueue(&outbox, &gone, 1)[..] else {
        unreachable!()
    };
    let running = start(&outbox, &transport, "50ms,50ms", settings());

    wait_until("both settle", Duration::from_secs(5), || {
        status(&outbox, flaky_id) == DeliveryStatus::Delivered
            && status(&outbox, gone_id) == DeliveryStatus::Failed
    })
    .await;
    running.stop().await;

    let flaky_row = outbox.row(flaky_id);
    assert_eq!(flaky_row.delivery.attempts, 3);
    assert_eq!(flaky_row.records[0].status_code, Some(503));
    assert_eq!(flaky_row.delivery.last_status_code, Some(200));
    let gone_row = outbox.row(gone_id);
    assert_eq!(gone_row.delivery.attempts, 3);
    assert_eq!(gone_row.delivery.last_status_code, None);
    assert_eq!(
        gone_row.delivery.last_error.as_deref(),
        Some("could not connect: connection refused")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_endpoint_neither_delays_another_nor_takes_more_than_its_share() {
    let outbox = Arc::new(FakeOutbox::new());
    let transport = Arc::new(ScriptedTransport::default());
    let slow = endpoint(1, "http://slow.test/hooks");
    let fast = endpoint(2, "http://fast.test/hooks");
    transport.script(slow.url.as_str(), Script::Slow(Duration::from_millis(3000)));
    // The slow endpoint's events are older: due first.
    let slow_ids = enqueue(&outbox, &slow, 20);
    let fast_ids = enqueue(&outbox, &fast, 20);
    let started = Instant::now();
    let running = start(&outbox, &transport, "1s", settings());

    wait_until(
        "the fast endpoint has everything",
        Duration::from_secs(5),
        || {
            fast_ids
                .iter()
                .all(|id| status(&outbox, *id) == DeliveryStatus::Delivered)
        },
    )
    .await;
    let fast_done = started.elapsed();
    assert!(
        fast_done < Duration::from_millis(2000),
        "fast endpoint took {fast_done:?}"
    );
    assert!(
        slow_ids
            .iter()
            .all(|id| status(&outbox, *id) == DeliveryStatus::Pending),
        "the slow endpoint's first attempts are still running"
    );
    assert!(
        transport.peak(slow.url.as_str()) <= 4,
        "the slow endpoint holds at most per_endpoint slots"
    );
    running.stop.send(true).unwrap();
    running.handle.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_is_topped_up_as_attempts_end_without_waiting_for_the_slowest() {
    let outbox = Arc::new(FakeOutbox::new());
    let transport = Arc::new(ScriptedTransport::default());
    let panel = endpoint(1, "http://panel.test/hooks");
    let gate = Arc::new(Notify::new());
    transport.script(panel.url.as_str(), Script::FirstWaits(gate.clone()));
    // Three times per_endpoint: the first claim takes 4, the first of which hangs.
    let ids = enqueue(&outbox, &panel, 12);
    let mut slow_poll = settings();
    slow_poll.poll_interval = Duration::from_secs(60);
    let running = start(&outbox, &transport, "1s", slow_poll);

    let delivered = || {
        ids.iter()
            .filter(|id| status(&outbox, **id) == DeliveryStatus::Delivered)
            .count()
    };
    wait_until(
        "all but the hanging attempt are delivered",
        Duration::from_secs(5),
        || delivered() == 11,
    )
    .await;
    assert!(
        transport.peak(panel.url.as_str()) <= 4,
        "never more than per_endpoint at once"
    );
    gate.notify_waiters();
    wait_until("the last is delivered", Duration::from_secs(5), || {
        delivered() == 12
    })
    .await;
    let report = running.stop().await;
    assert_eq!(report.delivered, 12);
    assert_eq!(transport.sent_to(panel.url.as_str()).len(), 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcomes_that_end_together_are_recorded_together() {
    let outbox = Arc::new(FakeOutbox::new());
    let transport = Arc::new(ScriptedTransport::default());
    let panel = endpoint(1, "http://panel.test/hooks");
    let gate = Arc::new(Notify::new());
    transport.script(panel.url.as_str(), Script::Gate(gate.clone()));
    let ids = enqueue(&outbox, &panel, 4);
    let running = start(&outbox, &transport, "1s", settings());

    wait_until(
        "four attempts are in flight",
        Duration::from_secs(5),
        || transport.sent.lock().unwrap().len() == 4,
    )
    .await;
    // The outcome writer is held up by its first call: the other outcomes gather
    // meanwhile and go in one call.
    outbox.hold_writes();
    gate.notify_waiters();
    wait_until("a write is waiting", Duration::from_secs(5), || {
        outbox.waiting_writes() == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    outbox.release_writes();
    wait_until("all four are delivered", Duration::from_secs(5), || {
        ids.iter()
            .all(|id| status(&outbox, *id) == DeliveryStatus::Delivered)
    })
    .await;
    let report = running.stop().await;
    assert_eq!(report.delivered, 4);
    let batches = outbox.outcome_batches();
    assert_eq!(batches.iter().sum::<usize>(), 4, "{batches:?}");
    assert!(
        batches.len() <= 2,
        "the outcomes that ended during the first write share one: {batches:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_quick_attempts_and_releases_stuck_ones_uncounted() {
    let outbox = Arc::new(FakeOutbox::new());
    let transport = Arc::new(ScriptedTransport::default());
    let stuck = endpoint(1, "http://stuck.test/hooks");
    let quick = endpoint(2, "http://quick.test/hooks");
    let gate = Arc::new(Notify::new());
    transport.script(stuck.url.as_str(), Script::Gate(gate.clone()));
    transport.script(quick.url.as_str(), Script::Slow(Duration::from_millis(100)));
    let stuck_ids = enqueue(&outbox, &stuck, 3);
    let quick_ids = enqueue(&outbox, &quick, 2);
    let running = start(&outbox, &transport, "1s", settings());

    wait_until("all five are in flight", Duration::from_secs(5), || {
        transport.sent.lock().unwrap().len() == 5
    })
    .await;
    let report = running.stop().await;

    assert_eq!(
        report.delivered, 2,
        "in-flight attempts that end within the grace are recorded"
    );
    assert_eq!(report.released, 3);
    for id in quick_ids {
        assert_eq!(status(&outbox, id), DeliveryStatus::Delivered);
    }
    for id in stuck_ids {
        let row = outbox.row(id);
        assert_eq!(row.delivery.status, DeliveryStatus::Pending);
        assert_eq!(
            row.delivery.attempts, 0,
            "a released attempt is not counted"
        );
        assert!(
            row.lease.is_none(),
            "released: due again at once for any instance"
        );
    }
    gate.notify_waiters();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outcome_after_the_lease_was_lost_is_not_recorded() {
    let outbox = Arc::new(FakeOutbox::new());
    let transport = Arc::new(ScriptedTransport::default());
    let panel = endpoint(1, "http://panel.test/hooks");
    let gate = Arc::new(Notify::new());
    transport.script(panel.url.as_str(), Script::Gate(gate.clone()));
    let [id] = enqueue(&outbox, &panel, 1)[..] else {
        unreachable!()
    };
    let mut slow_settings = settings();
    slow_settings.poll_interval = Duration::from_secs(60);
    let running = start(&outbox, &transport, "1s", slow_settings);

    wait_until("the attempt is in flight", Duration::from_secs(5), || {
        transport.sent.lock().unwrap().len() == 1
    })
    .await;
    outbox.expire_leases();
    gate.notify_waiters();
    // The first attempt ends, its outcome is refused, and the delivery (due, unleased)
    // is claimed again: a second attempt of the same event.
    wait_until("the attempt is sent again", Duration::from_secs(5), || {
        transport.sent.lock().unwrap().len() == 2
    })
    .await;
    let report = running.stop().await;

    assert_eq!(report.lease_lost, 1);
    assert_eq!(report.delivered, 0);
    assert_eq!(
        report.released, 1,
        "the second attempt was still waiting at shutdown"
    );
    let row = outbox.row(id);
    assert_eq!(row.delivery.attempts, 0);
    assert!(row.records.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivery_sends_the_same_event_again_with_a_fresh_series() {
    let outbox = Arc::new(FakeOutbox::new());
    let transport = Arc::new(ScriptedTransport::default());
    let panel = endpoint(1, "http://panel.test/hooks");
    transport.script(panel.url.as_str(), Script::Answer(500));
    let [id] = enqueue(&outbox, &panel, 1)[..] else {
        unreachable!()
    };
    let running = start(&outbox, &transport, "50ms", settings());
    wait_until("it fails", Duration::from_secs(5), || {
        status(&outbox, id) == DeliveryStatus::Failed
    })
    .await;

    transport.script(panel.url.as_str(), Script::Answer(204));
    let redelivered = outbox.redeliver(id, Utc::now()).await.unwrap();
    assert_eq!(redelivered.status, DeliveryStatus::Pending);
    wait_until("it is delivered", Duration::from_secs(5), || {
        status(&outbox, id) == DeliveryStatus::Delivered
    })
    .await;
    running.stop().await;

    let row = outbox.row(id);
    assert_eq!(
        row.delivery.attempts, 3,
        "two failed attempts and the redelivery"
    );
    let sent = transport.sent_to(panel.url.as_str());
    assert_eq!(sent.len(), 3);
    assert!(sent
        .iter()
        .all(|s| s.request.headers.id == row.delivery.event_id.as_str()
            && s.request.body == row.body));
    let page = outbox
        .list_deliveries(panel.id, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(page.items[0].status, DeliveryStatus::Delivered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_a_rotation_attempts_carry_both_signatures() {
    let outbox = Arc::new(FakeOutbox::new());
    let transport = Arc::new(ScriptedTransport::default());
    let old = WebhookSecret::generate();
    let new = WebhookSecret::generate();
    let keys = SigningKeys::new(old.clone()).rotate(new.clone(), Utc::now(), TimeDelta::hours(1));
    let url = EndpointUrl::parse("http://panel.test/hooks").unwrap();
    let id = outbox.enqueue(
        EndpointId::new(1).unwrap(),
        &url,
        &keys,
        EventId::generate(),
        EventType::PlanCreated,
        "{}".into(),
    );
    let running = start(&outbox, &transport, "1s", settings());
    wait_until("it is delivered", Duration::from_secs(5), || {
        status(&outbox, id) == DeliveryStatus::Delivered
    })
    .await;
    running.stop().await;

    let sent = transport.sent_to(url.as_str());
    let headers = &sent[0].request.headers;
    assert_eq!(headers.signature.split(' ').count(), 2);
    for secret in [&old, &new] {
        verify(secret, headers, b"{}", Utc::now(), TimeDelta::minutes(5)).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wake_starts_delivery_before_the_next_poll_and_counts_are_live() {
    let outbox = Arc::new(FakeOutbox::new());
    let transport = Arc::new(ScriptedTransport::default());
    let panel = endpoint(1, "http://panel.test/hooks");
    let mut patient = settings();
    patient.poll_interval = Duration::from_secs(60);
    patient.requeue_interval = Duration::from_secs(60);
    let worker = DeliveryWorker::new(
        outbox.clone(),
        transport.clone(),
        Arc::new(SystemClock),
        "1s".parse::<RetrySchedule>().unwrap(),
        patient,
        InstanceId::generate("test"),
    );
    let (stop, signal) = watch::channel(false);
    let running = tokio::spawn({
        let worker = worker.clone();
        async move { worker.run(signal).await }
    });
    // Let the worker make its first (empty) claim and start waiting.
    tokio::time::sleep(Duration::from_millis(100)).await;

    let [id] = enqueue(&outbox, &panel, 1)[..] else {
        unreachable!()
    };
    worker.wake();
    wait_until("it is delivered", Duration::from_secs(5), || {
        status(&outbox, id) == DeliveryStatus::Delivered
    })
    .await;
    assert_eq!(worker.report().delivered, 1, "counted while running");
    stop.send(true).unwrap();
    assert_eq!(running.await.unwrap().delivered, 1);
}
