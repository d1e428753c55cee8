//! `OrderRepository`, `OrderActivation` and `BillingDirectory`: round trips, references,
//! activation (one active order per account, gapless numbers, frozen snapshots),
//! conditional transitions, lists and searches, audit rows.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::Utc;
use tariff_domain::audit::{Actor, AuditAction, AuditEntry, AuditFilter, TargetKind};
use tariff_domain::orders::{InvoiceNumberFormat, OrderFilter, OrderStatus};
use tariff_domain::{AccountRef, ConflictKind, OrderId, OrgId, PageRequest, RepoError, UserId};

use crate::fixtures::{at, terms, user_spec, Fixture};
use crate::recorded;
use crate::Repos;

pub async fn orders_pending_round_trip_with_lines_and_tax(repos: Repos) {
    let fx = Fixture::new(repos);
    let pro = fx.plan("Pro", "9.99").await;
    let user = fx.user("a@example.com", "DE").await;
    let new = fx.order(&pro, AccountRef::User(user), None, at(2026, 11, 21));
    let stored = fx.repos.orders.insert_pending(new.clone()).await.unwrap();
    assert_eq!(stored.status(), OrderStatus::Pending);
    assert_eq!(stored.charges(), new.charges());
    assert_eq!(stored.charges().total().minor(), 1189);
    assert_eq!(stored.created_at(), at(2026, 11, 21));
    assert_eq!(stored.placed_by(), Some(user));
    assert_eq!(stored.description(), "Pro (monthly)");
    assert_eq!(stored.invoice(), None);
    assert_eq!(fx.repos.orders.get(stored.id()).await.unwrap(), stored);
    assert!(matches!(
        fx.repos.orders.get(OrderId::new(9999).unwrap()).await,
        Err(RepoError::NotFound)
    ));
    assert_eq!(
        fx.repos
            .orders
            .active_for(AccountRef::User(user))
            .await
            .unwrap(),
        None
    );

    let buyer = fx
        .repos
        .directory
        .billing_details(AccountRef::User(user))
        .await
        .unwrap();
    assert_eq!(buyer.address.country_code(), Some("DE"));
    assert_eq!(buyer.email.as_deref(), Some("a@example.com"));
    assert_eq!(buyer.address.line1(), Some("Old Street 1"));
    let org = fx.org("Acme", user).await;
    let org_buyer = fx
        .repos
        .directory
        .billing_details(AccountRef::Org(org))
        .await
        .unwrap();
    assert_eq!((org_buyer.name.as_str(), org_buyer.email), ("Acme", None));
    assert_eq!(org_buyer.address.country_code(), Some("FR"));
    for missing in [
        AccountRef::User(UserId::new(9999).unwrap()),
        AccountRef::Org(OrgId::new(9999).unwrap()),
    ] {
        assert!(matches!(
            fx.repos.directory.billing_details(missing).await,
            Err(RepoError::NotFound)
        ));
    }
}

