//! `PastDueStore` on diesel: active orders whose period ended with their renewal still
//! pending are marked past due (once, with `order.past_due` in the same transaction),
//! and expire when their grace time is over.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use tariff_domain::orders::PastDueStore;
use tariff_domain::RepoError;

use super::events;
use super::queries::{self, load_order};
use super::repository::DieselOrderRepository;
use crate::db::DbConn;
use crate::errors::DbError;
use crate::literals;
use crate::schema::orders;

/// Ended paid active orders, not marked yet, that have a pending renewal.
fn past_due_candidates(
    c: &mut DbConn<'_>,
    now: NaiveDateTime,
    ended_after: NaiveDateTime,
) -> Result<Vec<i64>, DbError> {
    let ended_by_grace: std::collections::HashSet<i64> =
        queries::active_due(c, ended_after, false)?
            .into_iter()
            .collect();
    let ended: Vec<i64> = queries::active_due(c, now, false)?
        .into_iter()
        .filter(|id| !ended_by_grace.contains(id))
        .collect();
    if ended.is_empty() {
        return Ok(Vec::new());
    }
    let renewed: Vec<Option<i64>> = c.load(
        orders::table
            .filter(orders::status.eq(literals::Pending))
            .filter(orders::renewal_of.eq_any(&ended))
            .select(orders::renewal_of),
    )?;
    let mut ids: Vec<i64> = renewed.into_iter().flatten().collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Marks order `id` past due if it still is active, ended by `now` and unmarked, with
/// its event; whether it did.
fn mark_one(
    c: &mut DbConn<'_>,
    events: Option<&dyn tariff_domain::webhooks::EventPayloads>,
    id: i64,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let marked = c.execute(
        diesel::update(
            orders::table
                .filter(orders::id.eq(id))
                .filter(orders::status.eq(literals::Active))
                .filter(orders::expires_at.le(now))
                .filter(orders::past_due_at.is_null()),
        )
        .set(orders::past_due_at.eq(now)),
    )?;
    if marked == 1 {
        if let Some(events) = events {
            let order = load_order(c, id)?;
            events::past_due(c, events, &order)?;
        }
    }
    Ok(marked == 1)
}

#[async_trait]
impl PastDueStore for DieselOrderRepository {
    async fn mark_past_due(
        &self,
        now: DateTime<Utc>,
        ended_after: DateTime<Utc>,
    ) -> Result<u64, RepoError> {
        let (now, ended_after) = (now.naive_utc(), ended_after.naive_utc());
        let events = self.events();
        self.db()
            .write(move |c| {
                let mut marked = 0_u64;
                for id in past_due_candidates(c, now, ended_after)? {
                    // Each in its own transaction with its event: one conditional update,
                    // so a concurrent sweep marks (and tells) it once.
                    if c.write_transaction(|c| mark_one(c, events.as_deref(), id, now))? {
                        marked += 1;
                    }
                }
                Ok(marked)
            })
            .await
    }

    async fn expire_past_due(&self, ended_before: DateTime<Utc>) -> Result<u64, RepoError> {
        let before = ended_before.naive_utc();
        let events = self.events();
        self.db()
            .write(move |c| match events.as_deref() {
                Some(events) => events::expire_active(c, events, before, true),
                None => Ok(queries::expire_active_rows(c, before, true)?),
            })
            .await
    }
}
