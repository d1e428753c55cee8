//! What a change is: who ([`Actor`]), what ([`AuditAction`]), to which object
//! ([`TargetKind`] and id), from which state to which ([`AuditEntry`]).

use std::fmt;
use std::str::FromStr;

use crate::audit::snapshot::AuditState;

use crate::shared::ids::{AccountRef, UserId};

/// Who made a change: a signed-in user, or the operator at the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    /// User.
    User(UserId),
    /// Operator.
    Operator,
}

impl Actor {
    /// User id.
    pub fn user_id(self) -> Option<UserId> {
        match self {
            Actor::User(id) => Some(id),
            Actor::Operator => None,
        }
    }
}

/// The kind of object a change was made to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    /// Plan.
    Plan,
    /// User.
    User,
    /// Organisation.
    Organisation,
    /// Order.
    Order,
    /// Settings.
    Settings,
    /// Coupon.
    Coupon,
}

impl TargetKind {
    /// All.
    pub const ALL: [TargetKind; 6] = [
        TargetKind::Plan,
        TargetKind::User,
        TargetKind::Organisation,
        TargetKind::Order,
        TargetKind::Settings,
        TargetKind::Coupon,
    ];

    /// The text form.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Plan => "plan",
            TargetKind::User => "user",
            TargetKind::Organisation => "organisation",
            TargetKind::Order => "order",
            TargetKind::Settings => "settings",
            TargetKind::Coupon => "coupon",
        }
    }

    /// The target of a change to a user's or an organisation's account.
    pub fn of_account(account: AccountRef) -> TargetKind {
        match account {
            AccountRef::User(_) => TargetKind::User,
            AccountRef::Org(_) => TargetKind::Organisation,
        }
    }
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text that names no target kind.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a target kind; use plan, user, organisation, order, settings or coupon")]
pub struct UnknownTargetKind(pub String);

impl FromStr for TargetKind {
    type Err = UnknownTargetKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TargetKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| UnknownTargetKind(s.to_owned()))
    }
}

/// What was done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditAction {
    /// Plan create.
    PlanCreate,
    /// Plan update.
    PlanUpdate,
    /// Plan delete.
    PlanDelete,
    /// Plan import.
    PlanImport,
    /// User create.
    UserCreate,
    /// User update.
    UserUpdate,
    /// Limits set.
    LimitsSet,
    /// Usage change.
    UsageChange,
    /// Settings update.
    SettingsUpdate,
    /// Plan apply.
    PlanApply,
    /// Plan cancel.
    PlanCancel,
    /// Order mark paid.
    OrderMarkPaid,
    /// Coupon create.
    CouponCreate,
    /// Coupon deactivate.
    CouponDeactivate,
    /// An administrator's account credit grant (positive) or debit (negative).
    CreditAdjust,
    /// A refund of (part of) an order, documented by a credit note.
    OrderRefund,
    /// A coupon redeemed by a new order.
    CouponRedeem,
    /// A coupon redemption given back with its pending order (cancelled or expired).
    CouponRelease,
    /// Account credit used to pay a new order, or moved to it from a plan change's
    /// unused time, or given back with a pending order.
    CreditOrder,
    /// Money received through a payment gateway for an order.
    PaymentReceived,
    /// Money received through a gateway whose amount or currency is not the order's total.
    PaymentMismatch,
    /// A payment attempt the gateway reported as failed.
    PaymentFailed,
}

