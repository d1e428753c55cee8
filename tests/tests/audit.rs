//! The audit log: every admin write leaves one row (actor, action, target, before, after,
//! time) written in the same transaction as the change; `GET /api/admin/audit` lists
//! them for admins only, filtered and paginated.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tariff_tests::{backends, execute_sql, json, spawn_app, Backend, TestApp};

/// Every audit row, oldest first, following the pagination links.
async fn all_rows(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut page = 1;
    loop {
        let sep = if query.is_empty() { "?" } else { "&" };
        let url = format!("/api/admin/audit{query}{sep}page={page}&per_page=100");
        let response = app.get_as(token, &url).await;
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        let body = json(response).await;
        let data = body["data"].as_array().unwrap().clone();
        let last = body["meta"]["last_page"].as_u64().unwrap();
        rows.extend(data);
        if page >= last {
            break;
        }
        page += 1;
    }
    rows.reverse();
    rows
}

fn count_by_action(rows: &[Value]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for row in rows {
        *counts
            .entry(row["action"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    counts
}

async fn send(app: &TestApp, method: &str, token: &str, path: &str, body: Value) -> (u16, Value) {
    let response = app
        .client
        .request(method.parse().unwrap(), app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn every_admin_write_is_recorded_with_actor_target_and_states() {
    for db in backends() {
        let app = spawn_app(db).await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let customer = app.seed_user("customer@example.com", "user").await;
        let t = admin.token.as_str();

        let (status, plan) = send(&app, "POST", t, "/api/admin/plans", json!({"name": "Pro", "type": "paid", "price": "9.99", "currency": "EUR", "serverLimit": 5})).await;
        assert_eq!(status, 201);
        let plan_id = plan["id"].as_i64().unwrap();
        let (status, _) = send(
            &app,
            "PUT",
            t,
            &format!("/api/admin/plans/{plan_id}"),
            json!({"price": "12.50", "description": "Bigger"}),
        )
        .await;
        assert_eq!(status, 200);
        let (status, spare) = send(
            &app,
            "POST",
            t,
            "/api/admin/plans",
            json!({"name": "Spare", "type": "free", "price": "0", "currency": "EUR"}),
        )
        .await;
        assert_eq!(status, 201);
        let (status, _) = send(
            &app,
            "DELETE",
            t,
            &format!("/api/admin/plans/{}", spare["id"]),
            json!({}),
        )
        .await;
        assert_eq!(status, 204);
        let (status, user) = send(&app, "POST", t, "/api/admin/users", json!({"email": "new@example.com", "name": "New", "password": "correct horse battery staple"})).await;
        assert_eq!(status, 201);
        let user_id = user["id"].as_i64().unwrap();
        let (status, _) = send(
            &app,
            "PUT",
            t,
            &format!("/api/admin/users/{user_id}"),
            json!({"name": "Renamed", "password": "another long passphrase"}),
        )
        .await;
        assert_eq!(status, 200);
        let (status, _) = send(
            &app,
            "PUT",
            t,
            &format!("/api/admin/users/{}/limits", customer.id),
            json!({"servers": 3, "disk": null}),
        )
        .await;
        assert_eq!(status, 200);
        let (status, _) = send(
            &app,
            "POST",
            t,
            &format!("/api/admin/users/{}/usage", customer.id),
            json!({"resource": "servers", "delta": 2, "idempotencyKey": "k-1"}),
        )
        .await;
        assert_eq!(status, 200);
        // A replay and a refusal change nothing, so they record nothing.
        let (status, _) = send(
            &app,
            "POST",
            t,
            &format!("/api/admin/users/{}/usage", customer.id),
            json!({"resource": "servers", "delta": 2, "idempotencyKey": "k-1"}),
        )
        .await;
        assert_eq!(status, 200);
        let (status, _) = send(
            &app,
            "POST",
            t,
            &format!("/api/admin/users/{}/usage", customer.id),
            json!({"resource": "servers", "delta": 5}),
        )
        .await;
        assert_eq!(status, 409);
        let (status, org) = send(
            &app,
            "POST",
            t,
            "/api/organisations",
            json!({"name": "Acme"}),
        )
        .await;
        assert_eq!(status, 201);
        let (status, _) = send(
            &app,
            "PUT",
            t,
            &format!("/api/admin/organisations/{}/limits", org["id"]),
            json!({"sites": 9}),
        )
        .await;
        assert_eq!(status, 200);
        let (status, _) = send(
            &app,
            "POST",
            t,
            &format!("/api/admin/organisations/{}/usage", org["id"]),
            json!({"resource": "sites", "delta": 1}),
        )
        .await;
        assert_eq!(status, 200);

        // Orders: a customer's own order is not an admin write; paying it is.
        let (status, order) = send(
            &app,
            "POST",
            &customer.token,
            "/api/orders",
            json!({"planId": plan_id}),
        )
        .await;
        assert_eq!(status, 201, "{order}");
        let (status, paid) = send(
            &app,
            "POST",
            t,
            &format!("/api/admin/orders/{}/mark-paid", order["id"]),
            json!({"reference": "bank-42"}),
        )
        .await;
        assert_eq!(status, 200, "{paid}");
        let (status, applied) = send(
            &app,
            "POST",
            t,
            &format!("/api/admin/users/{}/apply-plan", customer.id),
            json!({"planId": plan_id, "notes": "goodwill"}),
        )
        .await;
        assert_eq!(status, 200, "{applied}");
        let (status, _) = send(
            &app,
            "POST",
            t,
            &format!("/api/admin/users/{}/cancel-plan", customer.id),
            json!({}),
        )
        .await;
        assert_eq!(status, 200);
        // Nothing left to cancel: no write, no row.
        let (status, nothing) = send(
            &app,
            "POST",
            t,
            &format!("/api/admin/users/{}/cancel-plan", customer.id),
            json!({}),
        )
        .await;
        assert_eq!((status, &nothing["success"]), (200, &json!(false)));
        let (status, _) = send(
            &app,
            "PUT",
            t,
            "/api/admin/settings",
            json!({"billingEnabled": false}),
        )
        .await;
        assert_eq!(status, 200);
        let (status, _) = send(
            &app,
            "PUT",
            t,
            "/api/admin/settings",
            json!({"billingEnabled": true}),
        )
        .await;
        assert_eq!(status, 200);

        let rows = all_rows(&app, t, "").await;
        let counts = count_by_action(&rows);
        println!("AUDIT ROWS ({:?}): {counts:?}", app.backend());
        let expected: BTreeMap<String, usize> = [
            ("plan.create", 2),
            ("plan.update", 1),
            ("plan.delete", 1),
            ("user.create", 1),
            ("user.update", 1),
            ("limits.set", 2),
            ("usage.change", 2),
            ("order.mark_paid", 1),
            ("plan.apply", 1),
            ("plan.cancel", 1),
            ("settings.update", 2),
        ]
        .into_iter()
        .map(|(a, n)| (a.to_owned(), n))
        .collect();
        assert_eq!(counts, expected);
        for row in &rows {
            assert_eq!(row["actorId"], admin.id, "{row}");
            assert!(row["createdAt"].as_str().unwrap().ends_with('Z'), "{row}");
            let text = row.to_string();
            assert!(
                !text.contains("argon2") && !text.contains("password\""),
                "secret in {text}"
            );
        }

        // Before and after say what changed.
        let update = rows.iter().find(|r| r["action"] == "plan.update").unwrap();
        assert_eq!(update["targetKind"], "plan");
        assert_eq!(update["targetId"], plan_id);
        assert_eq!(update["before"]["price"], "9.99");
        assert_eq!(update["after"]["price"], "12.50");
        assert_eq!(update["before"]["description"], Value::Null);
        assert_eq!(update["after"]["description"], "Bigger");
        let create = rows.iter().find(|r| r["action"] == "plan.create").unwrap();
        assert_eq!(create["targetId"], plan_id);
        assert_eq!(create["before"], Value::Null);
        assert_eq!(create["after"]["limits"]["servers"], 5);
        let delete = rows.iter().find(|r| r["action"] == "plan.delete").unwrap();
        assert_eq!(delete["before"]["name"], "Spare");
        assert_eq!(delete["after"], Value::Null);
        let renamed = rows.iter().find(|r| r["action"] == "user.update").unwrap();
        assert_eq!(
            (
                renamed["before"]["name"].as_str(),
                renamed["after"]["name"].as_str()
            ),
            (Some("New"), Some("Renamed"))
        );
        assert_eq!(renamed["after"]["passwordChanged"], true);
        let limits = rows
            .iter()
            .find(|r| r["action"] == "limits.set" && r["targetKind"] == "user")
            .unwrap();
        assert_eq!(limits["targetId"], customer.id);
        assert_eq!(limits["before"]["overrides"], json!({}));
        assert_eq!(limits["after"]["overrides"], json!({"servers": 3}));
        let usage = rows
            .iter()
            .find(|r| r["action"] == "usage.change" && r["targetKind"] == "user")
            .unwrap();
        assert_eq!(usage["before"]["used"], 0);
        assert_eq!(usage["after"]["used"], 2);
        assert_eq!(usage["after"]["idempotencyKey"], "k-1");
        let org_limits = rows
            .iter()
            .find(|r| r["action"] == "limits.set" && r["targetKind"] == "organisation")
            .unwrap();
        assert_eq!(org_limits["targetId"], org["id"]);

        let mark_paid = rows
            .iter()
            .find(|r| r["action"] == "order.mark_paid")
            .unwrap();
        assert_eq!(
            (mark_paid["targetKind"].as_str(), &mark_paid["targetId"]),
            (Some("order"), &order["id"])
        );
        assert_eq!(mark_paid["before"]["status"], "pending");
        assert_eq!(mark_paid["after"]["status"], "active");
        assert_eq!(mark_paid["after"]["paymentReference"], "bank-42");
        assert!(mark_paid["after"]["invoiceNumber"].is_string());
        let apply = rows.iter().find(|r| r["action"] == "plan.apply").unwrap();
        assert_eq!(
            (apply["targetKind"].as_str(), &apply["targetId"]),
            (Some("user"), &json!(customer.id))
        );
        assert_eq!(apply["before"]["id"], order["id"], "the replaced order");
        assert_eq!(apply["after"]["notes"], "goodwill");
        let cancel = rows.iter().find(|r| r["action"] == "plan.cancel").unwrap();
        assert_eq!(cancel["before"]["status"], "active");
        assert_eq!(cancel["after"]["status"], "cancelled");
        let switch = rows
            .iter()
            .find(|r| r["action"] == "settings.update")
            .unwrap();
        assert_eq!(switch["targetKind"], "settings");
        assert_eq!(
            (
                &switch["before"]["billingEnabled"],
                &switch["after"]["billingEnabled"]
            ),
            (&json!(true), &json!(false))
        );

        // Filters: by target and by actor.
        let for_plan = all_rows(&app, t, &format!("?targetKind=plan&targetId={plan_id}")).await;
        assert_eq!(
            count_by_action(&for_plan).into_iter().collect::<Vec<_>>(),
            vec![("plan.create".to_owned(), 1), ("plan.update".to_owned(), 1)]
        );
        let for_customer = all_rows(
            &app,
            t,
            &format!("?targetKind=user&targetId={}", customer.id),
        )
        .await;
        assert_eq!(for_customer.len(), 4, "limits, usage, apply, cancel");
        assert_eq!(
            all_rows(&app, t, &format!("?actorId={}", admin.id))
                .await
                .len(),
            rows.len()
        );
        assert!(all_rows(&app, t, &format!("?actorId={}", customer.id))
            .await
            .is_empty());
        // Newest first, paginated with the shared envelope.
        let page = json(app.get_as(t, "/api/admin/audit?per_page=2").await).await;
        assert_eq!(page["meta"]["total"], rows.len());
        assert_eq!(page["data"].as_array().unwrap().len(), 2);
        assert!(page["data"][0]["id"].as_i64() > page["data"][1]["id"].as_i64());
        for bad in [
            "?targetKind=plans",
            "?actorId=0",
            "?targetId=x",
            "?per_page=101",
        ] {
            let response = app.get_as(t, &format!("/api/admin/audit{bad}")).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        }
    }
}

#[tokio::test]
async fn customers_cannot_read_the_audit_log() {
    for db in backends() {
        let app = spawn_app(db).await;
        let customer = app.seed_user("customer@example.com", "user").await;
        let response = app.get_as(&customer.token, "/api/admin/audit").await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(json(response).await["error"], "forbidden");
        let response = app.get("/api/admin/audit").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn a_rejected_write_leaves_no_audit_row_and_a_failed_audit_rejects_the_write() {
    for db in backends() {
        let app = spawn_app(db).await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let t = admin.token.as_str();
        let (status, _) = send(
            &app,
            "POST",
            t,
            "/api/admin/plans",
            json!({"name": "Pro", "type": "paid", "price": "1", "currency": "EUR"}),
        )
        .await;
        assert_eq!(status, 201);
        let (status, _) = send(
            &app,
            "POST",
            t,
            "/api/admin/users",
            json!({"email": "taken@example.com", "name": "Taken"}),
        )
        .await;
        assert_eq!(status, 201);
        let before = all_rows(&app, t, "").await.len();

        // Refused by the database inside the transaction: nothing of it remains.
        let (status, _) = send(
            &app,
            "POST",
            t,
            "/api/admin/plans",
            json!({"name": "pro", "type": "paid", "price": "2", "currency": "EUR"}),
        )
        .await;
        assert_eq!(status, 409);
        let (status, _) = send(
            &app,
            "POST",
            t,
            "/api/admin/users",
            json!({"email": "TAKEN@example.com", "name": "Again"}),
        )
        .await;
        assert_eq!(status, 409);
        let (status, _) = send(&app, "DELETE", t, "/api/admin/plans/424242", json!({})).await;
        assert_eq!(status, 404);
        let (status, _) = send(
            &app,
            "PUT",
            t,
            "/api/admin/users/424242/limits",
            json!({"servers": 1}),
        )
        .await;
        assert_eq!(status, 404);
        let (status, _) = send(
            &app,
            "POST",
            t,
            "/api/admin/users/424242/usage",
            json!({"resource": "servers", "delta": 1}),
        )
        .await;
        assert_eq!(status, 404);
        assert_eq!(
            all_rows(&app, t, "").await.len(),
            before,
            "a rejected write left an audit row"
        );

        // The other direction: when the audit row cannot be written, neither is the change.
        let block = match app.backend() {
            Backend::Sqlite => "CREATE TRIGGER audit_blocked BEFORE INSERT ON audit_log WHEN NEW.action = 'plan.create' \
                                BEGIN SELECT RAISE(ABORT, 'audit blocked'); END;",
            Backend::Postgres => "ALTER TABLE audit_log ADD CONSTRAINT audit_blocked CHECK (action <> 'plan.create') NOT VALID;",
        };
        execute_sql(&app.db, block.to_owned()).await.unwrap();
        let plans_before = json(app.get_as(t, "/api/admin/plans").await).await;
        let (status, body) = send(
            &app,
            "POST",
            t,
            "/api/admin/plans",
            json!({"name": "Unaudited", "type": "paid", "price": "3", "currency": "EUR"}),
        )
        .await;
        assert_eq!(status, 500, "{body}");
        assert_eq!(body["error"], "internal");
        assert_eq!(
            json(app.get_as(t, "/api/admin/plans").await).await,
            plans_before,
            "the write survived without its audit row"
        );
        assert!(json(app.get("/api/plans").await)
            .await
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["name"] != "Unaudited"));
    }
}
