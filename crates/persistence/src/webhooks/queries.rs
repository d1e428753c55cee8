//! The webhook statements, written once against [`DbConn`]. The claim's row lock is the
//! one statement that differs: PostgreSQL skips rows another instance has locked
//! (`FOR UPDATE SKIP LOCKED`); SQLite has one writer, so the claim's write transaction
//! already excludes every other.

use chrono::NaiveDateTime;
use diesel::dsl::{count_star, min, not};
use diesel::prelude::*;

use super::rows::{DeliveryRow, EndpointRow, EndpointSettings, KeyColumns};
use crate::db::{Columns, DbConn};
use crate::schema::{webhook_deliveries, webhook_endpoints, webhook_events, webhook_sequences};

const PENDING: &str = "pending";

// ---- endpoints -------------------------------------------------------------------

pub(super) fn insert_endpoint(
    c: &mut DbConn<'_>,
    settings: &EndpointSettings,
    keys: &KeyColumns,
    now: NaiveDateTime,
) -> QueryResult<EndpointRow> {
    let id: i64 = c.get_result(
        diesel::insert_into(webhook_endpoints::table)
            .values((settings, keys, webhook_endpoints::created_at.eq(now)))
            .returning(webhook_endpoints::id),
    )?;
    get_endpoint(c, id)
}

pub(super) fn get_endpoint(c: &mut DbConn<'_>, id: i64) -> QueryResult<EndpointRow> {
    c.get_result(
        webhook_endpoints::table
            .find(id)
            .select(EndpointRow::columns()),
    )
}

pub(super) fn count_endpoints(c: &mut DbConn<'_>) -> QueryResult<i64> {
    c.get_result(webhook_endpoints::table.count())
}

pub(super) fn page_endpoints(
    c: &mut DbConn<'_>,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<EndpointRow>> {
    c.load(
        webhook_endpoints::table
            .select(EndpointRow::columns())
            .order(webhook_endpoints::id.asc())
            .offset(offset)
            .limit(limit),
    )
}

/// Changes an endpoint's settings; `false` when there is no such endpoint.
pub(super) fn update_endpoint(
    c: &mut DbConn<'_>,
    id: i64,
    settings: &EndpointSettings,
) -> QueryResult<bool> {
    let changed = c.execute(diesel::update(webhook_endpoints::table.find(id)).set(settings))?;
    Ok(changed > 0)
}

pub(super) fn set_keys(c: &mut DbConn<'_>, id: i64, keys: &KeyColumns) -> QueryResult<bool> {
    let changed = c.execute(diesel::update(webhook_endpoints::table.find(id)).set(keys))?;
    Ok(changed > 0)
}

/// Deletes an endpoint and its deliveries; `false` when there is no such endpoint.
pub(super) fn delete_endpoint(c: &mut DbConn<'_>, id: i64) -> QueryResult<bool> {
    c.execute(
        diesel::delete(webhook_deliveries::table).filter(webhook_deliveries::endpoint_id.eq(id)),
    )?;
    let deleted = c.execute(diesel::delete(webhook_endpoints::table.find(id)))?;
    Ok(deleted > 0)
}

/// `(id, events)` of every enabled endpoint: those a new event fans out to.
pub(super) fn enabled_endpoint_filters(c: &mut DbConn<'_>) -> QueryResult<Vec<(i64, String)>> {
    c.load(
        webhook_endpoints::table
            .filter(webhook_endpoints::enabled.eq(true))
            .select((webhook_endpoints::id, webhook_endpoints::events))
            .order(webhook_endpoints::id.asc()),
    )
}

// ---- events ----------------------------------------------------------------------

