//! The account repositories against real databases: SQLite always, PostgreSQL when
//! `TEST_DATABASE_URL` is set.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use chrono::{TimeDelta, Utc};
use tariff_domain::identity::PasswordHash;
use tariff_domain::identity::{hash_secret, Credential, OrgRole, Role};
use tariff_domain::organisations::OrganisationSpec;
use tariff_domain::ConflictKind;
use tariff_domain::{
    identity::{CallerResolver, SessionRepository, TokenRepository, UserRepository},
    organisations::OrganisationRepository,
};
use tariff_domain::{BillingDraft, Email, PageRequest, RepoError, UserSpec};
use tariff_persistence::testing::TestDatabase;
use tariff_persistence::{Database, DieselIdentity, DieselOrganisations, DieselUsers, PoolOptions};

async fn open(test_db: &TestDatabase) -> Database {
    let db = Database::connect(test_db.url(), &PoolOptions::default()).unwrap();
    db.migrate().await.unwrap();
    db
}

fn spec(email: &str) -> UserSpec {
    UserSpec::new(
        email,
        "Some One",
        Role::User,
        BillingDraft {
            company: Some("Ünïcödé 'Ltd'; --".into()),
            country: Some("nl".into()),
            ..BillingDraft::default()
        },
    )
    .unwrap()
}

