//! Many activations at once, some of which fail after their invoice number was asked
//! for: on PostgreSQL they share batches (each activation in its own savepoint, the
//! batch numbered at once), on SQLite the writer's batches.

use std::collections::BTreeSet;
use std::sync::Arc;

use diesel::sql_types::{BigInt, Text};
use tariff_domain::audit::{Actor, AuditAction, AuditEntry};
use tariff_domain::catalogue::limits::Limits;
use tariff_domain::orders::{Order, OrderActivation, OrderRepository};
use tariff_domain::webhooks::EventPayloads;
use tariff_domain::{AccountRef, OrderId, Plan, RepoError};
use tariff_persistence::testing::TestDatabase;
use tariff_persistence::{Backend, DieselOrderRepository};

use super::{at, open, terms};

/// Just enough of the API's JSON for the test: the order's number.
struct NumberPayloads;

impl EventPayloads for NumberPayloads {
    fn plan(&self, plan: &Plan) -> serde_json::Value {
        serde_json::json!({ "id": plan.id().get() })
    }

    fn order(&self, order: &Order, _plan: &Plan) -> serde_json::Value {
        serde_json::json!({ "id": order.id().get(), "invoiceNumber": order.invoice_number() })
    }

    fn limits(&self, _limits: &Limits) -> serde_json::Value {
        serde_json::json!({})
    }
}

/// Makes the audit insert of an activation for one of `accounts` fail: the order's
/// number was already asked for by then, so its activation fails after it.
fn refuse_audits_of(test_db: &TestDatabase, accounts: &[i64]) -> String {
    let list = accounts
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    match test_db.backend() {
        Backend::Sqlite => format!(
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log \
             WHEN NEW.target_id IN ({list}) BEGIN SELECT RAISE(ABORT, 'refused'); END;"
        ),
        Backend::Postgres => format!(
            "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF NEW.target_id IN ({list}) THEN RAISE EXCEPTION 'refused'; END IF; \
             RETURN NEW; END $$; \
             CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log \
             FOR EACH ROW EXECUTE FUNCTION refuse_audit();"
        ),
    }
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(diesel::QueryableByName)]
struct Body {
    #[diesel(sql_type = Text)]
    body: String,
}

#[tokio::test]
async fn a_failed_activation_in_a_batch_takes_no_number_and_the_others_are_gapless() {
    for test_db in TestDatabase::all() {
        let fx = open(&test_db).await;
        let repo = Arc::new(DieselOrderRepository::with_events(
            fx.db.clone(),
            Arc::new(NumberPayloads),
        ));
        let admin = fx.user("admin@example.com", "DE").await;
        let mut users = Vec::new();
        for n in 0..40 {
            users.push(fx.user(&format!("u{n}@example.com"), "DE").await);
        }
        // Every fourth account's activations fail.
        let refused: Vec<i64> = users.iter().step_by(4).map(|u| u.get()).collect();
        let sql = refuse_audits_of(&test_db, &refused);
        fx.db
            .query(move |c| Ok(c.batch_execute(&sql)?))
            .await
            .unwrap();

        // Two activations per account, all at once: the second replaces the first, in
        // the same batch (while the first's number is still a placeholder) or a later one.
        let mut tasks = Vec::new();
        for round in 0..2 {
            for &user in &users {
                let (repo, order) = (
                    Arc::clone(&repo),
                    fx.order(
                        &fx.pro,
                        AccountRef::User(user),
                        None,
                        at(2026, 5, 1 + round),
                    ),
                );
                let entry = AuditEntry::on_account(
                    Actor::User(admin),
                    AuditAction::PlanApply,
                    AccountRef::User(user),
                );
                tasks.push((
                    user,
                    tokio::spawn(async move {
                        repo.create_active(
                            order,
                            terms(at(2026, 5, 1), at(2026, 6, 1)),
                            Some(entry),
                        )
                        .await
                    }),
                ));
            }
        }
        let mut numbered: Vec<Order> = Vec::new();
        for (user, task) in tasks {
            match task.await.unwrap() {
                Ok(order) => {
                    assert!(
                        !refused.contains(&user.get()),
                        "a refused activation succeeded"
                    );
                    numbered.push(order);
                }
                Err(RepoError::Internal(_)) if refused.contains(&user.get()) => {}
                Err(other) => panic!("{}: {other:?}", test_db.url()),
            }
        }
        assert_eq!(numbered.len(), 60);

        // Gapless and unique, and what each caller heard is what was committed.
        let mut seqs: Vec<i64> = numbered.iter().map(|o| o.invoice().unwrap().seq).collect();
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=60).collect::<Vec<_>>(), "{}", test_db.url());
        let numbers: BTreeSet<&str> = numbered.iter().filter_map(Order::invoice_number).collect();
        assert_eq!(numbers.len(), 60);
        for order in &numbered {
            let stored = repo.get(order.id()).await.unwrap();
            assert_eq!(stored.invoice(), order.invoice());
            assert_eq!(
                stored.invoice_number(),
                Some(format!("INV-2026-{:06}", order.invoice().unwrap().seq).as_str())
            );
        }
        for &user in &users {
            let active = repo.active_for(AccountRef::User(user)).await.unwrap();
            assert_eq!(active.is_none(), refused.contains(&user.get()));
        }

        // The numbers reached the audit log and the events too.
        let counts = fx
            .db
            .query(|c| {
                let count = |c: &mut tariff_persistence::DbConn<'_>, sql: &str| {
                    let rows: Vec<Count> = c.load(diesel::sql_query(sql))?;
                    Ok::<i64, tariff_persistence::errors::DbError>(rows[0].n)
                };
                Ok((
                    count(
                        c,
                        "SELECT count(*) AS n FROM audit_log WHERE after_state LIKE '%~%'",
                    )?,
                    count(
                        c,
                        "SELECT count(*) AS n FROM webhook_events WHERE body LIKE '%~%'",
                    )?,
                    count(
                        c,
                        "SELECT count(*) AS n FROM audit_log \
                         WHERE after_state LIKE '%INV-2026-0000%'",
                    )?,
                ))
            })
            .await
            .unwrap();
        // Each activation's own audit entry shows its number; the second activation's
        // "before" shows the first's.
        assert_eq!(counts, (0, 0, 60), "{}", test_db.url());
        let issued: Vec<Body> = fx
            .db
            .query(|c| {
                Ok(c.load(diesel::sql_query(
                    "SELECT body FROM webhook_events WHERE event_type = 'invoice.issued'",
                ))?)
            })
            .await
            .unwrap();
        let mut announced: BTreeSet<String> = BTreeSet::new();
        for event in issued {
            let body: serde_json::Value = serde_json::from_str(&event.body).unwrap();
            let data = &body["data"];
            assert_eq!(data["invoiceNumber"], data["order"]["invoiceNumber"]);
            let id = OrderId::new(data["order"]["id"].as_i64().unwrap()).unwrap();
            let order = numbered.iter().find(|o| o.id() == id).unwrap();
            assert_eq!(data["invoiceNumber"].as_str(), order.invoice_number());
            announced.insert(data["invoiceNumber"].as_str().unwrap().to_owned());
        }
        assert_eq!(announced.len(), 60);
    }
}
