//! Account credit and coupons (panel dialect, camelCase). Money leaves as exact decimal
//! numbers and enters as exact text (a JSON number or a string), never through a float.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tariff_domain::billing::{AccountCredit, Coupon, CouponDiscount, CouponDraft, CreditEntry};
use tariff_domain::Money;
use utoipa::ToSchema;

use super::{panel_timestamp, DecimalInput, DecimalNumber};

/// One currency's balance.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct BalanceJson {
    #[schema(example = "USD")]
    pub currency: &'static str,
    #[schema(value_type = f64, example = 12.5)]
    pub amount: DecimalNumber,
}

impl From<Money> for BalanceJson {
    fn from(amount: Money) -> Self {
        BalanceJson {
            currency: amount.currency().code(),
            amount: DecimalNumber::money(amount),
        }
    }
}

/// One ledger entry: positive adds to the balance, negative takes from it.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreditEntryJson {
    pub id: i64,
    #[schema(value_type = f64, example = -3.0)]
    pub amount: DecimalNumber,
    #[schema(example = "USD")]
    pub currency: &'static str,
    /// The administrator's words, or what the system did (`Applied to an order`...).
    pub reason: String,
    pub order_id: Option<i64>,
    #[schema(example = "2026-11-30T10:00:00Z")]
    pub created_at: String,
}

impl From<&CreditEntry> for CreditEntryJson {
    fn from(entry: &CreditEntry) -> Self {
        CreditEntryJson {
            id: entry.id().get(),
            amount: DecimalNumber::money(entry.amount()),
            currency: entry.currency().code(),
            reason: entry.reason().text().to_owned(),
            order_id: entry.order().map(|id| id.get()),
            created_at: panel_timestamp(entry.created_at()),
        }
    }
}

/// `GET /api/users/:id/credit`, `GET /api/organisations/:id/credit`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CreditJson {
    /// One per currency the account has entries in, by currency code.
    pub balances: Vec<BalanceJson>,
    /// Newest first.
    pub entries: Vec<CreditEntryJson>,
}

impl From<&AccountCredit> for CreditJson {
    fn from(credit: &AccountCredit) -> Self {
        CreditJson {
            balances: credit
                .balances
                .iter()
                .copied()
                .map(BalanceJson::from)
                .collect(),
            entries: credit.entries.iter().map(CreditEntryJson::from).collect(),
        }
    }
}

/// The answer to an administrator's grant or debit: the entry written and the new
/// balance in its currency.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CreditAdjustedJson {
    pub entry: CreditEntryJson,
    pub balance: BalanceJson,
}

/// `POST /api/admin/users/:id/credit`, `POST /api/admin/organisations/:id/credit`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreditAdjustInput {
    /// Exact in the currency: above 0 grants, below 0 debits; never 0.
    #[schema(value_type = f64, example = 12.5)]
    pub amount: DecimalInput,
    #[schema(example = "USD")]
    pub currency: String,
    /// Why, 1 to 500 characters; shown to the account.
    #[schema(example = "Goodwill for the outage")]
    pub reason: String,
}

/// A coupon, as administrators see it.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CouponJson {
    /// Upper-cased; codes are case-insensitive.
    #[schema(example = "SPRING20")]
    pub code: String,
    #[schema(value_type = Option<f64>, example = 20.0)]
    pub percent_off: Option<DecimalNumber>,
    #[schema(value_type = Option<f64>)]
    pub amount_off: Option<DecimalNumber>,
    pub currency: Option<&'static str>,
    /// `once`, `repeating` or `forever`.
    pub duration: &'static str,
    pub duration_in_cycles: Option<u32>,
    pub max_redemptions: Option<u32>,
    pub once_per_account: bool,
    pub valid_from: Option<String>,
    pub valid_until: Option<String>,
    /// Empty: every plan.
    pub plan_ids: Vec<i64>,
    /// False once deactivated.
    pub active: bool,
    /// Standing redemptions (one given back with its unpaid order no longer counts).
    pub times_redeemed: u32,
    pub created_at: String,
}

impl From<&Coupon> for CouponJson {
    fn from(coupon: &Coupon) -> Self {
        let spec = coupon.spec();
        let (percent_off, amount_off, currency) = match spec.discount() {
            CouponDiscount::Percent(p) => (Some(DecimalNumber::percent_off(p)), None, None),
            CouponDiscount::Amount(m) => (
                None,
                Some(DecimalNumber::money(m)),
                Some(m.currency().code()),
            ),
        };
        CouponJson {
            code: spec.code().to_string(),
            percent_off,
            amount_off,
            currency,
            duration: spec.duration().as_str(),
            duration_in_cycles: spec.duration().duration_in_cycles(),
            max_redemptions: spec.max_redemptions(),
            once_per_account: spec.once_per_account(),
            valid_from: spec.valid_from().map(panel_timestamp),
            valid_until: spec.valid_until().map(panel_timestamp),
            plan_ids: spec.plan_ids().iter().map(|id| id.get()).collect(),
            active: coupon.active(),
            times_redeemed: coupon.times_redeemed(),
            created_at: panel_timestamp(coupon.created_at()),
        }
    }
}

/// `POST /api/admin/coupons`: exactly one of `percentOff` and `amountOff` (with its
/// `currency`).
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CouponInput {
    #[schema(example = "SPRING20")]
    pub code: String,
    /// More than 0, at most 100, at most two decimals.
    #[serde(default)]
    #[schema(value_type = Option<f64>, example = 20)]
    pub percent_off: Option<DecimalInput>,
    /// More than 0, exact in `currency`.
    #[serde(default)]
    #[schema(value_type = Option<f64>)]
    pub amount_off: Option<DecimalInput>,
    #[serde(default)]
    pub currency: Option<String>,
    /// `once`, `repeating` (with `durationInCycles`) or `forever`.
    #[schema(example = "repeating")]
    pub duration: String,
    #[serde(default)]
    pub duration_in_cycles: Option<i64>,
    #[serde(default)]
    pub max_redemptions: Option<i64>,
    #[serde(default)]
    pub once_per_account: Option<bool>,
    /// RFC 3339; inclusive.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub valid_from: Option<DateTime<Utc>>,
    /// RFC 3339; exclusive.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub valid_until: Option<DateTime<Utc>>,
    #[serde(default)]
    pub plan_ids: Option<Vec<i64>>,
}

impl CouponInput {
    pub fn into_draft(self) -> CouponDraft {
        CouponDraft {
            code: self.code,
            percent_off: self.percent_off.map(|d| d.0),
            amount_off: self.amount_off.map(|d| d.0),
            currency: self.currency,
            duration: self.duration,
            duration_in_cycles: self.duration_in_cycles,
            max_redemptions: self.max_redemptions,
            once_per_account: self.once_per_account.unwrap_or(false),
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            plan_ids: self.plan_ids.unwrap_or_default(),
        }
    }
}
