//! Unit tests of the order and lifecycle services with mocked ports and a fixed clock.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use super::*;
use crate::catalogue::plan::{Plan, PlanDraft, PlanSpec};
use crate::catalogue::ports::MockPlanRepository;
use crate::identity::caller::{Caller, OrgRole, Role};
use crate::identity::ports::MockMembershipRepository;
use crate::shared::address::{Country, PostalAddress};
use crate::shared::clock::ManualClock;
use crate::shared::ids::AccountRef;
use crate::shared::ids::{OrderId, OrgId, PlanId, UserId};
use crate::shared::money::TaxRate;
use crate::shared::repo::ConflictKind;
use crate::shared::repo::RepoError;
use ports::{MockBillingDirectory, MockLifecycleStore, MockOrderActivation, MockOrderRepository};

mod administration;
mod lifecycle;

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 10, 0, 0).unwrap()
}

fn user(id: i64) -> UserId {
    UserId::new(id).unwrap()
}

fn customer(id: i64) -> Caller {
    Caller::new(user(id), Role::User)
}

fn admin() -> Caller {
    Caller::new(user(1), Role::Admin)
}

fn plan(id: i64, price: &str, hidden: bool) -> Plan {
    let spec = PlanSpec::new(PlanDraft {
        name: format!("Plan {id}"),
        price: price.into(),
        hidden,
        ..PlanDraft::default()
    })
    .unwrap();
    Plan::new(PlanId::new(id).unwrap(), spec, at(2025, 1, 1))
}

fn default_plan() -> Plan {
    let spec = PlanSpec::starter_free();
    Plan::new(PlanId::new(1).unwrap(), spec, at(2025, 1, 1))
}

/// What the repository would store for `new`.
fn stored(new: &NewOrder, id: i64, status: OrderStatus, activation: Option<&Activation>) -> Order {
    let invoice = activation.map(|a| IssuedInvoice {
        number: a.numbering.render(2026, id),
        year: 2026,
        seq: id,
        snapshot: InvoiceSnapshot {
            seller: a.seller.clone(),
            buyer: BuyerDetails::default(),
            frozen_at: a.activated_at,
        },
    });
    Order::restore(OrderRecord {
        id: OrderId::new(id).unwrap(),
        account: new.account(),
        placed_by: new.placed_by(),
        plan_id: new.plan_id(),
        status,
        description: new.description().to_owned(),
        charges: new.charges().clone(),
        notes: new.notes().map(str::to_owned),
        payment_reference: activation.and_then(|a| a.payment_reference.clone()),
        renewal_of: new.renewal_of(),
        created_at: new.created_at(),
        activated_at: activation.map(|a| a.activated_at),
        expires_at: activation.map(|a| a.expires_at),
        cancelled_at: None,
        invoice,
        billing: Default::default(),
    })
    .unwrap()
}

/// A stored order of `account` for plan 3 (9.99) in `status`.
fn existing(id: i64, account: AccountRef, status: OrderStatus) -> Order {
    let placed = match account {
        AccountRef::User(u) => Some(u),
        AccountRef::Org(_) => Some(user(9)),
    };
    let new = NewOrder::for_plan(
        &plan(3, "9.99", false),
        account,
        placed,
        TaxRate::ZERO,
        at(2026, 1, 1),
    )
    .unwrap();
    let activation = matches!(status, OrderStatus::Active).then(|| Activation {
        activated_at: at(2026, 1, 1),
        expires_at: at(2026, 2, 1),
        payment_reference: None,
        seller: SellerDetails::default(),
        numbering: InvoiceNumberFormat::default(),
    });
    stored(&new, id, status, activation.as_ref())
}

