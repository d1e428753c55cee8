//! Users, sessions, API tokens, credential resolution and membership look-ups in
//! memory. Secrets are stored by their SHA-256 only, as in the database.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use tariff_domain::audit::{AuditEntry, UserSnapshot};
use tariff_domain::identity::ApiToken;
use tariff_domain::identity::PasswordHash;
use tariff_domain::identity::{hash_secret, Caller, Credential, OrgRole};
use tariff_domain::identity::{
    CallerResolver, MembershipRepository, SessionRepository, TokenRepository, UserRepository,
};
use tariff_domain::{
    ConflictKind, Email, OrgId, Page, PageRequest, RepoError, TokenId, User, UserId, UserSpec,
};

use crate::catalogue::page_of;
use crate::state::{SessionRow, State, TokenRow, UserRow};
use crate::MemoryStore;

/// A token's `last_used_at` is written at most this often (as the diesel adapter does).
const LAST_USED_GRANULARITY: TimeDelta = TimeDelta::seconds(60);

/// A user's audit state; says when a password was set (never what it is).
fn user_state(user: &User, password_set: bool) -> UserSnapshot {
    user.audit_state().with_password_changed(password_set)
}

impl State {
    /// The user (other than `except`) with this email.
    fn email_owner(&self, email: &Email, except: Option<UserId>) -> Option<&UserRow> {
        self.users
            .values()
            .find(|row| row.user.email() == email && Some(row.user.id()) != except)
    }

    fn caller(&self, user: UserId) -> Option<Caller> {
        self.users
            .get(&user.get())
            .map(|row| Caller::new(user, row.user.role()))
    }
}

#[async_trait]
impl UserRepository for MemoryStore {
    async fn create(
        &self,
        spec: UserSpec,
        password: Option<PasswordHash>,
        now: DateTime<Utc>,
        audit: Option<AuditEntry>,
    ) -> Result<User, RepoError> {
        self.with(|state| {
            if state.email_owner(spec.email(), None).is_some() {
                return Err(RepoError::Conflict(ConflictKind::EmailTaken));
            }
            let id = UserId::new(state.next_id("users"))
                .ok_or_else(|| RepoError::internal("user ids start at 1"))?;
            let user = User::new(id, spec, now);
            let password_set = password.is_some();
            state.users.insert(
                id.get(),
                UserRow {
                    user: user.clone(),
                    password,
                },
            );
            state.record(audit.map(|a| {
                a.with_target_id(id.get())
                    .with_after(user_state(&user, password_set))
            }))?;
            Ok(user)
        })
    }

    async fn get(&self, id: UserId) -> Result<User, RepoError> {
        self.with(|state| {
            state
                .users
                .get(&id.get())
                .map(|row| row.user.clone())
                .ok_or(RepoError::NotFound)
        })
    }

    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, RepoError> {
        self.with(|state| Ok(state.email_owner(email, None).map(|row| row.user.clone())))
    }

    async fn find_login(
        &self,
        email: &Email,
    ) -> Result<Option<(User, Option<PasswordHash>)>, RepoError> {
        self.with(|state| {
            Ok(state
                .email_owner(email, None)
                .map(|row| (row.user.clone(), row.password.clone())))
        })
    }

    async fn list(
        &self,
        email_contains: Option<String>,
        request: PageRequest,
    ) -> Result<Page<User>, RepoError> {
        self.with(|state| {
            let matching = state.users.values().filter(|row| {
                email_contains
                    .as_deref()
                    .is_none_or(|text| row.user.email().as_str().contains(text))
            });
            Ok(page_of(matching.map(|row| row.user.clone()), request))
        })
    }

    async fn ensure_with_id(
        &self,
        id: UserId,
        spec: UserSpec,
        refresh_email: bool,
        now: DateTime<Utc>,
    ) -> Result<User, RepoError> {
        self.with(|state| {
            let existing = state.users.get(&id.get()).map(|row| row.user.clone());
            match existing {
                Some(user) if !refresh_email || user.email() == spec.email() => Ok(user),
                Some(user) => {
                    if state.email_owner(spec.email(), Some(id)).is_some() {
                        return Err(RepoError::Conflict(ConflictKind::EmailTaken));
                    }
                    // Only the email changes: the rest stays as Tariff knows it.
                    let kept = user.spec();
                    let refreshed = UserSpec::new(
                        spec.email().as_str(),
                        kept.name(),
                        kept.role(),
                        kept.billing().to_draft(),
                    )
                    .map_err(|_| RepoError::internal("a stored user no longer validates"))?;
                    let user = User::new(id, refreshed, user.created_at());
                    if let Some(row) = state.users.get_mut(&id.get()) {
                        row.user = user.clone();
                    }
                    Ok(user)
                }
                None => {
                    if state.email_owner(spec.email(), None).is_some() {
                        return Err(RepoError::Conflict(ConflictKind::EmailTaken));
                    }
                    let user = User::new(id, spec, now);
                    state.users.insert(
                        id.get(),
                        UserRow {
                            user: user.clone(),
                            password: None,
                        },
                    );
                    state.note_id("users", id.get());
                    Ok(user)
                }
            }
        })
    }

