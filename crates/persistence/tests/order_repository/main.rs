//! The order repository against real databases: SQLite always, PostgreSQL when
//! `TEST_DATABASE_URL` is set (each test in a fresh schema).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use diesel::prelude::*;
use tariff_domain::catalogue::PlanRepository;
use tariff_domain::orders::{
    Activation, BillingDirectory, InvoiceNumberFormat, LifecycleStore, NewOrder, OrderActivation,
    OrderFilter, OrderRepository, OrderStatus, SellerDetails,
};
use tariff_domain::settings::SettingsRepository;
use tariff_domain::shared::PageRequest;
use tariff_domain::{AccountRef, OrgId, Plan, PlanDraft, PlanSpec, RepoError, TaxRate, UserId};
use tariff_persistence::schema::{org_members, organisations, users};
use tariff_persistence::testing::{seed_user, TestDatabase};
use tariff_persistence::{
    Database, DieselOrderRepository, DieselPlanRepository, DieselSettingsRepository, PoolOptions,
};

mod batches;
mod lifecycle;
mod status_counts;

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 10, 0, 0).unwrap()
}

struct Fixture {
    db: Database,
    repo: DieselOrderRepository,
    pro: Plan,
    free: Plan,
}

async fn open(test_db: &TestDatabase) -> Fixture {
    let db = Database::connect(test_db.url(), &PoolOptions::default()).unwrap();
    db.migrate().await.unwrap();
    let plans = DieselPlanRepository::new(db.clone());
    let spec = |name: &str, price: &str| {
        PlanSpec::new(PlanDraft {
            name: name.into(),
            price: price.into(),
            ..PlanDraft::default()
        })
        .unwrap()
    };
    let pro = plans.create(spec("Pro", "9.99"), None).await.unwrap();
    let free = plans.create(spec("Hobby", "0"), None).await.unwrap();
    Fixture {
        repo: DieselOrderRepository::new(db.clone()),
        db,
        pro,
        free,
    }
}

impl Fixture {
    async fn user(&self, email: &str, country: &str) -> UserId {
        let seeded = seed_user(&self.db, email, "user").await;
        let id = seeded.id;
        let country = country.to_owned();
        self.db
            .query(move |c| {
                c.execute(diesel::update(users::table.find(id)).set((
                    users::country.eq(country),
                    users::city.eq("Berlin"),
                    users::address_line1.eq("Old Street 1"),
                )))?;
                Ok(())
            })
            .await
            .unwrap();
        UserId::new(id).unwrap()
    }

    async fn org(&self, name: &str, owner: UserId) -> OrgId {
        let name = name.to_owned();
        let id: i64 = self
            .db
            .query(move |c| {
                let now = Utc::now().naive_utc();
                let id: i64 = c.get_result(
                    diesel::insert_into(organisations::table)
                        .values((
                            organisations::name.eq(&name),
                            organisations::country.eq("FR"),
                            organisations::created_at.eq(now),
                        ))
                        .returning(organisations::id),
                )?;
                c.execute(diesel::insert_into(org_members::table).values((
                    org_members::org_id.eq(id),
                    org_members::user_id.eq(owner.get()),
                    org_members::role.eq("owner"),
                    org_members::created_at.eq(now),
                )))?;
                Ok(id)
            })
            .await
            .unwrap();
        OrgId::new(id).unwrap()
    }

    fn order(
        &self,
        plan: &Plan,
        account: AccountRef,
        placed_by: Option<UserId>,
        created: DateTime<Utc>,
    ) -> NewOrder {
        NewOrder::for_plan(
            plan,
            account,
            placed_by,
            TaxRate::parse_percent("19").unwrap(),
            created,
        )
        .unwrap()
    }
}

fn terms(activated: DateTime<Utc>, expires: DateTime<Utc>) -> Activation {
    Activation {
        activated_at: activated,
        expires_at: expires,
        payment_reference: None,
        seller: SellerDetails {
            company_name: "Seller Co".into(),
            issued_from_name: "Seller Billing".into(),
            issued_from_address: "1 Main St\nSpringfield".into(),
            logo_path: Some("/logo.png".into()),
        },
        numbering: InvoiceNumberFormat::default(),
    }
}

#[tokio::test]
async fn a_pending_order_round_trips_with_its_lines_and_tax() {
    for test_db in TestDatabase::all() {
        let fx = open(&test_db).await;
        let user = fx.user("a@example.com", "DE").await;
        let new = fx.order(&fx.pro, AccountRef::User(user), None, at(2026, 11, 21));
        let stored = fx.repo.insert_pending(new.clone()).await.unwrap();
        assert_eq!(stored.status(), OrderStatus::Pending);
        assert_eq!(stored.charges(), new.charges());
        assert_eq!(stored.charges().total().minor(), 1189);
        assert_eq!(stored.created_at(), at(2026, 11, 21));
        assert_eq!(stored.placed_by(), Some(user));
        assert_eq!(stored.invoice(), None);
        assert_eq!(fx.repo.get(stored.id()).await.unwrap(), stored);
        assert!(matches!(
            fx.repo
                .get(tariff_domain::OrderId::new(9999).unwrap())
                .await,
            Err(RepoError::NotFound)
        ));
        let buyer = fx
            .repo
            .billing_details(AccountRef::User(user))
            .await
            .unwrap();
        assert_eq!(buyer.address.country_code(), Some("DE"));
        assert_eq!(buyer.email.as_deref(), Some("a@example.com"));
        assert!(matches!(
            fx.repo
                .billing_details(AccountRef::User(UserId::new(9999).unwrap()))
                .await,
            Err(RepoError::NotFound)
        ));
    }
}

