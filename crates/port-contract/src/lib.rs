//! The repository ports' contract as one suite of async test functions. Each adapter
//! runs the same functions on its own storage: the in-memory adapter
//! (`crates/memory/tests/contract.rs`), SQLite and PostgreSQL
//! (`crates/persistence/tests/contract.rs`). A test states what a port's documentation
//! promises (error variants, ordering, paging, atomicity, idempotency, gapless
//! numbering under concurrency, audit rows stored with their writes) using nothing but
//! the port traits, so an adapter passes only by keeping the contract.
//!
//! An adapter's test file builds a fresh, empty [`Repos`] per test and expands
//! [`contract_tests!`] with its factory, which makes every contract test its own
//! `#[tokio::test]`:
//!
//! ```text
//! async fn fresh() -> Option<Repos> { Some(Repos::from_store(MyStore::new(), ())) }
//! tariff_port_contract::contract_tests!(fresh);
//! ```
//!
//! A factory answers `None` to skip a backend that is not available (PostgreSQL without
//! `TEST_DATABASE_URL`); it should say so loudly.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test support: a panic is a failed test

mod billing;
mod catalogue;
mod fixtures;
mod identity;
mod lifecycle;
mod notes;
mod orders;
mod paging;
mod quota;
mod records;

use std::any::Any;
use std::sync::Arc;

use tariff_domain::audit::AuditRepository;
use tariff_domain::billing::{CouponRepository, CreditLedger, OrderPlacement};
use tariff_domain::catalogue::PlanRepository;
use tariff_domain::identity::{
    CallerResolver, MembershipRepository, SessionRepository, TokenRepository, UserRepository,
};
use tariff_domain::orders::{
    BillingDirectory, ChangeVersions, LifecycleStore, OrderActivation, OrderRepository,
    PastDueStore,
};
use tariff_domain::organisations::OrganisationRepository;
use tariff_domain::quota::QuotaRepository;
use tariff_domain::settings::SettingsRepository;
use tariff_domain::shared::HealthProbe;

pub use billing::*;
pub use catalogue::*;
pub use fixtures::Fixture;
pub use identity::*;
pub use lifecycle::*;
pub use notes::*;
pub use orders::*;
pub use paging::*;
pub use quota::*;
pub use records::*;

/// A typed audit snapshot as the log stores it and its page reads it back.
pub(crate) fn recorded(state: impl Into<tariff_domain::audit::AuditState>) -> serde_json::Value {
    serde_json::to_value(state.into()).expect("a snapshot is JSON")
}

/// Every repository port of one adapter, over one fresh, empty store.
#[derive(Clone)]
pub struct Repos {
    pub plans: Arc<dyn PlanRepository>,
    pub users: Arc<dyn UserRepository>,
    pub sessions: Arc<dyn SessionRepository>,
    pub tokens: Arc<dyn TokenRepository>,
    pub callers: Arc<dyn CallerResolver>,
    pub memberships: Arc<dyn MembershipRepository>,
    pub organisations: Arc<dyn OrganisationRepository>,
    pub quota: Arc<dyn QuotaRepository>,
    pub orders: Arc<dyn OrderRepository>,
    pub activation: Arc<dyn OrderActivation>,
    pub directory: Arc<dyn BillingDirectory>,
    pub lifecycle: Arc<dyn LifecycleStore>,
    pub past_due: Arc<dyn PastDueStore>,
    pub versions: Arc<dyn ChangeVersions>,
    pub settings: Arc<dyn SettingsRepository>,
    pub audit: Arc<dyn AuditRepository>,
    pub health: Arc<dyn HealthProbe>,
    pub coupons: Arc<dyn CouponRepository>,
    pub credit: Arc<dyn CreditLedger>,
    pub placement: Arc<dyn OrderPlacement>,
    /// Whatever keeps the store alive for the test (a temp dir, a schema guard).
    pub keep_alive: Arc<dyn Any + Send + Sync>,
}

/// Implemented by an adapter whose one type serves every port.
pub trait AllPorts:
    PlanRepository
    + UserRepository
    + SessionRepository
    + TokenRepository
    + CallerResolver
    + MembershipRepository
    + OrganisationRepository
    + QuotaRepository
    + OrderRepository
    + OrderActivation
    + BillingDirectory
    + LifecycleStore
    + PastDueStore
    + ChangeVersions
    + SettingsRepository
    + AuditRepository
    + HealthProbe
    + CouponRepository
    + CreditLedger
    + OrderPlacement
    + 'static
{
}

