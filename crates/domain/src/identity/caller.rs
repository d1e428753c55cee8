//! Identity: roles, the authenticated caller, credentials and secret handling.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::shared::ids::UserId;

/// A user's global role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// User.
    User,
    /// Admin.
    Admin,
}

impl Role {
    /// The text form.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text that is not a known role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a known role")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "user" => Ok(Role::User),
            "admin" => Ok(Role::Admin),
            other => Err(UnknownRole(other.to_owned())),
        }
    }
}

/// A member's role in an organisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OrgRole {
    /// Member.
    Member,
    /// Admin.
    Admin,
    /// Owner.
    Owner,
}

impl OrgRole {
    /// The text form.
    pub fn as_str(self) -> &'static str {
        match self {
            OrgRole::Member => "member",
            OrgRole::Admin => "admin",
            OrgRole::Owner => "owner",
        }
    }

    /// Admins and owners see and buy for the organisation; members do not.
    pub fn can_manage(self) -> bool {
        matches!(self, OrgRole::Admin | OrgRole::Owner)
    }
}

impl FromStr for OrgRole {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "member" => Ok(OrgRole::Member),
            "admin" => Ok(OrgRole::Admin),
            "owner" => Ok(OrgRole::Owner),
            other => Err(UnknownRole(other.to_owned())),
        }
    }
}

/// Who is making a request: resolved from a session cookie or an API token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    user_id: UserId,
    role: Role,
}

impl Caller {
    /// Creates it from its parts.
    pub fn new(user_id: UserId, role: Role) -> Caller {
        Caller { user_id, role }
    }
    /// User id.
    pub fn user_id(self) -> UserId {
        self.user_id
    }
    /// Role.
    pub fn role(self) -> Role {
        self.role
    }
    /// Whether it is admin.
    pub fn is_admin(self) -> bool {
        self.role == Role::Admin
    }
}

/// A presented secret: a session id from the cookie, an API token from `Authorization`,
/// or the session cookie of the control panel Tariff sits beside (resolved by asking
/// the panel, see `auth.panel.*`).
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// Session.
    Session(String),
    /// Bearer.
    Bearer(String),
    /// The panel's session cookie, checked with the panel (panel sign-in).
    Panel(String),
}

impl fmt::Debug for Credential {
    // Never print the secret itself.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Session(_) => f.write_str("Credential::Session(..)"),
            Credential::Bearer(_) => f.write_str("Credential::Bearer(..)"),
            Credential::Panel(_) => f.write_str("Credential::Panel(..)"),
        }
    }
}

impl Credential {
    /// The secret.
    pub fn secret(&self) -> &str {
        match self {
            Credential::Session(s) | Credential::Bearer(s) | Credential::Panel(s) => s,
        }
    }
}

/// The cause inside a `RepoError::Unavailable` when an upstream service (the panel that
/// signs users in) rather than the database could not answer. The HTTP adapter answers
/// it 503 `upstream_unavailable` instead of `database_unavailable`.
#[derive(Debug, thiserror::Error)]
#[error("the upstream service {service} did not answer usably")]
pub struct UpstreamUnavailable {
    /// Which upstream service failed (for logs).
    pub service: &'static str,
}

/// A fresh random secret (256 bits, URL-safe base64) for session ids and API tokens.
pub fn generate_secret(prefix: &str) -> String {
    let bytes: [u8; 32] = rand::random();
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// How session ids and tokens are stored: SHA-256, hex. The secrets are random and long,
/// so a fast hash is enough (unlike passwords, which use argon2id).
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_hashes_stable() {
        let a = generate_secret("tff_");
        let b = generate_secret("tff_");
        assert_ne!(a, b);
        assert!(a.starts_with("tff_") && a.len() >= 40);
        assert_eq!(hash_secret("x"), hash_secret("x"));
        assert_eq!(hash_secret("x").len(), 64);
        assert_ne!(hash_secret(&a), a);
    }

    #[test]
    fn credentials_never_debug_print_their_secret() {
        let text = format!("{:?}", Credential::Bearer("supersecret".into()));
        assert!(!text.contains("supersecret"));
    }

    #[test]
    fn roles_parse() {
        assert_eq!("admin".parse::<Role>().unwrap(), Role::Admin);
        assert!("root".parse::<Role>().is_err());
        assert!(
            OrgRole::Owner.can_manage()
                && OrgRole::Admin.can_manage()
                && !OrgRole::Member.can_manage()
        );
    }
}
