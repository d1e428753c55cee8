//! The domain's use cases on the in-memory adapter: the services as an application
//! wires them, with no database and no mock. (These live here rather than in the domain
//! crate: a dev-dependency of the domain on this crate would compile the domain twice,
//! and its types would not match.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::sync::Arc;

use chrono::{TimeDelta, TimeZone, Utc};
use tariff_domain::audit::{Actor, AuditFilter, AuditRepository, TargetKind};
use tariff_domain::catalogue::{CatalogueError, CatalogueService};
use tariff_domain::identity::CallerResolver;
use tariff_domain::identity::SlidingWindowLimiter;
use tariff_domain::identity::{AccountError, AccountService, NewUser, UserPatch};
use tariff_domain::identity::{AuthError, AuthService, LoginAttempt};
use tariff_domain::identity::{Caller, Credential, OrgRole, Role};
use tariff_domain::identity::{TokenError, TokenService};
use tariff_domain::orders::{
    ApplyPlan, BillingPolicy, LifecycleService, OrderError, OrderPorts, OrderService, OrderStatus,
    TaxRules,
};
use tariff_domain::organisations::{OrgError, OrganisationService};
use tariff_domain::quota::{
    Allowance, IdempotencyKey, QuotaError, QuotaService, UsageChange, UsageOutcome,
};
use tariff_domain::settings::SettingsService;
use tariff_domain::shared::ManualClock;
use tariff_domain::Clock;
use tariff_domain::{
    AccountRef, BillingDraft, ConflictKind, Limit, Limits, OrgId, PageRequest, Plan, PlanDraft,
    Resource, User, UserId,
};
use tariff_memory::MemoryStore;

/// The services of one application instance on one store, at a clock the test moves.
struct App {
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    catalogue: CatalogueService,
    accounts: AccountService,
    orders: OrderService,
    quota: QuotaService,
}

impl App {
    fn new() -> App {
        App::with_policy(BillingPolicy::default())
    }

    fn with_policy(policy: BillingPolicy) -> App {
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap(),
        ));
        let ports = OrderPorts {
            orders: store.clone(),
            activation: store.clone(),
            directory: store.clone(),
            plans: store.clone(),
            memberships: store.clone(),
            clock: clock.clone(),
        };
        App {
            catalogue: CatalogueService::new(store.clone()),
            accounts: AccountService::new(store.clone(), clock.clone()),
            orders: OrderService::new(ports, Arc::new(policy)),
            quota: QuotaService::new(store.clone(), clock.clone()),
            store,
            clock,
        }
    }

    async fn plan(&self, name: &str, price: &str, servers: u64) -> Plan {
        let draft = PlanDraft {
            name: name.into(),
            price: price.into(),
            limits: Limits::unlimited().with(Resource::Servers, Limit::new(servers)),
            ..PlanDraft::default()
        };
        self.catalogue.create(draft, Actor::Operator).await.unwrap()
    }

    async fn user(&self, email: &str, role: &str, country: &str) -> User {
        let new = NewUser {
            email: email.into(),
            name: email.into(),
            role: Some(role.into()),
            billing: BillingDraft {
                country: Some(country.into()),
                ..BillingDraft::default()
            },
            ..NewUser::default()
        };
        self.accounts.create(new, Actor::Operator).await.unwrap()
    }

    async fn customer(&self, email: &str) -> Caller {
        Caller::new(self.user(email, "user", "DE").await.id(), Role::User)
    }

    async fn admin(&self) -> Caller {
        Caller::new(
            self.user("admin@example.com", "admin", "DE").await.id(),
            Role::Admin,
        )
    }
}

