//! The quota statements: effective limits (active plan order, else the default plan,
//! with `limit_overrides` on top), usage counters, idempotency keys, and the
//! conditional update that holds a limit in the database itself.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::dsl::exists;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::BigInt;
use tariff_domain::quota::{resets_daily, EffectiveLimits, PlanBasis, PlanSource, Usage};
use tariff_domain::{AccountRef, Limit, Plan, RepoError, Resource};

use crate::db::{Columns, DbConn};
use crate::errors::DbError;
use crate::literals;
use crate::plans::PlanRow;
use crate::schema::{idempotency_keys, limit_overrides, orders, organisations, plans};
use crate::schema::{usage_counters, users};
use crate::statements::{SqlBackend, Statement};

/// Adds `delta` to a counter if `used` lies in `[floor, ceiling]`; returns the new
/// `used`, or no row when the database refuses.
#[derive(Debug, QueryId)]
pub(super) struct ApplyDelta {
    pub(super) account_kind: &'static str,
    pub(super) account_id: i64,
    pub(super) resource: &'static str,
    pub(super) delta: i64,
    pub(super) floor: i64,
    pub(super) ceiling: i64,
    pub(super) updated_at: NaiveDateTime,
}

impl<DB: SqlBackend> QueryFragment<DB> for ApplyDelta {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        Statement::new(out)
            .sql("UPDATE usage_counters SET used = used + ")
            .bind(&self.delta)?
            .sql(", updated_at = ")
            .bind(&self.updated_at)?
            .sql(" WHERE account_kind = ")
            .bind(self.account_kind)?
            .sql(" AND account_id = ")
            .bind(&self.account_id)?
            .sql(" AND resource = ")
            .bind(self.resource)?
            .sql(" AND used BETWEEN ")
            .bind(&self.floor)?
            .sql(" AND ")
            .bind(&self.ceiling)?
            .sql(" RETURNING used");
        Ok(())
    }
}

impl Query for ApplyDelta {
    type SqlType = BigInt;
}

impl<C> RunQueryDsl<C> for ApplyDelta {}

