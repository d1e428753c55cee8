//! Encoded response bodies cached against the catalogue's freshness stamp, so hot public
//! reads (`GET /api/plans`, package pages) skip the database and JSON encoding. Correct
//! across instances: the stamp changes when any instance writes (polled every 250 ms) and
//! at once when this one does.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;

use actix_web::web::Bytes;
use tariff_domain::catalogue::CatalogueStamp;

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
