//! The order ports on diesel: the `orders` and `order_items` rows ([`rows`]), the frozen
//! invoice snapshot's JSON ([`snapshot`]), the hot hand-written statements
//! ([`statements`]), reads and lifecycle writes ([`queries`]), the admin search
//! ([`search`]), activations ([`activation`]), PostgreSQL's batch numbering
//! ([`batched`]) and the five ports ([`repository`]).

mod activation;
mod batched;
mod dunning;
mod events;
mod placement;
mod queries;
mod repository;
mod rows;
mod search;
mod snapshot;
mod statements;

pub(crate) use activation::activate;
pub(crate) use batched::{Deferred, Issued, Numbering};
pub(crate) use events::{
    activated as order_activated, before_activation, transitioned as order_transitioned,
};
pub(crate) use queries::{account_of, load_order};
pub use repository::DieselOrderRepository;
