//! The quota engine: an account's effective limits (its plan, with admin overrides),
//! the rules of the usage ledger (grant within the limit, release never below zero,
//! create permissions, the daily email reset), and the use cases built on them.
//!
//! The rules are pure functions ([`decide`]); the ledger's storage applies them inside
//! one database transaction with the counter row locked, and a conditional update
//! holds the limit even if a decision were made on stale numbers.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use crate::audit::{Actor, AuditAction, AuditEntry};
use crate::ids::{AccountRef, PlanId};
use crate::limits::{Limit, Limits, Permissions, Resource};
use crate::ports::{Clock, RepoError};

/// The largest change one usage call may ask for. Keeps `used + delta` far away from
/// the 64-bit ceiling of the storage.
pub const MAX_DELTA: u64 = 1_000_000_000_000;

/// The largest usage the ledger can hold (the signed 64-bit column).
pub const MAX_USAGE: u64 = i64::MAX as u64;

/// The longest idempotency key accepted, in characters.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

/// Whether a resource's usage counts per UTC day (it starts from 0 each day).
pub fn resets_daily(resource: Resource) -> bool {
    resource == Resource::EmailDailyLimit
}

/// How much of a resource an account may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Allowance {
    /// A limit of 0: no bound.
    Unlimited,
    /// At most this many.
    UpTo(u64),
    /// The account has no plan at all (no active plan order, no default plan) and no
    /// override for the resource: nothing may be granted.
    Nothing,
}

impl Allowance {
    pub fn from_limit(limit: Limit) -> Allowance {
        if limit.is_unlimited() {
            Allowance::Unlimited
        } else {
            Allowance::UpTo(limit.value())
        }
    }

    /// The value shown as `limit` in JSON: 0 for unlimited (and for nothing, where
    /// `remaining` tells the two apart).
    pub fn limit_value(self) -> u64 {
        match self {
            Allowance::UpTo(n) => n,
            Allowance::Unlimited | Allowance::Nothing => 0,
        }
    }

    /// What is left: `None` when unlimited; usage above the limit leaves 0.
    pub fn remaining(self, used: u64) -> Option<u64> {
        match self {
            Allowance::Unlimited => None,
            Allowance::UpTo(n) => Some(n.saturating_sub(used)),
            Allowance::Nothing => Some(0),
        }
    }

    /// Whether `used + requested` fits (unlimited is bounded only by storage).
    pub fn allows(self, used: u64, requested: u64) -> bool {
        let Some(total) = used.checked_add(requested) else {
            return false;
        };
        match self {
            Allowance::Unlimited => total <= MAX_USAGE,
            Allowance::UpTo(n) => total <= n,
            Allowance::Nothing => false,
        }
    }

    /// Usage above the allowance: possible after a downgrade or a lowered override,
    /// since usage is never taken away, only further growth refused.
    pub fn is_exceeded_by(self, used: u64) -> bool {
        match self {
            Allowance::Unlimited => false,
            Allowance::UpTo(n) => used > n,
            Allowance::Nothing => used > 0,
        }
    }
}

/// Where an account's plan comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PlanSource {
    /// The account's active plan order.
    ActiveOrder,
    /// No active order: the catalogue's default plan.
    DefaultPlan,
}

impl PlanSource {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanSource::ActiveOrder => "order",
            PlanSource::DefaultPlan => "default",
        }
    }
}

/// The plan an account's limits come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanBasis {
    pub plan_id: PlanId,
    pub name: String,
    pub source: PlanSource,
    pub limits: Limits,
    pub server_permissions: Permissions,
    pub site_permissions: Permissions,
}

/// An account's effective limits: its plan's, with the admin's overrides on top.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct EffectiveLimits {
    plan: Option<PlanBasis>,
    overrides: BTreeMap<Resource, Limit>,
}

impl EffectiveLimits {
    pub fn new(plan: Option<PlanBasis>, overrides: BTreeMap<Resource, Limit>) -> EffectiveLimits {
        EffectiveLimits { plan, overrides }
    }

