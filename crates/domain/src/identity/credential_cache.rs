//! A short-lived cache in front of a `CallerResolver`, so hot authenticated reads do
//! not pay a database round trip per request. Entries live at most `ttl` (one second by
//! default): a token revoked or a session ended on another instance stops working within
//! that time; on this instance `forget` drops it at once.
//!
//! An entry in use is refreshed ahead: the first request in the last quarter of its life
//! asks the database again while the others keep the cached answer. Why: when a busy
//! credential simply expired, every request in flight missed at once and waited for the
//! database together, which showed as latency spikes once a second.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::identity::caller::{hash_secret, Caller, Credential};
use crate::identity::ports::CallerResolver;
use crate::shared::repo::RepoError;

/// Past this many entries the cache starts over (a flood of bad tokens cannot grow it).
const MAX_ENTRIES: usize = 10_000;

/// A cached answer (`None`: the credential is unknown).
struct Entry {
    caller: Option<Caller>,
    /// Not used after this.
    until: DateTime<Utc>,
    /// One request is asking the database again.
    refreshing: bool,
}

/// Caches positive and negative answers of the inner resolver for a short time.
pub struct CachedCallerResolver {
    inner: Arc<dyn CallerResolver>,
    ttl: chrono::Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

impl CachedCallerResolver {
    /// Wraps `inner`, keeping each answer for `ttl`.
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
        Credential::Panel(_) => 'p',
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
        // The cached answer this request may fall back on while it refreshes the entry.
        let mut still_valid = None;
        if let Ok(mut entries) = self.entries.lock() {
            if let Some(entry) = entries.get_mut(&key) {
                if now < entry.until {
                    if entry.refreshing || now < entry.until - self.ttl / 4 {
                        return Ok(entry.caller);
                    }
                    entry.refreshing = true;
                    still_valid = Some(entry.caller);
                }
            }
        }
        let caller = match (self.inner.resolve(credential, now).await, still_valid) {
            (Ok(caller), _) => caller,
            // A failed refresh keeps the valid entry, and lets the next request try.
            (Err(_), Some(cached)) => {
                if let Ok(mut entries) = self.entries.lock() {
                    if let Some(entry) = entries.get_mut(&key) {
                        entry.refreshing = false;
                    }
                }
                return Ok(cached);
            }
            (Err(e), None) => return Err(e),
        };
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            let entry = Entry {
                caller,
                until: now + self.ttl,
                refreshing: false,
            };
            entries.insert(key, entry);
        }
        Ok(caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::caller::Role;
    use crate::identity::ports::MockCallerResolver;
    use crate::shared::ids::UserId;

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
    async fn an_entry_in_use_is_refreshed_ahead_by_one_request() {
        let mut inner = MockCallerResolver::new();
        let mut calls = 0;
        // The first answer is a user; the refresh finds the token revoked.
        inner.expect_resolve().times(2).returning(move |_, _| {
            calls += 1;
            Ok((calls == 1).then(|| Caller::new(UserId::new(7).unwrap(), Role::User)))
        });
        let cache = CachedCallerResolver::new(Arc::new(inner), Duration::from_secs(4));
        let token = Credential::Bearer("tff_x".into());
        assert!(cache.resolve(&token, at(0)).await.unwrap().is_some());
        assert!(
            cache.resolve(&token, at(2)).await.unwrap().is_some(),
            "cached"
        );
        // In the last quarter: this request asks again and gets the new answer...
        assert!(cache.resolve(&token, at(3)).await.unwrap().is_none());
        // ...which now lives its own ttl.
        assert!(cache.resolve(&token, at(5)).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_failed_refresh_keeps_the_valid_entry_and_an_expired_one_fails() {
        let mut inner = MockCallerResolver::new();
        let mut calls = 0;
        inner.expect_resolve().times(3).returning(move |_, _| {
            calls += 1;
            match calls {
                1 => Ok(Some(Caller::new(UserId::new(7).unwrap(), Role::User))),
                _ => Err(RepoError::Unavailable("down".into())),
            }
        });
        let cache = CachedCallerResolver::new(Arc::new(inner), Duration::from_secs(4));
        let token = Credential::Bearer("tff_x".into());
        assert!(cache.resolve(&token, at(0)).await.unwrap().is_some());
        // The refresh fails, but the entry is still valid: its answer stands.
        assert!(cache.resolve(&token, at(3)).await.unwrap().is_some());
        // Past its life the database's error is the answer.
        assert!(cache.resolve(&token, at(5)).await.is_err());
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
