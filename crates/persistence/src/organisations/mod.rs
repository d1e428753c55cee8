//! `OrganisationRepository` on diesel. Every membership write first takes the
//! organisation's row lock (a no-op UPDATE: a row lock on PostgreSQL, and on SQLite the
//! write transaction is already exclusive), so concurrent changes to one organisation
//! run one after another and the owner count checked at the end is the real one.

mod queries;
mod repository;
mod rows;

pub use repository::DieselOrganisations;
