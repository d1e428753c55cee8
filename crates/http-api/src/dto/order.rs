//! Order JSON in the panel dialect (CONTRACT.md "Order JSON"), the admin variant with
//! internal notes and payment reference, and the order endpoints' request bodies.

use serde::{Deserialize, Serialize};
use tariff_domain::orders::{CurrentPlan, Order, OrderItem, ScheduledChange};
use tariff_domain::{AccountRef, Limits, Money, Resource};
use utoipa::ToSchema;

use super::plan::PlanJson;
use super::{panel_timestamp, DecimalInput, DecimalNumber};
use crate::profile::Profile;

/// One line of an order.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderItemJson {
    pub description: String,
    pub quantity: u32,
    pub unit_price: DecimalNumber,
    pub amount: DecimalNumber,
}

impl From<&OrderItem> for OrderItemJson {
    fn from(item: &OrderItem) -> Self {
        OrderItemJson {
            description: item.description().to_owned(),
            quantity: item.quantity(),
            unit_price: DecimalNumber::money(item.unit_price()),
            amount: DecimalNumber::money(item.amount()),
        }
    }
}

/// An order as its customer sees it. Internal notes are deliberately absent.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderJson {
    pub id: i64,
    /// `pending`, `active`, `cancelled` or `expired`.
    pub status: &'static str,
    /// The total, tax included.
    pub amount: DecimalNumber,
    pub subtotal: DecimalNumber,
    /// Percent, e.g. `19.0`.
    pub tax_rate: DecimalNumber,
    pub tax_amount: DecimalNumber,
    /// ISO 4217, upper case.
    pub currency: &'static str,
    pub description: String,
    pub plan_id: i64,
    /// The user the order belongs to, or the member who placed it for an organisation.
    pub user_id: Option<i64>,
    pub org_id: Option<i64>,
    pub items: Vec<OrderItemJson>,
    /// Creation time, ISO 8601 UTC.
    pub date: String,
    /// The same instant as `date` (the name the EcliPanel frontend reads).
    pub created_at: String,
    /// End of the paid period; null until the order is active, and for a plan applied
    /// for a lifetime.
    pub expires_at: Option<String>,
    /// Given when the order first becomes active; null before.
    pub invoice_number: Option<String>,
    /// `monthly` or `yearly`: how long one paid period runs, and which price pays it.
    pub cycle: &'static str,
    /// Account credit paying the order after tax (also an `Account credit` line);
    /// `amount` is what is left to pay. Absent when no credit was used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credit_applied: Option<DecimalNumber>,
    /// A plan change that takes effect when this order's period ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_change: Option<ScheduledChangeJson>,
    /// When its payment was recorded (gateway or mark-paid); null while unpaid and for
    /// orders activated without payment.
    pub paid_at: Option<String>,
    /// True while the order runs on past its period end because its renewal is unpaid
    /// (the grace time, `billing.grace_days`); false otherwise.
    pub past_due: bool,
    /// The customer's own note, as sent with `notes` on `POST /api/orders` (trimmed);
    /// absent when there is none. Never the internal notes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_note: Option<String>,
}

/// `{"planId","cycle","at"}`: the plan and cycle the renewal is made for, and when.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledChangeJson {
    pub plan_id: i64,
    pub cycle: &'static str,
    pub at: String,
}

impl From<&ScheduledChange> for ScheduledChangeJson {
    fn from(change: &ScheduledChange) -> Self {
        ScheduledChangeJson {
            plan_id: change.plan_id.get(),
            cycle: change.cycle.as_str(),
            at: panel_timestamp(change.at),
        }
    }
}

/// The order's lines as the customer sees them: the taxable lines (plan, unused time,
/// coupon), then account credit when some pays the order.
fn order_lines(order: &Order) -> Vec<OrderItemJson> {
    let mut lines: Vec<OrderItemJson> = order
        .charges()
        .items()
        .iter()
        .map(OrderItemJson::from)
        .collect();
    if let Some(credit) = order.billing().credit_applied.filter(|c| !c.is_zero()) {
        let negative = Money::from_minor(-credit.minor(), credit.currency());
        lines.push(OrderItemJson {
            description: "Account credit".to_owned(),
            quantity: 1,
            unit_price: DecimalNumber::money(negative),
            amount: DecimalNumber::money(negative),
        });
    }
    lines
}

