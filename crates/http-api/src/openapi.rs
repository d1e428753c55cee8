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
    )),
    modifiers(&SecuritySchemes),
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

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations", responses((status = 200, description = "OpenAPI 3 document")))]
pub async fn openapi_json() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok().json(ApiDoc::openapi())
}
