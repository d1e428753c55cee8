//! Two `tariff serve` processes on one PostgreSQL database, activating at once: each
//! numbers its activations in batches of its own, and the year's counter row orders the
//! batches of both. Every activation answered 2xx carries a number, the numbers are
//! 1..N without a gap or a duplicate, and every numbered order was acknowledged.
//! PostgreSQL only (SQLite is one process's file); skipped loudly without
//! `TEST_DATABASE_URL`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::BTreeSet;
use std::time::Duration;

use diesel::prelude::*;
use futures_util::future::join_all;
use serde_json::{json, Value};
use tariff_persistence::schema::orders;
use tariff_persistence::testing::seed_user;
use tariff_persistence::{Database, PoolOptions};
use tariff_tests::process::{cli_admin_token, run_cli, ServiceProcess};
use tariff_tests::TestDatabase;

/// Accounts only the first process activates, only the second, and both at once.
const EACH: usize = 40;
const SHARED: usize = 20;
/// Pending orders marked paid, half through each process.
const PAID: usize = 20;

async fn post(base: &str, token: &str, path: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(&body)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The sequence number of an invoice number `INV-<year>-<seq>`.
fn seq_of(number: &str) -> i64 {
    number.rsplit('-').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn two_processes_on_one_postgres_database_number_invoices_without_gaps() {
    let Some(database) = TestDatabase::postgres() else {
        return;
    };
    let url = database.url().to_owned();
    run_cli(&url, &["migrate"]).await;
    let admin = cli_admin_token(&url).await;
    let plans = tempfile::NamedTempFile::with_suffix(".json").unwrap();
    std::fs::write(
        plans.path(),
        r#"[{"name":"Pro","type":"paid","price":"9.99","currency":"EUR"},
            {"name":"Max","type":"paid","price":"19.99","currency":"EUR"}]"#,
    )
    .unwrap();
    run_cli(&url, &["plans", "import", plans.path().to_str().unwrap()]).await;
    let db = Database::connect(&url, &PoolOptions::default()).unwrap();
    let mut users = Vec::new();
    for i in 0..(2 * EACH + SHARED + PAID) {
        users.push(seed_user(&db, &format!("u{i}@example.com"), "user").await);
    }

    let first = ServiceProcess::start(&url, &[]).await;
    let second = ServiceProcess::start(&url, &[]).await;
    let listed: Vec<Value> = reqwest::get(first.url("/api/plans"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let plan = |name: &str| {
        listed.iter().find(|p| p["name"] == name).unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let (pro, max) = (plan("Pro"), plan("Max"));

    // Pending orders of their own for the accounts that are marked paid.
    let payers = &users[2 * EACH + SHARED..];
    let mut pending = Vec::new();
    for payer in payers {
        let (status, order) = post(
            &first.base_url,
            &payer.token,
            "/api/orders",
            json!({"planId": pro}),
        )
        .await;
        assert!(status == 200 || status == 201, "{status} {order}");
        pending.push(order["id"].as_i64().unwrap());
    }

    // Everything at once: apply-plan on each process for its own accounts, on both for
    // the shared ones (the same account from two processes), and mark-paid on both.
    let mut requests = Vec::new();
    for (i, user) in users[..2 * EACH + SHARED].iter().enumerate() {
        let path = format!("/api/admin/users/{}/apply-plan", user.id);
        let bases: Vec<&str> = if i < EACH {
            vec![&first.base_url]
        } else if i < 2 * EACH {
            vec![&second.base_url]
        } else {
            vec![&first.base_url, &second.base_url]
        };
        for (n, base) in bases.into_iter().enumerate() {
            let plan = if n == 0 { pro } else { max };
            requests.push((base.to_owned(), path.clone(), json!({"planId": plan})));
        }
    }
    for (i, id) in pending.iter().enumerate() {
        let base = if i % 2 == 0 {
            &first.base_url
        } else {
            &second.base_url
        };
        requests.push((
            base.clone(),
            format!("/api/admin/orders/{id}/mark-paid"),
            json!({"reference": format!("wire-{id}")}),
        ));
    }
    let answers = join_all(
        requests
            .iter()
            .map(|(base, path, body)| post(base, &admin, path, body.clone())),
    )
    .await;

    let mut acknowledged: BTreeSet<i64> = BTreeSet::new();
    let mut numbers: Vec<i64> = Vec::new();
    for ((_, path, _), (status, body)) in requests.iter().zip(&answers) {
        match status {
            200 => {
                // apply-plan answers `{order, ...}`, mark-paid the order itself.
                let order = if body["order"].is_object() {
                    &body["order"]
                } else {
                    body
                };
                let number = order["invoiceNumber"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{path}: {body}"));
                numbers.push(seq_of(number));
                acknowledged.insert(order["id"].as_i64().unwrap());
            }
            // Two processes activating one account at once: the one-active-order index
            // may refuse one (after the service's retry), as it should.
            409 if path.contains("apply-plan") => {}
            other => panic!("{path}: {other} {body}"),
        }
    }
    numbers.sort_unstable();
    let answered = numbers.len();
    assert!(
        answered >= 2 * EACH + SHARED + PAID,
        "only {answered} activations succeeded"
    );
    assert_eq!(
        numbers,
        (1..=answered as i64).collect::<Vec<_>>(),
        "gaps or duplicates"
    );

    // What is stored: exactly the acknowledged activations are numbered, 1..N.
    let stored: Vec<(i64, i64, String)> = db
        .query(|c| {
            Ok(c.load(
                orders::table
                    .filter(orders::invoice_seq.is_not_null())
                    .select((
                        orders::id,
                        orders::invoice_seq.assume_not_null(),
                        orders::invoice_number.assume_not_null(),
                    ))
                    .order(orders::invoice_seq.asc()),
            )?)
        })
        .await
        .unwrap();
    let stored_seqs: Vec<i64> = stored.iter().map(|(_, seq, _)| *seq).collect();
    assert_eq!(stored_seqs, numbers);
    for (id, seq, number) in &stored {
        assert!(
            acknowledged.contains(id),
            "order {id} numbered but not acknowledged"
        );
        assert_eq!(seq_of(number), *seq);
    }
    for service in [&first, &second] {
        let log = service.log();
        assert!(!log.contains("deadlock"), "a deadlock: {log}");
    }
}
