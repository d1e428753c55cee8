//! Webhook rows, apart from the domain's types, and their conversion.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use tariff_domain::webhooks::secret::PreviousSecret;
use tariff_domain::webhooks::{
    Delivery, DeliveryId, DeliveryStatus, EndpointId, EndpointSpec, EventFilter, EventId,
    EventType, SecretSealer, SigningKeys, WebhookEndpoint,
};
use tariff_domain::RepoError;

use crate::schema::{webhook_deliveries, webhook_endpoints};

pub(super) fn utc(at: NaiveDateTime) -> DateTime<Utc> {
    at.and_utc()
}

/// A `webhook_endpoints` row as stored.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = webhook_endpoints)]
pub(super) struct EndpointRow {
    pub id: i64,
    pub url: String,
    pub events: String,
    pub description: Option<String>,
    pub enabled: bool,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_signs_until: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

/// The settings columns of an endpoint, from a validated spec.
#[derive(Insertable, AsChangeset, Debug)]
#[diesel(table_name = webhook_endpoints, treat_none_as_null = true)]
pub(super) struct EndpointSettings {
    url: String,
    events: String,
    description: Option<String>,
    enabled: bool,
    updated_at: NaiveDateTime,
}

impl EndpointSettings {
    pub fn from_spec(spec: &EndpointSpec, now: NaiveDateTime) -> EndpointSettings {
        EndpointSettings {
            url: spec.url().as_str().to_owned(),
            events: events_column(spec.events()),
            description: spec.description().map(str::to_owned),
            enabled: spec.enabled(),
            updated_at: now,
        }
    }
}

/// The signing-key columns of an endpoint.
#[derive(Insertable, AsChangeset, Debug)]
#[diesel(table_name = webhook_endpoints, treat_none_as_null = true)]
pub(super) struct KeyColumns {
    secret: String,
    previous_secret: Option<String>,
    previous_signs_until: Option<NaiveDateTime>,
}

impl KeyColumns {
    /// The columns of `keys`, their secrets sealed by `sealer`.
    pub fn from_keys(
        sealer: &dyn SecretSealer,
        keys: &SigningKeys,
    ) -> Result<KeyColumns, RepoError> {
        let seal = |secret| {
            sealer
                .seal(secret)
                .map_err(|e| RepoError::internal(e.to_string()))
        };
        Ok(KeyColumns {
            secret: seal(keys.current())?,
            previous_secret: keys.previous().map(|p| seal(&p.secret)).transpose()?,
            previous_signs_until: keys.previous().map(|p| p.signs_until.naive_utc()),
        })
    }
}

/// The stored form of an event filter: a JSON array of names (`["*"]` for all).
pub(super) fn events_column(filter: &EventFilter) -> String {
    serde_json::Value::from(filter.to_names()).to_string()
}

pub(super) fn parse_filter(text: &str) -> Result<EventFilter, RepoError> {
    let names: Vec<String> = serde_json::from_str(text)
        .map_err(|e| RepoError::internal(format!("stored webhook event filter: {e}")))?;
    EventFilter::parse(&names)
        .map_err(|e| RepoError::internal(format!("stored webhook event filter: {e}")))
}

/// The signing keys of stored (sealed, or from before sealing, clear) secrets.
pub(super) fn keys_of(
    sealer: &dyn SecretSealer,
    secret: &str,
    previous_secret: Option<&str>,
    previous_signs_until: Option<NaiveDateTime>,
) -> Result<SigningKeys, RepoError> {
    let parse = |text: &str| {
        sealer
            .open(text)
            .map_err(|e| RepoError::internal(e.to_string()))
    };
    let previous = match (previous_secret, previous_signs_until) {
        (Some(secret), Some(until)) => Some(PreviousSecret {
            secret: parse(secret)?,
            signs_until: utc(until),
        }),
        _ => None,
    };
    Ok(SigningKeys::with_previous(parse(secret)?, previous))
}

impl EndpointRow {
    /// The endpoint, its secrets opened by `sealer`.
    pub fn into_endpoint(self, sealer: &dyn SecretSealer) -> Result<WebhookEndpoint, RepoError> {
        let row = self;
        let id = EndpointId::new(row.id).ok_or_else(|| RepoError::internal("endpoint id"))?;
        let filter = parse_filter(&row.events)?;
        let names = filter.to_names();
        let spec = EndpointSpec::new(
            &row.url,
            &names,
            row.description.as_deref(),
            Some(row.enabled),
        )
        .map_err(|e| RepoError::internal(format!("stored webhook endpoint: {e}")))?;
        let keys = keys_of(
            sealer,
            &row.secret,
            row.previous_secret.as_deref(),
            row.previous_signs_until,
        )?;
        Ok(WebhookEndpoint::new(id, spec, keys, utc(row.created_at)))
    }
}

/// A `webhook_deliveries` row as the deliveries log shows it.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = webhook_deliveries)]
pub(super) struct DeliveryRow {
    pub id: i64,
    pub endpoint_id: i64,
    pub status: String,
    pub attempts: i32,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub delivered_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

/// A delivery row with its event's id and type.
pub(super) fn to_delivery(
    (row, event_id, event_type): (DeliveryRow, String, String),
) -> Result<Delivery, RepoError> {
    Ok(Delivery {
        id: DeliveryId::new(row.id).ok_or_else(|| RepoError::internal("delivery id"))?,
        endpoint: EndpointId::new(row.endpoint_id)
            .ok_or_else(|| RepoError::internal("delivery endpoint id"))?,
        event_id: EventId::parse(&event_id).map_err(|_| RepoError::internal("stored event id"))?,
        event_type: event_type
            .parse::<EventType>()
            .map_err(|e| RepoError::internal(e.to_string()))?,
        status: DeliveryStatus::parse(&row.status)
            .map_err(|e| RepoError::internal(e.to_string()))?,
        attempts: u32::try_from(row.attempts).unwrap_or(0),
        last_status_code: row.last_status_code.and_then(|c| u16::try_from(c).ok()),
        last_error: row.last_error,
        next_attempt_at: row.next_attempt_at.map(utc),
        delivered_at: row.delivered_at.map(utc),
        created_at: utc(row.created_at),
    })
}
