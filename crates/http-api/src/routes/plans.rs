//! Panel dialect: the public plan catalogue.

use actix_web::http::header::ContentType;
use actix_web::web::Bytes;
use actix_web::{web, HttpResponse};
use tariff_domain::PlanId;

use crate::auth::MaybeAuthenticated;
use crate::dto::plan::PlanJson;
use crate::error::ApiError;
use crate::routes::path_id;
use crate::state::ApiState;

/// Public plans (hidden ones left out), price ascending, ties by id.
#[utoipa::path(
    get, path = "/api/plans", tag = "plans",
    responses((status = 200, description = "Visible plans, cheapest first", body = [PlanJson]))
)]
pub async fn list_plans(state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let stamp = state.catalogue.stamp();
    let body = match state.plan_list_cache.get(&(), stamp) {
        Some(body) => body,
        None => {
            let plans = state.catalogue.list_public().await?;
            let dto: Vec<PlanJson> = plans
                .iter()
                .map(|plan| PlanJson::render(plan, state.profile))
                .collect();
            let body = Bytes::from(serde_json::to_vec(&dto).map_err(|e| ApiError::internal(&e))?);
            state.plan_list_cache.put((), stamp, body.clone());
            body
        }
    };
    Ok(HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(body))
}

/// One visible plan. A hidden plan is answered to administrators and to accounts that
/// hold or held an order for it (the caller's own or a managed organisation's).
#[utoipa::path(
    get, path = "/api/plans/{id}", tag = "plans",
    params(("id" = i64, Path, description = "Plan id")),
    responses(
        (status = 200, body = PlanJson),
        (status = 400, description = "Non-numeric id", body = crate::error::ErrorBody),
        (status = 404, description = "No such visible plan", body = crate::error::ErrorBody)
    )
)]
pub async fn get_plan(
    state: web::Data<ApiState>,
    MaybeAuthenticated(caller): MaybeAuthenticated,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(id.into_inner(), PlanId::new, "Plan")?;
    let plan = state.catalogue.get(id, true).await?;
    if plan.hidden() {
        let allowed = match caller {
            Some(caller) => state.orders.may_view_hidden_plan(caller, id).await?,
            None => false,
        };
        if !allowed {
            return Err(ApiError::not_found(format!("Plan {id} does not exist.")));
        }
    }
    Ok(HttpResponse::Ok().json(PlanJson::render(&plan, state.profile)))
}
