//! A small Rust service embedding Tariff's order and quota use cases on the in-memory
//! adapter: no database, no HTTP. It creates a plan and two users, places and pays an
//! order, then records usage until the plan's limit refuses it, printing each step.
//!
//! Run it with `cargo run -p tariff-memory --example embedded`.

use std::sync::Arc;

use tariff_domain::audit::Actor;
use tariff_domain::catalogue::CatalogueService;
use tariff_domain::identity::{AccountService, NewUser};
use tariff_domain::identity::{Caller, Role};
use tariff_domain::orders::{BillingPolicy, OrderPorts, OrderService, SellerDetails};
use tariff_domain::quota::{IdempotencyKey, QuotaService, UsageChange, UsageOutcome};
use tariff_domain::{AccountRef, Limit, Limits, PlanDraft, Resource};
use tariff_domain::{Clock, SystemClock};
use tariff_memory::MemoryStore;

/// What the walk-through saw, for whoever embeds it (and for its test).
#[derive(Debug, Default)]
pub struct Report {
    /// Each step, as printed.
    pub lines: Vec<String>,
    pub invoice_number: String,
    pub servers_allowed: u64,
    /// Usage after each applied reservation.
    pub granted: Vec<u64>,
    /// Whether the retried request was answered from its idempotency key.
    pub retry_replayed: bool,
    /// The refusal of the reservation past the limit.
    pub refusal: Option<UsageOutcome>,
}

impl Report {
    fn say(&mut self, line: String) {
        println!("{line}");
        self.lines.push(line);
    }
}

/// The services an embedding application wires once, all on one in-memory store.
struct Services {
    catalogue: CatalogueService,
    accounts: AccountService,
    orders: OrderService,
    quota: QuotaService,
}

fn wire(store: &MemoryStore) -> Services {
    let store = Arc::new(store.clone());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let policy = BillingPolicy {
        seller: SellerDetails {
            company_name: "Example Hosting Ltd".into(),
            issued_from_name: "Billing".into(),
            issued_from_address: "1 Example Street".into(),
            logo_path: None,
        },
        ..BillingPolicy::default()
    };
    let ports = OrderPorts {
        orders: store.clone(),
        activation: store.clone(),
        directory: store.clone(),
        plans: store.clone(),
        memberships: store.clone(),
        clock: clock.clone(),
    };
    Services {
        catalogue: CatalogueService::new(store.clone()),
        accounts: AccountService::new(store.clone(), clock.clone()),
        orders: OrderService::new(ports, Arc::new(policy)),
        quota: QuotaService::new(store, clock),
    }
}

/// The walk-through: plan, users, order, payment, quota, usage up to the limit.
pub async fn run() -> Result<Report, Box<dyn std::error::Error>> {
    let mut report = Report::default();
    let services = wire(&MemoryStore::new());

    let plan = services
        .catalogue
        .create(
            PlanDraft {
                name: "Pro".into(),
                price: "9.99".into(),
                limits: Limits::unlimited().with(Resource::Servers, Limit::new(2)),
                ..PlanDraft::default()
            },
            Actor::Operator,
        )
        .await?;
    report.say(format!(
        "created plan #{} {} at {} a month",
        plan.id(),
        plan.name(),
        plan.price()
    ));

    let admin = services
        .accounts
        .create(
            NewUser {
                email: "admin@example.com".into(),
                name: "Admin".into(),
                role: Some("admin".into()),
                ..NewUser::default()
            },
            Actor::Operator,
        )
        .await?;
    let customer = services
        .accounts
        .create(
            NewUser {
                email: "customer@example.com".into(),
                name: "Customer".into(),
                ..NewUser::default()
            },
            Actor::Operator,
        )
        .await?;
    report.say(format!(
        "created users {} and {}",
        admin.email().as_str(),
        customer.email().as_str()
    ));

    let buyer = Caller::new(customer.id(), Role::User);
    let order = services.orders.place(buyer, plan.id(), None).await?;
    report.say(format!(
        "order #{} is {} ({} due)",
        order.id(),
        order.status(),
        order.charges().total()
    ));
    let paid = services
        .orders
        .mark_paid(
            Caller::new(admin.id(), Role::Admin),
            order.id(),
            Some("bank-transfer-1".into()),
        )
        .await?;
    report.invoice_number = paid.invoice_number().unwrap_or_default().to_owned();
    report.say(format!(
        "order #{} is {}, invoice {}",
        paid.id(),
        paid.status(),
        report.invoice_number
    ));

    let account = AccountRef::User(customer.id());
    let snapshot = services.quota.snapshot(account).await?;
    let plan_name = snapshot
        .limits
        .plan()
        .map_or("none", |p| p.name.as_str())
        .to_owned();
    report.servers_allowed = snapshot.limits.allowance(Resource::Servers).limit_value();
    report.say(format!(
        "quota: plan {plan_name}, {} servers allowed",
        report.servers_allowed
    ));

    let one_server = UsageChange::new(Resource::Servers, 1)?;
    let actor = Actor::User(customer.id());
    for key in ["create-server-a", "create-server-b"] {
        let answer = services
            .quota
            .change_usage(account, one_server, Some(IdempotencyKey::new(key)?), actor)
            .await?;
        if let UsageOutcome::Applied(level) = answer.outcome {
            report.granted.push(level.used);
            let left = level
                .remaining()
                .map_or("unlimited".to_owned(), |n| n.to_string());
            report.say(format!(
                "reserved a server ({key}): {} used, {left} left",
                level.used
            ));
        }
    }
    let retry = services
        .quota
        .change_usage(
            account,
            one_server,
            Some(IdempotencyKey::new("create-server-b")?),
            actor,
        )
        .await?;
    report.retry_replayed = retry.replayed;
    report.say(format!(
        "retried create-server-b: replayed = {}, nothing counted twice",
        retry.replayed
    ));

    let answer = services
        .quota
        .change_usage(
            account,
            one_server,
            Some(IdempotencyKey::new("create-server-c")?),
            actor,
        )
        .await?;
    if let UsageOutcome::Exceeded {
        limit,
        used,
        requested,
        ..
    } = answer.outcome
    {
        report.say(format!(
            "refused a third server: {used} used of {limit}, {requested} more requested"
        ));
    }
    report.refusal = Some(answer.outcome);
    Ok(report)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    run().await.map(|_| ())
}
