//! The identity ports on diesel: users ([`DieselUsers`]), and credentials, sessions,
//! tokens and membership look-ups ([`DieselIdentity`]).

mod credentials;
mod queries;
mod rows;
mod users;

pub use credentials::DieselIdentity;
pub use users::DieselUsers;
