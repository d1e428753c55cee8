//! Crash safety of payments in the real binary, on SQLite and PostgreSQL: the process is
//! killed with SIGKILL while checkouts are being opened at a fake Stripe (between
//! Stripe's answer and Tariff's commit, for some of them) and while Stripe webhooks are
//! being applied, then restarted on the same database. Afterwards every order has one
//! checkout session at Stripe (the idempotency key makes the repeat return the first),
//! and, once Stripe's retries are delivered, every paid order exactly one succeeded
//! payment and one invoice number: no payment lost or doubled.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tariff_tests::fake_stripe::{
    checkout_session, event, signature, FakeStripe, SECRET_KEY, WEBHOOK_SECRET,
};
use tariff_tests::process::{cli_admin_token, run_cli, ServiceProcess};
use tariff_tests::TestDatabase;

const CUSTOMERS: usize = 4;
const ORDERS_EACH: usize = 12;

/// Posts until the service answers 2xx or `attempts` run out; the answer's body.
async fn post_until_ok(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    body: &str,
    signature_header: Option<&str>,
    attempts: usize,
) -> Option<Value> {
    for _ in 0..attempts {
        let mut request = client
            .post(url)
            .header("Content-Type", "application/json")
            .body(body.to_owned())
            .timeout(Duration::from_secs(10));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(header) = signature_header {
            request = request.header("Stripe-Signature", header);
        }
        match request.send().await {
            Ok(response) if response.status().is_success() => return response.json().await.ok(),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    None
}

/// A JSON decimal amount in a two-decimal currency as integer cents, read from its text.
fn cents(amount: &Value) -> i64 {
    let text = amount.to_string();
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let fraction = format!("{fraction:0<2}");
    whole.parse::<i64>().unwrap() * 100 + fraction[..2].parse::<i64>().unwrap()
}

fn payment_env(stripe: &FakeStripe) -> Vec<(&'static str, String)> {
    vec![
        ("TARIFF_PAYMENTS__STRIPE__SECRET_KEY", SECRET_KEY.to_owned()),
        (
            "TARIFF_PAYMENTS__STRIPE__WEBHOOK_SECRET",
            WEBHOOK_SECRET.to_owned(),
        ),
        ("TARIFF_PAYMENTS__STRIPE__API_BASE", stripe.base.clone()),
        (
            "TARIFF_PAYMENTS__SUCCESS_URL",
            "https://shop.example/ok".to_owned(),
        ),
        (
            "TARIFF_PAYMENTS__CANCEL_URL",
            "https://shop.example/back".to_owned(),
        ),
    ]
}

async fn crash_payments(database: TestDatabase) {
    let url = database.url().to_owned();
    run_cli(&url, &["migrate"]).await;
    let admin = cli_admin_token(&url).await;
    let plans = tempfile::NamedTempFile::with_suffix(".json").unwrap();
    std::fs::write(
        plans.path(),
        r#"[{"name":"Pro","type":"paid","price":"9.99","currency":"EUR","databases":0}]"#,
    )
    .unwrap();
    run_cli(&url, &["plans", "import", plans.path().to_str().unwrap()]).await;
    let mut tokens = Vec::new();
    for i in 0..CUSTOMERS {
        let email = format!("payer{i}@example.com");
        run_cli(
            &url,
            &["users", "create", "--email", &email, "--name", &email],
        )
        .await;
        tokens.push(
            run_cli(&url, &["tokens", "create", "--email", &email])
                .await
                .trim()
                .to_owned(),
        );
    }
    let stripe = FakeStripe::start().await;
    let env = payment_env(&stripe);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut service = ServiceProcess::start(&url, &env).await;
    let http = reqwest::Client::new();
    let listed: Vec<Value> = http
        .get(service.url("/api/plans"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pro = listed.iter().find(|p| p["name"] == "Pro").unwrap()["id"]
        .as_i64()
        .unwrap();

    // Pending orders, each with its owner's token.
    let mut orders: Vec<(i64, String, i64)> = Vec::new();
    for token in &tokens {
        for _ in 0..ORDERS_EACH {
            let placed = post_until_ok(
                &http,
                &service.url("/api/orders"),
                Some(token),
                &json!({"planId": pro}).to_string(),
                None,
                3,
            )
            .await
            .unwrap();
            let total = cents(&placed["amount"]);
            orders.push((placed["id"].as_i64().unwrap(), token.clone(), total));
        }
    }
    let orders = Arc::new(orders);

    // 1. Checkouts opened concurrently; SIGKILL while they are in flight.
    let openers: Vec<_> = (0..orders.len())
        .map(|i| {
            let orders = orders.clone();
            let base = service.base_url.clone();
            tokio::spawn(async move {
                let (id, token, _) = &orders[i];
                let _ = reqwest::Client::new()
                    .post(format!("{base}/api/orders/{id}/checkout"))
                    .bearer_auth(token)
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await;
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(40)).await;
    service.kill().await;
    for opener in openers {
        opener.await.unwrap();
    }
    service = service.restart().await;
    let mut sessions = BTreeMap::new();
    for (id, token, _) in orders.iter() {
        let page = post_until_ok(
            &http,
            &service.url(&format!("/api/orders/{id}/checkout")),
            Some(token),
            "{}",
            None,
            5,
        )
        .await
        .unwrap_or_else(|| panic!("checkout of order {id} after the restart"));
        sessions.insert(*id, page["sessionId"].as_str().unwrap().to_owned());
    }
    // Stripe created exactly one session per order, and Tariff hands out that one.
    let mut created: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
    for request in stripe.requests_to("/v1/checkout/sessions") {
        let order: i64 = request
            .field("client_reference_id")
            .unwrap()
            .parse()
            .unwrap();
        created
            .entry(order)
            .or_default()
            .insert(request.header("idempotency-key").unwrap().to_owned());
    }
    for (id, session) in &sessions {
        let keys = created.get(id).cloned().unwrap_or_default();
        assert_eq!(
            keys.len(),
            1,
            "order {id}: one idempotency key, got {keys:?}"
        );
        assert!(session.starts_with("cs_test_fake"), "{session}");
    }
    let distinct: BTreeSet<&String> = sessions.values().collect();
    assert_eq!(distinct.len(), orders.len(), "one session per order");

    // 2. Stripe's webhooks for every order, delivered again and again by several
    // clients (as Stripe retries); SIGKILL mid-stream.
    let now = chrono::Utc::now().timestamp();
    let events: Arc<Vec<(String, String)>> = Arc::new(
        orders
            .iter()
            .map(|(id, _, total)| {
                let body = event(
                    &format!("evt_crash_{id}"),
                    "checkout.session.completed",
                    checkout_session(*id, *total, "eur", "paid", &format!("pi_crash_{id}")),
                );
                let header = signature(WEBHOOK_SECRET, now, &body);
                (body, header)
            })
            .collect(),
    );
    let deliverers: Vec<_> = (0..6)
        .map(|n| {
            let events = events.clone();
            let url = service.url("/api/webhooks/stripe");
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut failures = 0;
                let mut i = n * 7;
                while failures < 3 {
                    let (body, header) = &events[i % events.len()];
                    i += 1;
                    let sent = client
                        .post(&url)
                        .header("Content-Type", "application/json")
                        .header("Stripe-Signature", header)
                        .body(body.clone())
                        .timeout(Duration::from_secs(10))
                        .send()
                        .await;
                    if sent.is_err() {
                        failures += 1;
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(60)).await;
    service.kill().await;
    for deliverer in deliverers {
        tokio::time::timeout(Duration::from_secs(30), deliverer)
            .await
            .expect("a deliverer hung after the kill")
            .unwrap();
    }
    service = service.restart().await;
    // Stripe retries every event until it is answered 2xx.
    for (body, header) in events.iter() {
        post_until_ok(
            &http,
            &service.url("/api/webhooks/stripe"),
            None,
            body,
            Some(header),
            5,
        )
        .await
        .expect("a webhook after the restart");
    }

    let mut numbers = BTreeSet::new();
    for (id, token, total) in orders.iter() {
        let order: Value = http
            .get(service.url(&format!("/api/orders/{id}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let order = order.get("order").cloned().unwrap_or(order);
        let number = order["invoiceNumber"]
            .as_str()
            .unwrap_or_else(|| panic!("order {id} was paid but has no invoice: {order}"));
        assert!(numbers.insert(number.to_owned()), "number {number} twice");
        assert!(order["paidAt"].is_string(), "{order}");
        let payments: Vec<Value> = http
            .get(service.url(&format!("/api/orders/{id}/payments")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(payments.len(), 1, "order {id}: {payments:?}");
        assert_eq!(payments[0]["status"], "succeeded");
        assert_eq!(cents(&payments[0]["amount"]), *total);
    }
    // Each account ends on its last paid order; the others were replaced.
    let active = http
        .get(service.url("/api/admin/orders?status=active&per_page=100"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        active["data"].as_array().unwrap().len(),
        CUSTOMERS,
        "{active}"
    );
    println!(
        "CRASH payments ({}): {} orders, one session and one payment each after two SIGKILLs",
        database.backend().name(),
        orders.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_payment_is_lost_or_doubled_by_sigkill_on_sqlite() {
    crash_payments(TestDatabase::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_payment_is_lost_or_doubled_by_sigkill_on_postgres() {
    let Some(database) = TestDatabase::postgres() else {
        return;
    };
    crash_payments(database).await;
}