pub(super) fn day_text(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

pub(super) fn corrupt(what: impl Into<String>) -> DbError {
    DbError::Repo(RepoError::internal(what))
}

pub(super) fn stored_usage(raw: i64) -> Result<u64, DbError> {
    u64::try_from(raw).map_err(|_| corrupt("negative usage counter"))
}

pub(super) fn stored(value: u64) -> i64 {
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

pub(super) fn account_exists(c: &mut DbConn<'_>, account: AccountRef) -> QueryResult<bool> {
    match account {
        AccountRef::User(id) => c.get_result(diesel::select(exists(users::table.find(id.get())))),
        AccountRef::Org(id) => {
            c.get_result(diesel::select(exists(organisations::table.find(id.get()))))
        }
    }
}

pub(super) fn effective_limits(
    c: &mut DbConn<'_>,
    account: AccountRef,
) -> Result<EffectiveLimits, DbError> {
    let active: Option<PlanRow> = c
        .get_result(
            orders::table
                .inner_join(plans::table)
                .filter(orders::account_kind.eq(account.kind()))
                .filter(orders::account_id.eq(account.raw_id()))
                .filter(orders::status.eq(literals::Active))
                .order(orders::id.desc())
                .select(PlanRow::columns()),
        )
        .optional()?;
    let plan = match active {
        Some(row) => Some(plan_basis(row, PlanSource::ActiveOrder)?),
        None => c
            .get_result(
                plans::table
                    .filter(plans::is_default.eq(literals::True))
                    .select(PlanRow::columns()),
            )
            .optional()?
            .map(|row| plan_basis(row, PlanSource::DefaultPlan))
            .transpose()?,
    };
    let rows: Vec<(String, i64)> = c.load(
        limit_overrides::table
            .filter(limit_overrides::account_kind.eq(account.kind()))
            .filter(limit_overrides::account_id.eq(account.raw_id()))
            .select((limit_overrides::resource, limit_overrides::value)),
    )?;
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

pub(super) fn usage(
    c: &mut DbConn<'_>,
    account: AccountRef,
    today: NaiveDate,
) -> Result<Usage, DbError> {
    let rows: Vec<(String, i64, Option<String>)> = c.load(
        usage_counters::table
            .filter(usage_counters::account_kind.eq(account.kind()))
            .filter(usage_counters::account_id.eq(account.raw_id()))
            .select((
                usage_counters::resource,
                usage_counters::used,
                usage_counters::period_day,
            )),
    )?;
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

/// The counter's `used` and `period_day`, locked until the transaction ends; `None`
/// when the account has no counter for the resource yet. Only the row lock differs
/// between backends: `FOR UPDATE` on PostgreSQL, while SQLite's `BEGIN IMMEDIATE`
/// already holds the database's write lock.
pub(super) fn lock_counter(
    c: &mut DbConn<'_>,
    account: AccountRef,
    resource: Resource,
) -> QueryResult<Option<(i64, Option<String>)>> {
    let counter = usage_counters::table
        .find((account.kind(), account.raw_id(), resource.key()))
        .select((usage_counters::used, usage_counters::period_day));
    match c {
        DbConn::Postgres(conn) => counter.for_update().get_result(&mut **conn).optional(),
        DbConn::Sqlite(_) => c.get_result(counter).optional(),
    }
}

/// A counter at 0 for `resource`, unless the account has one.
pub(super) fn create_counter(
    c: &mut DbConn<'_>,
    account: AccountRef,
    resource: Resource,
    period_day: Option<String>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    c.execute(
        diesel::insert_into(usage_counters::table)
            .values((
                usage_counters::account_kind.eq(account.kind()),
                usage_counters::account_id.eq(account.raw_id()),
                usage_counters::resource.eq(resource.key()),
                usage_counters::used.eq(0_i64),
                usage_counters::period_day.eq(period_day),
                usage_counters::updated_at.eq(now),
            ))
            .on_conflict((
                usage_counters::account_kind,
                usage_counters::account_id,
                usage_counters::resource,
            ))
            .do_nothing(),
    )?;
    Ok(())
}

/// Starts a daily counter's new day at 0.
pub(super) fn reset_counter(
    c: &mut DbConn<'_>,
    account: AccountRef,
    resource: Resource,
    today: &str,
) -> QueryResult<()> {
    c.execute(
        diesel::update(usage_counters::table.find((
            account.kind(),
            account.raw_id(),
            resource.key(),
        )))
        .set((
            usage_counters::used.eq(0_i64),
            usage_counters::period_day.eq(Some(today)),
        )),
    )?;
    Ok(())
}

pub(super) fn write_overrides(
    c: &mut DbConn<'_>,
    account: AccountRef,
    changes: &[(Resource, Option<Limit>)],
) -> QueryResult<()> {
    for (resource, limit) in changes {
        match limit {
            Some(limit) => {
                let value = stored(limit.value());
                c.execute(
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
                        .set(limit_overrides::value.eq(value)),
                )?;
            }
            None => {
                c.execute(diesel::delete(limit_overrides::table.find((
                    account.kind(),
                    account.raw_id(),
                    resource.key(),
                ))))?;
            }
        }
    }
    Ok(())
}

/// The answer stored under an idempotency key, if any.
pub(super) fn stored_answer(
    c: &mut DbConn<'_>,
    account: AccountRef,
    key: &str,
) -> QueryResult<Option<String>> {
    c.get_result(
        idempotency_keys::table
            .find((account.kind(), account.raw_id(), key))
            .select(idempotency_keys::response),
    )
    .optional()
}

pub(super) fn store_answer(
    c: &mut DbConn<'_>,
    account: AccountRef,
    key: &str,
    response: String,
    now: NaiveDateTime,
) -> QueryResult<()> {
    c.execute(diesel::insert_into(idempotency_keys::table).values((
        idempotency_keys::account_kind.eq(account.kind()),
        idempotency_keys::account_id.eq(account.raw_id()),
        idempotency_keys::idempotency_key.eq(key),
        idempotency_keys::response.eq(response),
        idempotency_keys::created_at.eq(now),
    )))?;
    Ok(())
}