/// Takes the next `count` sequence numbers of `stream` in the caller's transaction and
/// returns the last of them: the counter row stays locked until it commits, so the
/// numbers follow commit order.
pub(super) fn next_sequences(c: &mut DbConn<'_>, stream: &str, count: i64) -> QueryResult<i64> {
    c.get_result(
        diesel::insert_into(webhook_sequences::table)
            .values((
                webhook_sequences::stream.eq(stream),
                webhook_sequences::last_value.eq(count),
            ))
            .on_conflict(webhook_sequences::stream)
            .do_update()
            .set(webhook_sequences::last_value.eq(webhook_sequences::last_value + count))
            .returning(webhook_sequences::last_value),
    )
}

pub(super) struct NewEvent<'a> {
    pub event_id: &'a str,
    pub event_type: &'a str,
    pub stream: &'a str,
    pub sequence: i64,
    pub body: &'a str,
    pub created_at: NaiveDateTime,
}

pub(super) fn insert_event(c: &mut DbConn<'_>, event: &NewEvent<'_>) -> QueryResult<i64> {
    c.get_result(
        diesel::insert_into(webhook_events::table)
            .values((
                webhook_events::event_id.eq(event.event_id),
                webhook_events::event_type.eq(event.event_type),
                webhook_events::stream.eq(event.stream),
                webhook_events::sequence.eq(event.sequence),
                webhook_events::body.eq(event.body),
                webhook_events::created_at.eq(event.created_at),
            ))
            .returning(webhook_events::id),
    )
}

/// A new pending delivery of an event to an endpoint, due at once.
pub(super) fn insert_delivery(
    c: &mut DbConn<'_>,
    endpoint_id: i64,
    event_row_id: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    c.execute(diesel::insert_into(webhook_deliveries::table).values((
        webhook_deliveries::endpoint_id.eq(endpoint_id),
        webhook_deliveries::event_row_id.eq(event_row_id),
        webhook_deliveries::status.eq(PENDING),
        webhook_deliveries::attempts.eq(0),
        webhook_deliveries::series_attempt.eq(1),
        webhook_deliveries::next_attempt_at.eq(Some(now)),
        webhook_deliveries::created_at.eq(now),
    )))
}

// ---- the claim -------------------------------------------------------------------

/// Endpoints (enabled, not excluded) with deliveries due at `now` and not under a live
/// lease, the one whose delivery has waited longest first. One lookup per enabled
/// endpoint in the index of pending deliveries by endpoint and due time (it stops at
/// the first free row), so its cost does not grow with the backlog.
pub(super) fn endpoints_with_due(
    c: &mut DbConn<'_>,
    now: NaiveDateTime,
    exclude: &[i64],
    limit: i64,
) -> QueryResult<Vec<i64>> {
    let oldest_due = webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(webhook_endpoints::id))
        .filter(webhook_deliveries::status.eq(PENDING))
        .filter(webhook_deliveries::next_attempt_at.le(now))
        .filter(
            webhook_deliveries::lease_until
                .is_null()
                .or(webhook_deliveries::lease_until.le(now)),
        )
        .order((
            webhook_deliveries::next_attempt_at.asc(),
            webhook_deliveries::id.asc(),
        ))
        .select(webhook_deliveries::next_attempt_at)
        .limit(1)
        .single_value();
    let rows: Vec<(i64, Option<NaiveDateTime>)> = c.load(
        webhook_endpoints::table
            .filter(webhook_endpoints::enabled.eq(true))
            .filter(not(webhook_endpoints::id.eq_any(exclude.to_vec())))
            .select((webhook_endpoints::id, oldest_due)),
    )?;
    let mut due: Vec<(NaiveDateTime, i64)> = rows
        .into_iter()
        .filter_map(|(id, oldest)| oldest.map(|at| (at, id)))
        .collect();
    due.sort_unstable();
    Ok(due
        .into_iter()
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(|(_, id)| id)
        .collect())
}

