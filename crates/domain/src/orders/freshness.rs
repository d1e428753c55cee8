//! How caches of order lists know they are current, across instances.
//!
//! Every account hashes to one of [`SHARDS`] shards. The database keeps a version per
//! shard, bumped (by triggers, in the writing transaction) on every change to an
//! account's orders and on every change to a user's memberships, which decide whose
//! orders the user sees. Instances poll the versions (every 250 ms in the app), and also
//! count their own writes per shard at once, so a caller reads their own writes.
//!
//! A list's [`ListStamp`] records, for each shard the list depends on, the polled version
//! and the local count seen *before* reading; a write after that makes it stale, never
//! wrongly current.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use async_trait::async_trait;

use crate::shared::ids::AccountRef;
use crate::shared::repo::RepoError;

/// How many shards account versions are spread over. The migrations compute the same
/// shard in SQL: `(account_id * 2 + (1 for an organisation, 0 for a user)) % 64`.
pub const SHARDS: usize = 64;

/// The shard of an account, as the database's triggers compute it.
pub fn shard_of(account: AccountRef) -> usize {
    let kind_bit = match account {
        AccountRef::User(_) => 0,
        AccountRef::Org(_) => 1,
    };
    // Ids are positive; `rem_euclid` keeps a (corrupt) negative one in range anyway.
    let raw = account.raw_id().rem_euclid(SHARDS as i64) as usize;
    (raw * 2 + kind_bit) % SHARDS
}

/// Reads the shared per-shard change versions.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ChangeVersions: Send + Sync {
    /// Every shard's version as `(shard, version)`.
    /// Errors: `Unavailable`, `Internal`.
    async fn shard_versions(&self) -> Result<Vec<(i64, i64)>, RepoError>;
}

/// This instance's view of the shard versions: the last polled ones and its own writes.
#[derive(Debug)]
pub struct OrderFreshness {
    polled: [AtomicI64; SHARDS],
    local: [AtomicU64; SHARDS],
}

impl Default for OrderFreshness {
    fn default() -> Self {
        OrderFreshness {
            polled: std::array::from_fn(|_| AtomicI64::new(0)),
            local: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// The state of every shard at one moment, taken before reading a list.
#[derive(Clone, Debug)]
pub struct FreshnessSnapshot {
    polled: [i64; SHARDS],
    local: [u64; SHARDS],
}

/// What an order list was built from: each shard it depends on, with the versions seen
/// before it was read. Current while none of those shards has changed since.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListStamp {
    deps: Vec<(usize, i64, u64)>,
}

impl OrderFreshness {
    /// Records a write through this instance to the account's orders or memberships.
    /// Call it after the write has committed.
    pub fn touched(&self, account: AccountRef) {
        self.local[shard_of(account)].fetch_add(1, Ordering::AcqRel);
    }

    /// Reads the shared versions; call it periodically so other instances' writes reach
    /// this instance's caches. A shard number out of range is ignored.
    pub async fn poll(&self, source: &dyn ChangeVersions) -> Result<(), RepoError> {
        for (shard, version) in source.shard_versions().await? {
            if let Some(slot) = usize::try_from(shard).ok().and_then(|s| self.polled.get(s)) {
                slot.store(version, Ordering::Release);
            }
        }
        Ok(())
    }

    /// Every shard's versions now; take it before reading the data a cache will hold.
    pub fn snapshot(&self) -> FreshnessSnapshot {
        FreshnessSnapshot {
            polled: std::array::from_fn(|i| self.polled[i].load(Ordering::Acquire)),
            local: std::array::from_fn(|i| self.local[i].load(Ordering::Acquire)),
        }
    }

    /// True while no shard the stamp depends on has changed.
    pub fn is_current(&self, stamp: &ListStamp) -> bool {
        stamp.deps.iter().all(|&(shard, polled, local)| {
            self.polled[shard].load(Ordering::Acquire) == polled
                && self.local[shard].load(Ordering::Acquire) == local
        })
    }
}

impl FreshnessSnapshot {
    /// The stamp of a list that shows these accounts' orders.
    pub fn stamp_for(&self, accounts: &[AccountRef]) -> ListStamp {
        let mut shards: Vec<usize> = accounts.iter().map(|a| shard_of(*a)).collect();
        shards.sort_unstable();
        shards.dedup();
        ListStamp {
            deps: shards
                .into_iter()
                .map(|s| (s, self.polled[s], self.local[s]))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::ids::{OrgId, UserId};

    fn user(id: i64) -> AccountRef {
        AccountRef::User(UserId::new(id).unwrap())
    }
    fn org(id: i64) -> AccountRef {
        AccountRef::Org(OrgId::new(id).unwrap())
    }

    #[test]
    fn shards_follow_the_sql_formula() {
        assert_eq!(shard_of(user(5)), 10);
        assert_eq!(shard_of(org(5)), 11);
        assert_eq!(shard_of(user(33)), 2);
        assert_eq!(shard_of(org(32)), 1);
        for id in 1..500 {
            assert!(shard_of(user(id)) < SHARDS && shard_of(org(id)) < SHARDS);
            assert_eq!(shard_of(user(id)), ((id * 2) % 64) as usize);
            assert_eq!(shard_of(org(id)), ((id * 2 + 1) % 64) as usize);
        }
    }

    #[test]
    fn a_local_write_stales_only_lists_that_depend_on_its_shard() {
        let freshness = OrderFreshness::default();
        let mine = freshness.snapshot().stamp_for(&[user(1), org(7)]);
        let theirs = freshness.snapshot().stamp_for(&[user(2)]);
        freshness.touched(org(7));
        assert!(!freshness.is_current(&mine));
        assert!(freshness.is_current(&theirs));
    }

    #[tokio::test]
    async fn a_polled_change_stales_dependent_lists() {
        let freshness = OrderFreshness::default();
        let stamp = freshness.snapshot().stamp_for(&[user(3)]);
        let mut source = MockChangeVersions::new();
        source
            .expect_shard_versions()
            .returning(|| Ok(vec![(6, 9), (7, 2), (99, 1)]));
        let unrelated = freshness.snapshot().stamp_for(&[user(1)]);
        freshness.poll(&source).await.unwrap();
        assert!(!freshness.is_current(&stamp), "user 3 lives in shard 6");
        assert!(freshness.is_current(&unrelated));
        let rebuilt = freshness.snapshot().stamp_for(&[user(3)]);
        freshness.poll(&source).await.unwrap();
        assert!(
            freshness.is_current(&rebuilt),
            "the same versions change nothing"
        );
    }

    #[test]
    fn a_stamp_taken_before_a_write_is_stale_after_it() {
        let freshness = OrderFreshness::default();
        let before = freshness.snapshot();
        freshness.touched(user(4));
        assert!(!freshness.is_current(&before.stamp_for(&[user(4)])));
    }
}
