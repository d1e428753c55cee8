//! Organisations and their members. Non-members are told an organisation does not
//! exist (404); members without the role for a change get 403.

use actix_web::{web, HttpResponse};
use tariff_domain::identity::OrgRole;
use tariff_domain::{OrgId, UserId};

use crate::auth::Authenticated;
use crate::dto::account::{
    CreateOrganisationRequest, MemberJson, OrganisationJson, SetMemberRequest,
};
use crate::error::ApiError;
use crate::json::Json;
use crate::routes::path_id;
use crate::state::ApiState;

/// Creates an organisation; the caller becomes its owner.
#[utoipa::path(
    post, path = "/api/organisations", tag = "organisations",
    request_body = CreateOrganisationRequest,
    responses(
        (status = 201, body = OrganisationJson),
        (status = 400, description = "Invalid name or billing details", body = crate::error::ErrorBody),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn create_organisation(
    state: web::Data<ApiState>,
    Authenticated(caller): Authenticated,
    body: Json<CreateOrganisationRequest>,
) -> Result<HttpResponse, ApiError> {
    let name = body
        .name
        .as_deref()
        .ok_or_else(|| ApiError::validation("name", "name is required."))?;
    let view = state
        .organisations
        .create(caller, name, body.billing())
        .await?;
    Ok(HttpResponse::Created().json(OrganisationJson::from(&view)))
}

/// An organisation with its members: for its members and platform admins.
#[utoipa::path(
    get, path = "/api/organisations/{id}", tag = "organisations",
    params(("id" = i64, Path, description = "Organisation id")),
    responses(
        (status = 200, body = OrganisationJson),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
        (status = 404, description = "No such organisation, or not a member", body = crate::error::ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn get_organisation(
    state: web::Data<ApiState>,
    Authenticated(caller): Authenticated,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(id.into_inner(), OrgId::new, "Organisation")?;
    let view = state.organisations.get(caller, id).await?;
    Ok(HttpResponse::Ok().json(OrganisationJson::from(&view)))
}

/// Adds a member or changes a member's role (owners and admins; only an owner may
/// grant or change the owner role). 201 when added, 200 when the role changed.
#[utoipa::path(
    post, path = "/api/organisations/{id}/members", tag = "organisations",
    params(("id" = i64, Path, description = "Organisation id")),
    request_body = SetMemberRequest,
    responses(
        (status = 201, description = "Added", body = MemberJson),
        (status = 200, description = "Role changed", body = MemberJson),
        (status = 400, description = "Unknown role", body = crate::error::ErrorBody),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
        (status = 403, description = "A member without the role for this change", body = crate::error::ErrorBody),
        (status = 404, description = "No such organisation (or not a member), or no such user", body = crate::error::ErrorBody),
        (status = 409, description = "Would leave the organisation without an owner", body = crate::error::ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn set_member(
    state: web::Data<ApiState>,
    Authenticated(caller): Authenticated,
    id: web::Path<i64>,
    body: Json<SetMemberRequest>,
) -> Result<HttpResponse, ApiError> {
    let org = path_id(id.into_inner(), OrgId::new, "Organisation")?;
    let role: OrgRole = body
        .role
        .parse()
        .map_err(|_| ApiError::validation("role", "role must be member, admin or owner."))?;
    let user = UserId::new(body.user_id)
        .ok_or_else(|| ApiError::not_found(format!("User {} does not exist.", body.user_id)))?;
    let (member, added) = state
        .organisations
        .set_member(caller, org, user, role)
        .await?;
    let mut response = if added {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(response.json(MemberJson::from(&member)))
}

/// Removes a member (owners and admins; only an owner removes an owner; anyone may
/// remove themselves). The last owner cannot leave: 409.
#[utoipa::path(
    delete, path = "/api/organisations/{id}/members/{user_id}", tag = "organisations",
    params(
        ("id" = i64, Path, description = "Organisation id"),
        ("user_id" = i64, Path, description = "The member's user id")
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
        (status = 403, description = "A member without the role for this", body = crate::error::ErrorBody),
        (status = 404, description = "No such organisation (or not a member), or the user is not a member", body = crate::error::ErrorBody),
        (status = 409, description = "The last owner", body = crate::error::ErrorBody)
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn remove_member(
    state: web::Data<ApiState>,
    Authenticated(caller): Authenticated,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (org, user) = path.into_inner();
    let org = path_id(org, OrgId::new, "Organisation")?;
    let user = path_id(user, UserId::new, "User")?;
    state.organisations.remove_member(caller, org, user).await?;
    Ok(HttpResponse::NoContent().finish())
}
