//! Payments: the hosted checkout of an order, its payment records, and the payment
//! gateway's inbound webhook. Without a configured gateway every one answers 503
//! `feature_disabled`.

use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use tariff_domain::OrderId;

use crate::auth::Authenticated;
use crate::dto::payment::{CheckoutJson, PaymentJson, WebhookReceiptJson};
use crate::error::ApiError;
use crate::routes::path_id;
use crate::state::ApiState;

/// Opens the gateway's hosted checkout for a pending order (or hands out the open one
/// again): its owner, an admin or owner of its organisation, or an administrator.
#[utoipa::path(
    post, path = "/api/orders/{id}/checkout", tag = "payments",
    params(("id" = i64, Path, description = "Order id")),
    responses(
        (status = 200, description = "The hosted checkout to send the buyer to", body = CheckoutJson),
        (status = 401, body = crate::error::ErrorBody),
        (status = 404, description = "No such order, or not yours", body = crate::error::ErrorBody),
        (status = 409, description = "The order is not pending", body = crate::error::ErrorBody),
        (status = 503, description = "feature_disabled (payments not configured, or billing off), upstream_unavailable (the gateway), database_unavailable", body = crate::error::ErrorBody)
    )
)]
pub async fn checkout(
    state: web::Data<ApiState>,
    Authenticated(caller): Authenticated,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(id.into_inner(), OrderId::new, "Order")?;
    let page = state.payments.checkout(caller, id).await?;
    Ok(HttpResponse::Ok().json(CheckoutJson::from(&page)))
}

/// An order's payments, oldest first (same access rule as the order).
#[utoipa::path(
    get, path = "/api/orders/{id}/payments", tag = "payments",
    params(("id" = i64, Path, description = "Order id")),
    responses(
        (status = 200, description = "Payments, oldest first", body = [PaymentJson]),
        (status = 401, body = crate::error::ErrorBody),
        (status = 404, description = "No such order, or not yours", body = crate::error::ErrorBody),
        (status = 503, description = "feature_disabled (payments not configured, or billing off), database_unavailable", body = crate::error::ErrorBody)
    )
)]
pub async fn list_payments(
    state: web::Data<ApiState>,
    Authenticated(caller): Authenticated,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(id.into_inner(), OrderId::new, "Order")?;
    let payments = state.payments.payments(caller, id).await?;
    let body: Vec<PaymentJson> = payments.iter().map(PaymentJson::from).collect();
    Ok(HttpResponse::Ok().json(body))
}

/// Stripe's webhook: the raw body is verified against `Stripe-Signature`; every
/// verified event is answered 200 once recorded (also a repeat or a mismatch).
#[utoipa::path(
    post, path = "/api/webhooks/stripe", tag = "payments",
    request_body(content = String, content_type = "application/json", description = "The Stripe event, exactly as sent"),
    params(("Stripe-Signature" = String, Header, description = "t=<unix>,v1=<hex HMAC-SHA256>")),
    responses(
        (status = 200, description = "Recorded (applied, ignored or a repeat)", body = WebhookReceiptJson),
        (status = 400, description = "invalid_signature: missing or bad signature, nothing changed; validation_failed: a signed body that is not an event", body = crate::error::ErrorBody),
        (status = 503, description = "feature_disabled (payments not configured), database_unavailable (Stripe retries)", body = crate::error::ErrorBody)
    )
)]
pub async fn stripe_webhook(
    state: web::Data<ApiState>,
    request: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, ApiError> {
    let signature = request
        .headers()
        .get("Stripe-Signature")
        .and_then(|value| value.to_str().ok());
    let outcome = state.payments.receive_webhook(&body, signature).await?;
    Ok(HttpResponse::Ok().json(WebhookReceiptJson::from(outcome)))
}
