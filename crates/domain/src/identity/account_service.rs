//! User account use cases: create, read, list and search, update.

use std::sync::Arc;

use crate::audit::entry::{Actor, AuditAction, AuditEntry, TargetKind};
use crate::identity::caller::Role;
use crate::identity::password::{hash_password, Password, PasswordHash};
use crate::identity::ports::UserRepository;
use crate::identity::user::{Email, User, UserSpec};
use crate::shared::billing::{BillingDraft, BillingPatch};
use crate::shared::clock::Clock;
use crate::shared::ids::UserId;
use crate::shared::pagination::{Page, PageRequest};
use crate::shared::repo::{RepoError, StoreFailure};
use crate::shared::text::AccountValidationError;

/// Errors of the account use cases.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// User not found.
    #[error("user {0} not found")]
    NotFound(UserId),
    /// No user has the email.
    #[error("no user has the email {0}")]
    UnknownEmail(String),
    /// Invalid.
    #[error(transparent)]
    Invalid(#[from] AccountValidationError),
    /// A user with that email already exists.
    #[error("a user with that email already exists")]
    EmailTaken,
    /// The store failed: unreachable, or broken.
    #[error("account failure")]
    Store(#[from] StoreFailure),
    /// Hashing a password failed.
    #[error("password hashing failed")]
    Hashing(#[source] crate::shared::repo::BoxError),
}

impl AccountError {
    fn from_repo(err: RepoError, id: Option<UserId>) -> AccountError {
        match (err, id) {
            (RepoError::NotFound, Some(id)) => AccountError::NotFound(id),
            (RepoError::Conflict(_), _) => AccountError::EmailTaken,
            (err, _) => AccountError::Store(err.into()),
        }
    }
}

/// A new user as an admin or the command line describes it.
#[derive(Clone, Debug, Default)]
pub struct NewUser {
    /// Email.
    pub email: String,
    /// Name.
    pub name: String,
    /// Without one the user cannot log in (API tokens still work).
    pub password: Option<String>,
    /// `user` (the default) or `admin`.
    pub role: Option<String>,
    /// Billing.
    pub billing: BillingDraft,
}

/// A partial change to a user: `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct UserPatch {
    /// Email.
    pub email: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Role.
    pub role: Option<String>,
    /// A new password; setting one ends the user's sessions.
    pub password: Option<String>,
    /// Billing.
    pub billing: BillingPatch,
}

fn parse_role(text: Option<&str>) -> Result<Role, AccountValidationError> {
    match text {
        None => Ok(Role::User),
        Some(t) => t
            .parse()
            .map_err(|_| AccountValidationError::new("role", "must be `user` or `admin`")),
    }
}

/// Hashes on the blocking pool: argon2 costs tens of milliseconds of CPU.
pub(crate) async fn hash_off_thread(password: Password) -> Result<PasswordHash, AccountError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AccountError::Hashing(Box::new(e)))?
        .map_err(|e| AccountError::Hashing(Box::new(e)))
}

/// Creates, reads, lists and changes user accounts.
#[derive(Clone)]
pub struct AccountService {
    users: Arc<dyn UserRepository>,
    clock: Arc<dyn Clock>,
}

impl AccountService {
    /// Builds the service on the ports it needs.
    pub fn new(users: Arc<dyn UserRepository>, clock: Arc<dyn Clock>) -> Self {
        Self { users, clock }
    }

    /// Panel sign-in: the user the control panel knows under `id` exists at once (the
    /// panel is the source of users). With `email` (the panel's answer at sign-in) a new
    /// user gets it and a known one has it refreshed; without (an admin's call named the
    /// id) a new user gets the placeholder `panel-user-<id>@panel.invalid` until it signs
    /// in. An email another user holds is not taken over: a new user then gets the
    /// placeholder, a known one keeps its email.
    pub async fn ensure_panel_user(
        &self,
        id: UserId,
        email: Option<&str>,
    ) -> Result<User, AccountError> {
        let placeholder = format!("panel-user-{id}@panel.invalid");
        let wanted = email
            .and_then(|e| Email::parse(e).ok())
            .map(|e| e.as_str().to_owned());
        let name = format!("Panel user {id}");
        let spec_for = |email: &str| {
            UserSpec::new(email, &name, Role::User, BillingDraft::default())
                .map_err(AccountError::from)
        };
        let now = self.clock.now();
        let first = match &wanted {
            Some(email) => {
                self.users
                    .ensure_with_id(id, spec_for(email)?, true, now)
                    .await
            }
            None => {
                self.users
                    .ensure_with_id(id, spec_for(&placeholder)?, false, now)
                    .await
            }
        };
        match first {
            Err(RepoError::Conflict(_)) => self
                .users
                .ensure_with_id(id, spec_for(&placeholder)?, false, now)
                .await
                .map_err(|e| AccountError::from_repo(e, Some(id))),
            other => other.map_err(|e| AccountError::from_repo(e, Some(id))),
        }
    }

