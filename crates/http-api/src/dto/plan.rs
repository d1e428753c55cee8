//! Plan JSON in the panel dialect, and the plan input shared by the admin API and the
//! importer.

use serde::{Deserialize, Serialize};
use tariff_domain::{Limit, Permissions, Plan, PlanDraft, PlanPatch, PlanType, Resource};
use utoipa::ToSchema;

use super::{nullable, panel_timestamp, DecimalInput, DecimalNumber};
use crate::profile::Profile;

/// `{create, update, delete}` permissions.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PermissionsJson {
    pub create: bool,
    pub update: bool,
    pub delete: bool,
}

impl From<Permissions> for PermissionsJson {
    fn from(p: Permissions) -> Self {
        PermissionsJson {
            create: p.create,
            update: p.update,
            delete: p.delete,
        }
    }
}

impl From<PermissionsJson> for Permissions {
    fn from(p: PermissionsJson) -> Self {
        Permissions {
            create: p.create,
            update: p.update,
            delete: p.delete,
        }
    }
}

/// A plan in the panel dialect (CONTRACT.md "Plan JSON"). Limits: 0 means unlimited
/// (`null` in the eclipanel profile). `hiddenFromBilling` repeats `hidden`, and
/// `emailSendDailyLimit`/`emailSendQueueLimit` repeat the email limits, under the names
/// the EcliPanel frontend reads (both profiles).
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanJson {
    pub id: i64,
    pub name: String,
    /// One of `free`, `paid`, `edu` (`educational` in the eclipanel profile), `enterprise`.
    #[serde(rename = "type")]
    pub plan_type: &'static str,
    pub description: Option<String>,
    /// Monthly price.
    pub price: DecimalNumber,
    pub price_hourly: DecimalNumber,
    pub price_yearly: DecimalNumber,
    /// ISO 4217, upper case.
    pub currency: &'static str,
    pub memory: Option<u64>,
    pub disk: Option<u64>,
    pub cpu: Option<u64>,
    pub server_limit: Option<u64>,
    pub sites: Option<u64>,
    pub databases: Option<u64>,
    pub backups: Option<u64>,
    pub port_count: Option<u64>,
    pub tunnel_port_count: Option<u64>,
    pub email_daily_limit: Option<u64>,
    pub email_queue_limit: Option<u64>,
    pub email_send_daily_limit: Option<u64>,
    pub email_send_queue_limit: Option<u64>,
    pub server_permissions: PermissionsJson,
    pub site_permissions: PermissionsJson,
    /// Any JSON object, answered as written (the panel writes `{"list":[...]}`).
    #[schema(value_type = Object)]
    pub features: serde_json::Map<String, serde_json::Value>,
    pub hidden: bool,
    pub hidden_from_billing: bool,
    pub is_default: bool,
    pub stripe_plan_id: Option<String>,
    pub created_at: String,
}

/// A plan type's name in a profile: `edu` is `educational` to the EcliPanel frontend.
pub fn plan_type_name(plan_type: PlanType, profile: Profile) -> &'static str {
    match (plan_type, profile) {
        (PlanType::Edu, Profile::Eclipanel) => "educational",
        (other, _) => other.as_str(),
    }
}

impl PlanJson {
    /// The plan as `profile` writes it.
    pub fn render(plan: &Plan, profile: Profile) -> PlanJson {
        let limit = |r| profile.limit(plan.limits().get(r).value());
        PlanJson {
            id: plan.id().get(),
            name: plan.name().to_owned(),
            plan_type: plan_type_name(plan.plan_type(), profile),
            description: plan.description().map(str::to_owned),
            price: DecimalNumber::money(plan.price()),
            price_hourly: DecimalNumber::money(plan.price_hourly()),
            price_yearly: DecimalNumber::money(plan.price_yearly()),
            currency: plan.currency().code(),
            memory: limit(Resource::Memory),
            disk: limit(Resource::Disk),
            cpu: limit(Resource::Cpu),
            server_limit: limit(Resource::Servers),
            sites: limit(Resource::Sites),
            databases: limit(Resource::Databases),
            backups: limit(Resource::Backups),
            port_count: limit(Resource::PortCount),
            tunnel_port_count: limit(Resource::TunnelPortCount),
            email_daily_limit: limit(Resource::EmailDailyLimit),
            email_queue_limit: limit(Resource::EmailQueueLimit),
            email_send_daily_limit: limit(Resource::EmailDailyLimit),
            email_send_queue_limit: limit(Resource::EmailQueueLimit),
            server_permissions: plan.server_permissions().into(),
            site_permissions: plan.site_permissions().into(),
            features: plan.features().clone(),
            hidden: plan.hidden(),
            hidden_from_billing: plan.hidden(),
            is_default: plan.is_default(),
            stripe_plan_id: plan.stripe_plan_id().map(str::to_owned),
            created_at: panel_timestamp(plan.created_at()),
        }
    }
}

