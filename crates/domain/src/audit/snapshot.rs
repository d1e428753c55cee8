//! What the log records in `before` and `after`: one serde struct per kind of object,
//! holding what an administrator would want to compare and never a secret (no
//! password or token hashes). The structs serialise to exactly the JSON the log stores
//! and `GET /api/admin/audit` shows; each aggregate builds its own snapshot (for
//! example `Plan::audit_state`), so this module depends on no aggregate.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

/// A state recorded in an entry's `before` or `after`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AuditState {
    /// A plan.
    Plan(PlanSnapshot),
    /// A user account.
    User(UserSnapshot),
    /// An order.
    Order(OrderSnapshot),
    /// An account's limit overrides.
    Overrides(OverridesSnapshot),
    /// One resource's usage before a change.
    UsageLevel(UsageLevelSnapshot),
    /// One resource's usage after a change, with the change.
    UsageChange(UsageChangeSnapshot),
    /// The service-wide settings.
    Settings(SettingsSnapshot),
    /// A coupon.
    Coupon(CouponSnapshot),
    /// An account's credit balance in one currency, before a change.
    CreditBalance(CreditBalanceSnapshot),
    /// An account credit entry written, with the balance after it.
    CreditEntry(CreditEntrySnapshot),
    /// A credit note issued.
    CreditNote(CreditNoteSnapshot),
    /// A coupon redeemed by an order, or given back with it.
    CouponRedemption(CouponRedemptionSnapshot),
    /// A payment recorded for an order (gateway or manual).
    Payment(PaymentSnapshot),
    /// Nothing there (an activation that replaced no order): stored as JSON `null`.
    Absent,
}

impl AuditState {
    /// The JSON text the log stores.
    /// Errors: only if a value cannot be represented in JSON, which none of these can.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}

/// A plan as recorded: exact decimal prices, every limit by resource key (0 means
/// unlimited), both permission sets.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanSnapshot {
    /// The plan's id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// `server`, `site`, ... (the plan type's text).
    #[serde(rename = "type")]
    pub plan_type: String,
    /// Its description.
    pub description: Option<String>,
    /// Monthly price, exact decimal text.
    pub price: String,
    /// Hourly price, exact decimal text.
    pub price_hourly: String,
    /// Yearly price, exact decimal text.
    pub price_yearly: String,
    /// ISO 4217 code.
    pub currency: String,
    /// Resource key → limit.
    pub limits: BTreeMap<String, u64>,
    /// What servers may do.
    pub server_permissions: PermissionsSnapshot,
    /// What sites may do.
    pub site_permissions: PermissionsSnapshot,
    /// The plan's feature flags, as stored.
    pub features: Map<String, Value>,
    /// Hidden from the public catalogue.
    pub hidden: bool,
    /// The default plan.
    pub is_default: bool,
    /// The linked Stripe plan, if any.
    pub stripe_plan_id: Option<String>,
}

/// Create, update and delete permissions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PermissionsSnapshot {
    /// May create.
    pub create: bool,
    /// May update.
    pub update: bool,
    /// May delete.
    pub delete: bool,
}

/// A user as recorded, with the billing details flat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSnapshot {
    /// The user's id.
    pub id: i64,
    /// Their email, lower case.
    pub email: String,
    /// Their name.
    pub name: String,
    /// `user` or `admin`.
    pub role: String,
    /// Billing company.
    pub company: Option<String>,
    /// First street line.
    pub address_line1: Option<String>,
    /// Second street line.
    pub address_line2: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Postcode.
    pub postcode: Option<String>,
    /// ISO 3166-1 alpha-2 code.
    pub country: Option<String>,
    /// Tax id.
    pub tax_id: Option<String>,
    /// Present (and true) only when the write set a password; never what it is.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub password_changed: bool,
}

impl UserSnapshot {
    /// The same snapshot, saying whether the write set a password.
    pub fn with_password_changed(mut self, changed: bool) -> UserSnapshot {
        self.password_changed = changed;
        self
    }
}

