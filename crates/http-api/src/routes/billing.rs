//! Panel dialect: account credit (reading it; administrators' grants and debits) and the
//! coupon catalogue (administrators only).

use actix_web::{web, HttpResponse};
use tariff_domain::{AccountRef, OrgId, UserId};

use crate::auth::{Admin, Authenticated};
use crate::dto::billing::{
    BalanceJson, CouponInput, CouponJson, CreditAdjustInput, CreditAdjustedJson, CreditEntryJson,
    CreditJson,
};
use crate::error::{ApiError, ErrorBody};
use crate::json::Json;
use crate::pagination::{PageParams, PageQuery, Paginated};
use crate::routes::path_id;
use crate::state::ApiState;

fn user(raw: i64) -> Result<AccountRef, ApiError> {
    path_id(raw, UserId::new, "User").map(AccountRef::User)
}

fn org(raw: i64) -> Result<AccountRef, ApiError> {
    path_id(raw, OrgId::new, "Organisation").map(AccountRef::Org)
}

async fn credit_response(state: &ApiState, account: AccountRef) -> Result<HttpResponse, ApiError> {
    let credit = state.credit.statement(account).await?;
    Ok(HttpResponse::Ok().json(CreditJson::from(&credit)))
}

/// A user's account credit: balances per currency and every entry, newest first.
#[utoipa::path(
    get, path = "/api/users/{id}/credit", tag = "billing",
    params(("id" = i64, Path, description = "User id")),
    responses(
        (status = 200, description = "Balances and entries", body = CreditJson),
        (status = 400, description = "Bad path id", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such user, or not the caller (admins see every user)", body = ErrorBody),
        (status = 503, description = "Billing is switched off, or the database is unavailable", body = ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn user_credit(
    state: web::Data<ApiState>,
    Authenticated(caller): Authenticated,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let raw = id.into_inner();
    let account = user(raw)?;
    if !caller.is_admin() && caller.user_id().get() != raw {
        return Err(ApiError::not_found(format!("User {raw} does not exist.")));
    }
    credit_response(&state, account).await
}

/// An organisation's account credit: balances per currency and every entry, newest first.
#[utoipa::path(
    get, path = "/api/organisations/{id}/credit", tag = "billing",
    params(("id" = i64, Path, description = "Organisation id")),
    responses(
        (status = 200, description = "Balances and entries", body = CreditJson),
        (status = 400, description = "Bad path id", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such organisation, or the caller is not a member (admins see every organisation)", body = ErrorBody),
        (status = 503, description = "Billing is switched off, or the database is unavailable", body = ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn org_credit(
    state: web::Data<ApiState>,
    Authenticated(caller): Authenticated,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let org_id = super::readable_org(&state, &caller, id.into_inner()).await?;
    credit_response(&state, AccountRef::Org(org_id)).await
}

async fn adjust(
    state: &ApiState,
    admin: Admin,
    account: AccountRef,
    input: &CreditAdjustInput,
) -> Result<HttpResponse, ApiError> {
    let entry = state
        .credit
        .adjust(
            account,
            &input.amount.0,
            &input.currency,
            &input.reason,
            admin.actor(),
        )
        .await?;
    let balance = state.credit.balance(account, entry.currency()).await?;
    Ok(HttpResponse::Created().json(CreditAdjustedJson {
        entry: CreditEntryJson::from(&entry),
        balance: BalanceJson::from(balance),
    }))
}

/// Grants (positive amount) or debits (negative amount) a user's account credit.
#[utoipa::path(
    post, path = "/api/admin/users/{id}/credit", tag = "billing",
    params(("id" = i64, Path, description = "User id")),
    request_body = CreditAdjustInput,
    responses(
        (status = 201, description = "The entry written and the new balance in its currency", body = CreditAdjustedJson),
        (status = 400, description = "Bad amount (0, too many decimals), currency or reason; `field` names it", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "The debit would take the balance below zero; nothing changed", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Body not JSON", body = ErrorBody),
        (status = 503, description = "Billing is switched off, or the database is unavailable", body = ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn adjust_user_credit(
    state: web::Data<ApiState>,
    admin: Admin,
    id: web::Path<i64>,
    body: Json<CreditAdjustInput>,
) -> Result<HttpResponse, ApiError> {
    adjust(&state, admin, user(id.into_inner())?, &body).await
}

/// Grants (positive amount) or debits (negative amount) an organisation's account credit.
#[utoipa::path(
    post, path = "/api/admin/organisations/{id}/credit", tag = "billing",
    params(("id" = i64, Path, description = "Organisation id")),
    request_body = CreditAdjustInput,
    responses(
        (status = 201, description = "The entry written and the new balance in its currency", body = CreditAdjustedJson),
        (status = 400, description = "Bad amount (0, too many decimals), currency or reason; `field` names it", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such organisation", body = ErrorBody),
        (status = 409, description = "The debit would take the balance below zero; nothing changed", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Body not JSON", body = ErrorBody),
        (status = 503, description = "Billing is switched off, or the database is unavailable", body = ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn adjust_org_credit(
    state: web::Data<ApiState>,
    admin: Admin,
    id: web::Path<i64>,
    body: Json<CreditAdjustInput>,
) -> Result<HttpResponse, ApiError> {
    adjust(&state, admin, org(id.into_inner())?, &body).await
}

/// Creates an active coupon.
#[utoipa::path(
    post, path = "/api/admin/coupons", tag = "billing",
    request_body = CouponInput,
    responses(
        (status = 201, description = "The coupon, `timesRedeemed` 0", body = CouponJson),
        (status = 400, description = "A field failed validation; `field` names it", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 409, description = "The code is taken (codes are case-insensitive)", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Body not JSON", body = ErrorBody),
        (status = 503, description = "Billing is switched off, or the database is unavailable", body = ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn create_coupon(
    state: web::Data<ApiState>,
    admin: Admin,
    body: Json<CouponInput>,
) -> Result<HttpResponse, ApiError> {
    let coupon = state
        .coupons
        .create(body.into_inner().into_draft(), admin.actor())
        .await?;
    Ok(HttpResponse::Created().json(CouponJson::from(&coupon)))
}

/// Every coupon, active or not, newest first, in the paginated envelope.
#[utoipa::path(
    get, path = "/api/admin/coupons", tag = "billing",
    params(PageParams),
    responses(
        (status = 200, description = "One page of coupons", body = Paginated<CouponJson>),
        (status = 400, description = "Invalid page or per_page", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 503, description = "Billing is switched off, or the database is unavailable", body = ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn list_coupons(
    state: web::Data<ApiState>,
    _admin: Admin,
    pages: PageQuery,
) -> Result<HttpResponse, ApiError> {
    let pages = pages.validate()?;
    let page = state.coupons.page(pages.request()).await?;
    Ok(HttpResponse::Ok().json(pages.envelope(page, |coupon| CouponJson::from(&coupon))))
}

/// One coupon by its code, in any case.
#[utoipa::path(
    get, path = "/api/admin/coupons/{code}", tag = "billing",
    params(("code" = String, Path, description = "Coupon code, case-insensitive")),
    responses(
        (status = 200, description = "The coupon", body = CouponJson),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such coupon", body = ErrorBody),
        (status = 503, description = "Billing is switched off, or the database is unavailable", body = ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn get_coupon(
    state: web::Data<ApiState>,
    _admin: Admin,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let coupon = state.coupons.get(&code).await?;
    Ok(HttpResponse::Ok().json(CouponJson::from(&coupon)))
}

/// Deactivates a coupon: it can no longer be redeemed; past redemptions stay.
#[utoipa::path(
    delete, path = "/api/admin/coupons/{code}", tag = "billing",
    params(("code" = String, Path, description = "Coupon code, case-insensitive")),
    responses(
        (status = 200, description = "The coupon, `active` false", body = CouponJson),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such coupon", body = ErrorBody),
        (status = 503, description = "Billing is switched off, or the database is unavailable", body = ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn deactivate_coupon(
    state: web::Data<ApiState>,
    admin: Admin,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let coupon = state.coupons.deactivate(&code, admin.actor()).await?;
    Ok(HttpResponse::Ok().json(CouponJson::from(&coupon)))
}
