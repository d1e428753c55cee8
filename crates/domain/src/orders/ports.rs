//! What the order use cases need from storage, split by purpose. One adapter may
//! implement all of them. Each method states its error contract in `RepoError` terms.

use crate::audit::entry::AuditEntry;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::charges::OrderItem;
use super::cycle::OrderCoupon;
use super::model::{NewOrder, Order, OrderStatus};
use super::numbering::InvoiceNumberFormat;
use super::parties::{BuyerDetails, SellerDetails};
use crate::catalogue::plan::Plan;
use crate::shared::ids::AccountRef;
use crate::shared::ids::{OrderId, OrgId, UserId};
use crate::shared::money::Money;
use crate::shared::pagination::{Page, PageRequest};
use crate::shared::repo::RepoError;

/// Filters of the administrators' order list; `None` matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderFilter {
    /// Status.
    pub status: Option<OrderStatus>,
    /// Orders whose `userId` is this user (their own, and those they placed for an
    /// organisation).
    pub user: Option<UserId>,
    /// Org.
    pub org: Option<OrgId>,
    /// Orders whose description or invoice number contains this text, ignoring case
    /// (ASCII letters on every store; PostgreSQL and the memory store fold other
    /// letters too).
    pub text: Option<String>,
}

/// Reading orders, storing pending ones and simple status changes.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OrderRepository: Send + Sync {
    /// Stores a new pending order with its lines.
    /// Errors: `Conflict(MissingReference)` (the account or plan does not exist),
    /// `Unavailable`, `Internal`.
    async fn insert_pending(&self, order: NewOrder) -> Result<Order, RepoError>;

    /// One order. Errors: `NotFound`, `Unavailable`, `Internal`.
    async fn get(&self, id: OrderId) -> Result<Order, RepoError>;

    /// Every order of these accounts, newest first. Errors: `Unavailable`, `Internal`.
    async fn list_for_accounts(&self, accounts: Vec<AccountRef>) -> Result<Vec<Order>, RepoError>;

    /// A page of all orders matching `filter`, newest first, with the true total.
    /// Errors: `Unavailable`, `Internal`.
    async fn search(
        &self,
        filter: OrderFilter,
        page: PageRequest,
    ) -> Result<Page<Order>, RepoError>;

    /// The account's active order, if any. Errors: `Unavailable`, `Internal`.
    async fn active_for(&self, account: AccountRef) -> Result<Option<Order>, RepoError>;

    /// Moves an order from `from` to `to` only if it is still `from` (one conditional
    /// update); `cancelled_at` is set to `at` when `to` is cancelled. Returns the order
    /// as stored afterwards. Errors: `NotFound`, `Conflict(ChangedMeanwhile)` (no longer
    /// `from`: someone else changed it first), `Unavailable`, `Internal`.
    async fn transition(
        &self,
        id: OrderId,
        from: OrderStatus,
        to: OrderStatus,
        at: DateTime<Utc>,
        audit: Option<AuditEntry>,
    ) -> Result<Order, RepoError>;
}

/// The terms of an activation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Activation {
    /// When it was activated.
    pub activated_at: DateTime<Utc>,
    /// When the paid period ends.
    pub expires_at: DateTime<Utc>,
    /// Payment reference.
    pub payment_reference: Option<String>,
    /// Frozen into the invoice snapshot.
    pub seller: SellerDetails,
    /// Formats the invoice number.
    pub numbering: InvoiceNumberFormat,
}

/// Activations: the one write that replaces an account's plan. Here and in
/// `OrderRepository::transition`, `audit` (when given) is stored in the same transaction
/// with the states before and after.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OrderActivation: Send + Sync {
    /// In ONE transaction: stores `order` as active; cancels the account's previous
    /// active order, noting "replaced by order #N"; gives the order the next invoice
    /// number of the activation's calendar year; freezes the invoice snapshot (the
    /// seller given, the buyer's billing details as stored now).
    /// Errors: `Conflict(RaceLost)` (a concurrent activation for the same account
    /// committed first), `Conflict(MissingReference)` (the account or plan does not
    /// exist), `Unavailable`, `Internal`.
    async fn create_active(
        &self,
        order: NewOrder,
        activation: Activation,
        audit: Option<AuditEntry>,
    ) -> Result<Order, RepoError>;

    /// The same for a stored pending order paid by hand (mark-paid): activation,
    /// replacement of the previous active order, number and snapshot, and (in adapters
    /// that keep payment records) a manual payment of its total with `paidAt`, in one
    /// transaction.
    /// Errors: `NotFound`, `Conflict(ChangedMeanwhile)` (the order is no longer
    /// pending), `Conflict(RaceLost)` (a concurrent activation for the account committed
    /// first), `Unavailable`, `Internal`.
    async fn activate_pending(
        &self,
        id: OrderId,
        activation: Activation,
        audit: Option<AuditEntry>,
    ) -> Result<Order, RepoError>;
}

