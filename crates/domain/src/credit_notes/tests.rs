use proptest::prelude::*;

use super::rules::{check_refundable, decide_refund, tax_share, RefundRefusal};
use crate::orders::OrderStatus;
use crate::shared::money::{Currency, Money};

fn usd(minor: i64) -> Money {
    Money::from_minor(minor, Currency::from_code("USD").unwrap())
}

#[test]
fn the_default_is_everything_left() {
    assert_eq!(decide_refund(usd(1189), usd(0), None), Ok(usd(1189)));
    assert_eq!(decide_refund(usd(1189), usd(189), None), Ok(usd(1000)));
    assert_eq!(
        decide_refund(usd(1189), usd(1189), None),
        Err(RefundRefusal::NothingLeft)
    );
    assert_eq!(
        decide_refund(usd(0), usd(0), None),
        Err(RefundRefusal::NothingLeft),
        "a free order has nothing to refund"
    );
}

#[test]
fn more_than_is_left_is_refused_with_what_is_left() {
    assert_eq!(
        decide_refund(usd(1000), usd(600), Some(usd(401))),
        Err(RefundRefusal::ExceedsRefundable {
            requested: usd(401),
            left: usd(400)
        })
    );
    assert_eq!(
        decide_refund(usd(1000), usd(600), Some(usd(400))),
        Ok(usd(400))
    );
}

#[test]
fn another_currency_is_refused() {
    let eur = Money::from_minor(100, Currency::from_code("EUR").unwrap());
    assert_eq!(
        decide_refund(usd(1000), usd(0), Some(eur)),
        Err(RefundRefusal::CurrencyMismatch { expected: "USD" })
    );
}

#[test]
fn only_invoiced_orders_are_refundable() {
    assert_eq!(
        check_refundable(OrderStatus::Pending, false),
        Err(RefundRefusal::NeverPaid)
    );
    assert_eq!(
        check_refundable(OrderStatus::Cancelled, false),
        Err(RefundRefusal::NeverPaid),
        "cancelled before payment"
    );
    for status in [
        OrderStatus::Active,
        OrderStatus::Expired,
        OrderStatus::Cancelled,
    ] {
        assert_eq!(check_refundable(status, true), Ok(()));
    }
}

#[test]
fn the_tax_share_is_rounded_down() {
    // 11.89 with 1.90 tax: a third of it carries 0.63 of tax (0.6333...).
    assert_eq!(tax_share(usd(190), usd(396), usd(1189)).unwrap(), usd(63));
    assert_eq!(tax_share(usd(190), usd(1189), usd(1189)).unwrap(), usd(190));
    assert_eq!(tax_share(usd(0), usd(500), usd(1189)).unwrap(), usd(0));
}

proptest! {
    /// Whatever sequence of refunds is asked for, the notes granted never add up to
    /// more than the total, each is above zero, and asking for "the rest" closes it.
    #[test]
    fn credit_notes_never_exceed_the_total(
        total in 0_i64..10_000_000,
        asks in proptest::collection::vec(proptest::option::of(1_i64..5_000_000), 0..20),
    ) {
        let total = usd(total);
        let mut refunded = usd(0);
        for ask in asks {
            match decide_refund(total, refunded, ask.map(usd)) {
                Ok(amount) => {
                    prop_assert!(amount.minor() > 0);
                    if let Some(ask) = ask {
                        prop_assert_eq!(amount.minor(), ask);
                    }
                    refunded = refunded.checked_add(amount).unwrap();
                }
                Err(RefundRefusal::NothingLeft) => prop_assert_eq!(refunded, total),
                Err(RefundRefusal::ExceedsRefundable { requested, left }) => {
                    prop_assert!(requested.minor() > left.minor());
                    prop_assert_eq!(left.minor(), total.minor() - refunded.minor());
                }
                Err(other) => prop_assert!(false, "unexpected refusal {other:?}"),
            }
            prop_assert!(refunded.minor() <= total.minor());
        }
        if refunded.minor() < total.minor() {
            let rest = decide_refund(total, refunded, None).unwrap();
            prop_assert_eq!(refunded.minor() + rest.minor(), total.minor());
        }
    }

    /// The tax shares of notes that add up to the total add up to at most the tax.
    #[test]
    fn tax_shares_never_exceed_the_tax(
        total in 1_i64..10_000_000,
        tax_bp in 0_i64..10_000,
        cuts in proptest::collection::vec(1_i64..1_000_000, 1..10),
    ) {
        let tax = usd(total * tax_bp / 10_000);
        let mut left = total;
        let mut shares = 0;
        for cut in cuts {
            let amount = cut.min(left);
            if amount == 0 { break; }
            let share = tax_share(tax, usd(amount), usd(total)).unwrap();
            prop_assert!(share.minor() >= 0 && share.minor() <= amount);
            shares += share.minor();
            left -= amount;
        }
        prop_assert!(shares <= tax.minor());
    }
}

