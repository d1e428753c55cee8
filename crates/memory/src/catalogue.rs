//! `PlanRepository` in memory: names unique case-insensitively, one default plan, a
//! catalogue version bumped by every write.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::Utc;
use tariff_domain::audit::AuditEntry;
use tariff_domain::catalogue::{ImportOutcome, PlanRepository};
use tariff_domain::{ConflictKind, Page, PageRequest, Plan, PlanId, PlanSpec, RepoError};

use crate::state::State;
use crate::MemoryStore;

fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// The plan (other than `except`) whose name matches `name` case-insensitively.
fn named<'a>(plans: &'a BTreeMap<i64, Plan>, name: &str, except: Option<i64>) -> Option<&'a Plan> {
    let key = name_key(name);
    plans
        .values()
        .find(|plan| Some(plan.id().get()) != except && name_key(plan.name()) == key)
}

/// Takes the default flag from every plan but `except` (a default spec takes it).
fn clear_defaults(plans: &mut BTreeMap<i64, Plan>, except: Option<i64>) -> Result<(), RepoError> {
    let holders: Vec<i64> = plans
        .values()
        .filter(|plan| plan.is_default() && Some(plan.id().get()) != except)
        .map(|plan| plan.id().get())
        .collect();
    for id in holders {
        if let Some(plan) = plans.get(&id) {
            let mut draft = plan.spec().to_draft();
            draft.is_default = false;
            let spec = PlanSpec::new(draft).map_err(|e| RepoError::Internal(Box::new(e)))?;
            let cleared = Plan::new(plan.id(), spec, plan.created_at());
            plans.insert(id, cleared);
        }
    }
    Ok(())
}

fn plan_id(raw: i64) -> Result<PlanId, RepoError> {
    PlanId::new(raw).ok_or_else(|| RepoError::internal("plan ids start at 1"))
}

fn visible(plan: &Plan, include_hidden: bool) -> bool {
    include_hidden || !plan.hidden()
}

impl State {
    fn insert_plan(
        &mut self,
        plans: &mut BTreeMap<i64, Plan>,
        spec: PlanSpec,
    ) -> Result<Plan, RepoError> {
        let id = plan_id(self.next_id("plans"))?;
        let plan = Plan::new(id, spec, Utc::now());
        plans.insert(id.get(), plan.clone());
        Ok(plan)
    }
}

#[async_trait]
impl PlanRepository for MemoryStore {
    async fn list(&self, include_hidden: bool) -> Result<Vec<Plan>, RepoError> {
        self.with(|state| {
            let mut plans: Vec<Plan> = state
                .plans
                .values()
                .filter(|plan| visible(plan, include_hidden))
                .cloned()
                .collect();
            plans.sort_by_key(|plan| (plan.price().minor(), plan.id()));
            Ok(plans)
        })
    }

    async fn page_by_id(
        &self,
        include_hidden: bool,
        request: PageRequest,
    ) -> Result<Page<Plan>, RepoError> {
        self.with(|state| {
            let matching = state.plans.values().filter(|p| visible(p, include_hidden));
            Ok(page_of(matching.cloned(), request))
        })
    }

    async fn get(&self, id: PlanId) -> Result<Plan, RepoError> {
        self.with(|state| {
            state
                .plans
                .get(&id.get())
                .cloned()
                .ok_or(RepoError::NotFound)
        })
    }

    async fn default_plan(&self) -> Result<Option<Plan>, RepoError> {
        self.with(|state| Ok(state.plans.values().find(|p| p.is_default()).cloned()))
    }

    async fn create(&self, spec: PlanSpec, audit: Option<AuditEntry>) -> Result<Plan, RepoError> {
        self.with(|state| {
            if named(&state.plans, spec.name(), None).is_some() {
                return Err(RepoError::Conflict(ConflictKind::NameTaken));
            }
            let mut plans = state.plans.clone();
            if spec.is_default() {
                clear_defaults(&mut plans, None)?;
            }
            let plan = state.insert_plan(&mut plans, spec)?;
            state.plans = plans;
            state.catalogue_version += 1;
            state.record(audit.map(|a| {
                a.with_target_id(plan.id().get())
                    .with_after(plan.audit_state())
            }))?;
            Ok(plan)
        })
    }

