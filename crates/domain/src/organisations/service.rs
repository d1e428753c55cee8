//! The organisation use cases: creating organisations and managing their members,
//! under the rules in the folder's documentation.

use std::sync::Arc;

use crate::identity::caller::{Caller, OrgRole};
use crate::identity::ports::{MembershipRepository, UserRepository};
use crate::orders::freshness::OrderFreshness;
use crate::organisations::model::{Member, OrganisationSpec, OrganisationView};
use crate::organisations::ports::OrganisationRepository;
use crate::shared::billing::BillingDraft;
use crate::shared::clock::Clock;
use crate::shared::ids::AccountRef;
use crate::shared::ids::{OrgId, UserId};
use crate::shared::repo::{ConflictKind, RepoError, StoreFailure};
use crate::shared::text::AccountValidationError;

/// Errors of the organisation use cases.
#[derive(Debug, thiserror::Error)]
pub enum OrgError {
    /// No such organisation, or the caller may not know it exists.
    #[error("organisation {0} not found")]
    NotFound(OrgId),
    /// User is not a member.
    #[error("user {0} is not a member")]
    NotAMember(UserId),
    /// User not found.
    #[error("user {0} not found")]
    UnknownUser(UserId),
    /// The caller is a member but lacks the role for this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// Invalid.
    #[error(transparent)]
    Invalid(#[from] AccountValidationError),
    /// The store refused the change; worded for memberships (the last owner, a role
    /// changed meanwhile).
    #[error("{}", membership_conflict(*.0))]
    Conflict(ConflictKind),
    /// The store failed: unreachable, or broken.
    #[error("organisation failure")]
    Store(#[from] StoreFailure),
}

/// A refused membership change, in the organisations' words.
fn membership_conflict(kind: ConflictKind) -> String {
    match kind {
        ConflictKind::ChangedMeanwhile => {
            "the membership changed while this request was processed; reload and try again"
                .to_owned()
        }
        other => other.to_string(),
    }
}

impl OrgError {
    fn from_repo(err: RepoError, on_not_found: OrgError) -> OrgError {
        match err {
            RepoError::NotFound => on_not_found,
            RepoError::Conflict(kind) => OrgError::Conflict(kind),
            err => OrgError::Store(err.into()),
        }
    }
}

/// Creates organisations and manages their members.
#[derive(Clone)]
pub struct OrganisationService {
    orgs: Arc<dyn OrganisationRepository>,
    memberships: Arc<dyn MembershipRepository>,
    users: Arc<dyn UserRepository>,
    clock: Arc<dyn Clock>,
    /// Told of membership changes: they change whose orders a member sees.
    order_freshness: Arc<OrderFreshness>,
}

impl OrganisationService {
    /// Builds the service on the ports it needs.
    pub fn new(
        orgs: Arc<dyn OrganisationRepository>,
        memberships: Arc<dyn MembershipRepository>,
        users: Arc<dyn UserRepository>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            orgs,
            memberships,
            users,
            clock,
            order_freshness: Arc::default(),
        }
    }

    /// Shares the order lists' freshness (see [`crate::orders::OrderService::freshness`]),
    /// so a membership change made here stales the member's cached order list at once.
    pub fn with_order_freshness(mut self, freshness: Arc<OrderFreshness>) -> Self {
        self.order_freshness = freshness;
        self
    }

    /// A new organisation owned by the caller.
    pub async fn create(
        &self,
        caller: Caller,
        name: &str,
        billing: BillingDraft,
    ) -> Result<OrganisationView, OrgError> {
        let spec = OrganisationSpec::new(name, billing)?;
        let organisation = self
            .orgs
            .create(spec, caller.user_id(), self.clock.now())
            .await;
        self.order_freshness
            .touched(AccountRef::User(caller.user_id()));
        let organisation = organisation
            .map_err(|e| OrgError::from_repo(e, OrgError::UnknownUser(caller.user_id())))?;
        let members = self.members(organisation.id()).await?;
        Ok(OrganisationView {
            organisation,
            members,
            caller_role: Some(OrgRole::Owner),
        })
    }

    /// The organisation and its members, for its members and platform admins.
    pub async fn get(&self, caller: Caller, org: OrgId) -> Result<OrganisationView, OrgError> {
        let (own_role, _) = self.authority(caller, org).await?;
        let organisation = self
            .orgs
            .get(org)
            .await
            .map_err(|e| OrgError::from_repo(e, OrgError::NotFound(org)))?;
        let members = self.members(org).await?;
        Ok(OrganisationView {
            organisation,
            members,
            caller_role: own_role,
        })
    }

    /// Adds `user` as `role`, or changes their role. True when the user was added.
    pub async fn set_member(
        &self,
        caller: Caller,
        org: OrgId,
        user: UserId,
        role: OrgRole,
    ) -> Result<(Member, bool), OrgError> {
        let (_, authority) = self.authority(caller, org).await?;
        if !authority.can_manage() {
            return Err(OrgError::Forbidden(
                "Only the organisation's owners and admins can manage its members.",
            ));
        }
        self.users
            .get(user)
            .await
            .map_err(|e| OrgError::from_repo(e, OrgError::UnknownUser(user)))?;
        let current = self.role_of(org, user).await?;
        let touches_owner = role == OrgRole::Owner || current == Some(OrgRole::Owner);
        if touches_owner && authority != OrgRole::Owner {
            return Err(OrgError::Forbidden(
                "Only an owner can make someone an owner or change an owner's role.",
            ));
        }
        let member = self
            .orgs
            .set_member_role(org, user, role, current, self.clock.now())
            .await;
        self.order_freshness.touched(AccountRef::User(user));
        let member = member.map_err(|e| OrgError::from_repo(e, OrgError::NotFound(org)))?;
        tracing::info!(org = %org, user = %user, role = role.as_str(), by = %caller.user_id(), "membership set");
        Ok((member, current.is_none()))
    }

    /// Removes `user` from the organisation; members may always remove themselves.
    pub async fn remove_member(
        &self,
        caller: Caller,
        org: OrgId,
        user: UserId,
    ) -> Result<(), OrgError> {
        let (_, authority) = self.authority(caller, org).await?;
        let current = self
            .role_of(org, user)
            .await?
            .ok_or(OrgError::NotAMember(user))?;
        let leaving = user == caller.user_id();
        if !leaving {
            if !authority.can_manage() {
                return Err(OrgError::Forbidden(
                    "Only the organisation's owners and admins can remove members.",
                ));
            }
            if current == OrgRole::Owner && authority != OrgRole::Owner {
                return Err(OrgError::Forbidden("Only an owner can remove an owner."));
            }
        }
        let removed = self.orgs.remove_member(org, user, current).await;
        self.order_freshness.touched(AccountRef::User(user));
        removed.map_err(|e| OrgError::from_repo(e, OrgError::NotAMember(user)))?;
        tracing::info!(org = %org, user = %user, by = %caller.user_id(), "membership removed");
        Ok(())
    }

    /// The caller's own role, and the role they act with (platform admins act as owners).
    /// Non-members who are not platform admins get `NotFound`.
    async fn authority(
        &self,
        caller: Caller,
        org: OrgId,
    ) -> Result<(Option<OrgRole>, OrgRole), OrgError> {
        let own = self.role_of(org, caller.user_id()).await?;
        match own {
            _ if caller.is_admin() => {
                if own.is_none() {
                    // Existence check: a platform admin may learn that it does not exist.
                    self.orgs
                        .get(org)
                        .await
                        .map_err(|e| OrgError::from_repo(e, OrgError::NotFound(org)))?;
                }
                Ok((own, OrgRole::Owner))
            }
            Some(role) => Ok((own, role)),
            None => Err(OrgError::NotFound(org)),
        }
    }

    async fn role_of(&self, org: OrgId, user: UserId) -> Result<Option<OrgRole>, OrgError> {
        self.memberships
            .role_in(org, user)
            .await
            .map_err(|e| OrgError::from_repo(e, OrgError::NotFound(org)))
    }

    async fn members(&self, org: OrgId) -> Result<Vec<Member>, OrgError> {
        self.orgs
            .members(org)
            .await
            .map_err(|e| OrgError::from_repo(e, OrgError::NotFound(org)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::caller::Role;
    use crate::identity::ports::{MockMembershipRepository, MockUserRepository};
    use crate::identity::user::Email;
    use crate::identity::user::{User, UserSpec};
    use crate::organisations::model::Organisation;
    use crate::organisations::ports::MockOrganisationRepository;
    use crate::shared::clock::SystemClock;
    use chrono::Utc;
    use std::collections::HashMap;

    const ORG: i64 = 10;

    fn uid(id: i64) -> UserId {
        UserId::new(id).unwrap()
    }
    fn org() -> OrgId {
        OrgId::new(ORG).unwrap()
    }
    fn caller(id: i64) -> Caller {
        Caller::new(uid(id), Role::User)
    }

    /// Members: 1 owner, 2 admin, 3 member; 4 is a user outside; 9 a platform admin.
    fn service_with(orgs: MockOrganisationRepository) -> OrganisationService {
        let roles: HashMap<i64, OrgRole> = [
            (1, OrgRole::Owner),
            (2, OrgRole::Admin),
            (3, OrgRole::Member),
        ]
        .into_iter()
        .collect();
        let mut memberships = MockMembershipRepository::new();
        memberships.expect_role_in().returning(move |o, u| {
            Ok(if o.get() == ORG {
                roles.get(&u.get()).copied()
            } else {
                None
            })
        });
        let mut users = MockUserRepository::new();
        users.expect_get().returning(|id| {
            if id.get() > 100 {
                return Err(RepoError::NotFound);
            }
            let spec = UserSpec::new(
                &format!("u{id}@example.com"),
                "U",
                Role::User,
                BillingDraft::default(),
            )
            .unwrap();
            Ok(User::new(id, spec, Utc::now()))
        });
        OrganisationService::new(
            Arc::new(orgs),
            Arc::new(memberships),
            Arc::new(users),
            Arc::new(SystemClock),
        )
    }

    fn member(user: UserId, role: OrgRole) -> Member {
        Member {
            user_id: user,
            email: Email::parse("m@example.com").unwrap(),
            name: "M".into(),
            role,
            joined_at: Utc::now(),
        }
    }

    fn writable() -> MockOrganisationRepository {
        let mut orgs = MockOrganisationRepository::new();
        orgs.expect_set_member_role()
            .returning(|_, user, role, _, _| Ok(member(user, role)));
        orgs.expect_remove_member().returning(|_, _, _| Ok(()));
        orgs.expect_get().returning(|id| {
            if id.get() != ORG {
                return Err(RepoError::NotFound);
            }
            Ok(Organisation::new(
                id,
                OrganisationSpec::new("Org", BillingDraft::default()).unwrap(),
                Utc::now(),
            ))
        });
        orgs.expect_members().returning(|_| Ok(vec![]));
        orgs
    }

    #[tokio::test]
    async fn outsiders_do_not_see_the_organisation() {
        let service = service_with(writable());
        assert!(matches!(
            service.get(caller(4), org()).await,
            Err(OrgError::NotFound(_))
        ));
        assert!(matches!(
            service
                .set_member(caller(4), org(), uid(5), OrgRole::Member)
                .await,
            Err(OrgError::NotFound(_))
        ));
        assert!(matches!(
            service.remove_member(caller(4), org(), uid(3)).await,
            Err(OrgError::NotFound(_))
        ));
        assert!(service.get(caller(3), org()).await.is_ok());
    }

    #[tokio::test]
    async fn members_cannot_manage_admins_cannot_touch_owners() {
        let service = service_with(writable());
        assert!(matches!(
            service
                .set_member(caller(3), org(), uid(5), OrgRole::Member)
                .await,
            Err(OrgError::Forbidden(_))
        ));
        assert!(matches!(
            service
                .set_member(caller(2), org(), uid(5), OrgRole::Owner)
                .await,
            Err(OrgError::Forbidden(_))
        ));
        assert!(matches!(
            service
                .set_member(caller(2), org(), uid(1), OrgRole::Member)
                .await,
            Err(OrgError::Forbidden(_))
        ));
        assert!(matches!(
            service.remove_member(caller(2), org(), uid(1)).await,
            Err(OrgError::Forbidden(_))
        ));
        assert!(matches!(
            service.remove_member(caller(3), org(), uid(2)).await,
            Err(OrgError::Forbidden(_))
        ));
        let (_, added) = service
            .set_member(caller(2), org(), uid(5), OrgRole::Admin)
            .await
            .unwrap();
        assert!(added);
        let (_, added) = service
            .set_member(caller(1), org(), uid(3), OrgRole::Owner)
            .await
            .unwrap();
        assert!(!added);
        service
            .remove_member(caller(2), org(), uid(3))
            .await
            .unwrap();
        // Anyone may leave.
        service
            .remove_member(caller(3), org(), uid(3))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn platform_admins_act_as_owners_but_learn_nothing_false() {
        let service = service_with(writable());
        let admin = Caller::new(uid(9), Role::Admin);
        assert!(service
            .get(admin, org())
            .await
            .unwrap()
            .caller_role
            .is_none());
        service
            .set_member(admin, org(), uid(5), OrgRole::Owner)
            .await
            .unwrap();
        assert!(matches!(
            service.get(admin, OrgId::new(77).unwrap()).await,
            Err(OrgError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn unknown_users_and_non_members_are_named() {
        let service = service_with(writable());
        assert!(matches!(
            service
                .set_member(caller(1), org(), uid(500), OrgRole::Member)
                .await,
            Err(OrgError::UnknownUser(_))
        ));
        assert!(matches!(
            service.remove_member(caller(1), org(), uid(5)).await,
            Err(OrgError::NotAMember(_))
        ));
    }

    #[tokio::test]
    async fn last_owner_conflict_passes_through_with_the_expected_role() {
        let mut orgs = MockOrganisationRepository::new();
        orgs.expect_remove_member()
            .withf(|_, user, expected| user.get() == 1 && *expected == OrgRole::Owner)
            .returning(|_, _, _| Err(RepoError::Conflict(ConflictKind::LastOwner)));
        orgs.expect_set_member_role()
            .withf(|_, _, role, expected, _| {
                *role == OrgRole::Admin && *expected == Some(OrgRole::Owner)
            })
            .returning(|_, _, _, _, _| Err(RepoError::Conflict(ConflictKind::LastOwner)));
        let service = service_with(orgs);
        assert!(matches!(
            service.remove_member(caller(1), org(), uid(1)).await,
            Err(OrgError::Conflict(ConflictKind::LastOwner))
        ));
        assert!(matches!(
            service
                .set_member(caller(1), org(), uid(1), OrgRole::Admin)
                .await,
            Err(OrgError::Conflict(_))
        ));
    }

    #[tokio::test]
    async fn names_are_validated_before_storage() {
        let mut orgs = MockOrganisationRepository::new();
        orgs.expect_create().never();
        let service = service_with(orgs);
        assert!(matches!(
            service.create(caller(1), " ", BillingDraft::default()).await,
            Err(OrgError::Invalid(e)) if e.field == "name"
        ));
    }
}
