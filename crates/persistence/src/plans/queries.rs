//! The catalogue's statements. Every write bumps the `catalogue` version counter in the
//! same transaction, so every instance's cache sees the change on its next poll.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use tariff_domain::PlanSpec;

use super::rows::{PlanChanges, PlanRow};
use crate::db::{Columns, DbConn};
use crate::literals;
use crate::schema::{counters, orders, plans};

const CATALOGUE_COUNTER: &str = "catalogue";

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// Every plan (or the visible ones), cheapest first.
pub(super) fn list(c: &mut DbConn<'_>, include_hidden: bool) -> QueryResult<Vec<PlanRow>> {
    let all = plans::table
        .select(PlanRow::columns())
        .order((plans::price_monthly_minor.asc(), plans::id.asc()));
    if include_hidden {
        c.load(all)
    } else {
        c.load(all.filter(plans::hidden.eq(false)))
    }
}

/// How many plans there are (or visible ones).
pub(super) fn count(c: &mut DbConn<'_>, include_hidden: bool) -> QueryResult<i64> {
    if include_hidden {
        c.get_result(plans::table.count())
    } else {
        c.get_result(plans::table.filter(plans::hidden.eq(false)).count())
    }
}

/// A page of plans (or of visible ones) by id.
pub(super) fn page_by_id(
    c: &mut DbConn<'_>,
    include_hidden: bool,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<PlanRow>> {
    let all = plans::table
        .select(PlanRow::columns())
        .order(plans::id.asc())
        .offset(offset)
        .limit(limit);
    if include_hidden {
        c.load(all)
    } else {
        c.load(all.filter(plans::hidden.eq(false)))
    }
}

pub(super) fn get(c: &mut DbConn<'_>, id: i64) -> QueryResult<PlanRow> {
    c.get_result(plans::table.find(id).select(PlanRow::columns()))
}

pub(super) fn default_plan(c: &mut DbConn<'_>) -> QueryResult<Option<PlanRow>> {
    c.get_result(
        plans::table
            .filter(plans::is_default.eq(literals::True))
            .select(PlanRow::columns()),
    )
    .optional()
}

/// The plan named `name`, compared case-insensitively.
pub(super) fn find_by_name(c: &mut DbConn<'_>, name: &str) -> QueryResult<Option<PlanRow>> {
    c.get_result(
        plans::table
            .filter(lower(plans::name).eq(name.to_lowercase()))
            .select(PlanRow::columns()),
    )
    .optional()
}

/// Takes the default flag from whichever plan has it, other than `except`.
pub(super) fn clear_default(c: &mut DbConn<'_>, except: Option<i64>) -> QueryResult<()> {
    let current = plans::table.filter(plans::is_default.eq(literals::True));
    match except {
        Some(id) => c.execute(
            diesel::update(current.filter(plans::id.ne(id))).set(plans::is_default.eq(false)),
        )?,
        None => c.execute(diesel::update(current).set(plans::is_default.eq(false)))?,
    };
    Ok(())
}

pub(super) fn insert(
    c: &mut DbConn<'_>,
    spec: &PlanSpec,
    now: NaiveDateTime,
) -> QueryResult<PlanRow> {
    c.get_result(
        diesel::insert_into(plans::table)
            .values((PlanChanges::from_spec(spec, now), plans::created_at.eq(now)))
            .returning(PlanRow::columns()),
    )
}

pub(super) fn update(
    c: &mut DbConn<'_>,
    id: i64,
    spec: &PlanSpec,
    now: NaiveDateTime,
) -> QueryResult<PlanRow> {
    c.get_result(
        diesel::update(plans::table.find(id))
            .set(PlanChanges::from_spec(spec, now))
            .returning(PlanRow::columns()),
    )
}

/// Deletes plan `id`; returns its row, or `None` when there was none.
pub(super) fn delete(c: &mut DbConn<'_>, id: i64) -> QueryResult<Option<PlanRow>> {
    c.get_result(diesel::delete(plans::table.find(id)).returning(PlanRow::columns()))
        .optional()
}

/// How many orders name plan `id`.
pub(super) fn orders_of(c: &mut DbConn<'_>, id: i64) -> QueryResult<i64> {
    c.get_result(orders::table.filter(orders::plan_id.eq(id)).count())
}

/// Inserts a plan without reading it back.
pub(super) fn insert_quietly(
    c: &mut DbConn<'_>,
    spec: &PlanSpec,
    now: NaiveDateTime,
) -> QueryResult<()> {
    c.execute(
        diesel::insert_into(plans::table)
            .values((PlanChanges::from_spec(spec, now), plans::created_at.eq(now))),
    )?;
    Ok(())
}

/// Bumps the catalogue version inside the writing transaction.
pub(super) fn bump_catalogue_version(c: &mut DbConn<'_>) -> QueryResult<()> {
    c.execute(
        diesel::update(counters::table.filter(counters::name.eq(CATALOGUE_COUNTER)))
            .set(counters::value.eq(counters::value + 1_i64)),
    )?;
    Ok(())
}

pub(super) fn catalogue_version(c: &mut DbConn<'_>) -> QueryResult<i64> {
    c.get_result(
        counters::table
            .find(CATALOGUE_COUNTER)
            .select(counters::value),
    )
}