    pub fn plan(&self) -> Option<&PlanBasis> {
        self.plan.as_ref()
    }

    /// The admin's overrides; they win over the plan.
    pub fn overrides(&self) -> &BTreeMap<Resource, Limit> {
        &self.overrides
    }

    pub fn allowance(&self, resource: Resource) -> Allowance {
        if let Some(limit) = self.overrides.get(&resource) {
            return Allowance::from_limit(*limit);
        }
        match &self.plan {
            Some(plan) => Allowance::from_limit(plan.limits.get(resource)),
            None => Allowance::Nothing,
        }
    }

    /// Server permissions of the plan; none without a plan.
    pub fn server_permissions(&self) -> Permissions {
        self.plan
            .as_ref()
            .map_or(Permissions::NONE, |p| p.server_permissions)
    }

    /// Site permissions of the plan; none without a plan.
    pub fn site_permissions(&self) -> Permissions {
        self.plan
            .as_ref()
            .map_or(Permissions::NONE, |p| p.site_permissions)
    }

    /// Why growth of `resource` is not permitted at all, if it is not.
    pub fn growth_refusal(&self, resource: Resource) -> Option<Refusal> {
        let creates = matches!(resource, Resource::Servers | Resource::Sites);
        match &self.plan {
            None if creates || !self.overrides.contains_key(&resource) => Some(Refusal::NoPlan),
            None => None,
            Some(plan) => {
                let permitted = match resource {
                    Resource::Servers => plan.server_permissions.create,
                    Resource::Sites => plan.site_permissions.create,
                    _ => true,
                };
                (!permitted).then_some(Refusal::CreateNotAllowed)
            }
        }
    }
}

/// Why a growth request is forbidden regardless of numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// Neither an active plan order nor a default plan.
    NoPlan,
    /// The plan's `serverPermissions.create` / `sitePermissions.create` is false.
    CreateNotAllowed,
}

/// Usage per resource (today's for daily resources). Missing resources are 0.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Usage(BTreeMap<Resource, u64>);

impl Usage {
    pub fn new() -> Usage {
        Usage::default()
    }

    pub fn get(&self, resource: Resource) -> u64 {
        self.0.get(&resource).copied().unwrap_or(0)
    }

    pub fn set(&mut self, resource: Resource, used: u64) {
        self.0.insert(resource, used);
    }

    pub fn with(mut self, resource: Resource, used: u64) -> Usage {
        self.set(resource, used);
        self
    }
}

/// An account's limits and usage, read together.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct QuotaSnapshot {
    pub limits: EffectiveLimits,
    pub usage: Usage,
}

impl QuotaSnapshot {
    pub fn remaining(&self, resource: Resource) -> Option<u64> {
        self.limits
            .allowance(resource)
            .remaining(self.usage.get(resource))
    }

    /// Resources whose usage is above their allowance (after a downgrade), in key order.
    pub fn over_limit(&self) -> Vec<Resource> {
        Resource::ALL
            .into_iter()
            .filter(|r| self.limits.allowance(*r).is_exceeded_by(self.usage.get(*r)))
            .collect()
    }
}

/// A validated usage change: a resource and a non-zero delta of at most [`MAX_DELTA`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UsageChange {
    resource: Resource,
    delta: i64,
}

impl UsageChange {
    pub fn new(resource: Resource, delta: i64) -> Result<UsageChange, QuotaError> {
        if delta == 0 {
            return Err(QuotaError::InvalidDelta(
                "must not be 0: use a positive number to reserve, a negative one to release",
            ));
        }
        if delta.unsigned_abs() > MAX_DELTA {
            return Err(QuotaError::InvalidDelta(
                "must be between -1000000000000 and 1000000000000",
            ));
        }
        Ok(UsageChange { resource, delta })
    }

    pub fn resource(self) -> Resource {
        self.resource
    }

    pub fn delta(self) -> i64 {
        self.delta
    }
}

