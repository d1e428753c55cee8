//! Graceful shutdown of the real binary: SIGTERM stops accepting, lets requests already
//! in flight finish, and exits with status 0.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::time::{Duration, Instant};

use tariff_tests::process::{cli_admin_token, ServiceProcess};
use tariff_tests::TestDatabase;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads one whole HTTP/1.1 response (head + Content-Length body) from `stream`.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut buffer = Vec::new();
    let mut chunk = [0_u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&buffer).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if buffer.len() >= end + 4 + length {
                return text;
            }
        }
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed mid-response after {text:?}");
        buffer.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::test]
async fn sigterm_finishes_in_flight_requests_and_exits_zero() {
    let db = TestDatabase::sqlite();
    let token = cli_admin_token(db.url()).await;
    let mut service = ServiceProcess::start(db.url(), &[]).await;

    // A plan creation whose body is half sent when the signal arrives: the handler is
    // already running (authenticated, waiting for the body).
    let body = r#"{"name":"Shutdown Special","type":"paid","price":"4.99","currency":"EUR"}"#;
    let (first_half, second_half) = body.split_at(body.len() / 2);
    let mut in_flight = TcpStream::connect(service.address).await.unwrap();
    let head = format!(
        "POST /api/admin/plans HTTP/1.1\r\nHost: tariff\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{first_half}",
        body.len()
    );
    in_flight.write_all(head.as_bytes()).await.unwrap();
    // A finished request on a kept-alive connection must not hold the shutdown up.
    let mut idle = TcpStream::connect(service.address).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: tariff\r\n\r\n")
        .await
        .unwrap();
    assert!(read_response(&mut idle).await.starts_with("HTTP/1.1 200"));
    tokio::time::sleep(Duration::from_millis(300)).await;

    let signalled = Instant::now();
    service.terminate();
    // New connections are refused once the listener is closed.
    let mut refused = false;
    for _ in 0..100 {
        if TcpStream::connect(service.address).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "still accepting connections after SIGTERM");

    in_flight.write_all(second_half.as_bytes()).await.unwrap();
    let response = read_response(&mut in_flight).await;
    assert!(
        response.starts_with("HTTP/1.1 201"),
        "in-flight request cut off: {response}"
    );
    assert!(response.contains("Shutdown Special"), "{response}");

    let status = service.wait(Duration::from_secs(20)).await;
    let took = signalled.elapsed();
    println!(
        "SIGTERM: in-flight request answered 201, exited {status} after {:.2}s",
        took.as_secs_f64()
    );
    assert_eq!(status.code(), Some(0), "log:\n{}", service.log());
    assert!(took < Duration::from_secs(10), "shutdown took {took:?}");

    // What was acknowledged is there after a restart.
    let service = service.restart().await;
    let plans: serde_json::Value = reqwest::get(service.url("/api/plans"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        plans
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "Shutdown Special"),
        "{plans}"
    );
}
