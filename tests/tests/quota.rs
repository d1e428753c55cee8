//! The quota engine through HTTP: limits, usage and remaining; the usage ledger's
//! grants, refusals, releases and idempotent replays; create permissions; the daily
//! e-mail reset; admin overrides; downgrades; who may read what; and exactness under
//! 100 concurrent reservations (two service instances on PostgreSQL). Every test runs
//! on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::time::Instant;

use diesel::prelude::*;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tariff_domain::catalogue::PlanRepository;
use tariff_domain::{Limit, Limits, Permissions, PlanDraft, PlanSpec, Resource};
use tariff_persistence::errors::DbError;
use tariff_persistence::schema::{orders, org_members, organisations, usage_counters};
use tariff_persistence::DieselPlanRepository;
use tariff_tests::{
    backends, json, spawn_app, spawn_app_on_url_with, spawn_app_with, SeededUser, TestApp,
    TestDatabase,
};

// ---- set-up helpers: plans, organisations and active orders straight into the database.

/// Creates a plan with these limits (others unlimited) and create permissions.
async fn create_plan(
    app: &TestApp,
    name: &str,
    limits: &[(Resource, u64)],
    server_create: bool,
    site_create: bool,
) -> i64 {
    let mut all = Limits::unlimited();
    for (resource, value) in limits {
        all.set(*resource, Limit::new(*value));
    }
    let spec = PlanSpec::new(PlanDraft {
        name: name.into(),
        price: "5".into(),
        limits: all,
        server_permissions: Permissions {
            create: server_create,
            ..Permissions::ALL
        },
        site_permissions: Permissions {
            create: site_create,
            ..Permissions::ALL
        },
        ..PlanDraft::default()
    })
    .unwrap();
    DieselPlanRepository::new(app.db.clone())
        .create(spec, None)
        .await
        .unwrap()
        .id()
        .get()
}