/// A client-chosen key that makes a usage call safe to retry: 1 to 255 characters,
/// no control characters. Scoped to the account.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn new(key: &str) -> Result<IdempotencyKey, QuotaError> {
        let chars = key.chars().count();
        if chars == 0 || chars > MAX_IDEMPOTENCY_KEY_CHARS || key.chars().any(char::is_control) {
            return Err(QuotaError::InvalidIdempotencyKey);
        }
        Ok(IdempotencyKey(key.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A resource's usage after a change, with its allowance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsageLevel {
    pub resource: Resource,
    pub used: u64,
    pub allowance: Allowance,
}

impl UsageLevel {
    pub fn remaining(self) -> Option<u64> {
        self.allowance.remaining(self.used)
    }
}

/// The ledger's answer to a change: applied, or refused with the numbers that refused it.
/// This is what an idempotency key replays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UsageOutcome {
    Applied(UsageLevel),
    /// `used + requested` would pass `limit`.
    Exceeded {
        resource: Resource,
        limit: u64,
        used: u64,
        requested: u64,
    },
    NotPermitted {
        resource: Resource,
        reason: Refusal,
    },
    /// Releasing more than is used.
    BelowZero {
        resource: Resource,
        used: u64,
        released: u64,
    },
}

impl UsageOutcome {
    /// The outcome as a use-case result: refusals become errors.
    pub fn into_result(self) -> Result<UsageLevel, QuotaError> {
        match self {
            UsageOutcome::Applied(level) => Ok(level),
            UsageOutcome::Exceeded {
                resource,
                limit,
                used,
                requested,
            } => Err(QuotaError::Exceeded {
                resource,
                limit,
                used,
                requested,
            }),
            UsageOutcome::NotPermitted { resource, reason } => {
                Err(QuotaError::NotPermitted { resource, reason })
            }
            UsageOutcome::BelowZero {
                resource,
                used,
                released,
            } => Err(QuotaError::BelowZero {
                resource,
                used,
                released,
            }),
        }
    }
}

/// What the rules say about a change, given the current usage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Apply it; the allowance is what the storage's conditional update must hold.
    Apply(Allowance),
    Refuse(UsageOutcome),
}

/// The ledger's rules: a release may not go below 0; a grant needs the create
/// permission (servers, sites), a plan or an override, and must stay within the
/// allowance (0 = unlimited). Usage above the allowance after a downgrade can only shrink.
pub fn decide(limits: &EffectiveLimits, change: UsageChange, used: u64) -> Decision {
    let resource = change.resource();
    let allowance = limits.allowance(resource);
    let amount = change.delta().unsigned_abs();
    if change.delta() < 0 {
        return if amount > used {
            Decision::Refuse(UsageOutcome::BelowZero {
                resource,
                used,
                released: amount,
            })
        } else {
            Decision::Apply(allowance)
        };
    }
    if let Some(reason) = limits.growth_refusal(resource) {
        return Decision::Refuse(UsageOutcome::NotPermitted { resource, reason });
    }
    if allowance.allows(used, amount) {
        Decision::Apply(allowance)
    } else {
        Decision::Refuse(UsageOutcome::Exceeded {
            resource,
            limit: allowance.limit_value(),
            used,
            requested: amount,
        })
    }
}

/// One change for the ledger to apply atomically.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerRequest {
    pub account: AccountRef,
    pub change: UsageChange,
    /// The UTC day daily resources count in.
    pub today: NaiveDate,
    pub at: DateTime<Utc>,
    pub idempotency_key: Option<IdempotencyKey>,
}

/// What the ledger did with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LedgerAnswer {
    /// Decided now (and stored under the idempotency key, if one was given).
    Fresh(UsageOutcome),
    /// The key was seen before with the same request: the first answer, unchanged.
    Replayed(UsageOutcome),
    /// The key was seen before with a different resource or delta.
    KeyReused,
}

