//! The coupon catalogue's statements, and the two that an order's transaction runs:
//! [`redeem`] and [`release`].
//!
//! `maxRedemptions` is held by the database: a redemption counts only through the
//! conditional `UPDATE ... WHERE active AND (max_redemptions IS NULL OR times_redeemed <
//! max_redemptions)`, which PostgreSQL runs under the coupon row's lock (a racing update
//! waits, then re-checks the condition on the committed row) and SQLite under its one
//! writer; a `CHECK (times_redeemed <= max_redemptions)` backs it. Once per account is
//! held by the unique index on (coupon, account, `once_slot`): `once_slot` is 1 while a
//! once-per-account redemption stands and NULL otherwise, and NULLs never collide.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use tariff_domain::billing::{CouponRedemption, RejectionReason};
use tariff_domain::AccountRef;

use super::rows::{CouponRow, NewCouponRow};
use crate::db::{Columns, DbConn};
use crate::schema::{coupon_redemptions, coupons};

pub(super) fn insert(c: &mut DbConn<'_>, row: &NewCouponRow) -> QueryResult<CouponRow> {
    c.get_result(
        diesel::insert_into(coupons::table)
            .values(row)
            .returning(CouponRow::columns()),
    )
}

pub(super) fn by_code(c: &mut DbConn<'_>, code: &str) -> QueryResult<Option<CouponRow>> {
    c.get_result(
        coupons::table
            .filter(coupons::code.eq(code))
            .select(CouponRow::columns()),
    )
    .optional()
}

pub(super) fn count(c: &mut DbConn<'_>) -> QueryResult<i64> {
    c.get_result(coupons::table.count())
}

/// A page of coupons, newest first.
pub(super) fn page(c: &mut DbConn<'_>, offset: i64, limit: i64) -> QueryResult<Vec<CouponRow>> {
    c.load(
        coupons::table
            .select(CouponRow::columns())
            .order(coupons::id.desc())
            .offset(offset)
            .limit(limit),
    )
}

/// Marks the coupon inactive; answers whether it was active.
pub(super) fn deactivate(c: &mut DbConn<'_>, code: &str, at: NaiveDateTime) -> QueryResult<bool> {
    let changed = c.execute(
        diesel::update(
            coupons::table
                .filter(coupons::code.eq(code))
                .filter(coupons::active.eq(true)),
        )
        .set((
            coupons::active.eq(false),
            coupons::deactivated_at.eq(Some(at)),
        )),
    )?;
    Ok(changed > 0)
}

/// Whether `account` holds a standing (not given back) redemption of the coupon.
pub(super) fn redeemed_by(
    c: &mut DbConn<'_>,
    code: &str,
    account: AccountRef,
) -> QueryResult<bool> {
    let found: i64 = c.get_result(
        coupon_redemptions::table
            .inner_join(coupons::table)
            .filter(coupons::code.eq(code))
            .filter(coupon_redemptions::account_kind.eq(account.kind()))
            .filter(coupon_redemptions::account_id.eq(account.raw_id()))
            .filter(coupon_redemptions::released_at.is_null())
            .count(),
    )?;
    Ok(found > 0)
}

