//! Accounts and access through HTTP: the CLI-made admin, sessions and their cookie,
//! logout and expiry, login errors and rate limits, API tokens, organisations and the
//! last-owner rule, admin users and plans, and the full authorisation matrix. Every
//! test runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use clap::Parser;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tariff_app::cli::{Cli, Command, TokensCommand, UsersCommand};
use tariff_tests::{backends, spawn_app, spawn_app_with, TestApp};

/// Who sends a request.
#[derive(Clone, Debug)]
enum As {
    Anonymous,
    Token(String),
    Session(String),
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|_| panic!("status {}: not JSON: {}", self.status, self.text))
    }

    /// The `session` value a `Set-Cookie` header sets, if any.
    fn session_cookie(&self) -> Option<String> {
        self.set_cookie()
            .and_then(|c| c.strip_prefix("session=").map(str::to_owned))
            .map(|rest| rest.split(';').next().unwrap_or_default().to_owned())
            .filter(|id| !id.is_empty())
    }

    fn set_cookie(&self) -> Option<String> {
        self.headers
            .get("set-cookie")
            .map(|v| v.to_str().unwrap().to_owned())
    }
}

/// A client without a cookie jar: every request carries exactly the credential given.
fn client() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap()
}

async fn call(
    client: &reqwest::Client,
    app: &TestApp,
    who: &As,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Reply {
    let mut request = client.request(method.clone(), app.url(path));
    request = match who {
        As::Anonymous => request,
        As::Token(token) => request.bearer_auth(token),
        As::Session(id) => request.header("cookie", format!("session={id}")),
    };
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    Reply {
        status: response.status(),
        headers: response.headers().clone(),
        text: response.text().await.unwrap(),
    }
}

async fn login(client: &reqwest::Client, app: &TestApp, email: &str, password: &str) -> Reply {
    call(
        client,
        app,
        &As::Anonymous,
        Method::POST,
        "/api/auth/login",
        Some(&json!({"email": email, "password": password})),
    )
    .await
}

/// Runs `tariff users create ...` the way the binary does: clap parsing, then the same
/// wiring and service call as `main`.
async fn cli_users_create(app: &TestApp, args: &[&str]) -> anyhow::Result<i64> {
    let mut argv = vec!["tariff", "users", "create"];
    argv.extend_from_slice(args);
    let Some(Command::Users(UsersCommand::Create(args))) = Cli::try_parse_from(argv)?.command
    else {
        panic!("not a users create command");
    };
    let wired = tariff_app::wiring::wire(&app.settings).await?;
    Ok(tariff_app::cli::create_user(&wired.state.accounts, &args)
        .await?
        .get())
}

async fn cli_tokens_create(app: &TestApp, args: &[&str]) -> anyhow::Result<String> {
    let mut argv = vec!["tariff", "tokens", "create"];
    argv.extend_from_slice(args);
    let Some(Command::Tokens(TokensCommand::Create(args))) = Cli::try_parse_from(argv)?.command
    else {
        panic!("not a tokens create command");
    };
    let wired = tariff_app::wiring::wire(&app.settings).await?;
    tariff_app::cli::create_token(&wired.state.accounts, &wired.state.tokens, &args).await
}

#[tokio::test]
async fn cli_admin_logs_in_makes_a_token_creates_users_and_manages_plans() {
    for db in backends() {
        let app = spawn_app(db).await;
        let http = client();
        let id = cli_users_create(
            &app,
            &[
                "--email",
                "Root@Example.com",
                "--name",
                "Root",
                "--password",
                "correct horse battery",
                "--admin",
            ],
        )
        .await
        .unwrap();
        assert!(id > 0);
        let err = cli_users_create(&app, &["--email", "ROOT@example.com", "--name", "Dup"])
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "a user with that email already exists");
        assert!(cli_users_create(&app, &["--email", "nope", "--name", "X"])
            .await
            .is_err());

        // Log in with the session cookie, make a token with it.
        let reply = login(&http, &app, "root@example.com", "correct horse battery").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let body = reply.json();
        assert_eq!(body["user"]["id"], id);
        assert_eq!(body["user"]["role"], "admin");
        assert_eq!(body["user"]["email"], "root@example.com");
        let session = As::Session(reply.session_cookie().unwrap());
        let me = call(&http, &app, &session, Method::GET, "/api/me", None).await;
        assert_eq!(me.json()["id"], id);
        let made = call(
            &http,
            &app,
            &session,
            Method::POST,
            "/api/tokens",
            Some(&json!({"name": "automation"})),
        )
        .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
        let token = As::Token(made.json()["token"].as_str().unwrap().to_owned());

        // The token acts as the admin: users...
        let created = call(
            &http,
            &app,
            &token,
            Method::POST,
            "/api/admin/users",
            Some(&json!({"email": "Customer@Example.com", "name": "Customer", "password": "customer-pass",
                         "company": "ACME", "country": "de", "taxId": "DE123456789"})),
        )
        .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let customer = created.json();
        assert_eq!(customer["email"], "customer@example.com");
        assert_eq!(customer["role"], "user");
        assert_eq!(customer["country"], "DE");
        assert_eq!(customer["company"], "ACME");
        let customer_id = customer["id"].as_i64().unwrap();
        let fetched = call(
            &http,
            &app,
            &token,
            Method::GET,
            &format!("/api/admin/users/{customer_id}"),
            None,
        )
        .await;
        assert_eq!(fetched.json(), customer);
        let updated = call(
            &http,
            &app,
            &token,
            Method::PUT,
            &format!("/api/admin/users/{customer_id}"),
            Some(&json!({"city": "Berlin", "company": null, "role": "admin"})),
        )
        .await;
        assert_eq!(updated.status, StatusCode::OK, "{}", updated.text);
        let updated = updated.json();
        assert_eq!(
            (
                &updated["city"],
                &updated["company"],
                &updated["role"],
                &updated["name"]
            ),
            (
                &json!("Berlin"),
                &Value::Null,
                &json!("admin"),
                &json!("Customer")
            )
        );
        let customer_login = login(&http, &app, "CUSTOMER@example.com", "customer-pass").await;
        assert_eq!(customer_login.status, StatusCode::OK);

        // ...and plans.
        let plan = call(
            &http,
            &app,
            &token,
            Method::POST,
            "/api/admin/plans",
            Some(&json!({"name": "Pro", "price": 9.99, "serverLimit": 5, "hidden": true})),
        )
        .await;
        assert_eq!(plan.status, StatusCode::CREATED, "{}", plan.text);
        let plan = plan.json();
        let plan_id = plan["id"].as_i64().unwrap();
        assert_eq!(plan["price"].to_string(), "9.99");
        // Hidden: only admins see it.
        let public = call(
            &http,
            &app,
            &As::Anonymous,
            Method::GET,
            &format!("/api/plans/{plan_id}"),
            None,
        )
        .await;
        assert_eq!(public.status, StatusCode::NOT_FOUND);
        let as_admin = call(
            &http,
            &app,
            &token,
            Method::GET,
            &format!("/api/plans/{plan_id}"),
            None,
        )
        .await;
        assert_eq!(as_admin.status, StatusCode::OK);
        let listed = call(&http, &app, &token, Method::GET, "/api/admin/plans", None).await;
        assert!(listed
            .json()
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == plan_id));
        let public_list = call(&http, &app, &As::Anonymous, Method::GET, "/api/plans", None).await;
        assert!(!public_list
            .json()
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == plan_id));
        let changed = call(
            &http,
            &app,
            &token,
            Method::PUT,
            &format!("/api/admin/plans/{plan_id}"),
            Some(&json!({"hidden": false, "price": "12.50"})),
        )
        .await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
        let changed = changed.json();
        assert_eq!(changed["price"].to_string(), "12.5");
        assert_eq!(changed["serverLimit"], 5, "untouched fields stay");
        assert_eq!(changed["name"], "Pro");
        let public = call(
            &http,
            &app,
            &As::Anonymous,
            Method::GET,
            &format!("/api/plans/{plan_id}"),
            None,
        )
        .await;
        assert_eq!(public.status, StatusCode::OK);
        let bad = call(
            &http,
            &app,
            &token,
            Method::PUT,
            &format!("/api/admin/plans/{plan_id}"),
            Some(&json!({"price": "1.001"})),
        )
        .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert_eq!(bad.json()["field"], "price");
        let nameless = call(
            &http,
            &app,
            &token,
            Method::POST,
            "/api/admin/plans",
            Some(&json!({"price": 1})),
        )
        .await;
        assert_eq!(nameless.status, StatusCode::BAD_REQUEST);
        assert_eq!(nameless.json()["field"], "name");

        // A plan an order references cannot be deleted; an unreferenced one can.
        tariff_persistence::testing::seed_order(&app.db, customer_id, plan_id).await;
        let refused = call(
            &http,
            &app,
            &token,
            Method::DELETE,
            &format!("/api/admin/plans/{plan_id}"),
            None,
        )
        .await;
        assert_eq!(refused.status, StatusCode::CONFLICT);
        assert_eq!(refused.json()["error"], "conflict");
        let spare = call(
            &http,
            &app,
            &token,
            Method::POST,
            "/api/admin/plans",
            Some(&json!({"name": "Spare"})),
        )
        .await;
        let spare_id = spare.json()["id"].as_i64().unwrap();
        let deleted = call(
            &http,
            &app,
            &token,
            Method::DELETE,
            &format!("/api/admin/plans/{spare_id}"),
            None,
        )
        .await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        let again = call(
            &http,
            &app,
            &token,
            Method::DELETE,
            &format!("/api/admin/plans/{spare_id}"),
            None,
        )
        .await;
        assert_eq!(again.status, StatusCode::NOT_FOUND);

        // `tariff tokens create` prints a working token for the user.
        let cli_token = cli_tokens_create(&app, &["--email", "ROOT@example.com"])
            .await
            .unwrap();
        assert!(cli_token.starts_with("tff_"));
        let me = call(
            &http,
            &app,
            &As::Token(cli_token),
            Method::GET,
            "/api/me",
            None,
        )
        .await;
        assert_eq!(me.json()["id"], id);
        assert!(cli_tokens_create(&app, &["--email", "ghost@example.com"])
            .await
            .is_err());
    }
}

