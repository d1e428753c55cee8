//! A plan in the packages dialect (`seeds/ploi-core-packages-api.txt`): snake_case, the
//! seed's fields in the seed's order, lower-case currency, `0.0`-style prices.

use serde::Serialize;
use tariff_domain::{Plan, Resource};
use utoipa::ToSchema;

use super::plan::PermissionsJson;
use super::{packages_timestamp, DecimalNumber};

/// A package: the same plan as the panel dialect's, seen through the packages seed.
/// `maximum_servers` / `maximum_sites` are the plan's server and site limits (0 means
/// unlimited); `price_monthly` is the plan's price.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PackageJson {
    pub id: i64,
    pub name: String,
    /// 0 means unlimited.
    pub maximum_servers: u64,
    /// 0 means unlimited.
    pub maximum_sites: u64,
    pub price_hourly: DecimalNumber,
    pub price_monthly: DecimalNumber,
    pub price_yearly: DecimalNumber,
    pub stripe_plan_id: Option<String>,
    /// ISO 4217, lower case (`usd`).
    #[schema(example = "usd")]
    pub currency: String,
    pub server_permissions: PermissionsJson,
    pub site_permissions: PermissionsJson,
    /// UTC with microseconds: `2022-07-23T13:35:51.000000Z`.
    #[schema(example = "2022-07-23T13:35:51.000000Z")]
    pub created_at: String,
}

impl From<&Plan> for PackageJson {
    fn from(plan: &Plan) -> Self {
        PackageJson {
            id: plan.id().get(),
            name: plan.name().to_owned(),
            maximum_servers: plan.limits().get(Resource::Servers).value(),
            maximum_sites: plan.limits().get(Resource::Sites).value(),
            price_hourly: DecimalNumber::money(plan.price_hourly()),
            price_monthly: DecimalNumber::money(plan.price()),
            price_yearly: DecimalNumber::money(plan.price_yearly()),
            stripe_plan_id: plan.stripe_plan_id().map(str::to_owned),
            currency: plan.currency().code().to_ascii_lowercase(),
            server_permissions: plan.server_permissions().into(),
            site_permissions: plan.site_permissions().into(),
            created_at: packages_timestamp(plan.created_at()),
        }
    }
}

impl From<Plan> for PackageJson {
    fn from(plan: Plan) -> Self {
        PackageJson::from(&plan)
    }
}

/// `GET /api/packages/:id`: one package wrapped in `data`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PackageEnvelope {
    pub data: PackageJson,
}

#[cfg(test)]
mod tests {
    use super::*;
    use tariff_domain::{Limit, Limits, Permissions, PlanDraft, PlanId, PlanSpec};

    #[test]
    fn package_has_the_seed_fields_in_the_seed_order() {
        let spec = PlanSpec::new(PlanDraft {
            name: "Basic".into(),
            price: "4.99".into(),
            price_yearly: "49.9".into(),
            currency: "EUR".into(),
            limits: Limits::unlimited()
                .with(Resource::Servers, Limit::new(1))
                .with(Resource::Sites, Limit::new(3)),
            server_permissions: Permissions::NONE,
            stripe_plan_id: Some("price_basic".into()),
            ..PlanDraft::default()
        })
        .unwrap();
        let created = chrono::DateTime::parse_from_rfc3339("2022-07-23T13:35:51Z")
            .unwrap()
            .to_utc();
        let plan = Plan::new(PlanId::new(1).unwrap(), spec, created);
        let text = serde_json::to_string(&PackageJson::from(&plan)).unwrap();
        assert_eq!(
            text,
            r#"{"id":1,"name":"Basic","maximum_servers":1,"maximum_sites":3,"price_hourly":0.0,"price_monthly":4.99,"price_yearly":49.9,"stripe_plan_id":"price_basic","currency":"eur","server_permissions":{"create":false,"update":false,"delete":false},"site_permissions":{"create":true,"update":true,"delete":true},"created_at":"2022-07-23T13:35:51.000000Z"}"#
        );
    }
}