#[tokio::test]
async fn activation_numbers_replaces_and_freezes_the_snapshot() {
    for test_db in TestDatabase::all() {
        let fx = open(&test_db).await;
        let user = fx.user("b@example.com", "DE").await;
        let account = AccountRef::User(user);
        let first = fx
            .repo
            .create_active(
                fx.order(&fx.pro, account, None, at(2026, 3, 1)),
                terms(at(2026, 3, 1), at(2026, 4, 1)),
                None,
            )
            .await
            .unwrap();
        assert_eq!(first.status(), OrderStatus::Active);
        assert_eq!(first.invoice_number(), Some("INV-2026-000001"));
        let snapshot = &first.invoice().unwrap().snapshot;
        assert_eq!(snapshot.seller.company_name, "Seller Co");
        assert_eq!(snapshot.buyer.address.line1(), Some("Old Street 1"));

        // The buyer moves; the issued invoice keeps the old address.
        let id = user.get();
        fx.db
            .query(move |c| {
                c.execute(
                    diesel::update(users::table.find(id))
                        .set(users::address_line1.eq("New Road 2")),
                )?;
                Ok(())
            })
            .await
            .unwrap();
        let pending = fx
            .repo
            .insert_pending(fx.order(&fx.pro, account, None, at(2026, 3, 2)))
            .await
            .unwrap();
        let mut paid_terms = terms(at(2026, 3, 5), at(2026, 4, 5));
        paid_terms.payment_reference = Some("bank-42".into());
        let second = fx
            .repo
            .activate_pending(pending.id(), paid_terms, None)
            .await
            .unwrap();
        assert_eq!(second.invoice_number(), Some("INV-2026-000002"));
        assert_eq!(second.payment_reference(), Some("bank-42"));
        assert_eq!(
            second.invoice().unwrap().snapshot.buyer.address.line1(),
            Some("New Road 2")
        );
        let first_again = fx.repo.get(first.id()).await.unwrap();
        assert_eq!(first_again.status(), OrderStatus::Cancelled);
        assert_eq!(first_again.cancelled_at(), Some(at(2026, 3, 5)));
        assert_eq!(
            first_again.notes(),
            Some(format!("replaced by order #{}", second.id()).as_str())
        );
        assert_eq!(first_again.invoice_number(), Some("INV-2026-000001")); // never reused
        assert_eq!(first_again.invoice(), first.invoice());
        assert_eq!(
            fx.repo.active_for(account).await.unwrap().map(|o| o.id()),
            Some(second.id())
        );

        // Not pending any more: refused, nothing changes.
        let again = fx
            .repo
            .activate_pending(second.id(), terms(at(2026, 3, 6), at(2026, 4, 6)), None)
            .await;
        assert!(matches!(again, Err(RepoError::Conflict(_))), "{again:?}");
        assert!(matches!(
            fx.repo
                .activate_pending(
                    tariff_domain::OrderId::new(9999).unwrap(),
                    terms(at(2026, 3, 6), at(2026, 4, 6)),
                    None
                )
                .await,
            Err(RepoError::NotFound)
        ));

        // A new year starts a new sequence.
        let next_year = fx
            .repo
            .create_active(
                fx.order(&fx.free, account, None, at(2027, 1, 2)),
                terms(at(2027, 1, 2), at(2027, 2, 2)),
                None,
            )
            .await
            .unwrap();
        assert_eq!(next_year.invoice_number(), Some("INV-2027-000001"));
    }
}

