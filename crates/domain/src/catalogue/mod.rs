//! The plan catalogue: plans and their limits, the catalogue's port, and the use cases
//! (administration, import, the public listing and its cache stamp).

pub mod limits;
pub mod plan;
pub mod ports;
pub mod service;

pub use limits::{Limit, Limits, Permissions, Resource, UnknownResource};
pub use plan::{Plan, PlanDraft, PlanPatch, PlanSpec, PlanType, PlanValidationError};
pub use ports::{ImportOutcome, PlanRepository};
pub use service::{CatalogueError, CatalogueService, CatalogueStamp, ImportError};

#[cfg(any(test, feature = "mocks"))]
pub use ports::MockPlanRepository;