impl From<&Order> for OrderJson {
    fn from(order: &Order) -> Self {
        let charges = order.charges();
        OrderJson {
            id: order.id().get(),
            status: order.status().as_str(),
            amount: DecimalNumber::money(order.amount_due()),
            subtotal: DecimalNumber::money(charges.subtotal()),
            tax_rate: DecimalNumber::percent(charges.tax_rate()),
            tax_amount: DecimalNumber::money(charges.tax()),
            currency: charges.currency().code(),
            description: order.description().to_owned(),
            plan_id: order.plan_id().get(),
            user_id: order.placed_by().map(|u| u.get()),
            org_id: match order.account() {
                AccountRef::Org(org) => Some(org.get()),
                AccountRef::User(_) => None,
            },
            items: order_lines(order),
            date: panel_timestamp(order.created_at()),
            created_at: panel_timestamp(order.created_at()),
            expires_at: order
                .expires_at()
                .filter(|_| !order.is_lifetime())
                .map(panel_timestamp),
            invoice_number: order.invoice_number().map(str::to_owned),
            cycle: order.billing().cycle.as_str(),
            credit_applied: order
                .billing()
                .credit_applied
                .filter(|c| !c.is_zero())
                .map(DecimalNumber::money),
            scheduled_change: order
                .billing()
                .scheduled_change
                .as_ref()
                .map(ScheduledChangeJson::from),
            paid_at: order.paid_at().map(panel_timestamp),
            past_due: order.is_past_due(),
            customer_note: order.customer_note().map(|note| note.as_str().to_owned()),
        }
    }
}

/// An order as administrators see it: the customer's view plus internal notes and the
/// payment reference. Only admin endpoints answer with this.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminOrderJson {
    #[serde(flatten)]
    pub order: OrderJson,
    /// Internal notes (never shown to customers).
    pub notes: Option<String>,
    pub payment_reference: Option<String>,
}

impl From<&Order> for AdminOrderJson {
    fn from(order: &Order) -> Self {
        AdminOrderJson {
            order: OrderJson::from(order),
            notes: order.notes().map(str::to_owned),
            payment_reference: order.payment_reference().map(str::to_owned),
        }
    }
}

/// An order with its plan embedded (`GET /api/orders/:id`).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct OrderWithPlanJson {
    #[serde(flatten)]
    pub order: OrderJson,
    /// The ordered plan.
    pub plan: PlanJson,
}

/// When a customer's plan change takes effect (`activateMode`). Accepted and checked;
/// the plan-change rules decide what it does.
#[derive(Clone, Copy, Debug, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ActivateMode {
    Now,
    Renewal,
}

/// `POST /api/orders`. The EcliPanel frontend also sends `amount`, `description` and
/// `items` (any JSON; ignored: the server prices the order), `notes` and `activateMode`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlaceOrderInput {
    pub plan_id: i64,
    /// Order for this organisation (the caller must be its admin or owner).
    #[serde(default)]
    pub org_id: Option<i64>,
    /// Ignored: the server prices the order.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub amount: Option<serde_json::Value>,
    /// Ignored: the server describes the order.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub description: Option<serde_json::Value>,
    /// Ignored: the server prices the order (the panel sends a JSON-encoded string).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub items: Option<serde_json::Value>,
    /// The customer's note about the order: at most 2000 characters, no control
    /// characters but line breaks and tabs; trimmed, blank means none. Answered as
    /// `customerNote`, never mixed into the internal notes.
    #[serde(default)]
    pub notes: Option<String>,
    /// `now` or `renewal`: the same as `when` `now` or `period_end`.
    #[serde(default)]
    pub activate_mode: Option<ActivateMode>,
    /// `monthly` (the default) or `yearly`.
    #[serde(default)]
    pub cycle: Option<String>,
    /// A coupon code, in any case.
    #[serde(default)]
    pub coupon_code: Option<String>,
    /// For a plan change: `now` or `period_end`. Default: `now` for an upgrade,
    /// `period_end` for a downgrade.
    #[serde(default)]
    pub when: Option<String>,
}

impl ActivateMode {
    /// The contract's text.
    pub fn as_str(self) -> &'static str {
        match self {
            ActivateMode::Now => "now",
            ActivateMode::Renewal => "renewal",
        }
    }
}

/// `billingType` of an apply-plan.
#[derive(Clone, Copy, Debug, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BillingType {
    /// One calendar month (or until `expiresAt`): the default.
    Monthly,
    /// No expiry.
    Lifetime,
}