impl From<&Plan> for PlanJson {
    /// The seed profile's plan.
    fn from(plan: &Plan) -> Self {
        PlanJson::render(plan, Profile::Seed)
    }
}

/// `{"success":true,"plan":{...}}`: admin plan writes in the eclipanel profile.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PlanOutcomeJson {
    pub success: bool,
    pub plan: PlanJson,
}

impl PlanOutcomeJson {
    pub fn new(plan: PlanJson) -> PlanOutcomeJson {
        PlanOutcomeJson {
            success: true,
            plan,
        }
    }
}

/// A limit in an input body: a non-negative number, or `null` for unlimited (0).
pub type LimitInput = Option<Option<u64>>;

fn limit_value(input: LimitInput) -> Option<u64> {
    input.map(|value| value.unwrap_or(0))
}

/// Plan fields as sent to `POST/PUT /api/admin/plans` or written in an import file.
/// Every field is optional: for a create, missing fields take their defaults (price 0,
/// limits unlimited, all permissions); for a PUT, missing fields stay unchanged.
/// Packages-dialect names are accepted as aliases (`maximum_servers`, `price_monthly`...),
/// and so are the EcliPanel frontend's (`hiddenFromBilling`, `emailSendDailyLimit`,
/// `emailSendQueueLimit`, type `educational`). A limit of `null` is unlimited; `features`
/// of `null` is the empty object.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanInput {
    pub name: Option<String>,
    /// `free`, `paid`, `edu` (or `educational`), `enterprise`.
    #[serde(rename = "type")]
    #[schema(example = "paid")]
    pub plan_type: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[serde(alias = "price_monthly")]
    pub price: Option<DecimalInput>,
    #[serde(alias = "price_hourly")]
    pub price_hourly: Option<DecimalInput>,
    #[serde(alias = "price_yearly")]
    pub price_yearly: Option<DecimalInput>,
    pub currency: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<u64>)]
    pub memory: LimitInput,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<u64>)]
    pub disk: LimitInput,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<u64>)]
    pub cpu: LimitInput,
    #[serde(
        default,
        deserialize_with = "nullable",
        alias = "maximum_servers",
        alias = "servers"
    )]
    #[schema(value_type = Option<u64>)]
    pub server_limit: LimitInput,
    #[serde(default, deserialize_with = "nullable", alias = "maximum_sites")]
    #[schema(value_type = Option<u64>)]
    pub sites: LimitInput,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<u64>)]
    pub databases: LimitInput,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<u64>)]
    pub backups: LimitInput,
    #[serde(default, deserialize_with = "nullable", alias = "port_count")]
    #[schema(value_type = Option<u64>)]
    pub port_count: LimitInput,
    #[serde(default, deserialize_with = "nullable", alias = "tunnel_port_count")]
    #[schema(value_type = Option<u64>)]
    pub tunnel_port_count: LimitInput,
    #[serde(
        default,
        deserialize_with = "nullable",
        alias = "email_daily_limit",
        alias = "emailSendDailyLimit"
    )]
    #[schema(value_type = Option<u64>)]
    pub email_daily_limit: LimitInput,
    #[serde(
        default,
        deserialize_with = "nullable",
        alias = "email_queue_limit",
        alias = "emailSendQueueLimit"
    )]
    #[schema(value_type = Option<u64>)]
    pub email_queue_limit: LimitInput,
    #[serde(alias = "server_permissions")]
    pub server_permissions: Option<PermissionsJson>,
    #[serde(alias = "site_permissions")]
    pub site_permissions: Option<PermissionsJson>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Object>)]
    pub features: Option<Option<serde_json::Map<String, serde_json::Value>>>,
    #[serde(alias = "hiddenFromBilling")]
    pub hidden: Option<bool>,
    #[serde(alias = "is_default")]
    pub is_default: Option<bool>,
    #[serde(default, deserialize_with = "nullable", alias = "stripe_plan_id")]
    #[schema(value_type = Option<String>)]
    pub stripe_plan_id: Option<Option<String>>,
}

impl PlanInput {
    /// The changes this input names, for a partial update.
    pub fn into_patch(self) -> PlanPatch {
        let limits = [
            (Resource::Memory, self.memory),
            (Resource::Disk, self.disk),
            (Resource::Cpu, self.cpu),
            (Resource::Servers, self.server_limit),
            (Resource::Sites, self.sites),
            (Resource::Databases, self.databases),
            (Resource::Backups, self.backups),
            (Resource::PortCount, self.port_count),
            (Resource::TunnelPortCount, self.tunnel_port_count),
            (Resource::EmailDailyLimit, self.email_daily_limit),
            (Resource::EmailQueueLimit, self.email_queue_limit),
        ]
        .into_iter()
        .filter_map(|(r, v)| limit_value(v).map(|v| (r, Limit::new(v))))
        .collect();
        PlanPatch {
            name: self.name,
            plan_type: self.plan_type.map(|t| match t.as_str() {
                "educational" => PlanType::Edu.as_str().to_owned(),
                _ => t,
            }),
            description: self.description,
            currency: self.currency,
            price: self.price.map(|d| d.0),
            price_hourly: self.price_hourly.map(|d| d.0),
            price_yearly: self.price_yearly.map(|d| d.0),
            limits,
            server_permissions: self.server_permissions.map(Into::into),
            site_permissions: self.site_permissions.map(Into::into),
            features: self.features.map(Option::unwrap_or_default),
            hidden: self.hidden,
            is_default: self.is_default,
            stripe_plan_id: self.stripe_plan_id,
        }
    }

