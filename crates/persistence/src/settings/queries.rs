//! The `settings` key/value table and its version counter.

use diesel::prelude::*;
use tariff_domain::RepoError;

use crate::db::DbConn;
use crate::errors::DbError;
use crate::schema::{counters, settings};

pub(super) const BILLING_ENABLED: &str = "billing_enabled";
const SETTINGS_COUNTER: &str = "settings";

/// The stored billing switch; on when it was never set.
pub(super) fn billing_enabled(c: &mut DbConn<'_>) -> Result<bool, DbError> {
    let stored: Option<String> = c
        .get_result(
            settings::table
                .find(BILLING_ENABLED)
                .select(settings::value),
        )
        .optional()?;
    Ok(stored.map_or(Ok(true), |v| parse_flag(&v))?)
}

/// Stores the billing switch and bumps the settings version; returns the new version.
pub(super) fn set_billing_enabled(c: &mut DbConn<'_>, enabled: bool) -> Result<i64, DbError> {
    let value = if enabled { "true" } else { "false" };
    c.execute(
        diesel::insert_into(settings::table)
            .values((settings::key.eq(BILLING_ENABLED), settings::value.eq(value)))
            .on_conflict(settings::key)
            .do_update()
            .set(settings::value.eq(value)),
    )?;
    Ok(c.get_result(
        diesel::update(counters::table.find(SETTINGS_COUNTER))
            .set(counters::value.eq(counters::value + 1_i64))
            .returning(counters::value),
    )?)
}

pub(super) fn settings_version(c: &mut DbConn<'_>) -> Result<i64, DbError> {
    Ok(c.get_result(
        counters::table
            .find(SETTINGS_COUNTER)
            .select(counters::value),
    )?)
}

fn parse_flag(value: &str) -> Result<bool, RepoError> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(RepoError::internal(format!(
            "setting {BILLING_ENABLED} has the corrupt value `{other}`"
        ))),
    }
}