/// `POST /api/admin/users/:id/apply-plan`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplyPlanInput {
    pub plan_id: i64,
    /// Internal notes about why the plan was applied.
    #[serde(default)]
    pub notes: Option<String>,
    /// End of the period: RFC 3339, or a bare `YYYY-MM-DD` meaning the end of that day
    /// (23:59:59 UTC); default one calendar month from now.
    #[serde(default, deserialize_with = "expiry")]
    #[schema(value_type = Option<String>, example = "2027-01-31")]
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Apply the plan to this organisation (the user is recorded as the order's user).
    #[serde(default)]
    pub org_id: Option<i64>,
    /// The administrator's tax rate for this order, in percent (overrides the tax rules;
    /// recorded in the audit log with the order).
    #[serde(default)]
    pub tax_rate: Option<DecimalInput>,
    /// The administrator's tax figure; must agree with `taxRate` on the plan's price to
    /// within one minor unit.
    #[serde(default)]
    pub tax_amount: Option<DecimalInput>,
    #[serde(default)]
    pub billing_type: Option<BillingType>,
}

/// `expiresAt`: RFC 3339, or `YYYY-MM-DD` for the last second of that day in UTC.
fn expiry<'de, D>(deserializer: D) -> Result<Option<chrono::DateTime<chrono::Utc>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::de::Error as _;
    let Some(text) = Option::<String>::deserialize(deserializer)? else {
        return Ok(None);
    };
    let text = text.trim();
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(Some(at.to_utc()));
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|_| text.len() == 10)
        .and_then(|day| day.and_hms_opt(23, 59, 59))
        .map(|at| Some(at.and_utc()))
        .ok_or_else(|| D::Error::custom("expected an RFC 3339 time or a YYYY-MM-DD date"))
}

/// `POST /api/admin/orders/:id/mark-paid` (the body is optional).
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MarkPaidInput {
    /// The payment's reference (bank transfer id, processor charge id...).
    #[serde(default)]
    pub reference: Option<String>,
}

/// `{"success":true,"order":{...}}`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct OrderOutcomeJson {
    pub success: bool,
    pub order: AdminOrderJson,
}

/// `{"success":true}`, or `{"success":false,"error":"no_active_plan","message":...}`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CancelPlanJson {
    pub success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Limits keyed by the contract's resource keys; 0 means unlimited (`null` in the
/// eclipanel profile).
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LimitsJson {
    pub memory: Option<u64>,
    pub disk: Option<u64>,
    pub cpu: Option<u64>,
    pub servers: Option<u64>,
    pub sites: Option<u64>,
    pub databases: Option<u64>,
    pub backups: Option<u64>,
    pub port_count: Option<u64>,
    pub tunnel_port_count: Option<u64>,
    pub email_daily_limit: Option<u64>,
    pub email_queue_limit: Option<u64>,
}

impl LimitsJson {
    /// One value per resource key, from `value` (the seed profile's numbers).
    pub fn from_values(value: impl Fn(Resource) -> u64) -> LimitsJson {
        LimitsJson::from_values_in(Profile::Seed, value)
    }

    /// One value per resource key, written as `profile` writes unlimited.
    pub fn from_values_in(profile: Profile, value: impl Fn(Resource) -> u64) -> LimitsJson {
        let value = |r| profile.limit(value(r));
        LimitsJson {
            memory: value(Resource::Memory),
            disk: value(Resource::Disk),
            cpu: value(Resource::Cpu),
            servers: value(Resource::Servers),
            sites: value(Resource::Sites),
            databases: value(Resource::Databases),
            backups: value(Resource::Backups),
            port_count: value(Resource::PortCount),
            tunnel_port_count: value(Resource::TunnelPortCount),
            email_daily_limit: value(Resource::EmailDailyLimit),
            email_queue_limit: value(Resource::EmailQueueLimit),
        }
    }
}

impl From<&Limits> for LimitsJson {
    fn from(limits: &Limits) -> Self {
        LimitsJson::from_values(|r| limits.get(r).value())
    }
}

/// One active plan order with its plan (`current-plan`'s `plans`).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PlanOrderJson {
    pub plan: PlanJson,
    pub order: AdminOrderJson,
}

/// `GET /api/admin/users/:id/current-plan`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CurrentPlanJson {
    /// The active order's plan, else the default plan; null when neither exists.
    pub plan: Option<PlanJson>,
    /// The active order, null when the account runs on the default plan.
    pub order: Option<AdminOrderJson>,
    pub limits: LimitsJson,
    /// Every active plan order with its plan, newest first (an account holds at most one).
    pub plans: Vec<PlanOrderJson>,
    /// Every order of the user's own account, newest first.
    pub orders: Vec<AdminOrderJson>,
}

