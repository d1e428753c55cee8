//! `CreditLedger` on diesel: the account credit ledger, entries only (the balance is
//! their sum; each entry also carries the running balance after it, checked by the
//! database to stay at or above zero). `queries::append` is crate-visible so that
//! the order write path appends inside the order's transaction.

pub(crate) mod queries;
mod rows;

use async_trait::async_trait;
use tariff_domain::audit::{AuditEntry, CreditBalanceSnapshot, CreditEntrySnapshot};
use tariff_domain::billing::{balances, CreditEntry, CreditLedger, NewCreditEntry};
use tariff_domain::{AccountRef, Currency, Money, RepoError};

use crate::audit;
use crate::db::Database;
use crate::errors::DbError;

/// The account credit ledger on either backend.
#[derive(Clone)]
pub struct DieselCreditLedger {
    db: Database,
}

impl DieselCreditLedger {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl CreditLedger for DieselCreditLedger {
    async fn entries(&self, account: AccountRef) -> Result<Vec<CreditEntry>, RepoError> {
        let rows = self
            .db
            .query(move |conn| {
                conn.read_snapshot(|c| {
                    if !queries::account_exists(c, account)? {
                        return Err(DbError::Repo(RepoError::NotFound));
                    }
                    Ok(queries::entries(c, account)?)
                })
            })
            .await?;
        rows.into_iter().map(CreditEntry::try_from).collect()
    }

    async fn balances(&self, account: AccountRef) -> Result<Vec<Money>, RepoError> {
        let entries = self.entries(account).await?;
        balances(&entries).map_err(|e| RepoError::internal(e.to_string()))
    }

    async fn balance(&self, account: AccountRef, currency: Currency) -> Result<Money, RepoError> {
        self.db
            .query(move |c| Ok(queries::balance(c, account, currency)?))
            .await
    }

    async fn append(
        &self,
        entry: NewCreditEntry,
        audit: Option<AuditEntry>,
    ) -> Result<CreditEntry, RepoError> {
        self.db
            .write(move |conn| {
                conn.write_transaction(|c| {
                    let appended = queries::append(c, &entry)?;
                    let stored = &appended.entry;
                    let audit = audit.map(|entry| {
                        entry
                            .with_before(CreditBalanceSnapshot {
                                currency: stored.currency().code().to_owned(),
                                balance: appended.before.to_fixed_string(),
                            })
                            .with_after(CreditEntrySnapshot {
                                entry_id: stored.id().get(),
                                amount: stored.amount().to_fixed_string(),
                                currency: stored.currency().code().to_owned(),
                                reason: stored.reason().text().to_owned(),
                                balance: appended.balance_after.to_fixed_string(),
                            })
                    });
                    audit::record(c, audit.as_ref())?;
                    Ok(appended.entry)
                })
            })
            .await
    }
}
