//! `CouponRepository` on diesel: the coupon catalogue, and the redemption statements an
//! order's transaction runs (`queries::redeem`, `queries::release`; crate-visible so
//! that the order write path calls them inside its own transaction). The repository's
//! own `redeem` and `release_redemption` run them alone, each in one transaction.

pub(crate) mod queries;
mod rows;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tariff_domain::audit::AuditEntry;
use tariff_domain::billing::{
    Coupon, CouponCode, CouponRedemption, CouponRepository, CouponSpec, RejectionReason,
};
use tariff_domain::{AccountRef, Page, PageRequest, RepoError};

use self::rows::{audit_state, CouponRow, NewCouponRow};
use crate::audit;
use crate::db::{sql_bounds, Database};
use crate::errors::DbError;

/// The coupon catalogue on either backend.
#[derive(Clone)]
pub struct DieselCouponRepository {
    db: Database,
}

impl DieselCouponRepository {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Counts one redemption in a transaction of its own (see [`queries::redeem`]):
    /// `Ok(Err(reason))` when the store refuses it, with nothing written. The order
    /// write path calls [`redeem`] inside the order's transaction instead.
    pub async fn redeem(
        &self,
        redemption: CouponRedemption,
    ) -> Result<Result<i64, RejectionReason>, RepoError> {
        self.db
            .write(move |conn| {
                conn.write_transaction(|c| Ok(queries::redeem(c, &redemption, None)?))
            })
            .await
    }

    /// Gives back what `order` redeemed, in a transaction of its own (see
    /// [`queries::release`]); answers how many redemptions were standing.
    pub async fn release_order(&self, order: i64, at: DateTime<Utc>) -> Result<usize, RepoError> {
        self.db
            .write(move |conn| {
                conn.write_transaction(|c| Ok(queries::release(c, order, at.naive_utc())?))
            })
            .await
    }

    /// Gives one redemption back in a transaction of its own; answers whether it was
    /// standing.
    pub async fn release_redemption(
        &self,
        redemption: i64,
        at: DateTime<Utc>,
    ) -> Result<bool, RepoError> {
        self.db
            .write(move |conn| {
                conn.write_transaction(|c| {
                    Ok(queries::release_redemption(c, redemption, at.naive_utc())? > 0)
                })
            })
            .await
    }
}

fn to_coupon(row: CouponRow) -> Result<Coupon, DbError> {
    Ok(Coupon::try_from(row)?)
}

#[async_trait]
impl CouponRepository for DieselCouponRepository {
    async fn create(
        &self,
        spec: CouponSpec,
        audit: Option<AuditEntry>,
    ) -> Result<Coupon, RepoError> {
        let row = NewCouponRow::from_spec(&spec, Utc::now().naive_utc())?;
        self.db
            .write(move |conn| {
                conn.write_transaction(|c| {
                    let stored = queries::insert(c, &row)?;
                    let id = stored.id;
                    let coupon = to_coupon(stored)?;
                    let audit = audit
                        .map(|entry| entry.with_target_id(id).with_after(audit_state(&coupon)));
                    audit::record(c, audit.as_ref())?;
                    Ok(coupon)
                })
            })
            .await
    }

    async fn get(&self, code: CouponCode) -> Result<Coupon, RepoError> {
        let row = self
            .db
            .query(move |c| Ok(queries::by_code(c, code.as_str())?))
            .await?
            .ok_or(RepoError::NotFound)?;
        Coupon::try_from(row)
    }

    async fn page(&self, request: PageRequest) -> Result<Page<Coupon>, RepoError> {
        let (offset, limit) = sql_bounds(request);
        let (rows, total) = self
            .db
            .query(move |conn| {
                conn.read_snapshot(|c| {
                    let total = queries::count(c)?;
                    if offset >= total {
                        return Ok((Vec::new(), total));
                    }
                    Ok((queries::page(c, offset, limit)?, total))
                })
            })
            .await?;
        let coupons = rows
            .into_iter()
            .map(Coupon::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let total =
            u64::try_from(total).map_err(|_| RepoError::internal("negative coupon count"))?;
        Ok(Page::new(coupons, total))
    }

    async fn deactivate(
        &self,
        code: CouponCode,
        at: DateTime<Utc>,
        audit: Option<AuditEntry>,
    ) -> Result<Coupon, RepoError> {
        self.db
            .write(move |conn| {
                conn.write_transaction(|c| {
                    let before = queries::by_code(c, code.as_str())?
                        .ok_or(DbError::Repo(RepoError::NotFound))?;
                    let id = before.id;
                    let before = to_coupon(before)?;
                    if !queries::deactivate(c, code.as_str(), at.naive_utc())? {
                        return Ok(before);
                    }
                    let after = queries::by_code(c, code.as_str())?
                        .ok_or(DbError::Repo(RepoError::NotFound))?;
                    let after = to_coupon(after)?;
                    let audit = audit.map(|entry| {
                        entry
                            .with_target_id(id)
                            .with_before(audit_state(&before))
                            .with_after(audit_state(&after))
                    });
                    audit::record(c, audit.as_ref())?;
                    Ok(after)
                })
            })
            .await
    }

    async fn redeemed_by(&self, code: CouponCode, account: AccountRef) -> Result<bool, RepoError> {
        self.db
            .query(move |c| Ok(queries::redeemed_by(c, code.as_str(), account)?))
            .await
    }
}