    async fn update(
        &self,
        id: UserId,
        spec: UserSpec,
        password: Option<PasswordHash>,
        _now: DateTime<Utc>,
        audit: Option<AuditEntry>,
    ) -> Result<User, RepoError> {
        self.with(|state| {
            let before = state
                .users
                .get(&id.get())
                .map(|row| row.user.clone())
                .ok_or(RepoError::NotFound)?;
            if state.email_owner(spec.email(), Some(id)).is_some() {
                return Err(RepoError::Conflict(ConflictKind::EmailTaken));
            }
            let user = User::new(id, spec, before.created_at());
            let password_set = password.is_some();
            if let Some(row) = state.users.get_mut(&id.get()) {
                row.user = user.clone();
                if password.is_some() {
                    row.password = password;
                }
            }
            if password_set {
                // A new password ends every session opened with the old one.
                state.sessions.retain(|_, session| session.user != id);
            }
            state.record(audit.map(|a| {
                a.with_before(before.audit_state())
                    .with_after(user_state(&user, password_set))
            }))?;
            Ok(user)
        })
    }
}

#[async_trait]
impl SessionRepository for MemoryStore {
    async fn create(
        &self,
        user: UserId,
        token_hash: String,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        self.with(|state| {
            if !state.users.contains_key(&user.get()) {
                return Err(RepoError::Conflict(ConflictKind::MissingReference));
            }
            // Housekeeping bounded to this user: their sessions that have expired.
            state
                .sessions
                .retain(|_, s| s.user != user || s.expires_at > now);
            if state.sessions.contains_key(&token_hash) {
                return Err(RepoError::Conflict(ConflictKind::AlreadyExists));
            }
            state
                .sessions
                .insert(token_hash, SessionRow { user, expires_at });
            Ok(())
        })
    }

    async fn delete(&self, token_hash: String) -> Result<bool, RepoError> {
        self.with(|state| Ok(state.sessions.remove(&token_hash).is_some()))
    }
}

fn api_token(id: i64, row: &TokenRow) -> Result<ApiToken, RepoError> {
    let id = TokenId::new(id).ok_or_else(|| RepoError::internal("token ids start at 1"))?;
    Ok(ApiToken::new(
        id,
        row.name.clone(),
        row.created_at,
        row.last_used_at,
    ))
}

#[async_trait]
impl TokenRepository for MemoryStore {
    async fn create(
        &self,
        owner: UserId,
        name: String,
        token_hash: String,
        now: DateTime<Utc>,
    ) -> Result<ApiToken, RepoError> {
        self.with(|state| {
            if !state.users.contains_key(&owner.get()) {
                return Err(RepoError::NotFound);
            }
            if state.tokens.values().any(|t| t.hash == token_hash) {
                return Err(RepoError::Conflict(ConflictKind::AlreadyExists));
            }
            let id = state.next_id("api_tokens");
            let row = TokenRow {
                owner,
                name,
                hash: token_hash,
                created_at: now,
                last_used_at: None,
                revoked_at: None,
            };
            let token = api_token(id, &row)?;
            state.tokens.insert(id, row);
            Ok(token)
        })
    }

    async fn list_active(&self, owner: UserId) -> Result<Vec<ApiToken>, RepoError> {
        self.with(|state| {
            state
                .tokens
                .iter()
                .filter(|(_, t)| t.owner == owner && t.revoked_at.is_none())
                .map(|(id, t)| api_token(*id, t))
                .collect()
        })
    }

    async fn revoke(
        &self,
        owner: UserId,
        id: TokenId,
        now: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        self.with(|state| match state.tokens.get_mut(&id.get()) {
            Some(token) if token.owner == owner && token.revoked_at.is_none() => {
                token.revoked_at = Some(now);
                Ok(())
            }
            _ => Err(RepoError::NotFound),
        })
    }
}

#[async_trait]
impl CallerResolver for MemoryStore {
    async fn resolve(
        &self,
        credential: &Credential,
        now: DateTime<Utc>,
    ) -> Result<Option<Caller>, RepoError> {
        let hash = hash_secret(credential.secret());
        self.with(|state| match credential {
            // The panel's cookie means nothing to Tariff's own tables; the panel adapter
            // resolves it.
            Credential::Panel(_) => Ok(None),
            Credential::Session(_) => Ok(state
                .sessions
                .get(&hash)
                .filter(|session| session.expires_at > now)
                .map(|session| session.user)
                .and_then(|user| state.caller(user))),
            Credential::Bearer(_) => {
                let Some(token) = state
                    .tokens
                    .values_mut()
                    .find(|t| t.hash == hash && t.revoked_at.is_none())
                else {
                    return Ok(None);
                };
                if token
                    .last_used_at
                    .is_none_or(|at| now - at >= LAST_USED_GRANULARITY)
                {
                    token.last_used_at = Some(now);
                }
                let owner = token.owner;
                Ok(state.caller(owner))
            }
        })
    }
}

#[async_trait]
impl MembershipRepository for MemoryStore {
    async fn role_in(&self, org: OrgId, user: UserId) -> Result<Option<OrgRole>, RepoError> {
        self.with(|state| {
            Ok(state
                .members
                .get(&(org.get(), user.get()))
                .map(|member| member.role))
        })
    }

    async fn managed_orgs(&self, user: UserId) -> Result<Vec<OrgId>, RepoError> {
        self.with(|state| {
            Ok(state
                .members
                .iter()
                .filter(|((_, member), row)| *member == user.get() && row.role.can_manage())
                .filter_map(|((org, _), _)| OrgId::new(*org))
                .collect())
        })
    }
}
