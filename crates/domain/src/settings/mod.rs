//! Service-wide switches stored in the database, above all the billing switch: when
//! off, every plan, package, order, invoice, usage and apply/cancel-plan endpoint
//! answers 503 `feature_disabled`. Each instance keeps the switch in memory
//! ([`BillingSwitch`]) and refreshes it by polling a version counter that every write
//! bumps, so a change reaches all instances within one poll interval.

pub mod ports;
pub mod service;
pub mod switch;

#[cfg(any(test, feature = "mocks"))]
pub use ports::MockSettingsRepository;
pub use ports::SettingsRepository;
pub use service::{SettingsError, SettingsService};
pub use switch::BillingSwitch;