#[tokio::test]
async fn the_catalogue_refuses_clashes_and_rejected_imports_change_nothing() {
    let app = App::new();
    assert!(app.catalogue.ensure_starter_plan().await.unwrap());
    assert!(!app.catalogue.ensure_starter_plan().await.unwrap());
    let pro = app.plan("Pro", "9.99", 3).await;
    let clash = app
        .catalogue
        .create(
            PlanDraft {
                name: "PRO".into(),
                ..PlanDraft::default()
            },
            Actor::Operator,
        )
        .await;
    assert!(
        matches!(
            clash,
            Err(CatalogueError::Conflict(ConflictKind::NameTaken))
        ),
        "{clash:?}"
    );
    let before = app.catalogue.list(true).await.unwrap();
    let bad = app
        .catalogue
        .import(
            vec![
                PlanDraft {
                    name: "Third".into(),
                    ..PlanDraft::default()
                },
                PlanDraft {
                    name: "Broken".into(),
                    currency: "???".into(),
                    ..PlanDraft::default()
                },
            ],
            Actor::Operator,
        )
        .await;
    assert!(bad.is_err());
    assert_eq!(
        app.catalogue.list(true).await.unwrap(),
        before,
        "a rejected file changes nothing"
    );

    // A plan that orders reference cannot be deleted; an unused one can.
    let buyer = app.customer("buyer@example.com").await;
    app.orders.place(buyer, pro.id(), None).await.unwrap();
    let refused = app.catalogue.delete(pro.id(), Actor::Operator).await;
    assert!(
        matches!(
            refused,
            Err(CatalogueError::Conflict(ConflictKind::StillReferenced {
                count: 1
            }))
        ),
        "{refused:?}"
    );
    let spare = app.plan("Spare", "1", 1).await;
    app.catalogue
        .delete(spare.id(), Actor::Operator)
        .await
        .unwrap();
    assert!(matches!(
        app.catalogue.get(spare.id(), true).await,
        Err(CatalogueError::NotFound(_))
    ));
}

