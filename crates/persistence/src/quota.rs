//! `QuotaRepository` on diesel: effective limits (active plan order, else the default
//! plan, with `limit_overrides` on top), usage counters, and the atomic ledger change.
//!
//! A change is ONE transaction: `BEGIN IMMEDIATE` on SQLite (writers queue on the lock),
//! `SELECT ... FOR UPDATE` of the counter row on PostgreSQL. Inside it the limit is read,
//! the domain's rules decide, and a conditional `UPDATE` holds the limit in the database
//! itself; the answer is stored under the idempotency key in the same transaction.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{NaiveDate, NaiveDateTime};
use diesel::dsl::exists;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sqlite::SqliteConnection;
use serde_json::{json, Value};
use tariff_domain::audit::{AuditEntry, UsageChangeSnapshot, UsageLevelSnapshot};
use tariff_domain::quota::{
    decide, resets_daily, Allowance, Decision, EffectiveLimits, LedgerAnswer, LedgerRequest,
    PlanBasis, PlanSource, QuotaRepository, QuotaSnapshot, Refusal, Usage, UsageChange, UsageLevel,
    UsageOutcome, MAX_USAGE,
};
use tariff_domain::shared::ConflictKind;
use tariff_domain::{AccountRef, Limit, Plan, RepoError, Resource};

use crate::audit::record_audit;
use crate::db::Database;
use crate::errors::DbError;
use crate::literals;
use crate::plans::PlanRow;
use crate::schema::{idempotency_keys, limit_overrides, orders, organisations, plans};
use crate::schema::{usage_counters, users};
use crate::statements::statement;
use crate::{transaction, with_conn};

statement! {
    /// Adds `delta` to a counter if `used` lies in `[floor, ceiling]`; returns the new
    /// `used`, or no row when the database refuses.
    ApplyDelta -> diesel::sql_types::BigInt {
        account_kind: &'static str,
        account_id: i64,
        resource: &'static str,
        delta: i64,
        floor: i64,
        ceiling: i64,
        updated_at: NaiveDateTime,
    }
    [
        "UPDATE usage_counters SET used = used + " (delta: BigInt) ", updated_at = "
        (updated_at: Timestamp) " WHERE account_kind = " (account_kind: Text)
        " AND account_id = " (account_id: BigInt) " AND resource = " (resource: Text)
        " AND used BETWEEN " (floor: BigInt) " AND " (ceiling: BigInt) " RETURNING used"
    ]
}

