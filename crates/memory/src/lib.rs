//! An in-memory implementation of the repository ports of `tariff-domain`: plans, users,
//! sessions, tokens, caller resolution, memberships, organisations, quota, orders,
//! activation, the billing directory, the lifecycle store, change versions, settings,
//! the audit log, the health probe, and the billing ports (coupons, the credit ledger,
//! order placement). The webhook ports (endpoints, outbox) are not implemented here.
//!
//! It keeps the contracts the diesel adapter keeps, so a service embedding the domain
//! can run on it without a database, and so the domain's use cases can be tested on it:
//! the same error variants (`NotFound`, `Conflict`), one active plan order per account,
//! gapless invoice numbers per calendar year, usage that never passes its limit,
//! idempotency keys that replay their first answer, and audit entries stored with the
//! write they describe. The `tariff-port-contract` suite runs the same tests against
//! this adapter and against SQLite and PostgreSQL.
//!
//! # Atomicity
//!
//! All state sits behind one mutex. Every write takes it once, checks everything that
//! could refuse the write before changing anything, then applies the change and its
//! audit entry: a write is applied whole or not at all, and concurrent writes apply one
//! after the other (the role a transaction plays in the database). Nothing awaits while
//! the lock is held.
//!
//! Reads filter whole tables rather than keep indexes: the store suits tests and small
//! embedded services, and every instance has its own state (nothing is shared between
//! processes, nothing survives a restart).
//!
//! ```
//! use std::sync::Arc;
//! use tariff_domain::catalogue::PlanRepository;
//! use tariff_domain::PlanSpec;
//! use tariff_memory::MemoryStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let store = MemoryStore::new();
//! let plans: Arc<dyn PlanRepository> = Arc::new(store.clone());
//! assert!(plans.create_if_catalogue_empty(PlanSpec::starter_free()).await.unwrap());
//! // Clones share one store.
//! let again: Arc<dyn PlanRepository> = Arc::new(store);
//! assert_eq!(again.list(false).await.unwrap()[0].name(), "Free");
//! # }
//! ```

mod audit;
mod billing;
mod catalogue;
mod identity;
mod orders;
mod organisations;
mod quota;
mod settings;
mod state;

use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use tariff_domain::shared::HealthProbe;
use tariff_domain::RepoError;

use state::State;

/// Every repository port, in memory. Cheap to clone: clones share one store.
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// An empty store: no plans, no users, billing enabled, every version at 1.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// The store's one lock: held for the whole of a read or a write. A panic while
    /// holding it (a bug) leaves the store refusing every call rather than serving state
    /// that may be half-written.
    fn lock(&self) -> Result<MutexGuard<'_, State>, RepoError> {
        self.state
            .lock()
            .map_err(|_| RepoError::internal("the in-memory store was poisoned by a panic"))
    }

    /// Runs a read or a write with the store locked.
    fn with<T>(
        &self,
        body: impl FnOnce(&mut State) -> Result<T, RepoError>,
    ) -> Result<T, RepoError> {
        let mut state = self.lock()?;
        body(&mut state)
    }
}

#[async_trait]
impl HealthProbe for MemoryStore {
    /// The store is in this process: it answers unless a panic poisoned it.
    async fn ping(&self) -> Result<(), RepoError> {
        self.lock().map(|_| ())
    }
}
