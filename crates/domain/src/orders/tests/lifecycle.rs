//! The lifecycle sweep: renewals, free extensions, expiries.

use super::*;

fn lifecycle(store: MockLifecycleStore, fx: Fixture) -> LifecycleService {
    LifecycleService::new(
        Arc::new(store),
        Arc::new(fx.plans),
        Arc::new(fx.directory),
        fx.clock,
        Arc::new(fx.policy),
    )
}

#[tokio::test]
async fn a_sweep_renews_paid_plans_extends_free_ones_and_expires_the_rest() {
    let now = at(2026, 1, 31);
    let account = AccountRef::User(user(2));
    let fx = Fixture::new()
        .buyer_in("DE")
        .with_plan(plan(3, "9.99", false));
    let mut store = MockLifecycleStore::new();
    store
        .expect_renewal_candidates_after()
        .withf(move |horizon, after, limit| {
            *horizon == now + TimeDelta::days(7) && after.is_none() && *limit == RENEWAL_CHUNK
        })
        .times(1)
        .returning(move |_, _, _| Ok(vec![existing(10, account, OrderStatus::Active)]));
    store
        .expect_insert_renewals()
        .withf(|renewals| {
            let [new] = renewals.as_slice() else {
                return false;
            };
            new.renewal_of().map(OrderId::get) == Some(10)
                && new.charges().total().minor() == 1189
                && new.notes() == Some("renewal of order #10")
        })
        .times(1)
        .returning(|_| Ok(vec![OrderId::new(11).unwrap()]));
    // A free order activated on Oct 31, period ended Jan 30: runs on to Feb 28.
    let free = {
        let new = NewOrder::for_plan(
            &plan(2, "0", false),
            account,
            None,
            TaxRate::ZERO,
            at(2025, 10, 31),
        )
        .unwrap();
        let terms = Activation {
            activated_at: at(2025, 10, 31),
            expires_at: at(2026, 1, 30),
            payment_reference: None,
            seller: SellerDetails::default(),
            numbering: InvoiceNumberFormat::default(),
        };
        stored(&new, 12, OrderStatus::Active, Some(&terms))
    };
    store
        .expect_free_orders_due()
        .returning(move |_| Ok(vec![free.clone()]));
    store
        .expect_extend()
        .withf(|id, current, new| {
            id.get() == 12 && *current == at(2026, 1, 30) && *new == at(2026, 2, 28)
        })
        .times(1)
        .returning(|_, _, _| Ok(true));
    store
        .expect_expire_active()
        .withf(move |when| *when == now)
        .returning(|_| Ok(2));
    store
        .expect_expire_pending()
        .withf(move |before| *before == now - TimeDelta::days(7))
        .returning(|_| Ok(1));
    let report = lifecycle(store, fx).sweep(now).await.unwrap();
    assert_eq!(
        report,
        SweepReport {
            renewals_created: 1,
            free_extended: 1,
            expired_active: 2,
            expired_pending: 1,
            skipped: 0,
            past_due: 0,
            expired_past_due: 0,
        }
    );
}

#[tokio::test]
async fn a_renewal_that_already_exists_is_not_counted_and_a_vanished_buyer_is_skipped() {
    let account = AccountRef::User(user(2));
    let mut fx = Fixture::new().with_plan(plan(3, "9.99", false));
    fx.directory
        .expect_billing_details()
        .returning(|account| match account {
            AccountRef::User(u) if u.get() == 2 => Ok(BuyerDetails::default()),
            _ => Err(RepoError::NotFound),
        });
    let mut store = MockLifecycleStore::new();
    store
        .expect_renewal_candidates_after()
        .times(1)
        .returning(move |_, _, _| {
            Ok(vec![
                existing(10, account, OrderStatus::Active),
                existing(20, AccountRef::User(user(3)), OrderStatus::Active),
            ])
        });
    store
        .expect_insert_renewals()
        .withf(|renewals| renewals.len() == 1)
        .times(1)
        .returning(|_| Ok(vec![]));
    store.expect_free_orders_due().returning(|_| Ok(vec![]));
    store.expect_expire_active().returning(|_| Ok(0));
    store.expect_expire_pending().returning(|_| Ok(0));
    let report = lifecycle(store, fx).sweep(at(2026, 1, 31)).await.unwrap();
    assert_eq!(report.renewals_created, 0);
    assert_eq!(report.skipped, 1);
}