/// The audit row of an activation holds the order exactly as numbered, whatever the
/// number format: PostgreSQL writes number and audit row in one statement for formats
/// with one sequence number, and in steps otherwise.
#[tokio::test]
async fn activation_audit_records_the_order_as_numbered() {
    use tariff_domain::audit::{
        Actor, AuditAction, AuditEntry, AuditFilter, AuditRepository, OrderSnapshot, TargetKind,
    };
    use tariff_persistence::DieselAuditRepository;
    // A snapshot as the log stores and reads it back.
    let recorded = |state: OrderSnapshot| serde_json::to_value(state).unwrap();

    for test_db in TestDatabase::all() {
        let fx = open(&test_db).await;
        let admin = fx.user("admin@example.com", "DE").await;
        let audit_log = DieselAuditRepository::new(fx.db.clone());
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
            let entry =
                || AuditEntry::on_account(Actor::User(admin), AuditAction::PlanApply, account);
            let first = fx
                .repo
                .create_active(
                    fx.order(&fx.pro, account, None, at(2026, 3, 1)),
                    terms.clone(),
                    Some(entry()),
                )
                .await
                .unwrap();
            let second = fx
                .repo
                .create_active(
                    fx.order(&fx.free, account, None, at(2026, 3, 2)),
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

            let page = audit_log
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
}

#[tokio::test]
async fn transitions_are_conditional() {
    for test_db in TestDatabase::all() {
        let fx = open(&test_db).await;
        let user = fx.user("c@example.com", "DE").await;
        let order = fx
            .repo
            .insert_pending(fx.order(&fx.pro, AccountRef::User(user), None, at(2026, 1, 1)))
            .await
            .unwrap();
        let cancelled = fx
            .repo
            .transition(
                order.id(),
                OrderStatus::Pending,
                OrderStatus::Cancelled,
                at(2026, 1, 2),
                None,
            )
            .await
            .unwrap();
        assert_eq!(cancelled.status(), OrderStatus::Cancelled);
        assert_eq!(cancelled.cancelled_at(), Some(at(2026, 1, 2)));
        let again = fx
            .repo
            .transition(
                order.id(),
                OrderStatus::Pending,
                OrderStatus::Cancelled,
                at(2026, 1, 3),
                None,
            )
            .await;
        assert!(matches!(again, Err(RepoError::Conflict(_))), "{again:?}");
        let missing = fx
            .repo
            .transition(
                tariff_domain::OrderId::new(999).unwrap(),
                OrderStatus::Pending,
                OrderStatus::Cancelled,
                at(2026, 1, 3),
                None,
            )
            .await;
        assert!(matches!(missing, Err(RepoError::NotFound)), "{missing:?}");
    }
}

#[tokio::test]
async fn lists_and_searches() {
    for test_db in TestDatabase::all() {
        let fx = open(&test_db).await;
        let alice = fx.user("alice@example.com", "DE").await;
        let bob = fx.user("bob@example.com", "US").await;
        let org = fx.org("Acme", alice).await;
        let a1 = fx
            .repo
            .insert_pending(fx.order(&fx.pro, AccountRef::User(alice), None, at(2026, 1, 1)))
            .await
            .unwrap();
        let b1 = fx
            .repo
            .insert_pending(fx.order(&fx.pro, AccountRef::User(bob), None, at(2026, 1, 2)))
            .await
            .unwrap();
        let o1 = fx
            .repo
            .create_active(
                fx.order(&fx.pro, AccountRef::Org(org), Some(alice), at(2026, 1, 3)),
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

        let mine: Vec<_> = fx
            .repo
            .list_for_accounts(vec![AccountRef::User(alice), AccountRef::Org(org)])
            .await
            .unwrap()
            .iter()
            .map(|o| o.id())
            .collect();
        assert_eq!(mine, vec![o1.id(), a1.id()]); // newest first, never Bob's
        let bobs: Vec<_> = fx
            .repo
            .list_for_accounts(vec![AccountRef::User(bob)])
            .await
            .unwrap()
            .iter()
            .map(|o| o.id())
            .collect();
        assert_eq!(bobs, vec![b1.id()]);

        let all = fx
            .repo
            .search(OrderFilter::default(), PageRequest::new(1, 2).unwrap())
            .await
            .unwrap();
        assert_eq!(all.total, 3);
        assert_eq!(all.items.len(), 2);
        let page2 = fx
            .repo
            .search(OrderFilter::default(), PageRequest::new(2, 2).unwrap())
            .await
            .unwrap();
        assert_eq!(
            page2.items.iter().map(|o| o.id()).collect::<Vec<_>>(),
            vec![a1.id()]
        );
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
        assert_eq!(
            active.items.iter().map(|o| o.id()).collect::<Vec<_>>(),
            vec![o1.id()]
        );
        let by_alice = fx
            .repo
            .search(
                OrderFilter {
                    user: Some(alice),
                    ..OrderFilter::default()
                },
                PageRequest::default(),
            )
            .await
            .unwrap();
        assert_eq!(by_alice.total, 2); // her own and the one she placed for Acme
        let by_org = fx
            .repo
            .search(
                OrderFilter {
                    org: Some(org),
                    status: Some(OrderStatus::Pending),
                    ..OrderFilter::default()
                },
                PageRequest::default(),
            )
            .await
            .unwrap();
        assert_eq!(by_org.total, 0);
    }
}

#[tokio::test]
async fn the_billing_switch_is_stored_and_versioned() {
    for test_db in TestDatabase::all() {
        let fx = open(&test_db).await;
        let settings = DieselSettingsRepository::new(fx.db.clone());
        assert!(settings.billing_enabled().await.unwrap());
        let before = settings.settings_version().await.unwrap();
        let after = settings.set_billing_enabled(false, None).await.unwrap();
        assert_eq!(after, before + 1);
        assert_eq!(settings.settings_version().await.unwrap(), after);
        assert!(!settings.billing_enabled().await.unwrap());
        settings.set_billing_enabled(true, None).await.unwrap();
        assert!(settings.billing_enabled().await.unwrap());
    }
}
