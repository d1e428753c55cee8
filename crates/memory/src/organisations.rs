//! `OrganisationRepository` in memory. Membership writes run under the store's lock,
//! so concurrent changes to one organisation apply one after the other and the owner
//! count checked before the write is the real one.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tariff_domain::identity::OrgRole;
use tariff_domain::organisations::OrganisationRepository;
use tariff_domain::organisations::{Member, Organisation, OrganisationSpec};
use tariff_domain::{AccountRef, ConflictKind, OrgId, RepoError, UserId};

use crate::state::{MemberRow, State};
use crate::MemoryStore;

impl State {
    fn member(&self, org: OrgId, user: UserId) -> Result<Member, RepoError> {
        let row = self
            .members
            .get(&(org.get(), user.get()))
            .ok_or(RepoError::NotFound)?;
        let account = self.users.get(&user.get()).ok_or(RepoError::NotFound)?;
        Ok(Member {
            user_id: user,
            email: account.user.email().clone(),
            name: account.user.name().to_owned(),
            role: row.role,
            joined_at: row.joined_at,
        })
    }

    /// How many owners the organisation would have with `user` given `role` (`None`:
    /// removed).
    fn owners_after(&self, org: OrgId, user: UserId, role: Option<OrgRole>) -> usize {
        let others = self
            .members
            .range((org.get(), i64::MIN)..=(org.get(), i64::MAX))
            .filter(|((_, member), row)| *member != user.get() && row.role == OrgRole::Owner)
            .count();
        others + usize::from(role == Some(OrgRole::Owner))
    }

    /// The organisation must exist; returns `user`'s role in it now.
    fn current_role(&self, org: OrgId, user: UserId) -> Result<Option<OrgRole>, RepoError> {
        if !self.organisations.contains_key(&org.get()) {
            return Err(RepoError::NotFound);
        }
        Ok(self.members.get(&(org.get(), user.get())).map(|m| m.role))
    }
}

#[async_trait]
impl OrganisationRepository for MemoryStore {
    async fn create(
        &self,
        spec: OrganisationSpec,
        owner: UserId,
        now: DateTime<Utc>,
    ) -> Result<Organisation, RepoError> {
        self.with(|state| {
            if !state.users.contains_key(&owner.get()) {
                return Err(RepoError::NotFound);
            }
            let id = OrgId::new(state.next_id("organisations"))
                .ok_or_else(|| RepoError::internal("organisation ids start at 1"))?;
            let organisation = Organisation::new(id, spec, now);
            state.organisations.insert(id.get(), organisation.clone());
            state.members.insert(
                (id.get(), owner.get()),
                MemberRow {
                    role: OrgRole::Owner,
                    joined_at: now,
                },
            );
            state.touch(AccountRef::User(owner));
            Ok(organisation)
        })
    }

    async fn get(&self, id: OrgId) -> Result<Organisation, RepoError> {
        self.with(|state| {
            state
                .organisations
                .get(&id.get())
                .cloned()
                .ok_or(RepoError::NotFound)
        })
    }

    async fn members(&self, id: OrgId) -> Result<Vec<Member>, RepoError> {
        self.with(|state| {
            let mut joined: Vec<(DateTime<Utc>, UserId)> = state
                .members
                .range((id.get(), i64::MIN)..=(id.get(), i64::MAX))
                .filter_map(|((_, user), row)| UserId::new(*user).map(|u| (row.joined_at, u)))
                .collect();
            joined.sort();
            joined
                .into_iter()
                .map(|(_, user)| state.member(id, user))
                .collect()
        })
    }

    async fn set_member_role(
        &self,
        org: OrgId,
        user: UserId,
        role: OrgRole,
        expected: Option<OrgRole>,
        now: DateTime<Utc>,
    ) -> Result<Member, RepoError> {
        self.with(|state| {
            let current = state.current_role(org, user)?;
            if current != expected {
                return Err(RepoError::Conflict(ConflictKind::ChangedMeanwhile));
            }
            if !state.users.contains_key(&user.get()) {
                return Err(RepoError::Conflict(ConflictKind::MissingReference));
            }
            if state.owners_after(org, user, Some(role)) == 0 {
                return Err(RepoError::Conflict(ConflictKind::LastOwner));
            }
            let joined_at = state
                .members
                .get(&(org.get(), user.get()))
                .map_or(now, |m| m.joined_at);
            state
                .members
                .insert((org.get(), user.get()), MemberRow { role, joined_at });
            state.touch(AccountRef::User(user));
            state.member(org, user)
        })
    }

    async fn remove_member(
        &self,
        org: OrgId,
        user: UserId,
        expected: OrgRole,
    ) -> Result<(), RepoError> {
        self.with(|state| {
            match state.current_role(org, user)? {
                None => return Err(RepoError::NotFound),
                Some(role) if role != expected => {
                    return Err(RepoError::Conflict(ConflictKind::ChangedMeanwhile))
                }
                Some(_) => {}
            }
            if state.owners_after(org, user, None) == 0 {
                return Err(RepoError::Conflict(ConflictKind::LastOwner));
            }
            state.members.remove(&(org.get(), user.get()));
            state.touch(AccountRef::User(user));
            Ok(())
        })
    }
}
