//! Account credit: a ledger of signed entries per account and currency. The balance is
//! the sum of the entries, never a column of its own, and never goes below zero.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};

use crate::{AccountRef, Currency, Money, MoneyError, OrderId};

/// Identifies a credit ledger entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CreditEntryId(i64);

impl CreditEntryId {
    /// Wraps a database id. Ids are positive; anything else is rejected.
    pub fn new(raw: i64) -> Option<Self> {
        (raw > 0).then_some(Self(raw))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for CreditEntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

const MAX_REASON_CHARS: usize = 500;

/// Why an entry was written. Each kind has a stable tag for storage and a text for
/// the account's entry list.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CreditReason {
    /// An administrator's grant (positive) or debit (negative), with their words.
    Admin(String),
    /// What a plan change's unused-time credit left over beyond the new order's price,
    /// with the tax paid on it ([`Bill::credit_to_ledger`](super::pricing::Bill::credit_to_ledger)).
    UnusedTime,
    /// Credit used to pay an order (a negative entry).
    AppliedToOrder,
    /// Credit an order used, given back because the order was cancelled or expired
    /// unpaid.
    ReturnedFromOrder,
    /// A refund of a paid order to account credit (its credit note says why).
    Refund,
}

impl CreditReason {
    /// An administrator's reason: 1 to 500 characters, not blank.
    pub fn admin(text: &str) -> Result<CreditReason, CreditError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(CreditError::BlankReason);
        }
        if text.chars().count() > MAX_REASON_CHARS {
            return Err(CreditError::ReasonTooLong);
        }
        Ok(CreditReason::Admin(text.to_owned()))
    }

    /// The storage tag: `admin`, `unused_time`, `applied_to_order`, `returned_from_order`.
    pub fn kind(&self) -> &'static str {
        match self {
            CreditReason::Admin(_) => "admin",
            CreditReason::UnusedTime => "unused_time",
            CreditReason::AppliedToOrder => "applied_to_order",
            CreditReason::ReturnedFromOrder => "returned_from_order",
            CreditReason::Refund => "refund",
        }
    }

    /// The contract's `reason` text.
    pub fn text(&self) -> &str {
        match self {
            CreditReason::Admin(text) => text,
            CreditReason::UnusedTime => "Unused time from a plan change",
            CreditReason::AppliedToOrder => "Applied to an order",
            CreditReason::ReturnedFromOrder => "Given back from an order not paid",
            CreditReason::Refund => "Refund of a paid order",
        }
    }

    /// Rebuilds a stored reason from its tag and, for an administrator's, its text.
    pub fn from_parts(kind: &str, text: &str) -> Option<CreditReason> {
        match kind {
            "admin" => CreditReason::admin(text).ok(),
            "unused_time" => Some(CreditReason::UnusedTime),
            "applied_to_order" => Some(CreditReason::AppliedToOrder),
            "returned_from_order" => Some(CreditReason::ReturnedFromOrder),
            "refund" => Some(CreditReason::Refund),
            _ => None,
        }
    }
}

/// Why a credit entry or balance change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreditError {
    #[error("a credit entry cannot be zero")]
    ZeroAmount,
    #[error("this kind of credit entry needs an amount above zero")]
    NotPositive,
    #[error("a reason is required")]
    BlankReason,
    #[error("a reason has at most {MAX_REASON_CHARS} characters")]
    ReasonTooLong,
    /// The change would take the balance below zero (HTTP: 409).
    #[error("the balance is {balance}; {change} would take it below zero")]
    WouldGoNegative { balance: Money, change: Money },
    #[error(transparent)]
    Money(#[from] MoneyError),
}

impl CreditError {
    /// The contract's JSON field a validation error is about; `None` for the balance
    /// conflict, which is not a field's fault.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            CreditError::ZeroAmount | CreditError::NotPositive => Some("amount"),
            CreditError::BlankReason | CreditError::ReasonTooLong => Some("reason"),
            CreditError::Money(MoneyError::UnknownCurrency(_)) => Some("currency"),
            CreditError::Money(_) => Some("amount"),
            CreditError::WouldGoNegative { .. } => None,
        }
    }
}

