//! The quota engine: an account's effective limits (its plan, with admin overrides),
//! the rules of the usage ledger (grant within the limit, release never below zero,
//! create permissions, the daily email reset), and the use cases built on them.
//!
//! The rules are pure functions ([`decide`]); the ledger's storage applies them inside
//! one database transaction with the counter row locked, and a conditional update
//! holds the limit even if a decision were made on stale numbers.
use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};

use crate::audit::snapshot::OverridesSnapshot;
use crate::catalogue::limits::{Limit, Limits, Permissions, Resource};
use crate::shared::ids::{AccountRef, PlanId};
use crate::shared::repo::{RepoError, StoreFailure};

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
    /// Built from limit.
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
    /// The text form.
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
    /// Plan id.
    pub plan_id: PlanId,
    /// Name.
    pub name: String,
    /// Source.
    pub source: PlanSource,
    /// Limits.
    pub limits: Limits,
    /// Server permissions.
    pub server_permissions: Permissions,
    /// Site permissions.
    pub site_permissions: Permissions,
}

/// An account's effective limits: its plan's, with the admin's overrides on top.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct EffectiveLimits {
    plan: Option<PlanBasis>,
    overrides: BTreeMap<Resource, Limit>,
}

impl EffectiveLimits {
    /// The overrides as the audit log records them: resource key → limit (0 means
    /// unlimited).
    pub fn audit_state(&self) -> OverridesSnapshot {
        OverridesSnapshot {
            overrides: self
                .overrides()
                .iter()
                .map(|(resource, limit)| (resource.key().to_owned(), limit.value()))
                .collect(),
        }
    }

    /// Creates it from its parts.
    pub fn new(plan: Option<PlanBasis>, overrides: BTreeMap<Resource, Limit>) -> EffectiveLimits {
        EffectiveLimits { plan, overrides }
    }

    /// The plan.
    pub fn plan(&self) -> Option<&PlanBasis> {
        self.plan.as_ref()
    }

    /// The admin's overrides; they win over the plan.
    pub fn overrides(&self) -> &BTreeMap<Resource, Limit> {
        &self.overrides
    }

    /// Allowance.
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
    /// Creates it from its parts.
    pub fn new() -> Usage {
        Usage::default()
    }

    /// The raw value.
    pub fn get(&self, resource: Resource) -> u64 {
        self.0.get(&resource).copied().unwrap_or(0)
    }

    /// Set.
    pub fn set(&mut self, resource: Resource, used: u64) {
        self.0.insert(resource, used);
    }

    /// With.
    pub fn with(mut self, resource: Resource, used: u64) -> Usage {
        self.set(resource, used);
        self
    }
}

/// An account's limits and usage, read together.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct QuotaSnapshot {
    /// Limits.
    pub limits: EffectiveLimits,
    /// Usage.
    pub usage: Usage,
}

impl QuotaSnapshot {
    /// Remaining.
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
    /// Creates it from its parts.
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

    /// Resource.
    pub fn resource(self) -> Resource {
        self.resource
    }

    /// Delta.
    pub fn delta(self) -> i64 {
        self.delta
    }
}

/// A client-chosen key that makes a usage call safe to retry: 1 to 255 characters,
/// no control characters. Scoped to the account.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Creates it from its parts.
    pub fn new(key: &str) -> Result<IdempotencyKey, QuotaError> {
        let chars = key.chars().count();
        if chars == 0 || chars > MAX_IDEMPOTENCY_KEY_CHARS || key.chars().any(char::is_control) {
            return Err(QuotaError::InvalidIdempotencyKey);
        }
        Ok(IdempotencyKey(key.to_owned()))
    }

    /// The text form.
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
    /// Resource.
    pub resource: Resource,
    /// Used.
    pub used: u64,
    /// Allowance.
    pub allowance: Allowance,
}

impl UsageLevel {
    /// Remaining.
    pub fn remaining(self) -> Option<u64> {
        self.allowance.remaining(self.used)
    }
}

/// The ledger's answer to a change: applied, or refused with the numbers that refused it.
/// This is what an idempotency key replays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UsageOutcome {
    /// Applied.
    Applied(UsageLevel),
    /// `used + requested` would pass `limit`.
    Exceeded {
        /// Resource.
        resource: Resource,
        /// Limit.
        limit: u64,
        /// Used.
        used: u64,
        /// Requested.
        requested: u64,
    },
    /// Not permitted.
    NotPermitted {
        /// Resource.
        resource: Resource,
        /// Reason.
        reason: Refusal,
    },
    /// Releasing more than is used.
    BelowZero {
        /// Resource.
        resource: Resource,
        /// Used.
        used: u64,
        /// Released.
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
    /// Refuse.
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
    /// Account.
    pub account: AccountRef,
    /// Change.
    pub change: UsageChange,
    /// The UTC day daily resources count in.
    pub today: NaiveDate,
    /// When.
    pub at: DateTime<Utc>,
    /// Idempotency key.
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

/// Errors of the quota use cases.
#[derive(Debug, thiserror::Error)]
pub enum QuotaError {
    /// Account not found.
    #[error("{} {} does not exist", account_noun(*.0), .0.raw_id())]
    AccountNotFound(AccountRef),
    /// Delta.
    #[error("delta {0}")]
    InvalidDelta(&'static str),
    /// IdempotencyKey must be 1 to 255 characters without control characters.
    #[error("idempotencyKey must be 1 to 255 characters without control characters")]
    InvalidIdempotencyKey,
    /// The override for is too large.
    #[error("the override for {0} is too large")]
    OverrideTooLarge(Resource),
    /// Exceeded.
    #[error("{resource}: {used} used of {limit}, {requested} more requested")]
    Exceeded {
        /// Resource.
        resource: Resource,
        /// Limit.
        limit: u64,
        /// Used.
        used: u64,
        /// Requested.
        requested: u64,
    },
    /// Not permitted.
    #[error("{resource}: growth not permitted ({reason:?})")]
    NotPermitted {
        /// The resource.
        resource: Resource,
        /// Why growth is refused.
        reason: Refusal,
    },
    /// Below zero.
    #[error("{resource}: cannot release {released}, only {used} used")]
    BelowZero {
        /// Resource.
        resource: Resource,
        /// Used.
        used: u64,
        /// Released.
        released: u64,
    },
    /// The idempotency key was already used for a different request.
    #[error("the idempotency key was already used for a different request")]
    IdempotencyKeyReused,
    /// The store failed: unreachable, or broken.
    #[error("quota failure")]
    Store(#[from] StoreFailure),
}

fn account_noun(account: AccountRef) -> &'static str {
    match account {
        AccountRef::User(_) => "user",
        AccountRef::Org(_) => "organisation",
    }
}

impl QuotaError {
    pub(crate) fn from_repo(err: RepoError, account: AccountRef) -> QuotaError {
        match err {
            RepoError::NotFound => QuotaError::AccountNotFound(account),
            err => QuotaError::Store(err.into()),
        }
    }
}
