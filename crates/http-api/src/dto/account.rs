//! Accounts and access in the panel dialect (camelCase): users, login, API tokens,
//! organisations. No type here can carry a password hash, a token hash or a session
//! id: the domain types they are built from do not hold them.

use serde::{Deserialize, Serialize};
use tariff_domain::identity::OrgRole;
use tariff_domain::identity::{ApiToken, CreatedToken};
use tariff_domain::organisations::{Member, OrganisationView};
use tariff_domain::{BillingDetails, BillingDraft, BillingPatch, User};
use utoipa::ToSchema;

use super::{nullable, panel_timestamp};

/// A user (CONTRACT.md "Authentication"; fields beyond the seed are additive).
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserJson {
    pub id: i64,
    /// Lower case.
    pub email: String,
    pub name: String,
    /// `user` or `admin`.
    pub role: &'static str,
    pub company: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub city: Option<String>,
    pub postcode: Option<String>,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: Option<String>,
    pub tax_id: Option<String>,
    pub created_at: String,
}

struct BillingFields {
    company: Option<String>,
    address_line1: Option<String>,
    address_line2: Option<String>,
    city: Option<String>,
    postcode: Option<String>,
    country: Option<String>,
    tax_id: Option<String>,
}

fn billing_fields(billing: &BillingDetails) -> BillingFields {
    let own = |v: Option<&str>| v.map(str::to_owned);
    BillingFields {
        company: own(billing.company()),
        address_line1: own(billing.address().line1()),
        address_line2: own(billing.address().line2()),
        city: own(billing.address().city()),
        postcode: own(billing.address().postcode()),
        country: own(billing.address().country_code()),
        tax_id: own(billing.tax_id()),
    }
}

impl From<&User> for UserJson {
    fn from(user: &User) -> Self {
        let b = billing_fields(user.billing());
        UserJson {
            id: user.id().get(),
            email: user.email().as_str().to_owned(),
            name: user.name().to_owned(),
            role: user.role().as_str(),
            company: b.company,
            address_line1: b.address_line1,
            address_line2: b.address_line2,
            city: b.city,
            postcode: b.postcode,
            country: b.country,
            tax_id: b.tax_id,
            created_at: panel_timestamp(user.created_at()),
        }
    }
}

/// `POST /api/auth/login`.
#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// The answer to a login; the session id travels only in `Set-Cookie`.
#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    pub user: UserJson,
}

/// `{"success": true}`.
#[derive(Serialize, ToSchema)]
pub struct SuccessJson {
    pub success: bool,
}

/// `POST /api/tokens`; the name defaults to "API token".
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    pub name: Option<String>,
}

/// A new token: the only time `token` (the secret) is ever shown.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedTokenJson {
    pub id: i64,
    pub name: String,
    /// Send as `Authorization: Bearer <token>`. Store it now: it cannot be shown again.
    pub token: String,
    pub created_at: String,
}

impl From<CreatedToken> for CreatedTokenJson {
    fn from(created: CreatedToken) -> Self {
        CreatedTokenJson {
            id: created.token.id().get(),
            name: created.token.name().to_owned(),
            created_at: panel_timestamp(created.token.created_at()),
            token: created.secret,
        }
    }
}

/// A token in the owner's list: never the secret or its hash.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenJson {
    pub id: i64,
    pub name: String,
    pub created_at: String,
    /// Updated at most once a minute; null when never used.
    pub last_used_at: Option<String>,
}

impl From<&ApiToken> for TokenJson {
    fn from(token: &ApiToken) -> Self {
        TokenJson {
            id: token.id().get(),
            name: token.name().to_owned(),
            created_at: panel_timestamp(token.created_at()),
            last_used_at: token.last_used_at().map(panel_timestamp),
        }
    }
}

/// `POST /api/organisations`: a name and optional billing details.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateOrganisationRequest {
    pub name: Option<String>,
    pub company: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub city: Option<String>,
    pub postcode: Option<String>,
    pub country: Option<String>,
    pub tax_id: Option<String>,
}

impl CreateOrganisationRequest {
    pub fn billing(&self) -> BillingDraft {
        BillingDraft {
            company: self.company.clone(),
            address_line1: self.address_line1.clone(),
            address_line2: self.address_line2.clone(),
            city: self.city.clone(),
            postcode: self.postcode.clone(),
            country: self.country.clone(),
            tax_id: self.tax_id.clone(),
        }
    }
}

/// A member of an organisation.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberJson {
    pub user_id: i64,
    pub email: String,
    pub name: String,
    /// `member`, `admin` or `owner`.
    pub role: &'static str,
    pub joined_at: String,
}

impl From<&Member> for MemberJson {
    fn from(m: &Member) -> Self {
        MemberJson {
            user_id: m.user_id.get(),
            email: m.email.as_str().to_owned(),
            name: m.name.clone(),
            role: m.role.as_str(),
            joined_at: panel_timestamp(m.joined_at),
        }
    }
}

