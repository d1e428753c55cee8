//! `PlanRepository` on diesel.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use diesel::OptionalExtension;
use tariff_domain::audit::AuditEntry;
use tariff_domain::catalogue::{ImportOutcome, PlanRepository};
use tariff_domain::shared::ConflictKind;
use tariff_domain::webhooks::{EventDraft, EventPayloads, EventType};
use tariff_domain::{Page, PageRequest, Plan, PlanId, PlanSpec, RepoError};

use super::queries;
use super::rows::PlanRow;
use crate::audit;
use crate::db::{sql_bounds, Database, DbConn};
use crate::errors::DbError;
use crate::webhooks::store_event;

fn to_plans(rows: Vec<PlanRow>) -> Result<Vec<Plan>, RepoError> {
    rows.into_iter().map(Plan::try_from).collect()
}

/// Diesel-backed plan repository for both backends.
#[derive(Clone)]
pub struct DieselPlanRepository {
    db: Database,
    events: Option<Arc<dyn EventPayloads>>,
}

impl DieselPlanRepository {
    /// A repository that emits no webhook events (commands and tests that do not
    /// serve).
    pub fn new(db: Database) -> Self {
        Self { db, events: None }
    }

    /// A repository whose writes store `plan.created`, `plan.updated` and
    /// `plan.deleted` in their own transactions, with `payloads`' plan JSON as data.
    pub fn with_events(db: Database, payloads: Arc<dyn EventPayloads>) -> Self {
        Self {
            db,
            events: Some(payloads),
        }
    }
}

/// Stores a `plan.*` event for `plan` in the open transaction, when events are on.
fn emit(
    c: &mut DbConn<'_>,
    payloads: Option<&Arc<dyn EventPayloads>>,
    event: EventType,
    plan: &Plan,
) -> Result<(), DbError> {
    let Some(payloads) = payloads else {
        return Ok(());
    };
    let draft = EventDraft::new(event, None, payloads.plan(plan))
        .map_err(|e| RepoError::internal(e.to_string()))?;
    store_event(c, draft, Utc::now())?;
    Ok(())
}

