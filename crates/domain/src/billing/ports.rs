//! What billing needs from storage. One adapter may implement all of these; each method
//! states its error contract. The invariants that concurrent requests could break
//! (`maxRedemptions`, once per account, a balance never below zero) are held by the
//! database inside the transaction that writes the order, never by a read made before
//! it: the domain's checks ([`Coupon::check`], [`check_balance_change`]) decide what
//! to answer, the store decides what is true.
//!
//! [`check_balance_change`]: super::credit::check_balance_change

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::change::ScheduledChange;
use super::coupon::{Coupon, CouponCode, CouponRedemption, CouponSpec, RejectionReason};
use super::credit::{CreditEntry, NewCreditEntry};
use crate::audit::{Actor, AuditEntry};
use crate::orders::{Activation, NewOrder, Order};
use crate::{AccountRef, Currency, Money, OrderId, Page, PageRequest, RepoError};

/// The coupon catalogue. Codes are stored upper-cased ([`CouponCode`]), so lookups are
/// case-insensitive. Redemptions are written only by [`OrderPlacement::place`].
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait CouponRepository: Send + Sync {
    /// Stores a new, active coupon with `timesRedeemed` 0, and `audit` in the same
    /// transaction. Errors: `Conflict` (the code is taken, by an active or inactive
    /// coupon), `Unavailable`, `Internal`.
    async fn create(
        &self,
        spec: CouponSpec,
        audit: Option<AuditEntry>,
    ) -> Result<Coupon, RepoError>;

    /// One coupon, active or not, with its current `timesRedeemed`.
    /// Errors: `NotFound`, `Unavailable`, `Internal`.
    async fn get(&self, code: CouponCode) -> Result<Coupon, RepoError>;

    /// A page of all coupons, newest first, with the true total.
    /// Errors: `Unavailable`, `Internal`.
    async fn page(&self, request: PageRequest) -> Result<Page<Coupon>, RepoError>;

    /// Marks a coupon inactive (past redemptions stay, and stay counted), with `audit`
    /// in the same transaction; deactivating an inactive coupon changes nothing and
    /// answers it. Errors: `NotFound`, `Unavailable`, `Internal`.
    async fn deactivate(
        &self,
        code: CouponCode,
        at: DateTime<Utc>,
        audit: Option<AuditEntry>,
    ) -> Result<Coupon, RepoError>;

    /// Whether `account` holds a standing redemption of the coupon (one given back with
    /// its order does not count). For the answer to a request; `place` checks again.
    /// Errors: `Unavailable`, `Internal`.
    async fn redeemed_by(&self, code: CouponCode, account: AccountRef) -> Result<bool, RepoError>;
}

/// The account credit ledger: entries are only ever appended.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait CreditLedger: Send + Sync {
    /// Every entry of the account, newest first. Errors: `NotFound` (no such account),
    /// `Unavailable`, `Internal`.
    async fn entries(&self, account: AccountRef) -> Result<Vec<CreditEntry>, RepoError>;

    /// The balance in each currency the account has entries in (the sum of the
    /// entries), ordered by currency code. Errors: `Unavailable`, `Internal`.
    async fn balances(&self, account: AccountRef) -> Result<Vec<Money>, RepoError>;

    /// The balance in one currency, zero without entries. Errors: `Unavailable`,
    /// `Internal`.
    async fn balance(&self, account: AccountRef, currency: Currency) -> Result<Money, RepoError>;

    /// Appends one entry, and `audit` in the same transaction, if the balance of its
    /// account and currency stays at or above zero. The store holds that rule under
    /// concurrency: it serialises appends per account and currency (a row lock on a
    /// per-account balance row, or an equivalent constraint) and sums within the same
    /// transaction. Errors: `Conflict(InsufficientBalance)` (the balance would go below
    /// zero: nothing is written), `NotFound` (no such account), `Unavailable`,
    /// `Internal`.
    async fn append(
        &self,
        entry: NewCreditEntry,
        audit: Option<AuditEntry>,
    ) -> Result<CreditEntry, RepoError>;
}

