//! The account credit and coupon catalogue use cases that need no order: reading an
//! account's credit, an administrator's grants and debits, and managing coupons.
//! Applying credit and coupons to orders is `OrderPlacement`'s job (see `ports`).

use std::sync::Arc;

use crate::audit::entry::{Actor, AuditAction, AuditEntry, TargetKind};
use crate::shared::clock::Clock;
use crate::shared::repo::{ConflictKind, StoreFailure};
use crate::{AccountRef, Currency, Money, Page, PageRequest, RepoError};

use super::coupon::{Coupon, CouponCode, CouponDraft, CouponSpec, CouponValidationError};
use super::credit::{parse_signed_amount, CreditEntry, CreditError, NewCreditEntry};
use super::ports::{CouponRepository, CreditLedger};

/// An account's credit: the balance per currency and every entry, newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountCredit {
    pub balances: Vec<Money>,
    pub entries: Vec<CreditEntry>,
}

/// Why a credit call failed.
#[derive(Debug, thiserror::Error)]
pub enum CreditServiceError {
    /// Bad input; [`CreditError::field`] names the JSON field.
    #[error(transparent)]
    Invalid(CreditError),
    #[error("{0} does not exist")]
    AccountNotFound(AccountRef),
    /// The change would take the balance below zero: nothing was written (HTTP 409).
    #[error("the {currency} balance is {balance}; a change of {change} would take it below zero")]
    WouldGoNegative {
        currency: &'static str,
        balance: String,
        change: String,
    },
    #[error(transparent)]
    Store(#[from] StoreFailure),
}

impl From<RepoError> for CreditServiceError {
    fn from(err: RepoError) -> Self {
        CreditServiceError::Store(err.into())
    }
}

/// Account credit: reading it, and administrators' grants and debits.
#[derive(Clone)]
pub struct CreditService {
    ledger: Arc<dyn CreditLedger>,
    clock: Arc<dyn Clock>,
}

impl CreditService {
    pub fn new(ledger: Arc<dyn CreditLedger>, clock: Arc<dyn Clock>) -> CreditService {
        CreditService { ledger, clock }
    }

    /// The account's balances and entries. Authorisation is the caller's (the account
    /// itself or an admin).
    pub async fn statement(
        &self,
        account: AccountRef,
    ) -> Result<AccountCredit, CreditServiceError> {
        let entries = self.ledger.entries(account).await.map_err(|e| match e {
            RepoError::NotFound => CreditServiceError::AccountNotFound(account),
            other => other.into(),
        })?;
        let balances = super::credit::balances(&entries).map_err(|e| {
            CreditServiceError::Store(StoreFailure::from(RepoError::internal(e.to_string())))
        })?;
        Ok(AccountCredit { balances, entries })
    }

    /// The balance in one currency (zero without entries).
    pub async fn balance(
        &self,
        account: AccountRef,
        currency: Currency,
    ) -> Result<Money, CreditServiceError> {
        Ok(self.ledger.balance(account, currency).await?)
    }

    /// An administrator's grant (`amount` above 0) or debit (below 0), exact decimal
    /// text in `currency`, audited as `credit.adjust` in the same transaction. A debit
    /// the balance does not cover is refused and changes nothing, also when debits race.
    pub async fn adjust(
        &self,
        account: AccountRef,
        amount: &str,
        currency: &str,
        reason: &str,
        actor: Actor,
    ) -> Result<CreditEntry, CreditServiceError> {
        let currency = Currency::from_code(currency)
            .map_err(|e| CreditServiceError::Invalid(CreditError::Money(e)))?;
        let change = parse_signed_amount(amount, currency)
            .map_err(|e| CreditServiceError::Invalid(CreditError::Money(amount_error(e))))?;
        let entry = NewCreditEntry::admin_adjustment(account, change, reason, self.clock.now())
            .map_err(CreditServiceError::Invalid)?;
        let audit = AuditEntry::on_account(actor, AuditAction::CreditAdjust, account);
        match self.ledger.append(entry, Some(audit)).await {
            Ok(stored) => Ok(stored),
            Err(RepoError::NotFound) => Err(CreditServiceError::AccountNotFound(account)),
            Err(RepoError::Conflict(ConflictKind::InsufficientBalance)) => {
                let balance = self.ledger.balance(account, currency).await?;
                Err(CreditServiceError::WouldGoNegative {
                    currency: currency.code(),
                    balance: balance.to_fixed_string(),
                    change: change.to_fixed_string(),
                })
            }
            Err(other) => Err(other.into()),
        }
    }
}

/// An unknown currency inside an amount's parse is the amount's fault, not the
/// currency's (the currency was parsed first).
fn amount_error(err: crate::MoneyError) -> crate::MoneyError {
    match err {
        crate::MoneyError::UnknownCurrency(text) => crate::MoneyError::NotADecimal(text),
        other => other,
    }
}

/// Why a coupon call failed.
#[derive(Debug, thiserror::Error)]
pub enum CouponError {
    /// Bad input; `field` names the JSON field.
    #[error(transparent)]
    Invalid(CouponValidationError),
    #[error("coupon {0} already exists")]
    CodeTaken(String),
    #[error("coupon {0} does not exist")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreFailure),
}

impl From<RepoError> for CouponError {
    fn from(err: RepoError) -> Self {
        CouponError::Store(err.into())
    }
}

/// The coupon catalogue (administrators only; the caller checks that).
#[derive(Clone)]
pub struct CouponService {
    repo: Arc<dyn CouponRepository>,
    clock: Arc<dyn Clock>,
}

impl CouponService {
    pub fn new(repo: Arc<dyn CouponRepository>, clock: Arc<dyn Clock>) -> CouponService {
        CouponService { repo, clock }
    }

