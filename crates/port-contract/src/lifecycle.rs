//! `LifecycleStore`: renewal candidates, one renewal per order, free-plan extensions
//! and expiries, every write conditional and safe to run twice.

use tariff_domain::orders::{Order, OrderFilter, OrderStatus};
use tariff_domain::shared::PageRequest;
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

pub async fn lifecycle_renewals_come_in_chunks_and_are_stored_together(repos: Repos) {
    let fx = Fixture::new(repos);
    let pro = fx.plan("Pro", "9.99").await;
    let lifecycle = &fx.repos.lifecycle;
    let mut paid = Vec::new();
    for i in 0..3 {
        let user = fx.user(&format!("chunk{i}@example.com"), "DE").await;
        let order = fx
            .repos
            .activation
            .create_active(
                fx.order(&pro, AccountRef::User(user), None, at(2026, 1, 1)),
                terms(at(2026, 1, 1), at(2026, 2, 1)),
                None,
            )
            .await
            .unwrap();
        paid.push(order);
    }
    let horizon = at(2026, 2, 1);
    let ids = |orders: Vec<Order>| orders.iter().map(Order::id).collect::<Vec<_>>();

    // Chunks in id order, each after the last one's id.
    let first = lifecycle
        .renewal_candidates_after(horizon, None, 2)
        .await
        .unwrap();
    assert_eq!(ids(first.clone()), vec![paid[0].id(), paid[1].id()]);
    assert_eq!(first[0], paid[0], "with their lines");
    let rest = lifecycle
        .renewal_candidates_after(horizon, Some(paid[1].id()), 2)
        .await
        .unwrap();
    assert_eq!(ids(rest), vec![paid[2].id()]);
    assert!(lifecycle
        .renewal_candidates_after(horizon, Some(paid[2].id()), 2)
        .await
        .unwrap()
        .is_empty());
    assert!(lifecycle
        .renewal_candidates_after(at(2026, 1, 31), None, 10)
        .await
        .unwrap()
        .is_empty());

    // One is renewed already; the batch stores the others and skips it (and a second
    // renewal of the same order within the batch) alone.
    let renewal = |order: &Order| {
        fx.order(&pro, order.account(), None, at(2026, 1, 25))
            .renewing(order.id())
    };
    let early = lifecycle
        .insert_renewal(renewal(&paid[1]))
        .await
        .unwrap()
        .unwrap();
    // A chunk holds `limit` candidates whenever that many are left: an order renewed
    // already is no candidate and takes no place in it (a short chunk ends the sweep's
    // walk, so a chunk cut short by renewed orders would hide the rest).
    let after_renewed = lifecycle
        .renewal_candidates_after(horizon, None, 2)
        .await
        .unwrap();
    assert_eq!(ids(after_renewed), vec![paid[0].id(), paid[2].id()]);
    let stored = lifecycle
        .insert_renewals(vec![
            renewal(&paid[0]),
            renewal(&paid[1]),
            renewal(&paid[2]),
            renewal(&paid[0]),
        ])
        .await
        .unwrap();
    assert_eq!(stored.len(), 2, "{stored:?}");
    for (id, of) in stored.iter().zip([&paid[0], &paid[2]]) {
        let renewal = fx.repos.orders.get(*id).await.unwrap();
        assert_eq!(renewal.status(), OrderStatus::Pending);
        assert_eq!(renewal.renewal_of(), Some(of.id()));
    }
    assert!(lifecycle
        .renewal_candidates_after(horizon, None, 10)
        .await
        .unwrap()
        .is_empty());
    // The renewal of a pending order (not active) is skipped too; nothing is stored.
    assert!(lifecycle
        .insert_renewals(vec![renewal(&early)])
        .await
        .unwrap()
        .is_empty());
    let pending = fx
        .repos
        .orders
        .search(
            OrderFilter {
                status: Some(OrderStatus::Pending),
                ..OrderFilter::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(pending.total, 3);
    assert_eq!(pending.items.len(), 3);
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
