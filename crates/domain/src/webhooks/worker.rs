//! The delivery worker: one per instance. It claims due attempts from the outbox under
//! a lease, sends each in its own task, records the outcome and the next step, and on
//! shutdown finishes or releases what it holds.
//!
//! Isolation: a claim takes of each endpoint at most `per_endpoint` minus the attempts
//! of that endpoint already in flight on this worker, so a slow or dead endpoint holds
//! at most that many of the worker's slots and never delays another endpoint's
//! deliveries.
//!
//! Flow: the worker tops its attempts up as they end (every few ended attempts, or at
//! once while few are in flight) instead of waiting for a whole batch. Outcomes go to
//! one outcome writer, which records all those waiting in one call (one transaction):
//! while it writes, the next outcomes gather, so many deliveries share a commit. An
//! attempt holds its slot and its lease until its outcome is written; if the process
//! dies before that, the lease expires and the attempt runs again (at least once).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::task::{Id as TaskId, JoinError, JoinHandle, JoinSet};

use super::delivery::{AttemptOutcome, NextStep};
use super::endpoint::EndpointId;
use super::ports::{
    AttemptRecord, ClaimRequest, ClaimedAttempt, InstanceId, Lease, LeaseToken, OutboxError,
    OutboxStore, OutgoingRequest, TransportError, WebhookTransport,
};
use super::retry::RetrySchedule;
use super::signature::sign;
use crate::Clock;

/// How the worker paces itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerSettings {
    /// `webhooks.timeout_ms`: the longest one attempt may take.
    pub timeout: Duration,
    /// The most attempts in flight at once on this instance.
    pub max_in_flight: u32,
    /// The most attempts in flight at once for one endpoint on this instance.
    pub per_endpoint: u32,
    /// How long to wait before looking again when nothing was due.
    pub poll_interval: Duration,
    /// A lease lasts the timeout plus this margin, so that an attempt always ends (and
    /// is recorded) before another instance may take it over.
    pub lease_margin: Duration,
    /// How often expired leases (of instances that died) are requeued.
    pub requeue_interval: Duration,
    /// At shutdown, how long in-flight attempts may still run before being released.
    pub shutdown_grace: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            timeout: Duration::from_millis(10_000),
            max_in_flight: 64,
            // Half the instance's slots: a dead endpoint still leaves the other half to
            // the other endpoints.
            per_endpoint: 32,
            poll_interval: Duration::from_millis(250),
            lease_margin: Duration::from_secs(30),
            requeue_interval: Duration::from_secs(15),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// What a worker did while it ran (also the feed of the deliveries-by-outcome metric).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkerReport {
    /// Attempts answered with a 2xx.
    pub delivered: u64,
    /// Failed attempts with a retry scheduled.
    pub retrying: u64,
    /// Failed attempts that were the last of their series.
    pub failed: u64,
    /// Attempts whose lease had expired when their outcome came to be recorded.
    pub lease_lost: u64,
    /// Outcomes that could not be stored (the lease then expires and the attempt runs
    /// again: at least once).
    pub record_errors: u64,
    /// In-flight attempts released at shutdown, uncounted.
    pub released: u64,
}

/// The live counts behind [`WorkerReport`], readable while the worker runs.
#[derive(Debug, Default)]
struct Counters {
    delivered: AtomicU64,
    retrying: AtomicU64,
    failed: AtomicU64,
    lease_lost: AtomicU64,
    record_errors: AtomicU64,
    released: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// How one attempt's task ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TaskEnd {
    Recorded(NextStep),
    LeaseLost,
    RecordError,
}

struct Shared {
    store: Arc<dyn OutboxStore>,
    transport: Arc<dyn WebhookTransport>,
    clock: Arc<dyn Clock>,
    schedule: RetrySchedule,
    settings: WorkerSettings,
    instance: InstanceId,
    counters: Counters,
    wake: Notify,
}

/// The delivery worker. Cheap to clone; `run` until the shutdown signal.
#[derive(Clone)]
pub struct DeliveryWorker {
    shared: Arc<Shared>,
}

/// The most outcomes written in one call.
const MAX_OUTCOME_BATCH: usize = 512;

/// Why an outcome was not written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NotRecorded {
    LeaseLost,
    Failed,
}

/// One outcome waiting for the outcome writer, and where to tell its attempt.
struct PendingOutcome {
    lease: Lease,
    record: AttemptRecord,
    written: oneshot::Sender<Result<(), NotRecorded>>,
}

/// The way to the outcome writer (see [`write_outcomes`]).
type Outcomes = mpsc::UnboundedSender<PendingOutcome>;

