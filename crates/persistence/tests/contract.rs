//! The port-contract suite on the diesel adapter: every contract test on a fresh SQLite
//! file (in a temp dir, never `:memory:`) and, when `TEST_DATABASE_URL` is set, on a
//! fresh PostgreSQL schema. Without it the PostgreSQL half is skipped, and says so.

use tariff_persistence::testing::TestDatabase;
use tariff_persistence::{
    Database, DieselAuditRepository, DieselCouponRepository, DieselCreditLedger, DieselIdentity,
    DieselOrderRepository, DieselOrganisations, DieselPlanRepository, DieselQuotaRepository,
    DieselSettingsRepository, DieselUsers, PoolOptions,
};
use tariff_port_contract::Repos;

use std::sync::Arc;

/// Every port over one migrated database; `test_db` is kept alive with them.
async fn repos_on(test_db: TestDatabase) -> Repos {
    let db = Database::connect(test_db.url(), &PoolOptions::default())
        .unwrap_or_else(|e| panic!("connect {:?}: {e}", test_db.backend()));
    db.migrate()
        .await
        .unwrap_or_else(|e| panic!("migrate {:?}: {e}", test_db.backend()));
    let identity = Arc::new(DieselIdentity::new(db.clone()));
    let orders = Arc::new(DieselOrderRepository::new(db.clone()));
    Repos {
        plans: Arc::new(DieselPlanRepository::new(db.clone())),
        users: Arc::new(DieselUsers::new(db.clone())),
        sessions: identity.clone(),
        tokens: identity.clone(),
        callers: identity.clone(),
        memberships: identity,
        organisations: Arc::new(DieselOrganisations::new(db.clone())),
        quota: Arc::new(DieselQuotaRepository::new(db.clone())),
        orders: orders.clone(),
        activation: orders.clone(),
        directory: orders.clone(),
        lifecycle: orders.clone(),
        past_due: orders.clone(),
        versions: orders.clone(),
        settings: Arc::new(DieselSettingsRepository::new(db.clone())),
        audit: Arc::new(DieselAuditRepository::new(db.clone())),
        coupons: Arc::new(DieselCouponRepository::new(db.clone())),
        credit: Arc::new(DieselCreditLedger::new(db.clone())),
        placement: orders.clone(),
        health: Arc::new(db),
        keep_alive: Arc::new(test_db),
    }
}

mod sqlite {
    async fn fresh() -> Option<tariff_port_contract::Repos> {
        Some(super::repos_on(super::TestDatabase::sqlite()).await)
    }

    tariff_port_contract::contract_tests!(fresh);
}

mod postgres {
    async fn fresh() -> Option<tariff_port_contract::Repos> {
        // Without `TEST_DATABASE_URL` this is `None`, announced once past the harness.
        let db = super::TestDatabase::postgres()?;
        Some(super::repos_on(db).await)
    }

    tariff_port_contract::contract_tests!(fresh);
}
