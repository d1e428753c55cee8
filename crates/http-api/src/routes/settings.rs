//! `GET|PUT /api/admin/settings`: the billing switch. Never behind the switch itself.

use actix_web::{web, HttpResponse};

use crate::auth::Admin;
use crate::dto::settings::{SettingsInput, SettingsJson};
use crate::error::ApiError;
use crate::json::Json;
use crate::state::ApiState;

/// The stored settings.
#[utoipa::path(
    get, path = "/api/admin/settings", tag = "admin",
    responses(
        (status = 200, body = SettingsJson),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody)
    )
)]
pub async fn get_settings(
    state: web::Data<ApiState>,
    Admin(_admin): Admin,
) -> Result<HttpResponse, ApiError> {
    let billing_enabled = state.settings.billing_enabled().await?;
    Ok(HttpResponse::Ok().json(SettingsJson { billing_enabled }))
}

/// Changes settings. Every instance follows within two seconds (this one at once).
#[utoipa::path(
    put, path = "/api/admin/settings", tag = "admin",
    request_body = SettingsInput,
    responses(
        (status = 200, description = "The settings after the change", body = SettingsJson),
        (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody)
    )
)]
pub async fn put_settings(
    state: web::Data<ApiState>,
    admin: Admin,
    body: Json<SettingsInput>,
) -> Result<HttpResponse, ApiError> {
    let billing_enabled = match body.into_inner().billing_enabled {
        Some(enabled) => {
            state
                .settings
                .set_billing_enabled(enabled, admin.actor())
                .await?
        }
        None => state.settings.billing_enabled().await?,
    };
    Ok(HttpResponse::Ok().json(SettingsJson { billing_enabled }))
}
