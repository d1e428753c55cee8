//! `OutboxStore` on diesel: claims under a lease, outcomes, requeues, the deliveries
//! log, redelivery and the queue's size.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tariff_domain::webhooks::{
    AttemptRecord, ClaimRequest, ClaimedAttempt, Delivery, DeliveryId, EndpointId, EndpointUrl,
    EventId, Lease, LeaseToken, NextStep, OutboxError, OutboxStore, QueueStats, SecretSealer,
};
use tariff_domain::{Page, PageRequest, RepoError};

use super::queries::{self, ClaimedRow, Outcome};
use super::rows::{keys_of, to_delivery, utc, DeliveryRow};
use crate::db::{sql_bounds, Database, DbConn};

/// The outbox's delivery side, on both backends; `sealer` opens the endpoints' secrets
/// to sign.
#[derive(Clone)]
pub struct DieselOutbox {
    db: Database,
    sealer: Arc<dyn SecretSealer>,
}

impl DieselOutbox {
    pub fn new(db: Database, sealer: Arc<dyn SecretSealer>) -> Self {
        Self { db, sealer }
    }
}

fn to_claimed(
    sealer: &dyn SecretSealer,
    row: ClaimedRow,
    token: &LeaseToken,
) -> Result<ClaimedAttempt, RepoError> {
    let (id, endpoint_id, series_attempt, url, secret, previous, until, event_id, body) = row;
    Ok(ClaimedAttempt {
        lease: Lease {
            delivery: DeliveryId::new(id).ok_or_else(|| RepoError::internal("delivery id"))?,
            token: token.clone(),
        },
        endpoint: EndpointId::new(endpoint_id).ok_or_else(|| RepoError::internal("endpoint id"))?,
        url: EndpointUrl::parse(&url).map_err(|_| RepoError::internal("stored endpoint url"))?,
        keys: keys_of(sealer, &secret, previous.as_deref(), until)?,
        event_id: EventId::parse(&event_id).map_err(|_| RepoError::internal("stored event id"))?,
        body,
        series_attempt: u32::try_from(series_attempt).unwrap_or(1).max(1),
    })
}

/// Writes one attempt's outcome under its lease; `false` when the lease is no longer
/// held.
fn write_outcome(
    c: &mut DbConn<'_>,
    lease: &Lease,
    record: &AttemptRecord,
) -> diesel::QueryResult<bool> {
    queries::record_outcome(
        c,
        lease.delivery.get(),
        lease.token.as_str(),
        &outcome_of(record),
    )
}

/// The columns an attempt's record writes.
fn outcome_of(record: &AttemptRecord) -> Outcome<'_> {
    let (next_attempt_at, delivered_at) = match record.next {
        NextStep::Delivered { at } => (None, Some(at.naive_utc())),
        NextStep::RetryAt(at) => (Some(at.naive_utc()), None),
        NextStep::Failed => (None, None),
    };
    Outcome {
        status: record.next.status().as_str(),
        last_status_code: record.status_code.map(i32::from),
        last_error: record.error.as_deref(),
        next_attempt_at,
        delivered_at,
    }
}

enum Redelivery {
    Restarted(Box<(DeliveryRow, String, String)>),
    InFlight,
}

#[async_trait]
impl OutboxStore for DieselOutbox {
    async fn claim_due(&self, request: ClaimRequest) -> Result<Vec<ClaimedAttempt>, OutboxError> {
        if request.limit == 0 {
            return Ok(Vec::new());
        }
        let token = request.token.clone();
        let rows = self
            .db
            .write(move |conn| {
                conn.write_transaction(|c| {
                    let now = request.now.naive_utc();
                    let limit = i64::from(request.limit);
                    let full: Vec<i64> = request
                        .held
                        .iter()
                        .filter(|(endpoint, _)| request.room_for(*endpoint) == 0)
                        .map(|(endpoint, _)| endpoint.get())
                        .collect();
                    let mut chosen = Vec::new();
                    for endpoint in queries::endpoints_with_due(c, now, &full, limit)? {
                        let room = limit - i64::try_from(chosen.len()).unwrap_or(i64::MAX);
                        if room <= 0 {
                            break;
                        }
                        let endpoint_room =
                            EndpointId::new(endpoint).map_or(0, |id| request.room_for(id));
                        let take = room.min(i64::from(endpoint_room));
                        if take > 0 {
                            chosen.extend(queries::lock_due_of_endpoint(c, endpoint, now, take)?);
                        }
                    }
                    if chosen.is_empty() {
                        return Ok(Vec::new());
                    }
                    queries::stamp_lease(
                        c,
                        &chosen,
                        request.holder.as_str(),
                        request.token.as_str(),
                        request.lease_until.naive_utc(),
                    )?;
                    Ok(queries::claimed_rows(c, &chosen)?)
                })
            })
            .await?;
        rows.into_iter()
            .map(|row| to_claimed(&*self.sealer, row, &token).map_err(OutboxError::from))
            .collect()
    }

