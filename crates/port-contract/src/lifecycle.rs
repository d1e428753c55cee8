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
