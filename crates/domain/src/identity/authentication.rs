//! Logging in and out with sessions.
//!
//! A session id is 256 random bits; only its SHA-256 is stored. Login answers the same
//! error for an unknown email, a password-less account and a wrong password, and spends
//! one argon2 verification in every case so timing does not tell them apart. Attempts
//! are rate-limited per email and per client address before anything is looked up.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use crate::identity::caller::{generate_secret, hash_secret};
use crate::identity::password::{verify_against_dummy, verify_password, PasswordHash};
use crate::identity::ports::{SessionRepository, UserRepository};
use crate::identity::rate_limit::{RetryAfter, SlidingWindowLimiter};
use crate::identity::user::{Email, User};
use crate::shared::clock::Clock;
use crate::shared::repo::{RepoError, StoreFailure};

/// Errors of logging in and out.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown email, wrong password or no password: deliberately one case.
    #[error("invalid email or password")]
    InvalidCredentials,
    /// Too many login attempts; retry in s.
    #[error("too many login attempts; retry in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until an attempt is admitted again.
        retry_after_secs: u64,
    },
    /// The store failed: unreachable, or broken.
    #[error("authentication failure")]
    Store(#[source] StoreFailure),
    /// Verifying a password failed to run.
    #[error("password verification failed")]
    Hashing(#[source] crate::shared::repo::BoxError),
}

impl From<RepoError> for AuthError {
    fn from(err: RepoError) -> Self {
        AuthError::Store(err.into())
    }
}

/// A login attempt. `client` is the caller's network address, when known.
#[derive(Clone, Copy, Debug)]
pub struct LoginAttempt<'a> {
    /// Email.
    pub email: &'a str,
    /// Password.
    pub password: &'a str,
    /// Client.
    pub client: Option<&'a str>,
}

/// A successful login: the user and the session id to hand out, once.
#[derive(Clone)]
pub struct LoggedIn {
    /// User.
    pub user: User,
    /// The secret for the cookie. Only its hash is stored.
    pub session_id: String,
    /// When the paid period ends.
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for LoggedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoggedIn")
            .field("user", &self.user.id())
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Longest email key the limiter keeps: longer input cannot be a valid email anyway.
const MAX_LIMITER_EMAIL_CHARS: usize = 254;

/// Logs users in (creating sessions) and out (deleting them).
#[derive(Clone)]
pub struct AuthService {
    users: Arc<dyn UserRepository>,
    sessions: Arc<dyn SessionRepository>,
    clock: Arc<dyn Clock>,
    session_ttl: TimeDelta,
    limiter: Arc<SlidingWindowLimiter>,
}

impl AuthService {
    /// `limiter` counts attempts per email and per client address.
    pub fn new(
        users: Arc<dyn UserRepository>,
        sessions: Arc<dyn SessionRepository>,
        clock: Arc<dyn Clock>,
        session_ttl: TimeDelta,
        limiter: Arc<SlidingWindowLimiter>,
    ) -> Self {
        crate::identity::password::warm_up();
        Self {
            users,
            sessions,
            clock,
            session_ttl,
            limiter,
        }
    }

    /// The session ttl.
    pub fn session_ttl(&self) -> TimeDelta {
        self.session_ttl
    }

    /// Login.
    pub async fn login(&self, attempt: LoginAttempt<'_>) -> Result<LoggedIn, AuthError> {
        let now = self.clock.now();
        let email_key: String = attempt
            .email
            .trim()
            .to_lowercase()
            .chars()
            .take(MAX_LIMITER_EMAIL_CHARS)
            .collect();
        let email_key = format!("email:{email_key}");
        let client_key = attempt.client.map(|c| format!("client:{c}"));
        let mut keys = vec![email_key.as_str()];
        keys.extend(client_key.as_deref());
        self.limiter
            .try_acquire(&keys, now)
            .map_err(|RetryAfter(secs)| AuthError::RateLimited {
                retry_after_secs: secs,
            })?;

        let found = match Email::parse(attempt.email) {
            Ok(email) => self.users.find_login(&email).await?,
            Err(_) => None,
        };
        let password = attempt.password.to_owned();
        let (user, hash) = match found {
            Some((user, hash)) => (Some(user), hash),
            None => (None, None),
        };
        let matches = verify_off_thread(password, hash).await?;
        let user = match (user, matches) {
            (Some(user), true) => user,
            _ => return Err(AuthError::InvalidCredentials),
        };

        let session_id = generate_secret("tss_");
        let expires_at = now + self.session_ttl;
        self.sessions
            .create(user.id(), hash_secret(&session_id), now, expires_at)
            .await?;
        tracing::info!(user = %user.id(), "login");
        Ok(LoggedIn {
            user,
            session_id,
            expires_at,
        })
    }