fn day_text(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

fn corrupt(what: impl Into<String>) -> DbError {
    DbError::Repo(RepoError::internal(what))
}

fn stored_usage(raw: i64) -> Result<u64, DbError> {
    u64::try_from(raw).map_err(|_| corrupt("negative usage counter"))
}

fn stored(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn plan_basis(row: PlanRow, source: PlanSource) -> Result<PlanBasis, DbError> {
    let plan = Plan::try_from(row)?;
    Ok(PlanBasis {
        plan_id: plan.id(),
        name: plan.name().to_owned(),
        source,
        limits: *plan.limits(),
        server_permissions: plan.server_permissions(),
        site_permissions: plan.site_permissions(),
    })
}

/// The queries, written once and implemented for both connection types by the macro
/// below. Only the row lock differs: `FOR UPDATE` on PostgreSQL; SQLite's
/// `BEGIN IMMEDIATE` already holds the database's write lock.
trait QuotaQueries {
    fn account_exists(&mut self, account: AccountRef) -> Result<bool, DbError>;
    fn effective_limits(&mut self, account: AccountRef) -> Result<EffectiveLimits, DbError>;
    fn usage(&mut self, account: AccountRef, today: NaiveDate) -> Result<Usage, DbError>;
    /// The counter's `used` and `period_day`, locked until the transaction ends; `None`
    /// when the account has no counter for the resource yet.
    fn lock_counter(
        &mut self,
        account: AccountRef,
        resource: Resource,
    ) -> Result<Option<(i64, Option<String>)>, DbError>;
    fn write_overrides(
        &mut self,
        account: AccountRef,
        changes: &[(Resource, Option<Limit>)],
    ) -> Result<(), DbError>;
    /// The body of the ledger's transaction.
    /// Records `audit` (with the usage before and after) when the change is applied.
    fn apply_change(
        &mut self,
        request: &LedgerRequest,
        audit: Option<&AuditEntry>,
    ) -> Result<LedgerAnswer, DbError>;
}

macro_rules! quota_queries {
    ($conn:ty $(, $lock:ident)?) => {
        impl QuotaQueries for $conn {
            fn account_exists(&mut self, account: AccountRef) -> Result<bool, DbError> {
                let found = match account {
                    AccountRef::User(id) => {
                        diesel::select(exists(users::table.find(id.get()))).get_result(self)?
                    }
                    AccountRef::Org(id) => diesel::select(exists(
                        organisations::table.find(id.get()),
                    ))
                    .get_result(self)?,
                };
                Ok(found)
            }

            fn effective_limits(&mut self, account: AccountRef) -> Result<EffectiveLimits, DbError> {
                let active: Option<PlanRow> = orders::table
                    .inner_join(plans::table)
                    .filter(orders::account_kind.eq(account.kind()))
                    .filter(orders::account_id.eq(account.raw_id()))
                    .filter(orders::status.eq(literals::Active))
                    .order(orders::id.desc())
                    .select(PlanRow::as_select())
                    .get_result(self)
                    .optional()?;
                let plan = match active {
                    Some(row) => Some(plan_basis(row, PlanSource::ActiveOrder)?),
                    None => plans::table
                        .filter(plans::is_default.eq(literals::True))
                        .select(PlanRow::as_select())
                        .get_result(self)
                        .optional()?
                        .map(|row| plan_basis(row, PlanSource::DefaultPlan))
                        .transpose()?,
                };
                let rows: Vec<(String, i64)> = limit_overrides::table
                    .filter(limit_overrides::account_kind.eq(account.kind()))
                    .filter(limit_overrides::account_id.eq(account.raw_id()))
                    .select((limit_overrides::resource, limit_overrides::value))
                    .load(self)?;
                let mut overrides = BTreeMap::new();
                for (key, value) in rows {
                    let resource: Resource = key
                        .parse()
                        .map_err(|_| corrupt(format!("override for unknown resource `{key}`")))?;
                    let limit = Limit::from_stored(value)
                        .ok_or_else(|| corrupt(format!("negative override for {key}")))?;
                    overrides.insert(resource, limit);
                }
                Ok(EffectiveLimits::new(plan, overrides))
            }

            fn usage(&mut self, account: AccountRef, today: NaiveDate) -> Result<Usage, DbError> {
                let rows: Vec<(String, i64, Option<String>)> = usage_counters::table
                    .filter(usage_counters::account_kind.eq(account.kind()))
                    .filter(usage_counters::account_id.eq(account.raw_id()))
                    .select((
                        usage_counters::resource,
                        usage_counters::used,
                        usage_counters::period_day,
                    ))
                    .load(self)?;
                let today = day_text(today);
                let mut usage = Usage::new();
                for (key, used, period_day) in rows {
                    let resource: Resource = key
                        .parse()
                        .map_err(|_| corrupt(format!("usage of unknown resource `{key}`")))?;
                    let current = !resets_daily(resource) || period_day.as_deref() == Some(&today);
                    usage.set(resource, if current { stored_usage(used)? } else { 0 });
                }
                Ok(usage)
            }

            fn lock_counter(
                &mut self,
                account: AccountRef,
                resource: Resource,
            ) -> Result<Option<(i64, Option<String>)>, DbError> {
                let row = usage_counters::table
                    .find((account.kind(), account.raw_id(), resource.key()))
                    .select((usage_counters::used, usage_counters::period_day))
                    $(.$lock())?
                    .get_result(self)
                    .optional()?;
                Ok(row)
            }

            fn write_overrides(
                &mut self,
                account: AccountRef,
                changes: &[(Resource, Option<Limit>)],
            ) -> Result<(), DbError> {
                for (resource, limit) in changes {
                    let row = limit_overrides::table.find((
                        account.kind(),
                        account.raw_id(),
                        resource.key(),
                    ));
                    match limit {
                        Some(limit) => {
                            let value = stored(limit.value());
                            diesel::insert_into(limit_overrides::table)
                                .values((
                                    limit_overrides::account_kind.eq(account.kind()),
                                    limit_overrides::account_id.eq(account.raw_id()),
                                    limit_overrides::resource.eq(resource.key()),
                                    limit_overrides::value.eq(value),
                                ))
                                .on_conflict((
                                    limit_overrides::account_kind,
                                    limit_overrides::account_id,
                                    limit_overrides::resource,
                                ))
                                .do_update()
                                .set(limit_overrides::value.eq(value))
                                .execute(self)?;
                        }
                        None => {
                            diesel::delete(row).execute(self)?;
                        }
                    }
                }
                Ok(())
            }

            fn apply_change(
                &mut self,
                request: &LedgerRequest,
                audit: Option<&AuditEntry>,
            ) -> Result<LedgerAnswer, DbError> {
                let account = request.account;
                let change = request.change;
                let resource = change.resource();
                let today = day_text(request.today);
                let now = request.at.naive_utc();
                let daily = resets_daily(resource);
                // An existing counter also proves the account exists: one statement on
                // the common path. A first change creates the row, then locks it.
                let (mut used, period_day) = match self.lock_counter(account, resource)? {
                    Some(row) => row,
                    None => {
                        if !self.account_exists(account)? {
                            return Err(DbError::Repo(RepoError::NotFound));
                        }
                        diesel::insert_into(usage_counters::table)
                            .values((
                                usage_counters::account_kind.eq(account.kind()),
                                usage_counters::account_id.eq(account.raw_id()),
                                usage_counters::resource.eq(resource.key()),
                                usage_counters::used.eq(0_i64),
                                usage_counters::period_day.eq(daily.then(|| today.clone())),
                                usage_counters::updated_at.eq(now),
                            ))
                            .on_conflict((
                                usage_counters::account_kind,
                                usage_counters::account_id,
                                usage_counters::resource,
                            ))
                            .do_nothing()
                            .execute(self)?;
                        self.lock_counter(account, resource)?
                            .ok_or(DbError::Repo(RepoError::NotFound))?
                    }
                };
                // Looked up under the lock: a concurrent twin has committed by now.
                if let Some(key) = &request.idempotency_key {
                    let first: Option<String> = idempotency_keys::table
                        .find((account.kind(), account.raw_id(), key.as_str()))
                        .select(idempotency_keys::response)
                        .get_result(self)
                        .optional()?;
                    if let Some(text) = first {
                        return replay(&text, change);
                    }
                }
                let counter = usage_counters::table.find((
                    account.kind(),
                    account.raw_id(),
                    resource.key(),
                ));
                if daily && period_day.as_deref() != Some(today.as_str()) {
                    diesel::update(counter)
                        .set((
                            usage_counters::used.eq(0_i64),
                            usage_counters::period_day.eq(Some(today.clone())),
                        ))
                        .execute(self)?;
                    used = 0;
                }
                let used = stored_usage(used)?;
                let limits = self.effective_limits(account)?;
                let outcome = match decide(&limits, change, used) {
                    Decision::Refuse(outcome) => outcome,
                    Decision::Apply(allowance) => {
                        // The database holds the rule even if the decision was made on
                        // stale numbers: `used + delta` must land in [0, limit].
                        let (floor, ceiling) = bounds(change, allowance);
                        let after: Option<i64> = ApplyDelta {
                            account_kind: account.kind(),
                            account_id: account.raw_id(),
                            resource: resource.key(),
                            delta: change.delta(),
                            floor,
                            ceiling,
                            updated_at: now,
                        }
                        .get_result(self)
                        .optional()?;
                        match after {
                            Some(after) => {
                                let after = stored_usage(after)?;
                                let audit = audit.map(|entry| {
                                    entry
                                        .clone()
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
                                });
                                record_audit!(self, &audit)?;
                                UsageOutcome::Applied(UsageLevel {
                                    resource,
                                    used: after,
                                    allowance,
                                })
                            }
                            None => refused_by_database(change, allowance, used),
                        }
                    }
                };
                if let Some(key) = &request.idempotency_key {
                    diesel::insert_into(idempotency_keys::table)
                        .values((
                            idempotency_keys::account_kind.eq(account.kind()),
                            idempotency_keys::account_id.eq(account.raw_id()),
                            idempotency_keys::idempotency_key.eq(key.as_str()),
                            idempotency_keys::response.eq(encode(change, &outcome)),
                            idempotency_keys::created_at.eq(now),
                        ))
                        .execute(self)
                        .map_err(|e| match e {
                            // Two requests raced with the same key: the loser's transaction
                            // rolls back and is retried once, then replays the winner's answer.
                            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                                DbError::Repo(RepoError::Conflict(ConflictKind::RaceLost))
                            }
                            other => DbError::from(other),
                        })?;
                }
                Ok(LedgerAnswer::Fresh(outcome))
            }
        }
    };
}

quota_queries!(SqliteConnection);
quota_queries!(PgConnection, for_update);

/// The range `used` must be in for `used + delta` to stay within [0, allowance],
/// written without overflow: `used + delta <= limit` as `used <= limit - delta`.
fn bounds(change: UsageChange, allowance: Allowance) -> (i64, i64) {
    let delta = change.delta();
    if delta < 0 {
        return (-delta, i64::MAX);
    }
    let ceiling = match allowance {
        Allowance::UpTo(limit) => stored(limit),
        Allowance::Unlimited | Allowance::Nothing => stored(MAX_USAGE),
    };
    (0, ceiling - delta)
}

/// The conditional update matched no row although the rules allowed the change: the
/// database refused it; answer with the refusal the rules would give.
fn refused_by_database(change: UsageChange, allowance: Allowance, used: u64) -> UsageOutcome {
    let amount = change.delta().unsigned_abs();
    if change.delta() < 0 {
        UsageOutcome::BelowZero {
            resource: change.resource(),
            used,
            released: amount,
        }
    } else {
        UsageOutcome::Exceeded {
            resource: change.resource(),
            limit: allowance.limit_value(),
            used,
            requested: amount,
        }
    }
}

/// The stored form of an answer: the request it answered and the outcome's numbers.
fn encode(change: UsageChange, outcome: &UsageOutcome) -> String {
    let mut body = json!({"resource": change.resource().key(), "delta": change.delta()});
    let fields = match *outcome {
        UsageOutcome::Applied(level) => {
            let (allowance, limit) = match level.allowance {
                Allowance::Unlimited => ("unlimited", 0),
                Allowance::UpTo(n) => ("upTo", n),
                Allowance::Nothing => ("nothing", 0),
            };
            json!({"outcome": "applied", "used": level.used, "allowance": allowance, "limit": limit})
        }
        UsageOutcome::Exceeded {
            limit,
            used,
            requested,
            ..
        } => json!({"outcome": "exceeded", "limit": limit, "used": used, "requested": requested}),
        UsageOutcome::NotPermitted { reason, .. } => json!({
            "outcome": "notPermitted",
            "reason": match reason { Refusal::NoPlan => "noPlan", Refusal::CreateNotAllowed => "createNotAllowed" },
        }),
        UsageOutcome::BelowZero { used, released, .. } => {
            json!({"outcome": "belowZero", "used": used, "released": released})
        }
    };
    if let (Value::Object(body), Value::Object(fields)) = (&mut body, fields) {
        body.extend(fields);
    }
    body.to_string()
}

/// A stored answer for the same request replays; for another request the key is reused.
fn replay(text: &str, change: UsageChange) -> Result<LedgerAnswer, DbError> {
    let bad = || corrupt("corrupt stored idempotent answer");
    let body: Value = serde_json::from_str(text).map_err(|_| bad())?;
    let same_request = body["resource"].as_str() == Some(change.resource().key())
        && body["delta"].as_i64() == Some(change.delta());
    if !same_request {
        return Ok(LedgerAnswer::KeyReused);
    }
    let resource = change.resource();
    let number = |name: &str| body[name].as_u64().ok_or_else(bad);
    let outcome = match body["outcome"].as_str() {
        Some("applied") => UsageOutcome::Applied(UsageLevel {
            resource,
            used: number("used")?,
            allowance: match body["allowance"].as_str() {
                Some("unlimited") => Allowance::Unlimited,
                Some("upTo") => Allowance::UpTo(number("limit")?),
                Some("nothing") => Allowance::Nothing,
                _ => return Err(bad()),
            },
        }),
        Some("exceeded") => UsageOutcome::Exceeded {
            resource,
            limit: number("limit")?,
            used: number("used")?,
            requested: number("requested")?,
        },
        Some("notPermitted") => UsageOutcome::NotPermitted {
            resource,
            reason: match body["reason"].as_str() {
                Some("noPlan") => Refusal::NoPlan,
                Some("createNotAllowed") => Refusal::CreateNotAllowed,
                _ => return Err(bad()),
            },
        },
        Some("belowZero") => UsageOutcome::BelowZero {
            resource,
            used: number("used")?,
            released: number("released")?,
        },
        _ => return Err(bad()),
    };
    Ok(LedgerAnswer::Replayed(outcome))
}

/// Diesel-backed quota storage for both backends.
#[derive(Clone)]
pub struct DieselQuotaRepository {
    db: Database,
}

impl DieselQuotaRepository {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl QuotaRepository for DieselQuotaRepository {
    async fn snapshot(
        &self,
        account: AccountRef,
        today: NaiveDate,
    ) -> Result<QuotaSnapshot, RepoError> {
        self.db
            .query(move |conn| {
                with_conn!(conn, c => {
                    if !c.account_exists(account)? {
                        return Err(DbError::Repo(RepoError::NotFound));
                    }
                    Ok(QuotaSnapshot {
                        limits: c.effective_limits(account)?,
                        usage: c.usage(account, today)?,
                    })
                })
            })
            .await
    }

    async fn set_overrides(
        &self,
        account: AccountRef,
        changes: Vec<(Resource, Option<Limit>)>,
        audit: Option<AuditEntry>,
    ) -> Result<EffectiveLimits, RepoError> {
        self.db
            .write(move |conn| {
                transaction!(conn, c => {
                    if !c.account_exists(account)? {
                        return Err(DbError::Repo(RepoError::NotFound));
                    }
                    let before = match &audit {
                        Some(_) => Some(c.effective_limits(account)?.audit_state()),
                        None => None,
                    };
                    c.write_overrides(account, &changes)?;
                    let limits = c.effective_limits(account)?;
                    let audit = match (audit, before) {
                        (Some(entry), Some(before)) => {
                            Some(entry.with_before(before).with_after(limits.audit_state()))
                        }
                        _ => None,
                    };
                    record_audit!(c, &audit)?;
                    Ok(limits)
                })
            })
            .await
    }

    async fn change_usage(
        &self,
        request: LedgerRequest,
        audit: Option<AuditEntry>,
    ) -> Result<LedgerAnswer, RepoError> {
        let attempt = |request: LedgerRequest, audit: Option<AuditEntry>| {
            self.db.write(
                move |conn| transaction!(conn, c => c.apply_change(&request, audit.as_ref())),
            )
        };
        match attempt(request.clone(), audit.clone()).await {
            Err(RepoError::Conflict(ConflictKind::RaceLost)) => attempt(request, audit).await,
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tariff_domain::quota::UsageChange;

    #[test]
    fn stored_answers_replay_only_for_the_same_request() {
        let change = UsageChange::new(Resource::Servers, 1).unwrap();
        let outcomes = [
            UsageOutcome::Applied(UsageLevel {
                resource: Resource::Servers,
                used: 3,
                allowance: Allowance::UpTo(5),
            }),
            UsageOutcome::Applied(UsageLevel {
                resource: Resource::Servers,
                used: 3,
                allowance: Allowance::Unlimited,
            }),
            UsageOutcome::Exceeded {
                resource: Resource::Servers,
                limit: 5,
                used: 5,
                requested: 1,
            },
            UsageOutcome::NotPermitted {
                resource: Resource::Servers,
                reason: Refusal::CreateNotAllowed,
            },
            UsageOutcome::BelowZero {
                resource: Resource::Servers,
                used: 0,
                released: 1,
            },
        ];
        for outcome in outcomes {
            let text = encode(change, &outcome);
            assert_eq!(
                replay(&text, change).ok(),
                Some(LedgerAnswer::Replayed(outcome))
            );
            let other = UsageChange::new(Resource::Servers, 2).unwrap();
            assert_eq!(replay(&text, other).ok(), Some(LedgerAnswer::KeyReused));
        }
    }

    #[test]
    fn bounds_hold_the_limit_without_overflow() {
        let grant = UsageChange::new(Resource::Servers, 2).unwrap();
        assert_eq!(bounds(grant, Allowance::UpTo(10)), (0, 8));
        assert_eq!(bounds(grant, Allowance::Unlimited), (0, i64::MAX - 2));
        let release = UsageChange::new(Resource::Servers, -3).unwrap();
        assert_eq!(bounds(release, Allowance::UpTo(1)), (3, i64::MAX));
    }
}
