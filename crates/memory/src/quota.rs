//! `QuotaRepository` in memory: effective limits (active plan order, else the default
//! plan, with overrides on top), usage counters, and the ledger. A change runs whole
//! under the store's lock: the idempotency key is looked up, the daily counter reset,
//! the domain's [`decide`] applied to the numbers as they are, and the answer stored
//! under the key, with nothing else in between.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::NaiveDate;
use tariff_domain::audit::{AuditEntry, UsageChangeSnapshot, UsageLevelSnapshot};
use tariff_domain::orders::OrderStatus;
use tariff_domain::quota::{
    decide, resets_daily, Decision, EffectiveLimits, LedgerAnswer, LedgerRequest, PlanBasis,
    PlanSource, QuotaRepository, QuotaSnapshot, Usage, UsageLevel, UsageOutcome, MAX_USAGE,
};
use tariff_domain::{AccountRef, Limit, Plan, RepoError, Resource};

use crate::state::{Counter, State, StoredAnswer};
use crate::MemoryStore;

fn basis(plan: &Plan, source: PlanSource) -> PlanBasis {
    PlanBasis {
        plan_id: plan.id(),
        name: plan.name().to_owned(),
        source,
        limits: *plan.limits(),
        server_permissions: plan.server_permissions(),
        site_permissions: plan.site_permissions(),
    }
}

impl State {
    fn effective_limits(&self, account: AccountRef) -> EffectiveLimits {
        let active = self
            .orders
            .values()
            .rev()
            .find(|o| o.account() == account && o.status() == OrderStatus::Active)
            .and_then(|order| self.plans.get(&order.plan_id().get()))
            .map(|plan| basis(plan, PlanSource::ActiveOrder));
        let plan = active.or_else(|| {
            self.plans
                .values()
                .find(|p| p.is_default())
                .map(|plan| basis(plan, PlanSource::DefaultPlan))
        });
        let overrides: BTreeMap<Resource, Limit> = self
            .overrides
            .iter()
            .filter(|((owner, _), _)| *owner == account)
            .map(|((_, resource), limit)| (*resource, *limit))
            .collect();
        EffectiveLimits::new(plan, overrides)
    }

    /// Today's usage of a counter: a daily counter last touched on another day reads 0.
    fn used_today(counter: Counter, resource: Resource, today: NaiveDate) -> u64 {
        if resets_daily(resource) && counter.period_day != Some(today) {
            0
        } else {
            counter.used
        }
    }

    fn apply_change(
        &mut self,
        request: &LedgerRequest,
        audit: Option<AuditEntry>,
    ) -> Result<LedgerAnswer, RepoError> {
        let account = request.account;
        let change = request.change;
        let resource = change.resource();
        if !self.account_exists(account) {
            return Err(RepoError::NotFound);
        }
        let key = request
            .idempotency_key
            .as_ref()
            .map(|k| (account, k.as_str().to_owned()));
        if let Some(first) = key.as_ref().and_then(|k| self.idempotency.get(k)) {
            let same_request = first.resource == resource && first.delta == change.delta();
            return Ok(if same_request {
                LedgerAnswer::Replayed(first.outcome)
            } else {
                LedgerAnswer::KeyReused
            });
        }
        let stored = self
            .usage
            .get(&(account, resource))
            .copied()
            .unwrap_or_default();
        let used = State::used_today(stored, resource, request.today);
        let limits = self.effective_limits(account);
        let outcome = match decide(&limits, change, used) {
            Decision::Refuse(outcome) => outcome,
            Decision::Apply(allowance) => {
                let after = used
                    .checked_add_signed(change.delta())
                    .filter(|after| *after <= MAX_USAGE)
                    .ok_or_else(|| RepoError::internal("a granted change left the usage range"))?;
                let period_day = resets_daily(resource).then_some(request.today);
                self.usage.insert(
                    (account, resource),
                    Counter {
                        used: after,
                        period_day,
                    },
                );
                self.record(audit.map(|entry| {
                    entry
                        .with_before(UsageLevelSnapshot {
                            resource: resource.key().to_owned(),
                            used,
                        })
                        .with_after(UsageChangeSnapshot {
                            resource: resource.key().to_owned(),
                            used: after,
                            delta: change.delta(),
                            idempotency_key: request
                                .idempotency_key
                                .as_ref()
                                .map(|k| k.as_str().to_owned()),
                        })
                }))?;
                UsageOutcome::Applied(UsageLevel {
                    resource,
                    used: after,
                    allowance,
                })
            }
        };
        if let Some(key) = key {
            self.idempotency.insert(
                key,
                StoredAnswer {
                    resource,
                    delta: change.delta(),
                    outcome,
                },
            );
        }
        Ok(LedgerAnswer::Fresh(outcome))
    }
}

#[async_trait]
impl QuotaRepository for MemoryStore {
    async fn snapshot(
        &self,
        account: AccountRef,
        today: NaiveDate,
    ) -> Result<QuotaSnapshot, RepoError> {
        self.with(|state| {
            if !state.account_exists(account) {
                return Err(RepoError::NotFound);
            }
            let mut usage = Usage::new();
            for ((owner, resource), counter) in &state.usage {
                if *owner == account {
                    usage.set(*resource, State::used_today(*counter, *resource, today));
                }
            }
            Ok(QuotaSnapshot {
                limits: state.effective_limits(account),
                usage,
            })
        })
    }

    async fn set_overrides(
        &self,
        account: AccountRef,
        changes: Vec<(Resource, Option<Limit>)>,
        audit: Option<AuditEntry>,
    ) -> Result<EffectiveLimits, RepoError> {
        self.with(|state| {
            if !state.account_exists(account) {
                return Err(RepoError::NotFound);
            }
            let before = state.effective_limits(account).audit_state();
            for (resource, limit) in changes {
                match limit {
                    Some(limit) => state.overrides.insert((account, resource), limit),
                    None => state.overrides.remove(&(account, resource)),
                };
            }
            let limits = state.effective_limits(account);
            state.record(audit.map(|a| a.with_before(before).with_after(limits.audit_state())))?;
            Ok(limits)
        })
    }

    async fn change_usage(
        &self,
        request: LedgerRequest,
        audit: Option<AuditEntry>,
    ) -> Result<LedgerAnswer, RepoError> {
        self.with(|state| state.apply_change(&request, audit))
    }
}