/// The worker's attempts in flight: their tasks, leases and per-endpoint counts, and
/// the outcome writer they hand their results to.
struct InFlight {
    tasks: JoinSet<TaskEnd>,
    leases: HashMap<TaskId, (EndpointId, Lease)>,
    per_endpoint: HashMap<EndpointId, u32>,
    outcomes: Outcomes,
    writer: JoinHandle<()>,
}

impl InFlight {
    fn len(&self) -> usize {
        self.tasks.len()
    }

    fn finished(&mut self, id: TaskId) -> Option<Lease> {
        let (endpoint, lease) = self.leases.remove(&id)?;
        if let Some(count) = self.per_endpoint.get_mut(&endpoint) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.per_endpoint.remove(&endpoint);
            }
        }
        Some(lease)
    }
}

fn elapsed_at_least(since: Option<DateTime<Utc>>, now: DateTime<Utc>, every: Duration) -> bool {
    let every = TimeDelta::from_std(every).unwrap_or(TimeDelta::MAX);
    since.is_none_or(|since| now - since >= every)
}

impl DeliveryWorker {
    pub fn new(
        store: Arc<dyn OutboxStore>,
        transport: Arc<dyn WebhookTransport>,
        clock: Arc<dyn Clock>,
        schedule: RetrySchedule,
        settings: WorkerSettings,
        instance: InstanceId,
    ) -> DeliveryWorker {
        DeliveryWorker {
            shared: Arc::new(Shared {
                store,
                transport,
                clock,
                schedule,
                settings,
                instance,
                counters: Counters::default(),
                wake: Notify::new(),
            }),
        }
    }

    /// What the worker has done since it was made (for the metrics; also returned by
    /// `run`).
    pub fn report(&self) -> WorkerReport {
        let counters = &self.shared.counters;
        WorkerReport {
            delivered: counters.delivered.load(Ordering::Relaxed),
            retrying: counters.retrying.load(Ordering::Relaxed),
            failed: counters.failed.load(Ordering::Relaxed),
            lease_lost: counters.lease_lost.load(Ordering::Relaxed),
            record_errors: counters.record_errors.load(Ordering::Relaxed),
            released: counters.released.load(Ordering::Relaxed),
        }
    }

    /// Asks the worker to look for due attempts now rather than at its next poll: a
    /// change that committed an event calls it so that delivery starts at once.
    pub fn wake(&self) {
        self.shared.wake.notify_one();
    }

    /// Runs until `shutdown` holds `true` (or its sender is dropped), then stops
    /// claiming, lets in-flight attempts finish for `shutdown_grace`, and releases the
    /// leases of those still running so that they are due again at once.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) -> WorkerReport {
        let settings = &self.shared.settings;
        let (outcomes, queue) = mpsc::unbounded_channel();
        let writer = tokio::spawn(write_outcomes(Arc::clone(&self.shared.store), queue));
        let mut in_flight = InFlight {
            tasks: JoinSet::new(),
            leases: HashMap::new(),
            per_endpoint: HashMap::new(),
            outcomes,
            writer,
        };
        let max_in_flight = usize::try_from(settings.max_in_flight).unwrap_or(usize::MAX);
        // Top up once this many attempts have ended, or at once while fewer than this
        // many are in flight: claims of a few rows each rather than one per delivery.
        let top_up = usize::try_from(settings.per_endpoint.min(settings.max_in_flight) / 2)
            .unwrap_or(1)
            .max(1);
        let mut ended_since_claim = 0_usize;
        let mut look = true;
        let mut last_requeue: Option<DateTime<Utc>> = None;
        tracing::info!(instance = %self.shared.instance, "webhook delivery worker started");

        while !*shutdown.borrow() {
            let now = self.shared.clock.now();
            if elapsed_at_least(last_requeue, now, settings.requeue_interval) {
                last_requeue = Some(now);
                match self.shared.store.requeue_expired_leases(now).await {
                    Ok(0) => {}
                    Ok(count) => {
                        tracing::warn!(count, "requeued webhook attempts whose lease expired")
                    }
                    Err(error) => {
                        tracing::warn!(error = %error, "could not requeue expired webhook leases")
                    }
                }
            }

            let room = max_in_flight.saturating_sub(in_flight.len());
            if room > 0 && (look || in_flight.len() < top_up || ended_since_claim >= top_up) {
                self.claim_and_start(&mut in_flight, room, now).await;
                ended_since_claim = 0;
            }
            look = false;

            // A claim takes everything due that fits, so wait for an attempt to end,
            // the next poll, a wake-up or the shutdown signal before claiming again.
            tokio::select! {
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
                Some(done) = in_flight.tasks.join_next_with_id(), if in_flight.len() > 0 => {
                    self.account(&mut in_flight, done);
                    ended_since_claim += 1;
                }
                () = tokio::time::sleep(settings.poll_interval) => look = true,
                () = self.shared.wake.notified() => look = true,
            }
            while let Some(done) = in_flight.tasks.try_join_next_with_id() {
                self.account(&mut in_flight, done);
                ended_since_claim += 1;
            }
        }

