//! The webhook ports: endpoint storage, the outbox of deliveries, and the HTTP
//! transport. Each method's doc states its error contract.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;

use super::delivery::{Delivery, DeliveryId, NextStep};
use super::endpoint::{EndpointId, EndpointSpec, EndpointUrl, WebhookEndpoint};
use super::events::EventId;
use super::secret::{SigningKeys, WebhookSecret};
use super::signature::SignedHeaders;
use crate::shared::BoxError;
use crate::{Page, PageRequest, RepoError};

/// Storage of webhook endpoints and their signing keys. Adapters keep secrets
/// encrypted at rest (they are needed in clear to sign, so they cannot be hashed).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WebhookEndpoints: Send + Sync {
    /// Stores a new endpoint with `keys`, created at `now`.
    /// Errors: `Unavailable`, `Internal`.
    async fn create(
        &self,
        spec: EndpointSpec,
        keys: SigningKeys,
        now: DateTime<Utc>,
    ) -> Result<WebhookEndpoint, RepoError>;

    /// One page of endpoints in id order, with the total.
    /// Errors: `Unavailable`, `Internal`.
    async fn list(&self, page: PageRequest) -> Result<Page<WebhookEndpoint>, RepoError>;

    /// Errors: `NotFound`, `Unavailable`, `Internal`.
    async fn get(&self, id: EndpointId) -> Result<WebhookEndpoint, RepoError>;

    /// Replaces an endpoint's settings; its keys are unchanged. Deliveries already
    /// stored keep going to it; a disabled endpoint's pending deliveries wait (they are
    /// not claimed) until it is enabled again.
    /// Errors: `NotFound`, `Unavailable`, `Internal`.
    async fn update(
        &self,
        id: EndpointId,
        spec: EndpointSpec,
    ) -> Result<WebhookEndpoint, RepoError>;

    /// Deletes an endpoint and its deliveries.
    /// Errors: `NotFound`, `Unavailable`, `Internal`.
    async fn delete(&self, id: EndpointId) -> Result<(), RepoError>;

    /// Stores `stored_keys.rotate(new, now, overlap)` in one transaction with the read
    /// of the stored keys, so that two concurrent rotations cannot lose a secret that
    /// was shown to an administrator.
    /// Errors: `NotFound`, `Unavailable`, `Internal`.
    async fn rotate_secret(
        &self,
        id: EndpointId,
        new: WebhookSecret,
        now: DateTime<Utc>,
        overlap: TimeDelta,
    ) -> Result<WebhookEndpoint, RepoError>;
}

/// Names one delivery worker (one per instance), for the lease columns and the logs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InstanceId(String);