    /// Validates everything before hashing the password, then stores the user.
    /// Audited as `user.create` by `actor`.
    pub async fn create(&self, new: NewUser, actor: Actor) -> Result<User, AccountError> {
        let role = parse_role(new.role.as_deref())?;
        let spec = UserSpec::new(&new.email, &new.name, role, new.billing)?;
        let password = new.password.map(Password::new).transpose()?;
        let hash = match password {
            Some(p) => Some(hash_off_thread(p).await?),
            None => None,
        };
        self.users
            .create(
                spec,
                hash,
                self.clock.now(),
                Some(AuditEntry::new(
                    actor,
                    AuditAction::UserCreate,
                    TargetKind::User,
                    None,
                )),
            )
            .await
            .map_err(|e| AccountError::from_repo(e, None))
    }

    /// The raw value.
    pub async fn get(&self, id: UserId) -> Result<User, AccountError> {
        self.users
            .get(id)
            .await
            .map_err(|e| AccountError::from_repo(e, Some(id)))
    }

    /// The user with this email (any spelling of it).
    pub async fn find_by_email(&self, email: &str) -> Result<User, AccountError> {
        let email = Email::parse(email)?;
        self.users
            .find_by_email(&email)
            .await
            .map_err(|e| AccountError::from_repo(e, None))?
            .ok_or_else(|| AccountError::UnknownEmail(email.to_string()))
    }

    /// Users by id; `email_contains` matches any part of the address, ignoring case.
    pub async fn list(
        &self,
        email_contains: Option<&str>,
        request: PageRequest,
    ) -> Result<Page<User>, AccountError> {
        let filter = email_contains
            .map(|t| t.trim().to_lowercase())
            .filter(|t| !t.is_empty());
        if filter.as_ref().is_some_and(|f| f.chars().count() > 254) {
            return Err(
                AccountValidationError::new("email", "must be at most 254 characters").into(),
            );
        }
        self.users
            .list(filter, request)
            .await
            .map_err(|e| AccountError::from_repo(e, None))
    }