        self.stop(in_flight).await;
        let report = self.report();
        tracing::info!(instance = %self.shared.instance, ?report, "webhook delivery worker stopped");
        report
    }

    /// Claims up to `room` attempts and starts a task for each; answers how many.
    async fn claim_and_start(
        &self,
        in_flight: &mut InFlight,
        room: usize,
        now: DateTime<Utc>,
    ) -> usize {
        let settings = &self.shared.settings;
        let lease =
            TimeDelta::from_std(settings.timeout + settings.lease_margin).unwrap_or(TimeDelta::MAX);
        let request = ClaimRequest {
            holder: self.shared.instance.clone(),
            token: LeaseToken::generate(),
            now,
            lease_until: now
                .checked_add_signed(lease)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
            limit: u32::try_from(room).unwrap_or(u32::MAX),
            per_endpoint: settings.per_endpoint.max(1),
            held: in_flight
                .per_endpoint
                .iter()
                .map(|(endpoint, count)| (*endpoint, *count))
                .collect(),
        };
        let claims = match self.shared.store.claim_due(request).await {
            Ok(claims) => claims,
            Err(error) => {
                tracing::warn!(error = %error, "could not claim webhook attempts");
                return 0;
            }
        };
        let count = claims.len();
        for claim in claims {
            let endpoint = claim.endpoint;
            let lease = claim.lease.clone();
            let shared = Arc::clone(&self.shared);
            let outcomes = in_flight.outcomes.clone();
            let handle = in_flight.tasks.spawn(attempt(shared, outcomes, claim));
            in_flight.leases.insert(handle.id(), (endpoint, lease));
            *in_flight.per_endpoint.entry(endpoint).or_insert(0) += 1;
        }
        count
    }

    fn account(&self, in_flight: &mut InFlight, done: Result<(TaskId, TaskEnd), JoinError>) {
        match done {
            Ok((id, end)) => {
                in_flight.finished(id);
                match end {
                    TaskEnd::Recorded(NextStep::Delivered { .. }) => {
                        bump(&self.shared.counters.delivered)
                    }
                    TaskEnd::Recorded(NextStep::RetryAt(_)) => bump(&self.shared.counters.retrying),
                    TaskEnd::Recorded(NextStep::Failed) => bump(&self.shared.counters.failed),
                    TaskEnd::LeaseLost => bump(&self.shared.counters.lease_lost),
                    TaskEnd::RecordError => bump(&self.shared.counters.record_errors),
                }
            }
            Err(error) => {
                // A panicked attempt leaves its lease to expire; it is then requeued.
                let lease = in_flight.finished(error.id());
                tracing::error!(delivery = ?lease.map(|l| l.delivery), error = %error, "webhook attempt task ended abnormally");
                bump(&self.shared.counters.record_errors);
            }
        }
    }

    async fn stop(&self, mut in_flight: InFlight) {
        let grace = tokio::time::sleep(self.shared.settings.shutdown_grace);
        tokio::pin!(grace);
        while in_flight.len() > 0 {
            tokio::select! {
                Some(done) = in_flight.tasks.join_next_with_id() => self.account(&mut in_flight, done),
                () = &mut grace => break,
            }
        }
        in_flight.tasks.abort_all();
        while let Some(done) = in_flight.tasks.join_next_with_id().await {
            match done {
                Err(error) if error.is_cancelled() => {
                    if let Some(lease) = in_flight.finished(error.id()) {
                        // An outcome handed to the writer just before the abort may be
                        // written before or after this: the lease token decides, and
                        // either way the attempt is recorded once or runs again.
                        self.release(lease).await;
                    }
                }
                other => self.account(&mut in_flight, other),
            }
        }
        // Every attempt has ended: the writer writes what it still has and stops.
        let InFlight {
            outcomes, writer, ..
        } = in_flight;
        drop(outcomes);
        if let Err(error) = writer.await {
            tracing::error!(error = %error, "the webhook outcome writer ended abnormally");
        }
    }

    async fn release(&self, lease: Lease) {
        match self.shared.store.release(lease.clone()).await {
            Ok(()) => bump(&self.shared.counters.released),
            // Recorded just before the abort took effect, or already taken over.
            Err(OutboxError::LeaseLost) => {}
            Err(error) => tracing::warn!(delivery = %lease.delivery, error = %error,
                "could not release a webhook attempt; it is requeued when its lease expires"),
        }
    }
}

