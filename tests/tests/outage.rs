//! Database outage: the real binary on a PostgreSQL cluster this test owns. With the
//! cluster stopped, `/readyz` fails and API calls answer 503 `database_unavailable`
//! quickly instead of hanging; when it comes back, the service recovers on its own.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::time::{Duration, Instant};

use tariff_tests::pg_cluster::PgCluster;
use tariff_tests::process::{cli_admin_token, run_cli, ServiceProcess};

/// The contract: a call answers 503 within this time while the database is down.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);

struct Probe {
    status: u16,
    body: serde_json::Value,
    took: Duration,
}

async fn probe(client: &reqwest::Client, url: &str, token: Option<&str>) -> Probe {
    let started = Instant::now();
    let mut request = client.get(url).timeout(Duration::from_secs(30));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    Probe {
        status,
        body,
        took: started.elapsed(),
    }
}

/// Polls until `url` answers `status`; returns the time it took from `since`.
async fn until_status(
    client: &reqwest::Client,
    url: &str,
    status: u16,
    since: Instant,
    limit: Duration,
) -> Duration {
    loop {
        let answer = probe(client, url, None).await;
        if answer.status == status {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < limit,
            "{url} still answers {} {} after {limit:?}",
            answer.status,
            answer.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn service_answers_503_during_an_outage_and_recovers_without_restart() {
    let Some(cluster) = PgCluster::create() else {
        return;
    };
    let url = cluster.url();
    run_cli(&url, &["migrate"]).await;
    let token = cli_admin_token(&url).await;
    let token = token.as_str();
    let service = ServiceProcess::start(&url, &[]).await;
    let client = reqwest::Client::new();
    let plans: serde_json::Value = client
        .get(service.url("/api/plans"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let plan_url = service.url(&format!("/api/plans/{}", plans[0]["id"]));
    let ready_url = service.url("/readyz");
    assert_eq!(probe(&client, &ready_url, None).await.status, 200);
    assert_eq!(probe(&client, &plan_url, None).await.status, 200);
    let quota_url = service.url("/api/users/1/quota");
    assert_eq!(probe(&client, &quota_url, Some(token)).await.status, 200);

    // Take the database away.
    cluster.stop();
    let down = Instant::now();
    let (to_unready, to_503) = tokio::join!(
        until_status(&client, &ready_url, 503, down, Duration::from_secs(10)),
        until_status(&client, &plan_url, 503, down, Duration::from_secs(10)),
    );

    // While it is down, every call answers quickly with the contract's error, also
    // when many arrive at once (more than the pool has connections).
    let calls = (0..12).map(|i| {
        let client = client.clone();
        let (url, token) = match i % 3 {
            0 => (ready_url.clone(), None),
            1 => (plan_url.clone(), None),
            // Authenticated: a credential that cannot be checked is a 503, never a 401.
            _ => (quota_url.clone(), Some(token.to_owned())),
        };
        async move { probe(&client, &url, token.as_deref()).await }
    });
    let answers = futures_util::future::join_all(calls).await;
    let slowest = answers.iter().map(|a| a.took).max().unwrap();
    for answer in &answers {
        assert_eq!(answer.status, 503, "{}", answer.body);
        assert_eq!(
            answer.body["error"], "database_unavailable",
            "{}",
            answer.body
        );
        let text = answer.body.to_string().to_lowercase();
        for leak in ["connection refused", "postgres", "r2d2", "diesel", "5432"] {
            assert!(!text.contains(leak), "error body leaks {leak}: {text}");
        }
    }
    assert!(
        slowest <= ANSWER_WITHIN,
        "a call took {slowest:?} to answer during the outage"
    );

    // Give it back: the same process recovers by itself.
    cluster.start();
    let up = Instant::now();
    let (to_ready, to_recovered) = tokio::join!(
        until_status(&client, &ready_url, 200, up, Duration::from_secs(15)),
        until_status(&client, &plan_url, 200, up, Duration::from_secs(15)),
    );
    assert_eq!(probe(&client, &quota_url, Some(token)).await.status, 200);

    println!(
        "OUTAGE FIGURES: /readyz failed after {:.2}s, API 503 after {:.2}s, slowest answer while down {:.2}s; \
         after restart of PostgreSQL: ready after {:.2}s, API 200 after {:.2}s",
        to_unready.as_secs_f64(),
        to_503.as_secs_f64(),
        slowest.as_secs_f64(),
        to_ready.as_secs_f64(),
        to_recovered.as_secs_f64()
    );
    assert!(to_503 <= ANSWER_WITHIN, "first 503 only after {to_503:?}");
    assert!(
        to_unready <= ANSWER_WITHIN,
        "/readyz failed only after {to_unready:?}"
    );
}
