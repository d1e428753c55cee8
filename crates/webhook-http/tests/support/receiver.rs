//! A webhook receiver for the tests: a real HTTP/1.1 server on 127.0.0.1, port 0, that
//! verifies each delivery's signature with the Standard Webhooks scheme (answering 401
//! when it does not verify, as a panel would), fails on demand, and records what it got
//! in arrival order.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use tariff_domain::webhooks::{verify, SignedHeaders, WebhookSecret};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How the receiver answers.
#[derive(Clone, Debug)]
pub enum Mode {
    /// 200 with a short body.
    Accept,
    /// This status, with `body` as the answer.
    Answer { status: u16, body: String },
    /// 503 for the next `n` deliveries, then 200.
    FailNext(u32),
    /// Waits this long before answering 200.
    Slow(Duration),
    /// 302 to another path.
    Redirect,
}

#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    pub verified: bool,
    pub status: u16,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

struct State {
    secrets: Vec<WebhookSecret>,
    mode: Mutex<Mode>,
    received: Mutex<Vec<Received>>,
}

pub struct Receiver {
    pub base: String,
    state: Arc<State>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Receiver {
    /// Starts a receiver that accepts a delivery signed with any of `secrets`.
    pub async fn start(secrets: Vec<WebhookSecret>, mode: Mode) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(State {
            secrets,
            mode: Mutex::new(mode),
            received: Mutex::new(Vec::new()),
        });
        let shared = state.clone();
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(serve(stream, shared.clone()));
            }
        });
        Receiver {
            base,
            state,
            server,
        }
    }

    pub fn url(&self) -> String {
        format!("{}/hooks/tariff", self.base)
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }
}

async fn serve(mut stream: TcpStream, state: Arc<State>) {
    let mut buffer = Vec::new();
    let mut chunk = [0_u8; 4096];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_owned();
    let path = request_line
        .split(' ')
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    let at = Instant::now();

    let signed = SignedHeaders {
        id: headers.get("webhook-id").cloned().unwrap_or_default(),
        timestamp: headers
            .get("webhook-timestamp")
            .cloned()
            .unwrap_or_default(),
        signature: headers
            .get("webhook-signature")
            .cloned()
            .unwrap_or_default(),
    };
    let verified = state
        .secrets
        .iter()
        .any(|secret| verify(secret, &signed, &body, Utc::now(), TimeDelta::minutes(5)).is_ok());

    let mode = {
        let mut mode = state.mode.lock().unwrap();
        let current = mode.clone();
        if let Mode::FailNext(n) = current {
            *mode = if n > 1 {
                Mode::FailNext(n - 1)
            } else {
                Mode::Accept
            };
        }
        current
    };
    let (status, extra, answer) = if !verified {
        (401, String::new(), "bad signature".to_owned())
    } else {
        match mode {
            Mode::Accept => (200, String::new(), "ok".to_owned()),
            Mode::Answer { status, body } => (status, String::new(), body),
            Mode::FailNext(_) => (503, String::new(), "try later".to_owned()),
            Mode::Slow(delay) => {
                tokio::time::sleep(delay).await;
                (200, String::new(), "ok, slowly".to_owned())
            }
            Mode::Redirect => (302, "Location: /elsewhere\r\n".to_owned(), String::new()),
        }
    };
    state.received.lock().unwrap().push(Received {
        path,
        headers,
        body,
        verified,
        status,
        at,
    });
    let response = format!(
        "HTTP/1.1 {status} X\r\n{extra}Content-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