/// Up to `limit` of one endpoint's due deliveries, oldest due first, locked for the
/// caller's transaction. On PostgreSQL rows another claim holds are skipped, so two
/// instances never take the same one.
pub(super) fn lock_due_of_endpoint(
    c: &mut DbConn<'_>,
    endpoint_id: i64,
    now: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<i64>> {
    let due = webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
        .filter(webhook_deliveries::status.eq(PENDING))
        .filter(webhook_deliveries::next_attempt_at.le(now))
        .filter(
            webhook_deliveries::lease_until
                .is_null()
                .or(webhook_deliveries::lease_until.le(now)),
        )
        .order((
            webhook_deliveries::next_attempt_at.asc(),
            webhook_deliveries::id.asc(),
        ))
        .select(webhook_deliveries::id)
        .limit(limit);
    match c {
        DbConn::Postgres(pg) => due.for_update().skip_locked().load(&mut **pg),
        sqlite @ DbConn::Sqlite(_) => sqlite.load(due),
    }
}

pub(super) fn stamp_lease(
    c: &mut DbConn<'_>,
    ids: &[i64],
    holder: &str,
    token: &str,
    until: NaiveDateTime,
) -> QueryResult<usize> {
    c.execute(
        diesel::update(webhook_deliveries::table)
            .filter(webhook_deliveries::id.eq_any(ids.to_vec()))
            .set((
                webhook_deliveries::lease_holder.eq(Some(holder)),
                webhook_deliveries::lease_token.eq(Some(token)),
                webhook_deliveries::lease_until.eq(Some(until)),
            )),
    )
}

/// What an attempt needs, per claimed delivery.
pub(super) type ClaimedRow = (
    i64,
    i64,
    i32,
    String,
    String,
    Option<String>,
    Option<NaiveDateTime>,
    String,
    String,
);

pub(super) fn claimed_rows(c: &mut DbConn<'_>, ids: &[i64]) -> QueryResult<Vec<ClaimedRow>> {
    c.load(
        webhook_deliveries::table
            .inner_join(webhook_endpoints::table)
            .inner_join(webhook_events::table)
            .filter(webhook_deliveries::id.eq_any(ids.to_vec()))
            .order((
                webhook_deliveries::next_attempt_at.asc(),
                webhook_deliveries::id.asc(),
            ))
            .select((
                webhook_deliveries::id,
                webhook_deliveries::endpoint_id,
                webhook_deliveries::series_attempt,
                webhook_endpoints::url,
                webhook_endpoints::secret,
                webhook_endpoints::previous_secret,
                webhook_endpoints::previous_signs_until,
                webhook_events::event_id,
                webhook_events::body,
            )),
    )
}

// ---- outcomes --------------------------------------------------------------------

pub(super) struct Outcome<'a> {
    pub status: &'static str,
    pub last_status_code: Option<i32>,
    pub last_error: Option<&'a str>,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub delivered_at: Option<NaiveDateTime>,
}

/// Records an attempt under the lease `token`; `false` when the lease is no longer held.
pub(super) fn record_outcome(
    c: &mut DbConn<'_>,
    id: i64,
    token: &str,
    outcome: &Outcome<'_>,
) -> QueryResult<bool> {
    let changed = c.execute(
        diesel::update(webhook_deliveries::table)
            .filter(webhook_deliveries::id.eq(id))
            .filter(webhook_deliveries::lease_token.eq(token))
            .set((
                webhook_deliveries::status.eq(outcome.status),
                webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
                webhook_deliveries::series_attempt.eq(webhook_deliveries::series_attempt + 1),
                webhook_deliveries::last_status_code.eq(outcome.last_status_code),
                webhook_deliveries::last_error.eq(outcome.last_error),
                webhook_deliveries::next_attempt_at.eq(outcome.next_attempt_at),
                webhook_deliveries::delivered_at.eq(outcome.delivered_at),
                webhook_deliveries::lease_holder.eq(None::<String>),
                webhook_deliveries::lease_token.eq(None::<String>),
                webhook_deliveries::lease_until.eq(None::<NaiveDateTime>),
            )),
    )?;
    Ok(changed > 0)
}