/// The refund use case over mocked ports: the seam to the payment records, the admin
/// rule, and what reaches the store.
mod service {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;
    use chrono::{TimeZone, Utc};

    use crate::catalogue::plan::{Plan, PlanDraft, PlanSpec};
    use crate::catalogue::ports::MockPlanRepository;
    use crate::credit_notes::{
        CreditNote, CreditNoteError, CreditNoteId, CreditNotePorts, CreditNoteRecord,
        CreditNoteRequest, CreditNoteService, GatewayRefund, IssueOutcome, MockCreditNoteStore,
        MockOriginalPaymentRefunder, RefundDestination, RefundGatewayError, RefundInput,
        RefundProvider, RefundState,
    };
    use crate::documents::{DocumentKind, DocumentStore, StoredDocument};
    use crate::identity::caller::{Caller, Role};
    use crate::identity::ports::MockMembershipRepository;
    use crate::orders::ports::{MockBillingDirectory, MockOrderActivation, MockOrderRepository};
    use crate::orders::{
        BillingPolicy, InvoiceNumberFormat, InvoiceSnapshot, IssuedInvoice, MockInvoiceRenderer,
        NewOrder, Order, OrderPorts, OrderRecord, OrderService, OrderStatus, SellerDetails,
    };
    use crate::payments::{
        GatewayError, PaymentProvider, RefundId, RefundStatus, UnavailableCause,
    };
    use crate::shared::clock::ManualClock;
    use crate::shared::ids::{AccountRef, OrderId, PlanId, UserId};
    use crate::shared::money::{Money, TaxRate};
    use crate::shared::repo::RepoError;

    fn order() -> Order {
        let at = Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap();
        let spec = PlanSpec::new(PlanDraft {
            name: "Pro".into(),
            price: "9.99".into(),
            ..PlanDraft::default()
        })
        .unwrap();
        let plan = Plan::new(PlanId::new(3).unwrap(), spec, at);
        let user = UserId::new(5).unwrap();
        let new = NewOrder::for_plan(&plan, AccountRef::User(user), Some(user), TaxRate::ZERO, at)
            .unwrap();
        Order::restore(OrderRecord {
            id: OrderId::new(7).unwrap(),
            account: AccountRef::User(user),
            placed_by: Some(user),
            plan_id: new.plan_id(),
            status: OrderStatus::Active,
            description: new.description().to_owned(),
            charges: new.charges().clone(),
            notes: None,
            payment_reference: None,
            renewal_of: None,
            created_at: at,
            activated_at: Some(at),
            expires_at: Some(at + chrono::TimeDelta::days(30)),
            cancelled_at: None,
            billing: Default::default(),
            invoice: Some(IssuedInvoice {
                number: "INV-2026-000007".into(),
                year: 2026,
                seq: 7,
                snapshot: InvoiceSnapshot {
                    seller: SellerDetails::default(),
                    buyer: Default::default(),
                    frozen_at: at,
                },
            }),
        })
        .unwrap()
        .with_paid_at(Some(at))
    }

