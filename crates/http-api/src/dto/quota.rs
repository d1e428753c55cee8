//! Quota JSON (panel dialect): effective limits with overrides, usage, remaining, the
//! usage ledger's input and answers. Resource keys are the contract's: `memory`, `disk`,
//! `cpu`, `servers`, `sites`, `databases`, `backups`, `portCount`, `tunnelPortCount`,
//! `emailDailyLimit`, `emailQueueLimit`. A limit of 0 means unlimited.

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use tariff_domain::quota::{EffectiveLimits, PlanBasis, QuotaSnapshot, UsageCheck, UsageLevel};
use tariff_domain::quota::{Refusal, UsageOutcome};
use tariff_domain::{Limit, Resource};
use utoipa::ToSchema;

use super::plan::PermissionsJson;
use crate::error::{ApiError, ErrorCode};

macro_rules! per_resource {
    ($(#[$doc:meta])* $name:ident, $ty:ty) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            pub memory: $ty,
            pub disk: $ty,
            pub cpu: $ty,
            pub servers: $ty,
            pub sites: $ty,
            pub databases: $ty,
            pub backups: $ty,
            pub port_count: $ty,
            pub tunnel_port_count: $ty,
            pub email_daily_limit: $ty,
            pub email_queue_limit: $ty,
        }

        impl $name {
            pub fn from_fn(value: impl Fn(Resource) -> $ty) -> $name {
                $name {
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
    };
}

per_resource!(
    /// One count per resource: limits (0 = unlimited) or usage.
    ResourceCounts,
    u64
);
per_resource!(
    /// What is left per resource; `null` = unlimited.
    ResourceRemaining,
    Option<u64>
);

/// The admin's overrides: only the overridden resources, in resource order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OverridesJson(Vec<(Resource, u64)>);

impl Serialize for OverridesJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (resource, value) in &self.0 {
            map.serialize_entry(resource.key(), value)?;
        }
        map.end()
    }
}

impl utoipa::PartialSchema for OverridesJson {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .description(Some(
                "Overridden resources only: resource key -> limit (0 = unlimited). \
                 Overrides win over the plan.",
            ))
            .additional_properties(Some(
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::Integer),
            ))
            .into()
    }
}
impl ToSchema for OverridesJson {}

/// The plan the limits come from.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct QuotaPlanJson {
    pub id: i64,
    pub name: String,
    /// `order` (the account's active plan order) or `default` (the default plan).
    #[schema(example = "order")]
    pub source: &'static str,
}

impl From<&PlanBasis> for QuotaPlanJson {
    fn from(plan: &PlanBasis) -> Self {
        QuotaPlanJson {
            id: plan.plan_id.get(),
            name: plan.name.clone(),
            source: plan.source.as_str(),
        }
    }
}

/// An account's effective limits: the plan's, with overrides applied and listed.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EffectiveLimitsJson {
    /// `null` when the account has neither an active plan order nor a default plan
    /// (then nothing but overridden resources may grow).
    pub plan: Option<QuotaPlanJson>,
    pub limits: ResourceCounts,
    pub overrides: OverridesJson,
    pub server_permissions: PermissionsJson,
    pub site_permissions: PermissionsJson,
}

impl From<&EffectiveLimits> for EffectiveLimitsJson {
    fn from(limits: &EffectiveLimits) -> Self {
        EffectiveLimitsJson {
            plan: limits.plan().map(QuotaPlanJson::from),
            limits: ResourceCounts::from_fn(|r| limits.allowance(r).limit_value()),
            overrides: OverridesJson(
                limits
                    .overrides()
                    .iter()
                    .map(|(r, l)| (*r, l.value()))
                    .collect(),
            ),
            server_permissions: limits.server_permissions().into(),
            site_permissions: limits.site_permissions().into(),
        }
    }
}

/// `GET /api/users/:id/quota`, `GET /api/organisations/:id/quota`.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuotaJson {
    /// Effective limits (overrides applied); 0 = unlimited.
    pub limits: ResourceCounts,
    /// Current usage; `emailDailyLimit` counts today (UTC).
    pub usage: ResourceCounts,
    /// `null` = unlimited; 0 when usage is at or above the limit.
    pub remaining: ResourceRemaining,
    /// Resources whose usage is above the limit (after a downgrade or a lowered
    /// override): usage is kept, only further growth is refused.
    #[schema(example = json!(["servers"]))]
    pub over_limit: Vec<&'static str>,
    pub overrides: OverridesJson,
    pub plan: Option<QuotaPlanJson>,
    pub server_permissions: PermissionsJson,
    pub site_permissions: PermissionsJson,
}

