//! The EcliPanel frontend's real request bodies (tests/fixtures/eclipanel/requests.json)
//! replayed against both profiles (`api.profile` = `seed` and `eclipanel`), and the
//! additive behaviour both profiles share (CONTRACT.md part two, "Profiles"). Every test
//! runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use reqwest::StatusCode;
use serde_json::{json, Value};
use tariff_app::settings::ApiProfile;
use tariff_tests::{backends, frontend_request, json, spawn_app_with, TestApp, TestDatabase};

async fn spawn(db: TestDatabase, profile: ApiProfile) -> TestApp {
    spawn_app_with(db, move |s| {
        s.api.profile = profile;
        s.server.cors_allowed_origins = vec!["https://panel.example".into()];
    })
    .await
}

/// Both profiles on every backend.
fn cases() -> Vec<(TestDatabase, ApiProfile)> {
    let mut all = Vec::new();
    for profile in [ApiProfile::Seed, ApiProfile::Eclipanel] {
        for db in backends() {
            all.push((db, profile));
        }
    }
    all
}

/// Sends a fixture request as the frontend does (JSON body when it has one, none
/// otherwise) with `token` as Bearer.
async fn replay(
    app: &TestApp,
    token: &str,
    name: &str,
    values: &[(&str, i64)],
) -> reqwest::Response {
    let request = frontend_request(name, values);
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).unwrap();
    let mut builder = app
        .client
        .request(method, app.url(&request.path))
        .bearer_auth(token);
    if let Some(body) = &request.body {
        builder = builder.json(body);
    }
    builder.send().await.unwrap()
}

/// The plan inside a plan write's answer: bare (seed) or `{success, plan}` (eclipanel).
fn written_plan(profile: ApiProfile, body: &Value) -> Value {
    match profile {
        ApiProfile::Seed => body.clone(),
        ApiProfile::Eclipanel => {
            assert_eq!(body["success"], true, "{body}");
            body["plan"].clone()
        }
    }
}

#[tokio::test]
async fn the_admin_plan_dialog_creates_and_edits_plans_in_both_profiles() {
    for (db, profile) in cases() {
        let app = spawn(db, profile).await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let created = replay(&app, &admin.token, "admin_plan_create", &[]).await;
        assert_eq!(created.status(), StatusCode::CREATED, "{profile:?}");
        let plan = written_plan(profile, &json(created).await);
        let unlimited = match profile {
            ApiProfile::Seed => json!(0),
            ApiProfile::Eclipanel => Value::Null,
        };
        let edu = match profile {
            ApiProfile::Seed => "edu",
            ApiProfile::Eclipanel => "educational",
        };
        assert_eq!(plan["type"], edu, "{profile:?}");
        assert_eq!(plan["memory"], 2048);
        assert_eq!(plan["databases"], unlimited, "null is unlimited");
        assert_eq!(plan["emailSendDailyLimit"], unlimited);
        assert_eq!(plan["emailSendQueueLimit"], 5);
        assert_eq!(plan["emailQueueLimit"], 5, "the alias sets the same limit");
        assert_eq!(plan["hiddenFromBilling"], false);
        assert_eq!(
            plan["features"],
            json!({"list": ["1 server", "Community support"]}),
            "features come back as written"
        );
        let id = plan["id"].as_i64().unwrap();

        let hidden = replay(&app, &admin.token, "admin_plan_create_paid_hidden", &[]).await;
        assert_eq!(hidden.status(), StatusCode::CREATED);
        let hidden = written_plan(profile, &json(hidden).await);
        assert_eq!(hidden["hidden"], true);
        assert_eq!(hidden["hiddenFromBilling"], true);
        assert_eq!(
            hidden["features"],
            json!({}),
            "features null is the empty object"
        );
        assert_eq!(hidden["price"].to_string(), "19.99");

        let edited = replay(&app, &admin.token, "admin_plan_edit", &[("planId", id)]).await;
        assert_eq!(edited.status(), StatusCode::OK, "{profile:?}");
        let edited = written_plan(profile, &json(edited).await);
        assert_eq!(edited["memory"], unlimited, "memory cleared to unlimited");
        assert_eq!(edited["serverLimit"], 2);
        assert_eq!(edited["features"], json!({"list": ["2 servers"]}));

        // The admin plans tab reads a bare array, hidden plans included.
        let list = json(app.get_as(&admin.token, "/api/admin/plans").await).await;
        let names: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert!(
            names.contains(&"Partner") && names.contains(&"Student"),
            "{names:?}"
        );

        // The public list: edu plans under the profile's name, hidden plans left out.
        let public = json(app.get("/api/plans").await).await;
        let student = public
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "Student")
            .cloned()
            .unwrap();
        assert_eq!(student["type"], edu);
        assert!(public
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["name"] != "Partner"));
    }
}