#[tokio::test]
async fn accounts_are_unique_by_email_and_a_new_password_ends_sessions() {
    let app = App::new();
    let auth = AuthService::new(
        app.store.clone(),
        app.store.clone(),
        app.clock.clone(),
        TimeDelta::hours(12),
        Arc::new(SlidingWindowLimiter::new(100, TimeDelta::minutes(1))),
    );
    let user = app
        .accounts
        .create(
            NewUser {
                email: "Ada@Example.com".into(),
                name: "Ada".into(),
                password: Some("correct horse battery".into()),
                ..NewUser::default()
            },
            Actor::Operator,
        )
        .await
        .unwrap();
    let taken = app
        .accounts
        .create(
            NewUser {
                email: "ada@example.COM".into(),
                name: "Other".into(),
                ..NewUser::default()
            },
            Actor::Operator,
        )
        .await;
    assert!(matches!(taken, Err(AccountError::EmailTaken)), "{taken:?}");
    assert_eq!(
        app.accounts
            .find_by_email("ADA@example.com")
            .await
            .unwrap()
            .id(),
        user.id()
    );

    let wrong = auth
        .login(LoginAttempt {
            email: "ada@example.com",
            password: "wrong",
            client: None,
        })
        .await;
    assert!(
        matches!(wrong, Err(AuthError::InvalidCredentials)),
        "{wrong:?}"
    );
    let session = auth
        .login(LoginAttempt {
            email: "ada@example.com",
            password: "correct horse battery",
            client: None,
        })
        .await
        .unwrap();
    let cookie = Credential::Session(session.session_id.clone());
    let now = app.clock.now();
    let caller = app.store.resolve(&cookie, now).await.unwrap().unwrap();
    assert_eq!(caller.user_id(), user.id());

    app.accounts
        .update(
            user.id(),
            UserPatch {
                password: Some("another long secret".into()),
                ..UserPatch::default()
            },
            Actor::Operator,
        )
        .await
        .unwrap();
    assert_eq!(
        app.store.resolve(&cookie, now).await.unwrap(),
        None,
        "the old session ended"
    );
    auth.logout(&session.session_id).await.unwrap();
    assert!(auth
        .login(LoginAttempt {
            email: "ada@example.com",
            password: "another long secret",
            client: None
        })
        .await
        .is_ok());
    let audit = app
        .store
        .page(AuditFilter::default(), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(audit.total, 2, "user.create and user.update");
    assert!(
        !format!("{:?}", audit.items).contains("argon2"),
        "no hash in the log"
    );
}

#[tokio::test]
async fn a_paid_order_waits_for_payment_then_takes_over_the_account() {
    let app = App::new();
    app.catalogue.ensure_starter_plan().await.unwrap();
    let pro = app.plan("Pro", "9.99", 5).await;
    let admin = app.admin().await;
    let buyer = app.customer("buyer@example.com").await;
    let account = AccountRef::User(buyer.user_id());

    let before = app.orders.effective_plan(account).await.unwrap();
    assert_eq!(
        before.plan.map(|p| p.name().to_owned()),
        Some("Free".into())
    );
    let order = app.orders.place(buyer, pro.id(), None).await.unwrap();
    assert_eq!(order.status(), OrderStatus::Pending);
    assert_eq!(order.invoice_number(), None);
    let paid = app
        .orders
        .mark_paid(admin, order.id(), Some("bank-7".into()))
        .await
        .unwrap();
    assert_eq!(paid.status(), OrderStatus::Active);
    assert_eq!(paid.invoice_number(), Some("INV-2026-000001"));
    assert_eq!(paid.payment_reference(), Some("bank-7"));
    let again = app.orders.mark_paid(admin, order.id(), None).await;
    assert!(
        matches!(again, Err(OrderError::IllegalTransition(_))),
        "{again:?}"
    );

    let current = app.orders.effective_plan(account).await.unwrap();
    assert_eq!(current.plan.map(|p| p.id()), Some(pro.id()));
    let snapshot = app.quota.snapshot(account).await.unwrap();
    assert_eq!(
        snapshot.limits.allowance(Resource::Servers),
        Allowance::UpTo(5)
    );

    // Other customers learn nothing of the order.
    let stranger = app.customer("stranger@example.com").await;
    assert!(matches!(
        app.orders.get(stranger, order.id()).await,
        Err(OrderError::OrderNotFound(_))
    ));
    assert_eq!(
        app.orders.get(buyer, order.id()).await.unwrap().id(),
        order.id()
    );
}

#[tokio::test]
async fn apply_plan_replaces_the_active_order_and_cancel_plan_returns_to_the_default() {
    let app = App::new();
    app.catalogue.ensure_starter_plan().await.unwrap();
    let free_now = app.plan("Hobby", "0", 1).await;
    let pro = app.plan("Pro", "9.99", 5).await;
    let admin = app.admin().await;
    let buyer = app.customer("buyer@example.com").await;
    let account = AccountRef::User(buyer.user_id());

    let hobby = app.orders.place(buyer, free_now.id(), None).await.unwrap();
    assert_eq!(
        hobby.status(),
        OrderStatus::Active,
        "a price-0 order activates at once"
    );
    assert_eq!(hobby.invoice_number(), Some("INV-2026-000001"));
    app.clock.advance(TimeDelta::days(1));
    let applied = app
        .orders
        .apply_plan(
            admin,
            ApplyPlan {
                user: buyer.user_id(),
                plan: pro.id(),
                notes: Some("upgrade".into()),
                expires_at: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(applied.invoice_number(), Some("INV-2026-000002"));
    let replaced = app.orders.get(admin, hobby.id()).await.unwrap();
    assert_eq!(replaced.status(), OrderStatus::Cancelled);
    assert_eq!(
        replaced.notes(),
        Some(format!("replaced by order #{}", applied.id()).as_str())
    );

    assert!(app
        .orders
        .cancel_plan(admin, buyer.user_id())
        .await
        .unwrap());
    assert!(!app
        .orders
        .cancel_plan(admin, buyer.user_id())
        .await
        .unwrap());
    let current = app
        .orders
        .current_plan(admin, buyer.user_id())
        .await
        .unwrap();
    assert_eq!(current.order, None);
    assert_eq!(
        current.plan.map(|p| p.name().to_owned()),
        Some("Free".into())
    );
    let snapshot = app.quota.snapshot(account).await.unwrap();
    assert_eq!(
        snapshot.limits.allowance(Resource::Servers),
        Allowance::UpTo(1)
    );

    let audit = app
        .store
        .page(
            AuditFilter {
                target_kind: Some(TargetKind::User),
                target_id: Some(buyer.user_id().get()),
                actor: Some(admin.user_id()),
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    let actions: Vec<&str> = audit.items.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, vec!["plan.cancel", "plan.apply"]);
    let not_admin = app
        .orders
        .apply_plan(
            buyer,
            ApplyPlan {
                user: buyer.user_id(),
                plan: pro.id(),
                notes: None,
                expires_at: None,
            },
        )
        .await;
    assert!(
        matches!(not_admin, Err(OrderError::AdminOnly)),
        "{not_admin:?}"
    );
}

#[tokio::test]
async fn organisation_orders_need_a_manager_and_lists_go_stale_on_writes() {
    let app = App::new();
    let pro = app.plan("Pro", "9.99", 5).await;
    let owner = app.customer("owner@example.com").await;
    let member = app.customer("member@example.com").await;
    let orgs = OrganisationService::new(
        app.store.clone(),
        app.store.clone(),
        app.store.clone(),
        app.clock.clone(),
    )
    .with_order_freshness(app.orders.freshness().clone());
    let acme = orgs
        .create(owner, "Acme", BillingDraft::default())
        .await
        .unwrap()
        .organisation
        .id();
    orgs.set_member(owner, acme, member.user_id(), OrgRole::Member)
        .await
        .unwrap();

    let refused = app.orders.place(member, pro.id(), Some(acme)).await;
    assert!(
        matches!(refused, Err(OrderError::NotOrgManager)),
        "{refused:?}"
    );
    let listed = app.orders.list_with_stamp(owner).await.unwrap();
    assert!(listed.orders.is_empty());
    assert!(app.orders.is_current(&listed.stamp));
    let order = app.orders.place(owner, pro.id(), Some(acme)).await.unwrap();
    assert_eq!(order.account(), AccountRef::Org(acme));
    assert!(
        !app.orders.is_current(&listed.stamp),
        "the owner's list is stale after the order"
    );
    let relisted = app.orders.list_with_stamp(owner).await.unwrap();
    assert_eq!(
        relisted.orders.iter().map(|o| o.id()).collect::<Vec<_>>(),
        vec![order.id()]
    );
    assert!(
        app.orders
            .list_with_stamp(member)
            .await
            .unwrap()
            .orders
            .is_empty(),
        "members do not see it"
    );

    // Promotion changes what the member sees, and stales their list.
    let members_list = app.orders.list_with_stamp(member).await.unwrap();
    orgs.set_member(owner, acme, member.user_id(), OrgRole::Admin)
        .await
        .unwrap();
    assert!(!app.orders.is_current(&members_list.stamp));
    assert_eq!(
        app.orders
            .list_with_stamp(member)
            .await
            .unwrap()
            .orders
            .len(),
        1
    );

    let last_owner = orgs.remove_member(owner, acme, owner.user_id()).await;
    assert!(
        matches!(last_owner, Err(OrgError::Conflict(ConflictKind::LastOwner))),
        "{last_owner:?}"
    );
    assert!(matches!(
        orgs.get(owner, OrgId::new(999).unwrap()).await,
        Err(OrgError::NotFound(_))
    ));
}

#[tokio::test]
async fn quota_reserves_up_to_the_limit_and_keys_make_retries_safe() {
    let app = App::new();
    let pro = app.plan("Pro", "0", 2).await;
    let buyer = app.customer("buyer@example.com").await;
    let account = AccountRef::User(buyer.user_id());
    app.orders.place(buyer, pro.id(), None).await.unwrap();
    let actor = Actor::User(buyer.user_id());
    let one = UsageChange::new(Resource::Servers, 1).unwrap();
    let key = |k: &str| Some(IdempotencyKey::new(k).unwrap());

    let check = app.quota.check(account, one).await.unwrap();
    assert!(check.allowed());
    assert_eq!(check.remaining(), Some(2));
    let first = app
        .quota
        .change_usage(account, one, key("a"), actor)
        .await
        .unwrap();
    assert!(matches!(first.outcome, UsageOutcome::Applied(level) if level.used == 1));
    let retry = app
        .quota
        .change_usage(account, one, key("a"), actor)
        .await
        .unwrap();
    assert!(retry.replayed);
    assert_eq!(retry.outcome, first.outcome);
    let reused = app
        .quota
        .change_usage(
            account,
            UsageChange::new(Resource::Servers, -1).unwrap(),
            key("a"),
            actor,
        )
        .await;
    assert!(
        matches!(reused, Err(QuotaError::IdempotencyKeyReused)),
        "{reused:?}"
    );
    app.quota
        .change_usage(account, one, key("b"), actor)
        .await
        .unwrap();
    let full = app
        .quota
        .change_usage(account, one, key("c"), actor)
        .await
        .unwrap();
    assert_eq!(
        full.outcome,
        UsageOutcome::Exceeded {
            resource: Resource::Servers,
            limit: 2,
            used: 2,
            requested: 1
        }
    );
    assert_eq!(
        full.outcome.into_result().unwrap_err().to_string(),
        "servers: 2 used of 2, 1 more requested"
    );
    assert!(!app.quota.check(account, one).await.unwrap().allowed());
    assert_eq!(
        app.quota
            .snapshot(account)
            .await
            .unwrap()
            .usage
            .get(Resource::Servers),
        2
    );

    // An override lifts the limit; absurd overrides are refused before storage.
    app.quota
        .set_overrides(
            account,
            vec![(Resource::Servers, Some(Limit::new(3)))],
            Actor::Operator,
        )
        .await
        .unwrap();
    assert!(app.quota.check(account, one).await.unwrap().allowed());
    let too_large = app
        .quota
        .set_overrides(
            account,
            vec![(Resource::Servers, Some(Limit::new(u64::MAX)))],
            Actor::Operator,
        )
        .await;
    assert!(
        matches!(
            too_large,
            Err(QuotaError::OverrideTooLarge(Resource::Servers))
        ),
        "{too_large:?}"
    );
    let ghost = AccountRef::User(UserId::new(999).unwrap());
    assert!(matches!(
        app.quota.snapshot(ghost).await,
        Err(QuotaError::AccountNotFound(_))
    ));
}

#[tokio::test]
async fn the_lifecycle_sweep_renews_extends_and_expires() {
    let app = App::with_policy(BillingPolicy {
        tax: TaxRules::none(),
        ..BillingPolicy::default()
    });
    let pro = app.plan("Pro", "9.99", 5).await;
    let hobby = app.plan("Hobby", "0", 1).await;
    let admin = app.admin().await;
    let payer = app.customer("payer@example.com").await;
    let saver = app.customer("saver@example.com").await;
    let paid = app.orders.place(payer, pro.id(), None).await.unwrap();
    let paid = app.orders.mark_paid(admin, paid.id(), None).await.unwrap();
    let free = app.orders.place(saver, hobby.id(), None).await.unwrap();
    let sweeper = LifecycleService::new(
        app.store.clone(),
        app.store.clone(),
        app.store.clone(),
        app.clock.clone(),
        Arc::new(app.orders.policy().clone()),
    );
    let quiet = sweeper.sweep_now().await.unwrap();
    assert_eq!((quiet.renewals_created, quiet.expired_active), (0, 0));

    // A week before the period ends the renewal appears, once.
    app.clock
        .set(paid.expires_at().unwrap() - TimeDelta::days(6));
    assert_eq!(sweeper.sweep_now().await.unwrap().renewals_created, 1);
    assert_eq!(sweeper.sweep_now().await.unwrap().renewals_created, 0);
    let orders = app.orders.list_with_stamp(payer).await.unwrap().orders;
    let renewal = orders
        .iter()
        .find(|o| o.renewal_of() == Some(paid.id()))
        .unwrap();
    assert_eq!(renewal.status(), OrderStatus::Pending);

    // Unpaid past the end: the paid order expires, the free one runs on a month.
    app.clock
        .set(paid.expires_at().unwrap() + TimeDelta::hours(1));
    let report = sweeper.sweep_now().await.unwrap();
    assert_eq!((report.expired_active, report.free_extended), (1, 1));
    assert_eq!(
        app.orders.get(admin, paid.id()).await.unwrap().status(),
        OrderStatus::Expired
    );
    let extended = app.orders.get(admin, free.id()).await.unwrap();
    assert_eq!(extended.status(), OrderStatus::Active);
    assert!(extended.expires_at().unwrap() > free.expires_at().unwrap());
    // The pending renewal expires once older than the pending time-to-live.
    app.clock.advance(TimeDelta::days(8));
    assert_eq!(sweeper.sweep_now().await.unwrap().expired_pending, 1);
}

#[tokio::test]
async fn settings_reach_a_second_instance_on_its_next_poll() {
    let store = Arc::new(MemoryStore::new());
    let first = SettingsService::load(store.clone()).await.unwrap();
    let second = SettingsService::load(store.clone()).await.unwrap();
    assert!(first.billing_enabled_now() && second.billing_enabled_now());
    first
        .set_billing_enabled(false, Actor::Operator)
        .await
        .unwrap();
    assert!(!first.billing_enabled_now(), "the writer follows at once");
    assert!(
        second.billing_enabled_now(),
        "the other instance until it polls"
    );
    assert!(second.refresh().await.unwrap());
    assert!(!second.billing_enabled_now());
    assert!(!second.refresh().await.unwrap(), "nothing new");
}

#[tokio::test]
async fn tokens_resolve_until_revoked_and_only_their_owner_revokes_them() {
    let app = App::new();
    let alice = app.customer("alice@example.com").await;
    let bob = app.customer("bob@example.com").await;
    let tokens = TokenService::new(app.store.clone(), app.clock.clone());
    let created = tokens
        .create(alice.user_id(), Some("deploy"))
        .await
        .unwrap();
    let bearer = Credential::Bearer(created.secret.clone());
    let now = app.clock.now();
    assert_eq!(
        app.store
            .resolve(&bearer, now)
            .await
            .unwrap()
            .map(|c| c.user_id()),
        Some(alice.user_id())
    );
    assert_eq!(
        tokens.list(alice.user_id()).await.unwrap()[0].last_used_at(),
        Some(now)
    );
    let foreign = tokens.revoke(bob.user_id(), created.token.id()).await;
    assert!(
        matches!(foreign, Err(TokenError::NotFound(_))),
        "{foreign:?}"
    );
    tokens
        .revoke(alice.user_id(), created.token.id())
        .await
        .unwrap();
    assert_eq!(app.store.resolve(&bearer, now).await.unwrap(), None);
    assert!(tokens.list(alice.user_id()).await.unwrap().is_empty());
}
