//! The per-status order counts the database keeps by trigger (`order_status_counts`),
//! which the admin search by status alone answers its total from.

use super::*;

use tariff_domain::shared::ConflictKind;

const STATUSES: [OrderStatus; 4] = [
    OrderStatus::Pending,
    OrderStatus::Active,
    OrderStatus::Cancelled,
    OrderStatus::Expired,
];

/// For each status: the search's total by status alone (the kept counts), the same
/// search with a condition every order meets (which counts with `COUNT(*)`), and
/// `COUNT(*)` itself.
async fn totals(fx: &Fixture) -> Vec<(OrderStatus, u64, u64, i64)> {
    let mut found = Vec::new();
    for status in STATUSES {
        let kept = fx
            .repo
            .search(
                OrderFilter {
                    status: Some(status),
                    ..OrderFilter::default()
                },
                PageRequest::new(1, 5).unwrap(),
            )
            .await
            .unwrap();
        let counted = fx
            .repo
            .search(
                OrderFilter {
                    status: Some(status),
                    // Every description holds the plan's name.
                    text: Some("o".into()),
                    ..OrderFilter::default()
                },
                PageRequest::new(1, 5).unwrap(),
            )
            .await
            .unwrap();
        let name = status.as_str();
        let rows: i64 = fx
            .db
            .query(move |c| {
                Ok(c.get_result(
                    tariff_persistence::schema::orders::table
                        .filter(tariff_persistence::schema::orders::status.eq(name))
                        .count(),
                )?)
            })
            .await
            .unwrap();
        assert!(kept.items.len() <= 5);
        assert!(kept.items.iter().all(|o| o.status() == status));
        found.push((status, kept.total, counted.total, rows));
    }
    found
}

fn assert_exact(found: &[(OrderStatus, u64, u64, i64)]) {
    for (status, kept, counted, rows) in found {
        assert_eq!(
            i64::try_from(*kept).unwrap(),
            *rows,
            "{status:?}: kept count against COUNT(*): {found:?}"
        );
        assert_eq!(kept, counted, "{status:?}: {found:?}");
    }
}

#[tokio::test]
async fn status_counts_stay_exact_under_concurrent_order_writes() {
    for test_db in TestDatabase::all() {
        let fx = Arc::new(open(&test_db).await);
        // Few accounts and many writers, so activations of one account race (one wins,
        // the other is told so) and writers of different accounts share count shards.
        let mut accounts = Vec::new();
        for i in 0..4 {
            let user = fx.user(&format!("count{i}@example.com"), "DE").await;
            accounts.push(AccountRef::User(user));
        }
        let owner = fx.user("count-owner@example.com", "DE").await;
        let org = fx.org("Counted", owner).await;
        accounts.push(AccountRef::Org(org));

        let mut writers = Vec::new();
        for w in 0..16_usize {
            let fx = fx.clone();
            let account = accounts[w % accounts.len()];
            writers.push(tokio::spawn(async move {
                for round in 0..6_u32 {
                    let day = at(2026, 1, 1 + round);
                    let pending = fx
                        .repo
                        .insert_pending(fx.order(&fx.pro, account, None, day))
                        .await
                        .unwrap();
                    let activated = fx
                        .repo
                        .create_active(
                            fx.order(&fx.pro, account, None, day),
                            terms(day, at(2026, 2, 1 + round)),
                            None,
                        )
                        .await;
                    match activated {
                        Ok(_) | Err(RepoError::Conflict(ConflictKind::RaceLost)) => {}
                        Err(other) => panic!("activation: {other:?}"),
                    }
                    let next = if round % 2 == 0 {
                        fx.repo
                            .activate_pending(
                                pending.id(),
                                terms(day, at(2026, 2, 1 + round)),
                                None,
                            )
                            .await
                            .map(|_| ())
                    } else {
                        fx.repo
                            .transition(
                                pending.id(),
                                OrderStatus::Pending,
                                OrderStatus::Cancelled,
                                day,
                                None,
                            )
                            .await
                            .map(|_| ())
                    };
                    match next {
                        Ok(()) | Err(RepoError::Conflict(_)) => {}
                        Err(other) => panic!("{other:?}"),
                    }
                }
                // One that stays pending (placed after what the sweeper expires).
                fx.repo
                    .insert_pending(fx.order(&fx.pro, account, None, at(2026, 2, 10)))
                    .await
                    .unwrap();
            }));
        }
        // The sweep's bulk writes at the same time: expiries of many accounts at once.
        let sweeper = {
            let fx = fx.clone();
            tokio::spawn(async move {
                for _ in 0..6 {
                    fx.repo.expire_active(at(2026, 2, 4)).await.unwrap();
                    fx.repo.expire_pending(at(2026, 1, 3)).await.unwrap();
                }
            })
        };
        for writer in writers {
            writer.await.unwrap();
        }
        sweeper.await.unwrap();

        let found = totals(&fx).await;
        assert!(
            found.iter().all(|(_, kept, _, _)| *kept > 0),
            "every status occurs: {found:?}"
        );
        assert_exact(&found);

        // Changes made by hand in SQL are counted too: a deleted order, and an order
        // moved to another account (another shard).
        let moved_to = accounts[1].raw_id();
        let first = fx
            .repo
            .insert_pending(fx.order(&fx.pro, accounts[0], None, at(2026, 2, 11)))
            .await
            .unwrap()
            .id()
            .get();
        fx.db
            .write(move |c| {
                use tariff_persistence::schema::{order_items, orders};
                let cancelled: Vec<i64> = c.load(
                    orders::table
                        .filter(orders::status.eq("cancelled"))
                        .select(orders::id)
                        .order(orders::id.asc()),
                )?;
                let second = cancelled[0];
                c.execute(diesel::delete(
                    order_items::table.filter(order_items::order_id.eq(first)),
                ))?;
                c.execute(diesel::delete(orders::table.find(first)))?;
                c.execute(diesel::update(orders::table.find(second)).set((
                    orders::account_kind.eq("user"),
                    orders::account_id.eq(moved_to),
                    orders::user_id.eq(Some(moved_to)),
                    orders::org_id.eq(None::<i64>),
                    orders::status.eq("expired"),
                )))?;
                Ok(())
            })
            .await
            .unwrap();
        assert_exact(&totals(&fx).await);
    }
}
