//! The identity ports on diesel: users ([`DieselUsers`]), and credentials, sessions,
//! tokens and membership look-ups ([`DieselIdentity`]).

mod credentials;
mod queries;
mod rows;
mod users;

pub use credentials::DieselIdentity;
pub(crate) use users::contains_pattern;
pub use users::DieselUsers;
