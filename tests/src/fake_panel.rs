//! A stand-in for the control panel's session endpoint, for panel sign-in tests: a real
//! HTTP server on 127.0.0.1 port 0 answering `GET /api/auth/session` as EcliPanel does,
//! `{"user":{"id","email","role",...}}` for a known `token` cookie and 401 otherwise.
//! Tests add and revoke sessions, take the panel down (503s or no answer at all), and
//! count how often Tariff asked.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};

/// How the fake panel behaves right now.
#[derive(Default)]
struct PanelState {
    sessions: Mutex<HashMap<String, Value>>,
    /// Answers 503 to everything.
    failing: AtomicBool,
    /// Waits this many milliseconds before answering.
    delay_ms: AtomicU64,
    requests: AtomicUsize,
    /// The `Cookie` headers received, to check what Tariff forwards.
    cookies_seen: Mutex<Vec<String>>,
}

/// A running fake panel; stopped when dropped.
pub struct FakePanel {
    pub session_url: String,
    state: Arc<PanelState>,
    handle: actix_web::dev::ServerHandle,
}

async fn session(req: HttpRequest, state: web::Data<Arc<PanelState>>) -> HttpResponse {
    state.requests.fetch_add(1, Ordering::SeqCst);
    if let Some(cookie) = req.headers().get("cookie").and_then(|v| v.to_str().ok()) {
        if let Ok(mut seen) = state.cookies_seen.lock() {
            seen.push(cookie.to_owned());
        }
    }
    let delay = state.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if state.failing.load(Ordering::SeqCst) {
        return HttpResponse::ServiceUnavailable().json(json!({"error": "maintenance"}));
    }
    let token = req.cookie("token").map(|c| c.value().to_owned());
    let user = token.and_then(|t| state.sessions.lock().ok()?.get(&t).cloned());
    match user {
        Some(user) => HttpResponse::Ok().json(json!({"user": user, "csrfToken": "csrf-1"})),
        None => HttpResponse::Unauthorized().json(json!({"error": "Unauthorized"})),
    }
}

impl FakePanel {
    /// Starts the fake panel on a free port.
    pub async fn start() -> FakePanel {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let address = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("address: {e}"));
        let state = Arc::new(PanelState::default());
        let data = web::Data::new(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/api/auth/session", web::get().to(session))
        })
        .workers(1)
        .listen(listener)
        .unwrap_or_else(|e| panic!("listen: {e}"))
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        FakePanel {
            session_url: format!("http://{address}/api/auth/session"),
            state,
            handle,
        }
    }

    /// A signed-in panel user: `token` is their session cookie's value.
    pub fn sign_in(&self, token: &str, id: i64, email: &str, role: &str) {
        self.set_session(
            token,
            json!({"id": id, "email": email, "role": role, "firstName": "Ada", "lastName": "Lovelace"}),
        );
    }

    /// Any JSON as the session's `user` (for odd answers).
    pub fn set_session(&self, token: &str, user: Value) {
        if let Ok(mut sessions) = self.state.sessions.lock() {
            sessions.insert(token.to_owned(), user);
        }
    }

    /// The panel ends a session (logout, revocation).
    pub fn revoke(&self, token: &str) {
        if let Ok(mut sessions) = self.state.sessions.lock() {
            sessions.remove(token);
        }
    }

    /// The panel answers 503 to everything (true) or works again (false).
    pub fn set_failing(&self, failing: bool) {
        self.state.failing.store(failing, Ordering::SeqCst);
    }

    /// The panel takes this long to answer.
    pub fn set_delay(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.state.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// How many session look-ups the panel answered (or started answering).
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// Every `Cookie` header Tariff sent.
    pub fn cookies_seen(&self) -> Vec<String> {
        self.state
            .cookies_seen
            .lock()
            .map(|seen| seen.clone())
            .unwrap_or_default()
    }

    /// Stops the panel: further look-ups find nothing listening.
    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

impl Drop for FakePanel {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}
