//! Organisations and their memberships.
//!
//! Who may do what:
//! - anyone signed in creates an organisation and becomes its owner;
//! - members, admins and owners see it; to anyone else it does not exist (404);
//! - admins and owners add members and change roles; only an owner may make someone an
//!   owner or change or remove an owner; any member may leave;
//! - a platform admin (`role: admin`) acts as an owner of every organisation;
//! - an organisation always keeps at least one owner: the storage refuses, inside the
//!   transaction that would break it, to remove or demote the last one.

pub mod model;
pub mod ports;
pub mod service;

pub use model::{Member, Organisation, OrganisationSpec, OrganisationView};
pub use ports::OrganisationRepository;
pub use service::{OrgError, OrganisationService};

#[cfg(any(test, feature = "mocks"))]
pub use ports::MockOrganisationRepository;