#[tokio::test]
async fn login_cookie_has_the_contract_flags() {
    for db in backends() {
        let app = spawn_app(db).await;
        let http = client();
        cli_users_create(
            &app,
            &[
                "--email",
                "a@example.com",
                "--name",
                "A",
                "--password",
                "password-a",
            ],
        )
        .await
        .unwrap();
        let reply = login(&http, &app, "a@example.com", "password-a").await;
        let cookie = reply.set_cookie().unwrap();
        let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
        for wanted in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(attributes.contains(&wanted), "{cookie} lacks {wanted}");
        }
        assert!(!attributes.contains(&"Secure"), "{cookie}");
        assert!(attributes.contains(&"Max-Age=1209600"), "{cookie}: 336 h");
        let id = reply.session_cookie().unwrap();
        assert!(id.len() >= 22, "at least 128 bits of randomness");
        assert!(
            !reply.text.contains(&id),
            "the session id is only in the cookie"
        );
        assert_eq!(reply.headers.get("cache-control").unwrap(), "no-store");
        // Stored only as a hash.
        let stored = tariff_persistence::testing::stored_secrets(&app.db).await;
        assert!(stored.contains(&tariff_domain::identity::hash_secret(&id)));
        assert!(!stored.contains(&id));
    }
    let app = spawn_app_with(tariff_tests::TestDatabase::sqlite(), |s| {
        s.auth.cookie_secure = true;
    })
    .await;
    cli_users_create(
        &app,
        &[
            "--email",
            "a@example.com",
            "--name",
            "A",
            "--password",
            "password-a",
        ],
    )
    .await
    .unwrap();
    let cookie = login(&client(), &app, "a@example.com", "password-a")
        .await
        .set_cookie()
        .unwrap();
    assert!(cookie.split(';').any(|a| a.trim() == "Secure"), "{cookie}");
}

