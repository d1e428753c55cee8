//! Admin: user accounts.

use actix_web::{web, HttpResponse};
use tariff_domain::identity::NewUser;
use tariff_domain::UserId;

use crate::auth::Admin;
use crate::dto::account::{CreateUserRequest, UpdateUserRequest, UserJson, UserSearch};
use crate::error::ApiError;
use crate::json::Json;
use crate::pagination::{PageParams, PageQuery, Paginated};
use crate::routes::path_id;
use crate::state::ApiState;

/// Creates a user. `role` defaults to `user`; without `password` the user cannot log in.
#[utoipa::path(
    post, path = "/api/admin/users", tag = "admin",
    request_body = CreateUserRequest,
    responses(
        (status = 201, body = UserJson),
        (status = 400, description = "Invalid field (named in `field`)", body = crate::error::ErrorBody),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
        (status = 403, description = "Not an admin", body = crate::error::ErrorBody),
        (status = 409, description = "Email already registered (any letter case)", body = crate::error::ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn create_user(
    state: web::Data<ApiState>,
    admin: Admin,
    body: Json<CreateUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let billing = body.billing();
    let email = body
        .email
        .ok_or_else(|| ApiError::validation("email", "email is required."))?;
    let name = body
        .name
        .ok_or_else(|| ApiError::validation("name", "name is required."))?;
    let user = state
        .accounts
        .create(
            NewUser {
                email,
                name,
                password: body.password,
                role: body.role,
                billing,
            },
            admin.actor(),
        )
        .await?;
    Ok(HttpResponse::Created().json(UserJson::from(&user)))
}

/// Users by id, paginated (the shared envelope), optionally filtered by email.
#[utoipa::path(
    get, path = "/api/admin/users", tag = "admin",
    params(PageParams, UserSearch),
    responses(
        (status = 200, description = "One page of users, ordered by id", body = Paginated<UserJson>),
        (status = 400, description = "Invalid page or per_page", body = crate::error::ErrorBody),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
        (status = 403, description = "Not an admin", body = crate::error::ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn list_users(
    state: web::Data<ApiState>,
    _admin: Admin,
    pages: PageQuery,
    search: web::Query<UserSearch>,
) -> Result<HttpResponse, ApiError> {
    let pages = pages.validate()?;
    let filter = search
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    let page = state.accounts.list(filter, pages.request()).await?;
    Ok(HttpResponse::Ok().json(pages.envelope(page, |user| UserJson::from(&user))))
}

/// One user.
#[utoipa::path(
    get, path = "/api/admin/users/{id}", tag = "admin",
    params(("id" = i64, Path, description = "User id")),
    responses(
        (status = 200, body = UserJson),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
        (status = 403, description = "Not an admin", body = crate::error::ErrorBody),
        (status = 404, description = "No such user", body = crate::error::ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn get_user(
    state: web::Data<ApiState>,
    _admin: Admin,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(id.into_inner(), UserId::new, "User")?;
    crate::routes::known_user(&state, id).await?;
    let user = state.accounts.get(id).await?;
    Ok(HttpResponse::Ok().json(UserJson::from(&user)))
}

/// Changes the named fields of a user (role and billing details included).
#[utoipa::path(
    put, path = "/api/admin/users/{id}", tag = "admin",
    params(("id" = i64, Path, description = "User id")),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, body = UserJson),
        (status = 400, description = "Invalid field", body = crate::error::ErrorBody),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
        (status = 403, description = "Not an admin", body = crate::error::ErrorBody),
        (status = 404, description = "No such user", body = crate::error::ErrorBody),
        (status = 409, description = "Email already registered", body = crate::error::ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn update_user(
    state: web::Data<ApiState>,
    admin: Admin,
    id: web::Path<i64>,
    body: Json<UpdateUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(id.into_inner(), UserId::new, "User")?;
    crate::routes::known_user(&state, id).await?;
    let user = state
        .accounts
        .update(id, body.into_inner().into_patch(), admin.actor())
        .await?;
    // A changed role or password must not live on in cached credentials.
    state.credential_cache.clear();
    Ok(HttpResponse::Ok().json(UserJson::from(&user)))
}