#[tokio::test]
async fn renewals_are_read_and_stored_a_chunk_at_a_time() {
    let account = AccountRef::User(user(2));
    let fx = Fixture::new()
        .buyer_in("DE")
        .with_plan(plan(3, "9.99", false));
    let mut store = MockLifecycleStore::new();
    let mut seq = mockall::Sequence::new();
    // A full chunk, then the rest after its last id, then nothing more is asked.
    store
        .expect_renewal_candidates_after()
        .withf(|_, after, _| after.is_none())
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_, _, limit| {
            Ok((1..=limit as i64)
                .map(|id| existing(id, account, OrderStatus::Active))
                .collect())
        });
    store
        .expect_insert_renewals()
        .withf(|renewals| renewals.len() == RENEWAL_CHUNK)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|renewals| {
            Ok((1..=renewals.len() as i64)
                .map(|id| OrderId::new(10_000 + id).unwrap())
                .collect())
        });
    store
        .expect_renewal_candidates_after()
        .withf(|_, after, _| *after == OrderId::new(RENEWAL_CHUNK as i64))
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_, _, _| Ok(vec![existing(5_000, account, OrderStatus::Active)]));
    store
        .expect_insert_renewals()
        .withf(|renewals| renewals.len() == 1)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(vec![]));
    store.expect_free_orders_due().returning(|_| Ok(vec![]));
    store.expect_expire_active().returning(|_| Ok(0));
    store.expect_expire_pending().returning(|_| Ok(0));
    let report = lifecycle(store, fx).sweep(at(2026, 1, 31)).await.unwrap();
    assert_eq!(report.renewals_created, RENEWAL_CHUNK);
    assert_eq!(report.skipped, 0);
}

#[tokio::test]
async fn with_a_grace_time_ended_orders_go_past_due_before_expiry_and_expire_after_it() {
    let now = at(2026, 2, 10);
    let fx = Fixture::new();
    let mut store = MockLifecycleStore::new();
    store
        .expect_renewal_candidates_after()
        .returning(|_, _, _| Ok(vec![]));
    store.expect_free_orders_due().returning(|_| Ok(vec![]));
    let mut seq = mockall::Sequence::new();
    let mut past_due = crate::orders::MockPastDueStore::new();
    past_due
        .expect_mark_past_due()
        .withf(move |when, after| *when == now && *after == now - TimeDelta::days(3))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(2));
    past_due
        .expect_expire_past_due()
        .withf(move |before| *before == now - TimeDelta::days(3))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(1));
    store
        .expect_expire_active()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(0));
    store.expect_expire_pending().returning(|_| Ok(0));
    let report = lifecycle(store, fx)
        .with_past_due(Arc::new(past_due), TimeDelta::days(3))
        .sweep(now)
        .await
        .unwrap();
    assert_eq!((report.past_due, report.expired_past_due), (2, 1));
}

#[tokio::test]
async fn a_zero_grace_time_marks_nothing_past_due() {
    let fx = Fixture::new();
    let mut store = MockLifecycleStore::new();
    store
        .expect_renewal_candidates_after()
        .returning(|_, _, _| Ok(vec![]));
    store.expect_free_orders_due().returning(|_| Ok(vec![]));
    store.expect_expire_active().returning(|_| Ok(1));
    store.expect_expire_pending().returning(|_| Ok(0));
    // No expectations: any call fails the test.
    let past_due = crate::orders::MockPastDueStore::new();
    let report = lifecycle(store, fx)
        .with_past_due(Arc::new(past_due), TimeDelta::zero())
        .sweep(at(2026, 2, 10))
        .await
        .unwrap();
    assert_eq!((report.expired_active, report.past_due), (1, 0));
}