#[tokio::test]
async fn logout_really_revokes_the_session() {
    for db in backends() {
        let app = spawn_app(db).await;
        let http = client();
        cli_users_create(
            &app,
            &[
                "--email",
                "a@example.com",
                "--name",
                "A",
                "--password",
                "password-a",
            ],
        )
        .await
        .unwrap();
        let first = As::Session(
            login(&http, &app, "a@example.com", "password-a")
                .await
                .session_cookie()
                .unwrap(),
        );
        let second = As::Session(
            login(&http, &app, "a@example.com", "password-a")
                .await
                .session_cookie()
                .unwrap(),
        );
        assert_eq!(
            call(&http, &app, &first, Method::GET, "/api/me", None)
                .await
                .status,
            StatusCode::OK
        );
        let out = call(&http, &app, &first, Method::POST, "/api/auth/logout", None).await;
        assert_eq!(out.status, StatusCode::OK);
        assert_eq!(out.json(), json!({"success": true}));
        let cleared = out.set_cookie().unwrap();
        assert!(cleared.starts_with("session=;"), "{cleared}");
        assert!(cleared.contains("Max-Age=0"), "{cleared}");
        let after = call(&http, &app, &first, Method::GET, "/api/me", None).await;
        assert_eq!(after.status, StatusCode::UNAUTHORIZED);
        assert_eq!(after.json()["error"], "unauthorized");
        assert_eq!(
            call(&http, &app, &first, Method::POST, "/api/auth/logout", None)
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
        // Other sessions of the same user live on.
        assert_eq!(
            call(&http, &app, &second, Method::GET, "/api/me", None)
                .await
                .status,
            StatusCode::OK
        );
        // A browser-style client with a cookie jar is logged out too.
        let jar = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let reply = jar
            .post(app.url("/api/auth/login"))
            .json(&json!({"email": "a@example.com", "password": "password-a"}))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::OK);
        assert_eq!(
            jar.get(app.url("/api/me")).send().await.unwrap().status(),
            StatusCode::OK
        );
        jar.post(app.url("/api/auth/logout")).send().await.unwrap();
        assert_eq!(
            jar.get(app.url("/api/me")).send().await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn a_new_password_ends_existing_sessions() {
    for db in backends() {
        let app = spawn_app(db).await;
        let http = client();
        let admin = app.seed_user("admin@example.com", "admin").await;
        let id = cli_users_create(
            &app,
            &[
                "--email",
                "a@example.com",
                "--name",
                "A",
                "--password",
                "password-a",
            ],
        )
        .await
        .unwrap();
        let session = As::Session(
            login(&http, &app, "a@example.com", "password-a")
                .await
                .session_cookie()
                .unwrap(),
        );
        let changed = call(
            &http,
            &app,
            &As::Token(admin.token.clone()),
            Method::PUT,
            &format!("/api/admin/users/{id}"),
            Some(&json!({"password": "password-b"})),
        )
        .await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
        assert_eq!(
            call(&http, &app, &session, Method::GET, "/api/me", None)
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            login(&http, &app, "a@example.com", "password-a")
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            login(&http, &app, "a@example.com", "password-b")
                .await
                .status,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn expired_session_is_unauthorized() {
    for db in backends() {
        let app = spawn_app_with(db, |s| s.auth.session_ttl_secs = Some(1)).await;
        let http = client();
        cli_users_create(
            &app,
            &[
                "--email",
                "a@example.com",
                "--name",
                "A",
                "--password",
                "password-a",
            ],
        )
        .await
        .unwrap();
        let reply = login(&http, &app, "a@example.com", "password-a").await;
        assert!(reply.set_cookie().unwrap().contains("Max-Age=1"));
        let session = As::Session(reply.session_cookie().unwrap());
        assert_eq!(
            call(&http, &app, &session, Method::GET, "/api/me", None)
                .await
                .status,
            StatusCode::OK
        );
        tokio::time::sleep(Duration::from_millis(1600)).await;
        let after = call(&http, &app, &session, Method::GET, "/api/me", None).await;
        assert_eq!(after.status, StatusCode::UNAUTHORIZED);
        assert_eq!(after.json()["error"], "unauthorized");
    }
}

#[tokio::test]
async fn unknown_email_and_wrong_password_are_indistinguishable() {
    for db in backends() {
        let app = spawn_app(db).await;
        let http = client();
        cli_users_create(
            &app,
            &[
                "--email",
                "a@example.com",
                "--name",
                "A",
                "--password",
                "password-a",
            ],
        )
        .await
        .unwrap();
        // Password-less accounts (made without --password) cannot log in either.
        cli_users_create(&app, &["--email", "nopass@example.com", "--name", "N"])
            .await
            .unwrap();
        let replies = [
            login(&http, &app, "a@example.com", "wrong-password").await,
            login(&http, &app, "nobody@example.com", "wrong-password").await,
            login(&http, &app, "nopass@example.com", "").await,
            login(&http, &app, "not-an-email", "x").await,
        ];
        let header_names = |r: &Reply| {
            let mut names: Vec<String> = r
                .headers
                .keys()
                .map(|k| k.as_str().to_owned())
                .filter(|k| k != "date")
                .collect();
            names.sort();
            names
        };
        for reply in &replies {
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
            assert_eq!(reply.text, replies[0].text);
            assert_eq!(header_names(reply), header_names(&replies[0]));
            assert!(reply.set_cookie().is_none());
        }
        assert_eq!(
            replies[0].json(),
            json!({"error": "unauthorized", "message": "Invalid email or password."})
        );
        // Malformed bodies are 400, not a login attempt.
        let malformed = call(
            &http,
            &app,
            &As::Anonymous,
            Method::POST,
            "/api/auth/login",
            Some(&json!({"email": "a@example.com"})),
        )
        .await;
        assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    }
}

fn client_from(address: Ipv4Addr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(address))
        .build()
        .unwrap()
}

fn assert_rate_limited(reply: &Reply) {
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        reply.text
    );
    let header: u64 = reply
        .headers
        .get("retry-after")
        .expect("Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body = reply.json();
    assert_eq!(body["error"], "rate_limited");
    assert_eq!(body["retryAfter"], header);
    assert!((1..=60).contains(&header), "{header}");
}

#[tokio::test]
async fn login_is_rate_limited_per_client_address_and_per_account() {
    for db in backends() {
        let app = spawn_app_with(db, |s| s.auth.login_attempts_per_minute = 3).await;
        cli_users_create(
            &app,
            &[
                "--email",
                "a@example.com",
                "--name",
                "A",
                "--password",
                "password-a",
            ],
        )
        .await
        .unwrap();
        // One address, different emails: the fourth attempt is refused, even with the
        // right password.
        let from_one = client_from(Ipv4Addr::new(127, 0, 0, 1));
        for email in ["x1@example.com", "x2@example.com", "x3@example.com"] {
            assert_eq!(
                login(&from_one, &app, email, "guess").await.status,
                StatusCode::UNAUTHORIZED
            );
        }
        assert_rate_limited(&login(&from_one, &app, "a@example.com", "password-a").await);

        // One account, different addresses (the loopback range): the account is protected.
        for last in 2..=4 {
            let from = client_from(Ipv4Addr::new(127, 0, 0, last));
            assert_eq!(
                login(&from, &app, "victim@example.com", "guess")
                    .await
                    .status,
                StatusCode::UNAUTHORIZED
            );
        }
        let fresh_address = client_from(Ipv4Addr::new(127, 0, 0, 5));
        assert_rate_limited(&login(&fresh_address, &app, "VICTIM@example.com", "guess").await);
        // That address is not blocked for other accounts.
        assert_eq!(
            login(&fresh_address, &app, "a@example.com", "password-a")
                .await
                .status,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn tokens_are_shown_once_listed_without_secrets_and_revocable() {
    for db in backends() {
        let app = spawn_app(db).await;
        let http = client();
        let alice = app.seed_user("alice@example.com", "user").await;
        let bob = app.seed_user("bob@example.com", "user").await;
        let as_alice = As::Token(alice.token.clone());
        let made = call(
            &http,
            &app,
            &as_alice,
            Method::POST,
            "/api/tokens",
            Some(&json!({"name": "ci"})),
        )
        .await;
        assert_eq!(made.status, StatusCode::CREATED);
        let made = made.json();
        let mut keys: Vec<&str> = made
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, ["createdAt", "id", "name", "token"]);
        let secret = made["token"].as_str().unwrap().to_owned();
        let token_id = made["id"].as_i64().unwrap();
        let unnamed = call(
            &http,
            &app,
            &as_alice,
            Method::POST,
            "/api/tokens",
            Some(&json!({})),
        )
        .await;
        assert_eq!(unnamed.json()["name"], "API token");
        let bad = call(
            &http,
            &app,
            &as_alice,
            Method::POST,
            "/api/tokens",
            Some(&json!({"name": " "})),
        )
        .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert_eq!(bad.json()["field"], "name");

        let list = call(&http, &app, &as_alice, Method::GET, "/api/tokens", None).await;
        let items = list.json();
        let items = items.as_array().unwrap();
        assert_eq!(items.len(), 3, "the seeded token and two new ones");
        let stored = tariff_persistence::testing::stored_secrets(&app.db).await;
        for item in items {
            let mut keys: Vec<&str> = item
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            keys.sort_unstable();
            assert_eq!(keys, ["createdAt", "id", "lastUsedAt", "name"]);
        }
        for secret_value in stored.iter().chain([&secret, &alice.token]) {
            assert!(
                !list.text.contains(secret_value.as_str()),
                "list leaks {secret_value}"
            );
        }
        let ci = items.iter().find(|t| t["id"] == token_id).unwrap();
        assert!(ci["lastUsedAt"].is_null());

        // Using the token records its use; it acts as its owner.
        let me = call(
            &http,
            &app,
            &As::Token(secret.clone()),
            Method::GET,
            "/api/me",
            None,
        )
        .await;
        assert_eq!(me.json()["id"], alice.id);
        let list = call(&http, &app, &as_alice, Method::GET, "/api/tokens", None)
            .await
            .json();
        let ci = list
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == token_id)
            .unwrap()
            .clone();
        assert!(ci["lastUsedAt"].is_string(), "{ci}");

        // Someone else's token: 404, and it keeps working.
        let as_bob = As::Token(bob.token.clone());
        let foreign = call(
            &http,
            &app,
            &as_bob,
            Method::DELETE,
            &format!("/api/tokens/{token_id}"),
            None,
        )
        .await;
        assert_eq!(foreign.status, StatusCode::NOT_FOUND);
        assert_eq!(
            call(
                &http,
                &app,
                &As::Token(secret.clone()),
                Method::GET,
                "/api/me",
                None
            )
            .await
            .status,
            StatusCode::OK
        );
        let bob_list = call(&http, &app, &as_bob, Method::GET, "/api/tokens", None)
            .await
            .json();
        assert_eq!(bob_list.as_array().unwrap().len(), 1);

        // Revoked: 401 from then on, gone from the list, a second revoke is 404.
        let revoked = call(
            &http,
            &app,
            &as_alice,
            Method::DELETE,
            &format!("/api/tokens/{token_id}"),
            None,
        )
        .await;
        assert_eq!(revoked.status, StatusCode::NO_CONTENT);
        let after = call(
            &http,
            &app,
            &As::Token(secret.clone()),
            Method::GET,
            "/api/me",
            None,
        )
        .await;
        assert_eq!(after.status, StatusCode::UNAUTHORIZED);
        let list = call(&http, &app, &as_alice, Method::GET, "/api/tokens", None)
            .await
            .json();
        assert!(!list.as_array().unwrap().iter().any(|t| t["id"] == token_id));
        let twice = call(
            &http,
            &app,
            &as_alice,
            Method::DELETE,
            &format!("/api/tokens/{token_id}"),
            None,
        )
        .await;
        assert_eq!(twice.status, StatusCode::NOT_FOUND);
        for path in ["/api/tokens/0", "/api/tokens/abc"] {
            let status = call(&http, &app, &as_alice, Method::DELETE, path, None)
                .await
                .status;
            assert!(
                status == StatusCode::NOT_FOUND || status == StatusCode::BAD_REQUEST,
                "{path}"
            );
        }
    }
}

#[tokio::test]
async fn emails_are_unique_ignoring_case() {
    for db in backends() {
        let app = spawn_app(db).await;
        let http = client();
        let admin = As::Token(app.seed_user("admin@example.com", "admin").await.token);
        let create = |email: &'static str| {
            let http = http.clone();
            let admin = admin.clone();
            let app = &app;
            async move {
                call(
                    &http,
                    app,
                    &admin,
                    Method::POST,
                    "/api/admin/users",
                    Some(&json!({"email": email, "name": "X"})),
                )
                .await
            }
        };
        assert_eq!(
            create("Jane.Doe@Example.com").await.status,
            StatusCode::CREATED
        );
        let clash = create("jane.doe@EXAMPLE.COM").await;
        assert_eq!(clash.status, StatusCode::CONFLICT);
        assert_eq!(clash.json()["error"], "conflict");
        assert_eq!(clash.json()["field"], "email");
        let other = create("john@example.com").await.json();
        let renamed = call(
            &http,
            &app,
            &admin,
            Method::PUT,
            &format!("/api/admin/users/{}", other["id"]),
            Some(&json!({"email": "JANE.DOE@example.com"})),
        )
        .await;
        assert_eq!(renamed.status, StatusCode::CONFLICT);
        // Validation names its field and changes nothing.
        for (body, field) in [
            (json!({"email": "no-at-sign", "name": "X"}), "email"),
            (json!({"email": "ok@example.com", "name": ""}), "name"),
            (
                json!({"email": "ok@example.com", "name": "X", "country": "Germany"}),
                "country",
            ),
            (
                json!({"email": "ok@example.com", "name": "X", "role": "root"}),
                "role",
            ),
            (
                json!({"email": "ok@example.com", "name": "X", "password": "short"}),
                "password",
            ),
            (json!({"name": "X"}), "email"),
        ] {
            let reply = call(
                &http,
                &app,
                &admin,
                Method::POST,
                "/api/admin/users",
                Some(&body),
            )
            .await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(reply.json()["field"], field, "{body}");
        }
        let unknown = call(
            &http,
            &app,
            &admin,
            Method::POST,
            "/api/admin/users",
            Some(&json!({"email": "ok@example.com", "name": "X", "passwordHash": "x"})),
        )
        .await;
        assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
        let page = call(
            &http,
            &app,
            &admin,
            Method::GET,
            "/api/admin/users?email=ok%40",
            None,
        )
        .await
        .json();
        assert_eq!(page["meta"]["total"], 0, "nothing was stored");
    }
}

#[tokio::test]
async fn concurrent_signups_with_one_email_make_one_user() {
    for db in backends() {
        let app = spawn_app(db).await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..12 {
            let http = client();
            let url = app.url("/api/admin/users");
            let token = admin.token.clone();
            let email = if i % 2 == 0 {
                "Race@Example.com"
            } else {
                "race@example.COM"
            };
            tasks.spawn(async move {
                http.post(url)
                    .bearer_auth(token)
                    .json(&json!({"email": email, "name": "Racer"}))
                    .send()
                    .await
                    .unwrap()
                    .status()
            });
        }
        let statuses: Vec<StatusCode> = tasks.join_all().await;
        let created = statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count();
        let conflicts = statuses
            .iter()
            .filter(|s| **s == StatusCode::CONFLICT)
            .count();
        assert_eq!((created, conflicts), (1, 11), "{statuses:?}");
    }
}

#[tokio::test]
async fn admin_user_list_is_paginated_and_searchable() {
    for db in backends() {
        let app = spawn_app(db).await;
        let http = client();
        let admin = As::Token(app.seed_user("admin@example.com", "admin").await.token);
        for i in 1..=19 {
            let domain = if i % 3 == 0 { "acme.io" } else { "example.org" };
            let reply = call(
                &http,
                &app,
                &admin,
                Method::POST,
                "/api/admin/users",
                Some(
                    &json!({"email": format!("user{i:02}@{domain}"), "name": format!("User {i}")}),
                ),
            )
            .await;
            assert_eq!(reply.status, StatusCode::CREATED);
        }
        let base = app.settings.server.public_url.clone();
        let first = call(&http, &app, &admin, Method::GET, "/api/admin/users", None)
            .await
            .json();
        assert_eq!(first["data"].as_array().unwrap().len(), 15);
        assert_eq!(first["meta"]["total"], 20);
        assert_eq!(first["meta"]["per_page"], 15);
        assert_eq!(first["meta"]["last_page"], 2);
        assert_eq!(first["meta"]["from"], 1);
        assert_eq!(first["meta"]["to"], 15);
        assert_eq!(first["meta"]["path"], format!("{base}/api/admin/users"));
        assert_eq!(
            first["links"]["next"],
            format!("{base}/api/admin/users?page=2")
        );
        assert!(first["links"]["prev"].is_null());
        assert_eq!(
            first["data"][0]["email"], "admin@example.com",
            "ordered by id"
        );

        let third = call(
            &http,
            &app,
            &admin,
            Method::GET,
            "/api/admin/users?page=3&per_page=7",
            None,
        )
        .await
        .json();
        assert_eq!(third["data"].as_array().unwrap().len(), 6);
        assert_eq!(
            (third["meta"]["from"].clone(), third["meta"]["to"].clone()),
            (json!(15), json!(20))
        );
        assert!(third["links"]["next"].is_null());
        assert_eq!(
            third["links"]["prev"],
            format!("{base}/api/admin/users?page=2&per_page=7")
        );
        let beyond = call(
            &http,
            &app,
            &admin,
            Method::GET,
            "/api/admin/users?page=9",
            None,
        )
        .await
        .json();
        assert_eq!(beyond["data"], json!([]));
        assert!(beyond["meta"]["from"].is_null() && beyond["meta"]["to"].is_null());
        assert_eq!(beyond["meta"]["total"], 20);

        let acme = call(
            &http,
            &app,
            &admin,
            Method::GET,
            "/api/admin/users?email=ACME&per_page=2",
            None,
        )
        .await
        .json();
        assert_eq!(acme["meta"]["total"], 6);
        assert_eq!(
            acme["links"]["next"],
            format!("{base}/api/admin/users?page=2&per_page=2&email=ACME")
        );
        assert!(acme["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["email"].as_str().unwrap().ends_with("@acme.io")));
        // LIKE wildcards are literal.
        let wild = call(
            &http,
            &app,
            &admin,
            Method::GET,
            "/api/admin/users?email=%25",
            None,
        )
        .await
        .json();
        assert_eq!(wild["meta"]["total"], 0);
        let underscore = call(
            &http,
            &app,
            &admin,
            Method::GET,
            "/api/admin/users?email=user_1",
            None,
        )
        .await
        .json();
        assert_eq!(underscore["meta"]["total"], 0);

        for query in [
            "per_page=0",
            "per_page=101",
            "page=0",
            "page=abc",
            "per_page=-1",
        ] {
            let reply = call(
                &http,
                &app,
                &admin,
                Method::GET,
                &format!("/api/admin/users?{query}"),
                None,
            )
            .await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
            assert_eq!(reply.json()["error"], "validation_failed");
        }
        let missing = call(
            &http,
            &app,
            &admin,
            Method::GET,
            "/api/admin/users/999999",
            None,
        )
        .await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn organisations_always_keep_an_owner() {
    for db in backends() {
        let app = spawn_app(db).await;
        let http = client();
        let owner = app.seed_user("owner@example.com", "user").await;
        let second = app.seed_user("second@example.com", "user").await;
        let as_owner = As::Token(owner.token.clone());
        let org = call(
            &http,
            &app,
            &as_owner,
            Method::POST,
            "/api/organisations",
            Some(&json!({"name": "Acme", "country": "at"})),
        )
        .await;
        assert_eq!(org.status, StatusCode::CREATED, "{}", org.text);
        let org = org.json();
        assert_eq!(org["role"], "owner");
        assert_eq!(org["country"], "AT");
        assert_eq!(org["members"][0]["userId"], owner.id);
        let org_id = org["id"].as_i64().unwrap();
        let members = format!("/api/organisations/{org_id}/members");

        // The only owner can neither leave nor step down.
        let leave = call(
            &http,
            &app,
            &as_owner,
            Method::DELETE,
            &format!("{members}/{}", owner.id),
            None,
        )
        .await;
        assert_eq!(leave.status, StatusCode::CONFLICT);
        assert_eq!(leave.json()["error"], "conflict");
        let demote = call(
            &http,
            &app,
            &as_owner,
            Method::POST,
            &members,
            Some(&json!({"userId": owner.id, "role": "admin"})),
        )
        .await;
        assert_eq!(demote.status, StatusCode::CONFLICT);
        // With a second owner it can.
        let added = call(
            &http,
            &app,
            &as_owner,
            Method::POST,
            &members,
            Some(&json!({"userId": second.id, "role": "owner"})),
        )
        .await;
        assert_eq!(added.status, StatusCode::CREATED);
        assert_eq!(added.json()["role"], "owner");
        let demote = call(
            &http,
            &app,
            &as_owner,
            Method::POST,
            &members,
            Some(&json!({"userId": owner.id, "role": "admin"})),
        )
        .await;
        assert_eq!(demote.status, StatusCode::OK, "{}", demote.text);
        assert_eq!(demote.json()["role"], "admin");
        let view = call(
            &http,
            &app,
            &as_owner,
            Method::GET,
            &format!("/api/organisations/{org_id}"),
            None,
        )
        .await
        .json();
        assert_eq!(view["role"], "admin");
        // Bad input.
        let bad_role = call(
            &http,
            &app,
            &as_owner,
            Method::POST,
            &members,
            Some(&json!({"userId": second.id, "role": "boss"})),
        )
        .await;
        assert_eq!(bad_role.status, StatusCode::BAD_REQUEST);
        assert_eq!(bad_role.json()["field"], "role");
        let ghost = call(
            &http,
            &app,
            &as_owner,
            Method::POST,
            &members,
            Some(&json!({"userId": 999999, "role": "member"})),
        )
        .await;
        assert_eq!(ghost.status, StatusCode::NOT_FOUND);
        let nameless = call(
            &http,
            &app,
            &as_owner,
            Method::POST,
            "/api/organisations",
            Some(&json!({"name": "  "})),
        )
        .await;
        assert_eq!(nameless.status, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn concurrent_owner_departures_leave_exactly_one_owner() {
    for db in backends() {
        let app = spawn_app(db).await;
        let http = client();
        let mut owners = Vec::new();
        for i in 0..6 {
            owners.push(
                app.seed_user(&format!("owner{i}@example.com"), "user")
                    .await,
            );
        }
        let org = call(
            &http,
            &app,
            &As::Token(owners[0].token.clone()),
            Method::POST,
            "/api/organisations",
            Some(&json!({"name": "Race"})),
        )
        .await
        .json();
        let org_id = org["id"].as_i64().unwrap();
        for owner in &owners[1..] {
            let reply = call(
                &http,
                &app,
                &As::Token(owners[0].token.clone()),
                Method::POST,
                &format!("/api/organisations/{org_id}/members"),
                Some(&json!({"userId": owner.id, "role": "owner"})),
            )
            .await;
            assert_eq!(reply.status, StatusCode::CREATED);
        }
        // Every owner leaves at once: all but one succeed.
        let mut tasks = tokio::task::JoinSet::new();
        for owner in &owners {
            let http = client();
            let url = app.url(&format!("/api/organisations/{org_id}/members/{}", owner.id));
            let token = owner.token.clone();
            tasks.spawn(async move {
                http.delete(url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap()
                    .status()
            });
        }
        let statuses = tasks.join_all().await;
        let left = statuses
            .iter()
            .filter(|s| **s == StatusCode::NO_CONTENT)
            .count();
        let refused = statuses
            .iter()
            .filter(|s| **s == StatusCode::CONFLICT)
            .count();
        assert_eq!((left, refused), (5, 1), "{statuses:?}");
        let admin = app.seed_user("admin@example.com", "admin").await;
        let view = call(
            &http,
            &app,
            &As::Token(admin.token),
            Method::GET,
            &format!("/api/organisations/{org_id}"),
            None,
        )
        .await
        .json();
        let members = view["members"].as_array().unwrap();
        assert_eq!(members.len(), 1, "{view}");
        assert_eq!(members[0]["role"], "owner");
    }
}

/// The roles of the matrix, in column order.
const ROLES: [&str; 7] = [
    "anonymous",
    "user",
    "another user",
    "org member",
    "org admin",
    "org owner",
    "admin",
];

struct Matrix<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
    who: Vec<As>,
    failures: Vec<String>,
    bodies: Vec<(String, String)>,
    session_ids: Vec<String>,
    counter: u32,
}

impl Matrix<'_> {
    async fn cell(
        &mut self,
        role: usize,
        method: Method,
        path: &str,
        body: Option<Value>,
        expected: u16,
    ) -> Reply {
        let who = self.who[role].clone();
        let reply = call(
            &self.http,
            self.app,
            &who,
            method.clone(),
            path,
            body.as_ref(),
        )
        .await;
        if reply.status.as_u16() != expected {
            self.failures.push(format!(
                "{method} {path} as {}: expected {expected}, got {} {}",
                ROLES[role], reply.status, reply.text
            ));
        }
        if let Some(id) = reply.session_cookie() {
            self.session_ids.push(id);
        }
        self.bodies.push((
            format!("{method} {path} as {}", ROLES[role]),
            reply.text.clone(),
        ));
        reply
    }

    /// Every role against one fixed request.
    async fn row(&mut self, method: Method, path: &str, body: Option<Value>, expected: [u16; 7]) {
        for (role, status) in expected.into_iter().enumerate() {
            self.cell(role, method.clone(), path, body.clone(), status)
                .await;
        }
    }

    fn fresh(&mut self, what: &str) -> String {
        self.counter += 1;
        format!("{what}{}", self.counter)
    }

    async fn fresh_user(&mut self) -> i64 {
        let email = format!("{}@example.com", self.fresh("fresh"));
        self.app.seed_user(&email, "user").await.id
    }
}

#[tokio::test]
async fn authorisation_matrix_over_every_endpoint() {
    for db in backends() {
        let app = spawn_app(db).await;
        let http = client();
        let user = app.seed_user("user@example.com", "user").await;
        let another = app.seed_user("another@example.com", "user").await;
        let member = app.seed_user("member@example.com", "user").await;
        let org_admin = app.seed_user("orgadmin@example.com", "user").await;
        let owner = app.seed_user("owner@example.com", "user").await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let admin_token = As::Token(admin.token.clone());
        let as_owner = As::Token(owner.token.clone());

        // The admin acts through a session cookie, everyone else through Bearer tokens,
        // so both credentials cross every admin endpoint.
        for (id, password) in [(admin.id, "admin-password"), (user.id, "user-password")] {
            let reply = call(
                &http,
                &app,
                &admin_token,
                Method::PUT,
                &format!("/api/admin/users/{id}"),
                Some(&json!({"password": password})),
            )
            .await;
            assert_eq!(reply.status, StatusCode::OK);
        }
        let admin_login = login(&http, &app, "admin@example.com", "admin-password").await;
        let admin_session = admin_login.session_cookie().unwrap();

        let org = call(
            &http,
            &app,
            &as_owner,
            Method::POST,
            "/api/organisations",
            Some(&json!({"name": "Matrix Org"})),
        )
        .await
        .json();
        let org_id = org["id"].as_i64().unwrap();
        let members_path = format!("/api/organisations/{org_id}/members");
        for (id, role) in [(member.id, "member"), (org_admin.id, "admin")] {
            let reply = call(
                &http,
                &app,
                &as_owner,
                Method::POST,
                &members_path,
                Some(&json!({"userId": id, "role": role})),
            )
            .await;
            assert_eq!(reply.status, StatusCode::CREATED);
        }
        let visible = call(
            &http,
            &app,
            &admin_token,
            Method::POST,
            "/api/admin/plans",
            Some(&json!({"name": "Visible", "price": 5})),
        )
        .await
        .json();
        let hidden = call(
            &http,
            &app,
            &admin_token,
            Method::POST,
            "/api/admin/plans",
            Some(&json!({"name": "Hidden", "hidden": true})),
        )
        .await
        .json();
        let (visible_id, hidden_id) = (
            visible["id"].as_i64().unwrap(),
            hidden["id"].as_i64().unwrap(),
        );

        let mut m = Matrix {
            app: &app,
            http: http.clone(),
            who: vec![
                As::Anonymous,
                As::Token(user.token.clone()),
                As::Token(another.token.clone()),
                As::Token(member.token.clone()),
                As::Token(org_admin.token.clone()),
                As::Token(owner.token.clone()),
                As::Session(admin_session.clone()),
            ],
            failures: Vec::new(),
            bodies: Vec::new(),
            session_ids: vec![admin_session.clone()],
            counter: 0,
        };
        const ALL: [u16; 7] = [200; 7];
        const SIGNED_IN: [u16; 7] = [401, 200, 200, 200, 200, 200, 200];
        const ADMIN_ONLY: [u16; 7] = [401, 403, 403, 403, 403, 403, 200];

        // Public and operations.
        m.row(Method::GET, "/healthz", None, ALL).await;
        m.row(Method::GET, "/readyz", None, ALL).await;
        m.row(Method::GET, "/api/openapi.json", None, ALL).await;
        m.row(Method::GET, "/api/plans", None, ALL).await;
        m.row(Method::GET, &format!("/api/plans/{visible_id}"), None, ALL)
            .await;
        m.row(
            Method::GET,
            &format!("/api/plans/{hidden_id}"),
            None,
            [404, 404, 404, 404, 404, 404, 200],
        )
        .await;
        m.row(
            Method::POST,
            "/api/auth/login",
            Some(json!({"email": "user@example.com", "password": "user-password"})),
            ALL,
        )
        .await;

        // Signed in.
        m.row(Method::GET, "/api/me", None, SIGNED_IN).await;
        m.row(
            Method::POST,
            "/api/tokens",
            Some(json!({"name": "matrix"})),
            [401, 201, 201, 201, 201, 201, 201],
        )
        .await;
        m.row(Method::GET, "/api/tokens", None, SIGNED_IN).await;
        for (role, status) in [401, 204, 404, 404, 404, 404, 404].into_iter().enumerate() {
            // A fresh token of `user` for each cell.
            let made = call(
                &http,
                &app,
                &As::Token(user.token.clone()),
                Method::POST,
                "/api/tokens",
                Some(&json!({"name": "victim"})),
            )
            .await
            .json();
            let path = format!("/api/tokens/{}", made["id"]);
            m.cell(role, Method::DELETE, &path, None, status).await;
        }

        // Organisations.
        m.row(
            Method::POST,
            "/api/organisations",
            Some(json!({"name": "Another Org"})),
            [401, 201, 201, 201, 201, 201, 201],
        )
        .await;
        m.row(
            Method::GET,
            &format!("/api/organisations/{org_id}"),
            None,
            [401, 404, 404, 200, 200, 200, 200],
        )
        .await;
        for (new_role, expected) in [
            ("member", [401, 404, 404, 403, 201, 201, 201]),
            ("owner", [401, 404, 404, 403, 403, 201, 201]),
        ] {
            for (role, status) in expected.into_iter().enumerate() {
                let fresh = m.fresh_user().await;
                m.cell(
                    role,
                    Method::POST,
                    &members_path,
                    Some(json!({"userId": fresh, "role": new_role})),
                    status,
                )
                .await;
            }
        }
        for (role, status) in [401, 404, 404, 403, 204, 204, 204].into_iter().enumerate() {
            let fresh = m.fresh_user().await;
            let added = call(
                &http,
                &app,
                &as_owner,
                Method::POST,
                &members_path,
                Some(&json!({"userId": fresh, "role": "member"})),
            )
            .await;
            assert_eq!(added.status, StatusCode::CREATED);
            m.cell(
                role,
                Method::DELETE,
                &format!("{members_path}/{fresh}"),
                None,
                status,
            )
            .await;
        }

        // Admin: users.
        m.row(Method::GET, "/api/admin/users", None, ADMIN_ONLY)
            .await;
        for (role, status) in [401, 403, 403, 403, 403, 403, 201].into_iter().enumerate() {
            let email = format!("{}@example.com", m.fresh("created"));
            m.cell(
                role,
                Method::POST,
                "/api/admin/users",
                Some(json!({"email": email, "name": "Created", "password": "created-password"})),
                status,
            )
            .await;
        }
        m.row(
            Method::GET,
            &format!("/api/admin/users/{}", user.id),
            None,
            ADMIN_ONLY,
        )
        .await;
        m.row(
            Method::PUT,
            &format!("/api/admin/users/{}", another.id),
            Some(json!({"city": "Oslo"})),
            ADMIN_ONLY,
        )
        .await;

        // Admin: plans.
        m.row(Method::GET, "/api/admin/plans", None, ADMIN_ONLY)
            .await;
        for (role, status) in [401, 403, 403, 403, 403, 403, 201].into_iter().enumerate() {
            let name = m.fresh("Plan ");
            m.cell(
                role,
                Method::POST,
                "/api/admin/plans",
                Some(json!({"name": name})),
                status,
            )
            .await;
        }
        m.row(
            Method::PUT,
            &format!("/api/admin/plans/{visible_id}"),
            Some(json!({"description": "changed"})),
            ADMIN_ONLY,
        )
        .await;
        for (role, status) in [401, 403, 403, 403, 403, 403, 204].into_iter().enumerate() {
            let name = m.fresh("Doomed ");
            let plan = call(
                &http,
                &app,
                &admin_token,
                Method::POST,
                "/api/admin/plans",
                Some(&json!({"name": name})),
            )
            .await
            .json();
            m.cell(
                role,
                Method::DELETE,
                &format!("/api/admin/plans/{}", plan["id"]),
                None,
                status,
            )
            .await;
        }

        // Last: logging out ends the admin's session.
        m.row(Method::POST, "/api/auth/logout", None, SIGNED_IN)
            .await;
        let after = call(
            &http,
            &app,
            &As::Session(admin_session.clone()),
            Method::GET,
            "/api/admin/users",
            None,
        )
        .await;
        assert_eq!(after.status, StatusCode::UNAUTHORIZED);

        assert!(
            m.failures.is_empty(),
            "{:?}: {} failing cells:\n{}",
            app.backend(),
            m.failures.len(),
            m.failures.join("\n")
        );
        assert!(
            m.bodies.len() > 150,
            "the matrix ran {} cells",
            m.bodies.len()
        );

        // No body ever carries a password hash, a stored token or session hash, or a
        // session id (those travel only in Set-Cookie).
        let stored = tariff_persistence::testing::stored_secrets(&app.db).await;
        assert!(
            stored.iter().any(|s| s.starts_with("$argon2id$")),
            "password hashes exist"
        );
        assert!(stored.len() > 20);
        for (request, body) in &m.bodies {
            assert!(
                !body.contains("$argon2"),
                "{request} leaks a password hash: {body}"
            );
            for secret in stored.iter().chain(&m.session_ids) {
                assert!(
                    !body.contains(secret.as_str()),
                    "{request} leaks {secret}: {body}"
                );
            }
            if !request.contains("/api/openapi.json") {
                for key in ["password", "hash", "session"] {
                    assert!(
                        !body.to_lowercase().contains(&format!("\"{key}")),
                        "{request}: key {key}: {body}"
                    );
                }
            }
        }
    }
}
