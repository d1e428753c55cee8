//! The order use cases: place, read, list, cancel; and the administrators' apply-plan,
//! cancel-plan, current-plan, mark-paid and order search.

use std::sync::Arc;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};

use super::error::OrderError;
use super::freshness::{ListStamp, OrderFreshness};
use super::model::{NewOrder, Order, OrderStatus};
use super::note::CustomerNote;
use super::numbering::InvoiceNumberFormat;
use super::parties::{BuyerDetails, SellerDetails};
use super::periods::one_month_after;
use super::ports::{Activation, BillingDirectory, OrderActivation, OrderFilter, OrderRepository};
use super::tax::TaxRules;
use crate::audit::entry::{Actor, AuditAction, AuditEntry, TargetKind};
use crate::catalogue::limits::Limits;
use crate::catalogue::plan::Plan;
use crate::catalogue::ports::PlanRepository;
use crate::documents::{DocumentIssuer, IssueQueue};
use crate::identity::caller::Caller;
use crate::identity::ports::MembershipRepository;
use crate::shared::clock::Clock;
use crate::shared::ids::AccountRef;
use crate::shared::ids::{OrderId, OrgId, PlanId, UserId};
use crate::shared::money::{Money, TaxRate};
use crate::shared::pagination::{Page, PageRequest};
use crate::shared::repo::{ConflictKind, RepoError};

/// Longest internal note an administrator may attach.
pub const MAX_NOTES_CHARS: usize = 2_000;
/// Longest payment reference.
pub const MAX_REFERENCE_CHARS: usize = 255;

/// Billing configuration the use cases apply: tax, numbering, the seller on invoices,
/// and the lifecycle's time limits.
#[derive(Clone, Debug)]
pub struct BillingPolicy {
    /// Tax.
    pub tax: TaxRules,
    /// Numbering.
    pub numbering: InvoiceNumberFormat,
    /// Seller.
    pub seller: SellerDetails,
    /// A pending order older than this expires.
    pub pending_ttl: TimeDelta,
    /// A paid plan's renewal order is created this long before the period ends.
    pub renewal_lead: TimeDelta,
    /// Days from an invoice's issue date to its due date.
    pub due_days: u32,
    /// Printed at the foot of every invoice.
    pub footer: Option<String>,
}

impl Default for BillingPolicy {
    fn default() -> Self {
        BillingPolicy {
            tax: TaxRules::none(),
            numbering: InvoiceNumberFormat::default(),
            seller: SellerDetails::default(),
            pending_ttl: TimeDelta::days(7),
            renewal_lead: TimeDelta::days(7),
            due_days: 14,
            footer: None,
        }
    }
}

/// The plan an account runs on now: its active order's plan, else the default plan.
#[derive(Clone, Debug, PartialEq)]
pub struct CurrentPlan {
    /// Plan.
    pub plan: Option<Plan>,
    /// Order.
    pub order: Option<Order>,
    /// The plan's limits; all unlimited (0) only when there is no plan at all.
    pub limits: Limits,
}

/// What an administrator asks for with apply-plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplyPlan {
    /// User.
    pub user: UserId,
    /// Plan.
    pub plan: PlanId,
    /// Notes.
    pub notes: Option<String>,
    /// When the paid period ends.
    pub expires_at: Option<DateTime<Utc>>,
}

/// An administrator's tax for one applied order instead of the tax rules'.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaxOverride {
    /// The tax rate to apply instead of the tax rules'.
    pub rate: TaxRate,
    /// The administrator's own tax figure, as decimal text (the panel computes it with
    /// floating point, so it may carry more decimals than the currency). The stored tax
    /// is always the rate applied to the price; this figure must agree with it to within
    /// one minor unit, or the request is refused.
    pub amount: Option<String>,
}