impl InstanceId {
    /// `name` for the logs (for example the host name) followed by random characters,
    /// so that two instances with the same name never share an id.
    pub fn generate(name: &str) -> InstanceId {
        let suffix: String = rand::thread_rng()
            .sample_iter(rand::distributions::Alphanumeric)
            .take(12)
            .map(char::from)
            .collect();
        let name: String = name
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(40)
            .collect();
        InstanceId(format!("{name}-{suffix}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The proof that a worker holds a delivery: the token its claim stamped on the row.
/// Recording or releasing checks the token, so a worker whose lease expired (and whose
/// attempt another claim took over) can no longer write.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Lease {
    pub delivery: DeliveryId,
    pub token: LeaseToken,
}

/// A random token, fresh for every claim.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LeaseToken(String);

impl LeaseToken {
    pub fn generate() -> LeaseToken {
        let random: String = rand::thread_rng()
            .sample_iter(rand::distributions::Alphanumeric)
            .take(24)
            .map(char::from)
            .collect();
        LeaseToken(random)
    }

    /// Rebuilds a token read from storage.
    pub fn from_stored(text: String) -> LeaseToken {
        LeaseToken(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a worker asks the outbox for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimRequest {
    pub holder: InstanceId,
    /// Stamped on every claimed row.
    pub token: LeaseToken,
    pub now: DateTime<Utc>,
    /// The claimed attempts are the worker's until then.
    pub lease_until: DateTime<Utc>,
    /// At most this many attempts in all.
    pub limit: u32,
    /// At most this many attempts in flight for any one endpoint on this worker,
    /// counting those it already holds (`held`).
    pub per_endpoint: u32,
    /// How many attempts this worker already has in flight, per endpoint: an endpoint
    /// listed gets at most `per_endpoint` minus its count (none when that is zero).
    pub held: Vec<(EndpointId, u32)>,
}

impl ClaimRequest {
    /// How many more attempts of `endpoint` this claim may take.
    pub fn room_for(&self, endpoint: EndpointId) -> u32 {
        let held = self
            .held
            .iter()
            .find(|(id, _)| *id == endpoint)
            .map_or(0, |(_, count)| *count);
        self.per_endpoint.max(1).saturating_sub(held)
    }
}

/// One attempt a worker now holds, with everything needed to send it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedAttempt {
    pub lease: Lease,
    pub endpoint: EndpointId,
    pub url: EndpointUrl,
    /// The endpoint's keys as stored at the claim; the worker signs with those active
    /// at the moment of sending.
    pub keys: SigningKeys,
    pub event_id: EventId,
    /// The event's stored JSON, sent byte for byte.
    pub body: String,
    /// Which attempt of the current series this is, from 1 (a redelivery starts a new
    /// series).
    pub series_attempt: u32,
}

/// The result of one attempt, as the worker records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptRecord {
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub next: NextStep,
}

/// The outbox's size, for the metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Deliveries pending (due or waiting for a retry).
    pub pending: u64,
    /// Creation time of the oldest pending delivery's event.
    pub oldest_pending_created_at: Option<DateTime<Utc>>,
}

impl QueueStats {
    /// How long the oldest pending event has waited; zero when nothing is pending.
    pub fn oldest_pending_age(&self, now: DateTime<Utc>) -> TimeDelta {
        self.oldest_pending_created_at
            .map_or(TimeDelta::zero(), |at| (now - at).max(TimeDelta::zero()))
    }
}

/// How an outbox call can fail.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The delivery (or endpoint) addressed does not exist.
    #[error("not found")]
    NotFound,
    /// The lease is no longer held with this token (it expired and was requeued or
    /// claimed again). Nothing was written.
    #[error("lease lost")]
    LeaseLost,
    /// The delivery is being attempted right now.
    #[error("delivery in flight")]
    InFlight,
    /// The database could not be reached.
    #[error("database unavailable")]
    Unavailable(#[source] BoxError),
    /// Anything else: a bug or corrupt data. Logged, never shown to clients.
    #[error("outbox failure")]
    Internal(#[source] BoxError),
}

impl From<RepoError> for OutboxError {
    fn from(error: RepoError) -> Self {
        match error {
            RepoError::NotFound => OutboxError::NotFound,
            RepoError::Conflict(what) => OutboxError::Internal(what.into()),
            RepoError::Unavailable(cause) => OutboxError::Unavailable(cause),
            RepoError::Internal(cause) => OutboxError::Internal(cause),
        }
    }
}

/// The transactional outbox's delivery side. Events and their deliveries are written by
/// the changes that cause them, in the same transaction (not through this port).
/// Several instances share it: claims never hand the same attempt to two holders while
/// a lease is live.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Claims up to `request.limit` pending deliveries due at `request.now`
    /// (`next_attempt_at <= now`) that are not under a live lease, oldest due first,
    /// at most [`ClaimRequest::room_for`] of each endpoint, none of disabled endpoints;
    /// stamps each with the holder, token and `lease_until`, all in one transaction
    /// (PostgreSQL: `FOR UPDATE SKIP LOCKED`).
    /// Errors: `Unavailable`, `Internal`.
    async fn claim_due(&self, request: ClaimRequest) -> Result<Vec<ClaimedAttempt>, OutboxError>;

    /// Records a claimed attempt's result and ends the lease: counts the attempt, keeps
    /// the status code and error, and applies `record.next` (delivered; pending, due at
    /// the retry time, next attempt of the series; or failed).
    /// Errors: `LeaseLost`, `Unavailable`, `Internal`.
    async fn record_outcome(&self, lease: Lease, record: AttemptRecord) -> Result<(), OutboxError>;

    /// Records several claimed attempts' results, each as [`record_outcome`] does, and
    /// answers one result per outcome, in order: `Ok`, or `Err(LeaseLost)` for an
    /// outcome whose lease is no longer held (left unwritten; the others are written).
    /// Adapters write them in one transaction, so that many outcomes cost one commit.
    /// The default records them one by one.
    /// Errors (of the whole call, when nothing was recorded): `Unavailable`, `Internal`.
    ///
    /// [`record_outcome`]: OutboxStore::record_outcome
    async fn record_outcomes(
        &self,
        outcomes: Vec<(Lease, AttemptRecord)>,
    ) -> Result<Vec<Result<(), OutboxError>>, OutboxError> {
        let mut results = Vec::with_capacity(outcomes.len());
        for (lease, record) in outcomes {
            results.push(self.record_outcome(lease, record).await);
        }
        Ok(results)
    }

    /// Ends a lease without counting an attempt: the delivery is due again at once.
    /// Used at shutdown for attempts that did not finish.
    /// Errors: `LeaseLost`, `Unavailable`, `Internal`.
    async fn release(&self, lease: Lease) -> Result<(), OutboxError>;

    /// Ends every lease that expired at or before `now` (its holder died or stalled);
    /// those deliveries are due again, the interrupted attempt not counted. Answers
    /// how many were requeued. Errors: `Unavailable`, `Internal`.
    async fn requeue_expired_leases(&self, now: DateTime<Utc>) -> Result<u64, OutboxError>;

    /// One page of an endpoint's deliveries, newest first (creation time, then id, both
    /// descending), with the total.
    /// Errors: `NotFound` (no such endpoint), `Unavailable`, `Internal`.
    async fn list_deliveries(
        &self,
        endpoint: EndpointId,
        page: PageRequest,
    ) -> Result<Page<Delivery>, OutboxError>;

    /// Starts a new series of attempts of the same event (same id, same body): the
    /// delivery becomes pending, due at `now`, its series restarting at attempt 1;
    /// `attempts` keeps counting. Answers the delivery as it now stands.
    /// Errors: `NotFound`, `InFlight` (under a live lease), `Unavailable`, `Internal`.
    async fn redeliver(
        &self,
        delivery: DeliveryId,
        now: DateTime<Utc>,
    ) -> Result<Delivery, OutboxError>;

    /// The queue's depth and the creation time of its oldest pending event.
    /// Errors: `Unavailable`, `Internal`.
    async fn queue_stats(&self) -> Result<QueueStats, OutboxError>;
}

/// One HTTP request to make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutgoingRequest {
    pub url: EndpointUrl,
    pub headers: SignedHeaders,
    pub body: String,
    /// The whole exchange, connection to the end of the answer read, must fit in it.
    pub timeout: Duration,
}

/// What the endpoint answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportResponse {
    pub status: u16,
    /// The start of the answer's body (a small, bounded amount), lossily decoded.
    pub body_excerpt: String,
}

/// Why no answer was had. The texts are details for the deliveries log, never parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error("timed out waiting for the endpoint")]
    Timeout,
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("request failed: {0}")]
    Other(String),
}

/// Sends deliveries over HTTP.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WebhookTransport: Send + Sync {
    /// POSTs `request.body` as `application/json` with the signed headers. Any status
    /// is an answer (`Ok`), redirects included: they are not followed. Only a missing
    /// answer is an error: `Timeout` (nothing within `request.timeout`), `Connect`
    /// (refused, unreachable, TLS or DNS failure), `Other`.
    async fn post(&self, request: OutgoingRequest) -> Result<TransportResponse, TransportError>;
}
