//! A handful of generated valid events through the real API handlers on the DynamoDB store
//! (moto): each created, then read back unchanged through every read route without a 5xx. The
//! SQLite twin (`lambdas/embedded/tests/event_properties.rs`) runs many more.

use ticket_testkit::moto;

use ticket_testkit::event_properties as properties;

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use proptest::prelude::*;

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
});

static NOW: LazyLock<DateTime<Utc>> = LazyLock::new(Utc::now);

proptest! {
    // Each case makes its own table on moto: a handful is what the time allows.
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn generated_events_read_back_unchanged_through_every_route(
        events in proptest::collection::vec(properties::event(*NOW), 1..=3),
        limit in 1usize..=2,
    ) {
        let now = *NOW;
        RUNTIME.block_on(async {
            let ports = properties::ports(moto::fresh_store().await, now);
            properties::create_and_read_back(&ports, now, &events, limit).await;
        });
    }
}
