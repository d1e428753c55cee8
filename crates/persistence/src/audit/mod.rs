//! The audit log: rows are inserted by the other repositories inside their writing
//! transactions ([`record`]); [`DieselAuditRepository`] reads them back, filtered and
//! paged.

mod queries;
mod repository;
mod rows;

pub(crate) use queries::record;
pub use repository::DieselAuditRepository;
pub(crate) use rows::NewAuditRow;
