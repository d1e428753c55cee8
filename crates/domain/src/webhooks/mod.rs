//! Outgoing webhooks: the event catalogue and envelope, endpoints and their signing
//! secrets, the Standard Webhooks signature, the retry schedule and delivery status
//! machine, the ports of the outbox and the transport, and the delivery worker.
//!
//! Events are stored by the change that causes them, in its transaction (the outbox);
//! the worker delivers them at least once, signed, retried along the schedule.

pub mod admin;
pub mod delivery;
pub mod endpoint;
pub mod events;
pub mod payloads;
pub mod ports;
pub mod retry;
pub mod sealing;
pub mod secret;
pub mod signature;
pub mod worker;

pub use admin::{EndpointWithSecret, WebhookAdmin, WebhookAdminError};
pub use delivery::{AttemptOutcome, Delivery, DeliveryId, DeliveryStatus, NextStep};
pub use endpoint::{
    EndpointError, EndpointId, EndpointSpec, EndpointUrl, EventFilter, WebhookEndpoint,
};
pub use events::{Envelope, EventDraft, EventId, EventType, Sequence};
pub use payloads::EventPayloads;
pub use ports::{
    AttemptRecord, ClaimRequest, ClaimedAttempt, InstanceId, Lease, LeaseToken, OutboxError,
    OutboxStore, OutgoingRequest, QueueStats, TransportError, TransportResponse, WebhookEndpoints,
    WebhookTransport,
};
pub use retry::{RetrySchedule, RetryScheduleError, DEFAULT_RETRY_DELAYS};
pub use sealing::{SealError, SecretSealer};
pub use secret::{SigningKeys, WebhookSecret, DEFAULT_ROTATION_OVERLAP};
pub use signature::{sign, verify, SignedHeaders, VerifyError};
pub use worker::{DeliveryWorker, WorkerReport, WorkerSettings};