    /// Ends the session with this id; unknown ids are ignored (logging out twice is fine).
    pub async fn logout(&self, session_id: &str) -> Result<(), AuthError> {
        self.sessions.delete(hash_secret(session_id)).await?;
        Ok(())
    }
}

/// Verifies against the real hash, or a dummy one when there is none, on the blocking pool.
async fn verify_off_thread(
    password: String,
    hash: Option<PasswordHash>,
) -> Result<bool, AuthError> {
    tokio::task::spawn_blocking(move || match hash {
        Some(hash) => verify_password(&password, &hash),
        None => verify_against_dummy(&password),
    })
    .await
    .map_err(|e| AuthError::Hashing(Box::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::caller::Role;
    use crate::identity::password::{hash_password, Password};
    use crate::identity::ports::{MockSessionRepository, MockUserRepository};
    use crate::identity::user::UserSpec;
    use crate::shared::billing::BillingDraft;
    use crate::shared::clock::MockClock;
    use crate::shared::ids::UserId;
    use std::sync::Mutex;

    fn ada() -> User {
        let spec = UserSpec::new(
            "ada@example.com",
            "Ada",
            Role::User,
            BillingDraft::default(),
        )
        .unwrap();
        User::new(UserId::new(1).unwrap(), spec, Utc::now())
    }

    fn users_with_ada() -> MockUserRepository {
        let hash = hash_password(&Password::new("right-password".into()).unwrap()).unwrap();
        let mut users = MockUserRepository::new();
        users.expect_find_login().returning(move |email| {
            Ok((email.as_str() == "ada@example.com").then(|| (ada(), Some(hash.clone()))))
        });
        users
    }

    fn fixed_clock(at: DateTime<Utc>) -> MockClock {
        let mut clock = MockClock::new();
        clock.expect_now().return_const(at);
        clock
    }

    fn service(
        users: MockUserRepository,
        sessions: MockSessionRepository,
        clock: MockClock,
        limit: u32,
    ) -> AuthService {
        AuthService::new(
            Arc::new(users),
            Arc::new(sessions),
            Arc::new(clock),
            TimeDelta::hours(2),
            Arc::new(SlidingWindowLimiter::per_minute(limit)),
        )
    }

    fn attempt<'a>(email: &'a str, password: &'a str) -> LoginAttempt<'a> {
        LoginAttempt {
            email,
            password,
            client: Some("192.0.2.1"),
        }
    }

    #[tokio::test]
    async fn login_stores_only_the_hash_and_expires_after_the_ttl() {
        let now = Utc::now();
        type Stored = Option<(String, DateTime<Utc>)>;
        let stored: Arc<Mutex<Stored>> = Arc::default();
        let mut sessions = MockSessionRepository::new();
        let sink = stored.clone();
        sessions
            .expect_create()
            .returning(move |_, hash, _, expires| {
                *sink.lock().unwrap() = Some((hash, expires));
                Ok(())
            });
        let auth = service(users_with_ada(), sessions, fixed_clock(now), 10);
        let logged_in = auth
            .login(attempt("  ADA@example.com ", "right-password"))
            .await
            .unwrap();
        let (hash, expires) = stored.lock().unwrap().clone().unwrap();
        assert_eq!(hash, hash_secret(&logged_in.session_id));
        assert_ne!(hash, logged_in.session_id);
        assert!(logged_in.session_id.len() >= 40, "at least 128 random bits");
        assert_eq!(expires, now + TimeDelta::hours(2));
        assert_eq!(logged_in.user.id(), ada().id());
        assert!(!format!("{logged_in:?}").contains(&logged_in.session_id));
    }

    #[tokio::test]
    async fn unknown_email_wrong_password_and_garbage_are_one_error() {
        let mut sessions = MockSessionRepository::new();
        sessions.expect_create().never();
        let auth = service(users_with_ada(), sessions, fixed_clock(Utc::now()), 10);
        for (email, password) in [
            ("ada@example.com", "wrong-password"),
            ("nobody@example.com", "right-password"),
            ("not an email", "right-password"),
            ("ada@example.com", ""),
        ] {
            assert!(
                matches!(
                    auth.login(attempt(email, password)).await,
                    Err(AuthError::InvalidCredentials)
                ),
                "{email}/{password}"
            );
        }
    }

    #[tokio::test]
    async fn passwordless_accounts_cannot_log_in() {
        let mut users = MockUserRepository::new();
        users
            .expect_find_login()
            .returning(|_| Ok(Some((ada(), None))));
        let auth = service(
            users,
            MockSessionRepository::new(),
            fixed_clock(Utc::now()),
            10,
        );
        assert!(matches!(
            auth.login(attempt("ada@example.com", "")).await,
            Err(AuthError::InvalidCredentials)
        ));
    }

    #[tokio::test]
    async fn attempts_are_limited_per_email_before_any_lookup() {
        let mut users = MockUserRepository::new();
        users.expect_find_login().times(3).returning(|_| Ok(None));
        let auth = service(
            users,
            MockSessionRepository::new(),
            fixed_clock(Utc::now()),
            3,
        );
        for i in 0..3 {
            let client = format!("198.51.100.{i}");
            let result = auth
                .login(LoginAttempt {
                    email: "victim@example.com",
                    password: "guess",
                    client: Some(&client),
                })
                .await;
            assert!(matches!(result, Err(AuthError::InvalidCredentials)));
        }
        match auth.login(attempt("VICTIM@example.com", "guess")).await {
            Err(AuthError::RateLimited { retry_after_secs }) => {
                assert!((1..=60).contains(&retry_after_secs))
            }
            other => panic!("expected rate limit, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn attempts_are_limited_per_client_address() {
        let mut users = MockUserRepository::new();
        users.expect_find_login().returning(|_| Ok(None));
        let auth = service(
            users,
            MockSessionRepository::new(),
            fixed_clock(Utc::now()),
            2,
        );
        for email in ["a@example.com", "b@example.com"] {
            assert!(matches!(
                auth.login(attempt(email, "x")).await,
                Err(AuthError::InvalidCredentials)
            ));
        }
        assert!(matches!(
            auth.login(attempt("c@example.com", "x")).await,
            Err(AuthError::RateLimited { .. })
        ));
    }

    #[tokio::test]
    async fn logout_deletes_by_hash() {
        let mut sessions = MockSessionRepository::new();
        sessions
            .expect_delete()
            .withf(|hash| *hash == hash_secret("tss_abc"))
            .returning(|_| Ok(true));
        let auth = service(
            MockUserRepository::new(),
            sessions,
            fixed_clock(Utc::now()),
            10,
        );
        auth.logout("tss_abc").await.unwrap();
    }

    #[tokio::test]
    async fn unavailable_database_is_not_an_auth_failure() {
        let mut users = MockUserRepository::new();
        users
            .expect_find_login()
            .returning(|_| Err(RepoError::Unavailable("down".into())));
        let auth = service(
            users,
            MockSessionRepository::new(),
            fixed_clock(Utc::now()),
            10,
        );
        assert!(matches!(
            auth.login(attempt("ada@example.com", "x")).await,
            Err(AuthError::Store(failure)) if failure.is_unavailable()
        ));
    }
}