/// An order as recorded: charges as exact decimal text, times as RFC 3339.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderSnapshot {
    /// The order's id.
    pub id: i64,
    /// Its status text.
    pub status: String,
    /// The plan ordered.
    pub plan_id: i64,
    /// Whose order it is.
    pub account: AccountSnapshot,
    /// Its description.
    pub description: String,
    /// Total before tax.
    pub subtotal: String,
    /// Tax rate in percent, as text.
    pub tax_rate: String,
    /// Tax.
    pub tax_amount: String,
    /// Total with tax.
    pub amount: String,
    /// ISO 4217 code.
    pub currency: String,
    /// The invoice number, once the order has one.
    pub invoice_number: Option<String>,
    /// Internal notes.
    pub notes: Option<String>,
    /// The payment's reference.
    pub payment_reference: Option<String>,
    /// When the period ends.
    pub expires_at: Option<String>,
    /// When it was cancelled.
    pub cancelled_at: Option<String>,
}

impl OrderSnapshot {
    /// The JSON name of [`invoice_number`](OrderSnapshot::invoice_number). An adapter
    /// that numbers an invoice inside the statement recording the entry sets this one
    /// field of the stored snapshot there.
    pub const INVOICE_NUMBER_FIELD: &'static str = "invoiceNumber";
}

/// A user's or an organisation's account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccountSnapshot {
    /// `user` or `org`.
    pub kind: String,
    /// The account's id.
    pub id: i64,
}

/// An account's overrides: resource key → limit (0 means unlimited).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OverridesSnapshot {
    /// The overrides in force.
    pub overrides: BTreeMap<String, u64>,
}

/// One resource's usage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UsageLevelSnapshot {
    /// The resource key.
    pub resource: String,
    /// The amount in use.
    pub used: u64,
}

/// One resource's usage after a change, and the change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageChangeSnapshot {
    /// The resource key.
    pub resource: String,
    /// The amount in use after the change.
    pub used: u64,
    /// The change applied.
    pub delta: i64,
    /// The request's idempotency key, if it had one.
    pub idempotency_key: Option<String>,
}

/// The service-wide settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SettingsSnapshot {
    /// The billing switch.
    pub billing_enabled: bool,
}

/// A coupon: the discount as exact text, its limits and its usage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CouponSnapshot {
    /// The upper-cased code.
    pub code: String,
    /// The percentage off (`20.0`), or `None` for an amount off.
    pub percent_off: Option<String>,
    /// The amount off as exact decimal text, or `None` for a percentage.
    pub amount_off: Option<String>,
    /// The amount's currency.
    pub currency: Option<String>,
    /// `once`, `repeating` or `forever`.
    pub duration: String,
    /// Periods of a repeating coupon.
    pub duration_in_cycles: Option<u32>,
    /// The redemption limit.
    pub max_redemptions: Option<u32>,
    /// Whether an account may redeem it once only.
    pub once_per_account: bool,
    /// The plans it is for (empty: every plan).
    pub plan_ids: Vec<i64>,
    /// Whether it can be redeemed.
    pub active: bool,
    /// Standing redemptions.
    pub times_redeemed: u32,
}

/// An account's credit balance in one currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CreditBalanceSnapshot {
    /// The currency code.
    pub currency: String,
    /// The balance as exact decimal text.
    pub balance: String,
}

/// A credit entry written, and the balance after it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreditEntrySnapshot {
    /// The entry's id.
    pub entry_id: i64,
    /// The signed amount as exact decimal text.
    pub amount: String,
    /// The currency code.
    pub currency: String,
    /// The reason shown to the account.
    pub reason: String,
    /// The balance after the entry, as exact decimal text.
    pub balance: String,
}

/// A credit note as issued.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreditNoteSnapshot {
    /// The credit note's id.
    pub credit_note_id: i64,
    /// Its number.
    pub number: String,
    /// The order refunded.
    pub order_id: i64,
    /// The amount as exact decimal text.
    pub amount: String,
    /// The currency code.
    pub currency: String,
    /// The reason printed on it.
    pub reason: String,
    /// `original` or `credit`.
    pub to: String,
    /// `stripe`, `manual` or `credit`.
    pub provider: String,
    /// The gateway's refund id, if any.
    pub reference: Option<String>,
    /// Whether the order was cancelled with it.
    pub cancelled_order: bool,
}

