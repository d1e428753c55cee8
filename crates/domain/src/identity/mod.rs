//! Who is calling: users and their roles, passwords, login sessions, API tokens, the
//! credential cache and login rate limits; the ports that store them and resolve
//! presented credentials to a [`Caller`].

pub mod account_service;
pub mod api_token;
pub mod authentication;
pub mod caller;
pub mod credential_cache;
pub mod password;
pub mod ports;
pub mod rate_limit;
pub mod tokens;
pub mod user;

pub use account_service::{AccountError, AccountService, NewUser, UserPatch};
pub use api_token::ApiToken;
pub use authentication::{AuthError, AuthService, LoggedIn, LoginAttempt};
pub use caller::{
    generate_secret, hash_secret, Caller, Credential, OrgRole, Role, UnknownRole,
    UpstreamUnavailable,
};
pub use credential_cache::CachedCallerResolver;
pub use password::{
    hash_password, verify_against_dummy, verify_password, warm_up, HashingError, Password,
    PasswordHash, ARGON2_M_COST_KIB, ARGON2_P_COST, ARGON2_T_COST,
};
pub use ports::{
    CallerResolver, MembershipRepository, SessionRepository, TokenRepository, UserRepository,
};
pub use rate_limit::{RetryAfter, SlidingWindowLimiter};
pub use tokens::{CreatedToken, TokenError, TokenService, DEFAULT_TOKEN_NAME, TOKEN_PREFIX};
pub use user::{Email, User, UserSpec};

#[cfg(any(test, feature = "mocks"))]
pub use ports::{
    MockCallerResolver, MockMembershipRepository, MockSessionRepository, MockTokenRepository,
    MockUserRepository,
};
