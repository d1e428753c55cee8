//! The administrators' use cases: apply-plan, mark-paid, renewals, the effective plan,
//! cancel-plan.

use super::*;

fn apply(user_id: i64) -> ApplyPlan {
    ApplyPlan {
        user: user(user_id),
        plan: PlanId::new(3).unwrap(),
        notes: Some("  Educational grant approved ".into()),
        expires_at: None,
    }
}

#[tokio::test]
async fn apply_plan_activates_with_notes_and_a_month_by_default() {
    let mut fx = Fixture::new()
        .buyer_in("DE")
        .with_plan(plan(3, "9.99", true));
    fx.activation
        .expect_create_active()
        .withf(|new, terms, _| {
            new.notes() == Some("Educational grant approved")
                && new.charges().total().minor() == 1189
                && terms.expires_at == at(2026, 2, 28)
        })
        .times(1)
        .returning(|new, terms, _| Ok(stored(&new, 7, OrderStatus::Active, Some(&terms))));
    let order = fx.service().apply_plan(admin(), apply(55)).await.unwrap();
    assert_eq!(order.status(), OrderStatus::Active);
    assert_eq!(order.notes(), Some("Educational grant approved"));
}

#[tokio::test]
async fn apply_plan_retries_a_lost_race_once_then_reports_a_conflict() {
    let mut fx = Fixture::new()
        .buyer_in("DE")
        .with_plan(plan(3, "9.99", false));
    fx.activation
        .expect_create_active()
        .times(2)
        .returning(|_, _, _| Err(RepoError::Conflict(ConflictKind::RaceLost)));
    let err = fx
        .service()
        .apply_plan(admin(), apply(55))
        .await
        .unwrap_err();
    assert!(matches!(err, OrderError::Conflict(_)), "{err:?}");

    let mut fx = Fixture::new()
        .buyer_in("DE")
        .with_plan(plan(3, "9.99", false));
    let mut first = true;
    fx.activation
        .expect_create_active()
        .times(2)
        .returning(move |new, terms, _| {
            if std::mem::take(&mut first) {
                Err(RepoError::Conflict(ConflictKind::RaceLost))
            } else {
                Ok(stored(&new, 8, OrderStatus::Active, Some(&terms)))
            }
        });
    assert!(fx.service().apply_plan(admin(), apply(55)).await.is_ok());
}

#[tokio::test]
async fn apply_plan_checks_its_input() {
    let fx = Fixture::new()
        .buyer_in("DE")
        .with_plan(plan(3, "9.99", false));
    let past = ApplyPlan {
        expires_at: Some(at(2026, 1, 30)),
        ..apply(55)
    };
    let err = fx.service().apply_plan(admin(), past).await.unwrap_err();
    assert!(
        matches!(
            err,
            OrderError::Invalid {
                field: "expiresAt",
                ..
            }
        ),
        "{err:?}"
    );

    let fx = Fixture::new()
        .buyer_in("DE")
        .with_plan(plan(3, "9.99", false));
    let long = ApplyPlan {
        notes: Some("x".repeat(2001)),
        ..apply(55)
    };
    let err = fx.service().apply_plan(admin(), long).await.unwrap_err();
    assert!(
        matches!(err, OrderError::Invalid { field: "notes", .. }),
        "{err:?}"
    );

    let mut fx = Fixture::new().with_plan(plan(3, "9.99", false));
    fx.directory
        .expect_billing_details()
        .returning(|_| Err(RepoError::NotFound));
    let err = fx
        .service()
        .apply_plan(admin(), apply(404))
        .await
        .unwrap_err();
    assert!(matches!(err, OrderError::UserNotFound(_)), "{err:?}");

    let fx = Fixture::new();
    let err = fx
        .service()
        .apply_plan(customer(5), apply(55))
        .await
        .unwrap_err();
    assert!(matches!(err, OrderError::AdminOnly), "{err:?}");
}

#[tokio::test]
async fn apply_plan_accepts_a_custom_expiry() {
    let mut fx = Fixture::new()
        .buyer_in("DE")
        .with_plan(plan(3, "9.99", false));
    fx.activation
        .expect_create_active()
        .withf(|_, terms, _| terms.expires_at == at(2026, 6, 30))
        .returning(|new, terms, _| Ok(stored(&new, 7, OrderStatus::Active, Some(&terms))));
    let input = ApplyPlan {
        expires_at: Some(at(2026, 6, 30)),
        ..apply(55)
    };
    let order = fx.service().apply_plan(admin(), input).await.unwrap();
    assert_eq!(order.expires_at(), Some(at(2026, 6, 30)));
}

