//! Drives Tariff exactly as the EcliPanel frontend does, with `api.profile = "eclipanel"`
//! and panel sign-in against a fake panel: the same paths, bodies (the fixtures) and
//! headers (`apiFetch`: the panel's stale token as Bearer, the `token` cookie,
//! `x-csrf-token` on writes, JSON Content-Type only with a body), and it checks exactly
//! the response fields the frontend reads. The order follows a session of an operator
//! and a customer (docs/ECLIPANEL.md lists the calls).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tariff_app::settings::ApiProfile;
use tariff_tests::fake_panel::FakePanel;
use tariff_tests::{backends, frontend_request, spawn_app_with, TestApp};

/// One browser of the panel: its localStorage token (unknown to Tariff) and cookie.
struct Browser<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    local_storage_token: &'static str,
    cookie: &'static str,
}

impl Browser<'_> {
    /// `apiFetch(path, {method, body})`: the JSON answer, or panic with the status.
    async fn api_fetch(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let (status, value) = self.api_fetch_status(method, path, body).await;
        assert!(status.is_success(), "{method} {path}: {status} {value}");
        value
    }

    async fn api_fetch_status(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .client
            .request(method.clone(), self.app.url(path))
            .header(
                "authorization",
                format!("Bearer {}", self.local_storage_token),
            )
            .header("cookie", format!("token={}", self.cookie));
        if method != Method::GET {
            request = request.header("x-csrf-token", "csrf-1");
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A fixture request, sent as the frontend sends it.
    async fn replay(&self, name: &str, values: &[(&str, i64)]) -> Value {
        let request = frontend_request(name, values);
        self.api_fetch(&request.method, &request.path, request.body.as_ref())
            .await
    }
}

#[tokio::test]
async fn the_eclipanel_frontend_works_against_tariff_unchanged() {
    for db in backends() {
        let panel = FakePanel::start().await;
        let url = panel.session_url.clone();
        let app = spawn_app_with(db, move |s| {
            s.api.profile = ApiProfile::Eclipanel;
            s.auth.panel.session_url = Some(url);
        })
        .await;
        panel.sign_in("cookie-admin", 1, "ops@host.example", "rootAdmin");
        panel.sign_in("cookie-ada", 42, "ada@host.example", "user");
        let admin = Browser {
            app: &app,
            client: reqwest::Client::new(),
            local_storage_token: "panel-jwt-admin",
            cookie: "cookie-admin",
        };
        let ada = Browser {
            app: &app,
            client: reqwest::Client::new(),
            local_storage_token: "panel-jwt-ada",
            cookie: "cookie-ada",
        };

        // Admin, plans tab: `Array.isArray(data)`.
        let plans = admin.api_fetch("GET", "/api/admin/plans", None).await;
        assert!(plans.is_array());
        // savePlan: `created.plan ?? created`, then `updated.plan ?? updated`.
        let created = admin.replay("admin_plan_create", &[]).await;
        let student = created["plan"].clone();
        assert_eq!(student["type"], "educational");
        assert!(
            student["databases"].is_null(),
            "empty field = unlimited = null"
        );
        let student_id = student["id"].as_i64().unwrap();
        let partner = admin.replay("admin_plan_create_paid_hidden", &[]).await["plan"].clone();
        assert_eq!(partner["hiddenFromBilling"], true);
        let partner_id = partner["id"].as_i64().unwrap();
        let updated = admin
            .replay("admin_plan_edit", &[("planId", student_id)])
            .await;
        // openEditPlan reads these back.
        let edited = &updated["plan"];
        assert_eq!(edited["features"]["list"], json!(["2 servers"]));
        assert!(edited["memory"].is_null());
        assert!(edited["emailSendDailyLimit"].is_null());
        assert_eq!(edited["portCount"], 1);
        assert_eq!(edited["isDefault"], false);
        let pro = admin
            .api_fetch(
                "POST",
                "/api/admin/plans",
                Some(&json!({"name": "Pro", "type": "paid", "price": 9.99, "memory": 8192, "disk": 51200,
                    "cpu": 400, "serverLimit": 5, "databases": null, "backups": null,
                    "emailSendDailyLimit": null, "emailSendQueueLimit": null, "portCount": 1,
                    "tunnelPortCount": 10, "isDefault": false, "hiddenFromBilling": false,
                    "features": {"list": ["5 servers"]}})),
            )
            .await["plan"]
            .clone();
        let pro_id = pro["id"].as_i64().unwrap();

        // Admin applies the hidden partner plan to Ada (a panel user Tariff learns of here).
        admin
            .replay(
                "admin_apply_plan",
                &[("userId", 42), ("planId", partner_id)],
            )
            .await;
        // The user dialog: `data.plans` (array of {plan, order}).
        let current = admin
            .api_fetch("GET", "/api/admin/users/42/current-plan", None)
            .await;
        let current_plans = current["plans"].as_array().unwrap();
        assert_eq!(current_plans.len(), 1);
        assert_eq!(current_plans[0]["plan"]["name"], "Partner");
        assert_eq!(current_plans[0]["order"]["status"], "active");

        // Ada's billing page: plans, then orders sorted by `createdAt`, active ones
        // resolved through `/api/plans/:id` (the hidden plan too).
        let public = ada.api_fetch("GET", "/api/plans", None).await;
        let public = public.as_array().unwrap();
        assert!(
            public.iter().any(|p| p["type"] == "educational"),
            "student-benefits page"
        );
        assert!(public.iter().all(|p| p["hiddenFromBilling"] == false));
        let card = public.iter().find(|p| p["id"] == pro_id).unwrap();
        assert_eq!(card["features"]["list"], json!(["5 servers"]));
        let orders = ada.api_fetch("GET", "/api/orders", None).await;
        let orders = orders.as_array().unwrap();
        assert!(orders.iter().all(|o| o["createdAt"].is_string()));
        let active: Vec<&Value> = orders
            .iter()
            .filter(|o| o["status"] == "active" && o["planId"].is_i64())
            .collect();
        assert_eq!(active.len(), 1);
        let plan = ada
            .api_fetch("GET", &format!("/api/plans/{}", active[0]["planId"]), None)
            .await;
        assert_eq!(
            plan["name"], "Partner",
            "an applied hidden plan stays on the billing page"
        );

        // Ada switches to Pro: `res.order.id`, then the checkout page reads the order.
        let placed = ada
            .replay("customer_switch_plan", &[("planId", pro_id)])
            .await;
        assert_eq!(placed["success"], true);
        assert_eq!(placed["autoActivated"], false);
        let order_id = placed["order"]["id"].as_i64().unwrap();
        let order = ada
            .api_fetch("GET", &format!("/api/orders/{order_id}"), None)
            .await;
        assert_eq!(order["status"], "pending");
        assert_eq!(
            order["plan"]["name"], "Pro",
            "checkout reads orderData.plan"
        );
        assert_eq!(order["amount"].to_string(), "9.99");
        assert!(order["description"].is_string() && order["createdAt"].is_string());
        // The invoice download: `fetch(..., {credentials: 'include'})`, cookie only.
        let invoice = reqwest::Client::new()
            .get(app.url(&format!("/api/orders/{order_id}/invoice")))
            .header("cookie", "token=cookie-ada")
            .send()
            .await
            .unwrap();
        assert_eq!(invoice.status(), StatusCode::OK);
        assert_eq!(invoice.headers()["content-type"], "application/pdf");
        // She changes her mind: cancel with `{}`.
        let cancelled = ada
            .replay("customer_cancel_order", &[("orderId", order_id)])
            .await;
        assert_eq!(cancelled["status"], "cancelled");

        // Admin orders tab: `res.orders`, `res.total`, `res.page`.
        let list = admin
            .api_fetch("GET", "/api/admin/orders?page=1&q=", None)
            .await;
        assert!(list["orders"].is_array());
        assert_eq!(list["total"], 2);
        assert_eq!(list["page"], 1);

        // An organisation's billing page: `?orgId=` lists only its orders.
        let org = ada
            .api_fetch(
                "POST",
                "/api/organisations",
                Some(&json!({"name": "Ada Co"})),
            )
            .await;
        let org_id = org["id"].as_i64().unwrap();
        admin
            .replay(
                "admin_apply_plan_lifetime_org",
                &[("userId", 42), ("planId", student_id), ("orgId", org_id)],
            )
            .await;
        let org_orders = ada
            .api_fetch("GET", &format!("/api/orders?orgId={org_id}"), None)
            .await;
        let org_orders = org_orders.as_array().unwrap();
        assert_eq!(org_orders.len(), 1);
        assert!(org_orders[0]["expiresAt"].is_null(), "lifetime");

        // The DNS add-on stays in the panel: Tariff refuses an order without a plan.
        let request = frontend_request("org_dns_addon", &[("orgId", org_id)]);
        let (status, body) = ada
            .api_fetch_status(&request.method, &request.path, request.body.as_ref())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["message"].is_string(), "apiFetch shows json.message");

        // Admin cancels Ada's plans (POST without a body): `success` either way.
        let cancel = admin
            .api_fetch("POST", "/api/admin/users/42/cancel-plan", None)
            .await;
        assert_eq!(cancel["success"], true);
        let again = admin
            .api_fetch("POST", "/api/admin/users/42/cancel-plan", None)
            .await;
        assert_eq!(again["success"], true);
        let current = admin
            .api_fetch("GET", "/api/admin/users/42/current-plan", None)
            .await;
        assert_eq!(current["plans"], json!([]));

        // A customer is not an admin.
        let (status, _) = ada.api_fetch_status("GET", "/api/admin/plans", None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(panel.requests() >= 2);
    }
}