    async fn record_outcome(&self, lease: Lease, record: AttemptRecord) -> Result<(), OutboxError> {
        let recorded = self
            .db
            .write(move |conn| conn.write_transaction(|c| Ok(write_outcome(c, &lease, &record)?)))
            .await?;
        if recorded {
            Ok(())
        } else {
            Err(OutboxError::LeaseLost)
        }
    }

    async fn record_outcomes(
        &self,
        outcomes: Vec<(Lease, AttemptRecord)>,
    ) -> Result<Vec<Result<(), OutboxError>>, OutboxError> {
        if outcomes.is_empty() {
            return Ok(Vec::new());
        }
        let recorded = self
            .db
            .write(move |conn| {
                conn.write_transaction(|c| {
                    let rows: Vec<(i64, &str, Outcome<'_>)> = outcomes
                        .iter()
                        .map(|(lease, record)| {
                            (
                                lease.delivery.get(),
                                lease.token.as_str(),
                                outcome_of(record),
                            )
                        })
                        .collect();
                    Ok(queries::record_outcomes(c, &rows)?)
                })
            })
            .await?;
        Ok(recorded
            .into_iter()
            .map(|held| {
                if held {
                    Ok(())
                } else {
                    Err(OutboxError::LeaseLost)
                }
            })
            .collect())
    }

    async fn release(&self, lease: Lease) -> Result<(), OutboxError> {
        let released = self
            .db
            .write(move |conn| {
                conn.write_transaction(|c| {
                    Ok(queries::release(
                        c,
                        lease.delivery.get(),
                        lease.token.as_str(),
                    )?)
                })
            })
            .await?;
        if released {
            Ok(())
        } else {
            Err(OutboxError::LeaseLost)
        }
    }

    async fn requeue_expired_leases(&self, now: DateTime<Utc>) -> Result<u64, OutboxError> {
        let count = self
            .db
            .write(move |conn| {
                conn.write_transaction(|c| Ok(queries::requeue_expired(c, now.naive_utc())?))
            })
            .await?;
        Ok(u64::try_from(count).unwrap_or(u64::MAX))
    }

    async fn list_deliveries(
        &self,
        endpoint: EndpointId,
        page: PageRequest,
    ) -> Result<Page<Delivery>, OutboxError> {
        let (offset, limit) = sql_bounds(page);
        let (rows, total) = self
            .db
            .query(move |conn| {
                conn.read_snapshot(|c| {
                    if !queries::endpoint_exists(c, endpoint.get())? {
                        return Err(RepoError::NotFound.into());
                    }
                    let total = queries::count_deliveries(c, endpoint.get())?;
                    if offset >= total {
                        return Ok((Vec::new(), total));
                    }
                    Ok((
                        queries::page_deliveries(c, endpoint.get(), offset, limit)?,
                        total,
                    ))
                })
            })
            .await?;
        let total = u64::try_from(total)
            .map_err(|_| OutboxError::from(RepoError::internal("negative delivery count")))?;
        let items = rows
            .into_iter()
            .map(to_delivery)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::new(items, total))
    }

    async fn redeliver(
        &self,
        delivery: DeliveryId,
        now: DateTime<Utc>,
    ) -> Result<Delivery, OutboxError> {
        let outcome = self
            .db
            .write(move |conn| {
                conn.write_transaction(|c| {
                    let lease = queries::lease_of(c, delivery.get())?;
                    if lease.is_some_and(|until| utc(until) > now) {
                        return Ok(Redelivery::InFlight);
                    }
                    queries::restart_series(c, delivery.get(), now.naive_utc())?;
                    Ok(Redelivery::Restarted(Box::new(queries::get_delivery(
                        c,
                        delivery.get(),
                    )?)))
                })
            })
            .await?;
        match outcome {
            Redelivery::Restarted(row) => Ok(to_delivery(*row)?),
            Redelivery::InFlight => Err(OutboxError::InFlight),
        }
    }

    async fn queue_stats(&self) -> Result<QueueStats, OutboxError> {
        let (pending, oldest) = self.db.query(|c| Ok(queries::pending_stats(c)?)).await?;
        Ok(QueueStats {
            pending: u64::try_from(pending).unwrap_or(0),
            oldest_pending_created_at: oldest.map(utc),
        })
    }
}
