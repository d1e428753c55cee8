//! The packages dialect (`seeds/ploi-core-packages-api.txt`) through HTTP: the paginated
//! envelope, every package field, authentication, hidden plans, the seed's JSON schema,
//! and the importer feeding the fields only this dialect shows. Every test runs on SQLite
//! and, with TEST_DATABASE_URL, on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::sync::{Arc, OnceLock};

use reqwest::StatusCode;
use serde_json::{json, Value};
use tariff_domain::catalogue::CatalogueService;
use tariff_domain::{Limit, Limits, Permissions, Plan, PlanDraft, Resource};
use tariff_persistence::DieselPlanRepository;
use tariff_tests::{backends, json, spawn_app_with, TestApp, TestDatabase};

/// The seed's host, configured as `server.public_url`, so links read exactly as the seed's.
const PUBLIC: &str = "https://panel.example.hosting.com";

async fn spawn(db: TestDatabase) -> TestApp {
    spawn_app_with(db, |s| s.server.public_url = format!("{PUBLIC}/")).await
}

fn catalogue(app: &TestApp) -> CatalogueService {
    CatalogueService::new(Arc::new(DieselPlanRepository::new(app.db.clone())))
}

/// Deletes every plan, the starter plan included: an empty catalogue.
async fn clear_catalogue(app: &TestApp) {
    let catalogue = catalogue(app);
    for plan in catalogue.list(true).await.unwrap() {
        catalogue
            .delete(plan.id(), tariff_domain::audit::Actor::Operator)
            .await
            .unwrap();
    }
}

fn draft(name: &str) -> PlanDraft {
    PlanDraft {
        name: name.into(),
        ..PlanDraft::default()
    }
}

async fn create(app: &TestApp, draft: PlanDraft) -> Plan {
    catalogue(app)
        .create(draft, tariff_domain::audit::Actor::Operator)
        .await
        .unwrap()
}

/// The seed's three packages with their limits and permissions, then numbered ones up to
/// `count`, priced so that price order is not id order. Returns the ids in creation order.
async fn feed_packages(app: &TestApp, count: usize) -> Vec<i64> {
    clear_catalogue(app).await;
    let seed = [
        ("Basic", 1, 3, Permissions::NONE),
        ("Pro", 5, 10, Permissions::ALL),
        ("Unlimited", 0, 0, Permissions::ALL),
    ];
    let mut ids = Vec::new();
    for n in 0..count {
        let plan = match seed.get(n) {
            Some(&(name, servers, sites, server_permissions)) => PlanDraft {
                limits: Limits::unlimited()
                    .with(Resource::Servers, Limit::new(servers))
                    .with(Resource::Sites, Limit::new(sites)),
                server_permissions,
                ..draft(name)
            },
            None => PlanDraft {
                price: format!("{}.99", 40 - n),
                ..draft(&format!("Package {:02}", n + 1))
            },
        };
        ids.push(create(app, plan).await.id().get());
    }
    ids
}

/// A link of the seed's host, asked of the running test server instead.
fn local(link: &Value) -> String {
    link.as_str()
        .and_then(|l| l.strip_prefix(PUBLIC))
        .unwrap_or_else(|| panic!("link {link} is not under {PUBLIC}"))
        .to_owned()
}

fn ids_of(body: &Value) -> Vec<i64> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect()
}

async fn get_ok(app: &TestApp, token: &str, path: &str) -> Value {
    let response = app.get_as(token, path).await;
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    json(response).await
}

fn url(query: &str) -> Value {
    json!(format!("{PUBLIC}/api/packages{query}"))
}

fn schema() -> &'static jsonschema::Validator {
    static SCHEMA: OnceLock<jsonschema::Validator> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let text = include_str!("../schemas/packages-list.schema.json");
        jsonschema::validator_for(&serde_json::from_str(text).unwrap()).unwrap()
    })
}

fn assert_matches_schema(body: &Value) {
    let errors: Vec<String> = schema()
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "schema violations: {errors:?}\n{body}");
}

