//! The store and reconciliation conformance suites on the in-memory store.

use std::sync::Arc;

use ticket_core::conformance;
use ticket_core::testing::MemoryStore;

async fn fresh_store() -> conformance::SharedStore {
    Arc::new(MemoryStore::new())
}

ticket_core::store_conformance_tests!(fresh_store());
ticket_core::reconcile_conformance_tests!(fresh_store());
