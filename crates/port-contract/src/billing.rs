//! `OrderPlacement` (with `CouponRepository` and `CreditLedger`): an order stored with
//! its coupon redemption and its credit debit in one write, a refusal that writes
//! nothing, the give-back when the pending order is cancelled, and the scheduled change
//! of an active order.

use chrono::TimeDelta;
use tariff_domain::billing::{
    CouponCode, CouponDraft, CouponRedemption, CouponSpec, NewCreditEntry, PlacementError,
    PlacementExtras, RejectionReason, ScheduledChange,
};
use tariff_domain::orders::{BillingCycle, OrderBilling, OrderStatus};
use tariff_domain::{AccountRef, ConflictKind, Currency, Money, OrderId, RepoError};

use crate::fixtures::{at, terms, Fixture};
use crate::Repos;

fn usd(minor: i64) -> Money {
    Money::from_minor(minor, Currency::USD)
}

/// Places an order with a redemption of `code` and `credit` of account credit.
pub async fn placement_redeems_and_spends_in_one_write_or_not_at_all(repos: Repos) {
    let fx = Fixture::new(repos);
    let pro = fx.plan("Pro", "9.99").await;
    let user = fx.user("a@example.com", "DE").await;
    let account = AccountRef::User(user);
    let spec = CouponSpec::new(CouponDraft {
        code: "one".into(),
        percent_off: Some("10".into()),
        duration: "once".into(),
        max_redemptions: Some(1),
        ..CouponDraft::default()
    })
    .unwrap();
    fx.repos.coupons.create(spec, None).await.unwrap();
    fx.repos
        .credit
        .append(
            NewCreditEntry::admin_adjustment(account, usd(500), "Start", at(2026, 11, 1)).unwrap(),
            None,
        )
        .await
        .unwrap();
    let code = CouponCode::parse("ONE").unwrap();
    let redemption = CouponRedemption {
        code: code.clone(),
        account,
        discount: usd(100),
        max_redemptions: Some(1),
        once_per_account: false,
        at: at(2026, 11, 2),
    };
    let order = |credit: i64| {
        let new = fx.order(&pro, account, None, at(2026, 11, 2));
        let charges = new.charges().clone();
        new.with_pricing(
            "Pro (monthly)".into(),
            charges,
            OrderBilling {
                credit_applied: Some(usd(credit)),
                ..OrderBilling::default()
            },
        )
        .unwrap()
    };
    let extras = |credit: i64| PlacementExtras {
        redemption: Some(redemption.clone()),
        credit_applied: Some(usd(credit)),
        ..PlacementExtras::default()
    };

    // More credit than the balance holds: refused, nothing written.
    let refused = fx.repos.placement.place(order(600), extras(600)).await;
    assert!(
        matches!(refused, Err(PlacementError::CreditUnavailable)),
        "{refused:?}"
    );
    assert_eq!(
        fx.repos
            .coupons
            .get(code.clone())
            .await
            .unwrap()
            .times_redeemed(),
        0
    );
    assert_eq!(
        fx.repos
            .credit
            .balance(account, Currency::USD)
            .await
            .unwrap(),
        usd(500)
    );
    assert!(fx
        .repos
        .orders
        .list_for_accounts(vec![account])
        .await
        .unwrap()
        .is_empty());

    let placed = fx
        .repos
        .placement
        .place(order(500), extras(500))
        .await
        .unwrap();
    assert_eq!(placed.status(), OrderStatus::Pending);
    assert_eq!(placed.billing().credit_applied, Some(usd(500)));
    assert_eq!(placed.amount_due(), usd(1189 - 500));
    assert_eq!(
        fx.repos
            .coupons
            .get(code.clone())
            .await
            .unwrap()
            .times_redeemed(),
        1
    );
    assert_eq!(
        fx.repos
            .credit
            .balance(account, Currency::USD)
            .await
            .unwrap(),
        usd(0)
    );

    // The coupon is exhausted: refused with its reason, nothing written.
    let exhausted = fx
        .repos
        .placement
        .place(
            order(0),
            PlacementExtras {
                redemption: Some(redemption.clone()),
                ..PlacementExtras::default()
            },
        )
        .await;
    assert!(
        matches!(
            exhausted,
            Err(PlacementError::Coupon(RejectionReason::Exhausted))
        ),
        "{exhausted:?}"
    );
    assert_eq!(
        fx.repos
            .orders
            .list_for_accounts(vec![account])
            .await
            .unwrap()
            .len(),
        1
    );

    // Cancelling the pending order gives both back, once.
    fx.repos
        .orders
        .transition(
            placed.id(),
            OrderStatus::Pending,
            OrderStatus::Cancelled,
            at(2026, 11, 3),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        fx.repos
            .coupons
            .get(code.clone())
            .await
            .unwrap()
            .times_redeemed(),
        0
    );
    assert_eq!(
        fx.repos
            .credit
            .balance(account, Currency::USD)
            .await
            .unwrap(),
        usd(500)
    );
    fx.repos
        .placement
        .release(placed.id(), at(2026, 11, 4))
        .await
        .unwrap();
    assert_eq!(
        fx.repos
            .credit
            .balance(account, Currency::USD)
            .await
            .unwrap(),
        usd(500)
    );
    assert_eq!(
        fx.repos.coupons.get(code).await.unwrap().times_redeemed(),
        0
    );
}

/// A change is scheduled on active orders only, and dropped again.
pub async fn placement_schedules_changes_on_active_orders_only(repos: Repos) {
    let fx = Fixture::new(repos);
    let pro = fx.plan("Pro", "9.99").await;
    let basic = fx.plan("Basic", "4.99").await;
    let user = fx.user("a@example.com", "DE").await;
    let account = AccountRef::User(user);
    let start = at(2026, 11, 1);
    let end = start + TimeDelta::days(30);
    let change = ScheduledChange {
        plan_id: basic.id(),
        cycle: BillingCycle::Yearly,
        at: end,
    };
    let pending = fx
        .repos
        .orders
        .insert_pending(fx.order(&pro, account, None, start))
        .await
        .unwrap();
    assert!(matches!(
        fx.repos
            .placement
            .schedule_change(pending.id(), Some(change))
            .await,
        Err(RepoError::Conflict(ConflictKind::ChangedMeanwhile))
    ));
    assert!(matches!(
        fx.repos
            .placement
            .schedule_change(OrderId::new(9999).unwrap(), Some(change))
            .await,
        Err(RepoError::NotFound)
    ));
    let active = fx
        .repos
        .activation
        .create_active(
            fx.order(&pro, account, None, start),
            terms(start, end),
            None,
        )
        .await
        .unwrap();
    let scheduled = fx
        .repos
        .placement
        .schedule_change(active.id(), Some(change))
        .await
        .unwrap();
    assert_eq!(scheduled.billing().scheduled_change, Some(change));
    assert_eq!(fx.repos.orders.get(active.id()).await.unwrap(), scheduled);
    let dropped = fx
        .repos
        .placement
        .schedule_change(active.id(), None)
        .await
        .unwrap();
    assert_eq!(dropped.billing().scheduled_change, None);
}
