//! Liveness and readiness.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::error::ApiError;
use crate::state::ApiState;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Alive")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text", content_type = "text/plain")))]
pub async fn metrics(state: web::Data<ApiState>) -> HttpResponse {
    let mut text = state.metrics.render();
    let queue = match state.webhooks.queue_stats().await {
        Ok(stats) => Some(stats),
        Err(err) => {
            tracing::warn!(error = %err, "metrics: cannot read the webhook queue");
            None
        }
    };
    text.push_str(&crate::metrics::render_webhooks(
        state.webhook_worker.as_ref().map(|w| w.report()),
        queue,
        state.clock.now(),
    ));
    if state.payments.enabled() {
        let counts = match state.payments.store().count_by_status().await {
            Ok(counts) => Some(counts),
            Err(err) => {
                tracing::warn!(error = %err, "metrics: cannot count the payments");
                None
            }
        };
        text.push_str(&crate::metrics::render_payments(
            counts,
            state.payments.signature_failures(),
        ));
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(text)
}

/// The database answers.
#[utoipa::path(
    get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready"),
        (status = 503, description = "Database unavailable", body = crate::error::ErrorBody)
    )
)]
pub async fn readyz(state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    state.health.ping().await?;
    Ok(HttpResponse::Ok().json(json!({"status": "ready", "database": "ok"})))
}
