//! Panel dialect, administrators: apply, cancel and inspect a user's plan; mark orders
//! paid; search all orders. Responses carry internal notes (admin view).

use actix_web::{web, HttpResponse};
use tariff_domain::orders::{ApplyPlan, ApplyPlanOptions, OrderFilter, OrderStatus, TaxOverride};
use tariff_domain::{AccountRef, OrderId, OrgId, PageRequest, PlanId, TaxRate, UserId};

use crate::auth::Admin;
use crate::dto::order::{
    AdminOrderJson, AdminOrderPageJson, AdminOrdersQuery, ApplyPlanInput, BillingType,
    CancelPlanJson, CurrentPlanJson, LimitsJson, MarkPaidInput, OrderOutcomeJson,
};
use crate::error::ApiError;
use crate::json::{Json, OptionalJson};
use crate::pagination::{PageParams, PageQuery, Paginated};
use crate::routes::orders::body_id;
use crate::routes::{known_user, path_id};
use crate::state::ApiState;

/// Gives a user a plan at once: an active order at the plan's price. The previous
/// active order is cancelled with the note "replaced by order #N".
#[utoipa::path(
    post, path = "/api/admin/users/{id}/apply-plan", tag = "admin",
    params(("id" = i64, Path, description = "User id")),
    request_body = ApplyPlanInput,
    responses(
        (status = 200, description = "`{\"success\":true,\"order\":{...}}`", body = OrderOutcomeJson),
        (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody),
        (status = 404, description = "No such user or plan", body = crate::error::ErrorBody),
        (status = 409, description = "A concurrent plan change won; try again", body = crate::error::ErrorBody)
    )
)]
pub async fn apply_plan(
    state: web::Data<ApiState>,
    Admin(admin): Admin,
    id: web::Path<i64>,
    body: Json<ApplyPlanInput>,
) -> Result<HttpResponse, ApiError> {
    let user = path_id(id.into_inner(), UserId::new, "User")?;
    let input = body.into_inner();
    let plan = body_id(input.plan_id, PlanId::new, "planId")?;
    let org = input
        .org_id
        .map(|raw| body_id(raw, OrgId::new, "orgId"))
        .transpose()?;
    let tax_override = match (input.tax_rate, input.tax_amount) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err(ApiError::validation(
                "taxRate",
                "taxAmount needs the taxRate it was computed with.",
            ))
        }
        (Some(rate), amount) => Some(TaxOverride {
            rate: TaxRate::parse_percent(&rate.0).ok_or_else(|| {
                ApiError::validation(
                    "taxRate",
                    "taxRate must be a percentage from 0 to 100 with at most two decimals.",
                )
            })?,
            amount: amount.map(|a| a.0),
        }),
    };
    known_user(&state, user).await?;
    let order = state
        .orders
        .apply_plan_with(
            admin,
            ApplyPlan {
                user,
                plan,
                notes: input.notes,
                expires_at: input.expires_at,
            },
            ApplyPlanOptions {
                org,
                tax_override,
                lifetime: input.billing_type == Some(BillingType::Lifetime),
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(OrderOutcomeJson {
        success: true,
        order: AdminOrderJson::from(&order),
    }))
}

/// Cancels the user's active plan order; the account falls back to the default plan.
/// Takes no body; an empty body or `{}` (with or without a Content-Type) is fine too.
/// The eclipanel profile answers `{"success":true}` also when nothing was active.
#[utoipa::path(
    post, path = "/api/admin/users/{id}/cancel-plan", tag = "admin",
    params(("id" = i64, Path, description = "User id")),
    responses(
        (status = 200, description = "`{\"success\":true}`, or `{\"success\":false,\"error\":\"no_active_plan\"}`", body = CancelPlanJson),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody),
        (status = 404, description = "No such user", body = crate::error::ErrorBody)
    )
)]
pub async fn cancel_plan(
    state: web::Data<ApiState>,
    Admin(admin): Admin,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let user = path_id(id.into_inner(), UserId::new, "User")?;
    known_user(&state, user).await?;
    let cancelled = state.orders.cancel_plan(admin, user).await?;
    // The panel treats any `success: false` as a failure; it only wants nothing active.
    let body = if cancelled || state.profile.is_eclipanel() {
        CancelPlanJson {
            success: true,
            error: None,
            message: None,
        }
    } else {
        CancelPlanJson {
            success: false,
            error: Some("no_active_plan"),
            message: Some(format!("User {user} has no active plan to cancel.")),
        }
    };
    Ok(HttpResponse::Ok().json(body))
}

/// The user's effective plan (active order's plan, else the default plan), that order
/// and the limits in force (the plan's, with per-account overrides on top: the same
/// `limits` as `GET /api/users/:id/quota`).
#[utoipa::path(
    get, path = "/api/admin/users/{id}/current-plan", tag = "admin",
    params(("id" = i64, Path, description = "User id")),
    responses(
        (status = 200, body = CurrentPlanJson),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody),
        (status = 404, description = "No such user", body = crate::error::ErrorBody)
    )
)]
pub async fn current_plan(
    state: web::Data<ApiState>,
    Admin(admin): Admin,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let user = path_id(id.into_inner(), UserId::new, "User")?;
    known_user(&state, user).await?;
    let current = state.orders.current_plan(admin, user).await?;
    let orders = state
        .orders
        .orders_of(admin, AccountRef::User(user))
        .await?;
    // The limits in force are the quota engine's: the plan's with admin overrides on top.
    let quota = state.quota.snapshot(AccountRef::User(user)).await?;
    let mut body = CurrentPlanJson::render(&current, &orders, state.profile);
    body.limits =
        LimitsJson::from_values_in(state.profile, |r| quota.limits.allowance(r).limit_value());
    Ok(HttpResponse::Ok().json(body))
}

