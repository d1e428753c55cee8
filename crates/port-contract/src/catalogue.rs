//! `PlanRepository`: names unique case-insensitively, one default plan, price order,
//! paging by id, references refuse deletion, all-or-nothing imports, the version.

use tariff_domain::audit::{Actor, AuditAction, AuditEntry, AuditFilter, TargetKind};
use tariff_domain::{
    ConflictKind, Limit, PageRequest, PlanDraft, PlanId, PlanSpec, RepoError, Resource,
};

use crate::fixtures::{at, plan_spec, Fixture};
use crate::recorded;
use crate::Repos;

fn default_spec(name: &str) -> PlanSpec {
    PlanSpec::new(PlanDraft {
        is_default: true,
        ..plan_spec(name, "0").to_draft()
    })
    .unwrap()
}

pub async fn plans_starter_is_created_once_on_an_empty_catalogue(repos: Repos) {
    let plans = &repos.plans;
    assert_eq!(plans.default_plan().await.unwrap(), None);
    assert!(plans
        .create_if_catalogue_empty(PlanSpec::starter_free())
        .await
        .unwrap());
    assert!(!plans
        .create_if_catalogue_empty(PlanSpec::starter_free())
        .await
        .unwrap());
    let all = plans.list(true).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].name(), "Free");
    assert!(all[0].is_default());
    assert_eq!(
        plans.default_plan().await.unwrap().map(|p| p.id()),
        Some(all[0].id())
    );
}

pub async fn plans_round_trip_every_field_and_list_in_price_order(repos: Repos) {
    let fx = Fixture::new(repos);
    let plans = &fx.repos.plans;
    let mut draft = plan_spec("Pro", "9.99").to_draft();
    draft.description = Some("Ünïcödé 'quotes' ; DROP TABLE plans; -- 🚀".into());
    draft
        .features
        .insert("ssl".into(), serde_json::json!({"wildcard": true}));
    draft.stripe_plan_id = Some("price_123".into());
    draft.price_yearly = "99".into();
    draft.limits.set(Resource::Servers, Limit::new(5));
    let pro = plans
        .create(PlanSpec::new(draft).unwrap(), None)
        .await
        .unwrap();
    let cheap = fx.plan("Cheap", "1.00").await;
    let tie = fx.plan("Tie", "1.00").await;
    let hidden = fx.plan_with("Hidden", |d| d.hidden = true).await;

    let fetched = plans.get(pro.id()).await.unwrap();
    assert_eq!(fetched.spec(), pro.spec());
    assert_eq!(fetched.created_at(), pro.created_at());
    assert_eq!(
        fetched.description(),
        Some("Ünïcödé 'quotes' ; DROP TABLE plans; -- 🚀")
    );
    let public: Vec<PlanId> = plans
        .list(false)
        .await
        .unwrap()
        .iter()
        .map(|p| p.id())
        .collect();
    assert_eq!(public, vec![cheap.id(), tie.id(), pro.id()]);
    let all = plans.list(true).await.unwrap();
    assert_eq!(all.first().map(|p| p.id()), Some(hidden.id()));
    assert_eq!(all.len(), 4);
    assert!(matches!(
        plans.get(PlanId::new(999_999).unwrap()).await,
        Err(RepoError::NotFound)
    ));
}

pub async fn plan_names_are_unique_case_insensitively(repos: Repos) {
    let fx = Fixture::new(repos);
    let plans = &fx.repos.plans;
    let pro = fx.plan("Pro", "1").await;
    let err = plans.create(plan_spec("pro", "2"), None).await.unwrap_err();
    assert!(
        matches!(err, RepoError::Conflict(ConflictKind::NameTaken)),
        "{err:?}"
    );
    let basic = fx.plan("Basic", "1").await;
    let renamed = plans.update(basic.id(), plan_spec("PRO", "1"), None).await;
    assert!(
        matches!(renamed, Err(RepoError::Conflict(ConflictKind::NameTaken))),
        "{renamed:?}"
    );
    assert_eq!(plans.get(basic.id()).await.unwrap().name(), "Basic");
    // Renaming a plan to its own name in another case is no clash.
    let same = plans
        .update(pro.id(), plan_spec("PRO", "1"), None)
        .await
        .unwrap();
    assert_eq!(same.name(), "PRO");
    assert_eq!(plans.list(true).await.unwrap().len(), 2);
}