/// Parses an administrator's signed amount (`12.5`, `-3`) exactly in `currency`.
pub fn parse_signed_amount(text: &str, currency: Currency) -> Result<Money, MoneyError> {
    let trimmed = text.trim();
    match trimmed.strip_prefix('-') {
        Some(magnitude) => {
            let positive = Money::parse_decimal(magnitude, currency)?;
            Money::zero(currency).checked_sub(positive)
        }
        None => Money::parse_decimal(trimmed, currency),
    }
}

/// A ledger entry not yet stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCreditEntry {
    account: AccountRef,
    amount: Money,
    reason: CreditReason,
    order: Option<OrderId>,
    at: DateTime<Utc>,
}

impl NewCreditEntry {
    /// An administrator's grant (`amount` above 0) or debit (below 0).
    pub fn admin_adjustment(
        account: AccountRef,
        amount: Money,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<NewCreditEntry, CreditError> {
        if amount.is_zero() {
            return Err(CreditError::ZeroAmount);
        }
        Ok(NewCreditEntry {
            account,
            amount,
            reason: CreditReason::admin(reason)?,
            order: None,
            at,
        })
    }

    /// The part of a plan change's unused-time credit that `order` could not use, with
    /// the tax paid on it ([`Bill::credit_to_ledger`](super::pricing::Bill::credit_to_ledger)).
    pub fn unused_time(
        account: AccountRef,
        leftover: Money,
        order: OrderId,
        at: DateTime<Utc>,
    ) -> Result<NewCreditEntry, CreditError> {
        Self::positive(account, leftover, CreditReason::UnusedTime, order, at)
    }

    /// `refunded` of paid `order`, given back as credit (a credit note's `to: credit`).
    pub fn refund(
        account: AccountRef,
        refunded: Money,
        order: OrderId,
        at: DateTime<Utc>,
    ) -> Result<NewCreditEntry, CreditError> {
        Self::positive(account, refunded, CreditReason::Refund, order, at)
    }

    /// `applied` of the balance used to pay `order`: stored as a negative entry.
    pub fn applied_to_order(
        account: AccountRef,
        applied: Money,
        order: OrderId,
        at: DateTime<Utc>,
    ) -> Result<NewCreditEntry, CreditError> {
        let mut entry = Self::positive(account, applied, CreditReason::AppliedToOrder, order, at)?;
        entry.amount = Money::zero(applied.currency()).checked_sub(applied)?;
        Ok(entry)
    }

    fn positive(
        account: AccountRef,
        amount: Money,
        reason: CreditReason,
        order: OrderId,
        at: DateTime<Utc>,
    ) -> Result<NewCreditEntry, CreditError> {
        if amount.minor() <= 0 {
            return Err(CreditError::NotPositive);
        }
        Ok(NewCreditEntry {
            account,
            amount,
            reason,
            order: Some(order),
            at,
        })
    }

    pub fn account(&self) -> AccountRef {
        self.account
    }
    /// Signed: above 0 adds to the balance, below 0 takes from it.
    pub fn amount(&self) -> Money {
        self.amount
    }
    pub fn reason(&self) -> &CreditReason {
        &self.reason
    }
    pub fn order(&self) -> Option<OrderId> {
        self.order
    }
    pub fn at(&self) -> DateTime<Utc> {
        self.at
    }
}

/// A stored ledger entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreditEntry {
    id: CreditEntryId,
    entry: NewCreditEntry,
}

impl CreditEntry {
    /// Rebuilds a stored entry.
    pub fn restore(id: CreditEntryId, entry: NewCreditEntry) -> CreditEntry {
        CreditEntry { id, entry }
    }

    /// Rebuilds a stored entry from its columns; `None` if they break an invariant
    /// (a zero amount, an unknown reason tag).
    pub fn from_parts(
        id: CreditEntryId,
        account: AccountRef,
        amount: Money,
        reason: CreditReason,
        order: Option<OrderId>,
        at: DateTime<Utc>,
    ) -> Option<CreditEntry> {
        (!amount.is_zero()).then_some(CreditEntry {
            id,
            entry: NewCreditEntry {
                account,
                amount,
                reason,
                order,
                at,
            },
        })
    }

    pub fn id(&self) -> CreditEntryId {
        self.id
    }
    pub fn account(&self) -> AccountRef {
        self.entry.account
    }
    pub fn amount(&self) -> Money {
        self.entry.amount
    }
    pub fn currency(&self) -> Currency {
        self.entry.amount.currency()
    }
    pub fn reason(&self) -> &CreditReason {
        &self.entry.reason
    }
    pub fn order(&self) -> Option<OrderId> {
        self.entry.order
    }
    pub fn created_at(&self) -> DateTime<Utc> {
        self.entry.at
    }
}