    /// Applies a partial change and validates the result as a whole.
    /// Audited as `user.update` by `actor`.
    pub async fn update(
        &self,
        id: UserId,
        patch: UserPatch,
        actor: Actor,
    ) -> Result<User, AccountError> {
        let current = self.get(id).await?;
        let role = match patch.role.as_deref() {
            Some(text) => parse_role(Some(text))?,
            None => current.role(),
        };
        let mut billing = current.billing().to_draft();
        patch.billing.apply_to(&mut billing);
        let spec = UserSpec::new(
            patch.email.as_deref().unwrap_or(current.email().as_str()),
            patch.name.as_deref().unwrap_or(current.name()),
            role,
            billing,
        )?;
        let password = patch.password.map(Password::new).transpose()?;
        let hash = match password {
            Some(p) => Some(hash_off_thread(p).await?),
            None => None,
        };
        self.users
            .update(
                id,
                spec,
                hash,
                self.clock.now(),
                Some(AuditEntry::new(
                    actor,
                    AuditAction::UserUpdate,
                    TargetKind::User,
                    Some(id.get()),
                )),
            )
            .await
            .map_err(|e| AccountError::from_repo(e, Some(id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::ports::MockUserRepository;
    use crate::shared::clock::SystemClock;
    use crate::shared::repo::ConflictKind;
    use chrono::Utc;

    fn user(id: i64, email: &str, role: Role) -> User {
        let spec = UserSpec::new(email, "Someone", role, BillingDraft::default()).unwrap();
        User::new(UserId::new(id).unwrap(), spec, Utc::now())
    }

    fn service(repo: MockUserRepository) -> AccountService {
        AccountService::new(Arc::new(repo), Arc::new(SystemClock))
    }

    #[tokio::test]
    async fn create_lower_cases_the_email_and_hashes_the_password() {
        let mut repo = MockUserRepository::new();
        repo.expect_create()
            .withf(|spec, hash, _, _| {
                spec.email().as_str() == "ada@example.com"
                    && spec.role() == Role::Admin
                    && hash.as_ref().is_some_and(|h| {
                        crate::identity::password::verify_password("s3cret-pass", h)
                    })
            })
            .returning(|spec, _, now, _| Ok(User::new(UserId::new(1).unwrap(), spec, now)));
        let created = service(repo)
            .create(
                NewUser {
                    email: "Ada@Example.com".into(),
                    name: "Ada".into(),
                    password: Some("s3cret-pass".into()),
                    role: Some("admin".into()),
                    ..NewUser::default()
                },
                Actor::Operator,
            )
            .await
            .unwrap();
        assert_eq!(created.email().as_str(), "ada@example.com");
    }

    #[tokio::test]
    async fn invalid_input_never_reaches_storage() {
        let mut repo = MockUserRepository::new();
        repo.expect_create().never();
        let service = service(repo);
        for (new, field) in [
            (
                NewUser {
                    email: "nope".into(),
                    name: "A".into(),
                    ..NewUser::default()
                },
                "email",
            ),
            (
                NewUser {
                    email: "a@example.com".into(),
                    name: "A".into(),
                    role: Some("root".into()),
                    ..NewUser::default()
                },
                "role",
            ),
            (
                NewUser {
                    email: "a@example.com".into(),
                    name: "A".into(),
                    password: Some("short".into()),
                    ..NewUser::default()
                },
                "password",
            ),
        ] {
            match service.create(new, Actor::Operator).await {
                Err(AccountError::Invalid(e)) => assert_eq!(e.field, field),
                other => panic!("expected invalid {field}, got {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn duplicate_email_is_email_taken() {
        let mut repo = MockUserRepository::new();
        repo.expect_create()
            .returning(|_, _, _, _| Err(RepoError::Conflict(ConflictKind::EmailTaken)));
        let result = service(repo)
            .create(
                NewUser {
                    email: "a@example.com".into(),
                    name: "A".into(),
                    ..NewUser::default()
                },
                Actor::Operator,
            )
            .await;
        assert!(matches!(result, Err(AccountError::EmailTaken)));
    }

    #[tokio::test]
    async fn update_changes_only_named_fields() {
        let mut repo = MockUserRepository::new();
        repo.expect_get()
            .returning(|id| Ok(user(id.get(), "old@example.com", Role::User)));
        repo.expect_update()
            .withf(|_, spec, hash, _, _| {
                spec.email().as_str() == "old@example.com"
                    && spec.name() == "New Name"
                    && spec.role() == Role::User
                    && spec.billing().address().country_code() == Some("FR")
                    && hash.is_none()
            })
            .returning(|id, spec, _, now, _| Ok(User::new(id, spec, now)));
        let updated = service(repo)
            .update(
                UserId::new(7).unwrap(),
                UserPatch {
                    name: Some("New Name".into()),
                    billing: BillingPatch {
                        country: Some(Some("fr".into())),
                        ..BillingPatch::default()
                    },
                    ..UserPatch::default()
                },
                Actor::Operator,
            )
            .await
            .unwrap();
        assert_eq!(updated.name(), "New Name");
    }

    #[tokio::test]
    async fn missing_user_is_not_found() {
        let mut repo = MockUserRepository::new();
        repo.expect_get().returning(|_| Err(RepoError::NotFound));
        let id = UserId::new(9).unwrap();
        assert!(matches!(
            service(repo).update(id, UserPatch::default(), Actor::Operator).await,
            Err(AccountError::NotFound(found)) if found == id
        ));
    }

    #[tokio::test]
    async fn search_is_trimmed_and_lower_cased() {
        let mut repo = MockUserRepository::new();
        repo.expect_list()
            .withf(|filter, request| filter.as_deref() == Some("acme") && request.limit() == 15)
            .returning(|_, _| Ok(Page::new(vec![user(1, "x@acme.io", Role::User)], 1)));
        let page = service(repo)
            .list(Some(" ACME "), PageRequest::default())
            .await
            .unwrap();
        assert_eq!(page.total, 1);
    }
}