    /// A complete draft for a create: defaults first, then what the input names.
    /// A price-0 plan defaults to type `free`, any other to `paid`.
    pub fn into_draft(self) -> PlanDraft {
        let is_free = self
            .price
            .as_ref()
            .is_none_or(|p| p.0.trim_start_matches(['0', '.']).is_empty());
        let mut draft = PlanDraft {
            plan_type: if is_free { "free" } else { "paid" }.to_owned(),
            ..PlanDraft::default()
        };
        self.into_patch().apply_to(&mut draft);
        draft
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tariff_domain::{PlanId, PlanSpec};

    #[test]
    fn plan_json_has_the_contract_shape() {
        let input: PlanInput = serde_json::from_str(
            r#"{"name":"Pro","price":9.99,"priceYearly":99,"currency":"USD","memory":8192,"serverLimit":5}"#,
        )
        .unwrap();
        let spec = PlanSpec::new(input.into_draft()).unwrap();
        let created = chrono::DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z")
            .unwrap()
            .to_utc();
        let plan = Plan::new(PlanId::new(3).unwrap(), spec, created);
        let json = serde_json::to_value(PlanJson::from(&plan)).unwrap();
        assert_eq!(json["price"].to_string(), "9.99");
        assert_eq!(json["priceHourly"].to_string(), "0.0");
        assert_eq!(json["priceYearly"].to_string(), "99.0");
        assert_eq!(json["type"], "paid");
        assert_eq!(json["serverLimit"], 5);
        assert_eq!(json["disk"], 0);
        assert_eq!(json["createdAt"], "2026-11-21T10:00:00Z");
        assert_eq!(json["serverPermissions"]["create"], true);
        assert!(json["description"].is_null());
        assert!(json["stripePlanId"].is_null());
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for key in [
            "id",
            "name",
            "type",
            "description",
            "price",
            "priceHourly",
            "priceYearly",
            "currency",
            "memory",
            "disk",
            "cpu",
            "serverLimit",
            "sites",
            "databases",
            "backups",
            "portCount",
            "tunnelPortCount",
            "emailDailyLimit",
            "emailQueueLimit",
            "serverPermissions",
            "sitePermissions",
            "features",
            "hidden",
            "isDefault",
            "stripePlanId",
            "createdAt",
        ] {
            assert!(keys.contains(&key), "missing {key}");
        }
    }

    #[test]
    fn the_eclipanel_profile_writes_educational_and_null_for_unlimited() {
        let input: PlanInput = serde_json::from_str(
            r#"{"name":"Edu","type":"educational","memory":null,"disk":100,"emailSendQueueLimit":7,
                "hiddenFromBilling":true,"features":{"list":["a"]}}"#,
        )
        .unwrap();
        let spec = PlanSpec::new(input.into_draft()).unwrap();
        let created = chrono::DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z")
            .unwrap()
            .to_utc();
        let plan = Plan::new(PlanId::new(4).unwrap(), spec, created);
        let seed = serde_json::to_value(PlanJson::render(&plan, Profile::Seed)).unwrap();
        assert_eq!(seed["type"], "edu");
        assert_eq!(seed["memory"], 0);
        assert_eq!(seed["disk"], 100);
        assert_eq!(seed["emailQueueLimit"], 7);
        assert_eq!(seed["emailSendQueueLimit"], 7);
        assert_eq!(seed["hidden"], true);
        assert_eq!(seed["hiddenFromBilling"], true);
        assert_eq!(seed["features"]["list"][0], "a");
        let panel = serde_json::to_value(PlanJson::render(&plan, Profile::Eclipanel)).unwrap();
        assert_eq!(panel["type"], "educational");
        assert!(panel["memory"].is_null());
        assert_eq!(panel["disk"], 100);
        assert!(panel["emailSendDailyLimit"].is_null());
    }

    #[test]
    fn unknown_fields_and_negative_limits_are_rejected() {
        assert!(serde_json::from_str::<PlanInput>(r#"{"name":"A","prise":1}"#).is_err());
        assert!(serde_json::from_str::<PlanInput>(r#"{"name":"A","memory":-1}"#).is_err());
        let input: PlanInput =
            serde_json::from_str(r#"{"name":"A","maximum_servers":2,"price_monthly":"1.5"}"#)
                .unwrap();
        assert_eq!(input.server_limit, Some(Some(2)));
        assert_eq!(input.price.map(|p| p.0).as_deref(), Some("1.5"));
    }
}
