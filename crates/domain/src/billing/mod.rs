//! Billing rules for plan changes that are fair: billing cycles, the upgrade/downgrade
//! decision, proration by the second, coupons, account credit, and the composition of
//! an order's price from them. Everything here is a pure function of its inputs (no
//! clock, no storage); [`ports`] names what persistence must provide.
//!
//! The order of a price is fixed: plan price, then the proration credit, then the
//! coupon; tax on what is left (never negative); then account credit, after tax, up to
//! the order's total. See `docs/BILLING.md` for the rules with worked examples.

pub mod change;
pub mod coupon;
pub mod credit;
pub mod cycle;
pub mod ordering;
pub mod ports;
pub mod pricing;
pub mod proration;
pub mod renewals;
pub mod service;
#[cfg(test)]
mod tests;

pub use change::{
    decide_plan_change, ChangeKind, PlanChange, PlanChangeError, ScheduledChange, When, WhenError,
};
pub use coupon::{
    Coupon, CouponCode, CouponDiscount, CouponDraft, CouponDuration, CouponRecord,
    CouponRedemption, CouponRejection, CouponSpec, CouponValidationError, PercentOff,
    RedemptionContext, RejectionReason,
};
pub use credit::{
    apply_credit, balance_in, balances, check_balance_change, credit_to_give_back,
    parse_signed_amount, CreditEntry, CreditEntryId, CreditError, CreditReason, NewCreditEntry,
};
pub use cycle::{BillingCycle, CycleError, Period};
pub use ordering::{OrderPreview, PlanOrderOutcome, PlanOrderRequest, PlanOrderService};
pub use ports::{CouponRepository, CreditLedger, OrderPlacement, PlacementError, PlacementExtras};
pub use pricing::{price_order, Bill, BillLine, LineKind, PricingError, PricingInput, UnusedTime};
pub use proration::{unused_time_credit, ProrationCredit, ProrationError};
pub use renewals::CouponRenewals;
pub use service::{AccountCredit, CouponError, CouponService, CreditService, CreditServiceError};