    async fn update(
        &self,
        id: PlanId,
        spec: PlanSpec,
        audit: Option<AuditEntry>,
    ) -> Result<Plan, RepoError> {
        self.with(|state| {
            let before = state
                .plans
                .get(&id.get())
                .cloned()
                .ok_or(RepoError::NotFound)?;
            if named(&state.plans, spec.name(), Some(id.get())).is_some() {
                return Err(RepoError::Conflict(ConflictKind::NameTaken));
            }
            let mut plans = state.plans.clone();
            if spec.is_default() {
                clear_defaults(&mut plans, Some(id.get()))?;
            }
            let plan = Plan::new(id, spec, before.created_at());
            plans.insert(id.get(), plan.clone());
            state.plans = plans;
            state.catalogue_version += 1;
            state.record(audit.map(|a| {
                a.with_before(before.audit_state())
                    .with_after(plan.audit_state())
            }))?;
            Ok(plan)
        })
    }

    async fn delete(&self, id: PlanId, audit: Option<AuditEntry>) -> Result<(), RepoError> {
        self.with(|state| {
            let referenced = state.orders.values().filter(|o| o.plan_id() == id).count();
            if referenced > 0 {
                return Err(RepoError::Conflict(ConflictKind::StillReferenced {
                    count: referenced as u64,
                }));
            }
            let deleted = state.plans.remove(&id.get()).ok_or(RepoError::NotFound)?;
            state.catalogue_version += 1;
            state.record(audit.map(|a| a.with_before(deleted.audit_state())))?;
            Ok(())
        })
    }

    async fn upsert_by_name(
        &self,
        specs: Vec<PlanSpec>,
        audit: Option<AuditEntry>,
    ) -> Result<ImportOutcome, RepoError> {
        self.with(|state| {
            // Worked on a copy, committed at the end: all or nothing.
            let mut plans = state.plans.clone();
            let mut outcome = ImportOutcome::default();
            let mut entries = Vec::new();
            if specs.iter().any(PlanSpec::is_default) {
                clear_defaults(&mut plans, None)?;
            }
            for spec in specs {
                let (before, after) = match named(&plans, spec.name(), None).cloned() {
                    Some(before) => {
                        let after = Plan::new(before.id(), spec, before.created_at());
                        plans.insert(after.id().get(), after.clone());
                        outcome.updated += 1;
                        (Some(before), after)
                    }
                    None => {
                        outcome.created += 1;
                        (None, state.insert_plan(&mut plans, spec)?)
                    }
                };
                if let Some(entry) = &audit {
                    let mut entry = entry
                        .clone()
                        .with_target_id(after.id().get())
                        .with_after(after.audit_state());
                    if let Some(before) = before {
                        entry = entry.with_before(before.audit_state());
                    }
                    entries.push(entry);
                }
            }
            if plans.values().filter(|p| p.is_default()).count() > 1 {
                return Err(RepoError::Conflict(ConflictKind::RaceLost));
            }
            state.plans = plans;
            state.catalogue_version += 1;
            for entry in entries {
                state.record(Some(entry))?;
            }
            Ok(outcome)
        })
    }

    async fn create_if_catalogue_empty(&self, spec: PlanSpec) -> Result<bool, RepoError> {
        self.with(|state| {
            if !state.plans.is_empty() {
                return Ok(false);
            }
            let mut plans = BTreeMap::new();
            state.insert_plan(&mut plans, spec)?;
            state.plans = plans;
            state.catalogue_version += 1;
            Ok(true)
        })
    }

    async fn catalogue_version(&self) -> Result<i64, RepoError> {
        self.with(|state| Ok(state.catalogue_version))
    }
}

/// One page of `items` (already in order) and their total.
pub(crate) fn page_of<T>(items: impl Iterator<Item = T>, request: PageRequest) -> Page<T> {
    let all: Vec<T> = items.collect();
    let total = all.len() as u64;
    let offset = usize::try_from(request.offset()).unwrap_or(usize::MAX);
    let limit = usize::try_from(request.limit()).unwrap_or(usize::MAX);
    Page::new(all.into_iter().skip(offset).take(limit).collect(), total)
}
