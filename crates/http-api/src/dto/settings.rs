//! `GET|PUT /api/admin/settings`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The service-wide settings.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SettingsJson {
    /// When false, plan, package, order, invoice, usage and apply/cancel-plan endpoints
    /// answer 503 `feature_disabled`.
    pub billing_enabled: bool,
}

/// A settings change; fields left out stay as they are.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettingsInput {
    #[serde(default)]
    pub billing_enabled: Option<bool>,
}
