//! Lifecycle writes, renewals and concurrent activations.

use super::*;

#[tokio::test]
async fn lifecycle_writes_are_conditional_and_renewals_unique() {
    for test_db in TestDatabase::all() {
        let fx = open(&test_db).await;
        let user = fx.user("d@example.com", "DE").await;
        let other = fx.user("e@example.com", "DE").await;
        let paid = fx
            .repo
            .create_active(
                fx.order(&fx.pro, AccountRef::User(user), None, at(2026, 1, 1)),
                terms(at(2026, 1, 1), at(2026, 2, 1)),
                None,
            )
            .await
            .unwrap();
        let free = fx
            .repo
            .create_active(
                fx.order(&fx.free, AccountRef::User(other), None, at(2026, 1, 1)),
                terms(at(2026, 1, 1), at(2026, 2, 1)),
                None,
            )
            .await
            .unwrap();

        // Not within the horizon yet; then within it, paid plans only.
        assert!(fx
            .repo
            .renewal_candidates(at(2026, 1, 31))
            .await
            .unwrap()
            .is_empty());
        let candidates = fx.repo.renewal_candidates(at(2026, 2, 1)).await.unwrap();
        assert_eq!(
            candidates.iter().map(|o| o.id()).collect::<Vec<_>>(),
            vec![paid.id()]
        );
        let renewal = fx
            .order(&fx.pro, AccountRef::User(user), None, at(2026, 1, 25))
            .renewing(paid.id());
        let created = fx
            .repo
            .insert_renewal(renewal.clone())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(created.status(), OrderStatus::Pending);
        assert_eq!(created.renewal_of(), Some(paid.id()));
        assert!(fx.repo.insert_renewal(renewal).await.unwrap().is_none());
        assert!(fx
            .repo
            .renewal_candidates(at(2026, 2, 1))
            .await
            .unwrap()
            .is_empty());

        let due = fx.repo.free_orders_due(at(2026, 2, 1)).await.unwrap();
        assert_eq!(
            due.iter().map(|o| o.id()).collect::<Vec<_>>(),
            vec![free.id()]
        );
        assert!(fx
            .repo
            .extend(free.id(), at(2026, 2, 1), at(2026, 3, 1))
            .await
            .unwrap());
        assert!(!fx
            .repo
            .extend(free.id(), at(2026, 2, 1), at(2026, 3, 1))
            .await
            .unwrap());
        assert!(fx
            .repo
            .free_orders_due(at(2026, 2, 1))
            .await
            .unwrap()
            .is_empty());

        assert_eq!(fx.repo.expire_active(at(2026, 1, 31)).await.unwrap(), 0);
        assert_eq!(fx.repo.expire_active(at(2026, 2, 1)).await.unwrap(), 1);
        assert_eq!(fx.repo.expire_active(at(2026, 2, 1)).await.unwrap(), 0);
        assert_eq!(
            fx.repo.get(paid.id()).await.unwrap().status(),
            OrderStatus::Expired
        );
        assert_eq!(
            fx.repo.get(free.id()).await.unwrap().status(),
            OrderStatus::Active
        );

        assert_eq!(fx.repo.expire_pending(at(2026, 1, 24)).await.unwrap(), 0);
        assert_eq!(fx.repo.expire_pending(at(2026, 1, 25)).await.unwrap(), 1);
        assert_eq!(
            fx.repo.get(created.id()).await.unwrap().status(),
            OrderStatus::Expired
        );
    }
}

#[tokio::test]
async fn concurrent_activations_keep_one_active_order_and_consecutive_numbers() {
    for test_db in TestDatabase::all() {
        let fx = Arc::new(open(&test_db).await);
        let user = fx.user("f@example.com", "DE").await;
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let fx = fx.clone();
            tasks.push(tokio::spawn(async move {
                let order = fx.order(&fx.pro, AccountRef::User(user), None, at(2026, 5, 1));
                fx.repo
                    .create_active(order, terms(at(2026, 5, 1), at(2026, 6, 1)), None)
                    .await
            }));
        }
        let mut numbers = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                Ok(order) => numbers.push(order.invoice().unwrap().seq),
                Err(RepoError::Conflict(_)) => {}
                Err(other) => panic!("{:?}: {other:?}", test_db.backend()),
            }
        }
        let active = fx
            .repo
            .search(
                OrderFilter {
                    status: Some(OrderStatus::Active),
                    ..OrderFilter::default()
                },
                PageRequest::default(),
            )
            .await
            .unwrap();
        assert_eq!(active.total, 1, "{:?}", test_db.backend());
        numbers.sort_unstable();
        assert_eq!(
            numbers,
            (1..=numbers.len() as i64).collect::<Vec<_>>(),
            "{:?}",
            test_db.backend()
        );
    }
}
