//! The customer's note on an order, and the admin search's text filter ignoring case:
//! every store answers alike.

use tariff_domain::orders::{CustomerNote, OrderFilter, OrderStatus};
use tariff_domain::{AccountRef, PageRequest};

use crate::fixtures::{at, terms, Fixture};
use crate::Repos;

fn note(text: &str) -> Option<CustomerNote> {
    CustomerNote::parse(text).unwrap()
}

pub async fn orders_keep_the_customer_note_through_every_write(repos: Repos) {
    let fx = Fixture::new(repos);
    let pro = fx.plan("Pro", "9.99").await;
    let free = fx.plan("Starter", "0").await;
    let user = fx.user("note@example.com", "DE").await;
    let orders = &fx.repos.orders;

    let written = "Please put our PO 4711 on the invoice.\nThanks — Zoë";
    let pending = orders
        .insert_pending(
            fx.order(&pro, AccountRef::User(user), None, at(2026, 3, 1))
                .with_customer_note(note(written)),
        )
        .await
        .unwrap();
    assert_eq!(
        pending.customer_note().map(CustomerNote::as_str),
        Some(written)
    );
    assert_eq!(pending.notes(), None, "never mixed into the internal notes");
    assert_eq!(orders.get(pending.id()).await.unwrap(), pending);

    // A status change rewrites the row; the note stays.
    let cancelled = orders
        .transition(
            pending.id(),
            OrderStatus::Pending,
            OrderStatus::Cancelled,
            at(2026, 3, 2),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        cancelled.customer_note().map(CustomerNote::as_str),
        Some(written)
    );

    let active = fx
        .repos
        .activation
        .create_active(
            fx.order(&free, AccountRef::User(user), None, at(2026, 3, 3))
                .with_customer_note(note("free one")),
            terms(at(2026, 3, 3), at(2026, 4, 3)),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        active.customer_note().map(CustomerNote::as_str),
        Some("free one")
    );
    let without = orders
        .insert_pending(fx.order(&pro, AccountRef::User(user), None, at(2026, 3, 4)))
        .await
        .unwrap();
    assert_eq!(without.customer_note(), None);

    let listed = orders
        .list_for_accounts(vec![AccountRef::User(user)])
        .await
        .unwrap();
    let notes: Vec<_> = listed
        .iter()
        .map(|o| o.customer_note().map(|n| n.as_str().to_owned()))
        .collect();
    assert_eq!(
        notes,
        vec![None, Some("free one".to_owned()), Some(written.to_owned())]
    );
}

pub async fn order_search_text_ignores_case(repos: Repos) {
    let fx = Fixture::new(repos);
    let plus = fx.plan("Pro Plus", "9.99").await;
    let basic = fx.plan("basic", "4.99").await;
    let alice = fx.user("case-a@example.com", "DE").await;
    let bob = fx.user("case-b@example.com", "DE").await;
    let orders = &fx.repos.orders;
    let numbered = fx
        .repos
        .activation
        .create_active(
            fx.order(&plus, AccountRef::User(alice), None, at(2026, 4, 1)),
            terms(at(2026, 4, 1), at(2026, 5, 1)),
            None,
        )
        .await
        .unwrap();
    let small = orders
        .insert_pending(fx.order(&basic, AccountRef::User(bob), None, at(2026, 4, 2)))
        .await
        .unwrap();
    let number = numbered.invoice_number().unwrap().to_owned();
    assert!(number.chars().any(|c| c.is_ascii_uppercase()), "{number}");

    let found = |text: &str| {
        let filter = OrderFilter {
            text: Some(text.to_owned()),
            ..OrderFilter::default()
        };
        async move {
            let page = orders.search(filter, PageRequest::default()).await.unwrap();
            let ids: Vec<_> = page.items.iter().map(|o| o.id()).collect();
            (page.total, ids)
        }
    };
    for text in ["Pro Plus", "pro plus", "PRO PLUS", "pRo pLuS (MONTHLY)"] {
        assert_eq!(found(text).await, (1, vec![numbered.id()]), "{text}");
    }
    for text in ["BASIC", "Basic (Monthly)"] {
        assert_eq!(found(text).await, (1, vec![small.id()]), "{text}");
    }
    assert_eq!(
        found(&number.to_lowercase()).await,
        (1, vec![numbered.id()]),
        "invoice numbers too"
    );
    assert_eq!(found("MONTHLY").await, (2, vec![small.id(), numbered.id()]));
    // Wildcards stay literal whatever the case.
    for text in ["PRO%", "p_o plus", "BASIC_"] {
        assert_eq!(found(text).await, (0, vec![]), "{text}");
    }
    // Combined with another filter, the text still ignores case.
    let bobs = orders
        .search(
            OrderFilter {
                user: Some(bob),
                text: Some("bAsIc".into()),
                ..OrderFilter::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(bobs.total, 1);
}
