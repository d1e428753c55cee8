//! The organisation record and its members.

use chrono::{DateTime, Utc};

use crate::identity::caller::OrgRole;
use crate::identity::user::Email;
use crate::shared::billing::{BillingDetails, BillingDraft};
use crate::shared::ids::{OrgId, UserId};
use crate::shared::text::{required_name, AccountValidationError};

const MAX_ORG_NAME_CHARS: usize = 100;

/// A validated organisation without its identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrganisationSpec {
    name: String,
    billing: BillingDetails,
}

impl OrganisationSpec {
    /// Creates it from its parts.
    pub fn new(name: &str, billing: BillingDraft) -> Result<Self, AccountValidationError> {
        Ok(OrganisationSpec {
            name: required_name("name", name, MAX_ORG_NAME_CHARS)?,
            billing: BillingDetails::new(billing)?,
        })
    }
    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The billing.
    pub fn billing(&self) -> &BillingDetails {
        &self.billing
    }
}

/// A stored organisation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Organisation {
    id: OrgId,
    spec: OrganisationSpec,
    created_at: DateTime<Utc>,
}

impl Organisation {
    /// Creates it from its parts.
    pub fn new(id: OrgId, spec: OrganisationSpec, created_at: DateTime<Utc>) -> Self {
        Organisation {
            id,
            spec,
            created_at,
        }
    }
    /// The id.
    pub fn id(&self) -> OrgId {
        self.id
    }
    /// When it was created.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
}

impl std::ops::Deref for Organisation {
    type Target = OrganisationSpec;
    fn deref(&self) -> &OrganisationSpec {
        &self.spec
    }
}

/// A member as the organisation's members see them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// User id.
    pub user_id: UserId,
    /// Email.
    pub email: Email,
    /// Name.
    pub name: String,
    /// Role.
    pub role: OrgRole,
    /// When they joined.
    pub joined_at: DateTime<Utc>,
}

/// An organisation with its members, and the caller's own role in it.
#[derive(Clone, Debug)]
pub struct OrganisationView {
    /// Organisation.
    pub organisation: Organisation,
    /// Members.
    pub members: Vec<Member>,
    /// `None` for a platform admin who is not a member.
    pub caller_role: Option<OrgRole>,
}
