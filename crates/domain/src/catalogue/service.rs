//! The plan catalogue use cases: list, read, create, change, delete, import.

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use crate::audit::entry::{Actor, AuditAction, AuditEntry, TargetKind};
use crate::catalogue::plan::{Plan, PlanDraft, PlanPatch, PlanSpec, PlanValidationError};
use crate::catalogue::ports::{ImportOutcome, PlanRepository};
use crate::shared::ids::PlanId;
use crate::shared::pagination::{Page, PageRequest};
use crate::shared::repo::{ConflictKind, RepoError, StoreFailure};

/// Errors of the catalogue use cases.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// Plan not found.
    #[error("plan {0} not found")]
    NotFound(PlanId),
    /// Invalid.
    #[error(transparent)]
    Invalid(#[from] PlanValidationError),
    /// The store refused the write; worded for plans (a taken name, a default moved
    /// meanwhile, orders still referring to the plan).
    #[error("{}", plan_conflict(*.0))]
    Conflict(ConflictKind),
    /// The store failed: unreachable, or broken.
    #[error("catalogue failure")]
    Store(#[from] StoreFailure),
}

/// A refused catalogue write, in the catalogue's words.
fn plan_conflict(kind: ConflictKind) -> String {
    match kind {
        ConflictKind::NameTaken => "a plan with that name already exists".to_owned(),
        ConflictKind::RaceLost => "another plan became the default at the same time".to_owned(),
        ConflictKind::StillReferenced { count } => {
            format!("{count} order(s) reference this plan; hide it instead")
        }
        other => other.to_string(),
    }
}

/// An import file's plan failed validation; names the plan by position and name.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    // The problem is part of the message and deliberately not a `source`: error
    // chains (`{:#}`) would print it twice.
    /// Invalid plan.
    #[error("plan #{position} ({name}): {problem}")]
    InvalidPlan {
        /// Position.
        position: usize,
        /// Name.
        name: String,
        /// Problem.
        problem: PlanValidationError,
    },
    /// Duplicate name.
    #[error("plan #{position} ({name}): name appears twice in the file")]
    DuplicateName {
        /// The plan's position in the file, from 1.
        position: usize,
        /// The repeated name.
        name: String,
    },
    /// Several defaults.
    #[error("the file marks more than one plan as default ({first} and {second})")]
    SeveralDefaults {
        /// The first plan marked default.
        first: String,
        /// Another plan marked default.
        second: String,
    },
    /// Store.
    #[error(transparent)]
    Store(CatalogueError),
}

impl CatalogueError {
    fn from_repo(err: RepoError, id: Option<PlanId>) -> CatalogueError {
        match (err, id) {
            (RepoError::NotFound, Some(id)) => CatalogueError::NotFound(id),
            (RepoError::Conflict(kind), _) => CatalogueError::Conflict(kind),
            (err, _) => CatalogueError::Store(err.into()),
        }
    }
}

/// Reads and changes the plan catalogue.
#[derive(Clone)]
pub struct CatalogueService {
    plans: Arc<dyn PlanRepository>,
    freshness: Arc<Freshness>,
}

/// What caches of the catalogue compare to know whether they are current: the database's
/// catalogue version as last polled (changes made by any instance) and a local counter
/// bumped by every write through this process (so a writer reads its own writes at once).
#[derive(Debug, Default)]
struct Freshness {
    polled_version: AtomicI64,
    local_writes: AtomicU64,
}

/// An opaque token: equal tokens mean the catalogue has not changed in between.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CatalogueStamp(i64, u64);

impl CatalogueService {
    /// Builds the service on the ports it needs.
    pub fn new(plans: Arc<dyn PlanRepository>) -> Self {
        Self {
            plans,
            freshness: Arc::new(Freshness::default()),
        }
    }

