//! `LifecycleStore`: renewal candidates, one renewal per order, free-plan extensions
//! and expiries, every write conditional and safe to run twice.

use tariff_domain::orders::OrderStatus;
use tariff_domain::AccountRef;

use crate::fixtures::{at, terms, Fixture};
use crate::Repos;

pub async fn lifecycle_writes_are_conditional_and_renewals_unique(repos: Repos) {
    let fx = Fixture::new(repos);
    let pro = fx.plan("Pro", "9.99").await;
    let hobby = fx.plan("Hobby", "0").await;
    let user = fx.user("d@example.com", "DE").await;
    let other = fx.user("e@example.com", "DE").await;
    let (orders, lifecycle) = (&fx.repos.orders, &fx.repos.lifecycle);
    let paid = fx
        .repos
        .activation
        .create_active(
            fx.order(&pro, AccountRef::User(user), None, at(2026, 1, 1)),
            terms(at(2026, 1, 1), at(2026, 2, 1)),
            None,
        )
        .await
        .unwrap();
    let free = fx
        .repos
        .activation
        .create_active(
            fx.order(&hobby, AccountRef::User(other), None, at(2026, 1, 1)),
            terms(at(2026, 1, 1), at(2026, 2, 1)),
            None,
        )
        .await
        .unwrap();

    // Not within the horizon yet; then within it, paid plans only.
    assert!(lifecycle
        .renewal_candidates(at(2026, 1, 31))
        .await
        .unwrap()
        .is_empty());
    let candidates = lifecycle.renewal_candidates(at(2026, 2, 1)).await.unwrap();
    assert_eq!(candidates, vec![paid.clone()]);
    let renewal = fx
        .order(&pro, AccountRef::User(user), None, at(2026, 1, 25))
        .renewing(paid.id());
    let created = lifecycle
        .insert_renewal(renewal.clone())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(created.status(), OrderStatus::Pending);
    assert_eq!(created.renewal_of(), Some(paid.id()));
    assert_eq!(orders.get(created.id()).await.unwrap(), created);
    assert!(lifecycle.insert_renewal(renewal).await.unwrap().is_none());
    assert!(lifecycle
        .renewal_candidates(at(2026, 2, 1))
        .await
        .unwrap()
        .is_empty());
    // No renewal of an order that is not active.
    let of_free = fx
        .order(&hobby, AccountRef::User(other), None, at(2026, 1, 25))
        .renewing(created.id());
    assert!(lifecycle.insert_renewal(of_free).await.unwrap().is_none());

    let due = lifecycle.free_orders_due(at(2026, 2, 1)).await.unwrap();
    assert_eq!(due, vec![free.clone()]);
    assert!(lifecycle
        .free_orders_due(at(2026, 1, 31))
        .await
        .unwrap()
        .is_empty());
    assert!(lifecycle
        .extend(free.id(), at(2026, 2, 1), at(2026, 3, 1))
        .await
        .unwrap());
    assert!(!lifecycle
        .extend(free.id(), at(2026, 2, 1), at(2026, 3, 1))
        .await
        .unwrap());
    assert_eq!(
        orders.get(free.id()).await.unwrap().expires_at(),
        Some(at(2026, 3, 1))
    );
    assert!(lifecycle
        .free_orders_due(at(2026, 2, 1))
        .await
        .unwrap()
        .is_empty());
    // Only active orders are extended.
    assert!(!lifecycle
        .extend(created.id(), at(2026, 2, 1), at(2026, 3, 1))
        .await
        .unwrap());

    assert_eq!(lifecycle.expire_active(at(2026, 1, 31)).await.unwrap(), 0);
    assert_eq!(lifecycle.expire_active(at(2026, 2, 1)).await.unwrap(), 1);
    assert_eq!(lifecycle.expire_active(at(2026, 2, 1)).await.unwrap(), 0);
    assert_eq!(
        orders.get(paid.id()).await.unwrap().status(),
        OrderStatus::Expired
    );
    assert_eq!(
        orders.get(free.id()).await.unwrap().status(),
        OrderStatus::Active,
        "free plans extend, never expire"
    );
    assert_eq!(
        orders.active_for(AccountRef::User(user)).await.unwrap(),
        None
    );

    assert_eq!(lifecycle.expire_pending(at(2026, 1, 24)).await.unwrap(), 0);
    assert_eq!(lifecycle.expire_pending(at(2026, 1, 25)).await.unwrap(), 1);
    assert_eq!(lifecycle.expire_pending(at(2026, 1, 25)).await.unwrap(), 0);
    assert_eq!(
        orders.get(created.id()).await.unwrap().status(),
        OrderStatus::Expired
    );
}

