//! API tokens for `Authorization: Bearer`: created for oneself, shown once, stored only
//! as a SHA-256 hash, listed with their last use, revoked by their owner.

use std::sync::Arc;

use crate::identity::api_token::ApiToken;
use crate::identity::caller::{generate_secret, hash_secret};
use crate::identity::ports::TokenRepository;
use crate::shared::clock::Clock;
use crate::shared::ids::{TokenId, UserId};
use crate::shared::repo::{RepoError, StoreFailure};
use crate::shared::text::{required_name, AccountValidationError};

/// The prefix of every API token, so leaked ones are easy to recognise and scan for.
pub const TOKEN_PREFIX: &str = "tff_";
/// The name a token gets when none is given.
pub const DEFAULT_TOKEN_NAME: &str = "API token";
const MAX_TOKEN_NAME_CHARS: usize = 100;

/// A freshly created token with its secret, which is never available again.
#[derive(Clone)]
pub struct CreatedToken {
    /// Token.
    pub token: ApiToken,
    /// Secret.
    pub secret: String,
}

impl std::fmt::Debug for CreatedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedToken")
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// Errors of the token use cases.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Token not found.
    #[error("token {0} not found")]
    NotFound(TokenId),
    /// User not found.
    #[error("user {0} not found")]
    UnknownUser(UserId),
    /// Invalid.
    #[error(transparent)]
    Invalid(#[from] AccountValidationError),
    /// The store failed: unreachable, or broken.
    #[error("token failure")]
    Store(#[from] StoreFailure),
}

impl TokenError {
    fn from_repo(err: RepoError, on_not_found: TokenError) -> TokenError {
        match err {
            RepoError::NotFound => on_not_found,
            err => TokenError::Store(err.into()),
        }
    }
}

/// Creates, lists and revokes a user's own API tokens.
#[derive(Clone)]
pub struct TokenService {
    tokens: Arc<dyn TokenRepository>,
    clock: Arc<dyn Clock>,
}

impl TokenService {
    /// Builds the service on the ports it needs.
    pub fn new(tokens: Arc<dyn TokenRepository>, clock: Arc<dyn Clock>) -> Self {
        Self { tokens, clock }
    }

    /// A new token for `owner`, named `name` (or "API token"). The secret is returned
    /// here and nowhere else.
    pub async fn create(
        &self,
        owner: UserId,
        name: Option<&str>,
    ) -> Result<CreatedToken, TokenError> {
        let name = required_name(
            "name",
            name.unwrap_or(DEFAULT_TOKEN_NAME),
            MAX_TOKEN_NAME_CHARS,
        )?;
        let secret = generate_secret(TOKEN_PREFIX);
        let token = self
            .tokens
            .create(owner, name, hash_secret(&secret), self.clock.now())
            .await
            .map_err(|e| TokenError::from_repo(e, TokenError::UnknownUser(owner)))?;
        tracing::info!(user = %owner, token = %token.id(), "api token created");
        Ok(CreatedToken { token, secret })
    }

    /// The owner's active tokens, oldest first.
    pub async fn list(&self, owner: UserId) -> Result<Vec<ApiToken>, TokenError> {
        self.tokens
            .list_active(owner)
            .await
            .map_err(|e| TokenError::from_repo(e, TokenError::UnknownUser(owner)))
    }

    /// Revokes one of the owner's tokens; someone else's token is "not found".
    pub async fn revoke(&self, owner: UserId, id: TokenId) -> Result<(), TokenError> {
        self.tokens
            .revoke(owner, id, self.clock.now())
            .await
            .map_err(|e| TokenError::from_repo(e, TokenError::NotFound(id)))?;
        tracing::info!(user = %owner, token = %id, "api token revoked");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::ports::MockTokenRepository;
    use crate::shared::clock::SystemClock;

    fn service(repo: MockTokenRepository) -> TokenService {
        TokenService::new(Arc::new(repo), Arc::new(SystemClock))
    }

    #[tokio::test]
    async fn create_stores_the_hash_and_returns_the_secret_once() {
        let mut repo = MockTokenRepository::new();
        repo.expect_create()
            .withf(|_, name, hash, _| name == "deploy" && hash.len() == 64)
            .returning(|_, name, _, now| {
                Ok(ApiToken::new(TokenId::new(5).unwrap(), name, now, None))
            });
        let created = service(repo)
            .create(UserId::new(1).unwrap(), Some(" deploy "))
            .await
            .unwrap();
        assert!(created.secret.starts_with(TOKEN_PREFIX));
        assert!(!format!("{created:?}").contains(&created.secret));
    }

    #[tokio::test]
    async fn default_and_invalid_names() {
        let mut repo = MockTokenRepository::new();
        repo.expect_create()
            .withf(|_, name, _, _| name == DEFAULT_TOKEN_NAME)
            .times(1)
            .returning(|_, name, _, now| {
                Ok(ApiToken::new(TokenId::new(1).unwrap(), name, now, None))
            });
        let service = service(repo);
        let owner = UserId::new(1).unwrap();
        service.create(owner, None).await.unwrap();
        assert!(matches!(
            service.create(owner, Some("  ")).await,
            Err(TokenError::Invalid(e)) if e.field == "name"
        ));
        assert!(service.create(owner, Some(&"n".repeat(101))).await.is_err());
    }

    #[tokio::test]
    async fn revoking_someone_elses_token_is_not_found() {
        let mut repo = MockTokenRepository::new();
        repo.expect_revoke()
            .returning(|_, _, _| Err(RepoError::NotFound));
        let id = TokenId::new(3).unwrap();
        assert!(matches!(
            service(repo).revoke(UserId::new(2).unwrap(), id).await,
            Err(TokenError::NotFound(found)) if found == id
        ));
    }
}
