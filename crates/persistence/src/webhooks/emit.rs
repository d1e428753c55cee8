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
    store_events(c, vec![draft], now)?
        .pop()
        .ok_or_else(|| RepoError::internal("no event stored").into())
}

/// [`store_event`] for several events of one change, in order: each stream's sequence
/// numbers are taken in one statement and the endpoints' filters are read once (an
/// activation stores five events).
pub fn store_events(
    c: &mut DbConn<'_>,
    drafts: Vec<EventDraft>,
    now: DateTime<Utc>,
) -> Result<Vec<Envelope>, DbError> {
    if drafts.is_empty() {
        return Ok(Vec::new());
    }
    let streams: Vec<String> = drafts.iter().map(|d| stream_of(d.account())).collect();
    // The first sequence number of each stream's share, in order of first appearance.
    let mut next: Vec<(&str, i64)> = Vec::new();
    for stream in &streams {
        if next.iter().any(|(s, _)| *s == stream.as_str()) {
            continue;
        }
        let count = streams.iter().filter(|s| *s == stream).count();
        let count = i64::try_from(count).map_err(|_| RepoError::internal("too many events"))?;
        let last = queries::next_sequences(c, stream, count)?;
        next.push((stream.as_str(), last - count + 1));
    }
    let filters = queries::enabled_endpoint_filters(c)?
        .into_iter()
        .map(|(endpoint, events)| Ok((endpoint, parse_filter(&events)?)))
        .collect::<Result<Vec<_>, DbError>>()?;
    let mut stored = Vec::with_capacity(drafts.len());
    for (draft, stream) in drafts.into_iter().zip(&streams) {
        let slot = next
            .iter_mut()
            .find(|(s, _)| *s == stream.as_str())
            .ok_or_else(|| RepoError::internal("event stream without sequence"))?;
        let raw_sequence = slot.1;
        slot.1 += 1;
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
                stream,
                sequence: raw_sequence,
                body: &body,
                created_at,
            },
        )?;
        for (endpoint_id, filter) in &filters {
            if filter.matches(event_type) {
                queries::insert_delivery(c, *endpoint_id, event_row_id, created_at)?;
            }
        }
        stored.push(envelope);
    }
    Ok(stored)
}