/// An organisation with its members and the caller's own role.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrganisationJson {
    pub id: i64,
    pub name: String,
    pub company: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub city: Option<String>,
    pub postcode: Option<String>,
    pub country: Option<String>,
    pub tax_id: Option<String>,
    pub created_at: String,
    /// The caller's role; null for a platform admin who is not a member.
    pub role: Option<&'static str>,
    pub members: Vec<MemberJson>,
}

impl From<&OrganisationView> for OrganisationJson {
    fn from(view: &OrganisationView) -> Self {
        let org = &view.organisation;
        let b = billing_fields(org.billing());
        OrganisationJson {
            id: org.id().get(),
            name: org.name().to_owned(),
            company: b.company,
            address_line1: b.address_line1,
            address_line2: b.address_line2,
            city: b.city,
            postcode: b.postcode,
            country: b.country,
            tax_id: b.tax_id,
            created_at: panel_timestamp(org.created_at()),
            role: view.caller_role.map(OrgRole::as_str),
            members: view.members.iter().map(MemberJson::from).collect(),
        }
    }
}

/// `POST /api/organisations/:id/members`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetMemberRequest {
    pub user_id: i64,
    /// `member`, `admin` or `owner`.
    pub role: String,
}

/// `POST /api/admin/users`. Only `email` and `name` are required; `role` defaults to
/// `user`; without `password` the user cannot log in until one is set.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateUserRequest {
    pub email: Option<String>,
    pub name: Option<String>,
    pub password: Option<String>,
    pub role: Option<String>,
    pub company: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub city: Option<String>,
    pub postcode: Option<String>,
    pub country: Option<String>,
    pub tax_id: Option<String>,
}

impl CreateUserRequest {
    pub fn billing(&self) -> BillingDraft {
        BillingDraft {
            company: self.company.clone(),
            address_line1: self.address_line1.clone(),
            address_line2: self.address_line2.clone(),
            city: self.city.clone(),
            postcode: self.postcode.clone(),
            country: self.country.clone(),
            tax_id: self.tax_id.clone(),
        }
    }
}

/// `PUT /api/admin/users/:id`: a partial update. Missing fields stay; billing fields
/// set to null are cleared. A new `password` ends the user's sessions.
#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateUserRequest {
    pub email: Option<String>,
    pub name: Option<String>,
    pub role: Option<String>,
    pub password: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub company: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub address_line1: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub address_line2: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub city: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub postcode: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub country: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub tax_id: Option<Option<String>>,
}

impl UpdateUserRequest {
    pub fn into_patch(self) -> tariff_domain::identity::UserPatch {
        tariff_domain::identity::UserPatch {
            email: self.email,
            name: self.name,
            role: self.role,
            password: self.password,
            billing: BillingPatch {
                company: self.company,
                address_line1: self.address_line1,
                address_line2: self.address_line2,
                city: self.city,
                postcode: self.postcode,
                country: self.country,
                tax_id: self.tax_id,
            },
        }
    }
}

/// `GET /api/admin/users` filter (besides `page` and `per_page`).
#[derive(Deserialize, Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserSearch {
    /// Only users whose email contains this text (case-insensitive).
    pub email: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use tariff_domain::identity::Role;
    use tariff_domain::{UserId, UserSpec};

    #[test]
    fn user_json_has_the_documented_keys_and_nothing_secret() {
        let spec = UserSpec::new(
            "Ada@Example.com",
            "Ada",
            Role::Admin,
            BillingDraft {
                country: Some("gb".into()),
                tax_id: Some("GB123".into()),
                ..BillingDraft::default()
            },
        )
        .unwrap();
        let user = User::new(UserId::new(4).unwrap(), spec, Utc::now());
        let json = serde_json::to_value(UserJson::from(&user)).unwrap();
        let mut keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "addressLine1",
                "addressLine2",
                "city",
                "company",
                "country",
                "createdAt",
                "email",
                "id",
                "name",
                "postcode",
                "role",
                "taxId"
            ]
        );
        assert_eq!(json["email"], "ada@example.com");
        assert_eq!(json["country"], "GB");
        assert_eq!(json["role"], "admin");
    }

    #[test]
    fn update_request_tells_null_from_missing() {
        let req: UpdateUserRequest =
            serde_json::from_str(r#"{"company":null,"city":"Graz"}"#).unwrap();
        let patch = req.into_patch();
        assert_eq!(patch.billing.company, Some(None));
        assert_eq!(patch.billing.city, Some(Some("Graz".into())));
        assert_eq!(patch.billing.country, None);
        assert!(serde_json::from_str::<UpdateUserRequest>(r#"{"passwordHash":"x"}"#).is_err());
    }
}
