//! The caller's own API tokens.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use tariff_domain::TokenId;

use crate::auth::Authenticated;
use crate::dto::account::{CreateTokenRequest, CreatedTokenJson, TokenJson};
use crate::error::ApiError;
use crate::json::OptionalJson;
use crate::routes::path_id;
use crate::state::ApiState;

/// Creates a token for the caller. The secret is in this response and nowhere else.
#[utoipa::path(
    post, path = "/api/tokens", tag = "tokens",
    request_body(content = CreateTokenRequest, description = "Optional"),
    responses(
        (status = 201, body = CreatedTokenJson),
        (status = 400, description = "Invalid name", body = crate::error::ErrorBody),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn create_token(
    state: web::Data<ApiState>,
    Authenticated(caller): Authenticated,
    body: OptionalJson<CreateTokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let created = state
        .tokens
        .create(caller.user_id(), body.into_inner().name.as_deref())
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(CreatedTokenJson::from(created)))
}

/// The caller's active tokens, oldest first; never their secrets.
#[utoipa::path(
    get, path = "/api/tokens", tag = "tokens",
    responses(
        (status = 200, body = [TokenJson]),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn list_tokens(
    state: web::Data<ApiState>,
    Authenticated(caller): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let tokens = state.tokens.list(caller.user_id()).await?;
    let body: Vec<TokenJson> = tokens.iter().map(TokenJson::from).collect();
    Ok(HttpResponse::Ok().json(body))
}

/// Revokes one of the caller's tokens; anyone else's token is 404.
#[utoipa::path(
    delete, path = "/api/tokens/{id}", tag = "tokens",
    params(("id" = i64, Path, description = "Token id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
        (status = 404, description = "No such token of the caller's", body = crate::error::ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn revoke_token(
    state: web::Data<ApiState>,
    Authenticated(caller): Authenticated,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(id.into_inner(), TokenId::new, "Token")?;
    state.tokens.revoke(caller.user_id(), id).await?;
    // Only the hash is known here, so drop every cached credential on this instance.
    state.credential_cache.clear();
    Ok(HttpResponse::NoContent().finish())
}