impl From<&QuotaSnapshot> for QuotaJson {
    fn from(snapshot: &QuotaSnapshot) -> Self {
        let effective = EffectiveLimitsJson::from(&snapshot.limits);
        QuotaJson {
            limits: effective.limits,
            usage: ResourceCounts::from_fn(|r| snapshot.usage.get(r)),
            remaining: ResourceRemaining::from_fn(|r| snapshot.remaining(r)),
            over_limit: snapshot
                .over_limit()
                .into_iter()
                .map(Resource::key)
                .collect(),
            overrides: effective.overrides,
            plan: effective.plan,
            server_permissions: effective.server_permissions,
            site_permissions: effective.site_permissions,
        }
    }
}

/// `POST /api/admin/.../usage` and `.../usage/check`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UsageInput {
    /// A resource key, e.g. `servers`.
    #[schema(example = "servers")]
    pub resource: String,
    /// Positive reserves, negative releases; never 0; at most 10^12 either way.
    #[schema(example = 1)]
    pub delta: i64,
    /// Makes the call safe to retry: a replay (same account and key) returns the first
    /// answer and counts once. 1 to 255 characters. Ignored by the check call.
    #[schema(example = "create-server-7f3a")]
    pub idempotency_key: Option<String>,
}

impl UsageInput {
    pub fn resource(&self) -> Result<Resource, ApiError> {
        parse_resource("resource", &self.resource)
    }
}

fn parse_resource(field: &str, key: &str) -> Result<Resource, ApiError> {
    key.parse().map_err(|_| {
        ApiError::validation(
            field,
            format!(
                "`{key}` is not a resource; use one of {}.",
                Resource::ALL.map(Resource::key).join(", ")
            ),
        )
    })
}

/// The usage after a granted change.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct UsageLevelJson {
    #[schema(example = "servers")]
    pub resource: &'static str,
    #[schema(example = 3)]
    pub used: u64,
    /// 0 = unlimited.
    #[schema(example = 5)]
    pub limit: u64,
    /// `null` = unlimited.
    #[schema(example = 2)]
    pub remaining: Option<u64>,
}

impl From<UsageLevel> for UsageLevelJson {
    fn from(level: UsageLevel) -> Self {
        UsageLevelJson {
            resource: level.resource.key(),
            used: level.used,
            limit: level.allowance.limit_value(),
            remaining: level.remaining(),
        }
    }
}

/// The answer of the check-only call.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct UsageCheckJson {
    pub allowed: bool,
    #[schema(example = "servers")]
    pub resource: &'static str,
    /// Usage now.
    pub used: u64,
    /// 0 = unlimited.
    pub limit: u64,
    /// The delta asked about.
    pub requested: i64,
    /// What is left now, before the change; `null` = unlimited.
    pub remaining: Option<u64>,
    /// When not allowed: the error code the usage call would answer
    /// (`quota_exceeded`, `forbidden` or `validation_failed`); else `null`.
    pub reason: Option<&'static str>,
}

impl From<&UsageCheck> for UsageCheckJson {
    fn from(check: &UsageCheck) -> Self {
        let reason = check.refusal.map(|refusal| match refusal {
            UsageOutcome::Exceeded { .. } => ErrorCode::QuotaExceeded.as_str(),
            UsageOutcome::NotPermitted { .. } => ErrorCode::Forbidden.as_str(),
            UsageOutcome::BelowZero { .. } | UsageOutcome::Applied(_) => {
                ErrorCode::ValidationFailed.as_str()
            }
        });
        UsageCheckJson {
            allowed: check.allowed(),
            resource: check.change.resource().key(),
            used: check.used,
            limit: check.allowance.limit_value(),
            requested: check.change.delta(),
            remaining: check.remaining(),
            reason,
        }
    }
}

/// The message a refusal for lack of permission carries.
pub fn refusal_sentence(resource: Resource, reason: Refusal) -> String {
    match reason {
        Refusal::NoPlan => format!(
            "The account has no plan (no active plan order and no default plan), so no {resource} can be granted."
        ),
        Refusal::CreateNotAllowed => {
            let what = if resource == Resource::Sites { "sites" } else { "servers" };
            format!("The account's plan does not allow creating {what}.")
        }
    }
}

