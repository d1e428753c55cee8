//! A fake Stripe: a real HTTP server on a free local port that records every request
//! (method, path, headers, decoded form) and answers with the replies a test scripted,
//! in order, as Stripe-shaped JSON.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::{HashMap, VecDeque};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use tariff_payments_stripe::{Secret, StripeConfig, StripeGateway};

pub const SECRET_KEY: &str = "sk_test_fake_51Hsecret";
pub const WEBHOOK_SECRET: &str = "whsec_test_fake_secret";

/// One request as the fake received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: String,
    pub form: Vec<(String, String)>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The single value of a form field.
    pub fn field(&self, key: &str) -> Option<&str> {
        let mut values = self.form.iter().filter(|(k, _)| k == key);
        let value = values.next().map(|(_, v)| v.as_str());
        assert!(values.next().is_none(), "field {key} sent twice");
        value
    }
}

/// A scripted answer.
#[derive(Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub delay: Duration,
    pub location: Option<String>,
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Reply {
        Reply {
            status,
            body: body.to_string(),
            delay: Duration::ZERO,
            location: None,
        }
    }

    pub fn raw(status: u16, body: &str) -> Reply {
        Reply {
            status,
            body: body.to_owned(),
            delay: Duration::ZERO,
            location: None,
        }
    }

    /// A redirect elsewhere.
    pub fn redirect(status: u16, location: &str) -> Reply {
        Reply {
            location: Some(location.to_owned()),
            ..Reply::raw(status, "")
        }
    }

    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    /// Stripe's error envelope.
    pub fn error(status: u16, error: serde_json::Value) -> Reply {
        Reply::json(status, serde_json::json!({ "error": error }))
    }
}

#[derive(Default)]
struct State {
    recorded: Mutex<Vec<Recorded>>,
    replies: Mutex<VecDeque<Reply>>,
}

pub struct FakeStripe {
    pub base: String,
    state: Arc<State>,
    handle: actix_web::dev::ServerHandle,
}

async fn answer(request: HttpRequest, body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_ascii_lowercase(),
                value.to_str().unwrap_or("<binary>").to_owned(),
            )
        })
        .collect();
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    state.recorded.lock().unwrap().push(Recorded {
        method: request.method().to_string(),
        path: request.path().to_owned(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        form,
    });
    let reply = state.replies.lock().unwrap().pop_front();
    let Some(reply) = reply else {
        return HttpResponse::InternalServerError()
            .content_type("application/json")
            .body(
                r#"{"error":{"type":"api_error","message":"fake Stripe has no scripted reply"}}"#,
            );
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut response =
        HttpResponse::build(actix_web::http::StatusCode::from_u16(reply.status).unwrap());
    if let Some(location) = reply.location {
        response.insert_header(("Location", location));
    }
    response
        .content_type("application/json")
        .insert_header(("Request-Id", "req_fake"))
        .body(reply.body)
}

impl FakeStripe {
    pub async fn start() -> FakeStripe {
        let state = Arc::new(State::default());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(answer))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        FakeStripe {
            base,
            state,
            handle,
        }
    }

    pub fn reply(&self, reply: Reply) {
        self.state.replies.lock().unwrap().push_back(reply);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.recorded.lock().unwrap().clone()
    }

    pub fn only_request(&self) -> Recorded {
        let requests = self.requests();
        assert_eq!(requests.len(), 1, "expected one request, got {requests:#?}");
        requests.into_iter().next().unwrap()
    }

    pub fn config(&self) -> StripeConfig {
        StripeConfig::new(Secret::new(SECRET_KEY), Secret::new(WEBHOOK_SECRET))
            .with_api_base(self.base.clone())
            .with_timeout(Duration::from_secs(5))
    }

    pub fn gateway(&self) -> StripeGateway {
        StripeGateway::new(&self.config()).unwrap()
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}