/// Records several attempts, each under its lease token, as [`record_outcome`] does;
/// answers, in order, whether each was recorded (`false`: its lease is no longer held).
/// On PostgreSQL it is one statement over arrays of the outcomes (one round trip
/// whatever their number); on SQLite, where a statement costs no round trip, one
/// statement per outcome.
pub(super) fn record_outcomes(
    c: &mut DbConn<'_>,
    outcomes: &[(i64, &str, Outcome<'_>)],
) -> QueryResult<Vec<bool>> {
    match c {
        DbConn::Postgres(pg) => {
            use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text, Timestamp};

            #[derive(QueryableByName)]
            struct Recorded {
                #[diesel(sql_type = BigInt)]
                id: i64,
                #[diesel(sql_type = Text)]
                token: String,
            }

            let recorded: Vec<Recorded> = diesel::sql_query(
                "UPDATE webhook_deliveries AS d SET \
                 status = v.status, attempts = d.attempts + 1, \
                 series_attempt = d.series_attempt + 1, last_status_code = v.code, \
                 last_error = v.error, next_attempt_at = v.next_at, \
                 delivered_at = v.delivered_at, \
                 lease_holder = NULL, lease_token = NULL, lease_until = NULL \
                 FROM unnest($1::bigint[], $2::text[], $3::text[], $4::integer[], \
                 $5::text[], $6::timestamp[], $7::timestamp[]) \
                 AS v(id, token, status, code, error, next_at, delivered_at) \
                 WHERE d.id = v.id AND d.lease_token = v.token \
                 RETURNING d.id, v.token",
            )
            .bind::<Array<BigInt>, _>(outcomes.iter().map(|o| o.0).collect::<Vec<_>>())
            .bind::<Array<Text>, _>(outcomes.iter().map(|o| o.1).collect::<Vec<_>>())
            .bind::<Array<Text>, _>(outcomes.iter().map(|o| o.2.status).collect::<Vec<_>>())
            .bind::<Array<Nullable<Integer>>, _>(
                outcomes
                    .iter()
                    .map(|o| o.2.last_status_code)
                    .collect::<Vec<_>>(),
            )
            .bind::<Array<Nullable<Text>>, _>(
                outcomes.iter().map(|o| o.2.last_error).collect::<Vec<_>>(),
            )
            .bind::<Array<Nullable<Timestamp>>, _>(
                outcomes
                    .iter()
                    .map(|o| o.2.next_attempt_at)
                    .collect::<Vec<_>>(),
            )
            .bind::<Array<Nullable<Timestamp>>, _>(
                outcomes
                    .iter()
                    .map(|o| o.2.delivered_at)
                    .collect::<Vec<_>>(),
            )
            .load(&mut **pg)?;
            Ok(outcomes
                .iter()
                .map(|(id, token, _)| {
                    recorded
                        .iter()
                        .any(|r| r.id == *id && r.token.as_str() == *token)
                })
                .collect())
        }
        sqlite @ DbConn::Sqlite(_) => outcomes
            .iter()
            .map(|(id, token, outcome)| record_outcome(sqlite, *id, token, outcome))
            .collect(),
    }
}

/// Ends a lease without counting an attempt; `false` when it is no longer held.
pub(super) fn release(c: &mut DbConn<'_>, id: i64, token: &str) -> QueryResult<bool> {
    let changed = c.execute(
        diesel::update(webhook_deliveries::table)
            .filter(webhook_deliveries::id.eq(id))
            .filter(webhook_deliveries::lease_token.eq(token))
            .set((
                webhook_deliveries::lease_holder.eq(None::<String>),
                webhook_deliveries::lease_token.eq(None::<String>),
                webhook_deliveries::lease_until.eq(None::<NaiveDateTime>),
            )),
    )?;
    Ok(changed > 0)
}

pub(super) fn requeue_expired(c: &mut DbConn<'_>, now: NaiveDateTime) -> QueryResult<usize> {
    c.execute(
        diesel::update(webhook_deliveries::table)
            .filter(webhook_deliveries::lease_until.le(now))
            .set((
                webhook_deliveries::lease_holder.eq(None::<String>),
                webhook_deliveries::lease_token.eq(None::<String>),
                webhook_deliveries::lease_until.eq(None::<NaiveDateTime>),
            )),
    )
}

// ---- the deliveries log ----------------------------------------------------------

pub(super) fn endpoint_exists(c: &mut DbConn<'_>, id: i64) -> QueryResult<bool> {
    let found: i64 = c.get_result(
        webhook_endpoints::table
            .filter(webhook_endpoints::id.eq(id))
            .count(),
    )?;
    Ok(found > 0)
}

pub(super) fn count_deliveries(c: &mut DbConn<'_>, endpoint_id: i64) -> QueryResult<i64> {
    c.get_result(
        webhook_deliveries::table
            .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
            .count(),
    )
}

pub(super) fn page_deliveries(
    c: &mut DbConn<'_>,
    endpoint_id: i64,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<(DeliveryRow, String, String)>> {
    c.load(
        webhook_deliveries::table
            .inner_join(webhook_events::table)
            .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
            .order((
                webhook_deliveries::created_at.desc(),
                webhook_deliveries::id.desc(),
            ))
            .select((
                DeliveryRow::columns(),
                webhook_events::event_id,
                webhook_events::event_type,
            ))
            .offset(offset)
            .limit(limit),
    )
}

pub(super) fn get_delivery(
    c: &mut DbConn<'_>,
    id: i64,
) -> QueryResult<(DeliveryRow, String, String)> {
    c.get_result(
        webhook_deliveries::table
            .inner_join(webhook_events::table)
            .filter(webhook_deliveries::id.eq(id))
            .select((
                DeliveryRow::columns(),
                webhook_events::event_id,
                webhook_events::event_type,
            )),
    )
}

/// The lease expiry of a delivery (`None` when none), or `NotFound`.
pub(super) fn lease_of(c: &mut DbConn<'_>, id: i64) -> QueryResult<Option<NaiveDateTime>> {
    c.get_result(
        webhook_deliveries::table
            .find(id)
            .select(webhook_deliveries::lease_until),
    )
}

/// Makes a delivery pending, due at `now`, its series starting again.
pub(super) fn restart_series(
    c: &mut DbConn<'_>,
    id: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    c.execute(diesel::update(webhook_deliveries::table.find(id)).set((
        webhook_deliveries::status.eq(PENDING),
        webhook_deliveries::series_attempt.eq(1),
        webhook_deliveries::next_attempt_at.eq(Some(now)),
        webhook_deliveries::lease_holder.eq(None::<String>),
        webhook_deliveries::lease_token.eq(None::<String>),
        webhook_deliveries::lease_until.eq(None::<NaiveDateTime>),
    )))
}

// ---- the queue's size ------------------------------------------------------------

pub(super) fn pending_stats(c: &mut DbConn<'_>) -> QueryResult<(i64, Option<NaiveDateTime>)> {
    c.get_result(
        webhook_deliveries::table
            .filter(webhook_deliveries::status.eq(PENDING))
            .select((count_star(), min(webhook_deliveries::created_at))),
    )
}

/// Locks an endpoint's row for the rest of the transaction (an update that changes
/// nothing but `updated_at`); `false` when there is no such endpoint.
pub(super) fn touch_endpoint(c: &mut DbConn<'_>, id: i64) -> QueryResult<bool> {
    let changed = c.execute(
        diesel::update(webhook_endpoints::table.find(id))
            .set(webhook_endpoints::updated_at.eq(webhook_endpoints::updated_at)),
    )?;
    Ok(changed > 0)
}
