//! Admin: the audit log of administrative writes.

use actix_web::{web, HttpResponse};

use crate::auth::Admin;
use crate::dto::audit::{AuditEntryJson, AuditSearch};
use crate::error::ApiError;
use crate::pagination::{PageParams, PageQuery, Paginated};
use crate::state::ApiState;

/// Recorded changes, newest first, paginated (the shared envelope), optionally filtered
/// by target and actor. Every admin write is recorded in the transaction that made it.
#[utoipa::path(
    get, path = "/api/admin/audit", tag = "admin",
    params(PageParams, AuditSearch),
    responses(
        (status = 200, description = "One page of audit rows, newest first", body = Paginated<AuditEntryJson>),
        (status = 400, description = "Invalid page, per_page, targetKind, targetId or actorId", body = crate::error::ErrorBody),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
        (status = 403, description = "Not an admin", body = crate::error::ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn list_audit(
    state: web::Data<ApiState>,
    _admin: Admin,
    pages: PageQuery,
    search: web::Query<AuditSearch>,
) -> Result<HttpResponse, ApiError> {
    let pages = pages.validate()?;
    let filter = search.filter()?;
    let page = state.audit.list(filter, pages.request()).await?;
    Ok(HttpResponse::Ok().json(pages.envelope(page, AuditEntryJson::from)))
}
