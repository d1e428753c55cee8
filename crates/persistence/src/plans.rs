//! `PlanRepository` on diesel: row structs, their conversion to domain plans, queries.

use async_trait::async_trait;
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use tariff_domain::audit::AuditEntry;
use tariff_domain::catalogue::{ImportOutcome, PlanRepository};
use tariff_domain::shared::ConflictKind;
use tariff_domain::{
    Limit, Limits, Page, PageRequest, Permissions, Plan, PlanDraft, PlanId, PlanSpec, RepoError,
    Resource,
};

use crate::audit::record_audit;
use crate::db::{sql_bounds, Database};
use crate::errors::DbError;
use crate::literals;
use crate::schema::{counters, orders, plans};
use crate::{read_snapshot, transaction, with_conn};

/// Bumps a version counter inside the writing transaction, so every instance's cache
/// sees the change on its next poll. A macro: the statement compiles once per backend.
macro_rules! bump_counter {
    ($c:expr, $name:expr) => {
        diesel::update(counters::table.filter(counters::name.eq($name)))
            .set(counters::value.eq(counters::value + 1_i64))
            .execute($c)
            .map(|_| ())
    };
}

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
struct PlanChanges {
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
    fn from_spec(spec: &PlanSpec, now: NaiveDateTime) -> PlanChanges {
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

fn to_plans(rows: Vec<PlanRow>) -> Result<Vec<Plan>, RepoError> {
    rows.into_iter().map(Plan::try_from).collect()
}

/// Diesel-backed plan repository for both backends.
#[derive(Clone)]
pub struct DieselPlanRepository {
    db: Database,
}

impl DieselPlanRepository {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl PlanRepository for DieselPlanRepository {
    async fn list(&self, include_hidden: bool) -> Result<Vec<Plan>, RepoError> {
        let rows = self
            .db
            .query(move |conn| {
                with_conn!(conn, c => {
                    let mut q = plans::table.select(PlanRow::as_select()).into_boxed();
                    if !include_hidden {
                        q = q.filter(plans::hidden.eq(false));
                    }
                    q.order((plans::price_monthly_minor.asc(), plans::id.asc()))
                        .load(c)
                        .map_err(DbError::from)
                })
            })
            .await?;
        to_plans(rows)
    }

    async fn page_by_id(
        &self,
        include_hidden: bool,
        request: PageRequest,
    ) -> Result<Page<Plan>, RepoError> {
        let (offset, limit) = sql_bounds(request);
        let (rows, total) = self
            .db
            .query(move |conn| {
                read_snapshot!(conn, c => {
                    let mut count = plans::table.into_boxed();
                    if !include_hidden {
                        count = count.filter(plans::hidden.eq(false));
                    }
                    let total: i64 = count.count().get_result(c)?;
                    if offset >= total {
                        return Ok((Vec::new(), total));
                    }
                    let mut q = plans::table.select(PlanRow::as_select()).into_boxed();
                    if !include_hidden {
                        q = q.filter(plans::hidden.eq(false));
                    }
                    let rows: Vec<PlanRow> = q.order(plans::id.asc()).offset(offset).limit(limit).load(c)?;
                    Ok((rows, total))
                })
            })
            .await?;
        let total = u64::try_from(total).map_err(|_| RepoError::internal("negative plan count"))?;
        Ok(Page::new(to_plans(rows)?, total))
    }

    async fn get(&self, id: PlanId) -> Result<Plan, RepoError> {
        let row = self
            .db
            .query(move |conn| {
                with_conn!(conn, c => plans::table
                    .find(id.get())
                    .select(PlanRow::as_select())
                    .get_result(c)
                    .map_err(DbError::from))
            })
            .await?;
        Plan::try_from(row)
    }

    async fn default_plan(&self) -> Result<Option<Plan>, RepoError> {
        let row = self
            .db
            .query(move |conn| {
                with_conn!(conn, c => plans::table
                    .filter(plans::is_default.eq(literals::True))
                    .select(PlanRow::as_select())
                    .get_result(c)
                    .optional()
                    .map_err(DbError::from))
            })
            .await?;
        row.map(Plan::try_from).transpose()
    }

    async fn create(&self, spec: PlanSpec, audit: Option<AuditEntry>) -> Result<Plan, RepoError> {
        self.db
            .write(move |conn| {
                transaction!(conn, c => {
                    let now = Utc::now().naive_utc();
                    if spec.is_default() {
                        diesel::update(plans::table.filter(plans::is_default.eq(literals::True)))
                            .set(plans::is_default.eq(false))
                            .execute(c)?;
                    }
                    let row: PlanRow = diesel::insert_into(plans::table)
                        .values((PlanChanges::from_spec(&spec, now), plans::created_at.eq(now)))
                        .returning(PlanRow::as_returning())
                        .get_result(c)
                        ?;
                    bump_counter!(c, "catalogue")?;
                    let plan = Plan::try_from(row)?;
                    let audit = audit.map(|a| a.with_target_id(plan.id().get()).with_after(plan.audit_state()));
                    record_audit!(c, &audit)?;
                    Ok(plan)
                })
            })
            .await
    }

    async fn update(
        &self,
        id: PlanId,
        spec: PlanSpec,
        audit: Option<AuditEntry>,
    ) -> Result<Plan, RepoError> {
        self.db
            .write(move |conn| {
                transaction!(conn, c => {
                    let now = Utc::now().naive_utc();
                    let before = match &audit {
                        Some(_) => plans::table
                            .find(id.get())
                            .select(PlanRow::as_select())
                            .get_result(c)
                            .optional()?,
                        None => None,
                    };
                    if spec.is_default() {
                        diesel::update(plans::table.filter(plans::is_default.eq(literals::True)).filter(plans::id.ne(id.get())))
                            .set(plans::is_default.eq(false))
                            .execute(c)?;
                    }
                    let row: PlanRow = diesel::update(plans::table.find(id.get()))
                        .set(PlanChanges::from_spec(&spec, now))
                        .returning(PlanRow::as_returning())
                        .get_result(c)
                        ?;
                    bump_counter!(c, "catalogue")?;
                    let plan = Plan::try_from(row)?;
                    let audit = match (audit, before) {
                        (Some(entry), Some(before)) => Some(
                            entry
                                .with_before(Plan::try_from(before)?.audit_state())
                                .with_after(plan.audit_state()),
                        ),
                        _ => None,
                    };
                    record_audit!(c, &audit)?;
                    Ok(plan)
                })
            })
            .await
    }

    async fn delete(&self, id: PlanId, audit: Option<AuditEntry>) -> Result<(), RepoError> {
        self.db
            .write(move |conn| {
                transaction!(conn, c => {
                    let referenced: i64 = orders::table
                        .filter(orders::plan_id.eq(id.get()))
                        .count()
                        .get_result(c)?;
                    if referenced > 0 {
                        return Err(DbError::Repo(RepoError::Conflict(
                            ConflictKind::StillReferenced {
                                count: referenced.unsigned_abs(),
                            },
                        )));
                    }
                    let deleted: Option<PlanRow> = diesel::delete(plans::table.find(id.get()))
                        .returning(PlanRow::as_returning())
                        .get_result(c)
                        .optional()?;
                    let Some(deleted) = deleted else {
                        return Err(DbError::Repo(RepoError::NotFound));
                    };
                    bump_counter!(c, "catalogue")?;
                    let audit = audit.map(|a| Plan::try_from(deleted).map(|plan| a.with_before(plan.audit_state()))).transpose()?;
                    record_audit!(c, &audit)?;
                    Ok(())
                })
            })
            .await
    }

    async fn upsert_by_name(
        &self,
        specs: Vec<PlanSpec>,
        audit: Option<AuditEntry>,
    ) -> Result<ImportOutcome, RepoError> {
        self.db
            .write(move |conn| {
                transaction!(conn, c => {
                    let now = Utc::now().naive_utc();
                    let mut outcome = ImportOutcome::default();
                    if specs.iter().any(PlanSpec::is_default) {
                        diesel::update(plans::table.filter(plans::is_default.eq(literals::True)))
                            .set(plans::is_default.eq(false))
                            .execute(c)?;
                    }
                    for spec in &specs {
                        let existing: Option<PlanRow> = plans::table
                            .filter(lower(plans::name).eq(spec.name().to_lowercase()))
                            .select(PlanRow::as_select())
                            .get_result(c)
                            .optional()?;
                        let changes = PlanChanges::from_spec(spec, now);
                        let (before, after): (Option<PlanRow>, PlanRow) = match existing {
                            Some(before) => {
                                let after = diesel::update(plans::table.find(before.id))
                                    .set(changes)
                                    .returning(PlanRow::as_returning())
                                    .get_result(c)?;
                                outcome.updated += 1;
                                (Some(before), after)
                            }
                            None => {
                                let after = diesel::insert_into(plans::table)
                                    .values((changes, plans::created_at.eq(now)))
                                    .returning(PlanRow::as_returning())
                                    .get_result(c)
                                    ?;
                                outcome.created += 1;
                                (None, after)
                            }
                        };
                        // One audit row per plan the import touched.
                        if let Some(entry) = &audit {
                            let after = Plan::try_from(after)?;
                            let mut entry = entry
                                .clone()
                                .with_target_id(after.id().get())
                                .with_after(after.audit_state());
                            if let Some(before) = before {
                                entry = entry.with_before(Plan::try_from(before)?.audit_state());
                            }
                            record_audit!(c, &Some(entry))?;
                        }
                    }
                    bump_counter!(c, "catalogue")?;
                    Ok(outcome)
                })
            })
            .await
    }

    async fn create_if_catalogue_empty(&self, spec: PlanSpec) -> Result<bool, RepoError> {
        self.db
            .write(move |conn| {
                transaction!(conn, c => {
                    let count: i64 = plans::table.count().get_result(c)?;
                    if count > 0 {
                        return Ok(false);
                    }
                    let now = Utc::now().naive_utc();
                    diesel::insert_into(plans::table)
                        .values((PlanChanges::from_spec(&spec, now), plans::created_at.eq(now)))
                        .execute(c)?;
                    bump_counter!(c, "catalogue")?;
                    Ok(true)
                })
            })
            .await
    }

    async fn catalogue_version(&self) -> Result<i64, RepoError> {
        self.db
            .query(|conn| {
                with_conn!(conn, c => counters::table
                    .find("catalogue")
                    .select(counters::value)
                    .get_result(c)
                    .map_err(DbError::from))
            })
            .await
    }
}

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);
