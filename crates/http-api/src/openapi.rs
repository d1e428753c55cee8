//! The OpenAPI document, generated from the handlers' annotations so it cannot drift.

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "Tariff", description = "Billing, plan and quota service for hosting control panels."),
    paths(
        crate::routes::health::healthz,
        crate::routes::health::readyz,
        crate::routes::health::metrics,
        crate::routes::plans::list_plans,
        crate::routes::plans::get_plan,
        crate::routes::packages::list_packages,
        crate::routes::packages::get_package,
        crate::routes::quota::user_quota,
        crate::routes::quota::org_quota,
        crate::routes::quota::set_user_limits,
        crate::routes::quota::set_org_limits,
        crate::routes::quota::change_user_usage,
        crate::routes::quota::change_org_usage,
        crate::routes::quota::check_user_usage,
        crate::routes::quota::check_org_usage,
        crate::routes::auth::login,
        crate::routes::auth::logout,
        crate::routes::auth::me,
        crate::routes::tokens::create_token,
        crate::routes::tokens::list_tokens,
        crate::routes::tokens::revoke_token,
        crate::routes::organisations::create_organisation,
        crate::routes::organisations::get_organisation,
        crate::routes::organisations::set_member,
        crate::routes::organisations::remove_member,
        crate::routes::admin_users::create_user,
        crate::routes::admin_users::list_users,
        crate::routes::admin_users::get_user,
        crate::routes::admin_users::update_user,
        crate::routes::admin_plans::list_plans,
        crate::routes::admin_plans::create_plan,
        crate::routes::admin_plans::update_plan,
        crate::routes::admin_plans::delete_plan,
        crate::routes::orders::list_orders,
        crate::routes::orders::get_order,
        crate::routes::orders::place_order,
        crate::routes::orders::cancel_order,
        crate::routes::orders::get_invoice,
        crate::routes::plan_changes::preview_order,
        crate::routes::plan_changes::drop_scheduled_change,
        crate::routes::admin_orders::apply_plan,
        crate::routes::admin_orders::cancel_plan,
        crate::routes::admin_orders::current_plan,
        crate::routes::admin_orders::mark_paid,
        crate::routes::admin_orders::list_orders,
        crate::routes::settings::get_settings,
        crate::routes::settings::put_settings,
        crate::routes::audit::list_audit,
        crate::routes::webhooks::create_webhook,
        crate::routes::webhooks::list_webhooks,
        crate::routes::webhooks::get_webhook,
        crate::routes::webhooks::update_webhook,
        crate::routes::webhooks::delete_webhook,
        crate::routes::webhooks::rotate_secret,
        crate::routes::webhooks::list_deliveries,
        crate::routes::webhooks::redeliver,
        crate::routes::billing::user_credit,
        crate::routes::billing::org_credit,
        crate::routes::billing::adjust_user_credit,
        crate::routes::billing::adjust_org_credit,
        crate::routes::billing::create_coupon,
        crate::routes::billing::list_coupons,
        crate::routes::billing::get_coupon,
        crate::routes::billing::deactivate_coupon,
        crate::routes::credit_notes::refund_order,
        crate::routes::credit_notes::list_credit_notes,
        crate::routes::credit_notes::credit_note_pdf,
        crate::routes::payments::checkout,
        crate::routes::payments::list_payments,
        crate::routes::payments::stripe_webhook,
        openapi_json,
    ),
    components(schemas(
        crate::error::ErrorBody,
        crate::dto::plan::PlanJson,
        crate::dto::plan::PlanInput,
        crate::dto::package::PackageJson,
        crate::dto::package::PackageEnvelope,
        crate::pagination::PageLinks,
        crate::pagination::PageMeta,
        crate::dto::quota::QuotaJson,
        crate::dto::quota::EffectiveLimitsJson,
        crate::dto::quota::LimitOverridesInput,
        crate::dto::quota::UsageInput,
        crate::dto::quota::UsageLevelJson,
        crate::dto::quota::UsageCheckJson,
        crate::dto::account::UserJson,
        crate::dto::account::LoginRequest,
        crate::dto::account::LoginResponse,
        crate::dto::account::CreatedTokenJson,
        crate::dto::account::TokenJson,
        crate::dto::account::OrganisationJson,
        crate::dto::account::MemberJson,
        crate::dto::order::OrderJson,
        crate::dto::order::AdminOrderJson,
        crate::dto::order::PlaceOrderInput,
        crate::dto::order::ApplyPlanInput,
        crate::dto::order::MarkPaidInput,
        crate::dto::order::CurrentPlanJson,
        crate::dto::order::PlanOrderJson,
        crate::dto::order::OrderWithPlanJson,
        crate::dto::order::PlacedOrderJson,
        crate::dto::order::AdminOrderPageJson,
        crate::dto::order::ActivateMode,
        crate::dto::order::BillingType,
        crate::dto::order::ScheduledChangeJson,
        crate::dto::plan_order::OrderPreviewJson,
        crate::dto::plan_order::PreviewLineJson,
        crate::dto::plan::PlanOutcomeJson,
        crate::dto::settings::SettingsJson,
        crate::dto::settings::SettingsInput,
        crate::dto::audit::AuditEntryJson,
        crate::dto::webhook::WebhookInput,
        crate::dto::webhook::WebhookJson,
        crate::dto::webhook::WebhookWithSecretJson,
        crate::dto::webhook::WebhookDeliveryJson,
        crate::dto::billing::CreditJson,
        crate::dto::billing::BalanceJson,
        crate::dto::billing::CreditEntryJson,
        crate::dto::billing::CreditAdjustInput,
        crate::dto::billing::CreditAdjustedJson,
        crate::dto::billing::CouponJson,
        crate::dto::billing::CouponInput,
        crate::dto::credit_note::RefundInput,
        crate::dto::credit_note::RefundTo,
        crate::dto::credit_note::RefundJson,
        crate::dto::credit_note::CreditNoteBody,
        crate::dto::payment::CheckoutJson,
        crate::dto::payment::PaymentJson,
        crate::dto::payment::WebhookReceiptJson,
    )),
    modifiers(&SecuritySchemes, &CommonResponses),
    tags(
        (name = "plans", description = "Plan catalogue (panel dialect)"),
        (name = "packages", description = "Plan catalogue (packages dialect, paginated)"),
        (name = "quota", description = "Limits, overrides and the usage ledger (panel dialect)"),
        (name = "auth", description = "Sessions: log in, log out, the signed-in user"),
        (name = "tokens", description = "The caller's API tokens"),
        (name = "organisations", description = "Organisations and memberships"),
        (name = "admin", description = "Administration (role admin only)"),
        (name = "billing", description = "Account credit and coupons"),
        (name = "orders", description = "A customer's orders (panel dialect)"),
        (name = "payments", description = "Checkout through the payment gateway, payment records, the gateway's webhook"),
        (name = "operations", description = "Health, readiness, metrics, this document"),
    )
)]
pub struct ApiDoc;

