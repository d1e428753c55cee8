//! `coupons` rows, apart from the domain's `Coupon`, converted in one place each way.

use chrono::{NaiveDateTime, TimeZone, Utc};
use diesel::prelude::*;
use tariff_domain::audit::CouponSnapshot;
use tariff_domain::billing::{Coupon, CouponDiscount, CouponDraft, CouponRecord, CouponSpec};
use tariff_domain::RepoError;

use crate::schema::coupons;

/// A `coupons` row as stored.
#[derive(Queryable, Selectable, Debug)]
#[diesel(table_name = coupons)]
pub(super) struct CouponRow {
    pub(super) id: i64,
    code: String,
    percent_off_bp: Option<i32>,
    amount_off_minor: Option<i64>,
    currency: Option<String>,
    duration: String,
    duration_in_cycles: Option<i32>,
    max_redemptions: Option<i32>,
    once_per_account: bool,
    valid_from: Option<NaiveDateTime>,
    valid_until: Option<NaiveDateTime>,
    plan_ids: String,
    active: bool,
    times_redeemed: i32,
    created_at: NaiveDateTime,
}

/// A new coupon's row.
#[derive(Insertable, Debug)]
#[diesel(table_name = coupons)]
pub(super) struct NewCouponRow {
    code: String,
    percent_off_bp: Option<i32>,
    amount_off_minor: Option<i64>,
    currency: Option<String>,
    duration: &'static str,
    duration_in_cycles: Option<i32>,
    max_redemptions: Option<i32>,
    once_per_account: bool,
    valid_from: Option<NaiveDateTime>,
    valid_until: Option<NaiveDateTime>,
    plan_ids: String,
    active: bool,
    times_redeemed: i32,
    created_at: NaiveDateTime,
}

fn corrupt(what: &str) -> RepoError {
    RepoError::internal(format!("corrupt coupon row: {what}"))
}

fn to_i32(value: u32) -> Result<i32, RepoError> {
    i32::try_from(value).map_err(|_| RepoError::internal("coupon limit does not fit the column"))
}

impl NewCouponRow {
    pub(super) fn from_spec(spec: &CouponSpec, now: NaiveDateTime) -> Result<Self, RepoError> {
        let (percent_off_bp, amount_off_minor, currency) = match spec.discount() {
            CouponDiscount::Percent(p) => (Some(to_i32(p.basis_points())?), None, None),
            CouponDiscount::Amount(m) => {
                (None, Some(m.minor()), Some(m.currency().code().to_owned()))
            }
        };
        let plan_ids: Vec<i64> = spec.plan_ids().iter().map(|id| id.get()).collect();
        Ok(NewCouponRow {
            code: spec.code().to_string(),
            percent_off_bp,
            amount_off_minor,
            currency,
            duration: spec.duration().as_str(),
            duration_in_cycles: spec
                .duration()
                .duration_in_cycles()
                .map(to_i32)
                .transpose()?,
            max_redemptions: spec.max_redemptions().map(to_i32).transpose()?,
            once_per_account: spec.once_per_account(),
            valid_from: spec.valid_from().map(|t| t.naive_utc()),
            valid_until: spec.valid_until().map(|t| t.naive_utc()),
            plan_ids: serde_json::to_string(&plan_ids)
                .map_err(|e| RepoError::Internal(Box::new(e)))?,
            active: true,
            times_redeemed: 0,
            created_at: now,
        })
    }
}

/// The decimal text of minor units, for rebuilding the spec through its one validating
/// constructor.
fn decimal_text(minor: i64, decimals: u8) -> String {
    if decimals == 0 {
        return minor.to_string();
    }
    let scale = 10_i64.pow(u32::from(decimals));
    format!(
        "{}.{:0width$}",
        minor / scale,
        minor % scale,
        width = usize::from(decimals)
    )
}

impl TryFrom<CouponRow> for Coupon {
    type Error = RepoError;

    fn try_from(row: CouponRow) -> Result<Coupon, RepoError> {
        let plan_ids: Vec<i64> =
            serde_json::from_str(&row.plan_ids).map_err(|_| corrupt("plan_ids"))?;
        let (percent_off, amount_off) = match (row.percent_off_bp, row.amount_off_minor) {
            (Some(bp), None) => {
                let bp = u32::try_from(bp).map_err(|_| corrupt("percent_off_bp"))?;
                (Some(format!("{}.{:02}", bp / 100, bp % 100)), None)
            }
            (None, Some(minor)) => {
                let code = row.currency.as_deref().ok_or_else(|| corrupt("currency"))?;
                let currency =
                    tariff_domain::Currency::from_code(code).map_err(|_| corrupt("currency"))?;
                (None, Some(decimal_text(minor, currency.decimals())))
            }
            _ => return Err(corrupt("discount")),
        };
        let draft = CouponDraft {
            code: row.code,
            percent_off,
            amount_off,
            currency: row.currency,
            duration: row.duration,
            duration_in_cycles: row.duration_in_cycles.map(i64::from),
            max_redemptions: row.max_redemptions.map(i64::from),
            once_per_account: row.once_per_account,
            valid_from: row.valid_from.map(|t| Utc.from_utc_datetime(&t)),
            valid_until: row.valid_until.map(|t| Utc.from_utc_datetime(&t)),
            plan_ids,
        };
        let spec = CouponSpec::new(draft).map_err(|e| corrupt(e.field))?;
        let times_redeemed =
            u32::try_from(row.times_redeemed).map_err(|_| corrupt("times_redeemed"))?;
        Ok(Coupon::restore(CouponRecord {
            spec,
            active: row.active,
            times_redeemed,
            created_at: Utc.from_utc_datetime(&row.created_at),
        }))
    }
}

/// What the audit log records of a coupon.
pub(super) fn audit_state(coupon: &Coupon) -> CouponSnapshot {
    let spec = coupon.spec();
    let (percent_off, amount_off, currency) = match spec.discount() {
        CouponDiscount::Percent(p) => (Some(p.to_percent_text()), None, None),
        CouponDiscount::Amount(m) => (
            None,
            Some(m.to_fixed_string()),
            Some(m.currency().code().to_owned()),
        ),
    };
    CouponSnapshot {
        code: spec.code().to_string(),
        percent_off,
        amount_off,
        currency,
        duration: spec.duration().as_str().to_owned(),
        duration_in_cycles: spec.duration().duration_in_cycles(),
        max_redemptions: spec.max_redemptions(),
        once_per_account: spec.once_per_account(),
        plan_ids: spec.plan_ids().iter().map(|id| id.get()).collect(),
        active: coupon.active(),
        times_redeemed: coupon.times_redeemed(),
    }
}