    /// The current freshness stamp; cheap (two atomic loads), for per-request cache checks.
    pub fn stamp(&self) -> CatalogueStamp {
        CatalogueStamp(
            self.freshness.polled_version.load(Ordering::Acquire),
            self.freshness.local_writes.load(Ordering::Acquire),
        )
    }

    /// Reads the shared catalogue version from the database; call it periodically (the
    /// app does, every 250 ms) so changes made by other instances reach caches quickly.
    pub async fn poll_version(&self) -> Result<(), CatalogueError> {
        let version = self.catalogue_version().await?;
        self.freshness
            .polled_version
            .store(version, Ordering::Release);
        Ok(())
    }

    fn wrote<T>(&self, result: Result<T, CatalogueError>) -> Result<T, CatalogueError> {
        // Bump even on failure: a failed write may have been half-seen; rebuilding is cheap.
        self.freshness.local_writes.fetch_add(1, Ordering::AcqRel);
        result
    }

    /// Plans the public sees: not hidden, price ascending, ties by id.
    pub async fn list_public(&self) -> Result<Vec<Plan>, CatalogueError> {
        self.list(false).await
    }

    /// Every plan, hidden ones included, in catalogue order.
    pub async fn list(&self, include_hidden: bool) -> Result<Vec<Plan>, CatalogueError> {
        let mut plans = self
            .plans
            .list(include_hidden)
            .await
            .map_err(|e| CatalogueError::from_repo(e, None))?;
        plans.sort_by(Plan::catalogue_order);
        Ok(plans)
    }

    /// One page of the catalogue in id order (the packages dialect's order), with the
    /// total of all plans the caller may see. Hidden plans count only when `include_hidden`.
    pub async fn page_by_id(
        &self,
        include_hidden: bool,
        request: PageRequest,
    ) -> Result<Page<Plan>, CatalogueError> {
        self.plans
            .page_by_id(include_hidden, request)
            .await
            .map_err(|e| CatalogueError::from_repo(e, None))
    }

    /// One plan. Hidden plans are found only when `include_hidden`.
    pub async fn get(&self, id: PlanId, include_hidden: bool) -> Result<Plan, CatalogueError> {
        let plan = self
            .plans
            .get(id)
            .await
            .map_err(|e| CatalogueError::from_repo(e, Some(id)))?;
        if plan.hidden() && !include_hidden {
            return Err(CatalogueError::NotFound(id));
        }
        Ok(plan)
    }

    /// Adds a plan; audited as `plan.create` by `actor`.
    pub async fn create(&self, draft: PlanDraft, actor: Actor) -> Result<Plan, CatalogueError> {
        let spec = PlanSpec::new(draft)?;
        let audit = AuditEntry::new(actor, AuditAction::PlanCreate, TargetKind::Plan, None);
        let created = self.plans.create(spec, Some(audit)).await;
        self.wrote(created.map_err(|e| CatalogueError::from_repo(e, None)))
    }

    /// Changes the named fields of a plan and validates the result as a whole.
    /// Audited as `plan.update` by `actor`.
    pub async fn update(
        &self,
        id: PlanId,
        patch: PlanPatch,
        actor: Actor,
    ) -> Result<Plan, CatalogueError> {
        let current = self.get(id, true).await?;
        let mut draft = current.spec().to_draft();
        patch.apply_to(&mut draft);
        let spec = PlanSpec::new(draft)?;
        let audit = AuditEntry::new(
            actor,
            AuditAction::PlanUpdate,
            TargetKind::Plan,
            Some(id.get()),
        );
        let updated = self.plans.update(id, spec, Some(audit)).await;
        self.wrote(updated.map_err(|e| CatalogueError::from_repo(e, Some(id))))
    }

    /// Deletes a plan no order references; hiding is how a sold plan is retired.
    /// Audited as `plan.delete` by `actor`.
    pub async fn delete(&self, id: PlanId, actor: Actor) -> Result<(), CatalogueError> {
        let audit = AuditEntry::new(
            actor,
            AuditAction::PlanDelete,
            TargetKind::Plan,
            Some(id.get()),
        );
        let deleted = self.plans.delete(id, Some(audit)).await;
        self.wrote(deleted.map_err(|e| CatalogueError::from_repo(e, Some(id))))
    }