pub async fn plan_default_flag_moves_and_stays_unique(repos: Repos) {
    let plans = &repos.plans;
    let a = plans.create(default_spec("A"), None).await.unwrap();
    let b = plans.create(default_spec("B"), None).await.unwrap();
    assert_eq!(
        plans.default_plan().await.unwrap().map(|p| p.id()),
        Some(b.id())
    );
    assert!(!plans.get(a.id()).await.unwrap().is_default());
    plans.update(a.id(), default_spec("A"), None).await.unwrap();
    assert_eq!(
        plans.default_plan().await.unwrap().map(|p| p.id()),
        Some(a.id())
    );
    let defaults = plans
        .list(true)
        .await
        .unwrap()
        .iter()
        .filter(|p| p.is_default())
        .count();
    assert_eq!(defaults, 1);
}

pub async fn plan_update_delete_and_version(repos: Repos) {
    let plans = &repos.plans;
    let v0 = plans.catalogue_version().await.unwrap();
    let plan = plans.create(plan_spec("Pro", "5"), None).await.unwrap();
    let v1 = plans.catalogue_version().await.unwrap();
    assert!(v1 > v0);
    let updated = plans
        .update(plan.id(), plan_spec("Pro Plus", "6"), None)
        .await
        .unwrap();
    assert_eq!(updated.name(), "Pro Plus");
    assert_eq!(updated.price().minor(), 600);
    assert_eq!(updated.created_at(), plan.created_at());
    let v2 = plans.catalogue_version().await.unwrap();
    assert!(v2 > v1);
    let missing = PlanId::new(999_999).unwrap();
    assert!(matches!(
        plans.update(missing, plan_spec("X", "1"), None).await,
        Err(RepoError::NotFound)
    ));
    assert_eq!(
        plans.catalogue_version().await.unwrap(),
        v2,
        "a refused write changes nothing"
    );
    plans.delete(plan.id(), None).await.unwrap();
    assert!(plans.catalogue_version().await.unwrap() > v2);
    assert!(matches!(
        plans.get(plan.id()).await,
        Err(RepoError::NotFound)
    ));
    assert!(matches!(
        plans.delete(plan.id(), None).await,
        Err(RepoError::NotFound)
    ));
}

pub async fn plans_referenced_by_orders_cannot_be_deleted(repos: Repos) {
    let fx = Fixture::new(repos);
    let plan = fx.plan("Pro", "5").await;
    let user = fx.user("buyer@example.com", "DE").await;
    let order = fx.order(
        &plan,
        tariff_domain::AccountRef::User(user),
        None,
        at(2026, 1, 1),
    );
    fx.repos.orders.insert_pending(order).await.unwrap();
    let refused = fx.repos.plans.delete(plan.id(), None).await;
    assert!(
        matches!(
            refused,
            Err(RepoError::Conflict(ConflictKind::StillReferenced {
                count: 1
            }))
        ),
        "{refused:?}"
    );
    assert_eq!(fx.repos.plans.get(plan.id()).await.unwrap(), plan);
}

