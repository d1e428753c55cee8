//! `plans` rows, apart from the domain's `Plan`, and their conversion both ways.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use tariff_domain::{
    Limit, Limits, Permissions, Plan, PlanDraft, PlanId, PlanSpec, RepoError, Resource,
};

use crate::schema::plans;

/// A `plans` row as stored.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = plans)]
pub(crate) struct PlanRow {
    pub id: i64,
    pub name: String,
    pub plan_type: String,
    pub description: Option<String>,
    pub currency: String,
    pub price_monthly_minor: i64,
    pub price_hourly_minor: i64,
    pub price_yearly_minor: i64,
    pub memory: i64,
    pub disk: i64,
    pub cpu: i64,
    pub servers: i64,
    pub sites: i64,
    pub databases: i64,
    pub backups: i64,
    pub port_count: i64,
    pub tunnel_port_count: i64,
    pub email_daily_limit: i64,
    pub email_queue_limit: i64,
    pub server_create: bool,
    pub server_update: bool,
    pub server_delete: bool,
    pub site_create: bool,
    pub site_update: bool,
    pub site_delete: bool,
    pub features: String,
    pub hidden: bool,
    pub is_default: bool,
    pub stripe_plan_id: Option<String>,
    pub created_at: NaiveDateTime,
}

/// The writable columns of a plan, from a validated spec.
#[derive(Insertable, AsChangeset, Debug)]
#[diesel(table_name = plans, treat_none_as_null = true)]
pub(super) struct PlanChanges {
    name: String,
    plan_type: String,
    description: Option<String>,
    currency: String,
    price_monthly_minor: i64,
    price_hourly_minor: i64,
    price_yearly_minor: i64,
    memory: i64,
    disk: i64,
    cpu: i64,
    servers: i64,
    sites: i64,
    databases: i64,
    backups: i64,
    port_count: i64,
    tunnel_port_count: i64,
    email_daily_limit: i64,
    email_queue_limit: i64,
    server_create: bool,
    server_update: bool,
    server_delete: bool,
    site_create: bool,
    site_update: bool,
    site_delete: bool,
    features: String,
    hidden: bool,
    is_default: bool,
    stripe_plan_id: Option<String>,
    updated_at: NaiveDateTime,
}

fn stored_limit(value: u64) -> i64 {
    // PlanSpec::new guarantees every limit fits in i64.
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl PlanChanges {
    pub(super) fn from_spec(spec: &PlanSpec, now: NaiveDateTime) -> PlanChanges {
        let l = spec.limits();
        let limit = |r| stored_limit(l.get(r).value());
        PlanChanges {
            name: spec.name().to_owned(),
            plan_type: spec.plan_type().as_str().to_owned(),
            description: spec.description().map(str::to_owned),
            currency: spec.currency().code().to_owned(),
            price_monthly_minor: spec.price().minor(),
            price_hourly_minor: spec.price_hourly().minor(),
            price_yearly_minor: spec.price_yearly().minor(),
            memory: limit(Resource::Memory),
            disk: limit(Resource::Disk),
            cpu: limit(Resource::Cpu),
            servers: limit(Resource::Servers),
            sites: limit(Resource::Sites),
            databases: limit(Resource::Databases),
            backups: limit(Resource::Backups),
            port_count: limit(Resource::PortCount),
            tunnel_port_count: limit(Resource::TunnelPortCount),
            email_daily_limit: limit(Resource::EmailDailyLimit),
            email_queue_limit: limit(Resource::EmailQueueLimit),
            server_create: spec.server_permissions().create,
            server_update: spec.server_permissions().update,
            server_delete: spec.server_permissions().delete,
            site_create: spec.site_permissions().create,
            site_update: spec.site_permissions().update,
            site_delete: spec.site_permissions().delete,
            features: serde_json::Value::Object(spec.features().clone()).to_string(),
            hidden: spec.hidden(),
            is_default: spec.is_default(),
            stripe_plan_id: spec.stripe_plan_id().map(str::to_owned),
            updated_at: now,
        }
    }
}

impl TryFrom<PlanRow> for Plan {
    type Error = RepoError;

    fn try_from(row: PlanRow) -> Result<Plan, RepoError> {
        let corrupt =
            |what: &str| RepoError::internal(format!("plan {} has corrupt {what}", row.id));
        let id = PlanId::new(row.id).ok_or_else(|| corrupt("id"))?;
        let mut limits = Limits::unlimited();
        for (resource, raw) in [
            (Resource::Memory, row.memory),
            (Resource::Disk, row.disk),
            (Resource::Cpu, row.cpu),
            (Resource::Servers, row.servers),
            (Resource::Sites, row.sites),
            (Resource::Databases, row.databases),
            (Resource::Backups, row.backups),
            (Resource::PortCount, row.port_count),
            (Resource::TunnelPortCount, row.tunnel_port_count),
            (Resource::EmailDailyLimit, row.email_daily_limit),
            (Resource::EmailQueueLimit, row.email_queue_limit),
        ] {
            limits.set(
                resource,
                Limit::from_stored(raw).ok_or_else(|| corrupt(resource.key()))?,
            );
        }
        let features = match serde_json::from_str(&row.features) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => return Err(corrupt("features")),
        };
        let currency =
            tariff_domain::Currency::from_code(&row.currency).map_err(|_| corrupt("currency"))?;
        let text = |minor: i64| tariff_domain::Money::from_minor(minor, currency).to_fixed_string();
        let spec = PlanSpec::new(PlanDraft {
            name: row.name.clone(),
            plan_type: row.plan_type.clone(),
            description: row.description.clone(),
            currency: row.currency.clone(),
            price: text(row.price_monthly_minor),
            price_hourly: text(row.price_hourly_minor),
            price_yearly: text(row.price_yearly_minor),
            limits,
            server_permissions: Permissions {
                create: row.server_create,
                update: row.server_update,
                delete: row.server_delete,
            },
            site_permissions: Permissions {
                create: row.site_create,
                update: row.site_update,
                delete: row.site_delete,
            },
            features,
            hidden: row.hidden,
            is_default: row.is_default,
            stripe_plan_id: row.stripe_plan_id.clone(),
        })
        .map_err(|e| RepoError::internal(format!("plan {} no longer validates: {e}", row.id)))?;
        Ok(Plan::new(id, spec, row.created_at.and_utc()))
    }
}