/// One attempt: sign with the keys active now, send, decide, record.
async fn attempt(shared: Arc<Shared>, outcomes: Outcomes, claim: ClaimedAttempt) -> TaskEnd {
    let sent_at = shared.clock.now();
    let headers = sign(
        &claim.keys.active(sent_at),
        claim.event_id.as_str(),
        sent_at.timestamp(),
        claim.body.as_bytes(),
    );
    let request = OutgoingRequest {
        url: claim.url.clone(),
        headers,
        body: claim.body,
        timeout: shared.settings.timeout,
    };
    // The transport enforces the timeout; this bound keeps the lease safe even if an
    // adapter does not.
    let bound = shared.settings.timeout + Duration::from_secs(1);
    let outcome = match tokio::time::timeout(bound, shared.transport.post(request)).await {
        Ok(Ok(answer)) => AttemptOutcome::Answered {
            status: answer.status,
            body_excerpt: answer.body_excerpt,
        },
        Ok(Err(error)) => AttemptOutcome::NoAnswer(error),
        Err(_) => AttemptOutcome::NoAnswer(TransportError::Timeout),
    };
    let ended_at = shared.clock.now();
    let next = NextStep::after(&shared.schedule, claim.series_attempt, &outcome, ended_at);
    let record = AttemptRecord {
        attempted_at: sent_at,
        status_code: outcome.status_code(),
        error: outcome.last_error(),
        next,
    };
    tracing::debug!(delivery = %claim.lease.delivery, endpoint = %claim.endpoint,
        event = %claim.event_id, status = ?record.status_code, ?next, "webhook attempt ended");
    let (written, answer) = oneshot::channel();
    let pending = PendingOutcome {
        lease: claim.lease.clone(),
        record,
        written,
    };
    if outcomes.send(pending).is_err() {
        // The writer is gone (it only stops once every attempt has ended).
        return TaskEnd::RecordError;
    }
    match answer.await {
        Ok(Ok(())) => TaskEnd::Recorded(next),
        Ok(Err(NotRecorded::LeaseLost)) => {
            tracing::warn!(delivery = %claim.lease.delivery,
                "webhook attempt outlived its lease; its outcome was not recorded");
            TaskEnd::LeaseLost
        }
        Ok(Err(NotRecorded::Failed)) | Err(_) => {
            tracing::warn!(delivery = %claim.lease.delivery,
                "could not record a webhook attempt; it runs again when its lease expires");
            TaskEnd::RecordError
        }
    }
}

/// The outcome writer: takes every outcome waiting, writes them in one call, tells each
/// attempt how it went, and starts again with those that came meanwhile. Ends when
/// every sender is gone and the queue is empty.
async fn write_outcomes(
    store: Arc<dyn OutboxStore>,
    mut queue: mpsc::UnboundedReceiver<PendingOutcome>,
) {
    let mut batch: Vec<PendingOutcome> = Vec::new();
    while queue.recv_many(&mut batch, MAX_OUTCOME_BATCH).await > 0 {
        let mut replies = Vec::with_capacity(batch.len());
        let mut outcomes = Vec::with_capacity(batch.len());
        for pending in batch.drain(..) {
            outcomes.push((pending.lease, pending.record));
            replies.push(pending.written);
        }
        let count = outcomes.len();
        match store.record_outcomes(outcomes).await {
            Ok(results) => {
                let mut results = results.into_iter();
                for reply in replies {
                    let result = match results.next() {
                        Some(Ok(())) => Ok(()),
                        Some(Err(OutboxError::LeaseLost)) => Err(NotRecorded::LeaseLost),
                        Some(Err(error)) => {
                            tracing::warn!(error = %error, "could not record a webhook attempt");
                            Err(NotRecorded::Failed)
                        }
                        None => {
                            tracing::error!("the outbox answered fewer outcomes than it was given");
                            Err(NotRecorded::Failed)
                        }
                    };
                    // The attempt may have been aborted at shutdown; nothing to tell.
                    let _ = reply.send(result);
                }
            }
            Err(error) => {
                tracing::warn!(count, error = %error, "could not record webhook attempts");
                for reply in replies {
                    let _ = reply.send(Err(NotRecorded::Failed));
                }
            }
        }
    }
}
