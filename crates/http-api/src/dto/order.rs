//! Order JSON in the panel dialect (CONTRACT.md "Order JSON"), the admin variant with
//! internal notes and payment reference, and the order endpoints' request bodies.

use serde::{Deserialize, Serialize};
use tariff_domain::orders::{CurrentPlan, Order, OrderItem};
use tariff_domain::{AccountRef, Limits, Resource};
use utoipa::ToSchema;

use super::plan::PlanJson;
use super::{panel_timestamp, DecimalNumber};

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
    /// End of the paid period; null until the order is active.
    pub expires_at: Option<String>,
    /// Given when the order first becomes active; null before.
    pub invoice_number: Option<String>,
}

impl From<&Order> for OrderJson {
    fn from(order: &Order) -> Self {
        let charges = order.charges();
        OrderJson {
            id: order.id().get(),
            status: order.status().as_str(),
            amount: DecimalNumber::money(charges.total()),
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
            items: charges.items().iter().map(OrderItemJson::from).collect(),
            date: panel_timestamp(order.created_at()),
            expires_at: order.expires_at().map(panel_timestamp),
            invoice_number: order.invoice_number().map(str::to_owned),
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

/// `POST /api/orders`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlaceOrderInput {
    pub plan_id: i64,
    /// Order for this organisation (the caller must be its admin or owner).
    #[serde(default)]
    pub org_id: Option<i64>,
}

/// `POST /api/admin/users/:id/apply-plan`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplyPlanInput {
    pub plan_id: i64,
    /// Internal notes about why the plan was applied.
    #[serde(default)]
    pub notes: Option<String>,
    /// End of the period, RFC 3339; default one calendar month from now.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
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

/// Limits keyed by the contract's resource keys; 0 means unlimited.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LimitsJson {
    pub memory: u64,
    pub disk: u64,
    pub cpu: u64,
    pub servers: u64,
    pub sites: u64,
    pub databases: u64,
    pub backups: u64,
    pub port_count: u64,
    pub tunnel_port_count: u64,
    pub email_daily_limit: u64,
    pub email_queue_limit: u64,
}

impl LimitsJson {
    /// One value per resource key, from `value`.
    pub fn from_values(value: impl Fn(Resource) -> u64) -> LimitsJson {
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

/// `GET /api/admin/users/:id/current-plan`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CurrentPlanJson {
    /// The active order's plan, else the default plan; null when neither exists.
    pub plan: Option<PlanJson>,
    /// The active order, null when the account runs on the default plan.
    pub order: Option<AdminOrderJson>,
    pub limits: LimitsJson,
}

impl From<&CurrentPlan> for CurrentPlanJson {
    fn from(current: &CurrentPlan) -> Self {
        CurrentPlanJson {
            plan: current.plan.as_ref().map(PlanJson::from),
            order: current.order.as_ref().map(AdminOrderJson::from),
            limits: LimitsJson::from(&current.limits),
        }
    }
}

/// Filters of `GET /api/admin/orders` (paging is read by `PageQuery`), as text so that
/// an empty value means "no filter" and a bad one gets a clear 400.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct AdminOrdersQuery {
    pub status: Option<String>,
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
        })
        .unwrap()
    }

    #[test]
    fn order_json_is_exactly_the_contract_example() {
        let json = serde_json::to_string(&OrderJson::from(&sample())).unwrap();
        assert_eq!(
            json,
            r#"{"id":101,"status":"active","amount":11.89,"subtotal":9.99,"taxRate":19.0,"taxAmount":1.9,"currency":"USD","description":"Pro (monthly)","planId":3,"userId":55,"orgId":null,"items":[{"description":"Pro (monthly)","quantity":1,"unitPrice":9.99,"amount":9.99}],"date":"2026-11-21T10:00:00Z","expiresAt":"2026-12-21T10:00:00Z","invoiceNumber":"INV-2026-000001"}"#
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
    }
}
