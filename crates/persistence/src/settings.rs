//! `SettingsRepository` on diesel: the `settings` key/value table and the `settings`
//! version counter every write bumps in the same transaction.

use async_trait::async_trait;
use diesel::prelude::*;
use tariff_domain::audit::{AuditEntry, SettingsSnapshot};
use tariff_domain::settings::SettingsRepository;
use tariff_domain::RepoError;

use crate::audit::record_audit;
use crate::db::Database;
use crate::errors::DbError;
use crate::schema::{counters, settings};
use crate::{transaction, with_conn};

const BILLING_ENABLED: &str = "billing_enabled";
const SETTINGS_COUNTER: &str = "settings";

/// Settings stored in the database, shared by every instance.
#[derive(Clone)]
pub struct DieselSettingsRepository {
    db: Database,
}

impl DieselSettingsRepository {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
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

#[async_trait]
impl SettingsRepository for DieselSettingsRepository {
    async fn billing_enabled(&self) -> Result<bool, RepoError> {
        let stored: Option<String> = self
            .db
            .query(|conn| {
                with_conn!(conn, c => settings::table
                    .find(BILLING_ENABLED)
                    .select(settings::value)
                    .get_result(c)
                    .optional()
                    .map_err(DbError::from))
            })
            .await?;
        stored.map_or(Ok(true), |v| parse_flag(&v))
    }

    async fn set_billing_enabled(
        &self,
        enabled: bool,
        audit: Option<AuditEntry>,
    ) -> Result<i64, RepoError> {
        let value = if enabled { "true" } else { "false" };
        self.db
            .write(move |conn| {
                transaction!(conn, c => {
                    let before: Option<String> = settings::table
                        .find(BILLING_ENABLED)
                        .select(settings::value)
                        .get_result(c)
                        .optional()?;
                    let was_enabled = before.map_or(Ok(true), |v| parse_flag(&v))?;
                    diesel::insert_into(settings::table)
                        .values((settings::key.eq(BILLING_ENABLED), settings::value.eq(value)))
                        .on_conflict(settings::key)
                        .do_update()
                        .set(settings::value.eq(value))
                        .execute(c)?;
                    let version: i64 = diesel::update(counters::table.find(SETTINGS_COUNTER))
                        .set(counters::value.eq(counters::value + 1_i64))
                        .returning(counters::value)
                        .get_result(c)?;
                    let audit = audit.map(|entry| {
                        entry
                            .with_before(SettingsSnapshot {
                                billing_enabled: was_enabled,
                            })
                            .with_after(SettingsSnapshot {
                                billing_enabled: enabled,
                            })
                    });
                    record_audit!(c, &audit)?;
                    Ok(version)
                })
            })
            .await
    }

    async fn settings_version(&self) -> Result<i64, RepoError> {
        self.db
            .query(|conn| {
                with_conn!(conn, c => counters::table
                    .find(SETTINGS_COUNTER)
                    .select(counters::value)
                    .get_result(c)
                    .map_err(DbError::from))
            })
            .await
    }
}