pub async fn orders_refuse_unknown_accounts_and_plans(repos: Repos) {
    let fx = Fixture::new(repos);
    let pro = fx.plan("Pro", "9.99").await;
    let user = fx.user("a@example.com", "DE").await;
    let ghost_user = AccountRef::User(UserId::new(9999).unwrap());
    let ghost_org = AccountRef::Org(OrgId::new(9999).unwrap());
    for account in [ghost_user, ghost_org] {
        let order = fx.order(&pro, account, Some(user), at(2026, 1, 1));
        let pending = fx.repos.orders.insert_pending(order.clone()).await;
        assert!(
            matches!(
                pending,
                Err(RepoError::Conflict(ConflictKind::MissingReference))
            ),
            "{pending:?}"
        );
        let active = fx
            .repos
            .activation
            .create_active(order, terms(at(2026, 1, 1), at(2026, 2, 1)), None)
            .await;
        assert!(
            matches!(
                active,
                Err(RepoError::Conflict(ConflictKind::MissingReference))
            ),
            "{active:?}"
        );
    }
    // A plan deleted after it was read.
    let gone = fx.plan("Gone", "1").await;
    fx.repos.plans.delete(gone.id(), None).await.unwrap();
    let order = fx.order(&gone, AccountRef::User(user), None, at(2026, 1, 1));
    let refused = fx.repos.orders.insert_pending(order).await;
    assert!(
        matches!(
            refused,
            Err(RepoError::Conflict(ConflictKind::MissingReference))
        ),
        "{refused:?}"
    );
    let all = fx
        .repos
        .orders
        .search(OrderFilter::default(), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(all.total, 0, "refused orders are not stored");
}

pub async fn activation_numbers_replaces_and_freezes_the_snapshot(repos: Repos) {
    let fx = Fixture::new(repos);
    let pro = fx.plan("Pro", "9.99").await;
    let free = fx.plan("Hobby", "0").await;
    let user = fx.user("b@example.com", "DE").await;
    let account = AccountRef::User(user);
    let (orders, activation) = (&fx.repos.orders, &fx.repos.activation);
    let first = activation
        .create_active(
            fx.order(&pro, account, None, at(2026, 3, 1)),
            terms(at(2026, 3, 1), at(2026, 4, 1)),
            None,
        )
        .await
        .unwrap();
    assert_eq!(first.status(), OrderStatus::Active);
    assert_eq!(first.activated_at(), Some(at(2026, 3, 1)));
    assert_eq!(first.expires_at(), Some(at(2026, 4, 1)));
    assert_eq!(first.invoice_number(), Some("INV-2026-000001"));
    let snapshot = &first.invoice().unwrap().snapshot;
    assert_eq!(snapshot.seller.company_name, "Seller Co");
    assert_eq!(snapshot.buyer.address.line1(), Some("Old Street 1"));
    assert_eq!(snapshot.frozen_at, at(2026, 3, 1));
    assert_eq!(orders.get(first.id()).await.unwrap(), first);

    // The buyer moves; the issued invoice keeps the old address.
    let mut moved = user_spec("b@example.com", "DE").billing().to_draft();
    moved.address_line1 = Some("New Road 2".into());
    let spec = tariff_domain::UserSpec::new(
        "b@example.com",
        "Some One",
        tariff_domain::Role::User,
        moved,
    )
    .unwrap();
    fx.repos
        .users
        .update(user, spec, None, Utc::now(), None)
        .await
        .unwrap();
    let pending = orders
        .insert_pending(fx.order(&pro, account, None, at(2026, 3, 2)))
        .await
        .unwrap();
    let mut paid_terms = terms(at(2026, 3, 5), at(2026, 4, 5));
    paid_terms.payment_reference = Some("bank-42".into());
    let second = activation
        .activate_pending(pending.id(), paid_terms, None)
        .await
        .unwrap();
    assert_eq!(second.id(), pending.id());
    assert_eq!(second.invoice_number(), Some("INV-2026-000002"));
    assert_eq!(second.payment_reference(), Some("bank-42"));
    assert_eq!(
        second.invoice().unwrap().snapshot.buyer.address.line1(),
        Some("New Road 2")
    );
    let first_again = orders.get(first.id()).await.unwrap();
    assert_eq!(first_again.status(), OrderStatus::Cancelled);
    assert_eq!(first_again.cancelled_at(), Some(at(2026, 3, 5)));
    assert_eq!(
        first_again.notes(),
        Some(format!("replaced by order #{}", second.id()).as_str())
    );
    assert_eq!(
        first_again.invoice(),
        first.invoice(),
        "an issued invoice never changes"
    );
    assert_eq!(
        orders.active_for(account).await.unwrap().map(|o| o.id()),
        Some(second.id())
    );

    // Not pending any more: refused, nothing changes.
    let again = activation
        .activate_pending(second.id(), terms(at(2026, 3, 6), at(2026, 4, 6)), None)
        .await;
    assert!(
        matches!(
            again,
            Err(RepoError::Conflict(ConflictKind::ChangedMeanwhile))
        ),
        "{again:?}"
    );
    assert_eq!(orders.get(second.id()).await.unwrap(), second);
    assert!(matches!(
        activation
            .activate_pending(
                OrderId::new(9999).unwrap(),
                terms(at(2026, 3, 6), at(2026, 4, 6)),
                None
            )
            .await,
        Err(RepoError::NotFound)
    ));

    // Replacing an order with notes keeps them; a new year starts a new sequence.
    let noted = activation
        .create_active(
            fx.order(&free, account, None, at(2026, 6, 1))
                .with_notes(Some("migrated".into())),
            terms(at(2026, 6, 1), at(2026, 7, 1)),
            None,
        )
        .await
        .unwrap();
    assert_eq!(noted.invoice_number(), Some("INV-2026-000003"));
    let next_year = activation
        .create_active(
            fx.order(&free, account, None, at(2027, 1, 2)),
            terms(at(2027, 1, 2), at(2027, 2, 2)),
            None,
        )
        .await
        .unwrap();
    assert_eq!(next_year.invoice_number(), Some("INV-2027-000001"));
    assert_eq!(
        orders.get(noted.id()).await.unwrap().notes(),
        Some(format!("migrated\nreplaced by order #{}", next_year.id()).as_str())
    );
}

/// The audit row of an activation holds the order exactly as numbered, whatever the
/// number format.
pub async fn activation_audit_records_the_order_as_numbered(repos: Repos) {
    let fx = Fixture::new(repos);
    let pro = fx.plan("Pro", "9.99").await;
    let free = fx.plan("Hobby", "0").await;
    let admin = fx.user("admin@example.com", "DE").await;
    let formats = [
        "INV-{year}-{seq:06}",
        r#"Q"{year}\{seq:04}" ünd"#,
        "{year}/{seq}",
        "{year}-{seq}-{seq:03}",
    ];
    for (index, pattern) in formats.into_iter().enumerate() {
        let user = fx.user(&format!("c{index}@example.com"), "DE").await;
        let account = AccountRef::User(user);
        let mut terms = terms(at(2026, 3, 1), at(2026, 4, 1));
        terms.numbering = InvoiceNumberFormat::parse(pattern).unwrap();
        let numbering = terms.numbering.clone();
        let entry = || AuditEntry::on_account(Actor::User(admin), AuditAction::PlanApply, account);
        let first = fx
            .repos
            .activation
            .create_active(
                fx.order(&pro, account, None, at(2026, 3, 1)),
                terms.clone(),
                Some(entry()),
            )
            .await
            .unwrap();
        let second = fx
            .repos
            .activation
            .create_active(
                fx.order(&free, account, None, at(2026, 3, 2)),
                terms,
                Some(entry()),
            )
            .await
            .unwrap();
        let seq = first.invoice().unwrap().seq;
        assert_eq!(
            first.invoice_number(),
            Some(numbering.render(2026, seq).as_str()),
            "{pattern}"
        );
        assert_eq!(second.invoice().unwrap().seq, seq + 1, "{pattern}");

        let page = fx
            .repos
            .audit
            .page(
                AuditFilter {
                    target_kind: Some(TargetKind::User),
                    target_id: Some(user.get()),
                    actor: None,
                },
                PageRequest::new(1, 10).unwrap(),
            )
            .await
            .unwrap();
        let rows = &page.items;
        assert_eq!(rows.len(), 2, "{pattern}");
        let (newest, oldest) = (&rows[0], &rows[1]);
        assert_eq!(oldest.action, "plan.apply");
        assert_eq!(
            oldest.after,
            Some(recorded(first.audit_state())),
            "{pattern}"
        );
        assert_eq!(oldest.before, Some(serde_json::Value::Null), "{pattern}");
        assert_eq!(
            newest.after,
            Some(recorded(second.audit_state())),
            "{pattern}"
        );
        // The replaced order as it was before it was cancelled.
        assert_eq!(
            newest.before,
            Some(recorded(first.audit_state())),
            "{pattern}"
        );
    }
}

pub async fn order_transitions_are_conditional(repos: Repos) {
    let fx = Fixture::new(repos);
    let pro = fx.plan("Pro", "9.99").await;
    let user = fx.user("c@example.com", "DE").await;
    let orders = &fx.repos.orders;
    let order = orders
        .insert_pending(fx.order(&pro, AccountRef::User(user), None, at(2026, 1, 1)))
        .await
        .unwrap();
    let entry = AuditEntry::new(
        Actor::User(user),
        AuditAction::PlanCancel,
        TargetKind::Order,
        Some(order.id().get()),
    );
    let cancelled = orders
        .transition(
            order.id(),
            OrderStatus::Pending,
            OrderStatus::Cancelled,
            at(2026, 1, 2),
            Some(entry.clone()),
        )
        .await
        .unwrap();
    assert_eq!(cancelled.status(), OrderStatus::Cancelled);
    assert_eq!(cancelled.cancelled_at(), Some(at(2026, 1, 2)));
    assert_eq!(orders.get(order.id()).await.unwrap(), cancelled);
    let again = orders
        .transition(
            order.id(),
            OrderStatus::Pending,
            OrderStatus::Cancelled,
            at(2026, 1, 3),
            Some(entry),
        )
        .await;
    assert!(
        matches!(
            again,
            Err(RepoError::Conflict(ConflictKind::ChangedMeanwhile))
        ),
        "{again:?}"
    );
    assert_eq!(
        orders.get(order.id()).await.unwrap().cancelled_at(),
        Some(at(2026, 1, 2))
    );
    let missing = orders
        .transition(
            OrderId::new(999).unwrap(),
            OrderStatus::Pending,
            OrderStatus::Cancelled,
            at(2026, 1, 3),
            None,
        )
        .await;
    assert!(matches!(missing, Err(RepoError::NotFound)), "{missing:?}");

    // An active order expires without a cancellation time.
    let active = fx
        .repos
        .activation
        .create_active(
            fx.order(&pro, AccountRef::User(user), None, at(2026, 2, 1)),
            terms(at(2026, 2, 1), at(2026, 3, 1)),
            None,
        )
        .await
        .unwrap();
    let expired = orders
        .transition(
            active.id(),
            OrderStatus::Active,
            OrderStatus::Expired,
            at(2026, 3, 1),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        (expired.status(), expired.cancelled_at()),
        (OrderStatus::Expired, None)
    );
    assert_eq!(
        orders.active_for(AccountRef::User(user)).await.unwrap(),
        None
    );

    let rows = fx
        .repos
        .audit
        .page(
            AuditFilter {
                target_kind: Some(TargetKind::Order),
                target_id: Some(order.id().get()),
                actor: None,
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(rows.total, 1, "the refused transition stored no row");
    assert_eq!(rows.items[0].before, Some(recorded(order.audit_state())));
    assert_eq!(rows.items[0].after, Some(recorded(cancelled.audit_state())));
}

pub async fn orders_list_and_search(repos: Repos) {
    let fx = Fixture::new(repos);
    let pro = fx.plan("Pro", "9.99").await;
    let alice = fx.user("alice@example.com", "DE").await;
    let bob = fx.user("bob@example.com", "US").await;
    let org = fx.org("Acme", alice).await;
    let orders = &fx.repos.orders;
    let a1 = orders
        .insert_pending(fx.order(&pro, AccountRef::User(alice), None, at(2026, 1, 1)))
        .await
        .unwrap();
    let b1 = orders
        .insert_pending(fx.order(&pro, AccountRef::User(bob), None, at(2026, 1, 2)))
        .await
        .unwrap();
    let o1 = fx
        .repos
        .activation
        .create_active(
            fx.order(&pro, AccountRef::Org(org), Some(alice), at(2026, 1, 3)),
            terms(at(2026, 1, 3), at(2026, 2, 3)),
            None,
        )
        .await
        .unwrap();
    assert_eq!(o1.placed_by(), Some(alice));
    assert_eq!(o1.invoice().unwrap().snapshot.buyer.name, "Acme");
    assert_eq!(
        o1.invoice().unwrap().snapshot.buyer.address.country_code(),
        Some("FR")
    );

    let ids =
        |list: &[tariff_domain::orders::Order]| list.iter().map(|o| o.id()).collect::<Vec<_>>();
    let mine = orders
        .list_for_accounts(vec![AccountRef::User(alice), AccountRef::Org(org)])
        .await
        .unwrap();
    assert_eq!(
        ids(&mine),
        vec![o1.id(), a1.id()],
        "newest first, never Bob's"
    );
    let bobs = orders
        .list_for_accounts(vec![AccountRef::User(bob)])
        .await
        .unwrap();
    assert_eq!(ids(&bobs), vec![b1.id()]);
    assert!(orders.list_for_accounts(vec![]).await.unwrap().is_empty());

    let all = orders
        .search(OrderFilter::default(), PageRequest::new(1, 2).unwrap())
        .await
        .unwrap();
    assert_eq!((all.total, ids(&all.items)), (3, vec![o1.id(), b1.id()]));
    let page2 = orders
        .search(OrderFilter::default(), PageRequest::new(2, 2).unwrap())
        .await
        .unwrap();
    assert_eq!((page2.total, ids(&page2.items)), (3, vec![a1.id()]));
    let past = orders
        .search(OrderFilter::default(), PageRequest::new(3, 2).unwrap())
        .await
        .unwrap();
    assert_eq!((past.total, past.items.len()), (3, 0));
    let filter = |status, user, org| OrderFilter {
        status,
        user,
        org,
        text: None,
    };
    let active = orders
        .search(
            filter(Some(OrderStatus::Active), None, None),
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(ids(&active.items), vec![o1.id()]);
    let by_alice = orders
        .search(filter(None, Some(alice), None), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(
        ids(&by_alice.items),
        vec![o1.id(), a1.id()],
        "her own and the one she placed for Acme"
    );
    let by_org = orders
        .search(
            filter(Some(OrderStatus::Pending), None, Some(org)),
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(by_org.total, 0);
    let of_org = orders
        .search(filter(None, None, Some(org)), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(ids(&of_org.items), vec![o1.id()]);

    // The text filter: the description or the invoice number contains it, wildcards
    // taken literally.
    let containing = |text: &str| OrderFilter {
        text: Some(text.to_owned()),
        ..OrderFilter::default()
    };
    let number = o1.invoice_number().unwrap().to_owned();
    let by_number = orders
        .search(containing(&number), PageRequest::default())
        .await
        .unwrap();
    assert_eq!((by_number.total, ids(&by_number.items)), (1, vec![o1.id()]));
    let by_description = orders
        .search(containing("(monthly)"), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(
        (by_description.total, ids(&by_description.items)),
        (3, vec![o1.id(), b1.id(), a1.id()])
    );
    for literal in ["Pro%", "P_o", "nothing like it"] {
        let none = orders
            .search(containing(literal), PageRequest::default())
            .await
            .unwrap();
        assert_eq!(none.total, 0, "{literal}");
    }
    let combined = orders
        .search(
            OrderFilter {
                user: Some(bob),
                ..containing("monthly")
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(ids(&combined.items), vec![b1.id()]);
}

pub async fn concurrent_activations_keep_one_active_order_and_consecutive_numbers(repos: Repos) {
    let fx = Arc::new(Fixture::new(repos));
    let pro = fx.plan("Pro", "9.99").await;
    let user = fx.user("f@example.com", "DE").await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (fx, pro) = (Arc::clone(&fx), pro.clone());
            tokio::spawn(async move {
                let order = fx.order(&pro, AccountRef::User(user), None, at(2026, 5, 1));
                fx.repos
                    .activation
                    .create_active(order, terms(at(2026, 5, 1), at(2026, 6, 1)), None)
                    .await
            })
        })
        .collect();
    let mut numbers = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(order) => numbers.push(order.invoice().unwrap().seq),
            // The contract allows a concurrent activation of the account to lose the race.
            Err(RepoError::Conflict(ConflictKind::RaceLost)) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert!(!numbers.is_empty());
    let active = fx
        .repos
        .orders
        .search(
            OrderFilter {
                status: Some(OrderStatus::Active),
                ..OrderFilter::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(active.total, 1);
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=numbers.len() as i64).collect::<Vec<_>>());
}

pub async fn concurrent_activations_of_many_accounts_number_without_gaps(repos: Repos) {
    let fx = Arc::new(Fixture::new(repos));
    let pro = fx.plan("Pro", "9.99").await;
    let mut accounts = Vec::new();
    for n in 0..12 {
        accounts.push(AccountRef::User(
            fx.user(&format!("u{n}@example.com"), "DE").await,
        ));
    }
    let tasks: Vec<_> = accounts
        .iter()
        .map(|&account| {
            let (fx, pro) = (Arc::clone(&fx), pro.clone());
            tokio::spawn(async move {
                let order = fx.order(&pro, account, None, at(2026, 7, 1));
                fx.repos
                    .activation
                    .create_active(order, terms(at(2026, 7, 1), at(2026, 8, 1)), None)
                    .await
            })
        })
        .collect();
    let mut numbers = BTreeSet::new();
    for task in tasks {
        let order = task.await.unwrap().unwrap();
        assert!(
            numbers.insert(order.invoice_number().unwrap().to_owned()),
            "a number was reused"
        );
    }
    let expected: BTreeSet<String> = (1..=12).map(|seq| format!("INV-2026-{seq:06}")).collect();
    assert_eq!(numbers, expected);
    for account in accounts {
        assert!(fx.repos.orders.active_for(account).await.unwrap().is_some());
    }
}
