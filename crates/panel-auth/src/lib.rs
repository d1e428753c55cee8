//! Panel sign-in (CONTRACT.md part two, "Panel sign-in"): a [`CallerResolver`] that
//! answers a [`Credential::Panel`] by forwarding the panel's session cookie to the
//! panel's session URL and reading the user's id, email and role from its JSON answer.
//! Every other credential goes to the inner resolver (Tariff's own sessions and tokens).
//!
//! - A 401 or 403 from the panel means "not signed in": the caller is unknown (401 here).
//! - No answer within the timeout, a connection failure, any other status, or a body that
//!   is not JSON: `RepoError::Unavailable` with [`UpstreamUnavailable`] inside, which the
//!   HTTP adapter answers 503 `upstream_unavailable`.
//! - Successful answers are cached for `cache_ttl`, keyed by the cookie's SHA-256; failures
//!   and refusals are never cached, so a revoked session stops working once its entry ends.
//! - A user seen for the first time exists at once under the panel's id; each answer the
//!   panel gives refreshes the user's email.
//!
//! The cookie is never logged: it is only put in the outgoing `Cookie` header, and the
//! cache holds its hash.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use tariff_domain::identity::{hash_secret, AccountError, AccountService, CallerResolver};
use tariff_domain::{Caller, Credential, RepoError, Role, UpstreamUnavailable, UserId};

/// Past this many entries the cache starts over (a flood of cookies cannot grow it).
const MAX_ENTRIES: usize = 10_000;

/// How to ask the panel (`auth.panel.*`).
#[derive(Clone)]
pub struct PanelConfig {
    /// The panel's session endpoint, e.g. `https://panel.example.com/api/auth/session`.
    pub session_url: String,
    /// The panel's session cookie name (`token` for EcliPanel).
    pub cookie: String,
    /// JSON pointers into the panel's answer.
    pub id_pointer: String,
    pub email_pointer: String,
    pub role_pointer: String,
    /// Panel roles that act as Tariff administrators.
    pub admin_roles: Vec<String>,
    /// How long a successful answer is reused.
    pub cache_ttl: Duration,
    /// How long the panel may take to answer.
    pub timeout: Duration,
}

impl std::fmt::Debug for PanelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PanelConfig")
            .field("session_url", &self.session_url)
            .field("cookie", &self.cookie)
            .field("admin_roles", &self.admin_roles)
            .field("cache_ttl", &self.cache_ttl)
            .finish_non_exhaustive()
    }
}

