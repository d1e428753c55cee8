//! The `data` of events: the API's own JSON of the objects they carry. The shapes belong
//! to the HTTP adapter (an event's plan is the plan JSON of the panel dialect), so the
//! stores that emit events inside their transactions get them through this port.

use crate::Plan;

/// Renders the objects events carry as the API shows them.
pub trait EventPayloads: Send + Sync {
    /// The plan JSON of the panel dialect (`plan.*` events).
    fn plan(&self, plan: &Plan) -> serde_json::Value;
}