/// The optional choices of an apply-plan beyond [`ApplyPlan`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApplyPlanOptions {
    /// Give the plan to this organisation; the named user is recorded as the order's user.
    pub org: Option<OrgId>,
    /// The administrator's tax for this order instead of the tax rules'.
    pub tax_override: Option<TaxOverride>,
    /// No expiry: the period never ends (`expires_at` is ignored).
    pub lifetime: bool,
}

/// The ports the order service uses.
#[derive(Clone)]
pub struct OrderPorts {
    /// Orders.
    pub orders: Arc<dyn OrderRepository>,
    /// Activation.
    pub activation: Arc<dyn OrderActivation>,
    /// Directory.
    pub directory: Arc<dyn BillingDirectory>,
    /// Plans.
    pub plans: Arc<dyn PlanRepository>,
    /// Memberships.
    pub memberships: Arc<dyn MembershipRepository>,
    /// Clock.
    pub clock: Arc<dyn Clock>,
}

/// Orders and the plan they give an account.
#[derive(Clone)]
pub struct OrderService {
    ports: OrderPorts,
    policy: Arc<BillingPolicy>,
    freshness: Arc<OrderFreshness>,
    /// Renders and stores an invoice right after its number is issued.
    documents: Option<IssueDocuments>,
}

/// How a just-numbered invoice gets its PDF.
#[derive(Clone)]
enum IssueDocuments {
    /// Rendered before the caller hears its answer.
    Inline(DocumentIssuer),
    /// Rendered by the queue's worker, after the caller has its answer.
    Queued(IssueQueue),
}

/// An order list and the stamp that says, later, whether it is still current.
#[derive(Clone, Debug)]
pub struct OrderList {
    /// Orders.
    pub orders: Vec<Order>,
    /// Stamp.
    pub stamp: ListStamp,
}

impl OrderService {
    /// Builds the service on the ports it needs.
    pub fn new(ports: OrderPorts, policy: Arc<BillingPolicy>) -> OrderService {
        OrderService {
            ports,
            policy,
            freshness: Arc::default(),
            documents: None,
        }
    }

    /// Stores every invoice's PDF as soon as it is numbered. Without it, invoices are
    /// still stored, later: by the start-up backfill or on first download.
    pub fn with_documents(mut self, issuer: DocumentIssuer) -> OrderService {
        self.documents = Some(IssueDocuments::Inline(issuer));
        self
    }

    /// Stores every invoice's PDF shortly after it is numbered, off the request path:
    /// the order goes to `queue`, whose worker renders it (see [`IssueQueue`]).
    pub fn with_document_queue(mut self, queue: IssueQueue) -> OrderService {
        self.documents = Some(IssueDocuments::Queued(queue));
        self
    }

    /// Renders and stores the invoice of a just-numbered order. The number is already
    /// committed, so a failure here fails nothing: it is logged, and the backfill or the
    /// first download makes the same bytes later.
    pub(crate) async fn issue_documents(&self, order: &Order) {
        let issuer = match &self.documents {
            None => return,
            Some(IssueDocuments::Queued(queue)) => {
                if order.invoice().is_some() {
                    queue.submit(order);
                }
                return;
            }
            Some(IssueDocuments::Inline(issuer)) => issuer,
        };
        if let Err(err) = issuer.issue_invoice(order).await {
            tracing::warn!(
                order = order.id().get(),
                error = %crate::shared::error_chain(&err),
                "invoice not stored at numbering; the backfill or first download will"
            );
        }
    }

    /// What order-list caches check; share it with services that change memberships
    /// and poll it (see [`OrderFreshness::poll`]).
    pub fn freshness(&self) -> &Arc<OrderFreshness> {
        &self.freshness
    }

    /// True while nothing the list depends on has changed (cheap: atomic loads).
    pub fn is_current(&self, stamp: &ListStamp) -> bool {
        self.freshness.is_current(stamp)
    }

    /// The policy.
    pub fn policy(&self) -> &BillingPolicy {
        &self.policy
    }

    /// The ports, for the billing use cases built on this service.
    pub(crate) fn ports(&self) -> &OrderPorts {
        &self.ports
    }

