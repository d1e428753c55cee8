//! The ledger's transaction: one change of one counter, decided by the domain's rules
//! under the counter's lock and held by the database's conditional update, with its
//! answer stored under the idempotency key in the same transaction.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use tariff_domain::audit::{AuditEntry, UsageChangeSnapshot, UsageLevelSnapshot};
use tariff_domain::quota::{
    decide, resets_daily, Allowance, Decision, LedgerAnswer, LedgerRequest, UsageChange,
    UsageLevel, UsageOutcome, MAX_USAGE,
};
use tariff_domain::shared::ConflictKind;
use tariff_domain::RepoError;

use super::answers::{encode, replay};
use super::queries::{self, day_text, stored, stored_usage, ApplyDelta};
use crate::audit;
use crate::db::DbConn;
use crate::errors::DbError;

/// The body of the ledger's transaction. Records `audit` (with the usage before and
/// after) when the change is applied.
pub(super) fn apply_change(
    c: &mut DbConn<'_>,
    request: &LedgerRequest,
    audit: Option<&AuditEntry>,
) -> Result<LedgerAnswer, DbError> {
    let account = request.account;
    let change = request.change;
    let resource = change.resource();
    let today = day_text(request.today);
    let now = request.at.naive_utc();
    let daily = resets_daily(resource);
    // An existing counter also proves the account exists: one statement on the common
    // path. A first change creates the row, then locks it.
    let (mut used, period_day) = match queries::lock_counter(c, account, resource)? {
        Some(row) => row,
        None => {
            if !queries::account_exists(c, account)? {
                return Err(DbError::Repo(RepoError::NotFound));
            }
            queries::create_counter(c, account, resource, daily.then(|| today.clone()), now)?;
            queries::lock_counter(c, account, resource)?
                .ok_or(DbError::Repo(RepoError::NotFound))?
        }
    };
    // Looked up under the lock: a concurrent twin has committed by now.
    if let Some(key) = &request.idempotency_key {
        if let Some(text) = queries::stored_answer(c, account, key.as_str())? {
            return replay(&text, change);
        }
    }
    if daily && period_day.as_deref() != Some(today.as_str()) {
        queries::reset_counter(c, account, resource, &today)?;
        used = 0;
    }
    let used = stored_usage(used)?;
    let limits = queries::effective_limits(c, account)?;
    let outcome = match decide(&limits, change, used) {
        Decision::Refuse(outcome) => outcome,
        Decision::Apply(allowance) => {
            // The database holds the rule even if the decision was made on stale
            // numbers: `used + delta` must land in [0, limit].
            let (floor, ceiling) = bounds(change, allowance);
            let after: Option<i64> = c
                .get_result(ApplyDelta {
                    account_kind: account.kind(),
                    account_id: account.raw_id(),
                    resource: resource.key(),
                    delta: change.delta(),
                    floor,
                    ceiling,
                    updated_at: now,
                })
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
                    audit::record(c, audit.as_ref())?;
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
        queries::store_answer(c, account, key.as_str(), encode(change, &outcome), now).map_err(
            |e| match e {
                // Two requests raced with the same key: the loser's transaction rolls back
                // and is retried once, then replays the winner's answer.
                DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                    DbError::Repo(RepoError::Conflict(ConflictKind::RaceLost))
                }
                other => DbError::from(other),
            },
        )?;
    }
    Ok(LedgerAnswer::Fresh(outcome))
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use tariff_domain::Resource;

    #[test]
    fn bounds_hold_the_limit_without_overflow() {
        let grant = UsageChange::new(Resource::Servers, 2).unwrap();
        assert_eq!(bounds(grant, Allowance::UpTo(10)), (0, 8));
        assert_eq!(bounds(grant, Allowance::Unlimited), (0, i64::MAX - 2));
        let release = UsageChange::new(Resource::Servers, -3).unwrap();
        assert_eq!(bounds(release, Allowance::UpTo(1)), (3, i64::MAX));
    }
}
