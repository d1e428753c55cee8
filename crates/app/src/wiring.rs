//! Builds the adapters and services from settings and hands them to the HTTP layer.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::TimeDelta;
use tariff_domain::audit::AuditService;
use tariff_domain::billing::{CouponRenewals, CouponService, CreditService, PlanOrderService};
use tariff_domain::catalogue::CatalogueService;
use tariff_domain::catalogue::PlanRepository;
use tariff_domain::credit_notes::{CreditNotePorts, CreditNoteService};
use tariff_domain::documents::{DocumentIssuer, IssueQueue, IssueWorker};
use tariff_domain::identity::AccountService;
use tariff_domain::identity::AuthService;
use tariff_domain::identity::CachedCallerResolver;
use tariff_domain::identity::CallerResolver;
use tariff_domain::identity::SlidingWindowLimiter;
use tariff_domain::identity::TokenService;
use tariff_domain::orders::{
    BillingPolicy, ChangeVersions, InvoiceNumberFormat, InvoiceService, LifecycleService,
    OrderPorts, OrderService, SellerDetails, TaxRules,
};
use tariff_domain::organisations::OrganisationService;
use tariff_domain::payments::{
    DunningPolicy, GatewaySetup, PaymentService, RenewalCharges, ReturnUrls,
};
use tariff_domain::quota::QuotaService;
use tariff_domain::settings::SettingsService;
use tariff_domain::shared::error_chain;
use tariff_domain::webhooks::{
    DeliveryWorker, EventPayloads, InstanceId, WebhookAdmin, WorkerReport, WorkerSettings,
};
use tariff_domain::SystemClock;
use tariff_http_api::dto::webhook::ApiEventPayloads;
use tariff_http_api::state::SessionCookieOptions;
use tariff_http_api::{ApiState, ServerOptions};
use tariff_panel_auth::{PanelConfig, PanelSignIn};
use tariff_persistence::{
    Database, DieselAuditRepository, DieselCouponRepository, DieselCreditLedger, DieselCreditNotes,
    DieselDocumentStore, DieselIdentity, DieselOrderRepository, DieselOrganisations, DieselOutbox,
    DieselPaymentStore, DieselPlanRepository, DieselQuotaRepository, DieselSettingsRepository,
    DieselUsers, DieselWebhookEndpoints, PoolOptions,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::settings::{Settings, SqliteSynchronous};

/// How often each instance re-reads the settings version: the billing switch reaches
/// every instance within this interval plus one query.
pub const SETTINGS_POLL: Duration = Duration::from_millis(500);

/// The wired application: the database handle, the state handlers share, and the
/// services background work and commands use.
pub struct Wired {
    pub db: Database,
    pub state: ApiState,
    pub lifecycle: LifecycleService,
    /// Renewals charged off-session and their retries; `None` while payments are off.
    pub renewals: Option<RenewalCharges>,
    /// The shared per-shard order versions the order-list freshness polls.
    pub change_versions: Arc<dyn ChangeVersions>,
    /// This instance's webhook delivery worker, built but not started (see
    /// [`start_webhook_worker`]).
    pub webhook_worker: DeliveryWorker,
    /// The worker that renders and stores invoices after numbering, built but not started
    /// (see [`spawn_workers`]).
    pub invoice_worker: IssueWorker,
}

/// Numbered orders waiting for their invoice PDF at most (about a kilobyte each, so
/// under 10 MB when full); past it, the worker's backfill finds them in the database.
const INVOICE_QUEUE_CAPACITY: usize = 8_192;

/// The billing rules from configuration: tax, invoice numbering, the seller on invoices
/// and the lifecycle's time limits.
pub fn billing_policy(settings: &Settings) -> anyhow::Result<BillingPolicy> {
    let tax = TaxRules::parse(&settings.tax).map_err(|e| anyhow::anyhow!("{e}"))?;
    let numbering = InvoiceNumberFormat::parse(&settings.invoice.number_format)
        .map_err(|e| anyhow::anyhow!("invoice.number_format: {e}"))?;
    let invoice = &settings.invoice;
    Ok(BillingPolicy {
        tax,
        numbering,
        seller: SellerDetails {
            company_name: invoice.company_name.clone(),
            issued_from_name: invoice.issued_from_name.clone(),
            issued_from_address: invoice.issued_from_address.clone(),
            logo_path: invoice.logo_path.clone().filter(|p| !p.trim().is_empty()),
        },
        pending_ttl: TimeDelta::days(i64::from(settings.billing.pending_ttl_days)),
        renewal_lead: TimeDelta::days(i64::from(settings.billing.renewal_lead_days)),
        due_days: invoice.due_days,
        footer: Some(invoice.footer.clone()).filter(|f| !f.trim().is_empty()),
    })
}

/// Who signs requests in: the resolver, and the panel's cookie name when the panel does.
type SignIn = (Arc<dyn CallerResolver>, Option<Arc<str>>);

/// Tariff's own credentials, and with `auth.panel.session_url` the panel's session
/// cookie in front of them; the panel cookie's name when panel sign-in is on.
fn caller_resolver(
    settings: &Settings,
    own: Arc<CachedCallerResolver>,
    accounts: &AccountService,
) -> anyhow::Result<SignIn> {
    let panel = &settings.auth.panel;
    let Some(session_url) = panel.session_url.clone() else {
        return Ok((own, None));
    };
    let config = PanelConfig {
        session_url,
        cookie: panel.cookie.clone(),
        id_pointer: panel.id_pointer.clone(),
        email_pointer: panel.email_pointer.clone(),
        role_pointer: panel.role_pointer.clone(),
        admin_roles: panel.admin_roles.clone(),
        cache_ttl: Duration::from_millis(panel.cache_ms),
        timeout: Duration::from_millis(panel.timeout_ms),
    };
    let sign_in = PanelSignIn::new(config, accounts.clone(), own)
        .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
    tracing::info!(cookie = %panel.cookie, "panel sign-in is on");
    Ok((Arc::new(sign_in), Some(panel.cookie.as_str().into())))
}

/// The sealer of webhook secrets, after sealing those stored in clear or under a key
/// that a configured key replaces.
async fn webhook_sealer(
    db: &Database,
    settings: &Settings,
) -> anyhow::Result<Arc<dyn tariff_domain::webhooks::SecretSealer>> {
    let configured = settings
        .webhooks
        .sealing_key()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (sealer, report) = tariff_persistence::open_sealer(db, configured)
        .await
        .context("webhook secrets")?;
    if report.source == tariff_persistence::KeySource::Stored {
        tracing::warn!(
            "webhooks.encryption_key is not set: webhook secrets are sealed with a key kept in \
             the database; set the key so that the database alone does not reveal them"
        );
    }
    if report.resealed > 0 || report.dropped_stored_key {
        tracing::info!(
            resealed = report.resealed,
            dropped_generated_key = report.dropped_stored_key,
            "sealed webhook secrets with the current key"
        );
    }
    let sealer: Arc<dyn tariff_domain::webhooks::SecretSealer> = sealer;
    Ok(sealer)
}

/// The Stripe gateway when `payments.stripe.secret_key` is set; `None` turns payments
/// off. The secrets go to the adapter and nowhere else.
fn payment_gateway(settings: &Settings) -> anyhow::Result<Option<GatewaySetup>> {
    let payments = &settings.payments;
    if !payments.enabled() {
        return Ok(None);
    }
    let stripe = &payments.stripe;
    let config = tariff_payments_stripe::StripeConfig::new(
        tariff_payments_stripe::Secret::new(stripe.secret_key.expose()),
        tariff_payments_stripe::Secret::new(stripe.webhook_secret.expose()),
    )
    .with_api_base(stripe.api_base.trim());
    let gateway = tariff_payments_stripe::StripeGateway::new(&config)
        .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
    let urls = ReturnUrls::new(payments.success_url.trim(), payments.cancel_url.trim())
        .map_err(|e| anyhow::anyhow!("configuration: payments.{e}"))?;
    tracing::info!(api_base = %config.api_base, "payments through Stripe are on");
    Ok(Some(GatewaySetup {
        gateway: Arc::new(gateway),
        urls,
    }))
}

/// Opens the database pool (without touching the schema).
pub fn open_database(settings: &Settings) -> anyhow::Result<Database> {
    let options = PoolOptions {
        max_connections: settings.database.max_connections,
        acquire_timeout: Duration::from_millis(settings.database.acquire_timeout_ms),
        sqlite_busy_timeout: Duration::from_millis(settings.database.sqlite_busy_timeout_ms),
        sqlite_full_sync: settings.database.sqlite_synchronous == SqliteSynchronous::Full,
    };
    Database::connect(&settings.database.url, &options).context("database")
}

/// When renewals are charged and retried, from `billing.*`.
pub fn dunning_policy(settings: &Settings) -> DunningPolicy {
    let billing = &settings.billing;
    DunningPolicy {
        charge_before: TimeDelta::days(i64::from(billing.charge_days_before)),
        retry_days: billing.retry_days.clone(),
        ..DunningPolicy::default()
    }
}

/// Opens and migrates the database, seeds the starter plan, and builds every service.
pub async fn wire(settings: &Settings) -> anyhow::Result<Wired> {
    wire_with_clock(settings, Arc::new(SystemClock)).await
}

/// [`wire`] on another clock (tests move time by hand).
pub async fn wire_with_clock(
    settings: &Settings,
    clock: Arc<dyn tariff_domain::Clock>,
) -> anyhow::Result<Wired> {
    let db = open_database(settings)?;
    let applied = db.migrate().await.context("database")?;
    if !applied.is_empty() {
        tracing::info!(migrations = ?applied, backend = db.backend().name(), "migrated database");
    }
    let payloads: Arc<dyn EventPayloads> = Arc::new(ApiEventPayloads);
    let catalogue = CatalogueService::new(Arc::new(DieselPlanRepository::with_events(
        db.clone(),
        payloads.clone(),
    )));
    if catalogue
        .ensure_starter_plan()
        .await
        .context("seeding the starter plan")?
    {
        tracing::info!("empty catalogue: created the Free default plan");
    }
    catalogue
        .poll_version()
        .await
        .context("reading the catalogue version")?;
    let identity = Arc::new(DieselIdentity::new(db.clone()));
    let quota = QuotaService::new(
        Arc::new(DieselQuotaRepository::new(db.clone())),
        clock.clone(),
    );
    let credit = CreditService::new(Arc::new(DieselCreditLedger::new(db.clone())), clock.clone());
    let coupons = CouponService::new(
        Arc::new(DieselCouponRepository::new(db.clone())),
        clock.clone(),
    );
    let users = Arc::new(DieselUsers::new(db.clone()));
    let login_limiter = Arc::new(SlidingWindowLimiter::per_minute(
        settings.auth.login_attempts_per_minute,
    ));
    let policy = Arc::new(billing_policy(settings)?);
    let order_store = Arc::new(DieselOrderRepository::with_events(
        db.clone(),
        payloads.clone(),
    ));
    let plans: Arc<dyn PlanRepository> = Arc::new(DieselPlanRepository::with_events(
        db.clone(),
        payloads.clone(),
    ));
    let font_path = settings
        .invoice
        .font_path
        .as_deref()
        .map(str::trim)
        .filter(|path| !path.is_empty())
        .map(std::path::Path::new);
    let renderer = tariff_invoice::GenpdfInvoiceRenderer::with_extra_font(font_path)
        .map_err(|e| anyhow::anyhow!("invoice.font_path: {e}"))?;
    let renderer = Arc::new(renderer);
    let document_store = Arc::new(DieselDocumentStore::new(db.clone()));
    let documents = DocumentIssuer::new(
        document_store.clone(),
        renderer.clone(),
        order_store.clone(),
        policy.clone(),
    );
    let (invoice_queue, invoice_worker) =
        IssueQueue::new(documents.clone(), INVOICE_QUEUE_CAPACITY);
    let orders = OrderService::new(
        OrderPorts {
            orders: order_store.clone(),
            activation: order_store.clone(),
            directory: order_store.clone(),
            plans: plans.clone(),
            memberships: identity.clone(),
            clock: clock.clone(),
        },
        policy.clone(),
    )
    .with_document_queue(invoice_queue);
    let plan_orders = PlanOrderService::new(
        orders.clone(),
        Arc::new(DieselCouponRepository::new(db.clone())),
        Arc::new(DieselCreditLedger::new(db.clone())),
        order_store.clone(),
    );
    // Payments and credit notes meet twice: an `original` refund goes back through the
    // gateway that took the money, and a refund made at the gateway gets its note.
    let gateway_setup = payment_gateway(settings)?;
    let diesel_payments =
        Arc::new(DieselPaymentStore::new(db.clone()).with_order_events(payloads.clone()));
    let payment_store: Arc<dyn tariff_domain::payments::PaymentStore> = diesel_payments.clone();
    let renewals = gateway_setup.as_ref().map(|setup| {
        RenewalCharges::new(
            setup.gateway.clone(),
            diesel_payments,
            payment_store.clone(),
            orders.clone(),
            clock.clone(),
            dunning_policy(settings),
        )
    });
    let mut credit_notes = CreditNoteService::new(CreditNotePorts {
        store: Arc::new(
            DieselCreditNotes::new(
                db.clone(),
                Arc::new(tariff_http_api::dto::credit_note::ApiCreditNotePayloads),
            )
            .with_order_events(payloads),
        ),
        orders: orders.clone(),
        documents: document_store,
        renderer,
        policy: policy.clone(),
        numbering: InvoiceNumberFormat::parse(&settings.invoice.credit_note_format)
            .map_err(|e| anyhow::anyhow!("invoice.credit_note_format: {e}"))?,
        clock: clock.clone(),
    });
    if let Some(setup) = &gateway_setup {
        credit_notes =
            credit_notes.with_refunder(Arc::new(tariff_domain::payments::GatewayRefunder::new(
                payment_store.clone(),
                setup.gateway.clone(),
            )));
    }
    let payments = PaymentService::new(
        gateway_setup,
        payment_store.clone(),
        orders.clone(),
        order_store.clone(),
        clock.clone(),
    )
    .with_refund_notes(Arc::new(credit_notes.clone()));
    let invoices = InvoiceService::new(
        orders.clone(),
        order_store.clone(),
        documents,
        clock.clone(),
        policy.clone(),
    );
    let change_versions: Arc<dyn ChangeVersions> = order_store.clone();
    let lifecycle = LifecycleService::new(
        order_store.clone(),
        plans,
        order_store.clone(),
        clock.clone(),
        policy,
    )
    .with_past_due(
        order_store,
        TimeDelta::days(i64::from(settings.billing.grace_days)),
    )
    .with_renewal_discounts(Arc::new(CouponRenewals::new(Arc::new(
        DieselCouponRepository::new(db.clone()),
    ))));
    let settings_service =
        SettingsService::load(Arc::new(DieselSettingsRepository::new(db.clone())))
            .await
            .context("reading the settings")?;
    let credential_cache = Arc::new(CachedCallerResolver::new(
        identity.clone(),
        Duration::from_millis(settings.auth.credential_cache_ms),
    ));
    let accounts = AccountService::new(users.clone(), clock.clone());
    let (auth, panel_cookie) = caller_resolver(settings, credential_cache.clone(), &accounts)?;
    let orders_freshness = orders.freshness().clone();
    let sealer = webhook_sealer(&db, settings).await?;
    let outbox = Arc::new(DieselOutbox::new(db.clone(), sealer.clone()));
    let webhooks = WebhookAdmin::new(
        Arc::new(DieselWebhookEndpoints::new(db.clone(), sealer)),
        outbox.clone(),
        clock.clone(),
    );
    let schedule = settings
        .webhooks
        .retry_schedule()
        .map_err(|e| anyhow::anyhow!("webhooks.{e}"))?;
    let transport = tariff_webhook_http::HttpTransport::new().context("webhook transport")?;
    let webhook_worker = DeliveryWorker::new(
        outbox,
        Arc::new(transport),
        clock.clone(),
        schedule,
        WorkerSettings {
            timeout: settings.webhooks.timeout(),
            ..WorkerSettings::default()
        },
        InstanceId::generate(&instance_name()),
    );
    let state = ApiState {
        catalogue,
        health: Arc::new(db.clone()),
        auth,
        credential_cache,
        memberships: identity.clone(),
        clock: clock.clone(),
        plan_list_cache: Arc::default(),
        order_list_cache: Arc::default(),
        package_page_cache: Arc::default(),
        metrics: Arc::default(),
        orders,
        invoices,
        settings: settings_service,
        public_url: settings.server.public_url.trim_end_matches('/').into(),
        quota,
        accounts,
        authentication: AuthService::new(
            users.clone(),
            identity.clone(),
            clock.clone(),
            settings.auth.session_ttl(),
            login_limiter,
        ),
        tokens: TokenService::new(identity.clone(), clock.clone()),
        organisations: OrganisationService::new(
            Arc::new(DieselOrganisations::new(db.clone())),
            identity,
            users,
            clock,
        )
        .with_order_freshness(orders_freshness),
        audit: AuditService::new(Arc::new(DieselAuditRepository::new(db.clone()))),
        webhooks,
        webhook_worker: Some(webhook_worker.clone()),
        credit,
        coupons,
        credit_notes,
        plan_orders,
        payments,
        session_cookie: SessionCookieOptions {
            secure: settings.auth.cookie_secure,
            trust_forwarded_for: settings.auth.trust_forwarded_for,
        },
        profile: settings.api.profile.to_http(),
        panel_cookie,
    };
    Ok(Wired {
        db,
        state,
        lifecycle,
        renewals,
        change_versions,
        webhook_worker,
        invoice_worker,
    })
}

/// The host name for the worker's instance id (in the lease columns and the logs).
fn instance_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| "tariff".to_owned())
}

