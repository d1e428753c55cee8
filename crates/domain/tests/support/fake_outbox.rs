//! A simple in-memory outbox for testing the delivery worker's scheduling logic. It
//! follows the `OutboxStore` contract in one process and proves nothing about the real
//! (database) outbox, whose claims must hold across instances.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tariff_domain::webhooks::{
    AttemptRecord, ClaimRequest, ClaimedAttempt, Delivery, DeliveryId, DeliveryStatus, EndpointId,
    EndpointUrl, EventId, EventType, Lease, LeaseToken, NextStep, OutboxError, OutboxStore,
    QueueStats, SigningKeys,
};
use tariff_domain::{Page, PageRequest};
use tokio::sync::watch;

#[derive(Clone, Debug)]
pub struct Row {
    pub delivery: Delivery,
    pub url: EndpointUrl,
    pub keys: SigningKeys,
    pub body: String,
    pub series_attempt: u32,
    pub lease: Option<(LeaseToken, DateTime<Utc>)>,
    pub endpoint_enabled: bool,
    /// Every record written for this delivery, in order.
    pub records: Vec<AttemptRecord>,
}

pub struct FakeOutbox {
    rows: Mutex<Vec<Row>>,
    /// How many outcomes each `record_outcomes` call carried, in order.
    batches: Mutex<Vec<usize>>,
    /// While `true`, `record_outcomes` waits.
    hold: watch::Sender<bool>,
    waiting: AtomicUsize,
}

impl Default for FakeOutbox {
    fn default() -> Self {
        FakeOutbox {
            rows: Mutex::default(),
            batches: Mutex::default(),
            hold: watch::Sender::new(false),
            waiting: AtomicUsize::new(0),
        }
    }
}

impl FakeOutbox {
    pub fn new() -> FakeOutbox {
        FakeOutbox::default()
    }

    /// Makes `record_outcomes` wait until [`release_writes`](Self::release_writes).
    pub fn hold_writes(&self) {
        self.hold.send_replace(true);
    }

    pub fn release_writes(&self) {
        self.hold.send_replace(false);
    }

    /// How many `record_outcomes` calls are waiting.
    pub fn waiting_writes(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// The size of each `record_outcomes` call so far.
    pub fn outcome_batches(&self) -> Vec<usize> {
        self.batches.lock().unwrap().clone()
    }

    /// Stores a delivery of a new event to `endpoint`, due now.
    pub fn enqueue(
        &self,
        endpoint: EndpointId,
        url: &EndpointUrl,
        keys: &SigningKeys,
        event_id: EventId,
        event_type: EventType,
        body: String,
    ) -> DeliveryId {
        let now = Utc::now();
        let mut rows = self.rows.lock().unwrap();
        let id = DeliveryId::new(rows.len() as i64 + 1).unwrap();
        rows.push(Row {
            delivery: Delivery {
                id,
                endpoint,
                event_id,
                event_type,
                status: DeliveryStatus::Pending,
                attempts: 0,
                last_status_code: None,
                last_error: None,
                next_attempt_at: Some(now),
                delivered_at: None,
                created_at: now,
            },
            url: url.clone(),
            keys: keys.clone(),
            body,
            series_attempt: 1,
            lease: None,
            endpoint_enabled: true,
            records: Vec::new(),
        });
        id
    }

    pub fn row(&self, id: DeliveryId) -> Row {
        self.rows.lock().unwrap()[(id.get() - 1) as usize].clone()
    }

    pub fn rows(&self) -> Vec<Row> {
        self.rows.lock().unwrap().clone()
    }

    /// Expires every live lease, as if the lease time had passed.
    pub fn expire_leases(&self) {
        for row in self.rows.lock().unwrap().iter_mut() {
            row.lease = None;
        }
    }

    fn find<'a>(rows: &'a mut [Row], lease: &Lease) -> Result<&'a mut Row, OutboxError> {
        let row = rows
            .get_mut((lease.delivery.get() - 1) as usize)
            .ok_or(OutboxError::NotFound)?;
        match &row.lease {
            Some((token, _)) if *token == lease.token => Ok(row),
            _ => Err(OutboxError::LeaseLost),
        }
    }
}

