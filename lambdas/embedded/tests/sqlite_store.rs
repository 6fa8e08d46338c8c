//! The store conformance suite on the embedded SQLite adapter, plus its file-level behaviour.

use std::path::PathBuf;
use std::sync::Arc;

use ticket_core::{EventId, NewEvent, Store, conformance};
use ticket_embedded::SqliteStore;

async fn fresh_store() -> conformance::SharedStore {
    Arc::new(SqliteStore::open_in_memory().expect("open in-memory store"))
}

ticket_core::store_conformance_tests!(fresh_store());
ticket_core::reconcile_conformance_tests!(fresh_store());

/// A database file in a directory of its own, removed when dropped.
struct TempDb(PathBuf);

impl TempDb {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("ticketd-test-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn path(&self) -> PathBuf {
        self.0.join("ticketd.sqlite3")
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn data_survives_reopening_the_file_in_wal_mode() {
    let db = TempDb::new();
    let event = NewEvent {
        title: "Persisted".into(),
        venue: "Disk".into(),
        starts_at: Some(conformance::now() + chrono::TimeDelta::days(1)),
        capacity: 3,
        currency: "usd".into(),
        ..Default::default()
    }
    .validate(
        EventId::from(uuid::Uuid::now_v7()),
        "org".into(),
        conformance::now(),
    )
    .unwrap();
    SqliteStore::open(&db.path())
        .unwrap()
        .create_event(&event)
        .await
        .unwrap();

    let reopened = SqliteStore::open(&db.path()).unwrap();
    assert_eq!(reopened.schema_version().unwrap(), 2);
    assert_eq!(
        reopened.get_event(event.id).await.unwrap().unwrap().event,
        event
    );
    let mode: String = rusqlite::Connection::open(db.path())
        .unwrap()
        .pragma_query_value(None, "journal_mode", |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn a_database_from_a_newer_ticketd_is_refused() {
    let db = TempDb::new();
    rusqlite::Connection::open(db.path())
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let error = SqliteStore::open(&db.path()).err().expect("refused");
    assert!(error.to_string().contains("schema version 99"), "{error}");
}