/// The two credentials every authenticated endpoint accepts.
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token: `Authorization: Bearer <token>`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "session",
                "The session cookie set by `POST /api/auth/login`",
            ))),
        );
    }
}

/// Operations anyone may call without credentials: they never answer 401 or 403.
const PUBLIC_PATHS: [&str; 8] = [
    "/healthz",
    "/api/webhooks/stripe",
    "/readyz",
    "/metrics",
    "/api/openapi.json",
    "/api/plans",
    "/api/plans/{id}",
    "/api/auth/login",
];

/// The one place that lists the statuses every operation can answer besides its own:
/// 400 (a malformed query, body, or non-numeric path id), 408 (a body that did not
/// arrive in time), 413 (a body over 64 KiB), 415 (a body that is not JSON), 429 (rate
/// limited), 500, 503 (`feature_disabled`, `database_unavailable`,
/// `upstream_unavailable`); 401 and 403 for operations that need a caller; 404 for
/// operations with a path id. An operation's own description of a status is kept.
struct CommonResponses;

impl utoipa::Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{Ref, RefOr, ResponseBuilder};
        let error = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        utoipa::openapi::ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("ErrorBody")))
                            .build(),
                    )
                    .build(),
            )
        };
        let common: [(&str, &str); 7] = [
            ("400", "validation_failed: a malformed query, body or path id"),
            ("408", "request_timeout: the body did not arrive in time"),
            ("413", "payload_too_large: the body is over 64 KiB"),
            ("415", "unsupported_media_type: the body is not JSON"),
            ("429", "rate_limited (with Retry-After)"),
            ("500", "internal: an unexpected failure (no details)"),
            (
                "503",
                "feature_disabled (billing is switched off, or payments are not configured), database_unavailable or upstream_unavailable (the sign-in panel, the payment gateway)",
            ),
        ];
        for (path, item) in openapi.paths.paths.iter_mut() {
            let authenticated = !PUBLIC_PATHS.contains(&path.as_str());
            let has_path_id = path.contains('{');
            let operations = [
                item.get.as_mut(),
                item.put.as_mut(),
                item.post.as_mut(),
                item.delete.as_mut(),
                item.patch.as_mut(),
            ];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                let mut add = |status: &str, description: &str| {
                    responses
                        .entry(status.to_owned())
                        .or_insert_with(|| error(description));
                };
                for (status, description) in common {
                    add(status, description);
                }
                if authenticated {
                    add("401", "unauthorized: no valid credentials");
                    add("403", "forbidden: not allowed for this caller");
                }
                if has_path_id {
                    add("404", "not_found");
                }
            }
        }
    }
}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations", responses((status = 200, description = "OpenAPI 3 document")))]
pub async fn openapi_json() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok().json(ApiDoc::openapi())
}
