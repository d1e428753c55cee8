//! Webhook endpoints and deliveries (CONTRACT.md part two, "Outgoing webhooks"), and the
//! event payloads the HTTP shapes define.

use serde::{Deserialize, Serialize};
use tariff_domain::orders::Order;
use tariff_domain::webhooks::{
    Delivery, EndpointSpec, EndpointWithSecret, EventPayloads, WebhookEndpoint,
};
use tariff_domain::{Limits, Plan};
use utoipa::ToSchema;

use super::order::{LimitsJson, OrderJson, OrderWithPlanJson};
use super::panel_timestamp;
use super::plan::PlanJson;
use crate::error::ApiError;

/// `POST /api/admin/webhooks` and `PUT /api/admin/webhooks/{id}`. For a PUT, fields not
/// given keep their current value.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookInput {
    /// An absolute http(s) URL; loopback and private addresses are accepted.
    pub url: Option<String>,
    /// Event names, or `["*"]` for every event.
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    /// Defaults to true.
    pub enabled: Option<bool>,
}

impl WebhookInput {
    /// The settings of a new endpoint; `url` and `events` are required.
    pub fn into_new_spec(self) -> Result<EndpointSpec, ApiError> {
        let url = self
            .url
            .ok_or_else(|| ApiError::validation("url", "url is required."))?;
        let events = self
            .events
            .ok_or_else(|| ApiError::validation("events", "events is required."))?;
        Ok(EndpointSpec::new(
            &url,
            &events,
            self.description.as_deref(),
            self.enabled,
        )?)
    }

    /// `current` with the fields given here replaced.
    pub fn apply_to(self, current: &EndpointSpec) -> Result<EndpointSpec, ApiError> {
        let url = self
            .url
            .unwrap_or_else(|| current.url().as_str().to_owned());
        let events = self.events.unwrap_or_else(|| {
            current
                .events()
                .to_names()
                .into_iter()
                .map(str::to_owned)
                .collect()
        });
        let description = match self.description {
            Some(text) => Some(text),
            None => current.description().map(str::to_owned),
        };
        Ok(EndpointSpec::new(
            &url,
            &events,
            description.as_deref(),
            Some(self.enabled.unwrap_or(current.enabled())),
        )?)
    }
}

/// A webhook endpoint. Its secret is never shown here.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookJson {
    pub id: i64,
    pub url: String,
    pub events: Vec<&'static str>,
    pub description: Option<String>,
    pub enabled: bool,
    pub created_at: String,
}

impl From<&WebhookEndpoint> for WebhookJson {
    fn from(endpoint: &WebhookEndpoint) -> Self {
        let spec = endpoint.spec();
        WebhookJson {
            id: endpoint.id().get(),
            url: spec.url().as_str().to_owned(),
            events: spec.events().to_names(),
            description: spec.description().map(str::to_owned),
            enabled: spec.enabled(),
            created_at: panel_timestamp(endpoint.created_at()),
        }
    }
}

/// A webhook endpoint with its signing secret: only the answers of create and
/// rotate-secret carry it.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookWithSecretJson {
    pub id: i64,
    pub url: String,
    pub events: Vec<&'static str>,
    pub description: Option<String>,
    pub enabled: bool,
    /// `whsec_` and the base64 of the key; shown once.
    pub secret: String,
    pub created_at: String,
}

impl From<&EndpointWithSecret> for WebhookWithSecretJson {
    fn from(created: &EndpointWithSecret) -> Self {
        let shown = WebhookJson::from(&created.endpoint);
        WebhookWithSecretJson {
            id: shown.id,
            url: shown.url,
            events: shown.events,
            description: shown.description,
            enabled: shown.enabled,
            secret: created.secret.expose(),
            created_at: shown.created_at,
        }
    }
}

/// One event's delivery to one endpoint.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDeliveryJson {
    pub id: i64,
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: &'static str,
    /// `pending`, `delivered` or `failed`.
    pub status: &'static str,
    pub attempts: u32,
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<String>,
    pub delivered_at: Option<String>,
    pub created_at: String,
}

impl From<Delivery> for WebhookDeliveryJson {
    fn from(delivery: Delivery) -> Self {
        WebhookDeliveryJson {
            id: delivery.id.get(),
            event_id: delivery.event_id.as_str().to_owned(),
            event_type: delivery.event_type.wire_name(),
            status: delivery.status.as_str(),
            attempts: delivery.attempts,
            last_status_code: delivery.last_status_code,
            last_error: delivery.last_error,
            next_attempt_at: delivery.next_attempt_at.map(panel_timestamp),
            delivered_at: delivery.delivered_at.map(panel_timestamp),
            created_at: panel_timestamp(delivery.created_at),
        }
    }
}

/// The payloads of events, in the API's own shapes.
#[derive(Clone, Copy, Debug, Default)]
pub struct ApiEventPayloads;

impl EventPayloads for ApiEventPayloads {
    fn plan(&self, plan: &Plan) -> serde_json::Value {
        serde_json::to_value(PlanJson::from(plan)).unwrap_or_default()
    }

    /// Exactly the body of `GET /api/orders/:id` in the seed profile.
    fn order(&self, order: &Order, plan: &Plan) -> serde_json::Value {
        serde_json::to_value(OrderWithPlanJson {
            order: OrderJson::from(order),
            plan: PlanJson::from(plan),
        })
        .unwrap_or_default()
    }

    fn limits(&self, limits: &Limits) -> serde_json::Value {
        serde_json::to_value(LimitsJson::from(limits)).unwrap_or_default()
    }
}