    /// Creates an active coupon, audited as `coupon.create`.
    pub async fn create(&self, draft: CouponDraft, actor: Actor) -> Result<Coupon, CouponError> {
        let spec = CouponSpec::new(draft).map_err(CouponError::Invalid)?;
        let code = spec.code().to_string();
        let audit = AuditEntry::new(actor, AuditAction::CouponCreate, TargetKind::Coupon, None);
        self.repo
            .create(spec, Some(audit))
            .await
            .map_err(|e| match e {
                RepoError::Conflict(_) => CouponError::CodeTaken(code),
                other => other.into(),
            })
    }

    /// One coupon by its code, in any case.
    pub async fn get(&self, code: &str) -> Result<Coupon, CouponError> {
        let parsed = known_code(code)?;
        self.repo.get(parsed).await.map_err(|e| not_found(e, code))
    }

    /// A page of coupons, newest first.
    pub async fn page(&self, request: PageRequest) -> Result<Page<Coupon>, CouponError> {
        Ok(self.repo.page(request).await?)
    }

    /// Deactivates a coupon (past redemptions stay counted), audited as
    /// `coupon.deactivate`; an inactive coupon is answered as it is.
    pub async fn deactivate(&self, code: &str, actor: Actor) -> Result<Coupon, CouponError> {
        let parsed = known_code(code)?;
        let audit = AuditEntry::new(
            actor,
            AuditAction::CouponDeactivate,
            TargetKind::Coupon,
            None,
        );
        self.repo
            .deactivate(parsed, self.clock.now(), Some(audit))
            .await
            .map_err(|e| not_found(e, code))
    }
}

/// Text that is not a valid code names no coupon.
fn known_code(code: &str) -> Result<CouponCode, CouponError> {
    CouponCode::parse(code).map_err(|_| CouponError::NotFound(code.trim().to_ascii_uppercase()))
}

fn not_found(err: RepoError, code: &str) -> CouponError {
    match err {
        RepoError::NotFound => CouponError::NotFound(code.trim().to_ascii_uppercase()),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::ports::{MockCouponRepository, MockCreditLedger};
    use crate::shared::clock::ManualClock;
    use crate::UserId;
    use chrono::TimeZone;

    fn clock() -> Arc<dyn Clock> {
        Arc::new(ManualClock::new(
            chrono::Utc
                .with_ymd_and_hms(2026, 11, 30, 12, 0, 0)
                .unwrap(),
        ))
    }

    fn alice() -> AccountRef {
        AccountRef::User(UserId::new(5).unwrap())
    }

    fn admin() -> Actor {
        Actor::User(UserId::new(1).unwrap())
    }

    #[tokio::test]
    async fn bad_input_never_reaches_the_ledger_and_names_its_field() {
        let service = CreditService::new(Arc::new(MockCreditLedger::new()), clock());
        for (amount, currency, reason, field) in [
            ("0", "USD", "zero", "amount"),
            ("1.001", "USD", "precise", "amount"),
            ("abc", "USD", "text", "amount"),
            ("1", "XXX", "unknown", "currency"),
            ("1", "USD", " ", "reason"),
        ] {
            match service
                .adjust(alice(), amount, currency, reason, admin())
                .await
            {
                Err(CreditServiceError::Invalid(e)) => {
                    assert_eq!(e.field(), Some(field), "{amount} {currency}")
                }
                other => panic!("{amount} {currency} {reason}: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_refused_debit_reports_the_balance_the_store_holds() {
        let mut ledger = MockCreditLedger::new();
        ledger
            .expect_append()
            .withf(|entry, audit| {
                entry.amount() == Money::from_minor(-500, Currency::USD)
                    && audit
                        .as_ref()
                        .is_some_and(|a| a.action() == AuditAction::CreditAdjust)
            })
            .returning(|_, _| Err(RepoError::Conflict(ConflictKind::InsufficientBalance)));
        ledger
            .expect_balance()
            .returning(|_, currency| Ok(Money::from_minor(250, currency)));
        let service = CreditService::new(Arc::new(ledger), clock());
        let err = service
            .adjust(alice(), "-5", "usd", "Correction", admin())
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the USD balance is 2.50; a change of -5.00 would take it below zero"
        );
    }

    #[tokio::test]
    async fn a_taken_code_is_a_conflict_and_an_unknown_one_not_found() {
        let mut repo = MockCouponRepository::new();
        repo.expect_create()
            .returning(|_, _| Err(RepoError::Conflict(ConflictKind::AlreadyExists)));
        repo.expect_get().returning(|_| Err(RepoError::NotFound));
        let service = CouponService::new(Arc::new(repo), clock());
        let draft = CouponDraft {
            code: "spring20".into(),
            percent_off: Some("20".into()),
            duration: "once".into(),
            ..CouponDraft::default()
        };
        assert!(matches!(
            service.create(draft, admin()).await,
            Err(CouponError::CodeTaken(code)) if code == "SPRING20"
        ));
        assert!(matches!(
            service.get("nope").await,
            Err(CouponError::NotFound(code)) if code == "NOPE"
        ));
        assert!(matches!(
            service.get("not a code").await,
            Err(CouponError::NotFound(_))
        ));
    }
}
