//! Panel dialect: quotas. Reading an account's limits and usage, the admin's limit
//! overrides, and the usage ledger the panel calls before and after it creates things.

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{web, HttpResponse, ResponseError};
use tariff_domain::quota::{IdempotencyKey, UsageChange};
use tariff_domain::{AccountRef, OrgId, UserId};

use crate::auth::{Admin, Authenticated};
use crate::dto::quota::{
    EffectiveLimitsJson, LimitOverridesInput, QuotaJson, UsageCheckJson, UsageInput, UsageLevelJson,
};
use crate::error::{ApiError, ErrorBody};
use crate::json::Json;
use crate::routes::{known_user, path_id};
use crate::state::ApiState;

/// Set on a usage answer replayed from its idempotency key.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

fn user(raw: i64) -> Result<AccountRef, ApiError> {
    path_id(raw, UserId::new, "User").map(AccountRef::User)
}

/// A user an administrator's call names: with panel sign-in it exists at once, as for
/// apply-plan (`known_user`).
async fn named_user(state: &ApiState, raw: i64) -> Result<AccountRef, ApiError> {
    let id = path_id(raw, UserId::new, "User")?;
    known_user(state, id).await?;
    Ok(AccountRef::User(id))
}

fn org(raw: i64) -> Result<AccountRef, ApiError> {
    path_id(raw, OrgId::new, "Organisation").map(AccountRef::Org)
}

fn snapshot_response(snapshot: &tariff_domain::quota::QuotaSnapshot) -> HttpResponse {
    HttpResponse::Ok().json(QuotaJson::from(snapshot))
}

/// A user's limits, usage and what remains.
#[utoipa::path(
    get, path = "/api/users/{id}/quota", tag = "quota",
    params(("id" = i64, Path, description = "User id")),
    responses(
        (status = 200, description = "Limits, usage, remaining (null = unlimited), overLimit, overrides", body = QuotaJson),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such user, or not the caller (admins see every user)", body = ErrorBody)
    )
)]
pub async fn user_quota(
    state: web::Data<ApiState>,
    Authenticated(caller): Authenticated,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let raw = id.into_inner();
    let account = if caller.is_admin() {
        named_user(&state, raw).await?
    } else if caller.user_id().get() == raw {
        user(raw)?
    } else {
        return Err(ApiError::not_found(format!("User {raw} does not exist.")));
    };
    Ok(snapshot_response(&state.quota.snapshot(account).await?))
}

/// An organisation's limits, usage and what remains.
#[utoipa::path(
    get, path = "/api/organisations/{id}/quota", tag = "quota",
    params(("id" = i64, Path, description = "Organisation id")),
    responses(
        (status = 200, description = "Limits, usage, remaining (null = unlimited), overLimit, overrides", body = QuotaJson),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such organisation, or the caller is not a member (admins see every organisation)", body = ErrorBody)
    )
)]
pub async fn org_quota(
    state: web::Data<ApiState>,
    Authenticated(caller): Authenticated,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let org_id = super::readable_org(&state, &caller, id.into_inner()).await?;
    Ok(snapshot_response(
        &state.quota.snapshot(AccountRef::Org(org_id)).await?,
    ))
}

async fn set_limits(
    state: &ApiState,
    admin: Admin,
    account: AccountRef,
    body: &LimitOverridesInput,
) -> Result<HttpResponse, ApiError> {
    let changes = body.changes()?;
    let limits = state
        .quota
        .set_overrides(account, changes, admin.actor())
        .await?;
    Ok(HttpResponse::Ok().json(EffectiveLimitsJson::from(&limits)))
}

/// Sets (number, 0 = unlimited) or removes (null) a user's limit overrides.
#[utoipa::path(
    put, path = "/api/admin/users/{id}/limits", tag = "quota",
    params(("id" = i64, Path, description = "User id")),
    request_body = LimitOverridesInput,
    responses(
        (status = 200, description = "The effective limits, overrides listed", body = EffectiveLimitsJson),
        (status = 400, description = "Unknown resource key or bad value (`field` names it)", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody)
    )
)]
pub async fn set_user_limits(
    state: web::Data<ApiState>,
    admin: Admin,
    id: web::Path<i64>,
    body: Json<LimitOverridesInput>,
) -> Result<HttpResponse, ApiError> {
    let account = named_user(&state, id.into_inner()).await?;
    set_limits(&state, admin, account, &body).await
}

/// Sets (number, 0 = unlimited) or removes (null) an organisation's limit overrides.
#[utoipa::path(
    put, path = "/api/admin/organisations/{id}/limits", tag = "quota",
    params(("id" = i64, Path, description = "Organisation id")),
    request_body = LimitOverridesInput,
    responses(
        (status = 200, description = "The effective limits, overrides listed", body = EffectiveLimitsJson),
        (status = 400, description = "Unknown resource key or bad value (`field` names it)", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such organisation", body = ErrorBody)
    )
)]
pub async fn set_org_limits(
    state: web::Data<ApiState>,
    admin: Admin,
    id: web::Path<i64>,
    body: Json<LimitOverridesInput>,
) -> Result<HttpResponse, ApiError> {
    set_limits(&state, admin, org(id.into_inner())?, &body).await
}

