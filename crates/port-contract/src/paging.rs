//! Deep pages: every page of a log, whichever end a store reads it from, joins up into
//! the one newest-first order, with nothing missing or repeated.

use tariff_domain::audit::{Actor, AuditAction, AuditEntry, AuditFilter, TargetKind};
use tariff_domain::PageRequest;

use crate::fixtures::Fixture;
use crate::Repos;

pub async fn audit_pages_join_up_newest_first_from_either_end(repos: Repos) {
    let fx = Fixture::new(repos);
    for n in 0..11 {
        let entry = AuditEntry::new(
            Actor::Operator,
            AuditAction::SettingsUpdate,
            TargetKind::Settings,
            None,
        );
        fx.repos
            .settings
            .set_billing_enabled(n % 2 == 0, Some(entry))
            .await
            .unwrap();
    }
    let audit = &fx.repos.audit;
    let all = audit
        .page(AuditFilter::default(), PageRequest::new(1, 100).unwrap())
        .await
        .unwrap();
    let newest_first: Vec<i64> = all.items.iter().map(|r| r.id).collect();
    assert_eq!(newest_first.len(), 11);
    assert!(newest_first.windows(2).all(|w| w[0] > w[1]));
    for per_page in [1, 2, 3, 4, 5, 10, 11, 12] {
        let mut joined = Vec::new();
        for page in 1..=(11 / per_page + 2) {
            let got = audit
                .page(
                    AuditFilter::default(),
                    PageRequest::new(page, per_page).unwrap(),
                )
                .await
                .unwrap();
            assert_eq!(got.total, 11);
            let expected = newest_first
                .iter()
                .skip(usize::try_from((page - 1) * per_page).unwrap())
                .take(usize::try_from(per_page).unwrap())
                .count();
            assert_eq!(got.items.len(), expected, "page {page} of {per_page}");
            joined.extend(got.items.iter().map(|r| r.id));
        }
        assert_eq!(joined, newest_first, "{per_page} per page");
    }
}
