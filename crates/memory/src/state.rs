//! The store's tables and the helpers every repository shares: id sequences, the
//! existence checks the database's foreign keys make, audit rows, change versions.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use tariff_domain::audit::{AuditEntry, AuditRecord, AuditState};
use tariff_domain::identity::OrgRole;
use tariff_domain::identity::PasswordHash;
use tariff_domain::orders::freshness::{shard_of, SHARDS};
use tariff_domain::orders::{Order, OrderRecord};
use tariff_domain::organisations::Organisation;
use tariff_domain::quota::UsageOutcome;
use tariff_domain::{AccountRef, Limit, Plan, RepoError, Resource, User, UserId};

/// A user and their password hash (kept apart from the domain `User`).
#[derive(Clone, Debug)]
pub(crate) struct UserRow {
    pub user: User,
    pub password: Option<PasswordHash>,
}

/// A member's role and when they joined; `joined` orders members like the database's
/// `created_at, user_id`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MemberRow {
    pub role: OrgRole,
    pub joined_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub(crate) struct SessionRow {
    pub user: UserId,
    pub expires_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub(crate) struct TokenRow {
    pub owner: UserId,
    pub name: String,
    pub hash: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A usage counter: `period_day` is the UTC day a daily resource counts in.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counter {
    pub used: u64,
    pub period_day: Option<NaiveDate>,
}

/// The first answer given under an idempotency key, and the request it answered.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StoredAnswer {
    pub resource: Resource,
    pub delta: i64,
    pub outcome: UsageOutcome,
}

/// Every table of the store.
#[derive(Clone)]
pub(crate) struct State {
    pub plans: BTreeMap<i64, Plan>,
    pub catalogue_version: i64,
    pub billing_enabled: Option<bool>,
    pub settings_version: i64,
    pub users: BTreeMap<i64, UserRow>,
    pub organisations: BTreeMap<i64, Organisation>,
    /// Keyed by (organisation, user).
    pub members: BTreeMap<(i64, i64), MemberRow>,
    /// Keyed by the session id's hash.
    pub sessions: HashMap<String, SessionRow>,
    pub tokens: BTreeMap<i64, TokenRow>,
    pub orders: BTreeMap<i64, Order>,
    /// The last invoice sequence number given in each calendar year.
    pub invoice_counters: BTreeMap<i32, i64>,
    pub usage: HashMap<(AccountRef, Resource), Counter>,
    pub overrides: HashMap<(AccountRef, Resource), Limit>,
    pub idempotency: HashMap<(AccountRef, String), StoredAnswer>,
    pub audit: Vec<AuditRecord>,
    pub shards: [i64; SHARDS],
    next_id: HashMap<&'static str, i64>,
    /// Coupons by upper-cased code, and their codes in creation order.
    pub coupons: BTreeMap<String, tariff_domain::billing::Coupon>,
    pub coupon_order: Vec<String>,
    pub redemptions: Vec<crate::billing::RedemptionRow>,
    /// The credit ledger, in append order.
    pub credit: Vec<tariff_domain::billing::CreditEntry>,
}

impl Default for State {
    fn default() -> Self {
        State {
            plans: BTreeMap::new(),
            catalogue_version: 1,
            billing_enabled: None,
            settings_version: 1,
            users: BTreeMap::new(),
            organisations: BTreeMap::new(),
            members: BTreeMap::new(),
            sessions: HashMap::new(),
            tokens: BTreeMap::new(),
            orders: BTreeMap::new(),
            invoice_counters: BTreeMap::new(),
            usage: HashMap::new(),
            overrides: HashMap::new(),
            idempotency: HashMap::new(),
            audit: Vec::new(),
            shards: [1; SHARDS],
            next_id: HashMap::new(),
            coupons: BTreeMap::new(),
            coupon_order: Vec::new(),
            redemptions: Vec::new(),
            credit: Vec::new(),
        }
    }
}

impl State {
    /// The next id of `table`: 1, 2, 3... never reused, like an autoincrement column.
    /// Call it only once the write cannot fail any more.
    pub fn next_id(&mut self, table: &'static str) -> i64 {
        let last = self.next_id.entry(table).or_insert(0);
        *last += 1;
        *last
    }

    /// Records that `table` holds `id`, chosen outside: generated ids continue above it.
    pub fn note_id(&mut self, table: &'static str, id: i64) {
        let last = self.next_id.entry(table).or_insert(0);
        *last = (*last).max(id);
    }

    pub fn account_exists(&self, account: AccountRef) -> bool {
        match account {
            AccountRef::User(user) => self.users.contains_key(&user.get()),
            AccountRef::Org(org) => self.organisations.contains_key(&org.get()),
        }
    }

    /// Stores an audit entry (with the time of the write); `None` stores nothing.
    /// Errors: `Internal` if a state cannot be represented in JSON, which no snapshot can.
    pub fn record(&mut self, entry: Option<AuditEntry>) -> Result<(), RepoError> {
        let Some(entry) = entry else { return Ok(()) };
        // Stored as the log's JSON, as the database stores it and the page reads it back.
        let json = |state: Option<&AuditState>| {
            state
                .map(serde_json::to_value)
                .transpose()
                .map_err(|e| RepoError::Internal(Box::new(e)))
        };
        let (before, after) = (json(entry.before())?, json(entry.after())?);
        let id = self.next_id("audit_log");
        self.audit.push(AuditRecord {
            id,
            actor: entry.actor().user_id(),
            action: entry.action().as_str().to_owned(),
            target_kind: entry.target_kind().as_str().to_owned(),
            target_id: entry.target_id(),
            before,
            after,
            at: Utc::now(),
        });
        Ok(())
    }

    /// A change to the account's orders, or to the memberships of a user (which decide
    /// whose orders the user sees): bumps its shard's version, as the database's
    /// triggers do.
    pub fn touch(&mut self, account: AccountRef) {
        if let Some(version) = self.shards.get_mut(shard_of(account)) {
            *version += 1;
        }
    }

    /// Stores a changed order and bumps its account's change version.
    pub fn put_order(&mut self, order: Order) {
        self.touch(order.account());
        self.orders.insert(order.id().get(), order);
    }
}

/// An order's stored fields, to rebuild it changed.
pub(crate) fn record_of(order: &Order) -> OrderRecord {
    OrderRecord {
        id: order.id(),
        account: order.account(),
        placed_by: order.placed_by(),
        plan_id: order.plan_id(),
        status: order.status(),
        description: order.description().to_owned(),
        charges: order.charges().clone(),
        notes: order.notes().map(str::to_owned),
        payment_reference: order.payment_reference().map(str::to_owned),
        renewal_of: order.renewal_of(),
        created_at: order.created_at(),
        activated_at: order.activated_at(),
        expires_at: order.expires_at(),
        cancelled_at: order.cancelled_at(),
        invoice: order.invoice().cloned(),
        billing: order.billing().clone(),
    }
}

/// Rebuilds an order with `change` applied; the aggregate's invariants are checked
/// again (a change that breaks them is a bug in the caller: `Internal`).
pub(crate) fn changed(
    order: &Order,
    change: impl FnOnce(&mut OrderRecord),
) -> Result<Order, RepoError> {
    let mut record = record_of(order);
    change(&mut record);
    Order::restore(record)
        .map(|changed| {
            changed
                .with_customer_note(order.customer_note().cloned())
                .with_past_due_at(order.past_due_at())
        })
        .map_err(|e| RepoError::Internal(Box::new(e)))
}