    /// Now, to the second: what the API shows and what conditional updates compare.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.ports.clock.now().trunc_subsecs(0)
    }

    /// Places an order for the caller, or for `org` when the caller manages it. The
    /// server prices it from the plan; a price-0 order activates at once (replacing the
    /// account's plan), any other stays pending until paid. Customers cannot order
    /// hidden plans.
    pub async fn place(
        &self,
        caller: Caller,
        plan_id: PlanId,
        org: Option<OrgId>,
    ) -> Result<Order, OrderError> {
        self.place_with_note(caller, plan_id, org, None).await
    }

    /// [`place`](Self::place), keeping the customer's own note with the order.
    pub async fn place_with_note(
        &self,
        caller: Caller,
        plan_id: PlanId,
        org: Option<OrgId>,
        note: Option<CustomerNote>,
    ) -> Result<Order, OrderError> {
        let account = match org {
            None => AccountRef::User(caller.user_id()),
            Some(org) => {
                self.require_manager(caller, org).await?;
                AccountRef::Org(org)
            }
        };
        let plan = self.plan(plan_id).await?;
        if plan.hidden() && !caller.is_admin() {
            return Err(OrderError::PlanNotFound(plan_id));
        }
        let buyer = self.buyer(account).await?;
        let now = self.now();
        let rate = self.policy.tax.rate_for(buyer.address.country_code());
        let order = NewOrder::for_plan(&plan, account, Some(caller.user_id()), rate, now)?
            .with_customer_note(note);
        if order.is_free() {
            let activation = self.activation_terms(now, one_month_after(now), None);
            self.activate_new(order, activation, None).await
        } else {
            let placed = self.ports.orders.insert_pending(order).await;
            self.freshness.touched(account);
            placed.map_err(OrderError::repo)
        }
    }

    /// One order, if the caller may see it: the user it belongs to, an admin or owner
    /// of its organisation, or an administrator. Anyone else learns nothing: 404.
    pub async fn get(&self, caller: Caller, id: OrderId) -> Result<Order, OrderError> {
        let order = self.load(id).await?;
        if self.may_see(caller, &order).await? {
            Ok(order)
        } else {
            Err(OrderError::OrderNotFound(id))
        }
    }

    /// The caller's own orders and those of organisations they manage, newest first,
    /// with the stamp a cache of the list checks with [`is_current`](Self::is_current).
    pub async fn list_with_stamp(&self, caller: Caller) -> Result<OrderList, OrderError> {
        // Taken before reading: a write from here on makes the stamp stale.
        let snapshot = self.freshness.snapshot();
        let mut accounts = vec![AccountRef::User(caller.user_id())];
        let managed = self
            .ports
            .memberships
            .managed_orgs(caller.user_id())
            .await
            .map_err(OrderError::repo)?;
        accounts.extend(managed.into_iter().map(AccountRef::Org));
        let stamp = snapshot.stamp_for(&accounts);
        let orders = self
            .ports
            .orders
            .list_for_accounts(accounts)
            .await
            .map_err(OrderError::repo)?;
        Ok(OrderList { orders, stamp })
    }

    /// One organisation's orders, newest first: for its admins and owners and for
    /// administrators; anyone else gets [`OrderError::NotOrgManager`].
    pub async fn list_for_org(&self, caller: Caller, org: OrgId) -> Result<Vec<Order>, OrderError> {
        self.require_manager(caller, org).await?;
        self.ports
            .orders
            .list_for_accounts(vec![AccountRef::Org(org)])
            .await
            .map_err(OrderError::repo)
    }

    /// Whether the caller may see a hidden plan: administrators, and anyone whose own
    /// account or a managed organisation holds or held an order for it.
    pub async fn may_view_hidden_plan(
        &self,
        caller: Caller,
        plan: PlanId,
    ) -> Result<bool, OrderError> {
        if caller.is_admin() {
            return Ok(true);
        }
        let list = self.list_with_stamp(caller).await?;
        Ok(list.orders.iter().any(|order| order.plan_id() == plan))
    }

    /// Administrators: every order of one account, newest first.
    pub async fn orders_of(
        &self,
        admin: Caller,
        account: AccountRef,
    ) -> Result<Vec<Order>, OrderError> {
        require_admin(admin)?;
        self.ports
            .orders
            .list_for_accounts(vec![account])
            .await
            .map_err(OrderError::repo)
    }

    /// Cancels an order the caller may see (pending or active; otherwise 409).
    /// Cancelling the active order puts the account back on the default plan.
    pub async fn cancel(&self, caller: Caller, id: OrderId) -> Result<Order, OrderError> {
        let order = self.get(caller, id).await?;
        self.cancel_order(&order, None).await
    }

    async fn cancel_order(
        &self,
        order: &Order,
        audit: Option<AuditEntry>,
    ) -> Result<Order, OrderError> {
        order.check_transition(OrderStatus::Cancelled)?;
        let changed = self
            .ports
            .orders
            .transition(
                order.id(),
                order.status(),
                OrderStatus::Cancelled,
                self.now(),
                audit,
            )
            .await;
        self.freshness.touched(order.account());
        changed.map_err(|e| match e {
            RepoError::Conflict(_) => OrderError::Conflict(ConflictKind::ChangedMeanwhile),
            other => OrderError::from_repo(other, || OrderError::OrderNotFound(order.id())),
        })
    }

    /// Administrators: gives a user a plan at once, as an active order at the plan's
    /// price (hidden plans included). The previous active order is cancelled with the
    /// note "replaced by order #N". The period ends at `expires_at`, by default one
    /// calendar month from now.
    pub async fn apply_plan(&self, admin: Caller, input: ApplyPlan) -> Result<Order, OrderError> {
        self.apply_plan_with(admin, input, ApplyPlanOptions::default())
            .await
    }

    /// [`apply_plan`](Self::apply_plan) with the options an administrator may add: an
    /// organisation as the account, a tax override (audited: the entry's order state
    /// carries the rate and tax used), or a lifetime period.
    pub async fn apply_plan_with(
        &self,
        admin: Caller,
        input: ApplyPlan,
        options: ApplyPlanOptions,
    ) -> Result<Order, OrderError> {
        require_admin(admin)?;
        self.buyer(AccountRef::User(input.user)).await?;
        let account = match options.org {
            Some(org) => AccountRef::Org(org),
            None => AccountRef::User(input.user),
        };
        let buyer = self.buyer(account).await?;
        let plan = self.plan(input.plan).await?;
        let now = self.now();
        let expires_at = match input.expires_at {
            _ if options.lifetime => super::periods::lifetime_end(),
            None => one_month_after(now),
            Some(at) if at.trunc_subsecs(0) <= now => {
                return Err(OrderError::Invalid {
                    field: "expiresAt",
                    message: "must be in the future".into(),
                })
            }
            Some(at) => at.trunc_subsecs(0),
        };
        let notes = checked_text("notes", input.notes, MAX_NOTES_CHARS)?;
        let rate = match &options.tax_override {
            Some(tax) => tax.rate,
            None => self.policy.tax.rate_for(buyer.address.country_code()),
        };
        let order =
            NewOrder::for_plan(&plan, account, Some(input.user), rate, now)?.with_notes(notes);
        if let Some(figure) = options
            .tax_override
            .as_ref()
            .and_then(|t| t.amount.as_deref())
        {
            if !figure_agrees(figure, order.charges().tax()) {
                return Err(OrderError::Invalid {
                    field: "taxAmount",
                    message: format!(
                        "does not match taxRate: the rate gives {} on this plan",
                        order.charges().tax().to_fixed_string()
                    ),
                });
            }
        }
        let activation = self.activation_terms(now, expires_at, None);
        let audit = AuditEntry::on_account(
            Actor::User(admin.user_id()),
            AuditAction::PlanApply,
            account,
        );
        self.activate_new(order, activation, Some(audit)).await
    }

    /// Administrators: cancels the user's active order; false when there is none.
    pub async fn cancel_plan(&self, admin: Caller, user: UserId) -> Result<bool, OrderError> {
        require_admin(admin)?;
        let account = AccountRef::User(user);
        self.buyer(account).await?;
        // Two rounds: an activation may replace the order between reading and writing.
        for _ in 0..2 {
            let Some(active) = self
                .ports
                .orders
                .active_for(account)
                .await
                .map_err(OrderError::repo)?
            else {
                return Ok(false);
            };
            let audit = AuditEntry::on_account(
                Actor::User(admin.user_id()),
                AuditAction::PlanCancel,
                account,
            );
            match self.cancel_order(&active, Some(audit)).await {
                Ok(_) => return Ok(true),
                Err(OrderError::Conflict(_)) | Err(OrderError::OrderNotFound(_)) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(OrderError::Conflict(ConflictKind::RaceLost))
    }

    /// Administrators: the user's effective plan, its order and limits.
    pub async fn current_plan(
        &self,
        admin: Caller,
        user: UserId,
    ) -> Result<CurrentPlan, OrderError> {
        require_admin(admin)?;
        let account = AccountRef::User(user);
        self.buyer(account).await?;
        self.effective_plan(account).await
    }

    /// The plan an account runs on: its active order's plan, else the default plan.
    pub async fn effective_plan(&self, account: AccountRef) -> Result<CurrentPlan, OrderError> {
        let active = self
            .ports
            .orders
            .active_for(account)
            .await
            .map_err(OrderError::repo)?;
        let plan = match &active {
            Some(order) => Some(
                self.ports
                    .plans
                    .get(order.plan_id())
                    .await
                    .map_err(OrderError::repo)?,
            ),
            None => self
                .ports
                .plans
                .default_plan()
                .await
                .map_err(OrderError::repo)?,
        };
        let limits = plan.as_ref().map(|p| *p.limits()).unwrap_or_default();
        Ok(CurrentPlan {
            plan,
            order: active,
            limits,
        })
    }

    /// Administrators: records payment of a pending order and activates it (number,
    /// snapshot, replacement of the previous plan in one transaction). A renewal paid
    /// while its predecessor still runs starts when the predecessor ends.
    pub async fn mark_paid(
        &self,
        admin: Caller,
        id: OrderId,
        reference: Option<String>,
    ) -> Result<Order, OrderError> {
        require_admin(admin)?;
        let reference = checked_text("reference", reference, MAX_REFERENCE_CHARS)?;
        let order = self.load(id).await?;
        order.check_transition(OrderStatus::Active)?;
        let activation = self.payment_activation(&order, reference).await?;
        for round in 0..2 {
            let activated = self
                .ports
                .activation
                .activate_pending(
                    id,
                    activation.clone(),
                    Some(AuditEntry::new(
                        Actor::User(admin.user_id()),
                        AuditAction::OrderMarkPaid,
                        TargetKind::Order,
                        Some(id.get()),
                    )),
                )
                .await;
            self.freshness.touched(order.account());
            match activated {
                Ok(order) => {
                    self.issue_documents(&order).await;
                    return Ok(order);
                }
                Err(RepoError::Conflict(_)) => {
                    // Lost a race: either the order is no longer pending (then say so)
                    // or another activation for the account won (then try once more).
                    let current = self.load(id).await?;
                    current.check_transition(OrderStatus::Active)?;
                    if round == 1 {
                        return Err(OrderError::Conflict(ConflictKind::RaceLost));
                    }
                }
                Err(other) => {
                    return Err(OrderError::from_repo(other, || {
                        OrderError::OrderNotFound(id)
                    }))
                }
            }
        }
        Err(OrderError::Conflict(ConflictKind::RaceLost))
    }

    /// The terms on which a paid pending order activates, now: mark-paid's and a
    /// gateway payment's. A renewal paid while its predecessor still runs starts when
    /// the predecessor ends.
    pub async fn payment_activation(
        &self,
        order: &Order,
        reference: Option<String>,
    ) -> Result<Activation, OrderError> {
        let now = self.now();
        let start = match order.renewal_of() {
            Some(previous) => match self.ports.orders.get(previous).await {
                Ok(prev) if prev.status() == OrderStatus::Active => {
                    prev.expires_at().filter(|end| *end > now).unwrap_or(now)
                }
                Ok(_) | Err(RepoError::NotFound) => now,
                Err(other) => return Err(OrderError::repo(other)),
            },
            None => now,
        };
        let months = order.billing().cycle.months();
        Ok(self.activation_terms(now, super::periods::months_after(start, months), reference))
    }

    /// What follows an activation committed by another use case (a gateway payment):
    /// the account's order lists go stale and the invoice PDF is stored.
    pub async fn activated_elsewhere(&self, order: &Order) {
        self.freshness.touched(order.account());
        self.issue_documents(order).await;
    }

    /// Administrators: every order matching `filter`, newest first, one page.
    pub async fn search(
        &self,
        admin: Caller,
        filter: OrderFilter,
        page: PageRequest,
    ) -> Result<Page<Order>, OrderError> {
        require_admin(admin)?;
        self.ports
            .orders
            .search(filter, page)
            .await
            .map_err(OrderError::repo)
    }

    /// Any order, no access check: for trusted operators only (the command line).
    pub async fn get_for_operator(&self, id: OrderId) -> Result<Order, OrderError> {
        self.load(id).await
    }

    async fn load(&self, id: OrderId) -> Result<Order, OrderError> {
        self.ports
            .orders
            .get(id)
            .await
            .map_err(|e| OrderError::from_repo(e, || OrderError::OrderNotFound(id)))
    }

    async fn may_see(&self, caller: Caller, order: &Order) -> Result<bool, OrderError> {
        self.may_see_account(caller, order.account()).await
    }

    /// Whether `caller` may see the orders of `account`: its user, an admin or owner of
    /// its organisation, or an administrator (the rule of [`get`](Self::get)).
    pub async fn may_see_account(
        &self,
        caller: Caller,
        account: AccountRef,
    ) -> Result<bool, OrderError> {
        if caller.is_admin() {
            return Ok(true);
        }
        match account {
            AccountRef::User(user) => Ok(user == caller.user_id()),
            AccountRef::Org(org) => Ok(self
                .ports
                .memberships
                .role_in(org, caller.user_id())
                .await
                .map_err(OrderError::repo)?
                .is_some_and(|role| role.can_manage())),
        }
    }

    pub(crate) async fn require_manager(
        &self,
        caller: Caller,
        org: OrgId,
    ) -> Result<(), OrderError> {
        if caller.is_admin() {
            return Ok(());
        }
        let role = self
            .ports
            .memberships
            .role_in(org, caller.user_id())
            .await
            .map_err(OrderError::repo)?;
        if role.is_some_and(|r| r.can_manage()) {
            Ok(())
        } else {
            Err(OrderError::NotOrgManager)
        }
    }

    pub(crate) async fn plan(&self, id: PlanId) -> Result<Plan, OrderError> {
        self.ports
            .plans
            .get(id)
            .await
            .map_err(|e| OrderError::from_repo(e, || OrderError::PlanNotFound(id)))
    }

    pub(crate) async fn buyer(&self, account: AccountRef) -> Result<BuyerDetails, OrderError> {
        self.ports
            .directory
            .billing_details(account)
            .await
            .map_err(|e| {
                OrderError::from_repo(e, || match account {
                    AccountRef::User(user) => OrderError::UserNotFound(user),
                    AccountRef::Org(org) => OrderError::OrgNotFound(org),
                })
            })
    }

    pub(crate) fn activation_terms(
        &self,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        payment_reference: Option<String>,
    ) -> Activation {
        Activation {
            activated_at: now,
            expires_at,
            payment_reference,
            seller: self.policy.seller.clone(),
            numbering: self.policy.numbering.clone(),
        }
    }

    /// Stores and activates a new order. A concurrent activation for the same account
    /// makes the database refuse ours (one active order per account); one retry then
    /// replaces the winner, a second refusal is a clean conflict.
    async fn activate_new(
        &self,
        order: NewOrder,
        activation: Activation,
        audit: Option<AuditEntry>,
    ) -> Result<Order, OrderError> {
        for _ in 0..2 {
            let created = self
                .ports
                .activation
                .create_active(order.clone(), activation.clone(), audit.clone())
                .await;
            self.freshness.touched(order.account());
            match created {
                Ok(order) => {
                    self.issue_documents(&order).await;
                    return Ok(order);
                }
                Err(RepoError::Conflict(_)) => continue,
                Err(other) => return Err(OrderError::repo(other)),
            }
        }
        Err(OrderError::Conflict(ConflictKind::RaceLost))
    }
}

fn require_admin(caller: Caller) -> Result<(), OrderError> {
    if caller.is_admin() {
        Ok(())
    } else {
        Err(OrderError::AdminOnly)
    }
}

/// Whether a decimal figure (any number of decimals, not negative) is within one minor
/// unit of `tax`. Exact integer arithmetic: the figure is never a float here.
fn figure_agrees(figure: &str, tax: Money) -> bool {
    let figure = figure.trim();
    let (whole, fraction) = figure.split_once('.').unwrap_or((figure, ""));
    let fraction = fraction.trim_end_matches('0');
    let digits_ok = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 18 || fraction.len() > 18 {
        return false;
    }
    if !digits_ok(whole) || !digits_ok(fraction) {
        return false;
    }
    let scale = 10_i128.pow(u32::try_from(fraction.len()).unwrap_or(0));
    let parse = |t: &str| t.parse::<i128>().unwrap_or(0);
    let figure_scaled = parse(whole) * scale
        + if fraction.is_empty() {
            0
        } else {
            parse(fraction)
        };
    let unit = 10_i128.pow(u32::from(tax.currency().decimals()));
    // |figure - tax| <= one minor unit, both sides multiplied by `scale * unit`.
    let difference = figure_scaled * unit - i128::from(tax.minor()) * scale;
    difference.abs() <= scale
}

/// Trims optional free text; blank is none; too long or control characters (other than
/// line breaks and tabs) are refused.
fn checked_text(
    field: &'static str,
    text: Option<String>,
    max_chars: usize,
) -> Result<Option<String>, OrderError> {
    let Some(text) = text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > max_chars {
        return Err(OrderError::Invalid {
            field,
            message: format!("must be at most {max_chars} characters"),
        });
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(OrderError::Invalid {
            field,
            message: "must not contain control characters".into(),
        });
    }
    Ok(Some(text))
}

#[cfg(test)]
mod figure_tests {
    use super::figure_agrees;
    use crate::shared::money::{Currency, Money};

    #[test]
    fn a_tax_figure_agrees_within_one_minor_unit() {
        let tax = Money::from_minor(380, Currency::USD);
        for figure in [
            "3.80",
            "3.8",
            "3.7981",
            "3.81",
            "3.79",
            "3.800000000000000001",
        ] {
            assert!(figure_agrees(figure, tax), "{figure}");
        }
        for figure in ["3.82", "3.78", "-3.80", "3,80", "", "abc", "1e2", "38"] {
            assert!(!figure_agrees(figure, tax), "{figure}");
        }
        let zero = Money::from_minor(0, Currency::USD);
        assert!(figure_agrees("0", zero));
        assert!(figure_agrees("0.0", zero));
        let yen = Money::from_minor(190, Currency::from_code("JPY").unwrap());
        assert!(figure_agrees("190.4", yen));
        assert!(!figure_agrees("192", yen));
    }
}