/// The balance per currency: the sum of the entries, one per currency that has any,
/// ordered by currency code.
pub fn balances(entries: &[CreditEntry]) -> Result<Vec<Money>, MoneyError> {
    let mut sums: BTreeMap<&'static str, Money> = BTreeMap::new();
    for entry in entries {
        let amount = entry.amount();
        let sum = sums
            .entry(amount.currency().code())
            .or_insert_with(|| Money::zero(amount.currency()));
        *sum = sum.checked_add(amount)?;
    }
    Ok(sums.into_values().collect())
}

/// The balance in one currency (zero when there are no entries in it).
pub fn balance_in(entries: &[CreditEntry], currency: Currency) -> Result<Money, MoneyError> {
    entries
        .iter()
        .filter(|entry| entry.currency() == currency)
        .try_fold(Money::zero(currency), |sum, entry| {
            sum.checked_add(entry.amount())
        })
}

/// The balance after `change`, or the refusal when it would go below zero. Stores
/// run this rule where they hold the balance (under a lock or a constraint): checked
/// here alone, two concurrent debits could both pass.
pub fn check_balance_change(balance: Money, change: Money) -> Result<Money, CreditError> {
    let after = balance.checked_add(change)?;
    if after.minor() < 0 {
        return Err(CreditError::WouldGoNegative { balance, change });
    }
    Ok(after)
}

/// How much of `balance` pays an order whose total (tax included) is `total`: all of
/// it up to the total, nothing from a balance in another currency or below zero.
pub fn apply_credit(balance: Money, total: Money) -> Money {
    if balance.currency() != total.currency() {
        return Money::zero(total.currency());
    }
    let usable = balance.minor().max(0).min(total.minor().max(0));
    Money::from_minor(usable, total.currency())
}

