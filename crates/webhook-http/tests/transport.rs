//! The HTTP transport against a real receiver on port 0.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod support;

use std::time::{Duration, Instant};

use chrono::Utc;
use support::receiver::{Mode, Receiver};
use tariff_domain::webhooks::{
    sign, EndpointUrl, EventId, OutgoingRequest, TransportError, WebhookSecret, WebhookTransport,
};
use tariff_webhook_http::{HttpTransport, MAX_EXCERPT_BYTES};

fn request(url: &str, secrets: &[WebhookSecret], body: &str, timeout: Duration) -> OutgoingRequest {
    let id = EventId::generate();
    OutgoingRequest {
        url: EndpointUrl::parse(url).unwrap(),
        headers: sign(
            secrets,
            id.as_str(),
            Utc::now().timestamp(),
            body.as_bytes(),
        ),
        body: body.to_owned(),
        timeout,
    }
}

#[tokio::test]
async fn posts_signed_json_that_the_receiver_verifies() {
    let secret = WebhookSecret::generate();
    let receiver = Receiver::start(vec![secret.clone()], Mode::Accept).await;
    let transport = HttpTransport::new().unwrap();
    let body = r#"{"id":"evt_1","type":"plan.created","data":{"name":"Pro ✓"}}"#;
    let sent = request(&receiver.url(), &[secret], body, Duration::from_secs(5));

    let answer = transport.post(sent.clone()).await.unwrap();

    assert_eq!(answer.status, 200);
    assert_eq!(answer.body_excerpt, "ok");
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    let got = &got[0];
    assert!(got.verified, "the receiver verified the signature");
    assert_eq!(got.path, "/hooks/tariff");
    assert_eq!(got.body, body.as_bytes(), "the body arrives byte for byte");
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(got.header("webhook-id"), Some(sent.headers.id.as_str()));
    assert_eq!(
        got.header("webhook-timestamp"),
        Some(sent.headers.timestamp.as_str())
    );
    assert_eq!(
        got.header("webhook-signature"),
        Some(sent.headers.signature.as_str())
    );
}

#[tokio::test]
async fn a_wrong_secret_is_refused_by_the_receiver_and_reported_as_its_answer() {
    let receiver = Receiver::start(vec![WebhookSecret::generate()], Mode::Accept).await;
    let transport = HttpTransport::new().unwrap();
    let sent = request(
        &receiver.url(),
        &[WebhookSecret::generate()],
        "{}",
        Duration::from_secs(5),
    );

    let answer = transport.post(sent).await.unwrap();

    assert_eq!(answer.status, 401);
    assert_eq!(answer.body_excerpt, "bad signature");
    assert!(!receiver.received()[0].verified);
}

#[tokio::test]
async fn during_rotation_a_receiver_with_either_secret_verifies() {
    let old = WebhookSecret::generate();
    let new = WebhookSecret::generate();
    let transport = HttpTransport::new().unwrap();
    for known in [old.clone(), new.clone()] {
        let receiver = Receiver::start(vec![known], Mode::Accept).await;
        let sent = request(
            &receiver.url(),
            &[new.clone(), old.clone()],
            "{}",
            Duration::from_secs(5),
        );
        assert_eq!(transport.post(sent).await.unwrap().status, 200);
        assert!(receiver.received()[0].verified);
    }
}

#[tokio::test]
async fn error_answers_are_answers_with_a_bounded_excerpt() {
    let secret = WebhookSecret::generate();
    let huge = "x".repeat(200_000);
    let receiver = Receiver::start(
        vec![secret.clone()],
        Mode::Answer {
            status: 500,
            body: huge,
        },
    )
    .await;
    let transport = HttpTransport::new().unwrap();

    let answer = transport
        .post(request(
            &receiver.url(),
            &[secret],
            "{}",
            Duration::from_secs(5),
        ))
        .await
        .unwrap();

    assert_eq!(answer.status, 500);
    assert_eq!(answer.body_excerpt.len(), MAX_EXCERPT_BYTES);
    assert!(answer.body_excerpt.bytes().all(|b| b == b'x'));
}

#[tokio::test]
async fn redirects_are_answers_and_are_not_followed() {
    let secret = WebhookSecret::generate();
    let receiver = Receiver::start(vec![secret.clone()], Mode::Redirect).await;
    let transport = HttpTransport::new().unwrap();

    let answer = transport
        .post(request(
            &receiver.url(),
            &[secret],
            "{}",
            Duration::from_secs(5),
        ))
        .await
        .unwrap();

    assert_eq!(answer.status, 302);
    let got = receiver.received();
    assert_eq!(got.len(), 1, "the redirect was not followed");
    assert_eq!(got[0].path, "/hooks/tariff");
}

#[tokio::test]
async fn a_receiver_slower_than_the_timeout_is_a_timeout() {
    let secret = WebhookSecret::generate();
    let receiver = Receiver::start(vec![secret.clone()], Mode::Slow(Duration::from_secs(3))).await;
    let transport = HttpTransport::new().unwrap();
    let started = Instant::now();

    let error = transport
        .post(request(
            &receiver.url(),
            &[secret],
            "{}",
            Duration::from_millis(300),
        ))
        .await
        .unwrap_err();

    assert_eq!(error, TransportError::Timeout);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(2),
        "took {took:?}"
    );
}

#[tokio::test]
async fn a_closed_port_is_a_connection_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    drop(listener);
    let transport = HttpTransport::new().unwrap();

    let error = transport
        .post(request(
            &url,
            &[WebhookSecret::generate()],
            "{}",
            Duration::from_secs(5),
        ))
        .await
        .unwrap_err();

    assert!(matches!(error, TransportError::Connect(_)), "{error:?}");
}