/// Storage of limits, overrides and the usage ledger.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait QuotaRepository: Send + Sync {
    /// The account's effective limits and its usage, daily resources counted for `today`
    /// (a counter last touched on another day reads 0).
    /// Errors: `NotFound` (no such user or organisation), `Unavailable`, `Internal`.
    async fn snapshot(
        &self,
        account: AccountRef,
        today: NaiveDate,
    ) -> Result<QuotaSnapshot, RepoError>;

    /// Sets (`Some`) or removes (`None`) overrides, all in one transaction, and returns
    /// the effective limits after the change.
    /// Errors: `NotFound` (no such account), `Unavailable`, `Internal`.
    async fn set_overrides(
        &self,
        account: AccountRef,
        changes: Vec<(Resource, Option<Limit>)>,
        audit: Option<AuditEntry>,
    ) -> Result<EffectiveLimits, RepoError>;

    /// Applies one change in ONE transaction: replays a known idempotency key; else locks
    /// the counter row, resets a daily counter from another day, reads the effective
    /// limits, applies [`decide`] and a conditional update that holds the limit, and
    /// stores the outcome under the key. Refusals are answers, not errors.
    /// Errors: `NotFound` (no such account), `Unavailable`, `Internal`.
    async fn change_usage(
        &self,
        request: LedgerRequest,
        audit: Option<AuditEntry>,
    ) -> Result<LedgerAnswer, RepoError>;
}

/// Errors of the quota use cases.
#[derive(Debug, thiserror::Error)]
pub enum QuotaError {
    #[error("{} {} does not exist", account_noun(*.0), .0.raw_id())]
    AccountNotFound(AccountRef),
    #[error("delta {0}")]
    InvalidDelta(&'static str),
    #[error("idempotencyKey must be 1 to 255 characters without control characters")]
    InvalidIdempotencyKey,
    #[error("the override for {0} is too large")]
    OverrideTooLarge(Resource),
    #[error("{resource}: {used} used of {limit}, {requested} more requested")]
    Exceeded {
        resource: Resource,
        limit: u64,
        used: u64,
        requested: u64,
    },
    #[error("{resource}: growth not permitted ({reason:?})")]
    NotPermitted { resource: Resource, reason: Refusal },
    #[error("{resource}: cannot release {released}, only {used} used")]
    BelowZero {
        resource: Resource,
        used: u64,
        released: u64,
    },
    #[error("the idempotency key was already used for a different request")]
    IdempotencyKeyReused,
    #[error("database unavailable")]
    Unavailable(#[source] RepoError),
    #[error("quota failure")]
    Internal(#[source] RepoError),
}

fn account_noun(account: AccountRef) -> &'static str {
    match account {
        AccountRef::User(_) => "user",
        AccountRef::Org(_) => "organisation",
    }
}

impl QuotaError {
    fn from_repo(err: RepoError, account: AccountRef) -> QuotaError {
        match err {
            RepoError::NotFound => QuotaError::AccountNotFound(account),
            err @ RepoError::Unavailable(_) => QuotaError::Unavailable(err),
            err => QuotaError::Internal(err),
        }
    }
}

/// A usage change's answer and whether it was replayed from an idempotency key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsageAnswer {
    pub outcome: UsageOutcome,
    pub replayed: bool,
}

/// The answer of a check-only call: what a change would do now, changing nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsageCheck {
    pub change: UsageChange,
    pub used: u64,
    pub allowance: Allowance,
    /// `None` when the change would be applied; else the refusal it would get.
    pub refusal: Option<UsageOutcome>,
}

impl UsageCheck {
    pub fn allowed(&self) -> bool {
        self.refusal.is_none()
    }

    /// What is left now, before the change (`None` = unlimited).
    pub fn remaining(&self) -> Option<u64> {
        self.allowance.remaining(self.used)
    }
}

/// Limits, overrides and the usage ledger of users and organisations.
#[derive(Clone)]
pub struct QuotaService {
    repo: Arc<dyn QuotaRepository>,
    clock: Arc<dyn Clock>,
}