impl CurrentPlanJson {
    /// The answer in `profile`, with the account's `orders`.
    pub fn render(current: &CurrentPlan, orders: &[Order], profile: Profile) -> CurrentPlanJson {
        let plans = match (&current.plan, &current.order) {
            (Some(plan), Some(order)) => vec![PlanOrderJson {
                plan: PlanJson::render(plan, profile),
                order: AdminOrderJson::from(order),
            }],
            _ => Vec::new(),
        };
        CurrentPlanJson {
            plan: current.plan.as_ref().map(|p| PlanJson::render(p, profile)),
            order: current.order.as_ref().map(AdminOrderJson::from),
            limits: LimitsJson::from_values_in(profile, |r| current.limits.get(r).value()),
            plans,
            orders: orders.iter().map(AdminOrderJson::from).collect(),
        }
    }
}

/// `GET /api/admin/orders` in the eclipanel profile.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AdminOrderPageJson {
    pub orders: Vec<AdminOrderJson>,
    pub total: u64,
    pub page: u32,
    pub per: u32,
}

/// `POST /api/orders` in the eclipanel profile.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlacedOrderJson {
    pub success: bool,
    pub order: OrderJson,
    /// True when the order is active at once (a price-0 plan).
    pub auto_activated: bool,
}

/// Filters of `GET /api/admin/orders` (paging is read by `PageQuery`), as text so that
/// an empty value means "no filter" and a bad one gets a clear 400.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct AdminOrdersQuery {
    pub status: Option<String>,
    /// Text in the description or invoice number.
    pub q: Option<String>,
    /// The page (eclipanel profile; the seed profile reads it through `PageQuery`).
    pub page: Option<String>,
    /// The page size (eclipanel profile).
    pub per: Option<String>,
    #[serde(rename = "userId", alias = "user_id")]
    pub user_id: Option<String>,
    #[serde(rename = "orgId", alias = "org_id")]
    pub org_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use tariff_domain::orders::{
        Activation, BuyerDetails, InvoiceNumberFormat, InvoiceSnapshot, IssuedInvoice, NewOrder,
        OrderRecord, OrderStatus, SellerDetails,
    };
    use tariff_domain::{OrderId, Plan, PlanDraft, PlanId, PlanSpec, TaxRate, UserId};

    fn sample() -> Order {
        let created = chrono::Utc
            .with_ymd_and_hms(2026, 11, 21, 10, 0, 0)
            .unwrap();
        let spec = PlanSpec::new(PlanDraft {
            name: "Pro".into(),
            price: "9.99".into(),
            ..PlanDraft::default()
        })
        .unwrap();
        let plan = Plan::new(PlanId::new(3).unwrap(), spec, created);
        let user = UserId::new(55).unwrap();
        let new = NewOrder::for_plan(
            &plan,
            AccountRef::User(user),
            None,
            TaxRate::parse_percent("19").unwrap(),
            created,
        )
        .unwrap()
        .with_notes(Some("comped".into()));
        let terms = Activation {
            activated_at: created,
            expires_at: chrono::Utc
                .with_ymd_and_hms(2026, 12, 21, 10, 0, 0)
                .unwrap(),
            payment_reference: Some("ref-1".into()),
            seller: SellerDetails::default(),
            numbering: InvoiceNumberFormat::default(),
        };
        Order::restore(OrderRecord {
            id: OrderId::new(101).unwrap(),
            account: new.account(),
            placed_by: new.placed_by(),
            plan_id: new.plan_id(),
            status: OrderStatus::Active,
            description: new.description().to_owned(),
            charges: new.charges().clone(),
            notes: new.notes().map(str::to_owned),
            payment_reference: terms.payment_reference.clone(),
            renewal_of: None,
            created_at: created,
            activated_at: Some(created),
            expires_at: Some(terms.expires_at),
            cancelled_at: None,
            invoice: Some(IssuedInvoice {
                number: "INV-2026-000001".into(),
                year: 2026,
                seq: 1,
                snapshot: InvoiceSnapshot {
                    seller: SellerDetails::default(),
                    buyer: BuyerDetails::default(),
                    frozen_at: created,
                },
            }),
            billing: Default::default(),
        })
        .unwrap()
    }

    #[test]
    fn order_json_is_exactly_the_contract_example() {
        // The contract's example plus the additive `createdAt` (part two, "Profiles") and
        // `cycle` (part two, "Billing cycles") and `paidAt` ("Payments").
        let json = serde_json::to_string(&OrderJson::from(&sample())).unwrap();
        assert_eq!(
            json,
            r#"{"id":101,"status":"active","amount":11.89,"subtotal":9.99,"taxRate":19.0,"taxAmount":1.9,"currency":"USD","description":"Pro (monthly)","planId":3,"userId":55,"orgId":null,"items":[{"description":"Pro (monthly)","quantity":1,"unitPrice":9.99,"amount":9.99}],"date":"2026-11-21T10:00:00Z","createdAt":"2026-11-21T10:00:00Z","expiresAt":"2026-12-21T10:00:00Z","invoiceNumber":"INV-2026-000001","cycle":"monthly","paidAt":null,"pastDue":false}"#
        );
        assert!(!json.contains("notes") && !json.contains("comped") && !json.contains("ref-1"));
    }

    #[test]
    fn admin_json_adds_notes_and_reference() {
        let json = serde_json::to_value(AdminOrderJson::from(&sample())).unwrap();
        assert_eq!(json["notes"], "comped");
        assert_eq!(json["paymentReference"], "ref-1");
        assert_eq!(json["amount"].to_string(), "11.89");
        assert_eq!(json["invoiceNumber"], "INV-2026-000001");
    }

    #[test]
    fn bodies_are_strict() {
        assert!(serde_json::from_str::<PlaceOrderInput>(r#"{"planId":3}"#).is_ok());
        assert!(serde_json::from_str::<PlaceOrderInput>(r#"{"planId":"3"}"#).is_err());
        assert!(serde_json::from_str::<PlaceOrderInput>(r#"{"plan":3}"#).is_err());
        let apply: ApplyPlanInput =
            serde_json::from_str(r#"{"planId":4,"expiresAt":"2027-01-31T00:00:00+02:00"}"#)
                .unwrap();
        assert_eq!(
            apply.expires_at.map(|t| t.to_rfc3339()),
            Some("2027-01-30T22:00:00+00:00".into())
        );
        assert!(
            serde_json::from_str::<ApplyPlanInput>(r#"{"planId":4,"expiresAt":"soon"}"#).is_err()
        );
        let bare: ApplyPlanInput =
            serde_json::from_str(r#"{"planId":4,"expiresAt":"2027-02-28"}"#).unwrap();
        assert_eq!(
            bare.expires_at.map(|t| t.to_rfc3339()),
            Some("2027-02-28T23:59:59+00:00".into())
        );
        for bad in [
            r#"{"planId":4,"expiresAt":"2027-02-30"}"#,
            r#"{"planId":4,"expiresAt":"2027-2-3"}"#,
            r#"{"planId":4,"billingType":"forever"}"#,
            r#"{"planId":4,"taxRate":true}"#,
        ] {
            assert!(
                serde_json::from_str::<ApplyPlanInput>(bad).is_err(),
                "{bad}"
            );
        }
        let panel: PlaceOrderInput = serde_json::from_str(
            r#"{"planId":3,"amount":9.99,"description":"Pro","activateMode":"renewal","items":"[]","notes":"hi"}"#,
        )
        .unwrap();
        assert_eq!(panel.activate_mode, Some(ActivateMode::Renewal));
        assert!(
            serde_json::from_str::<PlaceOrderInput>(r#"{"planId":3,"activateMode":"soon"}"#)
                .is_err()
        );
    }

    #[test]
    fn lifetime_orders_have_no_expiry_and_every_order_a_created_at() {
        let order = sample();
        let json = serde_json::to_value(OrderJson::from(&order)).unwrap();
        assert_eq!(json["createdAt"], json["date"]);
        let mut record = record_of(&order);
        record.expires_at = Some(tariff_domain::orders::lifetime_end());
        let lifetime = Order::restore(record).unwrap();
        assert!(lifetime.is_lifetime());
        let json = serde_json::to_value(OrderJson::from(&lifetime)).unwrap();
        assert!(json["expiresAt"].is_null());
    }

    fn record_of(order: &Order) -> OrderRecord {
        OrderRecord {
            id: order.id(),
            account: order.account(),
            placed_by: order.placed_by(),
            plan_id: order.plan_id(),
            status: order.status(),
            description: order.description().to_owned(),
            charges: order.charges().clone(),
            notes: order.notes().map(str::to_owned),
            payment_reference: order.payment_reference().map(str::to_owned),
            renewal_of: order.renewal_of(),
            created_at: order.created_at(),
            activated_at: order.activated_at(),
            expires_at: order.expires_at(),
            cancelled_at: order.cancelled_at(),
            invoice: order.invoice().cloned(),
            billing: order.billing().clone(),
        }
    }
}
