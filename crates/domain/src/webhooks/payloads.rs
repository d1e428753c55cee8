//! The `data` of events: the API's own JSON of the objects they carry. The shapes belong
//! to the HTTP adapter (an event's plan is the plan JSON of the panel dialect, its order
//! the order JSON of `GET /api/orders/:id`), so the stores that emit events inside their
//! transactions get them through this port.

use crate::catalogue::limits::Limits;
use crate::orders::model::Order;
use crate::Plan;

/// Renders the objects events carry as the API shows them. Rendering cannot fail: the
/// objects are valid domain values.
pub trait EventPayloads: Send + Sync {
    /// The plan JSON of the panel dialect (`plan.*` events).
    fn plan(&self, plan: &Plan) -> serde_json::Value;

    /// The order as `GET /api/orders/:id` answers it for an administrator, `plan` (the
    /// order's plan) embedded (`order.*` events).
    fn order(&self, order: &Order, plan: &Plan) -> serde_json::Value;

    /// The limits object of part one's resource keys (`0` is unlimited).
    fn limits(&self, limits: &Limits) -> serde_json::Value;
}

/// The `data` of `invoice.issued`: the number and the order it was issued for (`order`
/// is [`EventPayloads::order`]'s JSON).
pub fn invoice_issued(invoice_number: &str, order: serde_json::Value) -> serde_json::Value {
    serde_json::json!({ "invoiceNumber": invoice_number, "order": order })
}

/// The `data` of `account.plan_changed`: the account's effective plan (its active
/// order's, else the default plan; `null` when there is neither), that plan's limits, and
/// the active order (`null` on the default plan). `plan` and `order` are the payloads'
/// JSON.
pub fn plan_changed(
    plan: Option<serde_json::Value>,
    limits: serde_json::Value,
    order: Option<serde_json::Value>,
) -> serde_json::Value {
    serde_json::json!({
        "plan": plan.unwrap_or(serde_json::Value::Null),
        "limits": limits,
        "order": order.unwrap_or(serde_json::Value::Null),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composite_payloads_have_the_documented_keys() {
        let issued = invoice_issued("INV-2026-000001", serde_json::json!({"id": 1}));
        assert_eq!(
            issued,
            serde_json::json!({"invoiceNumber": "INV-2026-000001", "order": {"id": 1}})
        );
        let fallback = plan_changed(None, serde_json::json!({"memory": 0}), None);
        assert_eq!(
            fallback,
            serde_json::json!({"plan": null, "limits": {"memory": 0}, "order": null})
        );
        let applied = plan_changed(
            Some(serde_json::json!({"id": 3})),
            serde_json::json!({}),
            Some(serde_json::json!({"id": 9})),
        );
        assert_eq!(applied["plan"]["id"], 3);
        assert_eq!(applied["order"]["id"], 9);
    }
}