#[tokio::test]
async fn twenty_packages_read_as_exactly_two_pages() {
    for db in backends() {
        let app = spawn(db).await;
        let ids = feed_packages(&app, 20).await;
        let user = app.seed_user("reader@example.com", "user").await;

        let first = get_ok(&app, &user.token, "/api/packages").await;
        assert_eq!(ids_of(&first), ids[..15], "{:?}", app.backend());
        assert_eq!(
            first["links"],
            json!({"first": url("?page=1"), "last": url("?page=2"), "prev": null, "next": url("?page=2")})
        );
        assert_eq!(
            first["meta"],
            json!({"current_page": 1, "from": 1, "last_page": 2, "path": url(""),
                   "per_page": 15, "to": 15, "total": 20})
        );

        let second = get_ok(&app, &user.token, &local(&first["links"]["next"])).await;
        assert_eq!(ids_of(&second), ids[15..]);
        assert_eq!(
            second["links"],
            json!({"first": url("?page=1"), "last": url("?page=2"), "prev": url("?page=1"), "next": null})
        );
        assert_eq!(
            second["meta"],
            json!({"current_page": 2, "from": 16, "last_page": 2, "path": url(""),
                   "per_page": 15, "to": 20, "total": 20})
        );
        // Following `prev` and `last` lands where they say.
        assert_eq!(
            get_ok(&app, &user.token, &local(&second["links"]["prev"])).await,
            first
        );
        assert_eq!(
            get_ok(&app, &user.token, &local(&first["links"]["last"])).await,
            second
        );
        assert_matches_schema(&first);
        assert_matches_schema(&second);
    }
}

