//! Admin: webhook endpoints, their deliveries, redelivery.

use actix_web::{web, HttpResponse};
use tariff_domain::webhooks::{DeliveryId, EndpointId};

use crate::auth::Admin;
use crate::dto::webhook::{WebhookDeliveryJson, WebhookInput, WebhookJson, WebhookWithSecretJson};
use crate::error::ApiError;
use crate::json::Json;
use crate::pagination::{PageParams, PageQuery, Paginated};
use crate::routes::path_id;
use crate::state::ApiState;

fn endpoint_id(raw: i64) -> Result<EndpointId, ApiError> {
    path_id(raw, EndpointId::new, "Webhook endpoint")
}

/// Adds an endpoint; the answer carries its signing secret, shown only here and by
/// rotate-secret.
#[utoipa::path(
    post, path = "/api/admin/webhooks", tag = "admin",
    request_body = WebhookInput,
    responses(
        (status = 201, body = WebhookWithSecretJson),
        (status = 400, description = "Invalid field (named in `field`)", body = crate::error::ErrorBody),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
        (status = 403, description = "Not an admin", body = crate::error::ErrorBody),
        (status = 503, description = "Database unavailable", body = crate::error::ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn create_webhook(
    state: web::Data<ApiState>,
    _admin: Admin,
    body: Json<WebhookInput>,
) -> Result<HttpResponse, ApiError> {
    let spec = body.into_inner().into_new_spec()?;
    let created = state.webhooks.create(spec).await?;
    Ok(HttpResponse::Created().json(WebhookWithSecretJson::from(&created)))
}

/// Endpoints in id order, paginated (the shared envelope); secrets are never listed.
#[utoipa::path(
    get, path = "/api/admin/webhooks", tag = "admin",
    params(PageParams),
    responses(
        (status = 200, description = "One page of endpoints", body = Paginated<WebhookJson>),
        (status = 400, description = "Invalid page or per_page", body = crate::error::ErrorBody),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
        (status = 403, description = "Not an admin", body = crate::error::ErrorBody),
        (status = 503, description = "Database unavailable", body = crate::error::ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn list_webhooks(
    state: web::Data<ApiState>,
    _admin: Admin,
    pages: PageQuery,
) -> Result<HttpResponse, ApiError> {
    let pages = pages.validate()?;
    let page = state.webhooks.list(pages.request()).await?;
    Ok(HttpResponse::Ok().json(pages.envelope(page, |e| WebhookJson::from(&e))))
}

/// One endpoint, without its secret.
#[utoipa::path(
    get, path = "/api/admin/webhooks/{id}", tag = "admin",
    params(("id" = i64, Path, description = "Endpoint id")),
    responses(
        (status = 200, body = WebhookJson),
        (status = 400, description = "Bad id", body = crate::error::ErrorBody),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
        (status = 403, description = "Not an admin", body = crate::error::ErrorBody),
        (status = 404, description = "No such endpoint", body = crate::error::ErrorBody),
        (status = 503, description = "Database unavailable", body = crate::error::ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn get_webhook(
    state: web::Data<ApiState>,
    _admin: Admin,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let endpoint = state.webhooks.get(endpoint_id(id.into_inner())?).await?;
    Ok(HttpResponse::Ok().json(WebhookJson::from(&endpoint)))
}

/// Changes the fields given; the others keep their value. The secret is unchanged.
#[utoipa::path(
    put, path = "/api/admin/webhooks/{id}", tag = "admin",
    params(("id" = i64, Path, description = "Endpoint id")),
    request_body = WebhookInput,
    responses(
        (status = 200, body = WebhookJson),
        (status = 400, description = "Invalid field or bad id", body = crate::error::ErrorBody),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
        (status = 403, description = "Not an admin", body = crate::error::ErrorBody),
        (status = 404, description = "No such endpoint", body = crate::error::ErrorBody),
        (status = 503, description = "Database unavailable", body = crate::error::ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn update_webhook(
    state: web::Data<ApiState>,
    _admin: Admin,
    id: web::Path<i64>,
    body: Json<WebhookInput>,
) -> Result<HttpResponse, ApiError> {
    let id = endpoint_id(id.into_inner())?;
    let current = state.webhooks.get(id).await?;
    let spec = body.into_inner().apply_to(current.spec())?;
    let endpoint = state.webhooks.update(id, spec).await?;
    Ok(HttpResponse::Ok().json(WebhookJson::from(&endpoint)))
}

/// Deletes an endpoint and its deliveries log.
#[utoipa::path(
    delete, path = "/api/admin/webhooks/{id}", tag = "admin",
    params(("id" = i64, Path, description = "Endpoint id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Bad id", body = crate::error::ErrorBody),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
        (status = 403, description = "Not an admin", body = crate::error::ErrorBody),
        (status = 404, description = "No such endpoint", body = crate::error::ErrorBody),
        (status = 503, description = "Database unavailable", body = crate::error::ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn delete_webhook(
    state: web::Data<ApiState>,
    _admin: Admin,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    state.webhooks.delete(endpoint_id(id.into_inner())?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A new signing secret, shown once; the previous one keeps signing for 24 hours.
#[utoipa::path(
    post, path = "/api/admin/webhooks/{id}/rotate-secret", tag = "admin",
    params(("id" = i64, Path, description = "Endpoint id")),
    responses(
        (status = 200, body = WebhookWithSecretJson),
        (status = 400, description = "Bad id", body = crate::error::ErrorBody),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
        (status = 403, description = "Not an admin", body = crate::error::ErrorBody),
        (status = 404, description = "No such endpoint", body = crate::error::ErrorBody),
        (status = 503, description = "Database unavailable", body = crate::error::ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn rotate_secret(
    state: web::Data<ApiState>,
    _admin: Admin,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let rotated = state
        .webhooks
        .rotate_secret(endpoint_id(id.into_inner())?)
        .await?;
    Ok(HttpResponse::Ok().json(WebhookWithSecretJson::from(&rotated)))
}

/// An endpoint's deliveries, newest first, paginated (the shared envelope).
#[utoipa::path(
    get, path = "/api/admin/webhooks/{id}/deliveries", tag = "admin",
    params(("id" = i64, Path, description = "Endpoint id"), PageParams),
    responses(
        (status = 200, description = "One page of deliveries, newest first", body = Paginated<WebhookDeliveryJson>),
        (status = 400, description = "Invalid page, per_page or id", body = crate::error::ErrorBody),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
        (status = 403, description = "Not an admin", body = crate::error::ErrorBody),
        (status = 404, description = "No such endpoint", body = crate::error::ErrorBody),
        (status = 503, description = "Database unavailable", body = crate::error::ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn list_deliveries(
    state: web::Data<ApiState>,
    _admin: Admin,
    id: web::Path<i64>,
    pages: PageQuery,
) -> Result<HttpResponse, ApiError> {
    let id = endpoint_id(id.into_inner())?;
    let pages = pages.validate()?;
    let page = state.webhooks.deliveries(id, pages.request()).await?;
    Ok(HttpResponse::Ok().json(pages.envelope(page, WebhookDeliveryJson::from)))
}

/// Starts a new series of attempts of the same event (same `webhook-id`, same body).
#[utoipa::path(
    post, path = "/api/admin/webhook-deliveries/{id}/redeliver", tag = "admin",
    params(("id" = i64, Path, description = "Delivery id")),
    responses(
        (status = 202, description = "Queued again", body = WebhookDeliveryJson),
        (status = 400, description = "Bad id", body = crate::error::ErrorBody),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
        (status = 403, description = "Not an admin", body = crate::error::ErrorBody),
        (status = 404, description = "No such delivery", body = crate::error::ErrorBody),
        (status = 409, description = "Being attempted right now", body = crate::error::ErrorBody),
        (status = 503, description = "Database unavailable", body = crate::error::ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn redeliver(
    state: web::Data<ApiState>,
    _admin: Admin,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(id.into_inner(), DeliveryId::new, "Webhook delivery")?;
    let delivery = state.webhooks.redeliver(id).await?;
    if let Some(worker) = &state.webhook_worker {
        worker.wake();
    }
    Ok(HttpResponse::Accepted().json(WebhookDeliveryJson::from(delivery)))
}
