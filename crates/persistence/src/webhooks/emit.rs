//! Storing an event in the transaction of the change that causes it.

use chrono::{DateTime, Utc};
use tariff_domain::webhooks::{Envelope, EventDraft, EventId, Sequence};
use tariff_domain::{AccountRef, RepoError};

use super::queries::{self, NewEvent};
use super::rows::parse_filter;
use crate::db::DbConn;
use crate::errors::DbError;

/// The stream an event is numbered in: its account's, or the catalogue's.
fn stream_of(account: Option<AccountRef>) -> String {
    match account {
        Some(account) => format!("{}:{}", account.kind(), account.raw_id()),
        None => "catalogue".to_owned(),
    }
}

/// Stores `draft` inside the caller's open write transaction: a fresh event id, the
/// next sequence number of its account's stream, the time `now`, the body serialised
/// once; then one pending delivery, due at once, per enabled endpoint that wants its
/// type. If the caller's transaction rolls back, so does the event: a change and its
/// event are stored together or not at all.
pub fn store_event(
    c: &mut DbConn<'_>,
    draft: EventDraft,
    now: DateTime<Utc>,
) -> Result<Envelope, DbError> {
    let stream = stream_of(draft.account());
    let raw_sequence = queries::next_sequence(c, &stream)?;
    let sequence = u64::try_from(raw_sequence)
        .ok()
        .and_then(|raw| Sequence::new(raw).ok())
        .ok_or_else(|| RepoError::internal("webhook sequence out of range"))?;
    let event_type = draft.event_type();
    let envelope = draft.into_envelope(EventId::generate(), now, sequence);
    let body = envelope.to_body();
    let created_at = envelope.created_at().naive_utc();
    let event_row_id = queries::insert_event(
        c,
        &NewEvent {
            event_id: envelope.id().as_str(),
            event_type: event_type.wire_name(),
            stream: &stream,
            sequence: raw_sequence,
            body: &body,
            created_at,
        },
    )?;
    for (endpoint_id, events) in queries::enabled_endpoint_filters(c)? {
        if parse_filter(&events)?.matches(event_type) {
            queries::insert_delivery(c, endpoint_id, event_row_id, created_at)?;
        }
    }
    Ok(envelope)
}
