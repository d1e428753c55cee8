//! Plan orders with billing rules: the request `POST /api/orders` and its preview
//! share, the preview itself, and dropping a scheduled plan change.

use actix_web::{web, HttpResponse};
use tariff_domain::billing::{BillingCycle, PlanOrderRequest, When};
use tariff_domain::{OrderId, OrgId, PlanId};

use crate::auth::Authenticated;
use crate::dto::order::{OrderJson, PlaceOrderInput};
use crate::dto::plan_order::OrderPreviewJson;
use crate::error::ApiError;
use crate::json::Json;
use crate::routes::orders::body_id;
use crate::routes::path_id;
use crate::state::ApiState;

/// The body of `POST /api/orders` (and its preview), checked: ids, `cycle`, and
/// `when` / `activateMode` (which must agree when both are given).
pub(crate) fn plan_order_request(input: &PlaceOrderInput) -> Result<PlanOrderRequest, ApiError> {
    let plan = body_id(input.plan_id, PlanId::new, "planId")?;
    let org = input
        .org_id
        .map(|raw| body_id(raw, OrgId::new, "orgId"))
        .transpose()?;
    let cycle = match input.cycle.as_deref() {
        None => BillingCycle::default(),
        Some(text) => text
            .parse::<BillingCycle>()
            .map_err(|_| ApiError::validation("cycle", "cycle must be monthly or yearly."))?,
    };
    let when = When::from_request(
        input.when.as_deref(),
        input.activate_mode.map(|mode| mode.as_str()),
    )
    .map_err(|e| ApiError::validation(e.field(), format!("{}.", capitalised(&e.to_string()))))?;
    Ok(PlanOrderRequest {
        plan,
        org,
        cycle,
        coupon_code: input.coupon_code.clone(),
        when,
        customer_note: None,
    })
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// What `POST /api/orders` would do with the same body: the lines, the amount due,
/// the upgrade/downgrade decision and a scheduled change. Stores nothing.
#[utoipa::path(
    post, path = "/api/orders/preview", tag = "orders",
    request_body = PlaceOrderInput,
    responses(
        (status = 200, description = "What the order would be; nothing is stored", body = OrderPreviewJson),
        (status = 400, description = "Bad input: planId, orgId, cycle, couponCode (with the reason), when or activateMode", body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, description = "Not an admin or owner of the organisation", body = crate::error::ErrorBody),
        (status = 404, description = "No such (visible) plan", body = crate::error::ErrorBody),
        (status = 503, description = "Billing is switched off, or the database is unavailable", body = crate::error::ErrorBody)
    )
)]
pub async fn preview_order(
    state: web::Data<ApiState>,
    Authenticated(caller): Authenticated,
    body: Json<PlaceOrderInput>,
) -> Result<HttpResponse, ApiError> {
    let request = plan_order_request(&body.into_inner())?;
    let preview = state.plan_orders.preview(caller, request).await?;
    Ok(HttpResponse::Ok().json(OrderPreviewJson::from(&preview)))
}

/// Drops the plan change scheduled for the end of the order's period (same access rule
/// as the order); answers the order. An order with no scheduled change is answered as
/// it is.
#[utoipa::path(
    delete, path = "/api/orders/{id}/scheduled-change", tag = "orders",
    params(("id" = i64, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order, without a scheduled change", body = OrderJson),
        (status = 401, body = crate::error::ErrorBody),
        (status = 404, description = "No such order, or not yours", body = crate::error::ErrorBody),
        (status = 409, description = "The order is no longer active", body = crate::error::ErrorBody),
        (status = 503, description = "Billing is switched off, or the database is unavailable", body = crate::error::ErrorBody)
    )
)]
pub async fn drop_scheduled_change(
    state: web::Data<ApiState>,
    Authenticated(caller): Authenticated,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(id.into_inner(), OrderId::new, "Order")?;
    let order = state.plan_orders.drop_scheduled_change(caller, id).await?;
    Ok(HttpResponse::Ok().json(OrderJson::from(&order)))
}
