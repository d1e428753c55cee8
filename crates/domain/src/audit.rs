//! The audit log: who changed what, when, from which state to which. Services build an
//! [`AuditEntry`] for each administrative write and hand it to the repository method
//! doing the write, which stores it IN THE SAME TRANSACTION (filling in the states it
//! reads and writes there): a write and its audit row commit or roll back together.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::ids::{AccountRef, UserId};
use crate::orders::Order;
use crate::pagination::{Page, PageRequest};
use crate::plan::Plan;
use crate::ports::RepoError;
use crate::user::User;

/// Who made a change: a signed-in user, or the operator at the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    User(UserId),
    Operator,
}

impl Actor {
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
    Plan,
    User,
    Organisation,
    Order,
    Settings,
}

impl TargetKind {
    pub const ALL: [TargetKind; 5] = [
        TargetKind::Plan,
        TargetKind::User,
        TargetKind::Organisation,
        TargetKind::Order,
        TargetKind::Settings,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Plan => "plan",
            TargetKind::User => "user",
            TargetKind::Organisation => "organisation",
            TargetKind::Order => "order",
            TargetKind::Settings => "settings",
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
#[error("`{0}` is not a target kind; use plan, user, organisation, order or settings")]
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
    PlanCreate,
    PlanUpdate,
    PlanDelete,
    PlanImport,
    UserCreate,
    UserUpdate,
    LimitsSet,
    UsageChange,
    SettingsUpdate,
    PlanApply,
    PlanCancel,
    OrderMarkPaid,
}

impl AuditAction {
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
    before: Option<Value>,
    after: Option<Value>,
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
    pub fn with_before(mut self, state: Value) -> AuditEntry {
        self.before = Some(state);
        self
    }

    /// The state after the change, as written.
    pub fn with_after(mut self, state: Value) -> AuditEntry {
        self.after = Some(state);
        self
    }

    pub fn actor(&self) -> Actor {
        self.actor
    }

    pub fn action(&self) -> AuditAction {
        self.action
    }

    pub fn target_kind(&self) -> TargetKind {
        self.target_kind
    }

    pub fn target_id(&self) -> Option<i64> {
        self.target_id
    }

    pub fn before(&self) -> Option<&Value> {
        self.before.as_ref()
    }

    pub fn after(&self) -> Option<&Value> {
        self.after.as_ref()
    }
}

/// A stored audit row.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditRecord {
    pub id: i64,
    pub actor: Option<UserId>,
    /// As stored; actions added later read back unchanged.
    pub action: String,
    pub target_kind: String,
    pub target_id: Option<i64>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub at: DateTime<Utc>,
}

/// Which rows to list; `None` matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub target_kind: Option<TargetKind>,
    pub target_id: Option<i64>,
    pub actor: Option<UserId>,
}

/// Reading the log. Writing happens inside the other repositories' transactions.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AuditRepository: Send + Sync {
    /// One page of the rows matching `filter`, newest first, with the true total.
    /// Errors: `Unavailable`, `Internal`.
    async fn page(
        &self,
        filter: AuditFilter,
        request: PageRequest,
    ) -> Result<Page<AuditRecord>, RepoError>;
}

/// The log as administrators read it.
#[derive(Clone)]
pub struct AuditService {
    repo: std::sync::Arc<dyn AuditRepository>,
}

impl AuditService {
    pub fn new(repo: std::sync::Arc<dyn AuditRepository>) -> AuditService {
        AuditService { repo }
    }

    pub async fn list(
        &self,
        filter: AuditFilter,
        request: PageRequest,
    ) -> Result<Page<AuditRecord>, RepoError> {
        self.repo.page(filter, request).await
    }
}

/// The JSON an object is recorded as in `before` and `after`: what an administrator
/// would want to compare, never a secret (no password or token hashes).
pub trait AuditState {
    fn audit_state(&self) -> Value;
}

impl AuditState for Plan {
    fn audit_state(&self) -> Value {
        let limits: Map<String, Value> = self
            .limits()
            .iter()
            .map(|(resource, limit)| (resource.key().to_owned(), json!(limit.value())))
            .collect();
        let permissions = |p: crate::limits::Permissions| json!({"create": p.create, "update": p.update, "delete": p.delete});
        json!({
            "id": self.id().get(),
            "name": self.name(),
            "type": self.plan_type().as_str(),
            "description": self.description(),
            "price": self.price().to_fixed_string(),
            "priceHourly": self.price_hourly().to_fixed_string(),
            "priceYearly": self.price_yearly().to_fixed_string(),
            "currency": self.currency().code(),
            "limits": limits,
            "serverPermissions": permissions(self.server_permissions()),
            "sitePermissions": permissions(self.site_permissions()),
            "features": self.features(),
            "hidden": self.hidden(),
            "isDefault": self.is_default(),
            "stripePlanId": self.stripe_plan_id(),
        })
    }
}

impl AuditState for User {
    fn audit_state(&self) -> Value {
        let billing = self.billing();
        json!({
            "id": self.id().get(),
            "email": self.email().as_str(),
            "name": self.name(),
            "role": self.role().as_str(),
            "company": billing.company(),
            "addressLine1": billing.address_line1(),
            "addressLine2": billing.address_line2(),
            "city": billing.city(),
            "postcode": billing.postcode(),
            "country": billing.country().map(|c| c.code()),
            "taxId": billing.tax_id(),
        })
    }
}

impl AuditState for Order {
    fn audit_state(&self) -> Value {
        let charges = self.charges();
        json!({
            "id": self.id().get(),
            "status": self.status().as_str(),
            "planId": self.plan_id().get(),
            "account": {"kind": self.account().kind(), "id": self.account().raw_id()},
            "description": self.description(),
            "subtotal": charges.subtotal().to_fixed_string(),
            "taxRate": charges.tax_rate().to_percent_text(),
            "taxAmount": charges.tax().to_fixed_string(),
            "amount": charges.total().to_fixed_string(),
            "currency": charges.currency().code(),
            "invoiceNumber": self.invoice_number(),
            "notes": self.notes(),
            "paymentReference": self.payment_reference(),
            "expiresAt": self.expires_at().map(|at| at.to_rfc3339()),
            "cancelledAt": self.cancelled_at().map(|at| at.to_rfc3339()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{PlanDraft, PlanSpec};
    use crate::PlanId;

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
        .with_before(json!({"servers": null}))
        .with_after(json!({"servers": 3}));
        assert_eq!(entry.target_kind(), TargetKind::User);
        assert_eq!(entry.target_id(), Some(7));
        assert_eq!(entry.actor().user_id().map(UserId::get), Some(1));
        assert_eq!(entry.after(), Some(&json!({"servers": 3})));
        assert_eq!(entry.action().as_str(), "limits.set");
    }

    #[test]
    fn a_plan_is_recorded_with_exact_prices_and_every_limit() {
        let spec = PlanSpec::new(PlanDraft {
            name: "Pro".into(),
            price: "9.99".into(),
            ..PlanDraft::default()
        })
        .unwrap();
        let plan = Plan::new(PlanId::new(3).unwrap(), spec, Utc::now());
        let state = plan.audit_state();
        assert_eq!(state["price"], "9.99");
        assert_eq!(state["name"], "Pro");
        assert_eq!(state["limits"].as_object().unwrap().len(), 11);
    }
}