struct Fixture {
    orders: MockOrderRepository,
    activation: MockOrderActivation,
    directory: MockBillingDirectory,
    plans: MockPlanRepository,
    memberships: MockMembershipRepository,
    clock: Arc<ManualClock>,
    policy: BillingPolicy,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            orders: MockOrderRepository::new(),
            activation: MockOrderActivation::new(),
            directory: MockBillingDirectory::new(),
            plans: MockPlanRepository::new(),
            memberships: MockMembershipRepository::new(),
            clock: Arc::new(ManualClock::new(at(2026, 1, 31))),
            policy: BillingPolicy {
                tax: TaxRules::parse([("DE", "19"), ("EU", "21")]).unwrap(),
                ..BillingPolicy::default()
            },
        }
    }

    fn buyer_in(mut self, country: &'static str) -> Fixture {
        self.directory.expect_billing_details().returning(move |_| {
            Ok(BuyerDetails {
                name: "Buyer".into(),
                address: PostalAddress::new(None, None, None, None, Country::parse(country).ok())
                    .unwrap(),
                ..BuyerDetails::default()
            })
        });
        self
    }

    fn with_plan(mut self, plan: Plan) -> Fixture {
        self.plans.expect_get().returning(move |_| Ok(plan.clone()));
        self
    }

    fn service(self) -> OrderService {
        OrderService::new(
            OrderPorts {
                orders: Arc::new(self.orders),
                activation: Arc::new(self.activation),
                directory: Arc::new(self.directory),
                plans: Arc::new(self.plans),
                memberships: Arc::new(self.memberships),
                clock: self.clock,
            },
            Arc::new(self.policy),
        )
    }
}

#[tokio::test]
async fn a_paid_plan_order_stays_pending_and_is_taxed_for_the_buyer() {
    let mut fx = Fixture::new()
        .buyer_in("DE")
        .with_plan(plan(3, "9.99", false));
    fx.activation.expect_create_active().never();
    fx.orders
        .expect_insert_pending()
        .withf(|new| {
            new.account() == AccountRef::User(user(55))
                && new.charges().tax_rate() == TaxRate::parse_percent("19").unwrap()
                && new.charges().total().minor() == 1189
                && new.created_at() == at(2026, 1, 31)
        })
        .times(1)
        .returning(|new| Ok(stored(&new, 101, OrderStatus::Pending, None)));
    let order = fx
        .service()
        .place(customer(55), PlanId::new(3).unwrap(), None)
        .await
        .unwrap();
    assert_eq!(order.status(), OrderStatus::Pending);
    assert_eq!(order.invoice_number(), None);
}

#[tokio::test]
async fn a_free_plan_activates_at_once_for_one_clamped_month() {
    let mut fx = Fixture::new().buyer_in("FR").with_plan(plan(2, "0", false));
    fx.orders.expect_insert_pending().never();
    fx.activation
        .expect_create_active()
        .withf(|new, terms, _| {
            new.is_free()
                && terms.activated_at == at(2026, 1, 31)
                && terms.expires_at == at(2026, 2, 28)
                && terms.numbering.render(2026, 1) == "INV-2026-000001"
        })
        .times(1)
        .returning(|new, terms, _| Ok(stored(&new, 7, OrderStatus::Active, Some(&terms))));
    let order = fx
        .service()
        .place(customer(55), PlanId::new(2).unwrap(), None)
        .await
        .unwrap();
    assert_eq!(order.status(), OrderStatus::Active);
    assert_eq!(order.expires_at(), Some(at(2026, 2, 28)));
}

#[tokio::test]
async fn hidden_plans_are_not_found_for_customers_but_admins_may_order_them() {
    let fx = Fixture::new().buyer_in("US").with_plan(plan(4, "5", true));
    let err = fx
        .service()
        .place(customer(55), PlanId::new(4).unwrap(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, OrderError::PlanNotFound(_)), "{err:?}");

    let mut fx = Fixture::new().buyer_in("US").with_plan(plan(4, "5", true));
    fx.orders
        .expect_insert_pending()
        .returning(|new| Ok(stored(&new, 5, OrderStatus::Pending, None)));
    assert!(fx
        .service()
        .place(admin(), PlanId::new(4).unwrap(), None)
        .await
        .is_ok());
}