/// What is written with a new order, in its transaction.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlacementExtras {
    /// The coupon redeemed by the order.
    pub redemption: Option<CouponRedemption>,
    /// The account credit paying the order ([`Bill::credit_applied`], above 0): the
    /// store appends `NewCreditEntry::applied_to_order` for it with the new order's id.
    ///
    /// [`Bill::credit_applied`]: super::pricing::Bill::credit_applied
    pub credit_applied: Option<Money>,
    /// What a plan change's unused time left over beyond the order's price, tax
    /// included ([`Bill::credit_to_ledger`], above 0): the store appends
    /// `NewCreditEntry::unused_time` for it with the new order's id.
    ///
    /// [`Bill::credit_to_ledger`]: super::pricing::Bill::credit_to_ledger
    pub unused_time_to_credit: Option<Money>,
    /// For an order with nothing left to pay: the store activates it in the same
    /// transaction, like `OrderActivation::create_active` (the account's active order
    /// is cancelled as replaced, the invoice numbered), recording `activation_audit`.
    pub activation: Option<Activation>,
    pub activation_audit: Option<AuditEntry>,
    /// Who placed the order, for the audit entries of the redemption and the credit
    /// (`coupon.redeem`, `credit.order`) written in the same transaction.
    pub actor: Option<Actor>,
}

/// Why an order could not be placed with its extras. Nothing is written.
#[derive(Debug, thiserror::Error)]
pub enum PlacementError {
    /// The coupon changed between the check and the write: it was deactivated, ran
    /// out (`maxRedemptions`), or this account redeemed it (`oncePerAccount`). HTTP
    /// answers it like the check would have: 400 on `couponCode`.
    #[error("the coupon can no longer be redeemed")]
    Coupon(RejectionReason),
    /// The balance no longer covers the credit applied (another order used it first).
    /// The caller may price the order again with the new balance.
    #[error("account credit is no longer available")]
    CreditUnavailable,
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Placing orders together with what they redeem and spend, and giving it back.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OrderPlacement: Send + Sync {
    /// Stores the pending order, its coupon redemption and its credit debit in ONE
    /// transaction. The redemption is counted by a conditional update of the coupon
    /// (`active` and `times_redeemed < max_redemptions`) and, for a once-per-account
    /// coupon, a unique index on (coupon, account) over standing redemptions; the debit
    /// is appended under the ledger's rule (see [`CreditLedger::append`]). So
    /// `maxRedemptions` holds exactly and no balance goes below zero, however many
    /// orders race. Errors: `Coupon` (inactive, exhausted or already used at write
    /// time), `CreditUnavailable`, `Repo(Conflict)` (the account or plan does not
    /// exist), `Repo(Unavailable)`, `Repo(Internal)`.
    async fn place(
        &self,
        order: NewOrder,
        extras: PlacementExtras,
    ) -> Result<Order, PlacementError>;

    /// Gives back what a pending order took, in the transaction that cancels or
    /// expires it: its redemption stops counting (`times_redeemed` decreases, and the
    /// account may redeem a once-per-account coupon again), and the entries that
    /// [`credit_to_give_back`] computes from the order's ledger entries, read in that
    /// same transaction, are appended. A second call finds nothing left to give back.
    /// Errors: `NotFound` (no such order), `Unavailable`, `Internal`.
    ///
    /// The order repository's cancel and expiry of a pending order run the same
    /// give-back inside their own transaction; this is for callers that end an order
    /// some other way.
    ///
    /// [`credit_to_give_back`]: super::credit::credit_to_give_back
    async fn release(&self, order: OrderId, at: DateTime<Utc>) -> Result<(), RepoError>;

    /// Sets (or with `None` drops) the plan change scheduled for the end of an active
    /// order's period; answers the order as stored. Errors: `NotFound`,
    /// `Conflict(ChangedMeanwhile)` (the order is not active), `Unavailable`,
    /// `Internal`.
    async fn schedule_change(
        &self,
        order: OrderId,
        change: Option<ScheduledChange>,
    ) -> Result<Order, RepoError>;
}
