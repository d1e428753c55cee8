//! Test harness: [`spawn_app`] starts the real application (migrations, wiring, HTTP
//! server) on 127.0.0.1 port 0 against a fresh database, and gives back a client.
//! [`backends`] yields SQLite always and PostgreSQL when `TEST_DATABASE_URL` is set.

pub mod bench_paths;
pub mod fake_panel;
pub mod fake_stripe;
pub mod pg_cluster;
pub mod process;
pub mod scale;
pub mod standard_webhooks;
pub mod webhook_bench;

use std::net::SocketAddr;

use tariff_app::settings::Settings;
pub use tariff_persistence::testing::TestDatabase;
pub use tariff_persistence::testing::{execute_sql, seed_user, SeededUser};
pub use tariff_persistence::Backend;

/// A running service and a client for it. The server stops when this is dropped.
pub struct TestApp {
    pub address: SocketAddr,
    pub base_url: String,
    pub client: reqwest::Client,
    /// Shared by peers on the same database; dropped (schema removed) with the last one.
    pub database: std::sync::Arc<TestDatabase>,
    pub settings: Settings,
    /// The app's own database handle, for set-up and for checking what was stored.
    pub db: tariff_persistence::Database,
    handle: actix_web::dev::ServerHandle,
    workers: Vec<tokio::task::JoinHandle<()>>,
    webhooks: tariff_app::wiring::WebhookWorkerTask,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    pub fn backend(&self) -> Backend {
        self.database.backend()
    }

    /// Seeds a user with an API token straight into this app's database (test set-up).
    pub async fn seed_user(&self, email: &str, role: &str) -> SeededUser {
        seed_user(&self.db, email, role).await
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// GET with `Authorization: Bearer <token>`.
    pub async fn get_as(&self, token: &str, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// POST a JSON body with `Authorization: Bearer <token>` (empty token: anonymous).
    pub async fn post_as(
        &self,
        token: &str,
        path: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        let mut req = self.client.post(self.url(path)).json(body);
        if !token.is_empty() {
            req = req.bearer_auth(token);
        }
        req.send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// PUT a JSON body with `Authorization: Bearer <token>`.
    pub async fn put_as(
        &self,
        token: &str,
        path: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        self.client
            .put(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("PUT {path}: {e}"))
    }

    /// DELETE with `Authorization: Bearer <token>`.
    pub async fn delete_as(&self, token: &str, path: &str) -> reqwest::Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DELETE {path}: {e}"))
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop without waiting; the runtime ends with the test anyway.
        drop(self.handle.stop(false));
        for worker in &self.workers {
            worker.abort();
        }
        self.webhooks.request_stop();
    }
}

/// Settings for a test instance: defaults, port 0, the given database.
pub fn test_settings(database: &TestDatabase) -> Settings {
    let mut settings = Settings::load_from(None, Some(database.url()), |_| None)
        .unwrap_or_else(|e| panic!("test settings: {e}"));
    settings.server.bind = SocketAddr::from(([127, 0, 0, 1], 0));
    settings.server.workers = 2;
    settings.database.sqlite_synchronous = tariff_app::settings::SqliteSynchronous::Normal;
    settings
}

/// Starts the app on a fresh database of the given kind.
pub async fn spawn_app(database: TestDatabase) -> TestApp {
    spawn_app_with(database, |_| {}).await
}

/// Starts the app after letting the test adjust its settings.
pub async fn spawn_app_with(database: TestDatabase, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_on(std::sync::Arc::new(database), adjust).await
}

impl TestApp {
    /// A second instance of the service on the same database, as behind a load balancer.
    pub async fn spawn_peer(&self) -> TestApp {
        spawn_on(self.database.clone(), |_| {}).await
    }
}

async fn spawn_on(
    database: std::sync::Arc<TestDatabase>,
    adjust: impl FnOnce(&mut Settings),
) -> TestApp {
    let mut settings = test_settings(&database);
    adjust(&mut settings);
    let running = tariff_app::launch(&settings)
        .await
        .unwrap_or_else(|e| panic!("launch: {e:#}"));
    let handle = running.server.handle();
    tokio::spawn(running.server);
    let base_url = format!("http://{}", running.address);
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"));
    let db = running.wired.db.clone();
    let workers = running.workers;
    let webhooks = running.webhooks;
    TestApp {
        address: running.address,
        base_url,
        client,
        database,
        settings,
        db,
        handle,
        workers,
        webhooks,
    }
}

/// Starts another instance of the app on an existing database (the owner, usually the
/// first [`TestApp`], must outlive it): two instances sharing one PostgreSQL schema.
pub async fn spawn_app_on_url(url: &str) -> TestApp {
    spawn_app(TestDatabase::attached(url)).await
}

/// [`spawn_app_on_url`] after letting the test adjust its settings.
pub async fn spawn_app_on_url_with(url: &str, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with(TestDatabase::attached(url), adjust).await
}

/// SQLite always; PostgreSQL too when `TEST_DATABASE_URL` is set (else a loud skip line).
pub fn backends() -> Vec<TestDatabase> {
    TestDatabase::all()
}

/// Reads a JSON body, panicking with the raw text when it is not JSON.
pub async fn json(response: reqwest::Response) -> serde_json::Value {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("status {status}: body is not JSON: {text}"))
}

/// The EcliPanel frontend's request bodies (`tests/fixtures/eclipanel/requests.json`),
/// with `"$name"` placeholders replaced: a placeholder that is the whole string value
/// becomes the number given for it; `$name` inside a path is replaced too.
pub struct FrontendRequest {
    pub method: String,
    pub path: String,
    /// `None`: the frontend sends no body at all.
    pub body: Option<serde_json::Value>,
}

/// One named request from the fixture file, placeholders filled from `values`.
pub fn frontend_request(name: &str, values: &[(&str, i64)]) -> FrontendRequest {
    let text = include_str!("../fixtures/eclipanel/requests.json");
    let all: serde_json::Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("fixture file: {e}"));
    let entry = all
        .get(name)
        .unwrap_or_else(|| panic!("no fixture named {name}"));
    let fill = |text: &str| {
        values.iter().fold(text.to_owned(), |acc, (key, value)| {
            acc.replace(&format!("${key}"), &value.to_string())
        })
    };
    fn substitute(value: &mut serde_json::Value, values: &[(&str, i64)]) {
        match value {
            serde_json::Value::String(s) => {
                if let Some((_, number)) = values.iter().find(|(k, _)| s == &format!("${k}")) {
                    *value = serde_json::Value::from(*number);
                }
            }
            serde_json::Value::Array(items) => {
                for item in items {
                    substitute(item, values);
                }
            }
            serde_json::Value::Object(map) => {
                for item in map.values_mut() {
                    substitute(item, values);
                }
            }
            _ => {}
        }
    }
    let mut body = entry["body"].clone();
    substitute(&mut body, values);
    FrontendRequest {
        method: entry["method"].as_str().unwrap_or("GET").to_owned(),
        path: fill(entry["path"].as_str().unwrap_or("/")),
        body: (!body.is_null()).then_some(body),
    }
}