pub async fn plan_import_upserts_by_name_with_one_audit_row_per_plan(repos: Repos) {
    let fx = Fixture::new(repos);
    let plans = &fx.repos.plans;
    let basic = fx.plan("Basic", "1").await;
    let entry = AuditEntry::new(
        Actor::Operator,
        AuditAction::PlanImport,
        TargetKind::Plan,
        None,
    );
    let outcome = plans
        .upsert_by_name(
            vec![plan_spec("basic", "2"), plan_spec("Pro", "9.99")],
            Some(entry),
        )
        .await
        .unwrap();
    assert_eq!((outcome.created, outcome.updated), (1, 1));
    let stored = plans.list(true).await.unwrap();
    assert_eq!(stored.len(), 2);
    let updated = plans.get(basic.id()).await.unwrap();
    assert_eq!((updated.name(), updated.price().minor()), ("basic", 200));
    assert_eq!(updated.created_at(), basic.created_at());
    let pro = stored.iter().find(|p| p.name() == "Pro").unwrap();

    let rows = fx
        .repos
        .audit
        .page(AuditFilter::default(), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(rows.total, 2);
    let for_basic = rows
        .items
        .iter()
        .find(|r| r.target_id == Some(basic.id().get()))
        .unwrap();
    assert_eq!(for_basic.action, "plan.import");
    assert_eq!(for_basic.before, Some(recorded(basic.audit_state())));
    assert_eq!(for_basic.after, Some(recorded(updated.audit_state())));
    let for_pro = rows
        .items
        .iter()
        .find(|r| r.target_id == Some(pro.id().get()))
        .unwrap();
    assert_eq!(for_pro.before, None);
    assert_eq!(for_pro.after, Some(recorded(pro.audit_state())));
}

pub async fn plan_pages_count_and_cut_in_id_order(repos: Repos) {
    let fx = Fixture::new(repos);
    let mut ids = Vec::new();
    for n in 0..12_u32 {
        let plan = fx
            .plan_with(&format!("P{n}"), |d| {
                d.price = format!("{}", 50 - n);
                d.hidden = n % 4 == 3;
            })
            .await;
        ids.push((plan.id(), plan.hidden()));
    }
    let visible: Vec<PlanId> = ids.iter().filter(|(_, h)| !h).map(|(id, _)| *id).collect();
    let all: Vec<PlanId> = ids.iter().map(|(id, _)| *id).collect();
    let plans = &fx.repos.plans;

    let page = plans
        .page_by_id(false, PageRequest::new(2, 5).unwrap())
        .await
        .unwrap();
    assert_eq!(page.total, 9);
    let got: Vec<PlanId> = page.items.iter().map(|p| p.id()).collect();
    assert_eq!(got, visible[5..9]);
    let page = plans
        .page_by_id(true, PageRequest::new(1, 100).unwrap())
        .await
        .unwrap();
    assert_eq!(page.total, 12);
    let got: Vec<PlanId> = page.items.iter().map(|p| p.id()).collect();
    assert_eq!(got, all);
    let past = plans
        .page_by_id(true, PageRequest::new(4, 5).unwrap())
        .await
        .unwrap();
    assert!(past.items.is_empty());
    assert_eq!(past.total, 12);
}

pub async fn plan_writes_store_their_audit_rows(repos: Repos) {
    let fx = Fixture::new(repos);
    let admin = fx.user("admin@example.com", "DE").await;
    let plans = &fx.repos.plans;
    let entry = |action| AuditEntry::new(Actor::User(admin), action, TargetKind::Plan, None);
    let created = plans
        .create(plan_spec("Pro", "5"), Some(entry(AuditAction::PlanCreate)))
        .await
        .unwrap();
    let updated = plans
        .update(
            created.id(),
            plan_spec("Pro", "6"),
            Some(entry(AuditAction::PlanUpdate).with_target_id(created.id().get())),
        )
        .await
        .unwrap();
    // A refused write stores no audit row.
    let clash = fx.plan("Other", "1").await;
    assert!(plans
        .update(
            clash.id(),
            plan_spec("pro", "1"),
            Some(entry(AuditAction::PlanUpdate).with_target_id(clash.id().get())),
        )
        .await
        .is_err());
    plans
        .delete(
            created.id(),
            Some(entry(AuditAction::PlanDelete).with_target_id(created.id().get())),
        )
        .await
        .unwrap();

    let page = fx
        .repos
        .audit
        .page(
            AuditFilter {
                target_kind: Some(TargetKind::Plan),
                target_id: Some(created.id().get()),
                actor: Some(admin),
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(page.total, 3);
    let actions: Vec<&str> = page.items.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, vec!["plan.delete", "plan.update", "plan.create"]);
    let (deleted, update, create) = (&page.items[0], &page.items[1], &page.items[2]);
    assert_eq!(create.before, None);
    assert_eq!(create.after, Some(recorded(created.audit_state())));
    assert_eq!(update.before, Some(recorded(created.audit_state())));
    assert_eq!(update.after, Some(recorded(updated.audit_state())));
    assert_eq!(deleted.before, Some(recorded(updated.audit_state())));
    assert_eq!(deleted.after, None);
    assert!(page.items.iter().all(|r| r.actor == Some(admin)));
}
