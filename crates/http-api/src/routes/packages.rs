//! Packages dialect: the plan catalogue as `seeds/ploi-core-packages-api.txt` serves it,
//! paginated, to authenticated callers (API token or session). Hidden plans are packages
//! only for admins.

use actix_web::http::header::ContentType;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use tariff_domain::PlanId;

use crate::auth::Authenticated;
use crate::dto::package::{PackageEnvelope, PackageJson};
use crate::error::ApiError;
use crate::pagination::{PageParams, PageQuery, Paginated};
use crate::routes::path_id;
use crate::state::ApiState;

/// Packages in id order, in the paginated envelope. Admins also see hidden plans.
#[utoipa::path(
    get, path = "/api/packages", tag = "packages",
    params(PageParams),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "One page of packages, ordered by id", body = Paginated<PackageJson>),
        (status = 400, description = "Invalid `page` or `per_page`", body = crate::error::ErrorBody),
        (status = 401, description = "No valid API token or session", body = crate::error::ErrorBody)
    )
)]
pub async fn list_packages(
    state: web::Data<ApiState>,
    Authenticated(caller): Authenticated,
    query: PageQuery,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let pages = query.validate()?;
    // The body depends only on visibility and the query (links echo it) for a given
    // catalogue stamp, so pages are cached like the public plan list.
    let key = (caller.is_admin(), req.query_string().to_owned());
    let stamp = state.catalogue.stamp();
    let body = match state.package_page_cache.get(&key, stamp) {
        Some(body) => body,
        None => {
            let page = state
                .catalogue
                .page_by_id(caller.is_admin(), pages.request())
                .await?;
            let envelope = pages.envelope(page, PackageJson::from);
            let body =
                Bytes::from(serde_json::to_vec(&envelope).map_err(|e| ApiError::internal(&e))?);
            state.package_page_cache.put(key, stamp, body.clone());
            body
        }
    };
    Ok(HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(body))
}

/// One package as `{"data": {...}}`. A hidden plan is 404 unless the caller is an admin.
#[utoipa::path(
    get, path = "/api/packages/{id}", tag = "packages",
    params(("id" = i64, Path, description = "Package (plan) id")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = PackageEnvelope),
        (status = 400, description = "Non-numeric id", body = crate::error::ErrorBody),
        (status = 401, description = "No valid API token or session", body = crate::error::ErrorBody),
        (status = 404, description = "No such package visible to the caller", body = crate::error::ErrorBody)
    )
)]
pub async fn get_package(
    state: web::Data<ApiState>,
    Authenticated(caller): Authenticated,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(id.into_inner(), PlanId::new, "Package")?;
    let plan = state.catalogue.get(id, caller.is_admin()).await?;
    Ok(HttpResponse::Ok().json(PackageEnvelope {
        data: PackageJson::from(&plan),
    }))
}
