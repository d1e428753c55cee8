//! Change versions, settings, the audit log's paging and the health probe.

use std::collections::BTreeMap;

use chrono::Utc;
use tariff_domain::audit::{Actor, AuditAction, AuditEntry, AuditFilter, TargetKind};
use tariff_domain::identity::OrgRole;
use tariff_domain::orders::freshness::{shard_of, SHARDS};
use tariff_domain::orders::OrderStatus;
use tariff_domain::{AccountRef, PageRequest};

use crate::fixtures::{at, Fixture};
use crate::Repos;

async fn versions(repos: &Repos) -> BTreeMap<usize, i64> {
    repos
        .versions
        .shard_versions()
        .await
        .unwrap()
        .into_iter()
        .map(|(shard, version)| (usize::try_from(shard).unwrap(), version))
        .collect()
}

pub async fn change_versions_move_with_orders_and_memberships(repos: Repos) {
    let fx = Fixture::new(repos);
    let pro = fx.plan("Pro", "9.99").await;
    let owner = fx.user("o@example.com", "DE").await;
    let member = fx.user("m@example.com", "DE").await;
    let org = fx.org("Acme", owner).await;
    let start = versions(&fx.repos).await;
    assert_eq!(start.len(), SHARDS);
    assert_eq!(
        start.keys().copied().collect::<Vec<_>>(),
        (0..SHARDS).collect::<Vec<_>>()
    );

    let account = AccountRef::Org(org);
    let order = fx
        .repos
        .orders
        .insert_pending(fx.order(&pro, account, Some(owner), at(2026, 1, 1)))
        .await
        .unwrap();
    let after_insert = versions(&fx.repos).await;
    assert!(after_insert[&shard_of(account)] > start[&shard_of(account)]);
    fx.repos
        .orders
        .transition(
            order.id(),
            OrderStatus::Pending,
            OrderStatus::Cancelled,
            at(2026, 1, 2),
            None,
        )
        .await
        .unwrap();
    let after_cancel = versions(&fx.repos).await;
    assert!(after_cancel[&shard_of(account)] > after_insert[&shard_of(account)]);

    // A membership change moves the member's shard: it changes whose orders they see.
    let seen_by = AccountRef::User(member);
    fx.repos
        .organisations
        .set_member_role(org, member, OrgRole::Admin, None, Utc::now())
        .await
        .unwrap();
    let after_join = versions(&fx.repos).await;
    assert!(after_join[&shard_of(seen_by)] > after_cancel[&shard_of(seen_by)]);
    fx.repos
        .organisations
        .remove_member(org, member, OrgRole::Admin)
        .await
        .unwrap();
    let after_leave = versions(&fx.repos).await;
    assert!(after_leave[&shard_of(seen_by)] > after_join[&shard_of(seen_by)]);
    // Reads change nothing.
    fx.repos.orders.get(order.id()).await.unwrap();
    assert_eq!(versions(&fx.repos).await, after_leave);
}

pub async fn billing_switch_is_stored_and_versioned(repos: Repos) {
    let settings = &repos.settings;
    assert!(
        settings.billing_enabled().await.unwrap(),
        "on until written"
    );
    let before = settings.settings_version().await.unwrap();
    let entry = AuditEntry::new(
        Actor::Operator,
        AuditAction::SettingsUpdate,
        TargetKind::Settings,
        None,
    );
    let after = settings
        .set_billing_enabled(false, Some(entry))
        .await
        .unwrap();
    assert_eq!(after, before + 1);
    assert_eq!(settings.settings_version().await.unwrap(), after);
    assert!(!settings.billing_enabled().await.unwrap());
    let again = settings.set_billing_enabled(true, None).await.unwrap();
    assert!(again > after);
    assert!(settings.billing_enabled().await.unwrap());
    let rows = repos
        .audit
        .page(AuditFilter::default(), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(rows.total, 1);
    let row = &rows.items[0];
    assert_eq!(
        (row.action.as_str(), row.target_kind.as_str()),
        ("settings.update", "settings")
    );
    assert_eq!(
        row.before,
        Some(serde_json::json!({"billingEnabled": true}))
    );
    assert_eq!(
        row.after,
        Some(serde_json::json!({"billingEnabled": false}))
    );
}

pub async fn audit_pages_filter_newest_first(repos: Repos) {
    let fx = Fixture::new(repos);
    let admin = fx.user("admin@example.com", "DE").await;
    let settings = &fx.repos.settings;
    let started = Utc::now() - chrono::TimeDelta::seconds(5);
    for n in 0..7 {
        let actor = if n % 2 == 0 {
            Actor::User(admin)
        } else {
            Actor::Operator
        };
        let entry = AuditEntry::new(
            actor,
            AuditAction::SettingsUpdate,
            TargetKind::Settings,
            None,
        );
        settings
            .set_billing_enabled(n % 2 == 0, Some(entry))
            .await
            .unwrap();
    }
    let audit = &fx.repos.audit;
    let first = audit
        .page(AuditFilter::default(), PageRequest::new(1, 3).unwrap())
        .await
        .unwrap();
    assert_eq!((first.total, first.items.len()), (7, 3));
    let second = audit
        .page(AuditFilter::default(), PageRequest::new(3, 3).unwrap())
        .await
        .unwrap();
    assert_eq!((second.total, second.items.len()), (7, 1));
    let ids: Vec<i64> = first
        .items
        .iter()
        .chain(&second.items)
        .map(|r| r.id)
        .collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    assert!(first.items.iter().all(|r| r.at >= started));
    let by_admin = audit
        .page(
            AuditFilter {
                actor: Some(admin),
                ..AuditFilter::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(by_admin.total, 4);
    assert!(by_admin.items.iter().all(|r| r.actor == Some(admin)));
    let plans = audit
        .page(
            AuditFilter {
                target_kind: Some(TargetKind::Plan),
                ..AuditFilter::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!((plans.total, plans.items.len()), (0, 0));
    let past = audit
        .page(AuditFilter::default(), PageRequest::new(9, 3).unwrap())
        .await
        .unwrap();
    assert_eq!((past.total, past.items.len()), (7, 0));
}

pub async fn health_probe_answers(repos: Repos) {
    repos.health.ping().await.unwrap();
    // The probe is a round trip, not a one-off: it answers again.
    repos.health.ping().await.unwrap();
}