#[async_trait]
impl OutboxStore for FakeOutbox {
    async fn claim_due(&self, request: ClaimRequest) -> Result<Vec<ClaimedAttempt>, OutboxError> {
        let mut rows = self.rows.lock().unwrap();
        let mut due: Vec<usize> = rows
            .iter()
            .enumerate()
            .filter(|(_, row)| {
                row.delivery.status == DeliveryStatus::Pending
                    && row.endpoint_enabled
                    && row
                        .delivery
                        .next_attempt_at
                        .is_some_and(|at| at <= request.now)
                    && row
                        .lease
                        .as_ref()
                        .is_none_or(|(_, until)| *until <= request.now)
            })
            .map(|(index, _)| index)
            .collect();
        due.sort_by_key(|&index| {
            (
                rows[index].delivery.next_attempt_at,
                rows[index].delivery.id,
            )
        });
        let mut claimed = Vec::new();
        let mut per_endpoint = std::collections::HashMap::<EndpointId, u32>::new();
        for index in due {
            if claimed.len() as u32 >= request.limit {
                break;
            }
            let row = &mut rows[index];
            let count = per_endpoint.entry(row.delivery.endpoint).or_insert(0);
            if *count >= request.room_for(row.delivery.endpoint) {
                continue;
            }
            *count += 1;
            row.lease = Some((request.token.clone(), request.lease_until));
            claimed.push(ClaimedAttempt {
                lease: Lease {
                    delivery: row.delivery.id,
                    token: request.token.clone(),
                },
                endpoint: row.delivery.endpoint,
                url: row.url.clone(),
                keys: row.keys.clone(),
                event_id: row.delivery.event_id.clone(),
                body: row.body.clone(),
                series_attempt: row.series_attempt,
            });
        }
        Ok(claimed)
    }

    async fn record_outcome(&self, lease: Lease, record: AttemptRecord) -> Result<(), OutboxError> {
        let mut rows = self.rows.lock().unwrap();
        let row = Self::find(&mut rows, &lease)?;
        row.lease = None;
        row.delivery.attempts += 1;
        row.delivery.last_status_code = record.status_code;
        row.delivery.last_error = record.error.clone();
        row.delivery.status = record.next.status();
        match record.next {
            NextStep::Delivered { at } => {
                row.delivery.delivered_at = Some(at);
                row.delivery.next_attempt_at = None;
            }
            NextStep::RetryAt(at) => {
                row.delivery.next_attempt_at = Some(at);
                row.series_attempt += 1;
            }
            NextStep::Failed => row.delivery.next_attempt_at = None,
        }
        row.records.push(record);
        Ok(())
    }

    async fn record_outcomes(
        &self,
        outcomes: Vec<(Lease, AttemptRecord)>,
    ) -> Result<Vec<Result<(), OutboxError>>, OutboxError> {
        let mut hold = self.hold.subscribe();
        if *hold.borrow_and_update() {
            self.waiting.fetch_add(1, Ordering::SeqCst);
            hold.wait_for(|held| !*held).await.unwrap();
            self.waiting.fetch_sub(1, Ordering::SeqCst);
        }
        self.batches.lock().unwrap().push(outcomes.len());
        let mut results = Vec::new();
        for (lease, record) in outcomes {
            results.push(self.record_outcome(lease, record).await);
        }
        Ok(results)
    }

    async fn release(&self, lease: Lease) -> Result<(), OutboxError> {
        let mut rows = self.rows.lock().unwrap();
        let row = Self::find(&mut rows, &lease)?;
        row.lease = None;
        Ok(())
    }

    async fn requeue_expired_leases(&self, now: DateTime<Utc>) -> Result<u64, OutboxError> {
        let mut requeued = 0;
        for row in self.rows.lock().unwrap().iter_mut() {
            if row.lease.as_ref().is_some_and(|(_, until)| *until <= now) {
                row.lease = None;
                requeued += 1;
            }
        }
        Ok(requeued)
    }

    async fn list_deliveries(
        &self,
        endpoint: EndpointId,
        page: PageRequest,
    ) -> Result<Page<Delivery>, OutboxError> {
        let mut all: Vec<Delivery> = self
            .rows
            .lock()
            .unwrap()
            .iter()
            .filter(|row| row.delivery.endpoint == endpoint)
            .map(|row| row.delivery.clone())
            .collect();
        all.sort_by_key(|d| std::cmp::Reverse((d.created_at, d.id)));
        Ok(Page::from_all(all, page))
    }

    async fn redeliver(
        &self,
        delivery: DeliveryId,
        now: DateTime<Utc>,
    ) -> Result<Delivery, OutboxError> {
        let mut rows = self.rows.lock().unwrap();
        let row = rows
            .get_mut((delivery.get() - 1) as usize)
            .ok_or(OutboxError::NotFound)?;
        if row.lease.as_ref().is_some_and(|(_, until)| *until > now) {
            return Err(OutboxError::InFlight);
        }
        row.delivery.status = DeliveryStatus::Pending;
        row.delivery.next_attempt_at = Some(now);
        row.series_attempt = 1;
        Ok(row.delivery.clone())
    }

    async fn queue_stats(&self) -> Result<QueueStats, OutboxError> {
        let rows = self.rows.lock().unwrap();
        let pending: Vec<&Row> = rows
            .iter()
            .filter(|row| row.delivery.status == DeliveryStatus::Pending)
            .collect();
        Ok(QueueStats {
            pending: pending.len() as u64,
            oldest_pending_created_at: pending.iter().map(|row| row.delivery.created_at).min(),
        })
    }
}