/// An organisation with these members (`member`, `admin` or `owner`).
async fn create_org(app: &TestApp, members: &[(i64, &'static str)]) -> i64 {
    let members = members.to_vec();
    app.db
        .query(move |conn| {
            conn.write_transaction(|c| {
                let now = chrono::Utc::now().naive_utc();
                let id: i64 = c.get_result(
                    diesel::insert_into(organisations::table)
                        .values((
                            organisations::name.eq("Acme"),
                            organisations::created_at.eq(now),
                        ))
                        .returning(organisations::id),
                )?;
                for (user_id, role) in &members {
                    c.execute(diesel::insert_into(org_members::table).values((
                        org_members::org_id.eq(id),
                        org_members::user_id.eq(*user_id),
                        org_members::role.eq(*role),
                        org_members::created_at.eq(now),
                    )))?;
                }
                Ok(id)
            })
        })
        .await
        .unwrap()
}

/// Makes `plan_id` the account's active plan: any active order is cancelled first, as
/// an admin's apply-plan would (the orders feature owns the real flow).
async fn activate_plan(app: &TestApp, kind: &'static str, account_id: i64, plan_id: i64) {
    app.db
        .query(move |conn| {
            conn.write_transaction(|c| {
                let now = chrono::Utc::now().naive_utc();
                c.execute(
                    diesel::update(
                        orders::table
                            .filter(orders::account_kind.eq(kind))
                            .filter(orders::account_id.eq(account_id))
                            .filter(orders::status.eq("active")),
                    )
                    .set((orders::status.eq("cancelled"), orders::cancelled_at.eq(now))),
                )?;
                let (user_id, org_id) = if kind == "user" {
                    (Some(account_id), None)
                } else {
                    (None, Some(account_id))
                };
                c.execute(diesel::insert_into(orders::table).values((
                    orders::account_kind.eq(kind),
                    orders::account_id.eq(account_id),
                    orders::user_id.eq(user_id),
                    orders::org_id.eq(org_id),
                    orders::plan_id.eq(plan_id),
                    orders::status.eq("active"),
                    orders::currency.eq("USD"),
                    orders::subtotal_minor.eq(500_i64),
                    orders::tax_rate_bp.eq(0),
                    orders::tax_minor.eq(0_i64),
                    orders::total_minor.eq(500_i64),
                    orders::description.eq("test plan"),
                    orders::created_at.eq(now),
                    orders::activated_at.eq(Some(now)),
                )))?;
                Ok(())
            })
        })
        .await
        .unwrap();
}

/// Moves a stored counter to another UTC day, as if it was last touched then.
async fn set_period_day(app: &TestApp, user_id: i64, resource: &'static str, day: String) {
    app.db
        .query(move |c| {
            c.execute(
                diesel::update(usage_counters::table.find(("user", user_id, resource)))
                    .set(usage_counters::period_day.eq(Some(day))),
            )
            .map_err(DbError::from)
        })
        .await
        .unwrap();
}

async fn stored_usage(app: &TestApp, kind: &'static str, id: i64, resource: &'static str) -> i64 {
    app.db
        .query(move |c| {
            c.get_result::<i64, _>(
                usage_counters::table
                    .find((kind, id, resource))
                    .select(usage_counters::used),
            )
            .optional()
            .map_err(DbError::from)
        })
        .await
        .unwrap()
        .unwrap_or(0)
}

struct Accounts {
    admin: SeededUser,
    alice: SeededUser,
    bob: SeededUser,
}

async fn accounts(app: &TestApp) -> Accounts {
    Accounts {
        admin: app.seed_user("admin@example.com", "admin").await,
        alice: app.seed_user("alice@example.com", "user").await,
        bob: app.seed_user("bob@example.com", "user").await,
    }
}

async fn usage(app: &TestApp, admin: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let response = app.post_as(admin, path, &body).await;
    let status = response.status();
    (status, json(response).await)
}

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

// ---- tests

#[tokio::test]
async fn quota_and_usage_have_the_contract_shapes() {
    for db in backends() {
        let app = spawn_app(db).await;
        let Accounts { admin, alice, .. } = accounts(&app).await;
        let path = format!("/api/users/{}/quota", alice.id);
        let quota = json(app.get_as(&alice.token, &path).await).await;
        for part in ["limits", "usage", "remaining"] {
            let object = quota[part].as_object().unwrap();
            assert_eq!(object.len(), 11, "{part}: {quota}");
            for key in RESOURCE_KEYS {
                assert!(object.contains_key(key), "{part} lacks {key}");
            }
        }
        // The Free default plan: one server, ten e-mails a day.
        assert_eq!(quota["limits"]["servers"], 1);
        assert_eq!(quota["limits"]["emailDailyLimit"], 10);
        assert_eq!(quota["usage"]["servers"], 0);
        assert_eq!(quota["remaining"]["servers"], 1);
        assert_eq!(quota["overLimit"], json!([]));
        assert_eq!(quota["overrides"], json!({}));
        assert_eq!(quota["plan"]["name"], "Free");
        assert_eq!(quota["plan"]["source"], "default");

        let usage_path = format!("/api/admin/users/{}/usage", alice.id);
        let (status, body) = usage(
            &app,
            &admin.token,
            &usage_path,
            json!({"resource": "servers", "delta": 1}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            json!({"resource": "servers", "used": 1, "limit": 1, "remaining": 0})
        );

        let (status, body) = usage(
            &app,
            &admin.token,
            &usage_path,
            json!({"resource": "servers", "delta": 1}),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(body["error"], "quota_exceeded");
        assert_eq!(body["resource"], "servers");
        assert_eq!(body["limit"], 1);
        assert_eq!(body["used"], 1);
        assert_eq!(body["requested"], 1);
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));

        let quota = json(app.get_as(&alice.token, &path).await).await;
        assert_eq!(quota["usage"]["servers"], 1);
        assert_eq!(quota["remaining"]["servers"], 0);
        assert_eq!(quota["overLimit"], json!([]), "at the limit is not over it");
    }
}

#[tokio::test]
async fn bad_usage_requests_are_clear_400s_and_change_nothing() {
    for db in backends() {
        let app = spawn_app(db).await;
        let Accounts { admin, alice, .. } = accounts(&app).await;
        let path = format!("/api/admin/users/{}/usage", alice.id);
        let cases = [
            (
                json!({"resource": "serverLimit", "delta": 1}),
                Some("resource"),
            ),
            (json!({"resource": "servers", "delta": 0}), Some("delta")),
            (
                json!({"resource": "servers", "delta": 1_000_000_000_001_i64}),
                Some("delta"),
            ),
            (
                json!({"resource": "servers", "delta": 1, "idempotencyKey": ""}),
                Some("idempotencyKey"),
            ),
            (json!({"resource": "servers", "delta": 1.5}), None),
            (json!({"resource": "servers", "delta": "1"}), None),
            (json!({"resource": "servers"}), None),
            (
                json!({"resource": "servers", "delta": 1, "idempotency_key": "k"}),
                None,
            ),
        ];
        for (body, field) in cases {
            let (status, answer) = usage(&app, &admin.token, &path, body.clone()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
            assert_eq!(answer["error"], "validation_failed", "{body}");
            if let Some(field) = field {
                assert_eq!(answer["field"], field, "{body}: {answer}");
            }
        }
        let check_path = format!("/api/admin/users/{}/usage/check", alice.id);
        let (status, answer) = usage(
            &app,
            &admin.token,
            &check_path,
            json!({"resource": "nope", "delta": 1}),
        )
        .await;
        assert_eq!(
            (status, answer["field"].clone()),
            (StatusCode::BAD_REQUEST, json!("resource"))
        );
        assert_eq!(stored_usage(&app, "user", alice.id, "servers").await, 0);
        // Unknown accounts are 404, non-numeric ids 400, wrong methods 405.
        for missing in [
            "/api/admin/users/999999/usage",
            "/api/admin/users/0/usage",
            "/api/admin/organisations/999999/usage",
        ] {
            let (status, answer) = usage(
                &app,
                &admin.token,
                missing,
                json!({"resource": "servers", "delta": 1}),
            )
            .await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
            assert_eq!(answer["error"], "not_found");
        }
        let (status, _) = usage(
            &app,
            &admin.token,
            "/api/admin/users/abc/usage",
            json!({"resource": "servers", "delta": 1}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let response = app.get_as(&admin.token, &path).await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
}

#[tokio::test]
async fn zero_means_unlimited() {
    for db in backends() {
        let app = spawn_app(db).await;
        let Accounts { admin, alice, .. } = accounts(&app).await;
        let plan = create_plan(&app, "Roomy", &[(Resource::Servers, 2)], true, true).await;
        activate_plan(&app, "user", alice.id, plan).await;
        let path = format!("/api/admin/users/{}/usage", alice.id);
        for _ in 0..3 {
            let (status, body) = usage(
                &app,
                &admin.token,
                &path,
                json!({"resource": "memory", "delta": 1_000_000}),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(body["limit"], 0);
            assert_eq!(body["remaining"], Value::Null);
        }
        let quota = json(
            app.get_as(&alice.token, &format!("/api/users/{}/quota", alice.id))
                .await,
        )
        .await;
        assert_eq!(quota["usage"]["memory"], 3_000_000);
        assert_eq!(quota["limits"]["memory"], 0);
        assert_eq!(quota["remaining"]["memory"], Value::Null);
        assert_eq!(quota["remaining"]["servers"], 2);
        assert_eq!(quota["plan"]["source"], "order");
        assert_eq!(quota["plan"]["id"], plan);
    }
}

#[tokio::test]
async fn releases_never_go_below_zero() {
    for db in backends() {
        let app = spawn_app(db).await;
        let Accounts { admin, alice, .. } = accounts(&app).await;
        let path = format!("/api/admin/users/{}/usage", alice.id);
        let (status, _) = usage(
            &app,
            &admin.token,
            &path,
            json!({"resource": "databases", "delta": 1}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = usage(
            &app,
            &admin.token,
            &path,
            json!({"resource": "databases", "delta": -2}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"], "validation_failed");
        assert_eq!(body["field"], "delta");
        assert_eq!(body["resource"], "databases");
        assert_eq!(body["used"], 1);
        assert_eq!(stored_usage(&app, "user", alice.id, "databases").await, 1);
        let (status, body) = usage(
            &app,
            &admin.token,
            &path,
            json!({"resource": "databases", "delta": -1}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            json!({"resource": "databases", "used": 0, "limit": 1, "remaining": 1})
        );
        // Releasing what was never reserved is refused too.
        let (status, _) = usage(
            &app,
            &admin.token,
            &path,
            json!({"resource": "backups", "delta": -1}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(stored_usage(&app, "user", alice.id, "backups").await, 0);
    }
}

#[tokio::test]
async fn an_idempotent_replay_counts_once_and_answers_the_same() {
    for db in backends() {
        let app = spawn_app(db).await;
        let Accounts { admin, alice, bob } = accounts(&app).await;
        let plan = create_plan(&app, "Three", &[(Resource::Sites, 3)], true, true).await;
        activate_plan(&app, "user", alice.id, plan).await;
        activate_plan(&app, "user", bob.id, plan).await;
        let path = format!("/api/admin/users/{}/usage", alice.id);
        let send = |body: Value| {
            let app = &app;
            let path = path.clone();
            let token = admin.token.clone();
            async move {
                let response = app.post_as(&token, &path, &body).await;
                let status = response.status();
                let replayed = response.headers().get("idempotent-replayed").is_some();
                (status, replayed, response.text().await.unwrap())
            }
        };
        let request = json!({"resource": "sites", "delta": 2, "idempotencyKey": "site-create-1"});
        let first = send(request.clone()).await;
        assert_eq!((first.0, first.1), (StatusCode::OK, false), "{}", first.2);
        let again = send(request.clone()).await;
        assert_eq!(again.0, first.0);
        assert!(again.1, "a replay is marked");
        assert_eq!(again.2, first.2, "identical body");
        assert_eq!(stored_usage(&app, "user", alice.id, "sites").await, 2);

        // A refusal is an answer too: replaying it returns the refusal even after room
        // was made, and counts nothing.
        let big = json!({"resource": "sites", "delta": 2, "idempotencyKey": "site-create-2"});
        let refused = send(big.clone()).await;
        assert_eq!(refused.0, StatusCode::CONFLICT, "{}", refused.2);
        let (status, _) = usage(
            &app,
            &admin.token,
            &path,
            json!({"resource": "sites", "delta": -2}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let replayed = send(big).await;
        assert_eq!((replayed.0, replayed.2.clone()), (refused.0, refused.2));
        assert_eq!(stored_usage(&app, "user", alice.id, "sites").await, 0);

        // The same key with another request is a conflict, not a silent replay.
        let (status, body) = usage(
            &app,
            &admin.token,
            &path,
            json!({"resource": "sites", "delta": 1, "idempotencyKey": "site-create-1"}),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(body["error"], "conflict");
        assert_eq!(body["field"], "idempotencyKey");
        assert_eq!(stored_usage(&app, "user", alice.id, "sites").await, 0);

        // Keys are per account.
        let (status, body) = usage(
            &app,
            &admin.token,
            &format!("/api/admin/users/{}/usage", bob.id),
            request,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["used"], 2);
    }
}

#[tokio::test]
async fn creating_servers_and_sites_needs_the_plan_permission() {
    for db in backends() {
        let app = spawn_app(db).await;
        let Accounts { admin, alice, .. } = accounts(&app).await;
        let plan = create_plan(&app, "Locked", &[], false, false).await;
        activate_plan(&app, "user", alice.id, plan).await;
        let path = format!("/api/admin/users/{}/usage", alice.id);
        for resource in ["servers", "sites"] {
            let (status, body) = usage(
                &app,
                &admin.token,
                &path,
                json!({"resource": resource, "delta": 1}),
            )
            .await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
            assert_eq!(body["error"], "forbidden");
            assert_eq!(body["resource"], resource);
            let check = json(
                app.post_as(
                    &admin.token,
                    &format!("{path}/check"),
                    &json!({"resource": resource, "delta": 1}),
                )
                .await,
            )
            .await;
            assert_eq!(check["allowed"], false);
            assert_eq!(check["reason"], "forbidden");
        }
        assert_eq!(stored_usage(&app, "user", alice.id, "servers").await, 0);
        let (status, _) = usage(
            &app,
            &admin.token,
            &path,
            json!({"resource": "databases", "delta": 1}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "other resources need no permission");
        let quota = json(
            app.get_as(&alice.token, &format!("/api/users/{}/quota", alice.id))
                .await,
        )
        .await;
        assert_eq!(quota["serverPermissions"]["create"], false);
        assert_eq!(quota["sitePermissions"]["create"], false);
    }
}

#[tokio::test]
async fn the_daily_email_quota_starts_again_each_utc_day() {
    for db in backends() {
        let app = spawn_app(db).await;
        let Accounts { admin, alice, .. } = accounts(&app).await;
        let path = format!("/api/admin/users/{}/usage", alice.id);
        let send = |delta: i64| {
            usage(
                &app,
                &admin.token,
                &path,
                json!({"resource": "emailDailyLimit", "delta": delta}),
            )
        };
        assert_eq!(send(10).await.0, StatusCode::OK);
        let (status, body) = send(1).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(
            (body["limit"].clone(), body["used"].clone()),
            (json!(10), json!(10))
        );
        let yesterday = (chrono::Utc::now().date_naive() - chrono::Days::new(1))
            .format("%Y-%m-%d")
            .to_string();
        set_period_day(&app, alice.id, "emailDailyLimit", yesterday).await;
        let quota_path = format!("/api/users/{}/quota", alice.id);
        let quota = json(app.get_as(&alice.token, &quota_path).await).await;
        assert_eq!(quota["usage"]["emailDailyLimit"], 0, "{quota}");
        assert_eq!(quota["remaining"]["emailDailyLimit"], 10);
        let (status, body) = send(10).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["used"], 10);
        // The queue limit is not daily.
        assert_eq!(
            usage(
                &app,
                &admin.token,
                &path,
                json!({"resource": "emailQueueLimit", "delta": 5})
            )
            .await
            .0,
            StatusCode::OK
        );
        set_period_day(&app, alice.id, "emailQueueLimit", "2000-01-01".into()).await;
        let quota = json(app.get_as(&alice.token, &quota_path).await).await;
        assert_eq!(quota["usage"]["emailQueueLimit"], 5);
    }
}

#[tokio::test]
async fn overrides_win_over_the_plan_and_are_reported() {
    for db in backends() {
        let app = spawn_app(db).await;
        let Accounts { admin, alice, bob } = accounts(&app).await;
        let limits_path = format!("/api/admin/users/{}/limits", alice.id);
        let response = app
            .put_as(
                &admin.token,
                &limits_path,
                &json!({"servers": 3, "disk": 0, "memory": null}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let effective = json(response).await;
        assert_eq!(effective["limits"]["servers"], 3);
        assert_eq!(effective["limits"]["disk"], 0);
        assert_eq!(
            effective["limits"]["memory"], 1024,
            "plan value, not overridden"
        );
        assert_eq!(effective["overrides"], json!({"disk": 0, "servers": 3}));
        assert_eq!(effective["plan"]["name"], "Free");

        let path = format!("/api/admin/users/{}/usage", alice.id);
        for expected in 1..=3 {
            let (status, body) = usage(
                &app,
                &admin.token,
                &path,
                json!({"resource": "servers", "delta": 1}),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(body["used"], expected);
            assert_eq!(body["limit"], 3);
        }
        let (status, body) = usage(
            &app,
            &admin.token,
            &path,
            json!({"resource": "servers", "delta": 1}),
        )
        .await;
        assert_eq!(
            (status, body["limit"].clone()),
            (StatusCode::CONFLICT, json!(3))
        );
        let (status, _) = usage(
            &app,
            &admin.token,
            &path,
            json!({"resource": "disk", "delta": 1_000_000}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "a 0 override is unlimited");

        let quota = json(
            app.get_as(&alice.token, &format!("/api/users/{}/quota", alice.id))
                .await,
        )
        .await;
        assert_eq!(quota["overrides"], json!({"disk": 0, "servers": 3}));
        assert_eq!(quota["remaining"]["disk"], Value::Null);
        // Bob is untouched.
        let quota = json(
            app.get_as(&bob.token, &format!("/api/users/{}/quota", bob.id))
                .await,
        )
        .await;
        assert_eq!(
            (
                quota["limits"]["servers"].clone(),
                quota["overrides"].clone()
            ),
            (json!(1), json!({}))
        );

        // Removing the override falls back to the plan; usage above it is flagged, kept.
        let effective = json(
            app.put_as(&admin.token, &limits_path, &json!({"servers": null}))
                .await,
        )
        .await;
        assert_eq!(effective["limits"]["servers"], 1);
        assert_eq!(effective["overrides"], json!({"disk": 0}));
        let quota = json(
            app.get_as(&alice.token, &format!("/api/users/{}/quota", alice.id))
                .await,
        )
        .await;
        assert_eq!(quota["usage"]["servers"], 3);
        assert_eq!(quota["overLimit"], json!(["servers"]));

        // Bad bodies name the field; non-admins may not set limits.
        for (body, field) in [
            (json!({"serverLimit": 2}), "serverLimit"),
            (json!({"servers": -1}), "servers"),
            (json!({"servers": "2"}), "servers"),
            (json!({"servers": 9_223_372_036_854_775_808_u64}), "servers"),
        ] {
            let response = app.put_as(&admin.token, &limits_path, &body).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(json(response).await["field"], field, "{body}");
        }
        let response = app.put_as(&admin.token, &limits_path, &json!([1])).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let response = app
            .put_as(&alice.token, &limits_path, &json!({"servers": 100}))
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let response = app
            .put_as(
                &admin.token,
                "/api/admin/users/999999/limits",
                &json!({"servers": 1}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);

        // Organisations have their own overrides.
        let org = create_org(&app, &[(alice.id, "owner")]).await;
        let response = app
            .put_as(
                &admin.token,
                &format!("/api/admin/organisations/{org}/limits"),
                &json!({"sites": 50}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let quota = json(
            app.get_as(&alice.token, &format!("/api/organisations/{org}/quota"))
                .await,
        )
        .await;
        assert_eq!(quota["limits"]["sites"], 50);
        assert_eq!(quota["overrides"], json!({"sites": 50}));
    }
}

#[tokio::test]
async fn a_downgrade_keeps_usage_flags_it_and_refuses_growth() {
    for db in backends() {
        let app = spawn_app(db).await;
        let Accounts { admin, alice, .. } = accounts(&app).await;
        let big = create_plan(
            &app,
            "Big",
            &[(Resource::Servers, 5), (Resource::Cpu, 400)],
            true,
            true,
        )
        .await;
        let small = create_plan(
            &app,
            "Small",
            &[(Resource::Servers, 2), (Resource::Cpu, 100)],
            true,
            true,
        )
        .await;
        activate_plan(&app, "user", alice.id, big).await;
        let path = format!("/api/admin/users/{}/usage", alice.id);
        let (status, _) = usage(
            &app,
            &admin.token,
            &path,
            json!({"resource": "servers", "delta": 4}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = usage(
            &app,
            &admin.token,
            &path,
            json!({"resource": "cpu", "delta": 100}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);

        activate_plan(&app, "user", alice.id, small).await;
        let quota_path = format!("/api/users/{}/quota", alice.id);
        let quota = json(app.get_as(&alice.token, &quota_path).await).await;
        assert_eq!(quota["plan"]["name"], "Small");
        assert_eq!(quota["usage"]["servers"], 4, "usage is kept");
        assert_eq!(quota["limits"]["servers"], 2);
        assert_eq!(quota["remaining"]["servers"], 0);
        assert_eq!(
            quota["overLimit"],
            json!(["servers"]),
            "cpu is at, not over, its limit"
        );

        let (status, body) = usage(
            &app,
            &admin.token,
            &path,
            json!({"resource": "servers", "delta": 1}),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(
            (body["used"].clone(), body["limit"].clone()),
            (json!(4), json!(2))
        );
        let (status, body) = usage(
            &app,
            &admin.token,
            &path,
            json!({"resource": "servers", "delta": -1}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "releasing above the limit is fine");
        assert_eq!(
            body,
            json!({"resource": "servers", "used": 3, "limit": 2, "remaining": 0})
        );
        let (status, _) = usage(
            &app,
            &admin.token,
            &path,
            json!({"resource": "servers", "delta": -1}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let quota = json(app.get_as(&alice.token, &quota_path).await).await;
        assert_eq!(quota["overLimit"], json!([]));
        let (status, _) = usage(
            &app,
            &admin.token,
            &path,
            json!({"resource": "servers", "delta": 1}),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::CONFLICT,
            "at the limit again: still no growth"
        );
    }
}

#[tokio::test]
async fn check_only_answers_without_changing_anything() {
    for db in backends() {
        let app = spawn_app(db).await;
        let Accounts { admin, alice, .. } = accounts(&app).await;
        let check_path = format!("/api/admin/users/{}/usage/check", alice.id);
        let check = |body: Value| {
            let app = &app;
            let path = check_path.clone();
            let token = admin.token.clone();
            async move {
                let response = app.post_as(&token, &path, &body).await;
                assert_eq!(response.status(), StatusCode::OK);
                json(response).await
            }
        };
        assert_eq!(
            check(json!({"resource": "sites", "delta": 1})).await,
            json!({"allowed": true, "resource": "sites", "used": 0, "limit": 1, "requested": 1, "remaining": 1, "reason": null})
        );
        let refused = check(json!({"resource": "sites", "delta": 2})).await;
        assert_eq!(refused["allowed"], false);
        assert_eq!(refused["reason"], "quota_exceeded");
        assert_eq!(refused["remaining"], 1);
        let below = check(json!({"resource": "sites", "delta": -1})).await;
        assert_eq!(
            (below["allowed"].clone(), below["reason"].clone()),
            (json!(false), json!("validation_failed"))
        );
        let unlimited = check(json!({"resource": "memory", "delta": 1})).await;
        assert_eq!(unlimited["allowed"], true, "the Free plan's 1024 MB");
        for _ in 0..3 {
            check(json!({"resource": "sites", "delta": 1})).await;
        }
        assert_eq!(stored_usage(&app, "user", alice.id, "sites").await, 0);
        let (status, _) = usage(
            &app,
            &admin.token,
            &format!("/api/admin/users/{}/usage", alice.id),
            json!({"resource": "sites", "delta": 1}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let after = check(json!({"resource": "sites", "delta": 1})).await;
        assert_eq!(
            (
                after["allowed"].clone(),
                after["used"].clone(),
                after["remaining"].clone()
            ),
            (json!(false), json!(1), json!(0))
        );
        let response = app
            .post_as(
                &alice.token,
                &check_path,
                &json!({"resource": "sites", "delta": 1}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "admin only");
    }
}

#[tokio::test]
async fn quotas_are_read_by_their_account_and_admins_only() {
    for db in backends() {
        let app = spawn_app(db).await;
        let Accounts { admin, alice, bob } = accounts(&app).await;
        let carol = app.seed_user("carol@example.com", "user").await;
        let alice_path = format!("/api/users/{}/quota", alice.id);
        assert_eq!(
            app.get_as(&alice.token, &alice_path).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            app.get_as(&admin.token, &alice_path).await.status(),
            StatusCode::OK
        );
        let response = app.get_as(&bob.token, &alice_path).await;
        assert_eq!(
            response.status(),
            StatusCode::NOT_FOUND,
            "another user's quota is not there"
        );
        assert_eq!(json(response).await["error"], "not_found");
        assert_eq!(
            app.get(&alice_path).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            app.get_as("tff_bogus", &alice_path).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            app.get_as(&admin.token, "/api/users/999999/quota")
                .await
                .status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.get_as(&alice.token, "/api/users/0/quota")
                .await
                .status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.get_as(&alice.token, "/api/users/x/quota")
                .await
                .status(),
            StatusCode::BAD_REQUEST
        );

        // Organisation quota: any member reads it, outsiders get 404, admins see all.
        let org = create_org(&app, &[(alice.id, "owner"), (bob.id, "member")]).await;
        let org_path = format!("/api/organisations/{org}/quota");
        for token in [&alice.token, &bob.token, &admin.token] {
            assert_eq!(app.get_as(token, &org_path).await.status(), StatusCode::OK);
        }
        assert_eq!(
            app.get_as(&carol.token, &org_path).await.status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.get_as(&admin.token, "/api/organisations/999999/quota")
                .await
                .status(),
            StatusCode::NOT_FOUND
        );

        // The ledger and overrides are admin-only.
        let change = json!({"resource": "servers", "delta": 1});
        for path in [
            format!("/api/admin/users/{}/usage", alice.id),
            format!("/api/admin/organisations/{org}/usage"),
        ] {
            assert_eq!(
                app.post_as(&alice.token, &path, &change).await.status(),
                StatusCode::FORBIDDEN
            );
            assert_eq!(
                app.post_as("", &path, &change).await.status(),
                StatusCode::UNAUTHORIZED
            );
        }
        assert_eq!(stored_usage(&app, "user", alice.id, "servers").await, 0);

        // An organisation's usage is its own, not its members'.
        let (status, body) = usage(
            &app,
            &admin.token,
            &format!("/api/admin/organisations/{org}/usage"),
            change,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let org_quota = json(app.get_as(&bob.token, &org_path).await).await;
        assert_eq!(org_quota["usage"]["servers"], 1);
        let alice_quota = json(app.get_as(&alice.token, &alice_path).await).await;
        assert_eq!(alice_quota["usage"]["servers"], 0);
    }
}

#[tokio::test]
async fn the_openapi_document_describes_the_quota_endpoints() {
    let app = spawn_app(TestDatabase::sqlite()).await;
    let doc = json(app.get("/api/openapi.json").await).await;
    for (path, method) in [
        ("/api/users/{id}/quota", "get"),
        ("/api/organisations/{id}/quota", "get"),
        ("/api/admin/users/{id}/limits", "put"),
        ("/api/admin/organisations/{id}/limits", "put"),
        ("/api/admin/users/{id}/usage", "post"),
        ("/api/admin/organisations/{id}/usage", "post"),
        ("/api/admin/users/{id}/usage/check", "post"),
        ("/api/admin/organisations/{id}/usage/check", "post"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "openapi lacks {method} {path}"
        );
    }
    assert!(doc["components"]["schemas"]["QuotaJson"].is_object());
}

// ---- concurrency: the limit is held by the database.

/// Fires `total` concurrent `+1` reservations, alternating over `apps`, and returns
/// (granted, refused, other statuses).
async fn fire(
    apps: &[&TestApp],
    token: &str,
    path: &str,
    total: usize,
) -> (usize, usize, Vec<u16>) {
    let requests = (0..total).map(|i| {
        let app = apps[i % apps.len()];
        let request = app
            .client
            .post(app.url(path))
            .bearer_auth(token)
            .json(&json!({"resource": "servers", "delta": 1}));
        async move { request.send().await.unwrap().status() }
    });
    let statuses = join_all(requests).await;
    let granted = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    let other = statuses
        .iter()
        .filter(|s| **s != StatusCode::OK && **s != StatusCode::CONFLICT)
        .map(|s| s.as_u16())
        .collect();
    (granted, refused, other)
}

/// Slow shared build machines must not turn a queued request into a 503: the test is
/// about the limit, not the pool's patience.
fn patient(settings: &mut tariff_app::settings::Settings) {
    settings.database.acquire_timeout_ms = 60_000;
    settings.database.sqlite_busy_timeout_ms = 60_000;
}

async fn assert_exactly_ten_of_a_hundred(apps: &[&TestApp], label: &str) {
    let first = apps[0];
    let admin = first.seed_user("admin@example.com", "admin").await;
    let alice = first.seed_user("alice@example.com", "user").await;
    let response = first
        .put_as(
            &admin.token,
            &format!("/api/admin/users/{}/limits", alice.id),
            &json!({"servers": 10}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let path = format!("/api/admin/users/{}/usage", alice.id);
    let started = Instant::now();
    let (granted, refused, other) = fire(apps, &admin.token, &path, 100).await;
    let elapsed = started.elapsed();
    eprintln!("{label}: 100 concurrent +1 against a limit of 10 in {elapsed:?}: {granted} granted, {refused} refused");
    assert_eq!(other, Vec::<u16>::new(), "{label}: unexpected statuses");
    assert_eq!((granted, refused), (10, 90), "{label}");
    assert_eq!(
        stored_usage(first, "user", alice.id, "servers").await,
        10,
        "{label}"
    );
    let quota = json(
        first
            .get_as(&alice.token, &format!("/api/users/{}/quota", alice.id))
            .await,
    )
    .await;
    assert_eq!(quota["usage"]["servers"], 10, "{label}");
    assert_eq!(quota["remaining"]["servers"], 0, "{label}");

    // Twenty concurrent replays of one key count once and all answer the same.
    let response = first
        .put_as(
            &admin.token,
            &format!("/api/admin/users/{}/limits", alice.id),
            &json!({"servers": 0}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let requests = (0..20).map(|i| {
        let app = apps[i % apps.len()];
        let request = app
            .client
            .post(app.url(&path))
            .bearer_auth(&admin.token)
            .json(&json!({"resource": "servers", "delta": 1, "idempotencyKey": "same-key"}));
        async move {
            let response = request.send().await.unwrap();
            (response.status(), response.text().await.unwrap())
        }
    });
    let answers = join_all(requests).await;
    assert!(
        answers.iter().all(|a| a == &answers[0]),
        "{label}: {answers:?}"
    );
    assert_eq!(answers[0].0, StatusCode::OK, "{label}");
    assert_eq!(
        stored_usage(first, "user", alice.id, "servers").await,
        11,
        "{label}"
    );
}

#[tokio::test]
async fn a_hundred_concurrent_reservations_grant_exactly_the_limit_on_sqlite() {
    let app = spawn_app_with(TestDatabase::sqlite(), patient).await;
    assert_exactly_ten_of_a_hundred(&[&app], "sqlite").await;
}

#[tokio::test]
async fn a_hundred_concurrent_reservations_over_two_instances_grant_exactly_the_limit_on_postgres()
{
    let Some(database) = TestDatabase::postgres() else {
        return;
    };
    let first = spawn_app_with(database, patient).await;
    let second = spawn_app_on_url_with(first.database.url(), patient).await;
    assert_ne!(first.address, second.address);
    assert_exactly_ten_of_a_hundred(&[&first, &second], "postgres, two instances").await;
}