#[tokio::test]
async fn mark_paid_needs_a_pending_order() {
    let mut fx = Fixture::new();
    fx.orders
        .expect_get()
        .returning(|_| Ok(existing(10, AccountRef::User(user(2)), OrderStatus::Active)));
    fx.activation.expect_activate_pending().never();
    let err = fx
        .service()
        .mark_paid(admin(), OrderId::new(10).unwrap(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, OrderError::IllegalTransition(_)), "{err:?}");

    let mut fx = Fixture::new();
    fx.orders
        .expect_get()
        .returning(|_| Err(RepoError::NotFound));
    let err = fx
        .service()
        .mark_paid(admin(), OrderId::new(10).unwrap(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, OrderError::OrderNotFound(_)), "{err:?}");
}

#[tokio::test]
async fn a_paid_renewal_starts_when_its_predecessor_ends() {
    let account = AccountRef::User(user(2));
    let mut fx = Fixture::new();
    // Predecessor 10 runs until Feb 1 (the clock says Jan 31); renewal 11 is pending.
    fx.orders.expect_get().returning(move |id| {
        if id.get() == 10 {
            Ok(existing(10, account, OrderStatus::Active))
        } else {
            let new = NewOrder::for_plan(
                &plan(3, "9.99", false),
                account,
                None,
                TaxRate::ZERO,
                at(2026, 1, 25),
            )
            .unwrap()
            .renewing(OrderId::new(10).unwrap());
            Ok(stored(&new, 11, OrderStatus::Pending, None))
        }
    });
    fx.activation
        .expect_activate_pending()
        .withf(|id, terms, _| {
            id.get() == 11
                && terms.activated_at == at(2026, 1, 31)
                && terms.expires_at == at(2026, 3, 1)
                && terms.payment_reference.as_deref() == Some("bank-123")
        })
        .times(1)
        .returning(|_, terms, _| {
            let new = NewOrder::for_plan(
                &plan(3, "9.99", false),
                AccountRef::User(user(2)),
                None,
                TaxRate::ZERO,
                at(2026, 1, 25),
            )
            .unwrap();
            Ok(stored(&new, 11, OrderStatus::Active, Some(&terms)))
        });
    let order = fx
        .service()
        .mark_paid(
            admin(),
            OrderId::new(11).unwrap(),
            Some(" bank-123 ".into()),
        )
        .await
        .unwrap();
    assert_eq!(order.payment_reference(), Some("bank-123"));
}

#[tokio::test]
async fn the_effective_plan_falls_back_to_the_default() {
    let mut fx = Fixture::new().buyer_in("DE");
    fx.orders.expect_active_for().returning(|_| Ok(None));
    fx.plans
        .expect_default_plan()
        .returning(|| Ok(Some(default_plan())));
    let current = fx.service().current_plan(admin(), user(2)).await.unwrap();
    assert_eq!(current.plan.as_ref().map(|p| p.name()), Some("Free"));
    assert!(current.order.is_none());
    assert_eq!(current.limits, *default_plan().limits());

    let mut fx = Fixture::new()
        .buyer_in("DE")
        .with_plan(plan(3, "9.99", false));
    fx.orders
        .expect_active_for()
        .returning(|account| Ok(Some(existing(10, account, OrderStatus::Active))));
    let current = fx.service().current_plan(admin(), user(2)).await.unwrap();
    assert_eq!(current.plan.map(|p| p.id().get()), Some(3));
    assert_eq!(current.order.map(|o| o.id().get()), Some(10));
}

#[tokio::test]
async fn cancel_plan_reports_when_there_is_nothing_to_cancel() {
    let mut fx = Fixture::new().buyer_in("DE");
    fx.orders.expect_active_for().returning(|_| Ok(None));
    fx.orders.expect_transition().never();
    assert!(!fx.service().cancel_plan(admin(), user(2)).await.unwrap());

    let mut fx = Fixture::new().buyer_in("DE");
    fx.orders
        .expect_active_for()
        .returning(|account| Ok(Some(existing(10, account, OrderStatus::Active))));
    fx.orders
        .expect_transition()
        .withf(|_, from, to, _, _| *from == OrderStatus::Active && *to == OrderStatus::Cancelled)
        .times(1)
        .returning(|_, _, _, _, _| {
            Ok(existing(
                10,
                AccountRef::User(user(2)),
                OrderStatus::Cancelled,
            ))
        });
    assert!(fx.service().cancel_plan(admin(), user(2)).await.unwrap());
}
