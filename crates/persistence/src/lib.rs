//! Diesel adapter implementing Tariff's repository ports on SQLite (embedded, the
//! default) and PostgreSQL.
//!
//! One folder per aggregate (`orders/`, `plans/`, `quota/`, `identity/`,
//! `organisations/`, `audit/`, `settings/`, `webhooks/`, `payments/`), each with its rows (apart from the domain
//! types, converted in one place), its statements and its repository. Statements are
//! written once against [`DbConn`], the backend split (`db/conn.rs`): a query is a
//! diesel value, and `DbConn` runs it on whichever backend the URL chose. Reads run on
//! tokio's blocking pool; writes go through [`Database::write`]: on PostgreSQL the same
//! pool, on SQLite one writer thread that commits queued writes in batches
//! (`db/sqlite_writer.rs`). Hot writes are hand-written statements that diesel keeps
//! prepared (`statements.rs`).

mod audit;
mod coupons;
mod credit;
mod credit_notes;
pub mod db;
mod documents;
pub mod errors;
mod identity;
mod literals;
mod orders;
mod organisations;
mod payments;
mod plans;
mod quota;
pub mod schema;
mod settings;
mod statements;
#[cfg(feature = "testing")]
pub mod testing;
mod webhooks;

pub use audit::DieselAuditRepository;
pub use coupons::DieselCouponRepository;
pub use credit::DieselCreditLedger;
pub use credit_notes::DieselCreditNotes;
pub use db::{backend_of, sql_bounds, Backend, Database, DbConn, PoolOptions, SetupError};
pub use documents::DieselDocumentStore;
pub use identity::{DieselIdentity, DieselUsers};
pub use orders::DieselOrderRepository;
pub use organisations::DieselOrganisations;
pub use payments::DieselPaymentStore;
pub use plans::DieselPlanRepository;
pub use quota::DieselQuotaRepository;
pub use settings::DieselSettingsRepository;
pub use webhooks::{
    open_sealer, store_event, AeadSealer, DieselOutbox, DieselWebhookEndpoints, InvalidSealingKey,
    KeySource, SealerReport, SealingKey, SEALING_KEY_BYTES,
};
