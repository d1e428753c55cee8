//! Acceptance checks against `CONTRACT.md`, statement by statement, where the area tests
//! do not already assert them: the exact Plan/Order/login shapes, money input, every
//! error code, hostile input on every endpoint, both credentials on every authenticated
//! endpoint, the billing switch over every endpoint, and the OpenAPI document. Driven by
//! one table of every route ([`ROUTES`]). Every test runs on SQLite and, with
//! TEST_DATABASE_URL, on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tariff_tests::{backends, spawn_app_with, TestApp, TestDatabase};

// ---------------------------------------------------------------------------------------
// The world every table runs in.

/// Who sends a request.
#[derive(Clone, Debug)]
enum Who {
    Anonymous,
    Bearer(String),
    Cookie(String),
}

/// A signed-in person: both credentials.
struct Person {
    id: i64,
    email: String,
    token: String,
    session: String,
}

impl Person {
    fn bearer(&self) -> Who {
        Who::Bearer(self.token.clone())
    }

    fn cookie(&self) -> Who {
        Who::Cookie(self.session.clone())
    }
}

struct Reply {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("status {}: not JSON: {}", self.status, self.text()))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// Asserts the contract's error shape and code.
    fn assert_error(&self, status: u16, code: &str, what: &str) {
        assert_eq!(self.status.as_u16(), status, "{what}: {}", self.text());
        assert!(
            self.header("content-type")
                .is_some_and(|t| t.starts_with("application/json")),
            "{what}: error bodies are JSON"
        );
        let body = self.json();
        assert_eq!(body["error"], code, "{what}: {body}");
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: a message sentence: {body}"
        );
    }
}

/// What a request carries.
enum Body {
    None,
    Json(Value),
    Raw(&'static str, Vec<u8>),
}

struct World {
    app: TestApp,
    /// No cookie jar: every request carries exactly the credential given. A request
    /// that takes longer than this timeout counts as a hang.
    http: reqwest::Client,
    admin: Person,
    customer: Person,
    /// A plain user the admin rows act on.
    other: i64,
    /// A visible paid plan.
    plan: i64,
    /// An organisation the customer owns.
    org: i64,
    /// A pending order of the customer.
    order: i64,
    counter: u32,
}

const PASSWORD: &str = "correct-horse-battery";

async fn send(
    http: &reqwest::Client,
    app: &TestApp,
    who: &Who,
    method: Method,
    path: &str,
    body: Body,
) -> Reply {
    let mut request = http.request(method.clone(), app.url(path));
    request = match who {
        Who::Anonymous => request,
        Who::Bearer(token) => request.bearer_auth(token),
        Who::Cookie(id) => request.header("cookie", format!("session={id}")),
    };
    request = match body {
        Body::None => request,
        Body::Json(value) => request.json(&value),
        Body::Raw(content_type, bytes) => request.header("content-type", content_type).body(bytes),
    };
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: no answer (a hang?): {e}"));
    Reply {
        status: response.status(),
        headers: response.headers().clone(),
        body: response.bytes().await.unwrap().to_vec(),
    }
}

impl World {
    async fn new(db: TestDatabase) -> World {
        // Login attempts are not rate-limited here: the tables log in many times.
        let app = spawn_app_with(db, |s| s.auth.login_attempts_per_minute = 0).await;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .unwrap();
        let admin_seed = app.seed_user("admin@example.com", "admin").await;
        let customer_seed = app.seed_user("customer@example.com", "user").await;
        let other = app.seed_user("other@example.com", "user").await.id;
        let mut people = Vec::new();
        for seed in [&admin_seed, &customer_seed] {
            let set = send(
                &http,
                &app,
                &Who::Bearer(admin_seed.token.clone()),
                Method::PUT,
                &format!("/api/admin/users/{}", seed.id),
                Body::Json(json!({"password": PASSWORD})),
            )
            .await;
            assert_eq!(set.status, StatusCode::OK, "{}", set.text());
            let session = login(&http, &app, &seed.email).await;
            people.push(Person {
                id: seed.id,
                email: seed.email.clone(),
                token: seed.token.clone(),
                session,
            });
        }
        let customer = people.pop().unwrap();
        let admin = people.pop().unwrap();
        let mut world = World {
            app,
            http,
            admin,
            customer,
            other,
            plan: 0,
            org: 0,
            order: 0,
            counter: 0,
        };
        world.plan = world.new_plan(false).await;
        let org = world
            .expect(
                &world.customer.bearer(),
                Method::POST,
                "/api/organisations",
                json!({"name": "Acme"}),
                201,
            )
            .await;
        world.org = org["id"].as_i64().unwrap();
        world.order = world.new_order().await;
        world
    }

    async fn call(&self, who: &Who, method: Method, path: &str, body: Body) -> Reply {
        send(&self.http, &self.app, who, method, path, body).await
    }

    /// A JSON request that must answer `status`; its JSON body.
    async fn expect(
        &self,
        who: &Who,
        method: Method,
        path: &str,
        body: Value,
        status: u16,
    ) -> Value {
        let reply = self.call(who, method.clone(), path, Body::Json(body)).await;
        assert_eq!(
            reply.status.as_u16(),
            status,
            "{method} {path}: {}",
            reply.text()
        );
        if reply.body.is_empty() {
            Value::Null
        } else {
            reply.json()
        }
    }

    fn fresh(&mut self) -> u32 {
        self.counter += 1;
        self.counter
    }

    async fn new_plan(&mut self, hidden: bool) -> i64 {
        let n = self.fresh();
        let plan = self
            .expect(
                &self.admin.bearer(),
                Method::POST,
                "/api/admin/plans",
                json!({"name": format!("Plan {n}"), "price": 9.99, "hidden": hidden}),
                201,
            )
            .await;
        plan["id"].as_i64().unwrap()
    }

    async fn new_order(&mut self) -> i64 {
        let order = self
            .expect(
                &self.customer.bearer(),
                Method::POST,
                "/api/orders",
                json!({"planId": self.plan}),
                201,
            )
            .await;
        order["id"].as_i64().unwrap()
    }

    async fn new_user(&mut self) -> i64 {
        let n = self.fresh();
        let user = self
            .expect(
                &self.admin.bearer(),
                Method::POST,
                "/api/admin/users",
                json!({"email": format!("fresh{n}@example.com"), "name": "Fresh"}),
                201,
            )
            .await;
        user["id"].as_i64().unwrap()
    }

    async fn new_member(&mut self) -> i64 {
        let user = self.new_user().await;
        let path = format!("/api/organisations/{}/members", self.org);
        self.expect(
            &self.customer.bearer(),
            Method::POST,
            &path,
            json!({"userId": user, "role": "member"}),
            201,
        )
        .await;
        user
    }

    async fn new_token(&mut self) -> i64 {
        let token = self
            .expect(
                &self.customer.bearer(),
                Method::POST,
                "/api/tokens",
                json!({"name": "spare"}),
                201,
            )
            .await;
        token["id"].as_i64().unwrap()
    }

