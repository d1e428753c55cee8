//! The audit log: who changed what, when, from which state to which. Services build an
//! [`AuditEntry`] for each administrative write and hand it to the repository method
//! doing the write, which stores it IN THE SAME TRANSACTION (filling in the states it
//! reads and writes there): a write and its audit row commit or roll back together.
//! The states are typed snapshots ([`snapshot`]), serialised only when stored.

pub mod entry;
pub mod ports;
pub mod service;
pub mod snapshot;

pub use entry::{Actor, AuditAction, AuditEntry, TargetKind, UnknownTargetKind};
pub use ports::{AuditFilter, AuditRecord, AuditRepository};
pub use service::AuditService;
pub use snapshot::{
    AccountSnapshot, AuditState, CouponRedemptionSnapshot, CouponSnapshot, CreditBalanceSnapshot,
    CreditEntrySnapshot, CreditNoteSnapshot, OrderSnapshot, OverridesSnapshot, PaymentSnapshot,
    PermissionsSnapshot, PlanSnapshot, SettingsSnapshot, UsageChangeSnapshot, UsageLevelSnapshot,
    UserSnapshot,
};

#[cfg(any(test, feature = "mocks"))]
pub use ports::MockAuditRepository;
