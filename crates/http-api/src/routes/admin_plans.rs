//! Admin: the plan catalogue, hidden plans included.

use actix_web::{web, HttpResponse};
use tariff_domain::PlanId;

use crate::auth::Admin;
use crate::dto::plan::{PlanInput, PlanJson, PlanOutcomeJson};
use crate::error::ApiError;
use crate::json::Json;
use crate::routes::path_id;
use crate::state::ApiState;

/// Every plan, hidden ones included, cheapest first.
#[utoipa::path(
    get, path = "/api/admin/plans", tag = "admin",
    responses(
        (status = 200, body = [PlanJson]),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
        (status = 403, description = "Not an admin", body = crate::error::ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn list_plans(
    state: web::Data<ApiState>,
    _admin: Admin,
) -> Result<HttpResponse, ApiError> {
    let plans = state.catalogue.list(true).await?;
    let body: Vec<PlanJson> = plans
        .iter()
        .map(|plan| PlanJson::render(plan, state.profile))
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

/// Creates a plan; fields not given take their defaults (price 0, limits unlimited).
#[utoipa::path(
    post, path = "/api/admin/plans", tag = "admin",
    request_body = PlanInput,
    responses(
        (status = 201, description = "The plan; `{\"success\":true,\"plan\":{...}}` in the eclipanel profile", body = PlanJson),
        (status = 400, description = "Invalid field (named in `field`)", body = crate::error::ErrorBody),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
        (status = 403, description = "Not an admin", body = crate::error::ErrorBody),
        (status = 409, description = "Name taken", body = crate::error::ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn create_plan(
    state: web::Data<ApiState>,
    admin: Admin,
    body: Json<PlanInput>,
) -> Result<HttpResponse, ApiError> {
    let input = body.into_inner();
    if input.name.is_none() {
        return Err(ApiError::validation("name", "name is required."));
    }
    let plan = state
        .catalogue
        .create(input.into_draft(), admin.actor())
        .await?;
    let json = PlanJson::render(&plan, state.profile);
    if state.profile.is_eclipanel() {
        return Ok(HttpResponse::Created().json(PlanOutcomeJson::new(json)));
    }
    Ok(HttpResponse::Created().json(json))
}

/// Changes the named fields of a plan; the result is validated as a whole.
#[utoipa::path(
    put, path = "/api/admin/plans/{id}", tag = "admin",
    params(("id" = i64, Path, description = "Plan id")),
    request_body = PlanInput,
    responses(
        (status = 200, description = "The plan; `{\"success\":true,\"plan\":{...}}` in the eclipanel profile", body = PlanJson),
        (status = 400, description = "Invalid field", body = crate::error::ErrorBody),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
        (status = 403, description = "Not an admin", body = crate::error::ErrorBody),
        (status = 404, description = "No such plan", body = crate::error::ErrorBody),
        (status = 409, description = "Name taken", body = crate::error::ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn update_plan(
    state: web::Data<ApiState>,
    admin: Admin,
    id: web::Path<i64>,
    body: Json<PlanInput>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(id.into_inner(), PlanId::new, "Plan")?;
    let plan = state
        .catalogue
        .update(id, body.into_inner().into_patch(), admin.actor())
        .await?;
    let json = PlanJson::render(&plan, state.profile);
    if state.profile.is_eclipanel() {
        return Ok(HttpResponse::Ok().json(PlanOutcomeJson::new(json)));
    }
    Ok(HttpResponse::Ok().json(json))
}

/// Deletes a plan no order references; a plan that was sold is retired by hiding it.
#[utoipa::path(
    delete, path = "/api/admin/plans/{id}", tag = "admin",
    params(("id" = i64, Path, description = "Plan id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
        (status = 403, description = "Not an admin", body = crate::error::ErrorBody),
        (status = 404, description = "No such plan", body = crate::error::ErrorBody),
        (status = 409, description = "Orders reference the plan; hide it instead", body = crate::error::ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn delete_plan(
    state: web::Data<ApiState>,
    admin: Admin,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(id.into_inner(), PlanId::new, "Plan")?;
    state.catalogue.delete(id, admin.actor()).await?;
    Ok(HttpResponse::NoContent().finish())
}