#[tokio::test]
async fn ordering_for_an_organisation_needs_admin_or_owner() {
    let org = OrgId::new(8).unwrap();
    for role in [None, Some(OrgRole::Member)] {
        let mut fx = Fixture::new()
            .buyer_in("DE")
            .with_plan(plan(3, "9.99", false));
        fx.memberships
            .expect_role_in()
            .returning(move |_, _| Ok(role));
        fx.orders.expect_insert_pending().never();
        let err = fx
            .service()
            .place(customer(55), PlanId::new(3).unwrap(), Some(org))
            .await
            .unwrap_err();
        assert!(
            matches!(err, OrderError::NotOrgManager),
            "{role:?}: {err:?}"
        );
    }
    let mut fx = Fixture::new()
        .buyer_in("DE")
        .with_plan(plan(3, "9.99", false));
    fx.memberships
        .expect_role_in()
        .returning(|_, _| Ok(Some(OrgRole::Owner)));
    fx.orders
        .expect_insert_pending()
        .withf(move |new| {
            new.account() == AccountRef::Org(org) && new.placed_by() == Some(user(55))
        })
        .returning(|new| Ok(stored(&new, 5, OrderStatus::Pending, None)));
    let order = fx
        .service()
        .place(customer(55), PlanId::new(3).unwrap(), Some(org))
        .await
        .unwrap();
    assert_eq!(order.account(), AccountRef::Org(org));
}

#[tokio::test]
async fn only_the_account_its_managers_and_admins_see_an_order() {
    let org = OrgId::new(8).unwrap();
    let cases: Vec<(AccountRef, Caller, Option<OrgRole>, bool)> = vec![
        (AccountRef::User(user(2)), customer(2), None, true),
        (AccountRef::User(user(2)), customer(3), None, false),
        (AccountRef::User(user(2)), admin(), None, true),
        (
            AccountRef::Org(org),
            customer(3),
            Some(OrgRole::Admin),
            true,
        ),
        (
            AccountRef::Org(org),
            customer(3),
            Some(OrgRole::Owner),
            true,
        ),
        (
            AccountRef::Org(org),
            customer(3),
            Some(OrgRole::Member),
            false,
        ),
        (AccountRef::Org(org), customer(3), None, false),
    ];
    for (account, caller, role, visible) in cases {
        let mut fx = Fixture::new();
        fx.orders
            .expect_get()
            .returning(move |_| Ok(existing(10, account, OrderStatus::Pending)));
        fx.memberships
            .expect_role_in()
            .returning(move |_, _| Ok(role));
        let result = fx.service().get(caller, OrderId::new(10).unwrap()).await;
        match (visible, result) {
            (true, Ok(order)) => assert_eq!(order.id().get(), 10),
            (false, Err(OrderError::OrderNotFound(_))) => {}
            (v, other) => {
                panic!("{account:?} {caller:?} {role:?}: expected visible={v}, got {other:?}")
            }
        }
    }
}

#[tokio::test]
async fn cancelling_follows_the_state_machine() {
    let mut fx = Fixture::new();
    fx.orders.expect_get().returning(|_| {
        Ok(existing(
            10,
            AccountRef::User(user(2)),
            OrderStatus::Expired,
        ))
    });
    fx.orders.expect_transition().never();
    let err = fx
        .service()
        .cancel(customer(2), OrderId::new(10).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, OrderError::IllegalTransition(_)), "{err:?}");

    let mut fx = Fixture::new();
    fx.orders.expect_get().returning(|_| {
        Ok(existing(
            10,
            AccountRef::User(user(2)),
            OrderStatus::Pending,
        ))
    });
    fx.orders
        .expect_transition()
        .withf(|_, from, to, at_, _| {
            *from == OrderStatus::Pending
                && *to == OrderStatus::Cancelled
                && *at_ == at(2026, 1, 31)
        })
        .times(1)
        .returning(|_, _, _, _, _| {
            Ok(existing(
                10,
                AccountRef::User(user(2)),
                OrderStatus::Cancelled,
            ))
        });
    let order = fx
        .service()
        .cancel(customer(2), OrderId::new(10).unwrap())
        .await
        .unwrap();
    assert_eq!(order.status(), OrderStatus::Cancelled);
}
