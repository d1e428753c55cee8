//! Panel dialect, administrators: apply, cancel and inspect a user's plan; mark orders
//! paid; search all orders. Responses carry internal notes (admin view).

use actix_web::{web, HttpResponse};
use tariff_domain::orders::{ApplyPlan, OrderFilter, OrderStatus};
use tariff_domain::{AccountRef, OrderId, OrgId, PlanId, UserId};

use crate::auth::Admin;
use crate::dto::order::{
    AdminOrderJson, AdminOrdersQuery, ApplyPlanInput, CancelPlanJson, CurrentPlanJson, LimitsJson,
    MarkPaidInput, OrderOutcomeJson,
};
use crate::error::ApiError;
use crate::json::{Json, OptionalJson};
use crate::pagination::{PageParams, PageQuery, Paginated};
use crate::routes::orders::body_id;
use crate::routes::path_id;
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
    let order = state
        .orders
        .apply_plan(
            admin,
            ApplyPlan {
                user,
                plan,
                notes: input.notes,
                expires_at: input.expires_at,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(OrderOutcomeJson {
        success: true,
        order: AdminOrderJson::from(&order),
    }))
}

/// Cancels the user's active plan order; the account falls back to the default plan.
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
    let body = if state.orders.cancel_plan(admin, user).await? {
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
    let current = state.orders.current_plan(admin, user).await?;
    // The limits in force are the quota engine's: the plan's with admin overrides on top.
    let quota = state.quota.snapshot(AccountRef::User(user)).await?;
    let mut body = CurrentPlanJson::from(&current);
    body.limits = LimitsJson::from_values(|r| quota.limits.allowance(r).limit_value());
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

/// All orders, newest first, filtered by `status`, `userId` (the order's `userId`) and
/// `orgId`, in the paginated envelope (links keep the filters).
#[utoipa::path(
    get, path = "/api/admin/orders", tag = "admin",
    params(
        ("status" = Option<String>, Query, description = "pending, active, cancelled or expired"),
        ("userId" = Option<i64>, Query, description = "Orders whose userId is this user"),
        ("orgId" = Option<i64>, Query, description = "Orders of this organisation"),
        PageParams
    ),
    responses(
        (status = 200, body = Paginated<AdminOrderJson>),
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
    let pages = pages.validate()?;
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
    let filter = OrderFilter {
        status,
        user: optional_id(query.user_id.as_deref(), UserId::new, "userId")?,
        org: optional_id(query.org_id.as_deref(), OrgId::new, "orgId")?,
    };
    let found = state.orders.search(admin, filter, pages.request()).await?;
    Ok(HttpResponse::Ok().json(pages.envelope(found, |order| AdminOrderJson::from(&order))))
}
