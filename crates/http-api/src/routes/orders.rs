//! Panel dialect: a customer's orders. Every handler answers only with the customer
//! view of an order (no internal notes); other people's orders are 404.

use actix_web::http::header::{self, ContentType};
use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use tariff_domain::billing::PlanOrderOutcome;
use tariff_domain::orders::{CustomerNote, CustomerNoteError, ListStamp, OrderStatus};
use tariff_domain::{OrderId, OrgId};

use crate::auth::Authenticated;
use crate::dto::order::{OrderJson, OrderWithPlanJson, PlaceOrderInput, PlacedOrderJson};
use crate::dto::plan::PlanJson;
use crate::error::ApiError;
use crate::json::Json;
use crate::routes::path_id;
use crate::state::ApiState;

/// A positive id from a request body, or a 400 naming the field.
pub(crate) fn body_id<T>(raw: i64, make: fn(i64) -> Option<T>, field: &str) -> Result<T, ApiError> {
    make(raw).ok_or_else(|| ApiError::validation(field, format!("{field} must be a positive id.")))
}

/// The customer's note on `POST /api/orders` (see [`CustomerNote`]), or a 400 naming
/// `notes`.
fn customer_note(note: Option<&str>) -> Result<Option<CustomerNote>, ApiError> {
    CustomerNote::parse_optional(note).map_err(|err| match err {
        CustomerNoteError::TooLong => {
            ApiError::validation("notes", "notes must be at most 2000 characters.")
        }
        CustomerNoteError::ControlCharacter => {
            ApiError::validation("notes", "notes must not contain control characters.")
        }
    })
}

/// Query of `GET /api/orders`.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct OrderListQuery {
    /// Only this organisation's orders (its admins and owners, and administrators).
    #[serde(rename = "orgId", alias = "org_id")]
    pub org_id: Option<String>,
}

/// The caller's orders and those of organisations where the caller is admin or owner,
/// newest first; with `?orgId=N` only that organisation's (403 unless the caller is its
/// admin or owner, or an administrator).
#[utoipa::path(
    get, path = "/api/orders", tag = "orders",
    params(("orgId" = Option<i64>, Query, description = "Only this organisation's orders")),
    responses(
        (status = 200, description = "Orders, newest first", body = [OrderJson]),
        (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, description = "Not an admin or owner of the organisation", body = crate::error::ErrorBody)
    )
)]
pub async fn list_orders(
    state: web::Data<ApiState>,
    Authenticated(caller): Authenticated,
    query: web::Query<OrderListQuery>,
) -> Result<HttpResponse, ApiError> {
    let org = match query
        .org_id
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        None => None,
        Some(text) => Some(
            text.parse::<i64>()
                .ok()
                .and_then(OrgId::new)
                .ok_or_else(|| ApiError::validation("orgId", "orgId must be a positive id."))?,
        ),
    };
    if let Some(org) = org {
        let orders = state.orders.list_for_org(caller, org).await?;
        let dto: Vec<OrderJson> = orders.iter().map(OrderJson::from).collect();
        return Ok(HttpResponse::Ok().json(dto));
    }
    let is_current = |stamp: &ListStamp| state.orders.is_current(stamp);
    let user = caller.user_id();
    let body = match state.order_list_cache.get(user, is_current) {
        Some(body) => body,
        None => {
            let list = state.orders.list_with_stamp(caller).await?;
            let dto: Vec<OrderJson> = list.orders.iter().map(OrderJson::from).collect();
            let body = Bytes::from(serde_json::to_vec(&dto).map_err(|e| ApiError::internal(&e))?);
            state
                .order_list_cache
                .put(user, list.stamp, body.clone(), is_current);
            body
        }
    };
    Ok(HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(body))
}

/// One order with its plan embedded: its owner, an admin or owner of its organisation,
/// or an administrator.
#[utoipa::path(
    get, path = "/api/orders/{id}", tag = "orders",
    params(("id" = i64, Path, description = "Order id")),
    responses(
        (status = 200, body = OrderWithPlanJson),
        (status = 401, body = crate::error::ErrorBody),
        (status = 404, description = "No such order, or not yours", body = crate::error::ErrorBody)
    )
)]
pub async fn get_order(
    state: web::Data<ApiState>,
    Authenticated(caller): Authenticated,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(id.into_inner(), OrderId::new, "Order")?;
    let order = state.orders.get(caller, id).await?;
    let plan = state.catalogue.get(order.plan_id(), true).await?;
    Ok(HttpResponse::Ok().json(OrderWithPlanJson {
        order: OrderJson::from(&order),
        plan: PlanJson::render(&plan, state.profile),
    }))
}