    /// Fills a template's placeholders. `fresh` objects (made per request, because the
    /// request uses them up) are made only when `make_fresh`; else a fixed id stands in.
    async fn fill(&mut self, template: &str, make_fresh: bool) -> String {
        let mut text = template.to_owned();
        let fixed = [
            ("{me}", self.customer.id),
            ("{user}", self.other),
            ("{plan}", self.plan),
            ("{org}", self.org),
            ("{order}", self.order),
        ];
        for (name, id) in fixed {
            text = text.replace(name, &id.to_string());
        }
        if text.contains("{n}") {
            let n = self.fresh();
            text = text.replace("{n}", &n.to_string());
        }
        let fresh: [(&str, Fresh); 5] = [
            ("{fresh_plan}", Fresh::Plan),
            ("{fresh_order}", Fresh::Order),
            ("{fresh_user}", Fresh::User),
            ("{fresh_member}", Fresh::Member),
            ("{fresh_token}", Fresh::Token),
        ];
        for (name, kind) in fresh {
            if text.contains(name) {
                let id = match (make_fresh, kind) {
                    (false, Fresh::Plan) => self.plan,
                    (false, Fresh::Order) => self.order,
                    (false, Fresh::User | Fresh::Member) => self.other,
                    (false, Fresh::Token) => 1,
                    (true, Fresh::Plan) => self.new_plan(false).await,
                    (true, Fresh::Order) => self.new_order().await,
                    (true, Fresh::User) => self.new_user().await,
                    (true, Fresh::Member) => self.new_member().await,
                    (true, Fresh::Token) => self.new_token().await,
                };
                text = text.replace(name, &id.to_string());
            }
        }
        text
    }

    /// The request of a route, ready to send.
    async fn request(&mut self, route: &Route, make_fresh: bool) -> (String, Body) {
        let path = self.fill(route.path, make_fresh).await;
        let body = match route.body {
            Some(template) => {
                let text = self.fill(template, make_fresh).await;
                Body::Json(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}")))
            }
            None => Body::None,
        };
        (path, body)
    }

    /// The credential a route is meant for, as bearer or cookie.
    fn caller(&self, access: Access, cookie: bool) -> Who {
        let person = match access {
            Access::Public => return Who::Anonymous,
            Access::SignedIn => &self.customer,
            Access::Admin => &self.admin,
        };
        if cookie {
            person.cookie()
        } else {
            person.bearer()
        }
    }
}

async fn login(http: &reqwest::Client, app: &TestApp, email: &str) -> String {
    let reply = send(
        http,
        app,
        &Who::Anonymous,
        Method::POST,
        "/api/auth/login",
        Body::Json(json!({"email": email, "password": PASSWORD})),
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "login {email}: {}",
        reply.text()
    );
    let cookie = reply.header("set-cookie").unwrap();
    cookie
        .strip_prefix("session=")
        .and_then(|rest| rest.split(';').next())
        .unwrap()
        .to_owned()
}

#[derive(Clone, Copy)]
enum Fresh {
    Plan,
    Order,
    User,
    Member,
    Token,
}

// ---------------------------------------------------------------------------------------
// Every route of the service.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    Public,
    SignedIn,
    Admin,
}

/// One route: a request that succeeds for its intended caller (`ok`), whether the
/// billing switch gates it, and JSON bodies with a wrong value that must be a 400.
struct Route {
    method: &'static str,
    /// With placeholders: `{me}` (the customer), `{user}` (another user), `{plan}`,
    /// `{org}` (the customer's), `{order}` (the customer's pending order), `{n}` (a fresh
    /// number), and `{fresh_*}` for objects a request uses up.
    path: &'static str,
    access: Access,
    billing: bool,
    /// The route reads a JSON body (`Some`: a valid one).
    body: Option<&'static str>,
    ok: u16,
    bad_bodies: &'static [&'static str],
}

const fn route(
    method: &'static str,
    path: &'static str,
    access: Access,
    billing: bool,
    body: Option<&'static str>,
    ok: u16,
    bad_bodies: &'static [&'static str],
) -> Route {
    Route {
        method,
        path,
        access,
        billing,
        body,
        ok,
        bad_bodies,
    }
}

use Access::{Admin, Public, SignedIn};

const GATED: bool = true;
const FREE: bool = false;