#[tokio::test]
async fn packages_carry_every_seed_field_with_its_type() {
    for db in backends() {
        let app = spawn(db).await;
        feed_packages(&app, 3).await;
        let user = app.seed_user("reader@example.com", "user").await;
        let response = app.get_as(&user.token, "/api/packages").await;
        assert_eq!(response.status(), StatusCode::OK);
        let text = response.text().await.unwrap();
        let live: Value = serde_json::from_str(&text).unwrap();
        let seed: Value =
            serde_json::from_str(include_str!("../schemas/packages-list.seed-example.json"))
                .unwrap();
        for (live, seed) in live["data"]
            .as_array()
            .unwrap()
            .iter()
            .zip(seed["data"].as_array().unwrap())
        {
            let mut live = live.clone();
            let mut seed = seed.clone();
            for field in ["id", "created_at"] {
                live.as_object_mut().unwrap().remove(field);
                seed.as_object_mut().unwrap().remove(field);
            }
            assert_eq!(live, seed, "{:?}", app.backend());
        }
        // Prices are written `0.0`, as in the seed, and keys come in the seed's order.
        assert!(text.contains(r#""price_hourly":0.0,"price_monthly":0.0,"price_yearly":0.0,"#));
        assert!(
            text.contains(r#"{"id":"#)
                && text.contains(
                    r#","name":"Basic","maximum_servers":1,"maximum_sites":3,"price_hourly""#
                )
        );
        assert!(
            text.contains(r#""links":{"first":"#)
                && text.contains(r#""meta":{"current_page":1,"from":1,"last_page":1,"path":"#)
        );
        let created = live["data"][0]["created_at"].as_str().unwrap();
        assert!(
            chrono::NaiveDateTime::parse_from_str(created, "%Y-%m-%dT%H:%M:%S%.6fZ").is_ok()
                && created.len() == "2022-07-23T13:35:51.000000Z".len(),
            "{created}"
        );
        // The seed says `"to": 4, "total": 4` beside three packages; Tariff answers the truth.
        assert_eq!(live["meta"]["to"], 3);
        assert_eq!(live["meta"]["total"], 3);

        let id = live["data"][1]["id"].as_i64().unwrap();
        let one = get_ok(&app, &user.token, &format!("/api/packages/{id}")).await;
        assert_eq!(one, json!({"data": live["data"][1]}));
    }
}

#[tokio::test]
async fn per_page_pages_and_keeps_its_value_in_the_links() {
    for db in backends() {
        let app = spawn(db).await;
        let ids = feed_packages(&app, 20).await;
        let user = app.seed_user("reader@example.com", "user").await;
        let expected = [(1, 1, 7), (2, 8, 14), (3, 15, 20)];
        let mut path = "/api/packages?per_page=7".to_owned();
        for (page, from, to) in expected {
            let body = get_ok(&app, &user.token, &path).await;
            assert_eq!(ids_of(&body), ids[from - 1..to], "page {page}");
            let link = |n: usize| url(&format!("?page={n}&per_page=7"));
            assert_eq!(
                body["links"],
                json!({"first": link(1), "last": link(3),
                       "prev": if page > 1 { link(page - 1) } else { Value::Null },
                       "next": if page < 3 { link(page + 1) } else { Value::Null }})
            );
            assert_eq!(
                body["meta"],
                json!({"current_page": page, "from": from, "last_page": 3, "path": url(""),
                       "per_page": 7, "to": to, "total": 20})
            );
            assert_matches_schema(&body);
            if page < 3 {
                path = local(&body["links"]["next"]);
            }
        }
        // The default size named explicitly leaves links as plain as the seed's.
        let body = get_ok(&app, &user.token, "/api/packages?per_page=15&page=2").await;
        assert_eq!(body["links"]["prev"], url("?page=1"));
        // The largest page holds everything.
        let body = get_ok(&app, &user.token, "/api/packages?per_page=100").await;
        assert_eq!(ids_of(&body), ids);
        assert_eq!(body["meta"]["last_page"], 1);
        assert_eq!(body["links"]["first"], url("?page=1&per_page=100"));
    }
}

#[tokio::test]
async fn empty_catalogue_gives_a_valid_empty_page() {
    for db in backends() {
        let app = spawn(db).await;
        clear_catalogue(&app).await;
        let user = app.seed_user("reader@example.com", "user").await;
        let body = get_ok(&app, &user.token, "/api/packages").await;
        assert_eq!(
            body,
            json!({
                "data": [],
                "links": {"first": url("?page=1"), "last": url("?page=1"), "prev": null, "next": null},
                "meta": {"current_page": 1, "from": null, "last_page": 1, "path": url(""),
                         "per_page": 15, "to": null, "total": 0}
            }),
            "{:?}",
            app.backend()
        );
        assert_matches_schema(&body);
        // Only hidden plans: empty for a user too, while an admin sees them.
        create(
            &app,
            PlanDraft {
                hidden: true,
                ..draft("Secret")
            },
        )
        .await;
        let body = get_ok(&app, &user.token, "/api/packages").await;
        assert_eq!(body["meta"]["total"], 0);
        assert_eq!(body["data"], json!([]));
        let admin = app.seed_user("admin@example.com", "admin").await;
        let body = get_ok(&app, &admin.token, "/api/packages").await;
        assert_eq!(body["meta"]["total"], 1);
    }
}

#[tokio::test]
async fn a_page_past_the_last_is_empty_with_true_meta() {
    for db in backends() {
        let app = spawn(db).await;
        feed_packages(&app, 20).await;
        let user = app.seed_user("reader@example.com", "user").await;
        let body = get_ok(&app, &user.token, "/api/packages?page=3").await;
        assert_eq!(
            body,
            json!({
                "data": [],
                "links": {"first": url("?page=1"), "last": url("?page=2"),
                          "prev": url("?page=2"), "next": null},
                "meta": {"current_page": 3, "from": null, "last_page": 2, "path": url(""),
                         "per_page": 15, "to": null, "total": 20}
            })
        );
        assert_matches_schema(&body);
        let body = get_ok(
            &app,
            &user.token,
            "/api/packages?page=2147483647&per_page=100",
        )
        .await;
        assert_eq!(body["data"], json!([]));
        assert_eq!(body["meta"]["current_page"], 2_147_483_647_i64);
        assert_eq!(body["meta"]["total"], 20);
    }
}

#[tokio::test]
async fn invalid_page_or_per_page_is_a_400_naming_the_field() {
    for db in backends() {
        let app = spawn(db).await;
        let user = app.seed_user("reader@example.com", "user").await;
        let cases = [
            ("page=0", "page"),
            ("page=-1", "page"),
            ("page=abc", "page"),
            ("page=", "page"),
            ("page=1.5", "page"),
            ("page=2147483648", "page"),
            ("page=99999999999999999999999", "page"),
            ("page=1&page=2", "page"),
            ("per_page=0", "per_page"),
            ("per_page=-1", "per_page"),
            ("per_page=101", "per_page"),
            ("per_page=abc", "per_page"),
            ("page=2&per_page=1e2", "per_page"),
        ];
        for (query, field) in cases {
            let response = app
                .get_as(&user.token, &format!("/api/packages?{query}"))
                .await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
            let body = json(response).await;
            assert_eq!(body["error"], "validation_failed", "{query}");
            assert_eq!(body["field"], field, "{query}");
            assert!(
                body["message"].as_str().unwrap().contains(field),
                "{query}: {body}"
            );
        }
        // Authentication is checked first, with or without a (bad) credential.
        assert_eq!(
            app.get("/api/packages?page=0").await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            app.get_as("tff_wrong", "/api/packages?page=0")
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }
}

/// A login session for `user_id`, stored as the accounts code stores it (hash only).
async fn seed_session(app: &TestApp, user_id: i64) -> String {
    use diesel::prelude::*;
    use tariff_domain::identity::{generate_secret, hash_secret};
    use tariff_persistence::errors::DbError;
    use tariff_persistence::schema::sessions;

    let secret = generate_secret("sess_");
    let hash = hash_secret(&secret);
    app.db
        .query(move |c| {
            let now = chrono::Utc::now().naive_utc();
            c.execute(diesel::insert_into(sessions::table).values((
                sessions::token_hash.eq(&hash),
                sessions::user_id.eq(user_id),
                sessions::created_at.eq(now),
                sessions::expires_at.eq(now + chrono::Duration::hours(1)),
            )))
            .map_err(DbError::from)
        })
        .await
        .unwrap();
    secret
}

#[tokio::test]
async fn a_token_or_a_session_is_required() {
    for db in backends() {
        let app = spawn(db).await;
        let starter = catalogue(&app).list(true).await.unwrap()[0].id().get();
        let one = format!("/api/packages/{starter}");
        for path in ["/api/packages", one.as_str()] {
            let anonymous = app.get(path).await;
            assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "{path}");
            assert_eq!(json(anonymous).await["error"], "unauthorized");
            let wrong = app.get_as("tff_not_a_token", path).await;
            assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "{path}");
            assert_eq!(json(wrong).await["error"], "unauthorized");
            let garbage = app
                .client
                .get(app.url(path))
                .header("authorization", "Basic dXNlcjpwYXNz")
                .send()
                .await
                .unwrap();
            assert_eq!(garbage.status(), StatusCode::UNAUTHORIZED, "{path}");
        }
        // "Both work on every authenticated endpoint": a session cookie reads packages too.
        let user = app.seed_user("browser@example.com", "user").await;
        let session = seed_session(&app, user.id).await;
        let response = app
            .client
            .get(app.url("/api/packages"))
            .header("cookie", format!("session={session}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(json(response).await["meta"]["total"], 1);
        let expired = app
            .client
            .get(app.url("/api/packages"))
            .header("cookie", "session=sess_unknown")
            .send()
            .await
            .unwrap();
        assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn hidden_plans_are_packages_only_for_admins() {
    for db in backends() {
        let app = spawn(db).await;
        clear_catalogue(&app).await;
        let visible = create(&app, draft("Visible")).await.id().get();
        let hidden = create(
            &app,
            PlanDraft {
                hidden: true,
                plan_type: "edu".into(),
                ..draft("Campus")
            },
        )
        .await
        .id()
        .get();
        let last = create(&app, draft("Visible too")).await.id().get();
        let user = app.seed_user("user@example.com", "user").await;
        let admin = app.seed_user("admin@example.com", "admin").await;

        let body = get_ok(&app, &user.token, "/api/packages").await;
        assert_eq!(ids_of(&body), vec![visible, last], "{:?}", app.backend());
        assert_eq!(body["meta"]["total"], 2);
        let response = app
            .get_as(&user.token, &format!("/api/packages/{hidden}"))
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(json(response).await["error"], "not_found");

        let body = get_ok(&app, &admin.token, "/api/packages").await;
        assert_eq!(ids_of(&body), vec![visible, hidden, last]);
        assert_eq!(body["meta"]["total"], 3);
        let one = get_ok(&app, &admin.token, &format!("/api/packages/{hidden}")).await;
        assert_eq!(one["data"]["name"], "Campus");

        for (path, status, code) in [
            ("/api/packages/abc", 400, "validation_failed"),
            ("/api/packages/0", 404, "not_found"),
            ("/api/packages/-4", 404, "not_found"),
            ("/api/packages/999999", 404, "not_found"),
        ] {
            let response = app.get_as(&admin.token, path).await;
            assert_eq!(response.status().as_u16(), status, "{path}");
            assert_eq!(json(response).await["error"], code, "{path}");
        }
        let post = app.post_as(&admin.token, "/api/packages", &json!({})).await;
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
}

#[tokio::test]
async fn the_seed_schema_is_strict_and_matches_the_seed() {
    let seed: Value =
        serde_json::from_str(include_str!("../schemas/packages-list.seed-example.json")).unwrap();
    assert_matches_schema(&seed);
    type Breakage = (&'static str, fn(&mut Value));
    let broken: [Breakage; 7] = [
        ("price as text", |v| {
            v["data"][0]["price_monthly"] = json!("0.0")
        }),
        ("upper-case currency", |v| {
            v["data"][0]["currency"] = json!("USD")
        }),
        ("missing field", |v| {
            v["data"][0]
                .as_object_mut()
                .unwrap()
                .remove("stripe_plan_id");
        }),
        ("camelCase field", |v| {
            v["data"][0]["maximumServers"] = json!(1)
        }),
        ("timestamp without micros", |v| {
            v["data"][0]["created_at"] = json!("2022-07-23T13:35:51Z")
        }),
        ("relative link", |v| {
            v["links"]["first"] = json!("/api/packages?page=1")
        }),
        ("missing meta.total", |v| {
            v["meta"].as_object_mut().unwrap().remove("total");
        }),
    ];
    for (what, breaks) in broken {
        let mut value = seed.clone();
        breaks(&mut value);
        assert!(!schema().is_valid(&value), "schema accepts {what}");
    }
}

#[tokio::test]
async fn importer_sets_the_fields_only_packages_show() {
    for db in backends() {
        let app = spawn(db).await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plans.toml");
        std::fs::write(
            &file,
            r#"
[[plans]]
name = "Agency"
currency = "EUR"
price_monthly = 29.5
price_hourly = 0.05
price_yearly = "295.00"
maximum_servers = 10
maximum_sites = 0
stripe_plan_id = "price_agency_monthly"
server_permissions = { create = false, update = true, delete = false }
site_permissions = { create = true, update = true, delete = false }
"#,
        )
        .unwrap();
        let drafts = tariff_app::import::read_plan_file(&file).unwrap();
        let outcome = catalogue(&app)
            .import(drafts, tariff_domain::audit::Actor::Operator)
            .await
            .unwrap();
        assert_eq!((outcome.created, outcome.updated), (1, 0));

        let user = app.seed_user("reader@example.com", "user").await;
        let body = get_ok(&app, &user.token, "/api/packages").await;
        let agency = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "Agency")
            .unwrap()
            .clone();
        let id = agency["id"].clone();
        let created_at = agency["created_at"].clone();
        assert_eq!(
            agency,
            json!({"id": id, "name": "Agency", "maximum_servers": 10, "maximum_sites": 0,
                   "price_hourly": 0.05, "price_monthly": 29.5, "price_yearly": 295.0,
                   "stripe_plan_id": "price_agency_monthly", "currency": "eur",
                   "server_permissions": {"create": false, "update": true, "delete": false},
                   "site_permissions": {"create": true, "update": true, "delete": false},
                   "created_at": created_at}),
            "{:?}",
            app.backend()
        );
        assert_matches_schema(&body);

        // Importing again by name updates in place: same id, new values.
        std::fs::write(
            &file,
            "[[plans]]\nname = \"agency\"\nprice_monthly = 30\nstripe_plan_id = \"price_v2\"\n\
             server_permissions = { create = true, update = true, delete = true }\n",
        )
        .unwrap();
        let drafts = tariff_app::import::read_plan_file(&file).unwrap();
        let outcome = catalogue(&app)
            .import(drafts, tariff_domain::audit::Actor::Operator)
            .await
            .unwrap();
        assert_eq!((outcome.created, outcome.updated), (0, 1));
        let one = get_ok(&app, &user.token, &format!("/api/packages/{id}")).await;
        assert_eq!(one["data"]["stripe_plan_id"], "price_v2");
        assert_eq!(one["data"]["price_monthly"], json!(30.0));
        assert_eq!(one["data"]["server_permissions"]["create"], true);
    }
}

#[tokio::test]
async fn the_example_catalogue_imports_and_serves() {
    let app = spawn(TestDatabase::sqlite()).await;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/plans.toml");
    let drafts = tariff_app::import::read_plan_file(&path).unwrap();
    let count = drafts.len();
    let outcome = catalogue(&app)
        .import(drafts, tariff_domain::audit::Actor::Operator)
        .await
        .unwrap();
    assert_eq!(outcome.created + outcome.updated, count);
    let user = app.seed_user("reader@example.com", "user").await;
    let body = get_ok(&app, &user.token, "/api/packages?per_page=100").await;
    assert_matches_schema(&body);
    let by_name = |name: &str| {
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
    };
    let basic = by_name("Basic").unwrap();
    assert_eq!(
        (&basic["maximum_servers"], &basic["maximum_sites"]),
        (&json!(1), &json!(3))
    );
    assert_eq!(basic["server_permissions"]["create"], false);
    let unlimited = by_name("Unlimited").unwrap();
    assert_eq!(unlimited["maximum_servers"], 0);
    assert_eq!(by_name("Starter").unwrap()["price_monthly"], json!(4.99));
    assert_eq!(by_name("Pro").unwrap()["price_monthly"], json!(9.99));
    assert!(
        by_name("Education").is_none(),
        "hidden plan listed to a user"
    );
}

#[tokio::test]
async fn openapi_describes_the_packages_dialect() {
    let app = spawn(TestDatabase::sqlite()).await;
    let doc = json(app.get("/api/openapi.json").await).await;
    let list = &doc["paths"]["/api/packages"]["get"];
    let params: Vec<&str> = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(params, ["page", "per_page"]);
    for status in ["200", "400", "401"] {
        assert!(list["responses"][status].is_object(), "list lacks {status}");
    }
    assert!(doc["paths"]["/api/packages/{id}"]["get"]["responses"]["404"].is_object());
    let schemas = &doc["components"]["schemas"];
    for name in ["PackageJson", "PackageEnvelope", "PageLinks", "PageMeta"] {
        assert!(schemas[name].is_object(), "openapi lacks schema {name}");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert!(doc["components"]["securitySchemes"]["session"].is_object());
}
