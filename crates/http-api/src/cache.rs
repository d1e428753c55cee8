//! Encoded response bodies cached against the catalogue's freshness stamp, so hot public
//! reads (`GET /api/plans`, package pages) skip the database and JSON encoding. Correct
//! across instances: the stamp changes when any instance writes (polled every 250 ms) and
//! at once when this one does. Order lists are cached per user the same way, against
//! the order service's per-shard freshness.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;

use actix_web::web::Bytes;
use tariff_domain::catalogue::CatalogueStamp;
use tariff_domain::orders::ListStamp;
use tariff_domain::UserId;

/// Past this many keys the cache starts over; keys are few (pages × sizes × visibility).
const MAX_ENTRIES: usize = 512;

/// Bodies by key, each valid only for the stamp it was built under.
#[derive(Debug)]
pub struct BodyCache<K> {
    entries: RwLock<HashMap<K, (CatalogueStamp, Bytes)>>,
}

impl<K> Default for BodyCache<K> {
    fn default() -> Self {
        BodyCache {
            entries: RwLock::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash> BodyCache<K> {
    /// The cached body when it was built under `stamp`.
    pub fn get(&self, key: &K, stamp: CatalogueStamp) -> Option<Bytes> {
        let entries = self.entries.read().ok()?;
        entries
            .get(key)
            .filter(|(built, _)| *built == stamp)
            .map(|(_, body)| body.clone())
    }

    /// Stores a body built under `stamp` (read before building, so a concurrent write
    /// makes the entry stale rather than wrongly current).
    pub fn put(&self, key: K, stamp: CatalogueStamp, body: Bytes) {
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(key, (stamp, body));
        }
    }
}

/// Past this many bytes of bodies the order-list cache drops stale entries, then all:
/// enough for hundreds of busy customers, small beside the memory target.
const ORDER_LIST_BUDGET_BYTES: usize = 8 * 1024 * 1024;

/// Encoded `GET /api/orders` bodies by user, each valid while its [`ListStamp`] is
/// current (the order service checks: shard versions polled from the database, and
/// this instance's own writes at once).
#[derive(Debug, Default)]
pub struct OrderListCache {
    inner: RwLock<OrderListEntries>,
}

#[derive(Debug, Default)]
struct OrderListEntries {
    by_user: HashMap<UserId, (ListStamp, Bytes)>,
    bytes: usize,
}

impl OrderListCache {
    /// The user's cached body, when `is_current` accepts its stamp.
    pub fn get(&self, user: UserId, is_current: impl Fn(&ListStamp) -> bool) -> Option<Bytes> {
        let entries = self.inner.read().ok()?;
        entries
            .by_user
            .get(&user)
            .filter(|(stamp, _)| is_current(stamp))
            .map(|(_, body)| body.clone())
    }

    /// Stores a body built under `stamp` (taken before the data was read).
    pub fn put(
        &self,
        user: UserId,
        stamp: ListStamp,
        body: Bytes,
        is_current: impl Fn(&ListStamp) -> bool,
    ) {
        let Ok(mut entries) = self.inner.write() else {
            return;
        };
        if body.len() > ORDER_LIST_BUDGET_BYTES / 4 {
            return;
        }
        if let Some((_, old)) = entries.by_user.remove(&user) {
            entries.bytes -= old.len();
        }
        if entries.bytes + body.len() > ORDER_LIST_BUDGET_BYTES {
            entries.by_user.retain(|_, (stamp, _)| is_current(stamp));
            entries.bytes = entries.by_user.values().map(|(_, b)| b.len()).sum();
            if entries.bytes + body.len() > ORDER_LIST_BUDGET_BYTES {
                entries.by_user.clear();
                entries.bytes = 0;
            }
        }
        entries.bytes += body.len();
        entries.by_user.insert(user, (stamp, body));
    }
}
