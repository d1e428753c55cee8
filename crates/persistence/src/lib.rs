//! Diesel adapter implementing Tariff's repository ports on SQLite (embedded, the
//! default) and PostgreSQL. One connection enum ([`db::DbConn`]) carries both; query
//! bodies are written once and compiled per backend by the [`with_conn!`] and
//! [`transaction!`] macros. Every call runs on tokio's blocking pool.

pub mod db;
pub mod errors;
mod identity;
mod plans;
pub mod schema;
#[cfg(feature = "testing")]
pub mod testing;

pub use db::{backend_of, Backend, Database, PoolOptions, SetupError};
pub use identity::DieselIdentity;
pub use plans::DieselPlanRepository;
