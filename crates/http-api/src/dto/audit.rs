//! `GET /api/admin/audit`: audit rows and their filters.

use serde::{Deserialize, Serialize};
use tariff_domain::audit::{AuditFilter, AuditRecord, TargetKind};
use tariff_domain::UserId;
use utoipa::ToSchema;

use crate::dto::panel_timestamp;
use crate::error::ApiError;

/// One recorded change.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntryJson {
    pub id: i64,
    /// The admin who made the change; `null` for the operator at the command line.
    pub actor_id: Option<i64>,
    /// e.g. `plan.update`, `plan.apply`, `usage.change`.
    #[schema(example = "plan.update")]
    pub action: String,
    /// `plan`, `user`, `organisation`, `order`, `settings` or `coupon`.
    #[schema(example = "plan")]
    pub target_kind: String,
    pub target_id: Option<i64>,
    /// The object before the change (`null` for a creation).
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    /// The object after the change (`null` for a deletion).
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
    /// When the change committed (ISO 8601 UTC).
    pub created_at: String,
}

impl From<AuditRecord> for AuditEntryJson {
    fn from(record: AuditRecord) -> Self {
        AuditEntryJson {
            id: record.id,
            actor_id: record.actor.map(UserId::get),
            action: record.action,
            target_kind: record.target_kind,
            target_id: record.target_id,
            before: record.before,
            after: record.after,
            created_at: panel_timestamp(record.at),
        }
    }
}

/// Filters of `GET /api/admin/audit` (besides `page` and `per_page`).
#[derive(Deserialize, Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct AuditSearch {
    /// Only changes to this kind of object: `plan`, `user`, `organisation`, `order`, `settings`.
    pub target_kind: Option<String>,
    /// Only changes to the object with this id.
    pub target_id: Option<i64>,
    /// Only changes made by this admin.
    pub actor_id: Option<i64>,
}

impl AuditSearch {
    pub fn filter(&self) -> Result<AuditFilter, ApiError> {
        let target_kind = self
            .target_kind
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(|k| {
                k.parse::<TargetKind>()
                    .map_err(|e| ApiError::validation("targetKind", format!("{e}.")))
            })
            .transpose()?;
        let actor = match self.actor_id {
            // An id that names no one matches no row.
            Some(raw) => Some(UserId::new(raw).ok_or_else(|| {
                ApiError::validation("actorId", "actorId must be a positive integer.")
            })?),
            None => None,
        };
        Ok(AuditFilter {
            target_kind,
            target_id: self.target_id,
            actor,
        })
    }
}