impl AuditAction {
    /// The text form.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::PlanCreate => "plan.create",
            AuditAction::PlanUpdate => "plan.update",
            AuditAction::PlanDelete => "plan.delete",
            AuditAction::PlanImport => "plan.import",
            AuditAction::UserCreate => "user.create",
            AuditAction::UserUpdate => "user.update",
            AuditAction::LimitsSet => "limits.set",
            AuditAction::UsageChange => "usage.change",
            AuditAction::SettingsUpdate => "settings.update",
            AuditAction::PlanApply => "plan.apply",
            AuditAction::PlanCancel => "plan.cancel",
            AuditAction::OrderMarkPaid => "order.mark_paid",
            AuditAction::CouponCreate => "coupon.create",
            AuditAction::CouponDeactivate => "coupon.deactivate",
            AuditAction::CreditAdjust => "credit.adjust",
            AuditAction::OrderRefund => "order.refund",
            AuditAction::CouponRedeem => "coupon.redeem",
            AuditAction::CouponRelease => "coupon.release",
            AuditAction::CreditOrder => "credit.order",
            AuditAction::PaymentReceived => "payment.received",
            AuditAction::PaymentMismatch => "payment.mismatch",
            AuditAction::PaymentFailed => "payment.failed",
        }
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One change, on its way into the log with the write it describes.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    actor: Actor,
    action: AuditAction,
    target_kind: TargetKind,
    target_id: Option<i64>,
    before: Option<AuditState>,
    after: Option<AuditState>,
}

impl AuditEntry {
    /// A change to the object `target_kind` #`target_id` (`None` until a creation
    /// knows its id, or for the singleton settings).
    pub fn new(
        actor: Actor,
        action: AuditAction,
        target_kind: TargetKind,
        target_id: Option<i64>,
    ) -> AuditEntry {
        AuditEntry {
            actor,
            action,
            target_kind,
            target_id,
            before: None,
            after: None,
        }
    }

    /// A change to a user's or an organisation's account.
    pub fn on_account(actor: Actor, action: AuditAction, account: AccountRef) -> AuditEntry {
        AuditEntry::new(
            actor,
            action,
            TargetKind::of_account(account),
            Some(account.raw_id()),
        )
    }

    /// The target's id, once the write knows it (creations).
    pub fn with_target_id(mut self, id: i64) -> AuditEntry {
        self.target_id = Some(id);
        self
    }

    /// The state before the change, as read inside the writing transaction.
    pub fn with_before(mut self, state: impl Into<AuditState>) -> AuditEntry {
        self.before = Some(state.into());
        self
    }

    /// The state after the change, as written.
    pub fn with_after(mut self, state: impl Into<AuditState>) -> AuditEntry {
        self.after = Some(state.into());
        self
    }

    /// The actor.
    pub fn actor(&self) -> Actor {
        self.actor
    }

    /// The action.
    pub fn action(&self) -> AuditAction {
        self.action
    }

    /// The target kind.
    pub fn target_kind(&self) -> TargetKind {
        self.target_kind
    }

    /// The target id.
    pub fn target_id(&self) -> Option<i64> {
        self.target_id
    }

    /// The before.
    pub fn before(&self) -> Option<&AuditState> {
        self.before.as_ref()
    }

    /// The after.
    pub fn after(&self) -> Option<&AuditState> {
        self.after.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::snapshot::OverridesSnapshot;
    use serde_json::json;
    use std::collections::BTreeMap;

    #[test]
    fn kinds_parse_back_and_unknown_ones_are_refused() {
        for kind in TargetKind::ALL {
            assert_eq!(kind.as_str().parse::<TargetKind>(), Ok(kind));
        }
        assert!("Plan".parse::<TargetKind>().is_err());
        assert!("plans".parse::<TargetKind>().is_err());
    }

    #[test]
    fn an_entry_carries_what_the_write_fills_in() {
        let account = AccountRef::User(UserId::new(7).unwrap());
        let entry = AuditEntry::on_account(
            Actor::User(UserId::new(1).unwrap()),
            AuditAction::LimitsSet,
            account,
        )
        .with_before(OverridesSnapshot {
            overrides: BTreeMap::new(),
        })
        .with_after(OverridesSnapshot {
            overrides: BTreeMap::from([("servers".to_owned(), 3)]),
        });
        assert_eq!(entry.target_kind(), TargetKind::User);
        assert_eq!(entry.target_id(), Some(7));
        assert_eq!(entry.actor().user_id().map(UserId::get), Some(1));
        assert_eq!(
            entry
                .after()
                .map(|state| serde_json::to_value(state).unwrap()),
            Some(json!({"overrides": {"servers": 3}}))
        );
        assert_eq!(entry.action().as_str(), "limits.set");
    }
}