/// Billing details of users and organisations.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait BillingDirectory: Send + Sync {
    /// The account's name, address, country and tax id as stored now.
    /// Errors: `NotFound` (no such user or organisation), `Unavailable`, `Internal`.
    async fn billing_details(&self, account: AccountRef) -> Result<BuyerDetails, RepoError>;
}

/// The lifecycle sweep's reads and conditional writes. Every write is safe to run
/// twice and from two processes at once.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait LifecycleStore: Send + Sync {
    /// Active orders of plans that cost money, whose period ends at or before
    /// `horizon`, and that have no renewal order yet. Errors: `Unavailable`, `Internal`.
    async fn renewal_candidates(&self, horizon: DateTime<Utc>) -> Result<Vec<Order>, RepoError>;

    /// Stores a pending renewal (`renewal_of` set) unless that order already has one
    /// (then `None`; the database holds "one renewal per order").
    /// Errors: `Unavailable`, `Internal`.
    async fn insert_renewal(&self, order: NewOrder) -> Result<Option<Order>, RepoError>;

    /// One chunk of [`renewal_candidates`](Self::renewal_candidates): those with an id
    /// above `after` (all when `None`), at most `limit` of them, in id order. The sweep
    /// walks the candidates chunk by chunk, so its memory follows the chunk, not the
    /// day's renewals. Errors: `Unavailable`, `Internal`.
    async fn renewal_candidates_after(
        &self,
        horizon: DateTime<Utc>,
        after: Option<OrderId>,
        limit: usize,
    ) -> Result<Vec<Order>, RepoError>;

    /// Stores pending renewals (each with `renewal_of` set) in ONE transaction, each as
    /// [`insert_renewal`](Self::insert_renewal) would: an order that already has a
    /// renewal, or is no longer active, is skipped alone (the database still holds "one
    /// renewal per order"). Returns the ids of the renewals stored, in the order given.
    /// Errors: `Unavailable`, `Internal` (nothing is stored then).
    async fn insert_renewals(&self, orders: Vec<NewOrder>) -> Result<Vec<OrderId>, RepoError>;

    /// Active orders of price-0 plans whose period ended at or before `now`.
    /// Errors: `Unavailable`, `Internal`.
    async fn free_orders_due(&self, now: DateTime<Utc>) -> Result<Vec<Order>, RepoError>;

    /// Moves an active order's period end from `current` to `new`; false when the order
    /// is no longer active with that end (another sweep got there first).
    /// Errors: `Unavailable`, `Internal`.
    async fn extend(
        &self,
        id: OrderId,
        current: DateTime<Utc>,
        new: DateTime<Utc>,
    ) -> Result<bool, RepoError>;

    /// Expires active orders of plans that cost money whose period ended at or before
    /// `now`, except those marked past due (`PastDueStore`: they expire after their
    /// grace time); returns how many. Errors: `Unavailable`, `Internal`.
    async fn expire_active(&self, now: DateTime<Utc>) -> Result<u64, RepoError>;

    /// Expires pending orders created at or before `created_before`, except renewals
    /// whose renewed order is still active (past due, in its grace time: the renewal
    /// can still be paid); returns how many. Errors: `Unavailable`, `Internal`.
    async fn expire_pending(&self, created_before: DateTime<Utc>) -> Result<u64, RepoError>;
}

/// The discount a renewal carries over from the coupon of the order it renews
/// (repeating and forever coupons), decided by the billing rules.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RenewalDiscounts: Send + Sync {
    /// The negative coupon line and the coupon reference for the renewal of
    /// `previous` on `plan` at `price` (one period); `None` when `previous` carries no
    /// coupon or its coupon does not discount that period. Errors: `Unavailable`,
    /// `Internal`.
    async fn renewal_discount(
        &self,
        previous: &Order,
        plan: &Plan,
        price: Money,
    ) -> Result<Option<(OrderItem, OrderCoupon)>, RepoError>;
}

/// Dunning's steps of the lifecycle sweep: an active paid order whose period ended while
/// its renewal is still pending runs on, past due, for a grace time. Every write is
/// conditional, so running it twice or from two processes at once changes nothing more.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PastDueStore: Send + Sync {
    /// Marks past due (at `now`) every active order of a plan that costs money whose
    /// period ended after `ended_after` and at or before `now`, that has a pending
    /// renewal and is not marked yet (one whose grace is already over is left to
    /// `LifecycleStore::expire_active`);
    /// each in one transaction with its `order.past_due` event (stores that keep
    /// events). Returns how many it marked.
    /// Errors: `Unavailable`, `Internal`.
    async fn mark_past_due(
        &self,
        now: DateTime<Utc>,
        ended_after: DateTime<Utc>,
    ) -> Result<u64, RepoError>;

    /// Expires active past-due orders whose period ended at or before `ended_before`
    /// (now less the grace time), as `LifecycleStore::expire_active` does (with
    /// `order.expired` and `account.plan_changed`); returns how many.
    /// Errors: `Unavailable`, `Internal`.
    async fn expire_past_due(&self, ended_before: DateTime<Utc>) -> Result<u64, RepoError>;
}