    /// Validates every draft first, then upserts all by name in one transaction:
    /// one bad plan rejects the whole file and nothing changes.
    /// Audited as one `plan.import` row per plan, by `actor`.
    pub async fn import(
        &self,
        drafts: Vec<PlanDraft>,
        actor: Actor,
    ) -> Result<ImportOutcome, ImportError> {
        let mut specs = Vec::with_capacity(drafts.len());
        let mut names = HashSet::new();
        let mut default_name: Option<String> = None;
        for (index, draft) in drafts.into_iter().enumerate() {
            let position = index + 1;
            let name = draft.name.trim().to_owned();
            let spec = PlanSpec::new(draft).map_err(|problem| ImportError::InvalidPlan {
                position,
                name: name.clone(),
                problem,
            })?;
            if !names.insert(spec.name().to_lowercase()) {
                return Err(ImportError::DuplicateName { position, name });
            }
            if spec.is_default() {
                if let Some(first) = default_name.replace(name.clone()) {
                    return Err(ImportError::SeveralDefaults {
                        first,
                        second: name,
                    });
                }
            }
            specs.push(spec);
        }
        self.wrote(
            self.plans
                .upsert_by_name(
                    specs,
                    Some(AuditEntry::new(
                        actor,
                        AuditAction::PlanImport,
                        TargetKind::Plan,
                        None,
                    )),
                )
                .await
                .map_err(|e| CatalogueError::from_repo(e, None)),
        )
        .map_err(ImportError::Store)
    }

    /// On an empty database, creates the Free starter plan so the service is usable at once.
    pub async fn ensure_starter_plan(&self) -> Result<bool, CatalogueError> {
        self.wrote(
            self.plans
                .create_if_catalogue_empty(PlanSpec::starter_free())
                .await
                .map_err(|e| CatalogueError::from_repo(e, None)),
        )
    }