/// Every route, in `configure()`'s terms. Logout comes last: with the cookie it ends
/// the customer's session.
const ROUTES: &[Route] = &[
    // Operations.
    route("GET", "/healthz", Public, FREE, None, 200, &[]),
    route("GET", "/readyz", Public, FREE, None, 200, &[]),
    route("GET", "/metrics", Public, FREE, None, 200, &[]),
    route("GET", "/api/openapi.json", Public, FREE, None, 200, &[]),
    // Plans and packages.
    route("GET", "/api/plans", Public, GATED, None, 200, &[]),
    route("GET", "/api/plans/{plan}", Public, GATED, None, 200, &[]),
    route("GET", "/api/packages", SignedIn, GATED, None, 200, &[]),
    route(
        "GET",
        "/api/packages/{plan}",
        SignedIn,
        GATED,
        None,
        200,
        &[],
    ),
    // Auth, tokens, organisations.
    route(
        "POST",
        "/api/auth/login",
        Public,
        FREE,
        Some(r#"{"email": "customer@example.com", "password": "correct-horse-battery"}"#),
        200,
        &[
            r#"{"email": 5, "password": "x"}"#,
            r#"{"email": "a@example.com"}"#,
        ],
    ),
    route("GET", "/api/me", SignedIn, FREE, None, 200, &[]),
    route("GET", "/api/tokens", SignedIn, FREE, None, 200, &[]),
    route(
        "POST",
        "/api/tokens",
        SignedIn,
        FREE,
        Some(r#"{"name": "ci {n}"}"#),
        201,
        &[r#"{"name": 5}"#],
    ),
    route(
        "DELETE",
        "/api/tokens/{fresh_token}",
        SignedIn,
        FREE,
        None,
        204,
        &[],
    ),
    route(
        "POST",
        "/api/organisations",
        SignedIn,
        FREE,
        Some(r#"{"name": "Org {n}"}"#),
        201,
        &[
            r#"{"name": ["x"]}"#,
            r#"{"name": "X", "country": "Atlantis"}"#,
        ],
    ),
    route(
        "GET",
        "/api/organisations/{org}",
        SignedIn,
        FREE,
        None,
        200,
        &[],
    ),
    route(
        "POST",
        "/api/organisations/{org}/members",
        SignedIn,
        FREE,
        Some(r#"{"userId": {fresh_user}, "role": "member"}"#),
        201,
        &[
            r#"{"userId": {user}, "role": "king"}"#,
            r#"{"userId": "{user}", "role": "member"}"#,
            r#"{"userId": {user}}"#,
        ],
    ),
    route(
        "DELETE",
        "/api/organisations/{org}/members/{fresh_member}",
        SignedIn,
        FREE,
        None,
        204,
        &[],
    ),
    // Quota.
    route(
        "GET",
        "/api/users/{me}/quota",
        SignedIn,
        GATED,
        None,
        200,
        &[],
    ),
    route(
        "GET",
        "/api/organisations/{org}/quota",
        SignedIn,
        GATED,
        None,
        200,
        &[],
    ),
    route(
        "PUT",
        "/api/admin/users/{user}/limits",
        Admin,
        FREE,
        Some(r#"{"servers": 5}"#),
        200,
        &[
            r#"{"cpus": 1}"#,
            r#"{"servers": -1}"#,
            r#"{"servers": "5"}"#,
        ],
    ),
    route(
        "PUT",
        "/api/admin/organisations/{org}/limits",
        Admin,
        FREE,
        Some(r#"{"servers": 5}"#),
        200,
        &[r#"{"cpus": 1}"#, r#"{"servers": 1.5}"#],
    ),
    route(
        "POST",
        "/api/admin/users/{user}/usage",
        Admin,
        GATED,
        Some(r#"{"resource": "memory", "delta": 1}"#),
        200,
        &[
            r#"{"resource": "cpus", "delta": 1}"#,
            r#"{"resource": "memory", "delta": "1"}"#,
            r#"{"resource": "memory", "delta": 0}"#,
            r#"{"resource": "memory"}"#,
        ],
    ),
    route(
        "POST",
        "/api/admin/organisations/{org}/usage",
        Admin,
        GATED,
        Some(r#"{"resource": "memory", "delta": 1, "idempotencyKey": "k{n}"}"#),
        200,
        &[
            r#"{"resource": "cpus", "delta": 1}"#,
            r#"{"resource": "memory", "delta": 1.5}"#,
        ],
    ),
    route(
        "POST",
        "/api/admin/users/{user}/usage/check",
        Admin,
        GATED,
        Some(r#"{"resource": "servers", "delta": 1}"#),
        200,
        &[r#"{"resource": "cpus", "delta": 1}"#],
    ),
    route(
        "POST",
        "/api/admin/organisations/{org}/usage/check",
        Admin,
        GATED,
        Some(r#"{"resource": "servers", "delta": 1}"#),
        200,
        &[r#"{"resource": "cpus", "delta": 1}"#],
    ),
    // Account credit and coupons.
    route(
        "GET",
        "/api/users/{me}/credit",
        SignedIn,
        GATED,
        None,
        200,
        &[],
    ),
    route(
        "GET",
        "/api/organisations/{org}/credit",
        SignedIn,
        GATED,
        None,
        200,
        &[],
    ),
    route(
        "POST",
        "/api/admin/users/{user}/credit",
        Admin,
        GATED,
        Some(r#"{"amount": 1.5, "currency": "USD", "reason": "grant {n}"}"#),
        201,
        &[
            r#"{"amount": 0, "currency": "USD", "reason": "zero"}"#,
            r#"{"amount": 1.001, "currency": "USD", "reason": "precise"}"#,
            r#"{"amount": 1, "currency": "XXX", "reason": "unknown"}"#,
            r#"{"amount": 1, "currency": "USD"}"#,
        ],
    ),
    route(
        "POST",
        "/api/admin/organisations/{org}/credit",
        Admin,
        GATED,
        Some(r#"{"amount": "2", "currency": "EUR", "reason": "grant {n}"}"#),
        201,
        &[r#"{"amount": 1, "currency": "EUR", "reason": ""}"#],
    ),
    route("GET", "/api/admin/coupons", Admin, GATED, None, 200, &[]),
    route(
        "POST",
        "/api/admin/coupons",
        Admin,
        GATED,
        Some(r#"{"code": "C{n}", "percentOff": 10, "duration": "once"}"#),
        201,
        &[
            r#"{"code": "X", "duration": "once"}"#,
            r#"{"code": "X", "percentOff": 10, "duration": "weekly"}"#,
        ],
    ),
    // Admin: users and plans.
    route("GET", "/api/admin/users", Admin, FREE, None, 200, &[]),
    route(
        "POST",
        "/api/admin/users",
        Admin,
        FREE,
        Some(r#"{"email": "made{n}@example.com", "name": "Made", "password": "a-long-password"}"#),
        201,
        &[
            r#"{"email": "x{n}@example.com", "name": "X", "role": "king"}"#,
            r#"{"email": "not an email", "name": "X"}"#,
            r#"{"email": "y{n}@example.com", "name": 5}"#,
        ],
    ),
    route(
        "GET",
        "/api/admin/users/{user}",
        Admin,
        FREE,
        None,
        200,
        &[],
    ),
    route(
        "PUT",
        "/api/admin/users/{user}",
        Admin,
        FREE,
        Some(r#"{"city": "Oslo"}"#),
        200,
        &[
            r#"{"role": "king"}"#,
            r#"{"country": "XX"}"#,
            r#"{"password": "short"}"#,
        ],
    ),
    route("GET", "/api/admin/plans", Admin, GATED, None, 200, &[]),
    route(
        "POST",
        "/api/admin/plans",
        Admin,
        GATED,
        Some(r#"{"name": "Made {n}", "type": "edu", "price": "4.99"}"#),
        201,
        &[
            r#"{"name": "Gold {n}", "type": "gold"}"#,
            r#"{"name": "Dear {n}", "price": 9.999}"#,
            r#"{"name": "Yen {n}", "price": 1.5, "currency": "JPY"}"#,
            r#"{"name": "Neg {n}", "memory": -1}"#,
            r#"{"name": "Cur {n}", "currency": "XXX"}"#,
            r#"{"name": "Perm {n}", "serverPermissions": {"create": true}}"#,
        ],
    ),
    route(
        "PUT",
        "/api/admin/plans/{plan}",
        Admin,
        GATED,
        Some(r#"{"description": "changed"}"#),
        200,
        &[
            r#"{"type": "gold"}"#,
            r#"{"price": 1.001}"#,
            r#"{"priceHourly": "0.001"}"#,
            r#"{"priceYearly": 99.999}"#,
            r#"{"hidden": "yes"}"#,
        ],
    ),
    route(
        "DELETE",
        "/api/admin/plans/{fresh_plan}",
        Admin,
        GATED,
        None,
        204,
        &[],
    ),
    // Orders.
    route("GET", "/api/admin/settings", Admin, FREE, None, 200, &[]),
    route(
        "PUT",
        "/api/admin/settings",
        Admin,
        FREE,
        Some(r#"{"billingEnabled": true}"#),
        200,
        &[r#"{"billingEnabled": "no"}"#, r#"{"billing": false}"#],
    ),
    route("GET", "/api/orders", SignedIn, GATED, None, 200, &[]),
    route(
        "POST",
        "/api/orders",
        SignedIn,
        GATED,
        Some(r#"{"planId": {plan}}"#),
        201,
        &[
            r#"{"planId": "{plan}"}"#,
            r#"{"planId": {plan}, "orgId": "x"}"#,
            r#"{}"#,
        ],
    ),
    route(
        "GET",
        "/api/orders/{order}",
        SignedIn,
        GATED,
        None,
        200,
        &[],
    ),
    route(
        "POST",
        "/api/orders/{fresh_order}/cancel",
        SignedIn,
        GATED,
        None,
        200,
        &[],
    ),
    route(
        "GET",
        "/api/orders/{order}/invoice",
        SignedIn,
        GATED,
        None,
        200,
        &[],
    ),
    route(
        "POST",
        "/api/admin/users/{user}/apply-plan",
        Admin,
        GATED,
        Some(r#"{"planId": {plan}, "notes": "comped"}"#),
        200,
        &[
            r#"{"planId": {plan}, "expiresAt": "soon"}"#,
            r#"{"planId": "{plan}"}"#,
            r#"{"notes": "no plan"}"#,
        ],
    ),
    route(
        "POST",
        "/api/admin/users/{user}/cancel-plan",
        Admin,
        GATED,
        None,
        200,
        &[],
    ),
    route(
        "GET",
        "/api/admin/users/{user}/current-plan",
        Admin,
        GATED,
        None,
        200,
        &[],
    ),
    route("GET", "/api/admin/orders", Admin, GATED, None, 200, &[]),
    route(
        "POST",
        "/api/admin/orders/{fresh_order}/mark-paid",
        Admin,
        GATED,
        Some(r#"{"reference": "bank-{n}"}"#),
        200,
        &[r#"{"reference": 5}"#, r#"{"ref": "x"}"#],
    ),
    route("POST", "/api/auth/logout", SignedIn, FREE, None, 200, &[]),
];

fn method(route: &Route) -> Method {
    route.method.parse().unwrap()
}

// ---------------------------------------------------------------------------------------
// The tables.

#[tokio::test]
async fn both_credentials_work_on_every_authenticated_endpoint_and_admin_routes_are_admin_only() {
    for db in backends() {
        let mut w = World::new(db).await;
        let mut failures = Vec::new();
        for route in ROUTES {
            let what = format!("{} {}", route.method, route.path);
            if route.access == Public {
                let (path, body) = w.request(route, true).await;
                let reply = w.call(&Who::Anonymous, method(route), &path, body).await;
                if reply.status.as_u16() != route.ok {
                    failures.push(format!(
                        "{what} anonymous: {} {}",
                        reply.status,
                        reply.text()
                    ));
                }
                continue;
            }
            // Anonymous, and a bad credential of either kind: 401.
            for who in [
                Who::Anonymous,
                Who::Bearer("tff_nonsense".into()),
                Who::Cookie("tss_nonsense".into()),
            ] {
                let (path, body) = w.request(route, false).await;
                let reply = w.call(&who, method(route), &path, body).await;
                if reply.status != StatusCode::UNAUTHORIZED {
                    failures.push(format!("{what} {who:?}: {} {}", reply.status, reply.text()));
                } else {
                    reply.assert_error(401, "unauthorized", &what);
                }
            }
            if route.access == Admin {
                for who in [w.customer.bearer(), w.customer.cookie()] {
                    let (path, body) = w.request(route, false).await;
                    let reply = w.call(&who, method(route), &path, body).await;
                    if reply.status != StatusCode::FORBIDDEN {
                        failures.push(format!(
                            "{what} as a user: {} {}",
                            reply.status,
                            reply.text()
                        ));
                    } else {
                        reply.assert_error(403, "forbidden", &what);
                    }
                }
            }
            for cookie in [false, true] {
                let who = w.caller(route.access, cookie);
                let (path, body) = w.request(route, true).await;
                let reply = w.call(&who, method(route), &path, body).await;
                if reply.status.as_u16() != route.ok {
                    let kind = if cookie { "cookie" } else { "bearer" };
                    failures.push(format!("{what} {kind}: {} {}", reply.status, reply.text()));
                }
            }
        }
        assert!(
            failures.is_empty(),
            "{:?}:\n{}",
            w.app.backend(),
            failures.join("\n")
        );
    }
}

#[tokio::test]
async fn the_billing_switch_gates_exactly_the_billing_endpoints() {
    for db in backends() {
        let mut w = World::new(db).await;
        w.expect(
            &w.admin.bearer(),
            Method::PUT,
            "/api/admin/settings",
            json!({"billingEnabled": false}),
            200,
        )
        .await;
        let mut failures = Vec::new();
        for route in ROUTES {
            let what = format!("{} {}", route.method, route.path);
            let mut callers = vec![w.caller(route.access, false)];
            if route.billing {
                // The gate answers before anything else, authentication included.
                callers.push(Who::Anonymous);
            }
            for who in callers {
                let (path, body) = w.request(route, !route.billing).await;
                let reply = w.call(&who, method(route), &path, body).await;
                let expected = if route.billing { 503 } else { route.ok };
                if reply.status.as_u16() != expected {
                    failures.push(format!("{what} {who:?}: {} {}", reply.status, reply.text()));
                } else if route.billing {
                    reply.assert_error(503, "feature_disabled", &what);
                }
            }
            if route.method == "PUT" && route.path == "/api/admin/settings" {
                // That row switched billing back on.
                w.expect(
                    &w.admin.bearer(),
                    Method::PUT,
                    "/api/admin/settings",
                    json!({"billingEnabled": false}),
                    200,
                )
                .await;
            }
        }
        assert!(
            failures.is_empty(),
            "{:?}:\n{}",
            w.app.backend(),
            failures.join("\n")
        );
        // Nothing behind the gate changed: the customer's order is still pending.
        w.expect(
            &w.admin.bearer(),
            Method::PUT,
            "/api/admin/settings",
            json!({"billingEnabled": true}),
            200,
        )
        .await;
        let order = w
            .expect(
                &w.customer.bearer(),
                Method::GET,
                &format!("/api/orders/{}", w.order),
                Value::Null,
                200,
            )
            .await;
        assert_eq!(order["status"], "pending");
    }
}

#[tokio::test]
async fn hostile_input_on_every_endpoint_is_a_clear_4xx() {
    for db in backends() {
        let mut w = World::new(db).await;
        let admin = w.admin.bearer();
        let oversized = {
            let mut text = String::from(r#"{"name": ""#);
            text.push_str(&"x".repeat(65 * 1024));
            text.push_str(r#""}"#);
            text.into_bytes()
        };
        let mut checked = 0;
        for route in ROUTES {
            let what = format!("{} {}", route.method, route.path);
            let m = method(route);
            // Non-numeric and out-of-range path ids: 400, for every id in the path.
            let ids = ["{me}", "{user}", "{plan}", "{org}", "{order}"]
                .into_iter()
                .chain([
                    "{fresh_plan}",
                    "{fresh_order}",
                    "{fresh_member}",
                    "{fresh_token}",
                ])
                .filter(|p| route.path.contains(p));
            for placeholder in ids {
                for bad in ["abc", "1.5", "1e3", "%FF", "99999999999999999999999"] {
                    let template = route.path.replace(placeholder, bad);
                    let path = w.fill(&template, false).await;
                    let body = match route.body {
                        Some(b) => {
                            Body::Json(serde_json::from_str(&w.fill(b, false).await).unwrap())
                        }
                        None => Body::None,
                    };
                    let reply = w.call(&admin, m.clone(), &path, body).await;
                    reply.assert_error(400, "validation_failed", &format!("{what} with id {bad}"));
                    checked += 1;
                }
            }
            // Oversized bodies: 413 on every route, whether it reads a body or not.
            let (path, _) = w.request(route, false).await;
            let reply = w
                .call(
                    &admin,
                    m.clone(),
                    &path,
                    Body::Raw("application/json", oversized.clone()),
                )
                .await;
            reply.assert_error(413, "payload_too_large", &format!("{what} with 65 KiB"));
            checked += 1;
            if route.body.is_none() {
                continue;
            }
            // Malformed JSON, wrong shapes, wrong media type.
            let raw: [(&'static str, &[u8], u16, &str); 6] = [
                ("application/json", b"{\"name\": ", 400, "validation_failed"),
                ("application/json", b"[1, 2]", 400, "validation_failed"),
                ("application/json", b"\"text\"", 400, "validation_failed"),
                ("application/json", b"null", 400, "validation_failed"),
                (
                    "application/json",
                    b"{\"a\": \"\\ud800\"}",
                    400,
                    "validation_failed",
                ),
                ("text/plain", b"{}", 415, "unsupported_media_type"),
            ];
            for (content_type, bytes, status, code) in raw {
                let (path, _) = w.request(route, false).await;
                let reply = w
                    .call(
                        &admin,
                        m.clone(),
                        &path,
                        Body::Raw(content_type, bytes.to_vec()),
                    )
                    .await;
                let shown = String::from_utf8_lossy(bytes);
                reply.assert_error(status, code, &format!("{what} with {content_type} {shown}"));
                checked += 1;
            }
            // Wrong types, unknown enum values, out-of-range values.
            for template in route.bad_bodies {
                let (path, _) = w.request(route, false).await;
                let text = w.fill(template, false).await;
                let body: Value = serde_json::from_str(&text).unwrap();
                let reply = w.call(&admin, m.clone(), &path, Body::Json(body)).await;
                reply.assert_error(400, "validation_failed", &format!("{what} with {text}"));
                checked += 1;
            }
        }
        eprintln!(
            "{:?}: {checked} hostile requests, each a clear 4xx",
            w.app.backend()
        );
        // Nothing was changed by any of them: the plan the PUT rows aimed at is intact.
        let plan = w
            .expect(
                &Who::Anonymous,
                Method::GET,
                &format!("/api/plans/{}", w.plan),
                Value::Null,
                200,
            )
            .await;
        assert_eq!(plan["price"].to_string(), "9.99");
        assert_eq!(plan["type"], "paid");
        assert_eq!(plan["priceHourly"].to_string(), "0.0");
    }
}

#[tokio::test]
async fn openapi_describes_every_endpoint() {
    let w = World::new(TestDatabase::sqlite()).await;
    let doc = w
        .expect(
            &Who::Anonymous,
            Method::GET,
            "/api/openapi.json",
            Value::Null,
            200,
        )
        .await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let described: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.to_uppercase(), shape(path)))
        })
        .collect();
    // The contract's list, as written there (`:id` style)...
    let contract = [
        ("GET", "/api/plans"),
        ("GET", "/api/plans/:id"),
        ("GET", "/api/orders"),
        ("GET", "/api/orders/:id"),
        ("GET", "/api/orders/:id/invoice"),
        ("POST", "/api/orders"),
        ("POST", "/api/orders/:id/cancel"),
        ("POST", "/api/admin/users/:id/apply-plan"),
        ("POST", "/api/admin/users/:id/cancel-plan"),
        ("GET", "/api/admin/users/:id/current-plan"),
        ("POST", "/api/admin/orders/:id/mark-paid"),
        ("GET", "/api/admin/plans"),
        ("POST", "/api/admin/plans"),
        ("PUT", "/api/admin/plans/:id"),
        ("DELETE", "/api/admin/plans/:id"),
        ("POST", "/api/admin/users"),
        ("GET", "/api/admin/users/:id"),
        ("GET", "/api/admin/settings"),
        ("PUT", "/api/admin/settings"),
        ("GET", "/api/packages"),
        ("GET", "/api/packages/:id"),
        ("GET", "/api/users/:id/quota"),
        ("GET", "/api/organisations/:id/quota"),
        ("POST", "/api/admin/users/:id/usage"),
        ("POST", "/api/admin/organisations/:id/usage"),
        ("POST", "/api/auth/login"),
        ("POST", "/api/auth/logout"),
        ("GET", "/api/me"),
        ("POST", "/api/organisations"),
        ("POST", "/api/organisations/:id/members"),
        ("DELETE", "/api/organisations/:id/members/:userId"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("GET", "/api/openapi.json"),
    ];
    let mut missing: Vec<String> = contract
        .iter()
        .map(|(m, p)| (m.to_string(), shape(p)))
        .chain(ROUTES.iter().map(|r| (r.method.to_owned(), shape(r.path))))
        .filter(|pair| !described.contains(pair))
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "the OpenAPI document lacks:\n{}",
        missing.join("\n")
    );
}

/// A path with every parameter (`:id`, `{id}`, `{user_id}`) written as `{}`.
fn shape(path: &str) -> String {
    path.split('/')
        .map(|part| {
            if part.starts_with(':') || (part.starts_with('{') && part.ends_with('}')) {
                "{}"
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

// ---------------------------------------------------------------------------------------
// Shapes.

const PLAN_KEYS: [&str; 26] = [
    "id",
    "name",
    "type",
    "description",
    "price",
    "priceHourly",
    "priceYearly",
    "currency",
    "memory",
    "disk",
    "cpu",
    "serverLimit",
    "sites",
    "databases",
    "backups",
    "portCount",
    "tunnelPortCount",
    "emailDailyLimit",
    "emailQueueLimit",
    "serverPermissions",
    "sitePermissions",
    "features",
    "hidden",
    "isDefault",
    "stripePlanId",
    "createdAt",
];

/// Keys part two of the contract adds to every plan in both profiles ("Profiles").
const PLAN_ADDED_KEYS: [&str; 3] = [
    "hiddenFromBilling",
    "emailSendDailyLimit",
    "emailSendQueueLimit",
];

/// Part one's plan keys and part two's additions: exactly what a plan carries.
fn plan_keys() -> BTreeSet<&'static str> {
    PLAN_KEYS.into_iter().chain(PLAN_ADDED_KEYS).collect()
}

/// Part one's order keys and part two's `createdAt`.
fn order_keys() -> BTreeSet<&'static str> {
    // Part two adds `createdAt` ("Profiles") and `cycle` ("Billing cycles"), `paidAt` and
    // `pastDue` ("Payments").
    ORDER_KEYS
        .into_iter()
        .chain(["createdAt", "cycle", "paidAt", "pastDue"])
        .collect()
}

const ORDER_KEYS: [&str; 15] = [
    "id",
    "status",
    "amount",
    "subtotal",
    "taxRate",
    "taxAmount",
    "currency",
    "description",
    "planId",
    "userId",
    "orgId",
    "items",
    "date",
    "expiresAt",
    "invoiceNumber",
];

const RESOURCE_KEYS: [&str; 11] = [
    "memory",
    "disk",
    "cpu",
    "servers",
    "sites",
    "databases",
    "backups",
    "portCount",
    "tunnelPortCount",
    "emailDailyLimit",
    "emailQueueLimit",
];

fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect()
}

fn assert_has_keys(value: &Value, wanted: &[&str], what: &str) {
    let have = keys(value);
    for key in wanted {
        assert!(have.contains(key), "{what} lacks {key}: {value}");
    }
}

/// `2026-11-21T10:00:00Z`.
fn is_panel_timestamp(value: &Value) -> bool {
    value.as_str().is_some_and(|t| {
        t.len() == 20 && t.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(t).is_ok()
    })
}

#[tokio::test]
async fn plan_json_is_the_contract_example_and_the_list_is_ordered_by_price_then_id() {
    for db in backends() {
        let w = World::new(db).await;
        let admin = w.admin.bearer();
        let created = w
            .expect(
                &admin,
                Method::POST,
                "/api/admin/plans",
                json!({"name": "Pro", "type": "paid", "description": null, "price": 9.99,
                    "priceHourly": 0, "priceYearly": 99, "currency": "USD", "memory": 8192,
                    "disk": 51200, "cpu": 400, "serverLimit": 5, "sites": 10, "databases": 5,
                    "backups": 10, "portCount": 3, "tunnelPortCount": 10, "emailDailyLimit": 100,
                    "emailQueueLimit": 10,
                    "serverPermissions": {"create": true, "update": true, "delete": true},
                    "sitePermissions": {"create": true, "update": true, "delete": true},
                    "features": {}, "hidden": false, "isDefault": false, "stripePlanId": null}),
                201,
            )
            .await;
        let id = created["id"].as_i64().unwrap();
        let read = w
            .expect(
                &Who::Anonymous,
                Method::GET,
                &format!("/api/plans/{id}"),
                Value::Null,
                200,
            )
            .await;
        assert_eq!(read, created);
        assert_eq!(keys(&read), plan_keys(), "exactly the contract's keys");
        assert!(is_panel_timestamp(&read["createdAt"]), "{read}");
        let mut without_time = read.clone();
        without_time["createdAt"] = Value::Null;
        let expected = r#"{"id":ID,"name":"Pro","type":"paid","description":null,"price":9.99,"priceHourly":0.0,"priceYearly":99.0,"currency":"USD","memory":8192,"disk":51200,"cpu":400,"serverLimit":5,"sites":10,"databases":5,"backups":10,"portCount":3,"tunnelPortCount":10,"emailDailyLimit":100,"emailQueueLimit":10,"emailSendDailyLimit":100,"emailSendQueueLimit":10,"serverPermissions":{"create":true,"update":true,"delete":true},"sitePermissions":{"create":true,"update":true,"delete":true},"features":{},"hidden":false,"hiddenFromBilling":false,"isDefault":false,"stripePlanId":null,"createdAt":null}"#;
        // Compared as text: `9.99`, `0.0` and `99.0` are written exactly so.
        let text = w
            .call(
                &Who::Anonymous,
                Method::GET,
                &format!("/api/plans/{id}"),
                Body::None,
            )
            .await
            .text();
        let created_at = read["createdAt"].as_str().unwrap();
        assert_eq!(
            text,
            expected.replace("ID", &id.to_string()).replace(
                r#""createdAt":null"#,
                &format!(r#""createdAt":"{created_at}""#)
            )
        );
        // Every type is accepted; anything else is not.
        for plan_type in ["free", "paid", "edu", "enterprise"] {
            let plan = w
                .expect(
                    &admin,
                    Method::PUT,
                    &format!("/api/admin/plans/{id}"),
                    json!({"type": plan_type}),
                    200,
                )
                .await;
            assert_eq!(plan["type"], plan_type);
        }

        // The public list: hidden plans left out, price ascending, ties by id.
        let mut made = Vec::new();
        for (name, price, hidden) in [
            ("B", "5", false),
            ("Secret", "0.5", true),
            ("A", "1.50", false),
            ("C", "5.00", false),
            ("D", "0", false),
        ] {
            let plan = w
                .expect(
                    &admin,
                    Method::POST,
                    "/api/admin/plans",
                    json!({"name": name, "price": price, "hidden": hidden}),
                    201,
                )
                .await;
            made.push((name, plan["id"].as_i64().unwrap()));
        }
        let list = w
            .expect(&Who::Anonymous, Method::GET, "/api/plans", Value::Null, 200)
            .await;
        let names: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        // Free and D cost 0, B and C cost 5, Plan 1 and Pro 9.99: the lower id first.
        assert_eq!(
            names,
            ["Free", "D", "A", "B", "C", "Plan 1", "Pro"],
            "{list}"
        );
        for plan in list.as_array().unwrap() {
            assert_eq!(keys(plan), plan_keys());
        }
        // An admin's list includes the hidden plan.
        let all = w
            .expect(&admin, Method::GET, "/api/admin/plans", Value::Null, 200)
            .await;
        assert!(all
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "Secret"));
    }
}

#[tokio::test]
async fn money_with_more_decimals_than_the_currency_is_a_400_and_changes_nothing() {
    for db in backends() {
        let w = World::new(db).await;
        let admin = w.admin.bearer();
        let plan_path = format!("/api/admin/plans/{}", w.plan);
        let cases = [
            ("price", json!(9.999), "USD"),
            ("price", json!("9.999"), "USD"),
            ("price", json!(0.001), "USD"),
            ("price", json!(1e-3), "USD"),
            ("priceHourly", json!(0.0001), "USD"),
            ("priceYearly", json!("99.995"), "EUR"),
            ("price", json!(1.5), "JPY"),
            ("price", json!("0.0005"), "KWD"),
        ];
        for (field, value, currency) in cases {
            let what = format!("{field} {value} {currency}");
            let mut body = json!({"name": "Too precise", "currency": currency});
            body[field] = value.clone();
            let reply = w
                .call(&admin, Method::POST, "/api/admin/plans", Body::Json(body))
                .await;
            reply.assert_error(400, "validation_failed", &format!("create {what}"));
            assert_eq!(reply.json()["field"], field, "{what}");
            let mut body = json!({"currency": currency});
            body[field] = value.clone();
            let reply = w
                .call(&admin, Method::PUT, &plan_path, Body::Json(body))
                .await;
            reply.assert_error(400, "validation_failed", &format!("update {what}"));
            assert_eq!(reply.json()["field"], field, "{what}");
        }
        // A currency's own decimals are fine (trailing zeros carry no precision).
        for (value, currency, shown) in [
            (json!("12.50"), "USD", "12.5"),
            (json!(1500), "JPY", "1500.0"),
            (json!("1.234"), "KWD", "1.234"),
            (json!(4.990), "EUR", "4.99"),
        ] {
            let plan = w
                .expect(
                    &admin,
                    Method::PUT,
                    &plan_path,
                    json!({"price": value, "currency": currency}),
                    200,
                )
                .await;
            assert_eq!(plan["price"].to_string(), shown, "{value} {currency}");
            assert_eq!(plan["currency"], currency);
        }
        let reply = w
            .call(&Who::Anonymous, Method::GET, "/api/plans", Body::None)
            .await;
        let names: Vec<String> = reply
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect();
        assert!(!names.contains(&"Too precise".to_owned()), "{names:?}");
    }
}

#[tokio::test]
async fn order_login_and_admin_plan_answers_have_the_contract_shapes() {
    for db in backends() {
        let w = World::new(db).await;
        let admin = w.admin.bearer();
        let customer = w.customer.bearer();

        // Login: `{"user": {...}}` and nothing else; the cookie's attributes.
        let reply = w
            .call(
                &Who::Anonymous,
                Method::POST,
                "/api/auth/login",
                Body::Json(json!({"email": w.customer.email, "password": PASSWORD})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        let body = reply.json();
        assert_eq!(keys(&body), BTreeSet::from(["user"]));
        assert_eq!(body["user"]["id"], w.customer.id);
        assert_eq!(body["user"]["role"], "user");
        let cookie = reply.header("set-cookie").unwrap();
        let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
        assert!(
            attributes[0].starts_with("session=") && attributes[0].len() > 20,
            "{cookie}"
        );
        for wanted in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(attributes.contains(&wanted), "{cookie} lacks {wanted}");
        }
        let me = w
            .expect(
                &w.customer.cookie(),
                Method::GET,
                "/api/me",
                Value::Null,
                200,
            )
            .await;
        assert_eq!(me, body["user"]);

        // A customer's order: every key, numbers as numbers, nulls where nothing is yet.
        let order = w
            .expect(
                &customer,
                Method::GET,
                &format!("/api/orders/{}", w.order),
                Value::Null,
                200,
            )
            .await;
        // Part two embeds the order's plan here and adds `createdAt` (same as `date`).
        assert_eq!(
            keys(&order),
            order_keys().into_iter().chain(["plan"]).collect(),
            "exactly the contract's keys: {order}"
        );
        assert_eq!(order["createdAt"], order["date"]);
        assert_eq!(keys(&order["plan"]), plan_keys());
        for key in ["amount", "subtotal", "taxRate", "taxAmount"] {
            assert!(order[key].is_number(), "{key}: {order}");
        }
        assert_eq!(order["amount"].to_string(), "9.99");
        assert_eq!(order["taxRate"].to_string(), "0.0");
        assert_eq!(order["taxAmount"].to_string(), "0.0");
        assert!(
            order["orgId"].is_null()
                && order["expiresAt"].is_null()
                && order["invoiceNumber"].is_null()
        );
        assert!(is_panel_timestamp(&order["date"]), "{order}");
        assert_eq!(order["status"], "pending");
        let item = &order["items"][0];
        assert_eq!(
            keys(item),
            BTreeSet::from(["description", "quantity", "unitPrice", "amount"])
        );
        assert!(
            item["unitPrice"].is_number()
                && item["amount"].is_number()
                && item["quantity"].is_u64()
        );

        // apply-plan: `{"success": true, "order": {...}}` with the order's keys (+ admin extras).
        let applied = w
            .expect(
                &admin,
                Method::POST,
                &format!("/api/admin/users/{}/apply-plan", w.customer.id),
                json!({"planId": w.plan, "notes": "internal: comped"}),
                200,
            )
            .await;
        assert_eq!(keys(&applied), BTreeSet::from(["success", "order"]));
        assert_eq!(applied["success"], true);
        assert_has_keys(&applied["order"], &ORDER_KEYS, "apply-plan order");
        assert_eq!(applied["order"]["status"], "active");
        assert!(is_panel_timestamp(&applied["order"]["expiresAt"]));
        assert!(applied["order"]["invoiceNumber"].is_string());

        // current-plan: plan, order, limits with all eleven resource keys.
        let current = w
            .expect(
                &admin,
                Method::GET,
                &format!("/api/admin/users/{}/current-plan", w.customer.id),
                Value::Null,
                200,
            )
            .await;
        // Part two adds `plans` and `orders`.
        assert_eq!(
            keys(&current),
            BTreeSet::from(["plan", "order", "limits", "plans", "orders"])
        );
        assert_eq!(keys(&current["plan"]), plan_keys());
        assert_has_keys(&current["order"], &ORDER_KEYS, "current-plan order");
        assert_eq!(
            keys(&current["limits"]),
            RESOURCE_KEYS.into_iter().collect()
        );
        assert!(current["limits"]
            .as_object()
            .unwrap()
            .values()
            .all(Value::is_u64));

        // The customer never sees the note: not in any order answer, not in the PDF.
        let applied_id = applied["order"]["id"].as_i64().unwrap();
        for path in [
            "/api/orders".to_owned(),
            format!("/api/orders/{applied_id}"),
        ] {
            let text = w
                .call(&customer, Method::GET, &path, Body::None)
                .await
                .text();
            assert!(
                !text.contains("comped") && !text.contains("\"notes\""),
                "{path}: {text}"
            );
        }
        let pdf = w
            .call(
                &customer,
                Method::GET,
                &format!("/api/orders/{applied_id}/invoice"),
                Body::None,
            )
            .await;
        assert_eq!(pdf.header("content-type"), Some("application/pdf"));
        assert_eq!(
            pdf.header("content-disposition"),
            Some(format!("attachment; filename=\"invoice-{applied_id}.pdf\"").as_str())
        );
        assert!(pdf.body.starts_with(b"%PDF"));
        if let Some(text) = pdf_text(&pdf.body) {
            assert!(
                text.contains("Plan 1") && !text.contains("comped"),
                "{text}"
            );
        }

        // cancel-plan: both shapes.
        let path = format!("/api/admin/users/{}/cancel-plan", w.customer.id);
        let cancelled = w
            .expect(&admin, Method::POST, &path, Value::Null, 200)
            .await;
        assert_eq!(cancelled, json!({"success": true}));
        let nothing = w
            .expect(&admin, Method::POST, &path, Value::Null, 200)
            .await;
        assert_eq!(nothing["success"], false);
        assert_eq!(nothing["error"], "no_active_plan");
        let current = w
            .expect(
                &admin,
                Method::GET,
                &format!("/api/admin/users/{}/current-plan", w.customer.id),
                Value::Null,
                200,
            )
            .await;
        assert!(current["order"].is_null());
        assert_eq!(current["plan"]["isDefault"], true);

        // Packages: `currency` lower-case, `{"data": {...}}` for one.
        let one = w
            .expect(
                &customer,
                Method::GET,
                &format!("/api/packages/{}", w.plan),
                Value::Null,
                200,
            )
            .await;
        assert_eq!(keys(&one), BTreeSet::from(["data"]));
        assert_eq!(one["data"]["currency"], "usd");
        assert_eq!(one["data"]["price_monthly"].to_string(), "9.99");

        // Quota: every key in limits, usage and remaining; remaining null = unlimited.
        let quota = w
            .expect(
                &customer,
                Method::GET,
                &format!("/api/users/{}/quota", w.customer.id),
                Value::Null,
                200,
            )
            .await;
        for part in ["limits", "usage", "remaining"] {
            assert_eq!(
                keys(&quota[part]),
                RESOURCE_KEYS.into_iter().collect(),
                "{part}"
            );
        }
        let unlimited: Vec<&str> = RESOURCE_KEYS
            .into_iter()
            .filter(|k| quota["limits"][*k] == 0)
            .collect();
        for key in &unlimited {
            assert!(quota["remaining"][*key].is_null(), "{key}: {quota}");
        }

        // GET /metrics is Prometheus text.
        let metrics = w
            .call(&Who::Anonymous, Method::GET, "/metrics", Body::None)
            .await;
        assert!(metrics
            .header("content-type")
            .unwrap()
            .starts_with("text/plain"));
        assert!(metrics.text().contains("# TYPE"), "{}", metrics.text());
    }
}

/// The text of a PDF through `pdftotext`, or `None` (with a loud line) without it.
fn pdf_text(pdf: &[u8]) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("invoice.pdf");
    std::fs::write(&path, pdf).unwrap();
    match std::process::Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
    {
        Ok(out) if out.status.success() => Some(String::from_utf8_lossy(&out.stdout).into_owned()),
        _ => {
            eprintln!("SKIPPED: pdftotext is not installed; the PDF text is not checked");
            None
        }
    }
}

// ---------------------------------------------------------------------------------------
// The errors table.

#[tokio::test]
async fn every_error_code_has_its_status_and_shape() {
    for db in backends() {
        let w = World::new(db).await;
        let admin = w.admin.bearer();
        let customer = w.customer.bearer();
        let cases: Vec<(Who, Method, String, Body, u16, &str)> = vec![
            (
                Who::Anonymous,
                Method::GET,
                "/api/plans/abc".into(),
                Body::None,
                400,
                "validation_failed",
            ),
            (
                Who::Anonymous,
                Method::GET,
                "/api/me".into(),
                Body::None,
                401,
                "unauthorized",
            ),
            (
                customer.clone(),
                Method::GET,
                "/api/admin/users".into(),
                Body::None,
                403,
                "forbidden",
            ),
            (
                Who::Anonymous,
                Method::GET,
                "/api/plans/424242".into(),
                Body::None,
                404,
                "not_found",
            ),
            (
                Who::Anonymous,
                Method::GET,
                "/api/nothing/here".into(),
                Body::None,
                404,
                "not_found",
            ),
            (
                admin.clone(),
                Method::POST,
                "/api/admin/plans".into(),
                Body::Json(json!({"name": "Plan 1"})),
                409,
                "conflict",
            ),
            (
                admin.clone(),
                Method::POST,
                "/api/admin/users".into(),
                Body::Raw("application/json", vec![b' '; 64 * 1024 + 1]),
                413,
                "payload_too_large",
            ),
            (
                admin.clone(),
                Method::POST,
                "/api/admin/plans".into(),
                Body::Raw("application/x-www-form-urlencoded", b"name=Form".to_vec()),
                415,
                "unsupported_media_type",
            ),
        ];
        for (who, method, path, body, status, code) in cases {
            let what = format!("{method} {path}");
            w.call(&who, method, &path, body)
                .await
                .assert_error(status, code, &what);
        }
        // Exactly 64 KiB is still accepted (the limit is "over 64 KiB").
        let mut exact = br#"{"name": "Exactly 64 KiB"}"#.to_vec();
        exact.resize(64 * 1024, b' ');
        let exact = w
            .call(
                &admin,
                Method::POST,
                "/api/admin/plans",
                Body::Raw("application/json", exact),
            )
            .await;
        assert_eq!(exact.status.as_u16(), 201, "{}", exact.text());

        // quota_exceeded 409 with its details.
        let path = format!("/api/admin/users/{}/limits", w.other);
        w.expect(&admin, Method::PUT, &path, json!({"databases": 1}), 200)
            .await;
        let path = format!("/api/admin/users/{}/usage", w.other);
        w.expect(
            &admin,
            Method::POST,
            &path,
            json!({"resource": "databases", "delta": 1}),
            200,
        )
        .await;
        let refused = w
            .call(
                &admin,
                Method::POST,
                &path,
                Body::Json(json!({"resource": "databases", "delta": 2})),
            )
            .await;
        refused.assert_error(409, "quota_exceeded", "usage over the limit");
        let body = refused.json();
        assert_eq!(
            (
                &body["resource"],
                &body["limit"],
                &body["used"],
                &body["requested"]
            ),
            (&json!("databases"), &json!(1), &json!(1), &json!(2))
        );

        // Bodies whose every field is optional may be left out entirely (`curl -X POST`).
        let token = w
            .call(&customer, Method::POST, "/api/tokens", Body::None)
            .await;
        assert_eq!(token.status, StatusCode::CREATED, "{}", token.text());
        assert_eq!(token.json()["name"], "API token");
        let paid = w
            .call(
                &admin,
                Method::POST,
                &format!("/api/admin/orders/{}/mark-paid", w.order),
                Body::None,
            )
            .await;
        assert_eq!(paid.status, StatusCode::OK, "{}", paid.text());
        assert_eq!(paid.json()["order"]["status"], "active");
        w.call(
            &customer,
            Method::POST,
            "/api/tokens",
            Body::Raw("text/plain", b"name=x".to_vec()),
        )
        .await
        .assert_error(
            415,
            "unsupported_media_type",
            "a token body that is not JSON",
        );

        // feature_disabled 503.
        w.expect(
            &admin,
            Method::PUT,
            "/api/admin/settings",
            json!({"billingEnabled": false}),
            200,
        )
        .await;
        w.call(&Who::Anonymous, Method::GET, "/api/plans", Body::None)
            .await
            .assert_error(503, "feature_disabled", "billing off");
        w.expect(
            &admin,
            Method::PUT,
            "/api/admin/settings",
            json!({"billingEnabled": true}),
            200,
        )
        .await;
    }

    // rate_limited 429 with a Retry-After header (and the same seconds in the body).
    let app = spawn_app_with(TestDatabase::sqlite(), |s| {
        s.auth.login_attempts_per_minute = 2
    })
    .await;
    let http = reqwest::Client::new();
    let mut last = None;
    for _ in 0..3 {
        last = Some(
            send(
                &http,
                &app,
                &Who::Anonymous,
                Method::POST,
                "/api/auth/login",
                Body::Json(json!({"email": "nobody@example.com", "password": "wrong-password"})),
            )
            .await,
        );
    }
    let limited = last.unwrap();
    limited.assert_error(429, "rate_limited", "the third login in a minute");
    let retry: u64 = limited
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(limited.json()["retryAfter"], retry);
}