#[tokio::test]
async fn users_round_trip_and_keep_the_hash_apart() {
    for test_db in TestDatabase::all() {
        let db = open(&test_db).await;
        let users = DieselUsers::new(db.clone());
        let hash = PasswordHash::from_stored("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into());
        let created = users
            .create(spec("A@Example.com"), Some(hash.clone()), Utc::now(), None)
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
        assert!(matches!(
            users
                .create(spec("a@example.com"), None, Utc::now(), None)
                .await,
            Err(RepoError::Conflict(_))
        ));
        users
            .create(spec("b_c@example.com"), None, Utc::now(), None)
            .await
            .unwrap();
        let page = users
            .list(Some("_".into()), PageRequest::default())
            .await
            .unwrap();
        assert_eq!(
            (page.items.len(), page.total),
            (1, 1),
            "{:?}",
            test_db.backend()
        );
        assert!(matches!(
            users.get(tariff_domain::UserId::new(999).unwrap()).await,
            Err(RepoError::NotFound)
        ));
    }
}

#[tokio::test]
async fn sessions_expire_and_a_new_password_ends_them() {
    for test_db in TestDatabase::all() {
        let db = open(&test_db).await;
        let users = DieselUsers::new(db.clone());
        let identity = DieselIdentity::new(db.clone());
        let user = users
            .create(spec("s@example.com"), None, Utc::now(), None)
            .await
            .unwrap();
        let now = Utc::now();
        SessionRepository::create(
            &identity,
            user.id(),
            hash_secret("tss_one"),
            now,
            now + TimeDelta::hours(1),
        )
        .await
        .unwrap();
        let credential = Credential::Session("tss_one".into());
        let resolve = |at| identity.resolve(&credential, at);
        assert_eq!(
            resolve(now).await.unwrap().map(|c| c.user_id()),
            Some(user.id())
        );
        assert_eq!(resolve(now + TimeDelta::minutes(61)).await.unwrap(), None);
        users
            .update(
                user.id(),
                user.spec().clone(),
                Some(PasswordHash::from_stored("$argon2id$new".into())),
                now,
                None,
            )
            .await
            .unwrap();
        assert_eq!(resolve(now).await.unwrap(), None, "{:?}", test_db.backend());
        assert!(
            !SessionRepository::delete(&identity, hash_secret("tss_one"))
                .await
                .unwrap()
        );
    }
}

#[tokio::test]
async fn tokens_are_revoked_only_by_their_owner() {
    for test_db in TestDatabase::all() {
        let db = open(&test_db).await;
        let users = DieselUsers::new(db.clone());
        let identity = DieselIdentity::new(db.clone());
        let alice = users
            .create(spec("alice@example.com"), None, Utc::now(), None)
            .await
            .unwrap();
        let bob = users
            .create(spec("bob@example.com"), None, Utc::now(), None)
            .await
            .unwrap();
        let token = TokenRepository::create(
            &identity,
            alice.id(),
            "ci".into(),
            hash_secret("tff_x"),
            Utc::now(),
        )
        .await
        .unwrap();
        assert!(matches!(
            identity.revoke(bob.id(), token.id(), Utc::now()).await,
            Err(RepoError::NotFound)
        ));
        identity
            .revoke(alice.id(), token.id(), Utc::now())
            .await
            .unwrap();
        assert!(identity.list_active(alice.id()).await.unwrap().is_empty());
        let resolved = identity
            .resolve(&Credential::Bearer("tff_x".into()), Utc::now())
            .await
            .unwrap();
        assert_eq!(resolved, None);
        let ghost = tariff_domain::UserId::new(999).unwrap();
        assert!(matches!(
            TokenRepository::create(
                &identity,
                ghost,
                "x".into(),
                hash_secret("tff_y"),
                Utc::now()
            )
            .await,
            Err(RepoError::NotFound)
        ));
    }
}

fn conflict<T>(result: Result<T, RepoError>) -> ConflictKind {
    match result {
        Err(RepoError::Conflict(c)) => c,
        Ok(_) => panic!("expected a conflict"),
        Err(e) => panic!("expected a conflict, got {e:?}"),
    }
}

#[tokio::test]
async fn membership_writes_check_the_expected_role_and_the_owner_count() {
    for test_db in TestDatabase::all() {
        let db = open(&test_db).await;
        let users = DieselUsers::new(db.clone());
        let orgs = DieselOrganisations::new(db.clone());
        let owner = users
            .create(spec("o@example.com"), None, Utc::now(), None)
            .await
            .unwrap();
        let other = users
            .create(spec("p@example.com"), None, Utc::now(), None)
            .await
            .unwrap();
        let org = orgs
            .create(
                OrganisationSpec::new("Org", BillingDraft::default()).unwrap(),
                owner.id(),
                Utc::now(),
            )
            .await
            .unwrap();
        assert_eq!(
            conflict(
                orgs.remove_member(org.id(), owner.id(), OrgRole::Owner)
                    .await
            ),
            ConflictKind::LastOwner
        );
        assert_eq!(
            conflict(
                orgs.set_member_role(
                    org.id(),
                    owner.id(),
                    OrgRole::Member,
                    Some(OrgRole::Owner),
                    Utc::now()
                )
                .await
            ),
            ConflictKind::LastOwner
        );
        // A stale expectation writes nothing.
        assert_eq!(
            conflict(
                orgs.set_member_role(
                    org.id(),
                    other.id(),
                    OrgRole::Admin,
                    Some(OrgRole::Member),
                    Utc::now()
                )
                .await
            ),
            ConflictKind::ChangedMeanwhile
        );
        let added = orgs
            .set_member_role(org.id(), other.id(), OrgRole::Owner, None, Utc::now())
            .await
            .unwrap();
        assert_eq!(
            (added.role, added.email.as_str()),
            (OrgRole::Owner, "p@example.com")
        );
        orgs.remove_member(org.id(), owner.id(), OrgRole::Owner)
            .await
            .unwrap();
        let members = orgs.members(org.id()).await.unwrap();
        assert_eq!(members.len(), 1, "{:?}", test_db.backend());
        assert!(matches!(
            orgs.remove_member(org.id(), owner.id(), OrgRole::Owner)
                .await,
            Err(RepoError::NotFound)
        ));
    }
}

#[tokio::test]
async fn panel_users_keep_the_panels_ids_and_generated_ids_continue_above_them() {
    for test_db in TestDatabase::all() {
        let db = open(&test_db).await;
        let users = DieselUsers::new(db.clone());
        let id = tariff_domain::UserId::new(5000).unwrap();
        let first = users
            .ensure_with_id(id, spec("panel@example.com"), true, Utc::now())
            .await
            .unwrap();
        assert_eq!(first.id(), id);
        assert_eq!(first.email().as_str(), "panel@example.com");

        // Seen again: the same user; the email refreshes only when asked to.
        let same = users
            .ensure_with_id(id, spec("other@example.com"), false, Utc::now())
            .await
            .unwrap();
        assert_eq!(same.email().as_str(), "panel@example.com");
        let refreshed = users
            .ensure_with_id(id, spec("new@example.com"), true, Utc::now())
            .await
            .unwrap();
        assert_eq!(refreshed.email().as_str(), "new@example.com");
        assert_eq!(
            users.get(id).await.unwrap().email().as_str(),
            "new@example.com"
        );

        // A generated id never collides with the panel's.
        let generated = users
            .create(spec("local@example.com"), None, Utc::now(), None)
            .await
            .unwrap();
        assert!(generated.id().get() > 5000, "{:?}", generated.id());

        // Another user's email is not taken over; nothing changes.
        let taken = users
            .ensure_with_id(id, spec("local@example.com"), true, Utc::now())
            .await;
        assert!(matches!(taken, Err(RepoError::Conflict(_))), "{taken:?}");
        assert_eq!(
            users.get(id).await.unwrap().email().as_str(),
            "new@example.com"
        );
        let newcomer = users
            .ensure_with_id(
                tariff_domain::UserId::new(6000).unwrap(),
                spec("local@example.com"),
                true,
                Utc::now(),
            )
            .await;
        assert!(matches!(newcomer, Err(RepoError::Conflict(_))));
        assert!(matches!(
            users.get(tariff_domain::UserId::new(6000).unwrap()).await,
            Err(RepoError::NotFound)
        ));
    }
}
