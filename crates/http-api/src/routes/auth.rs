//! Sessions: log in (sets the `session` cookie), log out, who am I.

use std::net::{IpAddr, SocketAddr};

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{web, HttpRequest, HttpResponse};
use tariff_domain::identity::LoginAttempt;
use tariff_domain::Credential;

use crate::auth::{credential_of, Authenticated, SESSION_COOKIE};
use crate::dto::account::{LoginRequest, LoginResponse, SuccessJson, UserJson};
use crate::error::ApiError;
use crate::json::Json;
use crate::state::ApiState;

/// The client's address for login rate limits: the TCP peer, or the first hop named in
/// `Forwarded`/`X-Forwarded-For` when configured to trust a proxy.
fn client_address(req: &HttpRequest, state: &ApiState) -> Option<String> {
    let raw = if state.session_cookie.trust_forwarded_for {
        req.connection_info()
            .realip_remote_addr()
            .map(str::to_owned)
    } else {
        req.peer_addr().map(|a| a.ip().to_string())
    }?;
    let ip = raw
        .parse::<IpAddr>()
        .ok()
        .or_else(|| raw.parse::<SocketAddr>().ok().map(|a| a.ip()));
    Some(match ip {
        Some(ip) => ip.to_string(),
        None => raw.chars().take(64).collect(),
    })
}

fn session_cookie(state: &ApiState, value: String, max_age_secs: i64) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.session_cookie.secure)
        .max_age(CookieDuration::seconds(max_age_secs))
        .finish()
}

fn no_store() -> CacheControl {
    CacheControl(vec![CacheDirective::NoStore])
}

/// Logs in with email and password; the session id is set as an HttpOnly cookie.
#[utoipa::path(
    post, path = "/api/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in; `Set-Cookie: session=...; HttpOnly; SameSite=Lax; Path=/`", body = LoginResponse),
        (status = 400, description = "Malformed body", body = crate::error::ErrorBody),
        (status = 401, description = "Invalid email or password (one answer for both)", body = crate::error::ErrorBody),
        (status = 429, description = "Too many attempts for this email or address; see Retry-After", body = crate::error::ErrorBody)
    )
)]
pub async fn login(
    req: HttpRequest,
    state: web::Data<ApiState>,
    body: Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let client = client_address(&req, &state);
    let logged_in = state
        .authentication
        .login(LoginAttempt {
            email: &body.email,
            password: &body.password,
            client: client.as_deref(),
        })
        .await?;
    let max_age = state.authentication.session_ttl().num_seconds();
    Ok(HttpResponse::Ok()
        .insert_header(no_store())
        .cookie(session_cookie(&state, logged_in.session_id, max_age))
        .json(LoginResponse {
            user: UserJson::from(&logged_in.user),
        }))
}

/// Ends the session of the presented cookie and clears the cookie. With a Bearer token
/// nothing is revoked (tokens are revoked with `DELETE /api/tokens/:id`).
#[utoipa::path(
    post, path = "/api/auth/logout", tag = "auth",
    responses(
        (status = 200, description = "Session ended; the cookie is cleared", body = SuccessJson),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn logout(
    req: HttpRequest,
    state: web::Data<ApiState>,
    _caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    if let Some(credential @ Credential::Session(_)) = credential_of(&req) {
        state.authentication.logout(credential.secret()).await?;
        state.credential_cache.forget(&credential);
    }
    let mut removal = session_cookie(&state, String::new(), 0);
    removal.make_removal();
    Ok(HttpResponse::Ok()
        .insert_header(no_store())
        .cookie(removal)
        .json(SuccessJson { success: true }))
}

/// The signed-in user.
#[utoipa::path(
    get, path = "/api/me", tag = "auth",
    responses(
        (status = 200, body = UserJson),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn me(
    state: web::Data<ApiState>,
    Authenticated(caller): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let user = state.accounts.get(caller.user_id()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(UserJson::from(&user)))
}