/// `PUT /api/admin/.../limits` body: resource key -> a non-negative integer (sets an
/// override; 0 = unlimited) or `null` (removes it). Keys not named stay as they are.
#[derive(Clone, Debug, Deserialize)]
pub struct LimitOverridesInput(pub serde_json::Map<String, Value>);

impl utoipa::PartialSchema for LimitOverridesInput {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{SchemaType, Type};
        utoipa::openapi::ObjectBuilder::new()
            .description(Some(
                "Resource key -> non-negative integer (sets an override; 0 = unlimited) \
                 or null (removes it). Keys not named stay as they are.",
            ))
            .additional_properties(Some(
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
                    .minimum(Some(0)),
            ))
            .examples([serde_json::json!({"servers": 10, "memory": null})])
            .into()
    }
}
impl ToSchema for LimitOverridesInput {}

impl LimitOverridesInput {
    /// The changes (in key order); an unknown key or a bad value is a 400 naming it.
    pub fn changes(&self) -> Result<Vec<(Resource, Option<Limit>)>, ApiError> {
        self.0
            .iter()
            .map(|(key, value)| {
                let resource = parse_resource(key, key)?;
                let limit = match value {
                    Value::Null => None,
                    Value::Number(n) => {
                        Some(Limit::new(n.as_u64().ok_or_else(|| not_a_limit(key))?))
                    }
                    _ => return Err(not_a_limit(key)),
                };
                Ok((resource, limit))
            })
            .collect()
    }
}

fn not_a_limit(key: &str) -> ApiError {
    ApiError::validation(
        key,
        format!(
            "{key} must be a non-negative integer (0 = unlimited) or null to remove the override."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use tariff_domain::quota::{PlanSource, Usage};
    use tariff_domain::{Limits, Permissions, PlanId};

    fn snapshot() -> QuotaSnapshot {
        let mut overrides = BTreeMap::new();
        overrides.insert(Resource::Sites, Limit::new(20));
        let plan = PlanBasis {
            plan_id: PlanId::new(3).unwrap(),
            name: "Pro".into(),
            source: PlanSource::ActiveOrder,
            limits: Limits::unlimited()
                .with(Resource::Servers, Limit::new(5))
                .with(Resource::Sites, Limit::new(10)),
            server_permissions: Permissions::ALL,
            site_permissions: Permissions::NONE,
        };
        QuotaSnapshot {
            limits: EffectiveLimits::new(Some(plan), overrides),
            usage: Usage::new()
                .with(Resource::Servers, 7)
                .with(Resource::Memory, 512),
        }
    }

    #[test]
    fn quota_json_has_every_resource_key_and_flags_overruns() {
        let json = serde_json::to_value(QuotaJson::from(&snapshot())).unwrap();
        for part in ["limits", "usage", "remaining"] {
            let keys: Vec<&str> = json[part]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(keys.len(), 11, "{part}");
            for r in Resource::ALL {
                assert!(keys.contains(&r.key()), "{part} lacks {r}");
            }
        }
        assert_eq!(json["limits"]["servers"], 5);
        assert_eq!(json["limits"]["sites"], 20);
        assert_eq!(json["limits"]["memory"], 0);
        assert_eq!(json["remaining"]["memory"], Value::Null);
        assert_eq!(json["remaining"]["servers"], 0);
        assert_eq!(json["overLimit"], serde_json::json!(["servers"]));
        assert_eq!(json["overrides"], serde_json::json!({"sites": 20}));
        assert_eq!(json["plan"]["source"], "order");
        assert_eq!(json["sitePermissions"]["create"], false);
    }

    #[test]
    fn override_bodies_name_the_bad_field() {
        let input: LimitOverridesInput =
            serde_json::from_str(r#"{"servers": 10, "memory": null}"#).unwrap();
        assert_eq!(
            input.changes().unwrap(),
            vec![
                (Resource::Memory, None),
                (Resource::Servers, Some(Limit::new(10)))
            ]
        );
        for (body, field) in [
            (r#"{"serverLimit": 1}"#, "serverLimit"),
            (r#"{"disk": -1}"#, "disk"),
            (r#"{"disk": 1.5}"#, "disk"),
            (r#"{"cpu": "4"}"#, "cpu"),
        ] {
            let input: LimitOverridesInput = serde_json::from_str(body).unwrap();
            let err = input.changes().unwrap_err();
            assert!(err.to_string().contains(field), "{body}: {err}");
        }
        assert!(serde_json::from_str::<LimitOverridesInput>("[1]").is_err());
    }
}
