//! Coupons: a code that takes a percentage or an amount off the price of orders, for
//! one period, a number of periods, or for ever, within limits.

use std::fmt;
use std::num::NonZeroU32;

use chrono::{DateTime, Utc};

use crate::{AccountRef, Currency, Money, MoneyError, PlanId, TaxRate};

/// A coupon field failed validation; `field` is the contract's JSON name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct CouponValidationError {
    pub field: &'static str,
    pub message: String,
}

impl CouponValidationError {
    fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

const MAX_CODE_CHARS: usize = 64;

/// A coupon code, upper-cased: codes are case-insensitive, so `spring20` and `SPRING20`
/// are the same coupon. Letters A-Z, digits, `-` and `_`; 1 to 64 characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CouponCode(String);

impl CouponCode {
    /// Normalises and checks a code (surrounding spaces are ignored).
    pub fn parse(text: &str) -> Result<CouponCode, CouponValidationError> {
        let code = text.trim().to_ascii_uppercase();
        if code.is_empty() || code.chars().count() > MAX_CODE_CHARS {
            return Err(CouponValidationError::new(
                "code",
                format!("must be 1 to {MAX_CODE_CHARS} characters"),
            ));
        }
        if !code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err(CouponValidationError::new(
                "code",
                "may hold only letters A-Z, digits, `-` and `_`",
            ));
        }
        Ok(CouponCode(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CouponCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A percentage off, in hundredths of a percent: more than 0% and at most 100%.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PercentOff(u32);

impl PercentOff {
    pub fn from_basis_points(bp: u32) -> Option<PercentOff> {
        (1..=10_000).contains(&bp).then_some(PercentOff(bp))
    }

    /// Parses `20`, `12.5` or `7.25` exactly (at most two decimals).
    pub fn parse(text: &str) -> Option<PercentOff> {
        TaxRate::parse_percent(text).and_then(|rate| Self::from_basis_points(rate.basis_points()))
    }

    pub fn basis_points(self) -> u32 {
        self.0
    }

    /// The percentage as JSON number text: `20.0`, `12.5`.
    pub fn to_percent_text(self) -> String {
        TaxRate::from_basis_points(self.0)
            .map(TaxRate::to_percent_text)
            .unwrap_or_default()
    }
}

/// What a coupon takes off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CouponDiscount {
    Percent(PercentOff),
    /// A fixed amount, only for orders in its currency.
    Amount(Money),
}

impl CouponDiscount {
    /// The discount on `price`: never negative, never more than `price`.
    ///
    /// A percentage is rounded UP to the minor unit: the customer never pays more
    /// than the advertised percentage gives exactly (20% off 9.99 is 2.00 off, so 7.99
    /// is paid, not 8.00). That is the customer-safe side; the seller gives at most one
    /// minor unit more than the exact discount. An amount is capped at the price.
    ///
    /// Errors: `CurrencyMismatch` for an amount in another currency than `price`.
    pub fn discount_on(self, price: Money) -> Result<Money, MoneyError> {
        let currency = price.currency();
        if let CouponDiscount::Amount(amount) = self {
            if amount.currency() != currency {
                return Err(MoneyError::CurrencyMismatch(
                    amount.currency().code(),
                    currency.code(),
                ));
            }
        }
        if price.minor() <= 0 {
            return Ok(Money::zero(currency));
        }
        let minor = match self {
            CouponDiscount::Percent(percent) => {
                let exact = i128::from(price.minor()) * i128::from(percent.basis_points());
                let rounded_up = (exact + 9_999) / 10_000;
                i64::try_from(rounded_up).map_err(|_| MoneyError::Overflow)?
            }
            CouponDiscount::Amount(amount) => amount.minor(),
        };
        Ok(Money::from_minor(minor.clamp(0, price.minor()), currency))
    }
}

/// For how many periods a redeemed coupon keeps discounting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CouponDuration {
    /// The order it was redeemed on only.
    Once,
    /// This many periods in all, the order it was redeemed on included.
    Repeating(NonZeroU32),
    /// The order it was redeemed on and every renewal.
    Forever,
}

impl CouponDuration {
    /// The contract's name: `once`, `repeating` or `forever`.
    pub fn as_str(self) -> &'static str {
        match self {
            CouponDuration::Once => "once",
            CouponDuration::Repeating(_) => "repeating",
            CouponDuration::Forever => "forever",
        }
    }