/// Counts one redemption of `redemption.code` by `redemption.account` for `order` (None
/// only where no order exists yet, e.g. tests), inside the caller's write transaction.
///
/// For the order write path: call it in the transaction that inserts the pending order,
/// after the insert, with the order's id. `Ok(Ok(id))` is the redemption's id;
/// `Ok(Err(reason))` is a refusal at write time (`Unknown`, `Inactive`, `Exhausted`,
/// `AlreadyUsed`) that has written nothing, so the caller may roll back or carry on.
/// The coupon's limits are read from its row, never from the redemption: what counts
/// is what is stored when the write runs.
pub(crate) fn redeem(
    c: &mut DbConn<'_>,
    redemption: &CouponRedemption,
    order: Option<i64>,
) -> QueryResult<Result<i64, RejectionReason>> {
    let code = redemption.code.as_str();
    let counted: Option<(i64, bool)> = c
        .get_result(
            diesel::update(
                coupons::table
                    .filter(coupons::code.eq(code))
                    .filter(coupons::active.eq(true))
                    .filter(
                        coupons::max_redemptions
                            .is_null()
                            .or(coupons::times_redeemed
                                .nullable()
                                .lt(coupons::max_redemptions)),
                    ),
            )
            .set(coupons::times_redeemed.eq(coupons::times_redeemed + 1))
            .returning((coupons::id, coupons::once_per_account)),
        )
        .optional()?;
    let Some((coupon_id, once_per_account)) = counted else {
        return refusal(c, code).map(Err);
    };
    let inserted: Option<i64> = c
        .get_result(
            diesel::insert_into(coupon_redemptions::table)
                .values((
                    coupon_redemptions::coupon_id.eq(coupon_id),
                    coupon_redemptions::account_kind.eq(redemption.account.kind()),
                    coupon_redemptions::account_id.eq(redemption.account.raw_id()),
                    coupon_redemptions::order_id.eq(order),
                    coupon_redemptions::discount_minor.eq(redemption.discount.minor()),
                    coupon_redemptions::currency.eq(redemption.discount.currency().code()),
                    coupon_redemptions::once_slot.eq(once_per_account.then_some(1)),
                    coupon_redemptions::redeemed_at.eq(redemption.at.naive_utc()),
                ))
                .on_conflict_do_nothing()
                .returning(coupon_redemptions::id),
        )
        .optional()?;
    match inserted {
        Some(id) => Ok(Ok(id)),
        None => {
            // The account holds a standing redemption: take the count back, so that the
            // refusal has changed nothing.
            uncount(c, coupon_id)?;
            Ok(Err(RejectionReason::AlreadyUsed))
        }
    }
}

/// Why the conditional update matched no coupon.
fn refusal(c: &mut DbConn<'_>, code: &str) -> QueryResult<RejectionReason> {
    let row: Option<bool> = c
        .get_result(
            coupons::table
                .filter(coupons::code.eq(code))
                .select(coupons::active),
        )
        .optional()?;
    Ok(match row {
        None => RejectionReason::Unknown,
        Some(false) => RejectionReason::Inactive,
        Some(true) => RejectionReason::Exhausted,
    })
}

fn uncount(c: &mut DbConn<'_>, coupon_id: i64) -> QueryResult<usize> {
    c.execute(
        diesel::update(
            coupons::table
                .find(coupon_id)
                .filter(coupons::times_redeemed.gt(0)),
        )
        .set(coupons::times_redeemed.eq(coupons::times_redeemed - 1)),
    )
}

/// Gives back the standing redemptions of `order`, inside the caller's write
/// transaction (the one that cancels or expires the pending order): each stops
/// counting against `maxRedemptions`, and a once-per-account coupon may be redeemed by
/// the account again. Returns how many were given back; a second call finds none.
pub(crate) fn release(c: &mut DbConn<'_>, order: i64, at: NaiveDateTime) -> QueryResult<usize> {
    let released: Vec<i64> = c.load(
        diesel::update(
            coupon_redemptions::table
                .filter(coupon_redemptions::order_id.eq(Some(order)))
                .filter(coupon_redemptions::released_at.is_null()),
        )
        .set((
            coupon_redemptions::released_at.eq(Some(at)),
            coupon_redemptions::once_slot.eq(None::<i32>),
        ))
        .returning(coupon_redemptions::coupon_id),
    )?;
    for coupon_id in &released {
        uncount(c, *coupon_id)?;
    }
    Ok(released.len())
}

/// [`release`] for one redemption by its id (a redemption made without an order).
pub(crate) fn release_redemption(
    c: &mut DbConn<'_>,
    redemption: i64,
    at: NaiveDateTime,
) -> QueryResult<usize> {
    let released: Vec<i64> = c.load(
        diesel::update(
            coupon_redemptions::table
                .find(redemption)
                .filter(coupon_redemptions::released_at.is_null()),
        )
        .set((
            coupon_redemptions::released_at.eq(Some(at)),
            coupon_redemptions::once_slot.eq(None::<i32>),
        ))
        .returning(coupon_redemptions::coupon_id),
    )?;
    for coupon_id in &released {
        uncount(c, *coupon_id)?;
    }
    Ok(released.len())
}