/// A running webhook delivery worker and the switch that stops it.
pub struct WebhookWorkerTask {
    stop: watch::Sender<bool>,
    task: JoinHandle<WorkerReport>,
}

impl WebhookWorkerTask {
    /// Asks the worker to stop without waiting: attempts in flight get the worker's
    /// grace time, then the rest are released for any instance to send again.
    pub fn request_stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Stops the worker and waits for it: in-flight attempts finish or are released.
    pub async fn stop(self) -> Option<WorkerReport> {
        self.request_stop();
        match self.task.await {
            Ok(report) => Some(report),
            Err(err) => {
                tracing::warn!(error = %err, "the webhook worker ended abnormally");
                None
            }
        }
    }
}

/// Starts the webhook delivery worker of a serving instance.
pub fn start_webhook_worker(wired: &Wired) -> WebhookWorkerTask {
    let (stop, stopped) = watch::channel(false);
    let worker = wired.webhook_worker.clone();
    let task = tokio::spawn(async move { worker.run(stopped).await });
    WebhookWorkerTask { stop, task }
}

/// Starts the serving instance's background work: the settings poll (keeps the
/// billing switch current), the lifecycle sweep and then the renewal charges (when
/// payments are on) every `billing.sweep_interval_secs`,
/// the worker that renders invoices after numbering (see [`IssueQueue`]),
/// and, once, the backfill of invoice and credit note PDFs that are not stored yet (orders numbered
/// before documents were stored, or whose render a crash interrupted; downloads make
/// them on first request meanwhile). Failures are logged and retried on the next tick
/// (the backfill on the next start); the tasks end with the runtime.
pub fn spawn_workers(wired: &Wired, settings: &Settings) -> Vec<JoinHandle<()>> {
    let invoices = wired.state.invoices.clone();
    let credit_notes = wired.state.credit_notes.clone();
    let backfill = tokio::spawn(async move {
        match invoices.backfill().await {
            Ok(0) => {}
            Ok(made) => tracing::info!(made, "stored the PDFs of numbered invoices"),
            Err(err) => tracing::warn!(error = %error_chain(&err), "invoice backfill failed"),
        }
        match credit_notes.backfill().await {
            Ok(0) => {}
            Ok(made) => tracing::info!(made, "stored the PDFs of credit notes"),
            Err(err) => tracing::warn!(error = %error_chain(&err), "credit note backfill failed"),
        }
    });
    let settings_service = wired.state.settings.clone();
    let poll = tokio::spawn(async move {
        let mut tick = tokio::time::interval(SETTINGS_POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match settings_service.refresh().await {
                Ok(true) => tracing::info!(
                    billing_enabled = settings_service.billing_enabled_now(),
                    "billing switch changed elsewhere"
                ),
                Ok(false) => {}
                Err(err) => tracing::warn!(error = %error_chain(&err), "settings poll failed"),
            }
        }
    });
    let lifecycle = wired.lifecycle.clone();
    let renewals = wired.renewals.clone();
    let every = Duration::from_secs(settings.billing.sweep_interval_secs.max(1));
    let sweep = tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(err) = lifecycle.sweep_now().await {
                tracing::warn!(error = %error_chain(&err), "lifecycle sweep failed");
            }
            if let Some(renewals) = &renewals {
                if let Err(err) = renewals.run_now().await {
                    tracing::warn!(error = %error_chain(&err), "renewal charges failed");
                }
            }
        }
    });
    let mut handles = vec![poll, sweep, backfill];
    handles.extend(wired.invoice_worker.start());
    handles
}

pub fn server_options(settings: &Settings) -> ServerOptions {
    ServerOptions {
        workers: settings.server.workers,
        client_request_timeout: Duration::from_secs(settings.server.client_request_timeout_secs),
        keep_alive: Duration::from_secs(settings.server.keep_alive_secs),
        shutdown_timeout: Duration::from_secs(settings.server.shutdown_timeout_secs),
        cors_allowed_origins: settings.server.cors_allowed_origins.clone(),
    }
}

/// How often shared versions (catalogue, order shards) are polled: changes made through
/// another instance reach this one's caches within this interval.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Keeps caches current with changes made by other instances on the same database.
/// Runs until the process ends; a failed poll is logged and retried on the next tick.
pub fn spawn_pollers(wired: &Wired) -> tokio::task::JoinHandle<()> {
    let catalogue = wired.state.catalogue.clone();
    let orders = wired.state.orders.freshness().clone();
    let change_versions = wired.change_versions.clone();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(POLL_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(err) = catalogue.poll_version().await {
                tracing::debug!(error = %err, "catalogue version poll failed");
            }
            if let Err(err) = orders.poll(change_versions.as_ref()).await {
                tracing::debug!(error = %err, "order version poll failed");
            }
        }
    })
}