    /// `durationInCycles` for a repeating coupon.
    pub fn duration_in_cycles(self) -> Option<u32> {
        match self {
            CouponDuration::Repeating(cycles) => Some(cycles.get()),
            CouponDuration::Once | CouponDuration::Forever => None,
        }
    }

    /// Whether the coupon discounts period `index` of the order chain it was redeemed
    /// on: 0 is the order that redeemed it, 1 its first renewal, and so on.
    pub fn applies_to_period(self, index: u32) -> bool {
        match self {
            CouponDuration::Once => index == 0,
            CouponDuration::Repeating(cycles) => index < cycles.get(),
            CouponDuration::Forever => true,
        }
    }

    /// Whether the coupon discounts the `renewal`-th renewal (1 is the first).
    pub fn applies_to_renewal(self, renewal: u32) -> bool {
        renewal >= 1 && self.applies_to_period(renewal)
    }
}

/// Unvalidated coupon input, as it comes from the admin API. Amounts and percentages
/// are decimal text so that they are parsed exactly.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CouponDraft {
    pub code: String,
    pub percent_off: Option<String>,
    pub amount_off: Option<String>,
    pub currency: Option<String>,
    pub duration: String,
    pub duration_in_cycles: Option<i64>,
    pub max_redemptions: Option<i64>,
    pub once_per_account: bool,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub plan_ids: Vec<i64>,
}

/// A validated coupon, without its usage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CouponSpec {
    code: CouponCode,
    discount: CouponDiscount,
    duration: CouponDuration,
    max_redemptions: Option<NonZeroU32>,
    once_per_account: bool,
    valid_from: Option<DateTime<Utc>>,
    valid_until: Option<DateTime<Utc>>,
    plan_ids: Vec<PlanId>,
}

fn positive_u32(field: &'static str, value: i64) -> Result<NonZeroU32, CouponValidationError> {
    u32::try_from(value)
        .ok()
        .and_then(NonZeroU32::new)
        .ok_or_else(|| {
            CouponValidationError::new(
                field,
                format!("must be a whole number from 1 to {}", u32::MAX),
            )
        })
}