/// Orders a plan, priced by the server on its cycle (`monthly`, or `yearly` at
/// `priceYearly`), with a coupon and the account's credit. An order with nothing to pay
/// is active at once (replacing the account's previous plan); any other stays
/// `pending` until paid. Ordering another plan while one is active is a plan change:
/// `when` `now` (the default for an upgrade) charges the new plan less the unused time
/// of the current one; `period_end` (the default for a downgrade) charges nothing and
/// answers 200 with the current order and its `scheduledChange`. The eclipanel profile
/// answers `{"success":true,"order":{...},"autoActivated":bool}`.
#[utoipa::path(
    post, path = "/api/orders", tag = "orders",
    request_body = PlaceOrderInput,
    responses(
        (status = 200, description = "A plan change at period end: the current order with its `scheduledChange`; nothing charged", body = OrderJson),
        (status = 201, description = "The order (pending, or active when nothing is left to pay); in the eclipanel profile inside `{success, order, autoActivated}`", body = OrderJson),
        (status = 400, description = "Bad input: planId, orgId, cycle (also a plan with no yearly price), couponCode (with the reason), when, activateMode, notes", body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, description = "Not an admin or owner of the organisation", body = crate::error::ErrorBody),
        (status = 404, description = "No such (visible) plan", body = crate::error::ErrorBody),
        (status = 409, description = "A concurrent order for the account won; try again", body = crate::error::ErrorBody),
        (status = 503, description = "Billing is switched off, or the database is unavailable", body = crate::error::ErrorBody)
    )
)]
pub async fn place_order(
    state: web::Data<ApiState>,
    Authenticated(caller): Authenticated,
    body: Json<PlaceOrderInput>,
) -> Result<HttpResponse, ApiError> {
    let input = body.into_inner();
    let mut request = crate::routes::plan_changes::plan_order_request(&input)?;
    request.customer_note = customer_note(input.notes.as_deref())?;
    let (order, status) = match state.plan_orders.place(caller, request).await? {
        PlanOrderOutcome::Placed(order) => (order, StatusCode::CREATED),
        PlanOrderOutcome::Scheduled(order) => (order, StatusCode::OK),
    };
    let json = OrderJson::from(&order);
    if state.profile.is_eclipanel() {
        return Ok(HttpResponse::build(status).json(PlacedOrderJson {
            success: true,
            auto_activated: status == StatusCode::CREATED && order.status() == OrderStatus::Active,
            order: json,
        }));
    }
    Ok(HttpResponse::build(status).json(json))
}

/// Cancels a pending or active order (409 for any other status). Takes no body; an
/// empty body or `{}` (with or without a Content-Type) is fine too.
#[utoipa::path(
    post, path = "/api/orders/{id}/cancel", tag = "orders",
    params(("id" = i64, Path, description = "Order id")),
    responses(
        (status = 200, description = "The cancelled order", body = OrderJson),
        (status = 401, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody),
        (status = 409, description = "The order is already cancelled or expired", body = crate::error::ErrorBody)
    )
)]
pub async fn cancel_order(
    state: web::Data<ApiState>,
    Authenticated(caller): Authenticated,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(id.into_inner(), OrderId::new, "Order")?;
    let order = state.orders.cancel(caller, id).await?;
    Ok(HttpResponse::Ok().json(OrderJson::from(&order)))
}

/// The order's invoice as a PDF download (same access rule as the order). A numbered
/// invoice is the PDF stored when its number was issued: every download answers the
/// same bytes with an `ETag`, and 304 when `If-None-Match` names it. Before the order
/// has been active it is a PROFORMA without number, rendered for each request.
#[utoipa::path(
    get, path = "/api/orders/{id}/invoice", tag = "orders",
    params(
        ("id" = i64, Path, description = "Order id"),
        ("If-None-Match" = Option<String>, Header, description = "An `ETag` of this invoice seen before")
    ),
    responses(
        (status = 200, description = "`application/pdf`, as an attachment `invoice-<id>.pdf`; a numbered invoice carries an `ETag`", content_type = "application/pdf", body = Vec<u8>),
        (status = 304, description = "The stored invoice is the one `If-None-Match` names; no body"),
        (status = 401, body = crate::error::ErrorBody),
        (status = 404, description = "No such order, or not yours", body = crate::error::ErrorBody)
    )
)]
pub async fn get_invoice(
    state: web::Data<ApiState>,
    Authenticated(caller): Authenticated,
    id: web::Path<i64>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(id.into_inner(), OrderId::new, "Order")?;
    let pdf = state.invoices.pdf(caller, id).await?;
    let Some(etag) = pdf.etag() else {
        return Ok(HttpResponse::Ok()
            .content_type("application/pdf")
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"invoice-{id}.pdf\""),
            ))
            .insert_header((header::CACHE_CONTROL, "private, no-store"))
            .body(pdf.into_bytes()));
    };
    // Stored bytes never change: a client may keep them and revalidate.
    let cache_control = "private, no-cache";
    let seen = request
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|value| value.to_str().ok());
    if names_etag(seen, &etag) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header((header::CACHE_CONTROL, cache_control))
            .finish());
    }
    Ok(HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"invoice-{id}.pdf\""),
        ))
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache_control))
        .body(Bytes::copy_from_slice(pdf.bytes())))
}

/// True when one of the `If-None-Match` values names `etag` or is `*` (the weak
/// comparison RFC 9110 asks for here: a `W/` prefix does not matter).
pub(crate) fn names_etag<'a>(values: impl Iterator<Item = &'a str>, etag: &str) -> bool {
    values
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

#[cfg(test)]
mod tests {
    use super::names_etag;

    #[test]
    fn if_none_match_names_the_tag() {
        let etag = "\"abc\"";
        assert!(names_etag(["\"abc\""].into_iter(), etag));
        assert!(names_etag(["\"x\", W/\"abc\""].into_iter(), etag));
        assert!(names_etag(["\"x\"", "*"].into_iter(), etag));
        assert!(!names_etag(["\"abd\""].into_iter(), etag));
        assert!(!names_etag(["abc"].into_iter(), etag));
        assert!(!names_etag([].into_iter(), etag));
    }
}