impl QuotaService {
    pub fn new(repo: Arc<dyn QuotaRepository>, clock: Arc<dyn Clock>) -> QuotaService {
        QuotaService { repo, clock }
    }

    fn today(&self) -> (DateTime<Utc>, NaiveDate) {
        let now = self.clock.now();
        (now, now.date_naive())
    }

    /// Limits, usage, remaining and over-limit resources of an account.
    pub async fn snapshot(&self, account: AccountRef) -> Result<QuotaSnapshot, QuotaError> {
        let (_, today) = self.today();
        self.repo
            .snapshot(account, today)
            .await
            .map_err(|e| QuotaError::from_repo(e, account))
    }

    /// Sets or removes per-account overrides (admin only; the caller checks that).
    /// Audited as `limits.set` by `actor`.
    pub async fn set_overrides(
        &self,
        account: AccountRef,
        changes: Vec<(Resource, Option<Limit>)>,
        actor: Actor,
    ) -> Result<EffectiveLimits, QuotaError> {
        if let Some((resource, _)) = changes
            .iter()
            .find(|(_, limit)| limit.is_some_and(|l| l.value() > MAX_USAGE))
        {
            return Err(QuotaError::OverrideTooLarge(*resource));
        }
        self.repo
            .set_overrides(
                account,
                changes,
                Some(AuditEntry::on_account(
                    actor,
                    AuditAction::LimitsSet,
                    account,
                )),
            )
            .await
            .map_err(|e| QuotaError::from_repo(e, account))
    }

    /// Reserves (positive delta) or releases (negative delta) usage, atomically.
    /// Refusals come back as the answer's outcome so that the caller can tell a replay.
    /// An applied change is audited as `usage.change` by `actor` (refusals and replays,
    /// which change nothing, are not).
    pub async fn change_usage(
        &self,
        account: AccountRef,
        change: UsageChange,
        idempotency_key: Option<IdempotencyKey>,
        actor: Actor,
    ) -> Result<UsageAnswer, QuotaError> {
        let (at, today) = self.today();
        let request = LedgerRequest {
            account,
            change,
            today,
            at,
            idempotency_key,
        };
        let audit = AuditEntry::on_account(actor, AuditAction::UsageChange, account);
        match self.repo.change_usage(request, Some(audit)).await {
            Ok(LedgerAnswer::Fresh(outcome)) => Ok(UsageAnswer {
                outcome,
                replayed: false,
            }),
            Ok(LedgerAnswer::Replayed(outcome)) => Ok(UsageAnswer {
                outcome,
                replayed: true,
            }),
            Ok(LedgerAnswer::KeyReused) => Err(QuotaError::IdempotencyKeyReused),
            Err(e) => Err(QuotaError::from_repo(e, account)),
        }
    }

