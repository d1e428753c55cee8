//! The quota engine: an account's effective limits (its plan, with admin overrides),
//! the rules of the usage ledger (grant within the limit, release never below zero,
//! create permissions, the daily email reset), and the use cases built on them.
//!
//! The rules are pure functions ([`decide`]); the ledger's storage applies them inside
//! one database transaction with the counter row locked, and a conditional update
//! holds the limit even if a decision were made on stale numbers.

pub mod model;
pub mod ports;
pub mod service;
#[cfg(test)]
mod tests;

pub use model::{
    decide, resets_daily, Allowance, Decision, EffectiveLimits, IdempotencyKey, LedgerAnswer,
    LedgerRequest, PlanBasis, PlanSource, QuotaError, QuotaSnapshot, Refusal, Usage, UsageChange,
    UsageLevel, UsageOutcome, MAX_DELTA, MAX_IDEMPOTENCY_KEY_CHARS, MAX_USAGE,
};
pub use ports::QuotaRepository;
pub use service::{QuotaService, UsageAnswer, UsageCheck};

#[cfg(any(test, feature = "mocks"))]
pub use ports::MockQuotaRepository;