    /// The note the store would issue for `request`.
    fn issued(request: &CreditNoteRequest) -> CreditNote {
        let total = order().charges().total();
        CreditNote::restore(CreditNoteRecord {
            id: CreditNoteId::new(1).unwrap(),
            number: request.numbering.render(2026, 1),
            year: 2026,
            seq: 1,
            order_id: request.order,
            account: order().account(),
            invoice_number: "INV-2026-000007".into(),
            amount: request.amount.unwrap_or(total),
            reason: request.reason.clone(),
            refund: request.refund.clone(),
            created_at: request.at,
        })
        .unwrap()
    }

    #[derive(Default)]
    struct Documents(Mutex<HashMap<(DocumentKind, i64), StoredDocument>>);

    #[async_trait]
    impl DocumentStore for Documents {
        async fn get(
            &self,
            kind: DocumentKind,
            owner_id: i64,
        ) -> Result<Option<StoredDocument>, RepoError> {
            Ok(self.0.lock().unwrap().get(&(kind, owner_id)).cloned())
        }

        async fn insert_if_absent(
            &self,
            document: StoredDocument,
        ) -> Result<StoredDocument, RepoError> {
            let key = (document.kind(), document.owner_id());
            Ok(self
                .0
                .lock()
                .unwrap()
                .entry(key)
                .or_insert(document)
                .clone())
        }

        async fn invoices_missing(
            &self,
            _after: i64,
            _limit: u32,
        ) -> Result<Vec<OrderId>, RepoError> {
            Ok(Vec::new())
        }
    }

    /// A service whose store records the requests it issues.
    fn service(
        refunder: Option<MockOriginalPaymentRefunder>,
        requests: Arc<Mutex<Vec<CreditNoteRequest>>>,
    ) -> (CreditNoteService, Arc<Documents>) {
        let mut orders = MockOrderRepository::new();
        orders.expect_get().returning(|_| Ok(order()));
        let at = Utc.with_ymd_and_hms(2026, 11, 30, 10, 0, 0).unwrap();
        let clock = Arc::new(ManualClock::new(at));
        let order_service = OrderService::new(
            OrderPorts {
                orders: Arc::new(orders),
                activation: Arc::new(MockOrderActivation::new()),
                directory: Arc::new(MockBillingDirectory::new()),
                plans: Arc::new(MockPlanRepository::new()),
                memberships: Arc::new(MockMembershipRepository::new()),
                clock: clock.clone(),
            },
            Arc::new(BillingPolicy::default()),
        );
        let mut store = MockCreditNoteStore::new();
        store
            .expect_refunded()
            .returning(|_| Ok(Money::zero(order().charges().currency())));
        store.expect_issue().returning(move |request| {
            let note = issued(&request);
            requests.lock().unwrap().push(request);
            Ok(IssueOutcome::Issued(note))
        });
        let mut renderer = MockInvoiceRenderer::new();
        renderer
            .expect_render()
            .returning(|document| Ok(format!("PDF {:?}", document.kind).into_bytes()));
        let documents = Arc::new(Documents::default());
        let service = CreditNoteService::new(CreditNotePorts {
            store: Arc::new(store),
            orders: order_service,
            documents: documents.clone(),
            renderer: Arc::new(renderer),
            policy: Arc::new(BillingPolicy::default()),
            numbering: InvoiceNumberFormat::parse("CN-{year}-{seq:06}").unwrap(),
            clock,
        });
        let service = match refunder {
            Some(refunder) => service.with_refunder(Arc::new(refunder)),
            None => service,
        };
        (service, documents)
    }

    fn admin() -> Caller {
        Caller::new(UserId::new(1).unwrap(), Role::Admin)
    }

    fn id() -> OrderId {
        OrderId::new(7).unwrap()
    }

    fn input(to: RefundDestination) -> RefundInput {
        RefundInput {
            amount: Some("4.00".into()),
            reason: "Outage".into(),
            to,
            cancel: false,
        }
    }