/// A configuration the resolver cannot work with.
#[derive(Debug, thiserror::Error)]
pub enum PanelConfigError {
    #[error("auth.panel.session_url must be an http:// or https:// URL")]
    SessionUrl,
    #[error("auth.panel.cookie must be a cookie name (letters, digits, - and _)")]
    Cookie,
    #[error("auth.panel.{0} must be a JSON pointer starting with /")]
    Pointer(&'static str),
    #[error("could not build the HTTP client: {0}")]
    Client(String),
}

/// What the panel said about a cookie.
#[derive(Clone, Copy, Debug)]
struct Known {
    caller: Caller,
    until: DateTime<Utc>,
}

/// The panel sign-in resolver.
pub struct PanelSignIn {
    config: PanelConfig,
    client: reqwest::Client,
    accounts: AccountService,
    inner: Arc<dyn CallerResolver>,
    cache: Mutex<HashMap<String, Known>>,
    ttl: chrono::Duration,
}

impl PanelSignIn {
    /// Checks the configuration and builds the HTTP client. `inner` resolves Tariff's own
    /// credentials; `accounts` creates and refreshes the panel's users.
    pub fn new(
        config: PanelConfig,
        accounts: AccountService,
        inner: Arc<dyn CallerResolver>,
    ) -> Result<PanelSignIn, PanelConfigError> {
        let scheme_ok =
            config.session_url.starts_with("http://") || config.session_url.starts_with("https://");
        if !scheme_ok || reqwest::Url::parse(&config.session_url).is_err() {
            return Err(PanelConfigError::SessionUrl);
        }
        if config.cookie.is_empty()
            || !config
                .cookie
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(PanelConfigError::Cookie);
        }
        for (name, pointer) in [
            ("id_pointer", &config.id_pointer),
            ("email_pointer", &config.email_pointer),
            ("role_pointer", &config.role_pointer),
        ] {
            if !pointer.starts_with('/') {
                return Err(PanelConfigError::Pointer(name));
            }
        }
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| PanelConfigError::Client(e.to_string()))?;
        let ttl = chrono::Duration::from_std(config.cache_ttl).unwrap_or(chrono::Duration::zero());
        Ok(PanelSignIn {
            config,
            client,
            accounts,
            inner,
            cache: Mutex::new(HashMap::new()),
            ttl,
        })
    }

    fn cached(&self, key: &str, now: DateTime<Utc>) -> Option<Caller> {
        let cache = self.cache.lock().ok()?;
        cache
            .get(key)
            .filter(|known| now < known.until)
            .map(|known| known.caller)
    }

    fn remember(&self, key: String, caller: Caller, now: DateTime<Utc>) {
        if self.ttl <= chrono::Duration::zero() {
            return;
        }
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= MAX_ENTRIES {
                cache.retain(|_, known| now < known.until);
                if cache.len() >= MAX_ENTRIES {
                    cache.clear();
                }
            }
            cache.insert(
                key,
                Known {
                    caller,
                    until: now + self.ttl,
                },
            );
        }
    }

    /// Asks the panel who `cookie` belongs to.
    async fn ask(&self, cookie: &str) -> Result<Option<PanelUser>, RepoError> {
        let header = format!("{}={}", self.config.cookie, cookie);
        let Ok(header) = reqwest::header::HeaderValue::from_str(&header) else {
            // A value no HTTP header can carry is no session of the panel's.
            return Ok(None);
        };
        let response = self
            .client
            .get(&self.config.session_url)
            .header(reqwest::header::COOKIE, header)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| {
                tracing::warn!(
                    timeout = e.is_timeout(),
                    connect = e.is_connect(),
                    "panel sign-in: no answer from the panel"
                );
                upstream()
            })?;
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Ok(None);
        }
        if !status.is_success() {
            tracing::warn!(status = status.as_u16(), "panel sign-in: the panel failed");
            return Err(upstream());
        }
        let body: Value = response.json().await.map_err(|_| {
            tracing::warn!("panel sign-in: the panel's answer is not JSON");
            upstream()
        })?;
        Ok(self.read_user(&body))
    }

    /// The user in the panel's answer; `None` when it names none (not signed in).
    fn read_user(&self, body: &Value) -> Option<PanelUser> {
        let id = match body.pointer(&self.config.id_pointer)? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .and_then(UserId::new)?;
        let email = body
            .pointer(&self.config.email_pointer)
            .and_then(Value::as_str)
            .map(str::to_owned);
        let is_admin = match body.pointer(&self.config.role_pointer) {
            Some(Value::String(role)) => self.config.admin_roles.iter().any(|r| r == role),
            Some(Value::Array(roles)) => roles
                .iter()
                .filter_map(Value::as_str)
                .any(|role| self.config.admin_roles.iter().any(|r| r == role)),
            _ => false,
        };
        Some(PanelUser {
            id,
            email,
            is_admin,
        })
    }
}

/// A user as the panel describes it.
#[derive(Clone, Debug)]
struct PanelUser {
    id: UserId,
    email: Option<String>,
    is_admin: bool,
}

fn upstream() -> RepoError {
    RepoError::Unavailable(Box::new(UpstreamUnavailable { service: "panel" }))
}

fn account_error(err: AccountError) -> RepoError {
    match err {
        AccountError::Store(failure) if failure.is_unavailable() => {
            RepoError::Unavailable(Box::new(failure))
        }
        other => RepoError::Internal(Box::new(other)),
    }
}

