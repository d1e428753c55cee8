//! The port-contract suite on the in-memory adapter: every contract test on a fresh,
//! empty store.

use tariff_memory::MemoryStore;
use tariff_port_contract::Repos;

async fn fresh() -> Option<Repos> {
    Some(Repos::from_store(MemoryStore::new(), ()))
}

tariff_port_contract::contract_tests!(fresh);
