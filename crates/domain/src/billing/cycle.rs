//! Billing cycles and the periods they cut time into. They belong to the order (an order
//! runs on a cycle), so they live in `orders::cycle`; this is their billing-side name.

pub use crate::orders::cycle::{BillingCycle, CycleError, Period};