    /// What `change_usage` would answer now, without changing anything. Advisory: another
    /// request may take the room before the reserve call, which stays the real check.
    pub async fn check(
        &self,
        account: AccountRef,
        change: UsageChange,
    ) -> Result<UsageCheck, QuotaError> {
        let snapshot = self.snapshot(account).await?;
        let used = snapshot.usage.get(change.resource());
        let refusal = match decide(&snapshot.limits, change, used) {
            Decision::Apply(_) => None,
            Decision::Refuse(outcome) => Some(outcome),
        };
        Ok(UsageCheck {
            change,
            used,
            allowance: snapshot.limits.allowance(change.resource()),
            refusal,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;
    use crate::ports::MockClock;
    use mockall::predicate::eq;
    use proptest::prelude::*;

    fn plan(limits: Limits) -> PlanBasis {
        PlanBasis {
            plan_id: PlanId::new(1).unwrap(),
            name: "Pro".into(),
            source: PlanSource::ActiveOrder,
            limits,
            server_permissions: Permissions::ALL,
            site_permissions: Permissions::ALL,
        }
    }

    fn servers(limit: u64) -> EffectiveLimits {
        EffectiveLimits::new(
            Some(plan(
                Limits::unlimited().with(Resource::Servers, Limit::new(limit)),
            )),
            BTreeMap::new(),
        )
    }

    fn change(resource: Resource, delta: i64) -> UsageChange {
        UsageChange::new(resource, delta).unwrap()
    }

    fn user() -> AccountRef {
        AccountRef::User(UserId::new(7).unwrap())
    }

    fn clock_at(text: &str) -> Arc<MockClock> {
        let at = DateTime::parse_from_rfc3339(text).unwrap().to_utc();
        let mut clock = MockClock::new();
        clock.expect_now().return_const(at);
        Arc::new(clock)
    }

    #[test]
    fn grants_within_the_limit_and_refuses_beyond() {
        let limits = servers(5);
        assert_eq!(
            decide(&limits, change(Resource::Servers, 1), 4),
            Decision::Apply(Allowance::UpTo(5))
        );
        assert_eq!(
            decide(&limits, change(Resource::Servers, 2), 4),
            Decision::Refuse(UsageOutcome::Exceeded {
                resource: Resource::Servers,
                limit: 5,
                used: 4,
                requested: 2
            })
        );
    }

    #[test]
    fn zero_means_unlimited() {
        let limits = servers(5);
        assert_eq!(
            decide(&limits, change(Resource::Memory, 1_000_000), 1_000_000),
            Decision::Apply(Allowance::Unlimited)
        );
        assert_eq!(
            EffectiveLimits::new(Some(plan(Limits::unlimited())), BTreeMap::new())
                .allowance(Resource::Disk)
                .remaining(99),
            None
        );
    }

    #[test]
    fn release_never_goes_below_zero_and_ignores_the_limit() {
        let limits = servers(2);
        assert_eq!(
            decide(&limits, change(Resource::Servers, -3), 2),
            Decision::Refuse(UsageOutcome::BelowZero {
                resource: Resource::Servers,
                used: 2,
                released: 3
            })
        );
        // Above the limit after a downgrade: releasing is still allowed.
        assert_eq!(
            decide(&limits, change(Resource::Servers, -1), 7),
            Decision::Apply(Allowance::UpTo(2))
        );
    }

    #[test]
    fn downgrade_keeps_usage_refuses_growth_and_flags_it() {
        let snapshot = QuotaSnapshot {
            limits: servers(2),
            usage: Usage::new().with(Resource::Servers, 4),
        };
        assert_eq!(snapshot.over_limit(), vec![Resource::Servers]);
        assert_eq!(snapshot.remaining(Resource::Servers), Some(0));
        assert!(matches!(
            decide(&snapshot.limits, change(Resource::Servers, 1), 4),
            Decision::Refuse(UsageOutcome::Exceeded { .. })
        ));
    }

    #[test]
    fn overrides_win_over_the_plan() {
        let mut overrides = BTreeMap::new();
        overrides.insert(Resource::Servers, Limit::new(10));
        overrides.insert(Resource::Sites, Limit::UNLIMITED);
        let base = Limits::unlimited()
            .with(Resource::Servers, Limit::new(1))
            .with(Resource::Sites, Limit::new(1));
        let limits = EffectiveLimits::new(Some(plan(base)), overrides);
        assert_eq!(limits.allowance(Resource::Servers), Allowance::UpTo(10));
        assert_eq!(limits.allowance(Resource::Sites), Allowance::Unlimited);
    }

    #[test]
    fn create_permissions_gate_growth_of_servers_and_sites_only() {
        let mut basis = plan(Limits::unlimited());
        basis.server_permissions = Permissions::NONE;
        let limits = EffectiveLimits::new(Some(basis), BTreeMap::new());
        assert_eq!(
            decide(&limits, change(Resource::Servers, 1), 0),
            Decision::Refuse(UsageOutcome::NotPermitted {
                resource: Resource::Servers,
                reason: Refusal::CreateNotAllowed
            })
        );
        assert_eq!(
            decide(&limits, change(Resource::Servers, -1), 1),
            Decision::Apply(Allowance::Unlimited)
        );
        assert_eq!(
            decide(&limits, change(Resource::Sites, 1), 0),
            Decision::Apply(Allowance::Unlimited)
        );
    }

    #[test]
    fn without_any_plan_nothing_is_granted_except_overrides() {
        let mut overrides = BTreeMap::new();
        overrides.insert(Resource::Databases, Limit::new(3));
        let limits = EffectiveLimits::new(None, overrides);
        assert_eq!(
            decide(&limits, change(Resource::Memory, 1), 0),
            Decision::Refuse(UsageOutcome::NotPermitted {
                resource: Resource::Memory,
                reason: Refusal::NoPlan
            })
        );
        assert_eq!(
            decide(&limits, change(Resource::Databases, 1), 0),
            Decision::Apply(Allowance::UpTo(3))
        );
        assert_eq!(limits.allowance(Resource::Memory).remaining(0), Some(0));
    }

    #[test]
    fn changes_and_keys_are_validated() {
        assert!(matches!(
            UsageChange::new(Resource::Servers, 0),
            Err(QuotaError::InvalidDelta(_))
        ));
        assert!(UsageChange::new(Resource::Servers, -1_000_000_000_001).is_err());
        assert!(UsageChange::new(Resource::Servers, 1_000_000_000_000).is_ok());
        assert!(IdempotencyKey::new("").is_err());
        assert!(IdempotencyKey::new("a\nb").is_err());
        assert!(IdempotencyKey::new(&"k".repeat(256)).is_err());
        assert!(IdempotencyKey::new("create-server-42").is_ok());
    }

    #[tokio::test]
    async fn the_ledger_counts_the_utc_day_of_the_clock() {
        let mut repo = MockQuotaRepository::new();
        repo.expect_change_usage()
            .withf(|r, _| r.today == NaiveDate::from_ymd_opt(2026, 11, 22).unwrap())
            .returning(|r, _| {
                Ok(LedgerAnswer::Fresh(UsageOutcome::Applied(UsageLevel {
                    resource: r.change.resource(),
                    used: 1,
                    allowance: Allowance::UpTo(10),
                })))
            });
        let service = QuotaService::new(Arc::new(repo), clock_at("2026-11-22T00:00:01+00:00"));
        let answer = service
            .change_usage(
                user(),
                change(Resource::EmailDailyLimit, 1),
                None,
                Actor::Operator,
            )
            .await
            .unwrap();
        assert!(!answer.replayed);
        // 23:30 at UTC-2 is already the 22nd in UTC.
        let mut repo = MockQuotaRepository::new();
        repo.expect_snapshot()
            .with(
                eq(user()),
                eq(NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()),
            )
            .returning(|_, _| Ok(QuotaSnapshot::default()));
        let service = QuotaService::new(Arc::new(repo), clock_at("2026-11-21T23:30:00-02:00"));
        service.snapshot(user()).await.unwrap();
    }

    #[tokio::test]
    async fn replays_and_key_reuse_are_told_apart() {
        let mut repo = MockQuotaRepository::new();
        let refused = UsageOutcome::Exceeded {
            resource: Resource::Servers,
            limit: 1,
            used: 1,
            requested: 1,
        };
        let mut answers = vec![LedgerAnswer::KeyReused, LedgerAnswer::Replayed(refused)];
        repo.expect_change_usage()
            .times(2)
            .returning(move |_, _| Ok(answers.pop().unwrap()));
        let service = QuotaService::new(Arc::new(repo), clock_at("2026-11-21T10:00:00Z"));
        let key = Some(IdempotencyKey::new("k1").unwrap());
        let answer = service
            .change_usage(
                user(),
                change(Resource::Servers, 1),
                key.clone(),
                Actor::Operator,
            )
            .await
            .unwrap();
        assert!(answer.replayed);
        assert!(matches!(
            answer.outcome.into_result(),
            Err(QuotaError::Exceeded { limit: 1, .. })
        ));
        assert!(matches!(
            service
                .change_usage(user(), change(Resource::Servers, 2), key, Actor::Operator)
                .await,
            Err(QuotaError::IdempotencyKeyReused)
        ));
    }

    #[tokio::test]
    async fn check_changes_nothing_and_reports_the_refusal() {
        let mut repo = MockQuotaRepository::new();
        repo.expect_change_usage().never();
        repo.expect_set_overrides().never();
        repo.expect_snapshot().returning(|_, _| {
            Ok(QuotaSnapshot {
                limits: servers(3),
                usage: Usage::new().with(Resource::Servers, 3),
            })
        });
        let service = QuotaService::new(Arc::new(repo), clock_at("2026-11-21T10:00:00Z"));
        let check = service
            .check(user(), change(Resource::Servers, 1))
            .await
            .unwrap();
        assert!(!check.allowed());
        assert_eq!((check.used, check.remaining()), (3, Some(0)));
        let check = service
            .check(user(), change(Resource::Servers, -1))
            .await
            .unwrap();
        assert!(check.allowed());
    }

    #[tokio::test]
    async fn missing_account_and_unavailable_database_stay_distinguishable() {
        let mut repo = MockQuotaRepository::new();
        repo.expect_snapshot()
            .returning(|_, _| Err(RepoError::NotFound));
        repo.expect_change_usage()
            .returning(|_, _| Err(RepoError::Unavailable("pool timed out".into())));
        let service = QuotaService::new(Arc::new(repo), clock_at("2026-11-21T10:00:00Z"));
        assert!(matches!(
            service.snapshot(user()).await,
            Err(QuotaError::AccountNotFound(a)) if a == user()
        ));
        assert!(matches!(
            service
                .change_usage(user(), change(Resource::Servers, 1), None, Actor::Operator)
                .await,
            Err(QuotaError::Unavailable(_))
        ));
    }

    #[tokio::test]
    async fn oversized_overrides_never_reach_storage() {
        let mut repo = MockQuotaRepository::new();
        repo.expect_set_overrides().never();
        let service = QuotaService::new(Arc::new(repo), clock_at("2026-11-21T10:00:00Z"));
        assert!(matches!(
            service
                .set_overrides(
                    user(),
                    vec![(Resource::Disk, Some(Limit::new(u64::MAX)))],
                    Actor::Operator
                )
                .await,
            Err(QuotaError::OverrideTooLarge(Resource::Disk))
        ));
    }

    proptest! {
        /// The ledger's arithmetic: a grant is applied exactly when it fits (0 = unlimited),
        /// a release exactly when usage stays >= 0, and nothing else is possible.
        #[test]
        fn decide_matches_the_arithmetic(limit in 0_u64..50, used in 0_u64..100, delta in -60_i64..60) {
            prop_assume!(delta != 0);
            let decision = decide(&servers(limit), change(Resource::Servers, delta), used);
            let after = i128::from(used) + i128::from(delta);
            let expected_apply = if delta < 0 { after >= 0 } else { limit == 0 || after <= i128::from(limit) };
            prop_assert_eq!(matches!(decision, Decision::Apply(_)), expected_apply);
            if let Decision::Refuse(UsageOutcome::Exceeded { limit: l, used: u, requested, .. }) = decision {
                prop_assert_eq!((l, u, i128::from(requested)), (limit, used, i128::from(delta)));
            }
        }

        #[test]
        fn remaining_never_exceeds_the_limit(limit in 1_u64..1_000, used in 0_u64..2_000) {
            let remaining = Allowance::UpTo(limit).remaining(used).unwrap();
            prop_assert!(remaining <= limit);
            prop_assert_eq!(remaining == 0, used >= limit);
            prop_assert_eq!(Allowance::UpTo(limit).is_exceeded_by(used), used > limit);
        }
    }
}