impl<T> AllPorts for T where
    T: PlanRepository
        + UserRepository
        + SessionRepository
        + TokenRepository
        + CallerResolver
        + MembershipRepository
        + OrganisationRepository
        + QuotaRepository
        + OrderRepository
        + OrderActivation
        + BillingDirectory
        + LifecycleStore
        + PastDueStore
        + ChangeVersions
        + SettingsRepository
        + AuditRepository
        + HealthProbe
        + CouponRepository
        + CreditLedger
        + OrderPlacement
        + 'static
{
}

impl Repos {
    /// Every port from one store that implements them all.
    pub fn from_store<S: AllPorts>(store: S, keep_alive: impl Any + Send + Sync) -> Repos {
        let store = Arc::new(store);
        Repos {
            plans: store.clone(),
            users: store.clone(),
            sessions: store.clone(),
            tokens: store.clone(),
            callers: store.clone(),
            memberships: store.clone(),
            organisations: store.clone(),
            quota: store.clone(),
            orders: store.clone(),
            activation: store.clone(),
            directory: store.clone(),
            lifecycle: store.clone(),
            past_due: store.clone(),
            versions: store.clone(),
            settings: store.clone(),
            audit: store.clone(),
            coupons: store.clone(),
            credit: store.clone(),
            placement: store.clone(),
            health: store,
            keep_alive: Arc::new(keep_alive),
        }
    }
}

/// Expands to one `#[tokio::test]` per contract test, each on a fresh store from
/// `$factory` (an `async fn() -> Option<Repos>`; `None` skips). The list is the suite:
/// a test function added to this crate is added here too.
#[macro_export]
macro_rules! contract_tests {
    (@each $factory:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if let Some(repos) = $factory().await {
                    $crate::$name(repos).await;
                }
            }
        )*
    };
    ($factory:path) => {
        $crate::contract_tests!(@each $factory;
            plans_starter_is_created_once_on_an_empty_catalogue,
            plans_round_trip_every_field_and_list_in_price_order,
            plan_names_are_unique_case_insensitively,
            plan_default_flag_moves_and_stays_unique,
            plan_update_delete_and_version,
            plans_referenced_by_orders_cannot_be_deleted,
            plan_import_upserts_by_name_with_one_audit_row_per_plan,
            plan_pages_count_and_cut_in_id_order,
            plan_writes_store_their_audit_rows,
            users_round_trip_and_keep_the_hash_apart,
            user_updates_keep_emails_unique,
            users_under_outside_ids_keep_them_and_generated_ids_continue_above,
            users_list_filters_by_email_and_pages,
            sessions_expire_and_a_new_password_ends_them,
            tokens_are_revoked_only_by_their_owner,
            organisations_start_with_their_owner,
            membership_writes_check_the_expected_role_and_the_owner_count,
            quota_limits_come_from_the_active_order_the_default_plan_and_overrides,
            quota_daily_counter_starts_from_zero_on_a_new_utc_day,
            quota_grants_stop_at_the_limit_and_releases_at_zero,
            quota_idempotency_key_counts_once_per_account,
            quota_concurrent_grants_never_pass_the_limit,
            quota_concurrent_retries_with_one_key_count_once,
            quota_writes_store_their_audit_rows,
            quota_counts_organisations_apart_from_their_members,
            orders_pending_round_trip_with_lines_and_tax,
            orders_refuse_unknown_accounts_and_plans,
            activation_numbers_replaces_and_freezes_the_snapshot,
            activation_audit_records_the_order_as_numbered,
            order_transitions_are_conditional,
            orders_list_and_search,
            orders_keep_the_customer_note_through_every_write,
            order_search_text_ignores_case,
            concurrent_activations_keep_one_active_order_and_consecutive_numbers,
            placement_redeems_and_spends_in_one_write_or_not_at_all,
            placement_schedules_changes_on_active_orders_only,
            concurrent_activations_of_many_accounts_number_without_gaps,
            lifecycle_writes_are_conditional_and_renewals_unique,
            lifecycle_renewals_come_in_chunks_and_are_stored_together,
            past_due_orders_run_on_until_their_grace_ends,
            change_versions_move_with_orders_and_memberships,
            billing_switch_is_stored_and_versioned,
            audit_pages_filter_newest_first,
            audit_pages_join_up_newest_first_from_either_end,
            health_probe_answers,
        );
    };
}