    #[tokio::test]
    async fn an_original_refund_goes_through_the_gateway_that_took_the_payment() {
        let mut refunder = MockOriginalPaymentRefunder::new();
        refunder
            .expect_refund_original()
            .times(1)
            .returning(|order, amount, key| {
                assert_eq!(order.get(), 7);
                assert_eq!(amount.minor(), 400);
                assert_eq!(key.as_str(), "order-7-refund-after-0-of-400");
                Ok(Some(GatewayRefund {
                    provider: PaymentProvider::Stripe,
                    id: RefundId::new("re_1").unwrap(),
                    status: RefundStatus::Pending,
                }))
            });
        let requests = Arc::default();
        let (service, documents) = service(Some(refunder), Arc::clone(&requests));
        let note = service
            .refund(admin(), id(), input(RefundDestination::Original))
            .await
            .unwrap();
        assert_eq!(note.refund().provider, RefundProvider::Stripe);
        assert_eq!(note.refund().status, RefundState::Pending);
        assert_eq!(note.refund().reference.as_deref(), Some("re_1"));
        assert_eq!(note.number(), "CN-2026-000001");
        assert!(
            documents
                .get(DocumentKind::CreditNote, 1)
                .await
                .unwrap()
                .is_some(),
            "the PDF is stored right after the number"
        );
    }

    #[tokio::test]
    async fn without_a_gateway_payment_an_original_refund_is_manual() {
        let mut refunder = MockOriginalPaymentRefunder::new();
        refunder
            .expect_refund_original()
            .returning(|_, _, _| Ok(None));
        let requests = Arc::default();
        let (service, _) = service(Some(refunder), Arc::clone(&requests));
        let note = service
            .refund(admin(), id(), input(RefundDestination::Original))
            .await
            .unwrap();
        assert_eq!(note.refund().provider, RefundProvider::Manual);
        let (unwired, _) = service_without_refunder();
        let note = unwired
            .refund(admin(), id(), input(RefundDestination::Original))
            .await
            .unwrap();
        assert_eq!(note.refund().provider, RefundProvider::Manual);
    }

    fn service_without_refunder() -> (CreditNoteService, Arc<Documents>) {
        service(None, Arc::default())
    }

    #[tokio::test]
    async fn a_gateway_that_cannot_refund_leaves_nothing_issued() {
        for (error, unavailable) in [
            (GatewayError::Unavailable(UnavailableCause::Timeout), true),
            (
                GatewayError::Declined(crate::payments::Decline::default()),
                false,
            ),
        ] {
            let mut refunder = MockOriginalPaymentRefunder::new();
            let error = Mutex::new(Some(error));
            refunder.expect_refund_original().returning(move |_, _, _| {
                Err(RefundGatewayError::Gateway(
                    error.lock().unwrap().take().unwrap(),
                ))
            });
            let requests: Arc<Mutex<Vec<CreditNoteRequest>>> = Arc::default();
            let (service, _) = service(Some(refunder), Arc::clone(&requests));
            let err = service
                .refund(admin(), id(), input(RefundDestination::Original))
                .await
                .unwrap_err();
            if unavailable {
                assert!(
                    matches!(err, CreditNoteError::GatewayUnavailable(_)),
                    "{err:?}"
                );
            } else {
                assert!(matches!(err, CreditNoteError::GatewayRefused(_)), "{err:?}");
            }
            assert!(requests.lock().unwrap().is_empty(), "nothing issued");
        }
    }

    #[tokio::test]
    async fn credit_refunds_never_touch_the_gateway_and_only_admins_refund() {
        let mut refunder = MockOriginalPaymentRefunder::new();
        refunder.expect_refund_original().never();
        let requests: Arc<Mutex<Vec<CreditNoteRequest>>> = Arc::default();
        let (service, _) = service(Some(refunder), Arc::clone(&requests));
        let note = service
            .refund(admin(), id(), input(RefundDestination::Credit))
            .await
            .unwrap();
        assert_eq!(note.refund().provider, RefundProvider::Credit);
        assert_eq!(requests.lock().unwrap()[0].amount.unwrap().minor(), 400);

        let customer = Caller::new(UserId::new(5).unwrap(), Role::User);
        let err = service
            .refund(customer, id(), input(RefundDestination::Credit))
            .await
            .unwrap_err();
        assert!(matches!(err, CreditNoteError::AdminOnly));
        assert_eq!(requests.lock().unwrap().len(), 1);
    }
}
