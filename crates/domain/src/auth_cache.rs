//! A short-lived cache in front of a `CallerResolver`, so hot authenticated reads do
//! not pay a database round trip per request. Entries live at most `ttl` (one second by
//! default): a token revoked or a session ended on another instance stops working within
//! that time; on this instance `forget` drops it at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::account::{hash_secret, Caller, Credential};
use crate::ports::{CallerResolver, RepoError};

/// Past this many entries the cache starts over (a flood of bad tokens cannot grow it).
const MAX_ENTRIES: usize = 10_000;

/// A cached answer (`None`: the credential is unknown) and when it was fetched.
type Entry = (Option<Caller>, DateTime<Utc>);

/// Caches positive and negative answers of the inner resolver for a short time.
pub struct CachedCallerResolver {
    inner: Arc<dyn CallerResolver>,
    ttl: chrono::Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

impl CachedCallerResolver {
    pub fn new(inner: Arc<dyn CallerResolver>, ttl: Duration) -> Self {
        let ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::seconds(1));
        Self {
            inner,
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Drops a credential at once (logout, token revocation on this instance).
    pub fn forget(&self, credential: &Credential) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(&key(credential));
        }
    }

    /// Drops everything (e.g. a user's role or all of their tokens changed).
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

/// Keyed by kind and hash: the cache never holds a secret in clear.
fn key(credential: &Credential) -> String {
    let kind = match credential {
        Credential::Session(_) => 's',
        Credential::Bearer(_) => 'b',
    };
    format!("{kind}{}", hash_secret(credential.secret()))
}

#[async_trait]
impl CallerResolver for CachedCallerResolver {
    async fn resolve(
        &self,
        credential: &Credential,
        now: DateTime<Utc>,
    ) -> Result<Option<Caller>, RepoError> {
        let key = key(credential);
        if let Ok(entries) = self.entries.lock() {
            if let Some((caller, until)) = entries.get(&key) {
                if now < *until {
                    return Ok(*caller);
                }
            }
        }
        let caller = self.inner.resolve(credential, now).await?;
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(key, (caller, now + self.ttl));
        }
        Ok(caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::Role;
    use crate::ports::MockCallerResolver;
    use crate::UserId;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    #[tokio::test]
    async fn answers_from_cache_within_ttl_then_asks_again() {
        let mut inner = MockCallerResolver::new();
        inner
            .expect_resolve()
            .times(2)
            .returning(|_, _| Ok(Some(Caller::new(UserId::new(7).unwrap(), Role::User))));
        let cache = CachedCallerResolver::new(Arc::new(inner), Duration::from_secs(1));
        let token = Credential::Bearer("tff_x".into());
        assert!(cache.resolve(&token, at(0)).await.unwrap().is_some());
        assert!(cache.resolve(&token, at(0)).await.unwrap().is_some());
        assert!(cache.resolve(&token, at(2)).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn forget_drops_an_entry_at_once() {
        let mut inner = MockCallerResolver::new();
        let mut calls = 0;
        inner.expect_resolve().times(2).returning(move |_, _| {
            calls += 1;
            Ok((calls == 1).then(|| Caller::new(UserId::new(7).unwrap(), Role::User)))
        });
        let cache = CachedCallerResolver::new(Arc::new(inner), Duration::from_secs(60));
        let session = Credential::Session("s".into());
        assert!(cache.resolve(&session, at(0)).await.unwrap().is_some());
        cache.forget(&session);
        assert!(cache.resolve(&session, at(0)).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn session_and_bearer_with_the_same_text_are_different_keys() {
        assert_ne!(
            key(&Credential::Session("a".into())),
            key(&Credential::Bearer("a".into()))
        );
    }
}