/// Records payment of a pending order and activates it: invoice number, frozen
/// snapshot and replacement of the account's previous plan in one transaction.
#[utoipa::path(
    post, path = "/api/admin/orders/{id}/mark-paid", tag = "admin",
    params(("id" = i64, Path, description = "Order id")),
    request_body(content = MarkPaidInput, description = "Optional"),
    responses(
        (status = 200, description = "`{\"success\":true,\"order\":{...}}`", body = OrderOutcomeJson),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody),
        (status = 409, description = "The order is not pending", body = crate::error::ErrorBody)
    )
)]
pub async fn mark_paid(
    state: web::Data<ApiState>,
    Admin(admin): Admin,
    id: web::Path<i64>,
    body: OptionalJson<MarkPaidInput>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(id.into_inner(), OrderId::new, "Order")?;
    let input = body.into_inner();
    let order = state.orders.mark_paid(admin, id, input.reference).await?;
    Ok(HttpResponse::Ok().json(OrderOutcomeJson {
        success: true,
        order: AdminOrderJson::from(&order),
    }))
}

fn optional_id<T>(
    text: Option<&str>,
    make: fn(i64) -> Option<T>,
    field: &str,
) -> Result<Option<T>, ApiError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => t
            .parse::<i64>()
            .ok()
            .and_then(make)
            .map(Some)
            .ok_or_else(|| ApiError::validation(field, format!("{field} must be a positive id."))),
    }
}

/// All orders, newest first, filtered by `status`, `userId` (the order's `userId`),
/// `orgId` and `q` (text in the description or invoice number), in the paginated
/// envelope (links keep the filters). The eclipanel profile answers
/// `{"orders":[...],"total":N,"page":N,"per":N}` and reads `?page=` and `?per=`.
#[utoipa::path(
    get, path = "/api/admin/orders", tag = "admin",
    params(
        ("status" = Option<String>, Query, description = "pending, active, cancelled or expired"),
        ("userId" = Option<i64>, Query, description = "Orders whose userId is this user"),
        ("orgId" = Option<i64>, Query, description = "Orders of this organisation"),
        ("q" = Option<String>, Query, description = "Text in the description or invoice number"),
        ("per" = Option<u32>, Query, description = "Page size in the eclipanel profile (1..100, default 15)"),
        PageParams
    ),
    responses(
        (status = 200, description = "The paginated envelope; `{orders, total, page, per}` in the eclipanel profile", body = Paginated<AdminOrderJson>),
        (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody)
    )
)]
pub async fn list_orders(
    state: web::Data<ApiState>,
    Admin(admin): Admin,
    query: web::Query<AdminOrdersQuery>,
    pages: PageQuery,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let status = match query
        .status
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(text) => Some(text.parse::<OrderStatus>().map_err(|_| {
            ApiError::validation(
                "status",
                "status must be one of pending, active, cancelled, expired.",
            )
        })?),
    };
    let text = query
        .q
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(str::to_owned);
    if text.as_ref().is_some_and(|t| t.chars().count() > 200) {
        return Err(ApiError::validation(
            "q",
            "q must be at most 200 characters.",
        ));
    }
    let filter = OrderFilter {
        status,
        user: optional_id(query.user_id.as_deref(), UserId::new, "userId")?,
        org: optional_id(query.org_id.as_deref(), OrgId::new, "orgId")?,
        text,
    };
    if state.profile.is_eclipanel() {
        let page = optional_count(query.page.as_deref(), "page", 1)?;
        let per = optional_count(query.per.as_deref(), "per", 15)?;
        let request = PageRequest::new(page, per).map_err(|_| {
            ApiError::validation("per", "page must be at least 1 and per from 1 to 100.")
        })?;
        let found = state.orders.search(admin, filter, request).await?;
        return Ok(HttpResponse::Ok().json(AdminOrderPageJson {
            orders: found.items.iter().map(AdminOrderJson::from).collect(),
            total: found.total,
            page: request.page(),
            per: request.per_page(),
        }));
    }
    let pages = pages.validate()?;
    let found = state.orders.search(admin, filter, pages.request()).await?;
    Ok(HttpResponse::Ok().json(pages.envelope(found, |order| AdminOrderJson::from(&order))))
}

/// A whole number from the query, `default` when absent or blank.
fn optional_count(text: Option<&str>, field: &str, default: u64) -> Result<u64, ApiError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(default),
        Some(t) if t.bytes().all(|b| b.is_ascii_digit()) => Ok(t.parse().unwrap_or(u64::MAX)),
        Some(_) => Err(ApiError::validation(
            field,
            format!("{field} must be a whole number."),
        )),
    }
}
