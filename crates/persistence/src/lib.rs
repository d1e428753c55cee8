//! Diesel adapter implementing Tariff's repository ports on SQLite (embedded, the
//! default) and PostgreSQL. One connection enum ([`db::DbConn`]) carries both; query
//! bodies are written once and compiled per backend by the [`with_conn!`] and
//! [`transaction!`] macros ([`read_snapshot!`] for consistent multi-query reads such as
//! a count and a page). Reads run on tokio's blocking pool; writes go through
//! [`Database::write`]: on PostgreSQL the same pool, on SQLite one writer thread that
//! commits queued writes in batches (`sqlite_writer.rs`). Hot writes are hand-written
//! statements that diesel keeps prepared (`statements.rs`).

mod audit;
pub mod db;
mod documents;
pub mod errors;
mod identity;
mod literals;
mod orders;
mod organisations;
mod plans;
mod quota;
pub mod schema;
mod settings;
mod sqlite_writer;
mod statements;
#[cfg(feature = "testing")]
pub mod testing;
mod users;

pub use audit::DieselAuditRepository;
pub use db::{backend_of, sql_bounds, Backend, Database, PoolOptions, SetupError};
pub use documents::DieselDocumentStore;
pub use identity::DieselIdentity;
pub use orders::DieselOrderRepository;
pub use organisations::DieselOrganisations;
pub use plans::DieselPlanRepository;
pub use quota::DieselQuotaRepository;
pub use settings::DieselSettingsRepository;
pub use users::DieselUsers;