/// The entries that give back what `order` took from the balance, once it is cancelled
/// or expires unpaid: for each currency, minus what its `AppliedToOrder` and
/// `ReturnedFromOrder` entries add up to. Nothing when all was given back already, so
/// calling this twice never gives twice.
pub fn credit_to_give_back(
    order: OrderId,
    entries: &[CreditEntry],
    at: DateTime<Utc>,
) -> Result<Vec<NewCreditEntry>, MoneyError> {
    let mut taken: BTreeMap<(&'static str, i64, &'static str), (AccountRef, Money)> =
        BTreeMap::new();
    for entry in entries.iter().filter(|e| {
        e.order() == Some(order)
            && matches!(
                e.reason(),
                CreditReason::AppliedToOrder | CreditReason::ReturnedFromOrder
            )
    }) {
        let key = (
            entry.account().kind(),
            entry.account().raw_id(),
            entry.currency().code(),
        );
        let slot = taken
            .entry(key)
            .or_insert_with(|| (entry.account(), Money::zero(entry.currency())));
        slot.1 = slot.1.checked_add(entry.amount())?;
    }
    let mut give_back = Vec::new();
    for (account, net) in taken.into_values() {
        if net.minor() < 0 {
            give_back.push(NewCreditEntry {
                account,
                amount: Money::zero(net.currency()).checked_sub(net)?,
                reason: CreditReason::ReturnedFromOrder,
                order: Some(order),
                at,
            });
        }
    }
    Ok(give_back)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::UserId;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap()
    }

    fn account() -> AccountRef {
        AccountRef::User(UserId::new(9).unwrap())
    }

    fn usd(minor: i64) -> Money {
        Money::from_minor(minor, Currency::USD)
    }

    fn stored(entries: Vec<NewCreditEntry>) -> Vec<CreditEntry> {
        entries
            .into_iter()
            .enumerate()
            .map(|(i, e)| CreditEntry::restore(CreditEntryId::new(i as i64 + 1).unwrap(), e))
            .collect()
    }

    #[test]
    fn balance_is_the_sum_per_currency() {
        let order = OrderId::new(4).unwrap();
        let entries = stored(vec![
            NewCreditEntry::admin_adjustment(account(), usd(1250), "goodwill", now()).unwrap(),
            NewCreditEntry::admin_adjustment(
                account(),
                Money::from_minor(300, Currency::EUR),
                "refund",
                now(),
            )
            .unwrap(),
            NewCreditEntry::applied_to_order(account(), usd(1000), order, now()).unwrap(),
        ]);
        assert_eq!(entries[2].amount(), usd(-1000));
        let all = balances(&entries).unwrap();
        assert_eq!(all, vec![Money::from_minor(300, Currency::EUR), usd(250)]);
        assert_eq!(balance_in(&entries, Currency::USD).unwrap(), usd(250));
        assert_eq!(
            balance_in(&entries, Currency::from_code("GBP").unwrap())
                .unwrap()
                .minor(),
            0
        );
    }

    #[test]
    fn never_below_zero() {
        assert_eq!(check_balance_change(usd(500), usd(-500)), Ok(usd(0)));
        assert_eq!(
            check_balance_change(usd(500), usd(-501)),
            Err(CreditError::WouldGoNegative {
                balance: usd(500),
                change: usd(-501)
            })
        );
        assert_eq!(check_balance_change(usd(0), usd(1)), Ok(usd(1)));
        assert!(check_balance_change(usd(0), Money::from_minor(1, Currency::EUR)).is_err());
    }

    #[test]
    fn credit_pays_up_to_the_total_in_its_currency() {
        assert_eq!(apply_credit(usd(1250), usd(1189)), usd(1189));
        assert_eq!(apply_credit(usd(500), usd(1189)), usd(500));
        assert_eq!(apply_credit(usd(-5), usd(1189)), usd(0));
        assert_eq!(
            apply_credit(Money::from_minor(500, Currency::EUR), usd(1189)),
            usd(0)
        );
    }

    #[test]
    fn entries_are_validated() {
        assert_eq!(
            NewCreditEntry::admin_adjustment(account(), usd(0), "x", now()),
            Err(CreditError::ZeroAmount)
        );
        let blank = NewCreditEntry::admin_adjustment(account(), usd(1), "  ", now()).unwrap_err();
        assert_eq!(blank.field(), Some("reason"));
        assert!(
            NewCreditEntry::admin_adjustment(account(), usd(1), &"x".repeat(501), now()).is_err()
        );
        let order = OrderId::new(1).unwrap();
        assert_eq!(
            NewCreditEntry::applied_to_order(account(), usd(-1), order, now()),
            Err(CreditError::NotPositive)
        );
        assert!(NewCreditEntry::unused_time(account(), usd(0), order, now()).is_err());
        for reason in [
            CreditReason::admin("goodwill").unwrap(),
            CreditReason::UnusedTime,
            CreditReason::AppliedToOrder,
            CreditReason::ReturnedFromOrder,
        ] {
            assert_eq!(
                CreditReason::from_parts(reason.kind(), reason.text()),
                Some(reason)
            );
        }
        assert_eq!(CreditReason::from_parts("gift", "x"), None);
    }

    #[test]
    fn signed_amounts_parse_exactly() {
        assert_eq!(parse_signed_amount("12.5", Currency::USD), Ok(usd(1250)));
        assert_eq!(parse_signed_amount("-3", Currency::USD), Ok(usd(-300)));
        assert!(parse_signed_amount("--3", Currency::USD).is_err());
        assert!(parse_signed_amount("1.001", Currency::USD).is_err());
    }

    #[test]
    fn giving_back_happens_once() {
        let order = OrderId::new(7).unwrap();
        let other = OrderId::new(8).unwrap();
        let mut entries = stored(vec![
            NewCreditEntry::admin_adjustment(account(), usd(2000), "goodwill", now()).unwrap(),
            NewCreditEntry::applied_to_order(account(), usd(1189), order, now()).unwrap(),
            NewCreditEntry::applied_to_order(account(), usd(300), other, now()).unwrap(),
        ]);
        let back = credit_to_give_back(order, &entries, now()).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].amount(), usd(1189));
        assert_eq!(back[0].reason(), &CreditReason::ReturnedFromOrder);
        assert_eq!(back[0].order(), Some(order));
        entries.extend(stored(back));
        assert!(credit_to_give_back(order, &entries, now())
            .unwrap()
            .is_empty());
        assert_eq!(balance_in(&entries, Currency::USD).unwrap(), usd(1700));
    }
}