impl CouponSpec {
    /// Checks a draft: a code; exactly one of `percentOff` (more than 0, at most 100,
    /// two decimals) and `amountOff` (more than 0, with its `currency`); a duration,
    /// with `durationInCycles` exactly when it is `repeating`; limits of at least 1; a
    /// validity window that ends after it starts; positive plan ids.
    pub fn new(draft: CouponDraft) -> Result<CouponSpec, CouponValidationError> {
        let code = CouponCode::parse(&draft.code)?;
        let discount = match (&draft.percent_off, &draft.amount_off) {
            (Some(_), Some(_)) => {
                return Err(CouponValidationError::new(
                    "amountOff",
                    "give percentOff or amountOff, not both",
                ))
            }
            (None, None) => {
                return Err(CouponValidationError::new(
                    "percentOff",
                    "a coupon needs percentOff or amountOff",
                ))
            }
            (Some(percent), None) => {
                if draft.currency.is_some() {
                    return Err(CouponValidationError::new(
                        "currency",
                        "only an amountOff coupon has a currency",
                    ));
                }
                CouponDiscount::Percent(PercentOff::parse(percent).ok_or_else(|| {
                    CouponValidationError::new(
                        "percentOff",
                        "must be more than 0 and at most 100, with at most two decimals",
                    )
                })?)
            }
            (None, Some(amount)) => {
                let currency_text = draft.currency.as_deref().ok_or_else(|| {
                    CouponValidationError::new("currency", "an amountOff coupon needs a currency")
                })?;
                let currency = Currency::from_code(currency_text)
                    .map_err(|e| CouponValidationError::new("currency", e.to_string()))?;
                let money = Money::parse_decimal(amount, currency).map_err(|e| match e {
                    MoneyError::Negative => {
                        CouponValidationError::new("amountOff", "must be more than 0")
                    }
                    other => CouponValidationError::new("amountOff", other.to_string()),
                })?;
                if money.is_zero() {
                    return Err(CouponValidationError::new(
                        "amountOff",
                        "must be more than 0",
                    ));
                }
                CouponDiscount::Amount(money)
            }
        };
        let duration = match (draft.duration.as_str(), draft.duration_in_cycles) {
            ("once", None) => CouponDuration::Once,
            ("forever", None) => CouponDuration::Forever,
            ("repeating", Some(cycles)) => {
                CouponDuration::Repeating(positive_u32("durationInCycles", cycles)?)
            }
            ("repeating", None) => {
                return Err(CouponValidationError::new(
                    "durationInCycles",
                    "a repeating coupon needs durationInCycles",
                ))
            }
            ("once" | "forever", Some(_)) => {
                return Err(CouponValidationError::new(
                    "durationInCycles",
                    "only a repeating coupon has durationInCycles",
                ))
            }
            _ => {
                return Err(CouponValidationError::new(
                    "duration",
                    "must be once, repeating or forever",
                ))
            }
        };
        let max_redemptions = draft
            .max_redemptions
            .map(|max| positive_u32("maxRedemptions", max))
            .transpose()?;
        if let (Some(from), Some(until)) = (draft.valid_from, draft.valid_until) {
            if until <= from {
                return Err(CouponValidationError::new(
                    "validUntil",
                    "must be later than validFrom",
                ));
            }
        }
        let mut plan_ids = draft
            .plan_ids
            .iter()
            .map(|raw| {
                PlanId::new(*raw).ok_or_else(|| {
                    CouponValidationError::new("planIds", format!("`{raw}` is not a plan id"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        plan_ids.sort_unstable();
        plan_ids.dedup();
        Ok(CouponSpec {
            code,
            discount,
            duration,
            max_redemptions,
            once_per_account: draft.once_per_account,
            valid_from: draft.valid_from,
            valid_until: draft.valid_until,
            plan_ids,
        })
    }

    pub fn code(&self) -> &CouponCode {
        &self.code
    }
    pub fn discount(&self) -> CouponDiscount {
        self.discount
    }
    pub fn duration(&self) -> CouponDuration {
        self.duration
    }
    pub fn max_redemptions(&self) -> Option<u32> {
        self.max_redemptions.map(NonZeroU32::get)
    }
    pub fn once_per_account(&self) -> bool {
        self.once_per_account
    }
    pub fn valid_from(&self) -> Option<DateTime<Utc>> {
        self.valid_from
    }
    pub fn valid_until(&self) -> Option<DateTime<Utc>> {
        self.valid_until
    }
    /// The plans the coupon is for, ascending; empty means every plan.
    pub fn plan_ids(&self) -> &[PlanId] {
        &self.plan_ids
    }
}

/// Everything a stored coupon consists of, for adapters rebuilding one.
#[derive(Clone, Debug)]
pub struct CouponRecord {
    pub spec: CouponSpec,
    pub active: bool,
    pub times_redeemed: u32,
    pub created_at: DateTime<Utc>,
}

/// A stored coupon: its rules, whether it is active, and how often it was redeemed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coupon {
    spec: CouponSpec,
    active: bool,
    times_redeemed: u32,
    created_at: DateTime<Utc>,
}

/// Why a coupon cannot be used on an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectionReason {
    /// No coupon has this code.
    Unknown,
    /// An administrator deactivated it.
    Inactive,
    /// Its `validUntil` has passed.
    Expired,
    /// Its `validFrom` has not come yet.
    NotYetValid,
    /// It reached `maxRedemptions`.
    Exhausted,
    /// It is restricted to other plans.
    OtherPlan,
    /// An amount-off coupon in another currency than the order.
    OtherCurrency,
    /// A once-per-account coupon this account already redeemed.
    AlreadyUsed,
}

/// A coupon refused for an order: HTTP answers 400 `validation_failed` on
/// [`CouponRejection::FIELD`] with this sentence, which names the reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("coupon {code} {}", reason_text(.reason))]
pub struct CouponRejection {
    pub code: String,
    pub reason: RejectionReason,
}

fn reason_text(reason: &RejectionReason) -> &'static str {
    match reason {
        RejectionReason::Unknown => "is unknown",
        RejectionReason::Inactive => "is inactive",
        RejectionReason::Expired => "has expired",
        RejectionReason::NotYetValid => "is not valid yet",
        RejectionReason::Exhausted => "has been redeemed as often as it may be",
        RejectionReason::OtherPlan => "is not valid for this plan",
        RejectionReason::OtherCurrency => "is in another currency than this order",
        RejectionReason::AlreadyUsed => "has already been used by this account",
    }
}

impl CouponRejection {
    /// The contract's JSON field for every coupon refusal.
    pub const FIELD: &'static str = "couponCode";

    /// The code the customer typed matches no coupon (or is not a code at all).
    pub fn unknown(typed: &str) -> CouponRejection {
        CouponRejection {
            code: typed.trim().to_ascii_uppercase(),
            reason: RejectionReason::Unknown,
        }
    }

    pub fn field(&self) -> &'static str {
        Self::FIELD
    }
}

/// The order a coupon is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RedemptionContext {
    pub plan: PlanId,
    pub currency: Currency,
    pub at: DateTime<Utc>,
    /// Whether this account has a standing redemption of the coupon (one given back
    /// with a cancelled or expired order does not count).
    pub already_redeemed_by_account: bool,
}

impl Coupon {
    /// Rebuilds a stored coupon.
    pub fn restore(record: CouponRecord) -> Coupon {
        Coupon {
            spec: record.spec,
            active: record.active,
            times_redeemed: record.times_redeemed,
            created_at: record.created_at,
        }
    }