async fn change_usage(
    state: &ApiState,
    admin: Admin,
    account: AccountRef,
    input: &UsageInput,
) -> Result<HttpResponse, ApiError> {
    let change = UsageChange::new(input.resource()?, input.delta)?;
    let key = input
        .idempotency_key
        .as_deref()
        .map(IdempotencyKey::new)
        .transpose()?;
    let answer = state
        .quota
        .change_usage(account, change, key, admin.actor())
        .await?;
    // Refusals are answers too: a replay gives the same status and body.
    let mut response = match answer.outcome.into_result() {
        Ok(level) => HttpResponse::Ok().json(UsageLevelJson::from(level)),
        Err(refusal) => ApiError::from(refusal).error_response(),
    };
    if answer.replayed {
        response.headers_mut().insert(
            HeaderName::from_static(REPLAYED_HEADER),
            HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}

/// Reserves (positive delta) or releases (negative delta) a user's usage, atomically.
#[utoipa::path(
    post, path = "/api/admin/users/{id}/usage", tag = "quota",
    params(("id" = i64, Path, description = "User id")),
    request_body = UsageInput,
    responses(
        (status = 200, description = "The new usage; `Idempotent-Replayed: true` on a replay", body = UsageLevelJson),
        (status = 400, description = "Unknown resource, delta 0, or a release below zero", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin, or the plan does not allow creating servers/sites", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "`quota_exceeded` with resource, limit, used, requested; or `conflict` for an idempotencyKey reused with another request", body = ErrorBody)
    )
)]
pub async fn change_user_usage(
    state: web::Data<ApiState>,
    admin: Admin,
    id: web::Path<i64>,
    body: Json<UsageInput>,
) -> Result<HttpResponse, ApiError> {
    let account = named_user(&state, id.into_inner()).await?;
    change_usage(&state, admin, account, &body).await
}

/// Reserves (positive delta) or releases (negative delta) an organisation's usage, atomically.
#[utoipa::path(
    post, path = "/api/admin/organisations/{id}/usage", tag = "quota",
    params(("id" = i64, Path, description = "Organisation id")),
    request_body = UsageInput,
    responses(
        (status = 200, description = "The new usage; `Idempotent-Replayed: true` on a replay", body = UsageLevelJson),
        (status = 400, description = "Unknown resource, delta 0, or a release below zero", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin, or the plan does not allow creating servers/sites", body = ErrorBody),
        (status = 404, description = "No such organisation", body = ErrorBody),
        (status = 409, description = "`quota_exceeded` with resource, limit, used, requested; or `conflict` for an idempotencyKey reused with another request", body = ErrorBody)
    )
)]
pub async fn change_org_usage(
    state: web::Data<ApiState>,
    admin: Admin,
    id: web::Path<i64>,
    body: Json<UsageInput>,
) -> Result<HttpResponse, ApiError> {
    change_usage(&state, admin, org(id.into_inner())?, &body).await
}

async fn check_usage(
    state: &ApiState,
    account: AccountRef,
    input: &UsageInput,
) -> Result<HttpResponse, ApiError> {
    let change = UsageChange::new(input.resource()?, input.delta)?;
    let check = state.quota.check(account, change).await?;
    Ok(HttpResponse::Ok().json(UsageCheckJson::from(&check)))
}

/// Would this change be granted now? Changes nothing.
#[utoipa::path(
    post, path = "/api/admin/users/{id}/usage/check", tag = "quota",
    params(("id" = i64, Path, description = "User id")),
    request_body = UsageInput,
    responses(
        (status = 200, description = "`allowed` and the numbers behind it", body = UsageCheckJson),
        (status = 400, description = "Unknown resource or delta 0", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody)
    )
)]
pub async fn check_user_usage(
    state: web::Data<ApiState>,
    _admin: Admin,
    id: web::Path<i64>,
    body: Json<UsageInput>,
) -> Result<HttpResponse, ApiError> {
    let account = named_user(&state, id.into_inner()).await?;
    check_usage(&state, account, &body).await
}

/// Would this change be granted now? Changes nothing.
#[utoipa::path(
    post, path = "/api/admin/organisations/{id}/usage/check", tag = "quota",
    params(("id" = i64, Path, description = "Organisation id")),
    request_body = UsageInput,
    responses(
        (status = 200, description = "`allowed` and the numbers behind it", body = UsageCheckJson),
        (status = 400, description = "Unknown resource or delta 0", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such organisation", body = ErrorBody)
    )
)]
pub async fn check_org_usage(
    state: web::Data<ApiState>,
    _admin: Admin,
    id: web::Path<i64>,
    body: Json<UsageInput>,
) -> Result<HttpResponse, ApiError> {
    check_usage(&state, org(id.into_inner())?, &body).await
}
