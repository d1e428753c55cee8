//! `QuotaRepository` on diesel: effective limits (active plan order, else the default
//! plan, with `limit_overrides` on top), usage counters, and the atomic ledger change.
//!
//! A change is ONE transaction: `BEGIN IMMEDIATE` on SQLite (writers queue on the lock),
//! `SELECT ... FOR UPDATE` of the counter row on PostgreSQL. Inside it the limit is read,
//! the domain's rules decide, and a conditional `UPDATE` holds the limit in the database
//! itself; the answer is stored under the idempotency key in the same transaction.

mod answers;
mod ledger;
mod queries;
mod repository;

pub use repository::DieselQuotaRepository;
