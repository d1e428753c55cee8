//! Auth extractors: every handler gets its caller from either credential, the
//! `session` cookie or `Authorization: Bearer <token>`, through one code path.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use tariff_domain::{Caller, Credential};

use crate::error::ApiError;
use crate::state::ApiState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "session";

/// The credential a request presents, if any. A Bearer header wins over the cookie.
pub fn credential_of(req: &HttpRequest) -> Option<Credential> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let text = value.to_str().ok()?;
        let (scheme, token) = text.split_once(' ')?;
        let token = token.trim();
        return (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty())
            .then(|| Credential::Bearer(token.to_owned()));
    }
    req.cookie(SESSION_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
        .map(Credential::Session)
}

/// The panel's session cookie, when panel sign-in is on and the request carries it.
fn panel_credential_of(req: &HttpRequest, state: &ApiState) -> Option<Credential> {
    let name = state.panel_cookie.as_deref()?;
    req.cookie(name)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
        .map(Credential::Panel)
}

/// Tariff's own credential first; when it is missing or unknown, the panel's session
/// cookie (a stale panel token in `Authorization` must not hide a valid panel cookie).
async fn resolve(req: HttpRequest) -> Result<Option<Caller>, ApiError> {
    let state = req
        .app_data::<web::Data<ApiState>>()
        .ok_or_else(|| ApiError::internal(&std::io::Error::other("ApiState missing")))?;
    let now = state.clock.now();
    if let Some(credential) = credential_of(&req) {
        if let Some(caller) = state.auth.resolve(&credential, now).await? {
            return Ok(Some(caller));
        }
    }
    match panel_credential_of(&req, state) {
        Some(panel) => Ok(state.auth.resolve(&panel, now).await?),
        None => Ok(None),
    }
}

/// An authenticated caller; 401 without valid credentials.
#[derive(Clone, Copy, Debug)]
pub struct Authenticated(pub Caller);

/// An authenticated admin; 401 without credentials, 403 for a non-admin.
#[derive(Clone, Copy, Debug)]
pub struct Admin(pub Caller);

impl Admin {
    /// The admin as the actor of an audited write.
    pub fn actor(&self) -> tariff_domain::audit::Actor {
        tariff_domain::audit::Actor::User(self.0.user_id())
    }
}

/// The caller if the request carries valid credentials; anonymous otherwise (a bad
/// credential on a public route is treated as none).
#[derive(Clone, Copy, Debug)]
pub struct MaybeAuthenticated(pub Option<Caller>);

type LocalFuture<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            resolve(req)
                .await?
                .map(Authenticated)
                .ok_or_else(ApiError::unauthorized)
        })
    }
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let caller = resolve(req).await?.ok_or_else(ApiError::unauthorized)?;
            if caller.is_admin() {
                Ok(Admin(caller))
            } else {
                Err(ApiError::forbidden())
            }
        })
    }
}

impl FromRequest for MaybeAuthenticated {
    type Error = ApiError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(MaybeAuthenticated(resolve(req).await?)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn bearer_header_and_session_cookie_are_read() {
        let req = TestRequest::default()
            .insert_header((header::AUTHORIZATION, "Bearer abc"))
            .to_http_request();
        assert_eq!(credential_of(&req), Some(Credential::Bearer("abc".into())));
        let req = TestRequest::default()
            .insert_header((header::AUTHORIZATION, "bearer  abc "))
            .to_http_request();
        assert_eq!(credential_of(&req), Some(Credential::Bearer("abc".into())));
        let req = TestRequest::default()
            .insert_header((header::AUTHORIZATION, "Basic abc"))
            .to_http_request();
        assert_eq!(credential_of(&req), None);
        let req = TestRequest::default()
            .cookie(actix_web::cookie::Cookie::new(SESSION_COOKIE, "s1"))
            .to_http_request();
        assert_eq!(credential_of(&req), Some(Credential::Session("s1".into())));
        assert_eq!(
            credential_of(&TestRequest::default().to_http_request()),
            None
        );
    }
}