#[async_trait]
impl CallerResolver for PanelSignIn {
    async fn resolve(
        &self,
        credential: &Credential,
        now: DateTime<Utc>,
    ) -> Result<Option<Caller>, RepoError> {
        let Credential::Panel(cookie) = credential else {
            return self.inner.resolve(credential, now).await;
        };
        let key = hash_secret(cookie);
        if let Some(caller) = self.cached(&key, now) {
            return Ok(Some(caller));
        }
        let Some(user) = self.ask(cookie).await? else {
            return Ok(None);
        };
        self.accounts
            .ensure_panel_user(user.id, user.email.as_deref())
            .await
            .map_err(account_error)?;
        let role = if user.is_admin {
            Role::Admin
        } else {
            Role::User
        };
        let caller = Caller::new(user.id, role);
        self.remember(key, caller, now);
        Ok(Some(caller))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

    use super::*;
    use serde_json::json;
    use tariff_domain::identity::{MockCallerResolver, MockUserRepository};
    use tariff_domain::SystemClock;

    fn config(url: &str) -> PanelConfig {
        PanelConfig {
            session_url: url.into(),
            cookie: "token".into(),
            id_pointer: "/user/id".into(),
            email_pointer: "/user/email".into(),
            role_pointer: "/user/role".into(),
            admin_roles: vec!["*".into(), "rootAdmin".into(), "admin".into()],
            cache_ttl: Duration::from_secs(5),
            timeout: Duration::from_secs(2),
        }
    }

    fn sign_in(config: PanelConfig) -> Result<PanelSignIn, PanelConfigError> {
        let accounts =
            AccountService::new(Arc::new(MockUserRepository::new()), Arc::new(SystemClock));
        PanelSignIn::new(config, accounts, Arc::new(MockCallerResolver::new()))
    }

    #[test]
    fn the_configuration_is_checked() {
        assert!(sign_in(config("https://panel.example/api/auth/session")).is_ok());
        assert!(sign_in(config("http://10.0.0.2:3001/api/auth/session")).is_ok());
        assert!(matches!(
            sign_in(config("ftp://panel.example/")),
            Err(PanelConfigError::SessionUrl)
        ));
        let mut bad = config("http://panel.example/");
        bad.cookie = "to ken".into();
        assert!(matches!(sign_in(bad), Err(PanelConfigError::Cookie)));
        let mut bad = config("http://panel.example/");
        bad.role_pointer = "user.role".into();
        assert!(matches!(
            sign_in(bad),
            Err(PanelConfigError::Pointer("role_pointer"))
        ));
    }

    #[test]
    fn the_panels_answer_is_read_at_the_pointers() {
        let panel = sign_in(config("http://panel.example/")).unwrap();
        let user = panel
            .read_user(&json!({"user": {"id": "17", "email": "a@b.example", "role": ["user", "rootAdmin"]}}))
            .unwrap();
        assert_eq!(user.id.get(), 17);
        assert_eq!(user.email.as_deref(), Some("a@b.example"));
        assert!(user.is_admin);
        let user = panel
            .read_user(&json!({"user": {"id": 3, "role": "moderator"}}))
            .unwrap();
        assert!(!user.is_admin);
        assert!(user.email.is_none());
        for body in [
            json!({"user": null}),
            json!({"user": {"id": 0}}),
            json!({"user": {"id": -4}}),
            json!({"user": {"id": true}}),
            json!({"error": "Unauthorized"}),
        ] {
            assert!(panel.read_user(&body).is_none(), "{body}");
        }
    }

    #[test]
    fn the_cookie_is_not_in_the_debug_output() {
        let text = format!("{:?}", Credential::Panel("secret-cookie".into()));
        assert!(!text.contains("secret-cookie"));
        let text = format!("{:?}", config("http://panel.example/"));
        assert!(text.contains("panel.example"));
    }
}
