//! How objects are recorded in the log's `before` and `after`.

use serde_json::Value;

/// The JSON an object is recorded as in `before` and `after`: what an administrator
/// would want to compare, never a secret (no password or token hashes).
pub trait AuditState {
    fn audit_state(&self) -> Value;
}
