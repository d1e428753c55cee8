//! Route handlers, one module per area. Handlers are thin: extract, convert to the
//! domain, call a service, convert to a DTO.

pub mod admin_orders;
pub mod admin_plans;
pub mod admin_users;
pub mod audit;
pub mod auth;
pub mod billing;
pub mod credit_notes;
pub mod health;
pub mod orders;
pub mod organisations;
pub mod packages;
pub mod payments;
pub mod plan_changes;
pub mod plans;
pub mod quota;
pub mod settings;
pub mod tokens;
pub mod webhooks;

use crate::error::ApiError;

/// A path id that is numeric but not positive names nothing: 404.
pub fn path_id<T>(raw: i64, make: fn(i64) -> Option<T>, what: &str) -> Result<T, ApiError> {
    make(raw).ok_or_else(|| ApiError::not_found(format!("{what} {raw} does not exist.")))
}

/// Panel sign-in: users are the panel's, so a user id an administrator's call names
/// exists at once (created on first sight). Without panel sign-in, nothing happens.
pub async fn known_user(
    state: &crate::state::ApiState,
    user: tariff_domain::UserId,
) -> Result<(), ApiError> {
    if state.panel_cookie.is_some() {
        state.accounts.ensure_panel_user(user, None).await?;
    }
    Ok(())
}

/// The organisation of path id `raw` when the caller may read its account (quota,
/// credit): a member, or an admin. Anyone else gets the same 404 as for an organisation
/// that does not exist, so ids cannot be probed.
pub async fn readable_org(
    state: &crate::state::ApiState,
    caller: &tariff_domain::Caller,
    raw: i64,
) -> Result<tariff_domain::OrgId, ApiError> {
    let org_id = path_id(raw, tariff_domain::OrgId::new, "Organisation")?;
    if !caller.is_admin()
        && state
            .memberships
            .role_in(org_id, caller.user_id())
            .await?
            .is_none()
    {
        return Err(ApiError::not_found(format!(
            "Organisation {raw} does not exist."
        )));
    }
    Ok(org_id)
}
