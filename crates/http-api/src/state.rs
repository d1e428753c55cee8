//! What handlers share: the domain services and probes, built by the app crate.

use std::sync::Arc;

use tariff_domain::audit::AuditService;
use tariff_domain::billing::{CouponService, CreditService, PlanOrderService};
use tariff_domain::catalogue::CatalogueService;
use tariff_domain::identity::AccountService;
use tariff_domain::identity::AuthService;
use tariff_domain::orders::{InvoiceService, OrderService};
use tariff_domain::settings::SettingsService;
use tariff_domain::webhooks::{DeliveryWorker, WebhookAdmin};
use tariff_domain::{
    identity::{CallerResolver, MembershipRepository},
    shared::{Clock, HealthProbe},
};

use crate::cache::BodyCache;
use tariff_domain::identity::TokenService;
use tariff_domain::organisations::OrganisationService;
use tariff_domain::quota::QuotaService;

/// Everything the HTTP layer needs, wired by `crates/app`.
#[derive(Clone)]
pub struct ApiState {
    pub catalogue: CatalogueService,
    pub health: Arc<dyn HealthProbe>,
    pub auth: Arc<dyn CallerResolver>,
    /// The same resolver as `auth`, typed, for dropping entries on logout and revocation.
    pub credential_cache: Arc<tariff_domain::identity::CachedCallerResolver>,
    pub memberships: Arc<dyn MembershipRepository>,
    pub clock: Arc<dyn Clock>,
    /// The encoded public plan list (`GET /api/plans`).
    pub plan_list_cache: Arc<BodyCache<()>>,
    /// Encoded package pages by (admin visibility, raw query string).
    pub package_page_cache: Arc<BodyCache<(bool, String)>>,
    /// Encoded order lists by user (`GET /api/orders`).
    pub order_list_cache: Arc<crate::cache::OrderListCache>,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub orders: OrderService,
    pub invoices: InvoiceService,
    /// Settings, and this instance's in-memory billing switch.
    pub settings: SettingsService,
    /// Absolute base URL clients reach the service at (`server.public_url`, no trailing
    /// slash): the start of every pagination link.
    pub public_url: Arc<str>,
    pub quota: QuotaService,
    pub accounts: AccountService,
    pub authentication: AuthService,
    pub tokens: TokenService,
    pub organisations: OrganisationService,
    pub session_cookie: SessionCookieOptions,
    /// The audit log (written by the repositories, read here).
    pub audit: AuditService,
    /// Webhook endpoints, their deliveries, and the outbox's size.
    pub webhooks: WebhookAdmin,
    /// This instance's delivery worker (its counts for the metrics; woken by a
    /// redelivery); `None` where no worker runs.
    pub webhook_worker: Option<DeliveryWorker>,
    /// Account credit: balances, entries, administrators' grants and debits.
    pub credit: CreditService,
    /// The coupon catalogue.
    pub coupons: CouponService,
    /// Refunds and credit notes.
    pub credit_notes: tariff_domain::credit_notes::CreditNoteService,
    /// Plan orders with cycles, coupons, account credit and plan changes.
    pub plan_orders: PlanOrderService,
    /// Checkout through the payment gateway, its webhooks, and payment records.
    pub payments: tariff_domain::payments::PaymentService,
    /// The JSON representation profile (`api.profile`), fixed at start-up.
    pub profile: crate::profile::Profile,
    /// Panel sign-in (`auth.panel.*`): the panel's session cookie name when it is on.
    /// Users are then the panel's: an admin's call naming a user id creates that user.
    pub panel_cookie: Option<std::sync::Arc<str>>,
}

/// How the session cookie is set and how the client's address is found.
#[derive(Clone, Copy, Debug, Default)]
pub struct SessionCookieOptions {
    /// Adds `Secure` (`auth.cookie_secure`): turn on behind HTTPS.
    pub secure: bool,
    /// Takes the client address for login rate limits from `Forwarded` /
    /// `X-Forwarded-For` (`auth.trust_forwarded_for`): only behind a proxy that sets them.
    pub trust_forwarded_for: bool,
}
