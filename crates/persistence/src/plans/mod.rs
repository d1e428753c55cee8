//! `PlanRepository` on diesel: the `plans` rows ([`rows`]), the catalogue's statements
//! ([`queries`]) and the port ([`repository`]).

mod queries;
mod repository;
mod rows;

pub use repository::DieselPlanRepository;
pub(crate) use rows::PlanRow;