#[async_trait]
impl PlanRepository for DieselPlanRepository {
    async fn list(&self, include_hidden: bool) -> Result<Vec<Plan>, RepoError> {
        let rows = self
            .db
            .query(move |c| Ok(queries::list(c, include_hidden)?))
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
                conn.read_snapshot(|c| {
                    let total = queries::count(c, include_hidden)?;
                    if offset >= total {
                        return Ok((Vec::new(), total));
                    }
                    Ok((
                        queries::page_by_id(c, include_hidden, offset, limit)?,
                        total,
                    ))
                })
            })
            .await?;
        let total = u64::try_from(total).map_err(|_| RepoError::internal("negative plan count"))?;
        Ok(Page::new(to_plans(rows)?, total))
    }

    async fn get(&self, id: PlanId) -> Result<Plan, RepoError> {
        let row = self
            .db
            .query(move |c| Ok(queries::get(c, id.get())?))
            .await?;
        Plan::try_from(row)
    }

    async fn default_plan(&self) -> Result<Option<Plan>, RepoError> {
        let row = self
            .db
            .query(move |c| Ok(queries::default_plan(c)?))
            .await?;
        row.map(Plan::try_from).transpose()
    }

    async fn create(&self, spec: PlanSpec, audit: Option<AuditEntry>) -> Result<Plan, RepoError> {
        let events = self.events.clone();
        self.db
            .write(move |conn| {
                conn.write_transaction(|c| {
                    let now = Utc::now().naive_utc();
                    if spec.is_default() {
                        queries::clear_default(c, None)?;
                    }
                    let row = queries::insert(c, &spec, now)?;
                    queries::bump_catalogue_version(c)?;
                    let plan = Plan::try_from(row)?;
                    emit(c, events.as_ref(), EventType::PlanCreated, &plan)?;
                    let audit = audit.map(|a| {
                        a.with_target_id(plan.id().get())
                            .with_after(plan.audit_state())
                    });
                    audit::record(c, audit.as_ref())?;
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
        let events = self.events.clone();
        self.db
            .write(move |conn| {
                conn.write_transaction(|c| {
                    let now = Utc::now().naive_utc();
                    let before = match &audit {
                        Some(_) => queries::get(c, id.get()).optional()?,
                        None => None,
                    };
                    if spec.is_default() {
                        queries::clear_default(c, Some(id.get()))?;
                    }
                    let row = queries::update(c, id.get(), &spec, now)?;
                    queries::bump_catalogue_version(c)?;
                    let plan = Plan::try_from(row)?;
                    emit(c, events.as_ref(), EventType::PlanUpdated, &plan)?;
                    let audit = match (audit, before) {
                        (Some(entry), Some(before)) => Some(
                            entry
                                .with_before(Plan::try_from(before)?.audit_state())
                                .with_after(plan.audit_state()),
                        ),
                        _ => None,
                    };
                    audit::record(c, audit.as_ref())?;
                    Ok(plan)
                })
            })
            .await
    }

    async fn delete(&self, id: PlanId, audit: Option<AuditEntry>) -> Result<(), RepoError> {
        let events = self.events.clone();
        self.db
            .write(move |conn| {
                conn.write_transaction(|c| {
                    let referenced = queries::orders_of(c, id.get())?;
                    if referenced > 0 {
                        return Err(DbError::Repo(RepoError::Conflict(
                            ConflictKind::StillReferenced {
                                count: referenced.unsigned_abs(),
                            },
                        )));
                    }
                    let Some(deleted) = queries::delete(c, id.get())? else {
                        return Err(DbError::Repo(RepoError::NotFound));
                    };
                    queries::bump_catalogue_version(c)?;
                    let deleted = Plan::try_from(deleted)?;
                    emit(c, events.as_ref(), EventType::PlanDeleted, &deleted)?;
                    let audit = audit.map(|a| a.with_before(deleted.audit_state()));
                    audit::record(c, audit.as_ref())?;
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
        let events = self.events.clone();
        self.db
            .write(move |conn| {
                conn.write_transaction(|c| {
                    let now = Utc::now().naive_utc();
                    let mut outcome = ImportOutcome::default();
                    if specs.iter().any(PlanSpec::is_default) {
                        queries::clear_default(c, None)?;
                    }
                    for spec in &specs {
                        let (before, after) = match queries::find_by_name(c, spec.name())? {
                            Some(before) => {
                                let after = queries::update(c, before.id, spec, now)?;
                                outcome.updated += 1;
                                emit(
                                    c,
                                    events.as_ref(),
                                    EventType::PlanUpdated,
                                    &Plan::try_from(after.clone())?,
                                )?;
                                (Some(before), after)
                            }
                            None => {
                                let after = queries::insert(c, spec, now)?;
                                outcome.created += 1;
                                emit(
                                    c,
                                    events.as_ref(),
                                    EventType::PlanCreated,
                                    &Plan::try_from(after.clone())?,
                                )?;
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
                            audit::record(c, Some(&entry))?;
                        }
                    }
                    queries::bump_catalogue_version(c)?;
                    Ok(outcome)
                })
            })
            .await
    }

    async fn create_if_catalogue_empty(&self, spec: PlanSpec) -> Result<bool, RepoError> {
        self.db
            .write(move |conn| {
                conn.write_transaction(|c| {
                    if queries::count(c, true)? > 0 {
                        return Ok(false);
                    }
                    queries::insert_quietly(c, &spec, Utc::now().naive_utc())?;
                    queries::bump_catalogue_version(c)?;
                    Ok(true)
                })
            })
            .await
    }

    async fn catalogue_version(&self) -> Result<i64, RepoError> {
        self.db.query(|c| Ok(queries::catalogue_version(c)?)).await
    }
}