    pub fn spec(&self) -> &CouponSpec {
        &self.spec
    }
    pub fn code(&self) -> &CouponCode {
        self.spec.code()
    }
    pub fn active(&self) -> bool {
        self.active
    }
    pub fn times_redeemed(&self) -> u32 {
        self.times_redeemed
    }
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// Whether the coupon may be redeemed on an order described by `context`. Checks,
    /// first failure wins: active, not before `validFrom`, before `validUntil`, not
    /// exhausted, for this plan, in this currency, not already used by the account
    /// when once per account. The count read here is advisory: the store holds the
    /// limit when the redemption is written (see `OrderPlacement`).
    pub fn check(&self, context: &RedemptionContext) -> Result<(), CouponRejection> {
        let spec = &self.spec;
        let reject = |reason| {
            Err(CouponRejection {
                code: spec.code.to_string(),
                reason,
            })
        };
        if !self.active {
            return reject(RejectionReason::Inactive);
        }
        if spec.valid_from.is_some_and(|from| context.at < from) {
            return reject(RejectionReason::NotYetValid);
        }
        if spec.valid_until.is_some_and(|until| context.at >= until) {
            return reject(RejectionReason::Expired);
        }
        if spec
            .max_redemptions
            .is_some_and(|max| self.times_redeemed >= max.get())
        {
            return reject(RejectionReason::Exhausted);
        }
        if !spec.plan_ids.is_empty() && !spec.plan_ids.contains(&context.plan) {
            return reject(RejectionReason::OtherPlan);
        }
        if let CouponDiscount::Amount(amount) = spec.discount {
            if amount.currency() != context.currency {
                return reject(RejectionReason::OtherCurrency);
            }
        }
        if spec.once_per_account && context.already_redeemed_by_account {
            return reject(RejectionReason::AlreadyUsed);
        }
        Ok(())
    }
}

/// A redemption to store with the order that makes it: the store counts it against
/// `maxRedemptions` and `oncePerAccount` in the order's transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CouponRedemption {
    pub code: CouponCode,
    pub account: AccountRef,
    /// The discount on the order's first period.
    pub discount: Money,
    /// The limits as checked, for the store to enforce again under its lock.
    pub max_redemptions: Option<u32>,
    pub once_per_account: bool,
    pub at: DateTime<Utc>,
}

impl CouponRedemption {
    /// The redemption of `coupon` by `account`, worth `discount` on the order.
    pub fn of(
        coupon: &Coupon,
        account: AccountRef,
        discount: Money,
        at: DateTime<Utc>,
    ) -> CouponRedemption {
        CouponRedemption {
            code: coupon.code().clone(),
            account,
            discount,
            max_redemptions: coupon.spec.max_redemptions(),
            once_per_account: coupon.spec.once_per_account,
            at,
        }
    }
}

#[cfg(test)]
mod tests;