/// A coupon's redemption by an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CouponRedemptionSnapshot {
    /// The upper-cased code.
    pub code: String,
    /// The order that redeemed it.
    pub order_id: i64,
    /// The discount on that order, as exact decimal text (empty when given back).
    pub discount: String,
    /// The discount's currency.
    pub currency: String,
    /// Whether the redemption still counts (false once given back).
    pub standing: bool,
}

/// A payment as recorded: money received, refused, or received but not matching the
/// order it was for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentSnapshot {
    /// The payment's id.
    pub payment_id: i64,
    /// The order it was for.
    pub order_id: i64,
    /// `stripe` or `manual`.
    pub provider: String,
    /// The gateway's reference (payment intent, session) or the administrator's.
    pub reference: Option<String>,
    /// Exact decimal text.
    pub amount: String,
    /// The currency code.
    pub currency: String,
    /// `succeeded`, `failed`, `mismatch` or `refunded`.
    pub status: String,
    /// The inbound gateway event that recorded it.
    pub event_id: Option<String>,
}

macro_rules! into_state {
    ($($snapshot:ident => $variant:ident),* $(,)?) => {
        $(
            impl From<$snapshot> for AuditState {
                fn from(snapshot: $snapshot) -> AuditState {
                    AuditState::$variant(snapshot)
                }
            }
        )*
    };
}

into_state!(
    PlanSnapshot => Plan,
    UserSnapshot => User,
    OrderSnapshot => Order,
    OverridesSnapshot => Overrides,
    UsageLevelSnapshot => UsageLevel,
    UsageChangeSnapshot => UsageChange,
    SettingsSnapshot => Settings,
    CouponSnapshot => Coupon,
    CreditBalanceSnapshot => CreditBalance,
    CreditEntrySnapshot => CreditEntry,
    CreditNoteSnapshot => CreditNote,
    CouponRedemptionSnapshot => CouponRedemption,
    PaymentSnapshot => Payment,
);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn states_serialise_to_the_stored_shapes() {
        let settings = AuditState::from(SettingsSnapshot {
            billing_enabled: false,
        });
        assert_eq!(settings.to_json().unwrap(), r#"{"billingEnabled":false}"#);
        assert_eq!(AuditState::Absent.to_json().unwrap(), "null");
        let usage = AuditState::from(UsageChangeSnapshot {
            resource: "servers".into(),
            used: 3,
            delta: 1,
            idempotency_key: None,
        });
        assert_eq!(
            serde_json::to_value(&usage).unwrap(),
            json!({"resource": "servers", "used": 3, "delta": 1, "idempotencyKey": null})
        );
    }

    #[test]
    fn a_password_change_is_said_only_when_it_happened() {
        let user = UserSnapshot {
            id: 1,
            email: "a@example.com".into(),
            name: "A".into(),
            role: "user".into(),
            company: None,
            address_line1: None,
            address_line2: None,
            city: None,
            postcode: None,
            country: None,
            tax_id: None,
            password_changed: false,
        };
        let plain = serde_json::to_value(&user).unwrap();
        assert!(plain.get("passwordChanged").is_none());
        assert_eq!(plain["addressLine1"], Value::Null);
        let changed = serde_json::to_value(user.with_password_changed(true)).unwrap();
        assert_eq!(changed["passwordChanged"], true);
    }

    #[test]
    fn the_invoice_number_field_is_named_as_serialised() {
        let order = OrderSnapshot {
            id: 1,
            status: "active".into(),
            plan_id: 2,
            account: AccountSnapshot {
                kind: "user".into(),
                id: 3,
            },
            description: "Pro (monthly)".into(),
            subtotal: "9.99".into(),
            tax_rate: "0".into(),
            tax_amount: "0.00".into(),
            amount: "9.99".into(),
            currency: "EUR".into(),
            invoice_number: Some("INV-1".into()),
            notes: None,
            payment_reference: None,
            expires_at: None,
            cancelled_at: None,
        };
        let json = serde_json::to_value(&order).unwrap();
        assert_eq!(json[OrderSnapshot::INVOICE_NUMBER_FIELD], "INV-1");
    }
}
