//! Users, sessions, tokens, caller resolution, organisations and memberships.

use chrono::{TimeDelta, Utc};
use tariff_domain::audit::{Actor, AuditAction, AuditEntry, AuditFilter, TargetKind};
use tariff_domain::identity::PasswordHash;
use tariff_domain::identity::{hash_secret, Credential, OrgRole, Role};
use tariff_domain::organisations::OrganisationSpec;
use tariff_domain::{BillingDraft, ConflictKind, Email, OrgId, PageRequest, RepoError, UserId};

use crate::fixtures::{user_spec, Fixture};
use crate::recorded;
use crate::Repos;

fn conflict<T>(result: Result<T, RepoError>) -> ConflictKind {
    match result {
        Err(RepoError::Conflict(kind)) => kind,
        Ok(_) => panic!("expected a conflict, the write succeeded"),
        Err(other) => panic!("expected a conflict, got {other:?}"),
    }
}

pub async fn users_round_trip_and_keep_the_hash_apart(repos: Repos) {
    let users = &repos.users;
    let hash = PasswordHash::from_stored("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into());
    let created = users
        .create(
            user_spec("A@Example.com", "nl"),
            Some(hash.clone()),
            Utc::now(),
            Some(AuditEntry::new(
                Actor::Operator,
                AuditAction::UserCreate,
                TargetKind::User,
                None,
            )),
        )
        .await
        .unwrap();
    assert_eq!(created.email().as_str(), "a@example.com");
    assert_eq!(
        users.get(created.id()).await.unwrap().spec(),
        created.spec()
    );
    let email = Email::parse("A@EXAMPLE.COM").unwrap();
    let (found, stored) = users.find_login(&email).await.unwrap().unwrap();
    assert_eq!((found.id(), stored), (created.id(), Some(hash)));
    assert_eq!(
        users.find_by_email(&email).await.unwrap().map(|u| u.id()),
        Some(created.id())
    );
    let nobody = Email::parse("nobody@example.com").unwrap();
    assert_eq!(users.find_by_email(&nobody).await.unwrap(), None);
    assert!(users.find_login(&nobody).await.unwrap().is_none());
    assert!(matches!(
        users
            .create(user_spec("a@EXAMPLE.com", "nl"), None, Utc::now(), None)
            .await,
        Err(RepoError::Conflict(ConflictKind::EmailTaken))
    ));
    assert!(matches!(
        users.get(UserId::new(999).unwrap()).await,
        Err(RepoError::NotFound)
    ));
    // The audit row says a password was set, never what it is.
    let rows = repos
        .audit
        .page(AuditFilter::default(), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(rows.total, 1);
    let row = &rows.items[0];
    assert_eq!(
        (row.action.as_str(), row.target_id),
        ("user.create", Some(created.id().get()))
    );
    let after = row.after.as_ref().unwrap();
    assert_eq!(after["passwordChanged"], serde_json::Value::Bool(true));
    assert_eq!(
        row.after,
        Some(recorded(created.audit_state().with_password_changed(true)))
    );
    assert!(!row.after.as_ref().unwrap().to_string().contains("argon2"));
    assert_eq!(row.actor, None, "the operator is no user");
}

pub async fn user_updates_keep_emails_unique(repos: Repos) {
    let fx = Fixture::new(repos);
    let users = &fx.repos.users;
    let alice = fx.user("alice@example.com", "DE").await;
    fx.user("bob@example.com", "DE").await;
    let before = users.get(alice).await.unwrap();
    let taken = users
        .update(
            alice,
            user_spec("BOB@example.com", "DE"),
            None,
            Utc::now(),
            None,
        )
        .await;
    assert!(
        matches!(taken, Err(RepoError::Conflict(ConflictKind::EmailTaken))),
        "{taken:?}"
    );
    assert_eq!(
        users.get(alice).await.unwrap(),
        before,
        "a refused update changes nothing"
    );
    let entry = AuditEntry::new(
        Actor::Operator,
        AuditAction::UserUpdate,
        TargetKind::User,
        Some(alice.get()),
    );
    let renamed = users
        .update(
            alice,
            user_spec("alice.new@example.com", "FR"),
            None,
            Utc::now(),
            Some(entry),
        )
        .await
        .unwrap();
    assert_eq!(renamed.email().as_str(), "alice.new@example.com");
    assert_eq!(renamed.created_at(), before.created_at());
    assert_eq!(users.get(alice).await.unwrap(), renamed);
    let rows = fx
        .repos
        .audit
        .page(
            AuditFilter {
                target_kind: Some(TargetKind::User),
                target_id: Some(alice.get()),
                actor: None,
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(rows.total, 1);
    assert_eq!(rows.items[0].before, Some(recorded(before.audit_state())));
    assert_eq!(rows.items[0].after, Some(recorded(renamed.audit_state())));
    assert!(matches!(
        users
            .update(
                UserId::new(999).unwrap(),
                user_spec("x@example.com", "DE"),
                None,
                Utc::now(),
                None
            )
            .await,
        Err(RepoError::NotFound)
    ));
}

pub async fn users_under_outside_ids_keep_them_and_generated_ids_continue_above(repos: Repos) {
    let users = &repos.users;
    let id = UserId::new(5000).unwrap();
    let first = users
        .ensure_with_id(id, user_spec("panel@example.com", "DE"), true, Utc::now())
        .await
        .unwrap();
    assert_eq!(first.id(), id);
    assert_eq!(first.email().as_str(), "panel@example.com");
    assert_eq!(users.get(id).await.unwrap(), first);
    let no_password = users
        .find_login(&Email::parse("panel@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        no_password.1.is_none(),
        "a panel user has no Tariff password"
    );

    // Seen again: the same user; the email refreshes only when asked to, and nothing
    // else changes with it.
    let same = users
        .ensure_with_id(id, user_spec("other@example.com", "FR"), false, Utc::now())
        .await
        .unwrap();
    assert_eq!(same, first);
    let refreshed = users
        .ensure_with_id(id, user_spec("new@example.com", "FR"), true, Utc::now())
        .await
        .unwrap();
    assert_eq!(refreshed.email().as_str(), "new@example.com");
    assert_eq!(refreshed.spec().name(), first.spec().name());
    assert_eq!(
        refreshed.spec().billing(),
        first.spec().billing(),
        "only the email is refreshed"
    );
    assert_eq!(refreshed.created_at(), first.created_at());
    assert_eq!(users.get(id).await.unwrap(), refreshed);

    // A generated id never collides with the panel's.
    let generated = users
        .create(user_spec("local@example.com", "DE"), None, Utc::now(), None)
        .await
        .unwrap();
    assert!(generated.id().get() > 5000, "{:?}", generated.id());

    // Another user's email is not taken over; nothing changes.
    let taken = users
        .ensure_with_id(id, user_spec("LOCAL@example.com", "DE"), true, Utc::now())
        .await;
    assert_eq!(conflict(taken), ConflictKind::EmailTaken);
    assert_eq!(users.get(id).await.unwrap(), refreshed);
    let newcomer_id = UserId::new(6000).unwrap();
    let newcomer = users
        .ensure_with_id(
            newcomer_id,
            user_spec("local@example.com", "DE"),
            true,
            Utc::now(),
        )
        .await;
    assert_eq!(conflict(newcomer), ConflictKind::EmailTaken);
    assert!(matches!(
        users.get(newcomer_id).await,
        Err(RepoError::NotFound)
    ));

    // The panel's cookie means nothing to Tariff's own credential tables.
    let panel = repos
        .callers
        .resolve(&Credential::Panel("panel-cookie".into()), Utc::now())
        .await
        .unwrap();
    assert!(panel.is_none());
}

pub async fn users_list_filters_by_email_and_pages(repos: Repos) {
    let fx = Fixture::new(repos);
    let mut ids = Vec::new();
    for email in [
        "b_c@example.com",
        "bxc@example.com",
        "d@example.org",
        "e@example.com",
    ] {
        ids.push(fx.user(email, "DE").await);
    }
    let users = &fx.repos.users;
    // `_` and `%` are literal text, not wildcards.
    let page = users
        .list(Some("_".into()), PageRequest::default())
        .await
        .unwrap();
    assert_eq!((page.items.len(), page.total), (1, 1));
    assert_eq!(page.items[0].id(), ids[0]);
    let page = users
        .list(Some("%".into()), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(page.total, 0);
    let com = users
        .list(Some(".com".into()), PageRequest::new(2, 2).unwrap())
        .await
        .unwrap();
    assert_eq!(com.total, 3);
    assert_eq!(
        com.items.iter().map(|u| u.id()).collect::<Vec<_>>(),
        vec![ids[3]]
    );
    let all = users
        .list(None, PageRequest::new(1, 3).unwrap())
        .await
        .unwrap();
    assert_eq!(all.total, 4);
    assert_eq!(
        all.items.iter().map(|u| u.id()).collect::<Vec<_>>(),
        ids[..3]
    );
    let past = users
        .list(None, PageRequest::new(9, 3).unwrap())
        .await
        .unwrap();
    assert!(past.items.is_empty());
    assert_eq!(past.total, 4);
}

pub async fn sessions_expire_and_a_new_password_ends_them(repos: Repos) {
    let fx = Fixture::new(repos);
    let user = fx.user("s@example.com", "DE").await;
    let (sessions, callers) = (&fx.repos.sessions, &fx.repos.callers);
    let now = Utc::now();
    sessions
        .create(user, hash_secret("tss_one"), now, now + TimeDelta::hours(1))
        .await
        .unwrap();
    let duplicate = sessions
        .create(user, hash_secret("tss_one"), now, now + TimeDelta::hours(1))
        .await;
    assert!(
        matches!(
            duplicate,
            Err(RepoError::Conflict(ConflictKind::AlreadyExists))
        ),
        "{duplicate:?}"
    );
    let credential = Credential::Session("tss_one".into());
    let caller = callers.resolve(&credential, now).await.unwrap().unwrap();
    assert_eq!((caller.user_id(), caller.role()), (user, Role::User));
    assert_eq!(
        callers
            .resolve(&credential, now + TimeDelta::minutes(61))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        callers
            .resolve(&Credential::Session("tss_unknown".into()), now)
            .await
            .unwrap(),
        None
    );
    // A bearer token with the same secret is another credential.
    assert_eq!(
        callers
            .resolve(&Credential::Bearer("tss_one".into()), now)
            .await
            .unwrap(),
        None
    );
    let spec = fx.repos.users.get(user).await.unwrap().spec().clone();
    fx.repos
        .users
        .update(
            user,
            spec,
            Some(PasswordHash::from_stored("$argon2id$new".into())),
            now,
            None,
        )
        .await
        .unwrap();
    assert_eq!(callers.resolve(&credential, now).await.unwrap(), None);
    assert!(!sessions.delete(hash_secret("tss_one")).await.unwrap());

    sessions
        .create(user, hash_secret("tss_two"), now, now + TimeDelta::hours(1))
        .await
        .unwrap();
    assert!(sessions.delete(hash_secret("tss_two")).await.unwrap());
    assert!(!sessions.delete(hash_secret("tss_two")).await.unwrap());
    assert_eq!(
        callers
            .resolve(&Credential::Session("tss_two".into()), now)
            .await
            .unwrap(),
        None
    );
}

pub async fn tokens_are_revoked_only_by_their_owner(repos: Repos) {
    let fx = Fixture::new(repos);
    let alice = fx.user("alice@example.com", "DE").await;
    let bob = fx.user("bob@example.com", "DE").await;
    let tokens = &fx.repos.tokens;
    let now = Utc::now();
    let ci = tokens
        .create(alice, "ci".into(), hash_secret("tff_x"), now)
        .await
        .unwrap();
    let deploy = tokens
        .create(alice, "deploy".into(), hash_secret("tff_z"), now)
        .await
        .unwrap();
    assert_eq!((ci.name(), ci.last_used_at()), ("ci", None));
    let clash = tokens
        .create(bob, "copy".into(), hash_secret("tff_x"), now)
        .await;
    assert!(
        matches!(clash, Err(RepoError::Conflict(ConflictKind::AlreadyExists))),
        "{clash:?}"
    );
    let listed: Vec<_> = tokens
        .list_active(alice)
        .await
        .unwrap()
        .iter()
        .map(|t| t.id())
        .collect();
    assert_eq!(listed, vec![ci.id(), deploy.id()], "oldest first");
    assert!(tokens.list_active(bob).await.unwrap().is_empty());

    let caller = fx
        .repos
        .callers
        .resolve(&Credential::Bearer("tff_x".into()), now)
        .await
        .unwrap();
    assert_eq!(caller.map(|c| c.user_id()), Some(alice));

    assert!(matches!(
        tokens.revoke(bob, ci.id(), now).await,
        Err(RepoError::NotFound)
    ));
    tokens.revoke(alice, ci.id(), now).await.unwrap();
    assert!(matches!(
        tokens.revoke(alice, ci.id(), now).await,
        Err(RepoError::NotFound)
    ));
    let listed: Vec<_> = tokens
        .list_active(alice)
        .await
        .unwrap()
        .iter()
        .map(|t| t.id())
        .collect();
    assert_eq!(listed, vec![deploy.id()]);
    let resolved = fx
        .repos
        .callers
        .resolve(&Credential::Bearer("tff_x".into()), now)
        .await
        .unwrap();
    assert_eq!(resolved, None);
    let ghost = UserId::new(999).unwrap();
    assert!(matches!(
        tokens
            .create(ghost, "x".into(), hash_secret("tff_y"), now)
            .await,
        Err(RepoError::NotFound)
    ));
}

pub async fn organisations_start_with_their_owner(repos: Repos) {
    let fx = Fixture::new(repos);
    let owner = fx.user("o@example.com", "DE").await;
    let spec = OrganisationSpec::new(
        "Acme",
        BillingDraft {
            company: Some("Acme SARL".into()),
            country: Some("FR".into()),
            ..BillingDraft::default()
        },
    )
    .unwrap();
    let orgs = &fx.repos.organisations;
    let org = orgs.create(spec.clone(), owner, Utc::now()).await.unwrap();
    let fetched = orgs.get(org.id()).await.unwrap();
    assert_eq!((fetched.id(), fetched.name()), (org.id(), "Acme"));
    assert_eq!(&*fetched, &*org, "the same name and billing details");
    let members = orgs.members(org.id()).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(
        (
            members[0].user_id,
            members[0].role,
            members[0].email.as_str()
        ),
        (owner, OrgRole::Owner, "o@example.com")
    );
    assert_eq!(
        fx.repos.memberships.role_in(org.id(), owner).await.unwrap(),
        Some(OrgRole::Owner)
    );
    assert_eq!(
        fx.repos.memberships.managed_orgs(owner).await.unwrap(),
        vec![org.id()]
    );
    let missing = OrgId::new(999).unwrap();
    assert!(matches!(orgs.get(missing).await, Err(RepoError::NotFound)));
    assert!(orgs.members(missing).await.unwrap().is_empty());
    assert_eq!(
        fx.repos.memberships.role_in(missing, owner).await.unwrap(),
        None
    );
    let ghost = UserId::new(999).unwrap();
    assert!(matches!(
        orgs.create(spec, ghost, Utc::now()).await,
        Err(RepoError::NotFound)
    ));
}

pub async fn membership_writes_check_the_expected_role_and_the_owner_count(repos: Repos) {
    let fx = Fixture::new(repos);
    let owner = fx.user("o@example.com", "DE").await;
    let other = fx.user("p@example.com", "DE").await;
    let third = fx.user("q@example.com", "DE").await;
    let org = fx.org("Org", owner).await;
    let orgs = &fx.repos.organisations;
    let now = Utc::now();
    assert_eq!(
        conflict(orgs.remove_member(org, owner, OrgRole::Owner).await),
        ConflictKind::LastOwner
    );
    assert_eq!(
        conflict(
            orgs.set_member_role(org, owner, OrgRole::Member, Some(OrgRole::Owner), now)
                .await
        ),
        ConflictKind::LastOwner
    );
    // A stale expectation writes nothing.
    assert_eq!(
        conflict(
            orgs.set_member_role(org, other, OrgRole::Admin, Some(OrgRole::Member), now)
                .await
        ),
        ConflictKind::ChangedMeanwhile
    );
    assert_eq!(
        fx.repos.memberships.role_in(org, other).await.unwrap(),
        None
    );
    let added = orgs
        .set_member_role(org, other, OrgRole::Owner, None, now)
        .await
        .unwrap();
    assert_eq!(
        (added.role, added.email.as_str()),
        (OrgRole::Owner, "p@example.com")
    );
    let member = orgs
        .set_member_role(org, third, OrgRole::Member, None, now)
        .await
        .unwrap();
    assert_eq!(member.role, OrgRole::Member);
    assert_eq!(
        conflict(orgs.remove_member(org, third, OrgRole::Admin).await),
        ConflictKind::ChangedMeanwhile
    );
    let managed = fx.repos.memberships.managed_orgs(third).await.unwrap();
    assert!(managed.is_empty(), "members do not manage");
    orgs.set_member_role(org, third, OrgRole::Admin, Some(OrgRole::Member), now)
        .await
        .unwrap();
    assert_eq!(
        fx.repos.memberships.managed_orgs(third).await.unwrap(),
        vec![org]
    );

    orgs.remove_member(org, owner, OrgRole::Owner)
        .await
        .unwrap();
    let members: Vec<UserId> = orgs
        .members(org)
        .await
        .unwrap()
        .iter()
        .map(|m| m.user_id)
        .collect();
    assert_eq!(members.len(), 2);
    assert!(members.contains(&other) && members.contains(&third));
    assert!(matches!(
        orgs.remove_member(org, owner, OrgRole::Owner).await,
        Err(RepoError::NotFound)
    ));
    let missing = OrgId::new(999).unwrap();
    assert!(matches!(
        orgs.set_member_role(missing, owner, OrgRole::Member, None, now)
            .await,
        Err(RepoError::NotFound)
    ));
}