/// `PastDueStore`: an ended order with a pending renewal is marked once and outlives
/// `expire_active`; its renewal outlives `expire_pending` while it runs; it expires
/// with `expire_past_due` once its grace is over.
pub async fn past_due_orders_run_on_until_their_grace_ends(repos: Repos) {
    let fx = Fixture::new(repos);
    let pro = fx.plan("Pro", "9.99").await;
    let user = fx.user("p@example.com", "DE").await;
    let other = fx.user("q@example.com", "DE").await;
    let (orders, lifecycle, past_due) = (&fx.repos.orders, &fx.repos.lifecycle, &fx.repos.past_due);
    let mut active = Vec::new();
    for account in [user, other] {
        active.push(
            fx.repos
                .activation
                .create_active(
                    fx.order(&pro, AccountRef::User(account), None, at(2026, 1, 1)),
                    terms(at(2026, 1, 1), at(2026, 2, 1)),
                    None,
                )
                .await
                .unwrap(),
        );
    }
    // Only the first has a renewal.
    let renewal = lifecycle
        .insert_renewal(
            fx.order(&pro, AccountRef::User(user), None, at(2026, 1, 25))
                .renewing(active[0].id()),
        )
        .await
        .unwrap()
        .unwrap();

    let grace = chrono::TimeDelta::days(3);
    let mark = |now| past_due.mark_past_due(now, now - grace);
    // Ended too long ago (its grace is over): left to `expire_active`.
    assert_eq!(
        past_due
            .mark_past_due(at(2026, 2, 5), at(2026, 2, 2))
            .await
            .unwrap(),
        0
    );
    assert_eq!(mark(at(2026, 1, 31)).await.unwrap(), 0);
    assert_eq!(mark(at(2026, 2, 1)).await.unwrap(), 1);
    assert_eq!(mark(at(2026, 2, 2)).await.unwrap(), 0);
    let marked = orders.get(active[0].id()).await.unwrap();
    assert_eq!(marked.past_due_at(), Some(at(2026, 2, 1)));
    assert!(marked.is_past_due());
    assert!(!orders.get(active[1].id()).await.unwrap().is_past_due());

    // The past-due order outlives its period end; the other expires.
    assert_eq!(lifecycle.expire_active(at(2026, 2, 2)).await.unwrap(), 1);
    assert_eq!(
        orders.get(active[0].id()).await.unwrap().status(),
        OrderStatus::Active
    );
    // Its renewal stays payable while it runs.
    assert_eq!(lifecycle.expire_pending(at(2026, 2, 2)).await.unwrap(), 0);
    assert_eq!(
        orders.get(renewal.id()).await.unwrap().status(),
        OrderStatus::Pending
    );

    // Grace over (period ended at or before the cut): it expires, then its renewal.
    assert_eq!(past_due.expire_past_due(at(2026, 1, 31)).await.unwrap(), 0);
    assert_eq!(past_due.expire_past_due(at(2026, 2, 1)).await.unwrap(), 1);
    assert_eq!(past_due.expire_past_due(at(2026, 2, 1)).await.unwrap(), 0);
    let expired = orders.get(active[0].id()).await.unwrap();
    assert_eq!(expired.status(), OrderStatus::Expired);
    assert!(!expired.is_past_due());
    assert_eq!(lifecycle.expire_pending(at(2026, 2, 2)).await.unwrap(), 1);
    assert_eq!(
        orders.active_for(AccountRef::User(user)).await.unwrap(),
        None
    );
}
