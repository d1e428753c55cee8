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
        openapi_json,
    ),
    components(schemas(crate::error::ErrorBody, crate::dto::plan::PlanJson, crate::dto::plan::PlanInput)),
    tags(
        (name = "plans", description = "Plan catalogue (panel dialect)"),
        (name = "operations", description = "Health, readiness, metrics, this document"),
    )
)]
pub struct ApiDoc;

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations", responses((status = 200, description = "OpenAPI 3 document")))]
pub async fn openapi_json() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok().json(ApiDoc::openapi())
}