#[tokio::test]
async fn bad_plan_bodies_are_still_refused() {
    for (db, profile) in cases() {
        let app = spawn(db, profile).await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        for body in [
            json!({"name": "X", "type": "student"}),
            json!({"name": "X", "memory": -1}),
            json!({"name": "X", "features": ["a"]}),
            json!({"name": "X", "hiddenFromBilling": "yes"}),
            json!({"name": "X", "colour": "red"}),
        ] {
            let response = app.post_as(&admin.token, "/api/admin/plans", &body).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(json(response).await["error"], "validation_failed");
        }
        let list = json(app.get_as(&admin.token, "/api/admin/plans").await).await;
        assert!(list.as_array().unwrap().iter().all(|p| p["name"] != "X"));
    }
}

/// Creates a plan through the admin API; returns its id.
async fn plan(app: &TestApp, admin: &str, name: &str, price: &str, hidden: bool) -> i64 {
    let response = app
        .post_as(
            admin,
            "/api/admin/plans",
            &json!({"name": name, "price": price, "hidden": hidden, "serverLimit": 3}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body = json(response).await;
    body.get("plan").unwrap_or(&body)["id"].as_i64().unwrap()
}

async fn org(app: &TestApp, owner: &str, name: &str) -> i64 {
    let response = app
        .post_as(owner, "/api/organisations", &json!({"name": name}))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    json(response).await["id"].as_i64().unwrap()
}

#[tokio::test]
async fn the_apply_plan_dialog_is_accepted_with_its_tax_expiry_lifetime_and_organisation() {
    for (db, profile) in cases() {
        let app = spawn(db, profile).await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let customer = app.seed_user("customer@example.com", "user").await;
        let partner = plan(&app, &admin.token, "Partner", "19.99", true).await;
        let values = [("userId", customer.id), ("planId", partner)];

        let applied = replay(&app, &admin.token, "admin_apply_plan", &values).await;
        assert_eq!(applied.status(), StatusCode::OK, "{profile:?}");
        let body = json(applied).await;
        assert_eq!(body["success"], true);
        let order = &body["order"];
        assert_eq!(order["status"], "active");
        assert_eq!(order["taxRate"].to_string(), "19.0", "the admin's rate");
        assert_eq!(order["taxAmount"].to_string(), "3.8");
        assert_eq!(order["amount"].to_string(), "23.79");
        assert_eq!(
            order["expiresAt"], "2031-01-31T23:59:59Z",
            "end of that day, UTC"
        );
        assert_eq!(order["createdAt"], order["date"]);
        assert_eq!(order["notes"], "Partner deal");

        // The override is in the audit log with the order.
        let audit = json(
            app.get_as(&admin.token, "/api/admin/audit?targetKind=user")
                .await,
        )
        .await;
        let entry = audit["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "plan.apply")
            .cloned()
            .unwrap_or_else(|| panic!("no plan.apply entry: {audit}"));
        assert_eq!(entry["after"]["taxRate"], "19.0", "{entry}");
        assert_eq!(entry["after"]["taxAmount"], "3.80", "{entry}");

        // A taxAmount that disagrees with taxRate is refused and changes nothing.
        let refused = app
            .post_as(
                &admin.token,
                &format!("/api/admin/users/{}/apply-plan", customer.id),
                &json!({"planId": partner, "taxRate": 19, "taxAmount": 7.5}),
            )
            .await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        assert_eq!(json(refused).await["field"], "taxAmount");
        for bad in [
            json!({"planId": partner, "expiresAt": "31/01/2031"}),
            json!({"planId": partner, "billingType": "weekly"}),
            json!({"planId": partner, "taxRate": 19.123}),
        ] {
            let response = app
                .post_as(
                    &admin.token,
                    &format!("/api/admin/users/{}/apply-plan", customer.id),
                    &bad,
                )
                .await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        }

        // The organisation variant with a lifetime period.
        let org_id = org(&app, &customer.token, "Acme").await;
        let lifetime = replay(
            &app,
            &admin.token,
            "admin_apply_plan_lifetime_org",
            &[
                ("userId", customer.id),
                ("planId", partner),
                ("orgId", org_id),
            ],
        )
        .await;
        assert_eq!(lifetime.status(), StatusCode::OK);
        let order = json(lifetime).await["order"].clone();
        assert_eq!(order["orgId"], org_id);
        assert_eq!(order["userId"], customer.id);
        assert!(order["expiresAt"].is_null(), "lifetime: no expiry, {order}");
        assert_eq!(order["taxRate"].to_string(), "0.0");

        // The organisation's billing page lists only its orders.
        let org_orders = json(
            app.get_as(&customer.token, &format!("/api/orders?orgId={org_id}"))
                .await,
        )
        .await;
        let org_orders = org_orders.as_array().unwrap();
        assert_eq!(org_orders.len(), 1);
        assert_eq!(org_orders[0]["id"], order["id"]);
    }
}

#[tokio::test]
async fn current_plan_lists_plans_and_orders_and_cancel_plan_takes_any_empty_body() {
    for (db, profile) in cases() {
        let app = spawn(db, profile).await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let customer = app.seed_user("customer@example.com", "user").await;
        let pro = plan(&app, &admin.token, "Pro", "9.99", false).await;
        let path = format!("/api/admin/users/{}/current-plan", customer.id);

        let before = json(app.get_as(&admin.token, &path).await).await;
        assert_eq!(before["plans"], json!([]));
        assert_eq!(before["orders"], json!([]));

        let applied = app
            .post_as(
                &admin.token,
                &format!("/api/admin/users/{}/apply-plan", customer.id),
                &json!({"planId": pro}),
            )
            .await;
        assert_eq!(applied.status(), StatusCode::OK);
        let order_id = json(applied).await["order"]["id"].clone();
        let current = json(app.get_as(&admin.token, &path).await).await;
        let plans = current["plans"].as_array().unwrap();
        assert_eq!(plans.len(), 1, "{current}");
        assert_eq!(plans[0]["plan"]["name"], "Pro");
        assert_eq!(plans[0]["order"]["id"], order_id);
        assert_eq!(current["orders"][0]["id"], order_id);
        assert_eq!(current["plan"]["name"], "Pro");

        // The panel's cancel: POST without a body or Content-Type.
        let cancel = frontend_request("admin_cancel_plan", &[("userId", customer.id)]);
        assert!(cancel.body.is_none());
        let response = app
            .client
            .post(app.url(&cancel.path))
            .bearer_auth(&admin.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(json(response).await["success"], true);
        let after = json(app.get_as(&admin.token, &path).await).await;
        assert_eq!(after["plans"], json!([]));

        // Nothing active now: an empty body, `{}` with and without a Content-Type.
        for (content_type, body) in [
            (None, ""),
            (Some("application/json"), "{}"),
            (None, "{}"),
            (Some("application/json"), ""),
        ] {
            let mut request = app
                .client
                .post(app.url(&cancel.path))
                .bearer_auth(&admin.token)
                .body(body);
            if let Some(content_type) = content_type {
                request = request.header("content-type", content_type);
            }
            let response = request.send().await.unwrap();
            assert_eq!(
                response.status(),
                StatusCode::OK,
                "{content_type:?} {body:?}"
            );
            let answer = json(response).await;
            match profile {
                ApiProfile::Seed => {
                    assert_eq!(
                        answer,
                        json!({"success": false, "error": "no_active_plan", "message": answer["message"]})
                    )
                }
                ApiProfile::Eclipanel => assert_eq!(answer, json!({"success": true})),
            }
        }
    }
}

#[tokio::test]
async fn a_customer_switches_plan_reads_the_order_with_its_plan_and_cancels_it() {
    for (db, profile) in cases() {
        let app = spawn(db, profile).await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let customer = app.seed_user("customer@example.com", "user").await;
        let pro = plan(&app, &admin.token, "Pro", "9.99", false).await;
        let free = plan(&app, &admin.token, "Hobby", "0", false).await;

        let placed = replay(
            &app,
            &customer.token,
            "customer_switch_plan",
            &[("planId", pro)],
        )
        .await;
        assert_eq!(placed.status(), StatusCode::CREATED, "{profile:?}");
        let body = json(placed).await;
        let order = match profile {
            ApiProfile::Seed => body.clone(),
            ApiProfile::Eclipanel => {
                assert_eq!(body["success"], true);
                assert_eq!(body["autoActivated"], false);
                body["order"].clone()
            }
        };
        assert_eq!(order["status"], "pending");
        assert_eq!(
            order["amount"].to_string(),
            "9.99",
            "the server prices, not the client"
        );
        assert_eq!(order["description"], "Pro (monthly)");
        let id = order["id"].as_i64().unwrap();

        // The checkout page: the order with its plan.
        let detail = json(
            app.get_as(&customer.token, &format!("/api/orders/{id}"))
                .await,
        )
        .await;
        assert_eq!(detail["plan"]["id"], pro);
        assert_eq!(detail["plan"]["name"], "Pro");
        assert_eq!(detail["createdAt"], detail["date"]);

        let cancelled = replay(
            &app,
            &customer.token,
            "customer_cancel_order",
            &[("orderId", id)],
        )
        .await;
        assert_eq!(cancelled.status(), StatusCode::OK);
        assert_eq!(json(cancelled).await["status"], "cancelled");

        // A free plan activates at once.
        let placed = replay(
            &app,
            &customer.token,
            "customer_switch_plan_at_renewal",
            &[("planId", free)],
        )
        .await;
        assert_eq!(placed.status(), StatusCode::CREATED);
        let body = json(placed).await;
        if profile == ApiProfile::Eclipanel {
            assert_eq!(body["autoActivated"], true);
            assert_eq!(body["order"]["status"], "active");
        } else {
            assert_eq!(body["status"], "active");
        }

        // Bad extra fields are still checked; the DNS add-on (no planId) is not Tariff's.
        let bad = app
            .post_as(
                &customer.token,
                "/api/orders",
                &json!({"planId": pro, "activateMode": "later"}),
            )
            .await;
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        let org_id = org(&app, &customer.token, "Acme").await;
        let addon = replay(&app, &customer.token, "org_dns_addon", &[("orgId", org_id)]).await;
        assert_eq!(addon.status(), StatusCode::BAD_REQUEST);
        assert_eq!(json(addon).await["error"], "validation_failed");
        let list = json(app.get_as(&customer.token, "/api/orders").await).await;
        assert_eq!(
            list.as_array().unwrap().len(),
            2,
            "refused bodies stored nothing"
        );
        assert!(list[0]["createdAt"].is_string());
    }
}

#[tokio::test]
async fn organisation_order_lists_and_hidden_plans_follow_their_access_rules() {
    for (db, profile) in cases() {
        let app = spawn(db, profile).await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let owner = app.seed_user("owner@example.com", "user").await;
        let stranger = app.seed_user("stranger@example.com", "user").await;
        let partner = plan(&app, &admin.token, "Partner", "5.00", true).await;
        let org_id = org(&app, &owner.token, "Acme").await;

        // The owner's personal order and an order for the organisation.
        let applied = app
            .post_as(
                &admin.token,
                &format!("/api/admin/users/{}/apply-plan", owner.id),
                &json!({"planId": partner}),
            )
            .await;
        assert_eq!(applied.status(), StatusCode::OK);
        let personal = json(applied).await["order"]["id"].clone();
        let for_org = app
            .post_as(
                &admin.token,
                &format!("/api/admin/users/{}/apply-plan", owner.id),
                &json!({"planId": partner, "orgId": org_id}),
            )
            .await;
        let for_org = json(for_org).await["order"]["id"].clone();

        let listed = json(
            app.get_as(&owner.token, &format!("/api/orders?orgId={org_id}"))
                .await,
        )
        .await;
        let ids: Vec<Value> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].clone())
            .collect();
        assert_eq!(ids, vec![for_org.clone()], "only the organisation's orders");
        assert!(!ids.contains(&personal));
        let forbidden = app
            .get_as(&stranger.token, &format!("/api/orders?orgId={org_id}"))
            .await;
        assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
        let by_admin = app
            .get_as(&admin.token, &format!("/api/orders?orgId={org_id}"))
            .await;
        assert_eq!(by_admin.status(), StatusCode::OK);
        let bad = app.get_as(&owner.token, "/api/orders?orgId=abc").await;
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

        // The hidden plan: its holder and admins see it, strangers and the public do not.
        let path = format!("/api/plans/{partner}");
        let held = app.get_as(&owner.token, &path).await;
        assert_eq!(held.status(), StatusCode::OK);
        assert_eq!(json(held).await["hiddenFromBilling"], true);
        assert_eq!(
            app.get_as(&admin.token, &path).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            app.get_as(&stranger.token, &path).await.status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(app.get(&path).await.status(), StatusCode::NOT_FOUND);

        // Once cancelled, it was still held.
        let cancel = app
            .post_as(
                &admin.token,
                &format!("/api/admin/users/{}/cancel-plan", owner.id),
                &json!({}),
            )
            .await;
        assert_eq!(cancel.status(), StatusCode::OK);
        assert_eq!(
            app.get_as(&owner.token, &path).await.status(),
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn the_admin_order_list_has_each_profiles_envelope_and_searches() {
    for (db, profile) in cases() {
        let app = spawn(db, profile).await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let customer = app.seed_user("customer@example.com", "user").await;
        let pro = plan(&app, &admin.token, "Pro", "9.99", false).await;
        let max = plan(&app, &admin.token, "Max", "29.99", false).await;
        for id in [pro, max, pro] {
            let placed = app
                .post_as(&customer.token, "/api/orders", &json!({"planId": id}))
                .await;
            assert_eq!(placed.status(), StatusCode::CREATED);
        }
        let body = json(
            app.get_as(&admin.token, "/api/admin/orders?page=1&q=")
                .await,
        )
        .await;
        match profile {
            ApiProfile::Seed => {
                assert_eq!(body["meta"]["total"], 3);
                assert_eq!(body["data"].as_array().unwrap().len(), 3);
            }
            ApiProfile::Eclipanel => {
                assert_eq!(body["total"], 3);
                assert_eq!(body["page"], 1);
                assert_eq!(body["per"], 15);
                assert_eq!(body["orders"].as_array().unwrap().len(), 3);
                let page = json(
                    app.get_as(&admin.token, "/api/admin/orders?page=2&per=2")
                        .await,
                )
                .await;
                assert_eq!(page["orders"].as_array().unwrap().len(), 1);
                assert_eq!(page["total"], 3);
                let bad = app.get_as(&admin.token, "/api/admin/orders?per=500").await;
                assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
            }
        }
        let found = json(app.get_as(&admin.token, "/api/admin/orders?q=Max").await).await;
        let orders = match profile {
            ApiProfile::Seed => found["data"].clone(),
            ApiProfile::Eclipanel => found["orders"].clone(),
        };
        assert_eq!(orders.as_array().unwrap().len(), 1, "{found}");
        assert_eq!(orders[0]["planId"], max);
        let none = json(
            app.get_as(&admin.token, "/api/admin/orders?q=100%25_off")
                .await,
        )
        .await;
        let total = none
            .get("total")
            .or_else(|| none["meta"].get("total"))
            .cloned();
        assert_eq!(total, Some(json!(0)), "wildcards are literal");
    }
}

#[tokio::test]
async fn cors_echoes_the_panel_origin_with_credentials_and_its_headers() {
    for (db, profile) in cases() {
        let app = spawn(db, profile).await;
        let preflight = app
            .client
            .request(reqwest::Method::OPTIONS, app.url("/api/orders"))
            .header("origin", "https://panel.example")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type, accept, x-requested-with, x-csrf-token",
            )
            .send()
            .await
            .unwrap();
        assert!(preflight.status().is_success(), "{}", preflight.status());
        let headers = preflight.headers();
        assert_eq!(
            headers["access-control-allow-origin"],
            "https://panel.example"
        );
        assert_eq!(headers["access-control-allow-credentials"], "true");
        let allowed = headers["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_lowercase();
        for header in [
            "authorization",
            "content-type",
            "accept",
            "x-requested-with",
            "x-csrf-token",
        ] {
            assert!(allowed.contains(header), "{header} in {allowed}");
        }
        let other = app
            .client
            .get(app.url("/api/plans"))
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        assert!(other.headers().get("access-control-allow-origin").is_none());
    }
}

#[tokio::test]
async fn the_openapi_document_lists_every_status_an_operation_can_answer() {
    let app = spawn(TestDatabase::sqlite(), ApiProfile::Seed).await;
    let doc = json(app.get("/api/openapi.json").await).await;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(responses) = operation.get("responses").and_then(Value::as_object) else {
                continue;
            };
            for status in ["400", "413", "415", "429", "500", "503"] {
                assert!(
                    responses.contains_key(status),
                    "{method} {path} lacks {status}"
                );
            }
            if path.contains('{') {
                assert!(responses.contains_key("404"), "{method} {path} lacks 404");
            }
            if path.starts_with("/api/admin") {
                assert!(
                    responses.contains_key("401") && responses.contains_key("403"),
                    "{method} {path}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} operations");
}

#[tokio::test]
async fn an_order_is_cancelled_with_no_body_an_empty_body_or_an_empty_object() {
    for (db, profile) in cases() {
        let app = spawn(db, profile).await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let customer = app.seed_user("customer@example.com", "user").await;
        let pro = plan(&app, &admin.token, "Pro", "9.99", false).await;
        for (content_type, body) in [
            (None, None),
            (None, Some("")),
            (Some("application/json"), Some("")),
            (Some("application/json"), Some("{}")),
            (None, Some("{}")),
        ] {
            let placed = app
                .post_as(&customer.token, "/api/orders", &json!({"planId": pro}))
                .await;
            let placed = json(placed).await;
            let id = placed.get("order").unwrap_or(&placed)["id"]
                .as_i64()
                .unwrap();
            let mut request = app
                .client
                .post(app.url(&format!("/api/orders/{id}/cancel")))
                .bearer_auth(&customer.token);
            if let Some(content_type) = content_type {
                request = request.header("content-type", content_type);
            }
            if let Some(body) = body {
                request = request.body(body);
            }
            let response = request.send().await.unwrap();
            assert_eq!(
                response.status(),
                StatusCode::OK,
                "{content_type:?} {body:?}"
            );
            assert_eq!(json(response).await["status"], "cancelled");
        }
    }
}