    /// The catalogue version.
    pub async fn catalogue_version(&self) -> Result<i64, CatalogueError> {
        self.plans
            .catalogue_version()
            .await
            .map_err(|e| CatalogueError::from_repo(e, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::ports::MockPlanRepository;
    use chrono::Utc;

    fn plan(id: i64, name: &str, price: &str, hidden: bool) -> Plan {
        let spec = PlanSpec::new(PlanDraft {
            name: name.into(),
            price: price.into(),
            hidden,
            ..PlanDraft::default()
        })
        .unwrap();
        Plan::new(PlanId::new(id).unwrap(), spec, Utc::now())
    }

    #[tokio::test]
    async fn list_is_in_price_order_with_ties_by_id() {
        let mut repo = MockPlanRepository::new();
        repo.expect_list().returning(|_| {
            Ok(vec![
                plan(3, "C", "5", false),
                plan(1, "A", "9.99", false),
                plan(2, "B", "5", false),
            ])
        });
        let service = CatalogueService::new(Arc::new(repo));
        let ids: Vec<i64> = service
            .list_public()
            .await
            .unwrap()
            .iter()
            .map(|p| p.id().get())
            .collect();
        assert_eq!(ids, vec![2, 3, 1]);
    }

    #[tokio::test]
    async fn pages_pass_the_request_and_the_hidden_flag_to_storage() {
        let mut repo = MockPlanRepository::new();
        let request = PageRequest::new(2, 7).unwrap();
        repo.expect_page_by_id()
            .withf(move |hidden, r| !*hidden && *r == request)
            .times(1)
            .returning(|_, _| Ok(Page::new(vec![plan(8, "H", "1", false)], 8)));
        repo.expect_page_by_id()
            .withf(|hidden, _| *hidden)
            .times(1)
            .returning(|_, _| Err(RepoError::Unavailable("down".into())));
        let service = CatalogueService::new(Arc::new(repo));
        let page = service.page_by_id(false, request).await.unwrap();
        assert_eq!((page.items.len(), page.total), (1, 8));
        assert!(matches!(
            service.page_by_id(true, request).await,
            Err(CatalogueError::Store(failure)) if failure.is_unavailable()
        ));
    }

    #[tokio::test]
    async fn hidden_plan_is_not_found_publicly() {
        let mut repo = MockPlanRepository::new();
        repo.expect_get()
            .returning(|_| Ok(plan(4, "Secret", "1", true)));
        let service = CatalogueService::new(Arc::new(repo));
        let id = PlanId::new(4).unwrap();
        assert!(matches!(
            service.get(id, false).await,
            Err(CatalogueError::NotFound(_))
        ));
        assert!(service.get(id, true).await.is_ok());
    }

    #[tokio::test]
    async fn import_rejects_the_whole_file_before_touching_storage() {
        let mut repo = MockPlanRepository::new();
        repo.expect_upsert_by_name().never();
        let service = CatalogueService::new(Arc::new(repo));
        let drafts = vec![
            PlanDraft {
                name: "Good".into(),
                ..PlanDraft::default()
            },
            PlanDraft {
                name: "Bad".into(),
                price: "1.001".into(),
                ..PlanDraft::default()
            },
        ];
        match service.import(drafts, Actor::Operator).await {
            Err(ImportError::InvalidPlan {
                position,
                name,
                problem,
            }) => {
                assert_eq!(
                    (position, name.as_str(), problem.field),
                    (2, "Bad", "price")
                );
            }
            other => panic!("expected InvalidPlan, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn import_rejects_two_defaults_and_duplicate_names() {
        let repo = MockPlanRepository::new();
        let service = CatalogueService::new(Arc::new(repo));
        let two_defaults = vec![
            PlanDraft {
                name: "A".into(),
                is_default: true,
                ..PlanDraft::default()
            },
            PlanDraft {
                name: "B".into(),
                is_default: true,
                ..PlanDraft::default()
            },
        ];
        assert!(matches!(
            service.import(two_defaults, Actor::Operator).await,
            Err(ImportError::SeveralDefaults { .. })
        ));
        let duplicate = vec![
            PlanDraft {
                name: "A".into(),
                ..PlanDraft::default()
            },
            PlanDraft {
                name: "a".into(),
                ..PlanDraft::default()
            },
        ];
        assert!(matches!(
            service.import(duplicate, Actor::Operator).await,
            Err(ImportError::DuplicateName { position: 2, .. })
        ));
    }

    #[tokio::test]
    async fn writes_and_polls_change_the_stamp() {
        let mut repo = MockPlanRepository::new();
        repo.expect_delete()
            .withf(|id, audit| {
                audit.as_ref().is_some_and(|a| {
                    a.action() == AuditAction::PlanDelete && a.target_id() == Some(id.get())
                })
            })
            .returning(|_, _| Ok(()));
        repo.expect_catalogue_version().returning(|| Ok(42));
        let service = CatalogueService::new(Arc::new(repo));
        let before = service.stamp();
        assert_eq!(service.stamp(), before, "reading changes nothing");
        service
            .delete(PlanId::new(1).unwrap(), Actor::Operator)
            .await
            .unwrap();
        let after_write = service.stamp();
        assert_ne!(after_write, before);
        service.poll_version().await.unwrap();
        assert_ne!(service.stamp(), after_write);
    }

    #[tokio::test]
    async fn unavailable_database_stays_distinguishable() {
        let mut repo = MockPlanRepository::new();
        repo.expect_list()
            .returning(|_| Err(RepoError::Unavailable("pool timed out".into())));
        let service = CatalogueService::new(Arc::new(repo));
        assert!(matches!(
            service.list_public().await,
            Err(CatalogueError::Store(failure)) if failure.is_unavailable()
        ));
    }
}
