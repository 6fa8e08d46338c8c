//! The store conformance suite on the embedded SQLite adapter, plus its file-level behaviour.

use std::path::PathBuf;
use std::sync::Arc;

use ticket_core::ticket_type::legacy_type_id;
use ticket_core::{EventId, HoldId, NewEvent, RandomIds, Seats, Store, TicketType, conformance};
use ticket_embedded::SqliteStore;
use ticket_embedded::sqlite::MIGRATIONS;

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
        price_minor: Some(0),
        currency: "usd".into(),
        ..Default::default()
    }
    .validate(
        EventId::from(uuid::Uuid::now_v7()),
        "org".into(),
        conformance::now(),
        &RandomIds,
    )
    .unwrap();
    SqliteStore::open(&db.path())
        .unwrap()
        .create_event(&event)
        .await
        .unwrap();

    let reopened = SqliteStore::open(&db.path()).unwrap();
    assert_eq!(
        reopened.schema_version().unwrap() as usize,
        MIGRATIONS.len()
    );
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

/// A database from before ticket types: each event becomes one type, named by the event's id
/// (as the other adapters read such an event), with its price, capacity and counts; its holds
/// and tickets are of that type and go on selling and admitting as before.
#[tokio::test]
async fn events_from_before_ticket_types_become_one_type_each() {
    let db = TempDb::new();
    let event_id = EventId::from(uuid::Uuid::now_v7());
    let hold_id = uuid::Uuid::now_v7();
    {
        let conn = rusqlite::Connection::open(db.path()).unwrap();
        for migration in &MIGRATIONS[..2] {
            conn.execute_batch(migration).unwrap();
        }
        conn.pragma_update(None, "user_version", 2).unwrap();
        conn.execute(
            "INSERT INTO events (id, organizer_id, title, description, venue, starts_at, \
             capacity, price_minor, currency, created_at, taken, sold, checked_in) \
             VALUES (?1, 'org', 'Old show', '', 'Hall', '2030-07-01T19:00:00.000Z', 3, 1500, \
             'EUR', '2030-05-01T00:00:00.000Z', 2, 1, 0)",
            [event_id.to_string()],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO holds (id, event_id, user_id, status, expires_at, created_at) \
             VALUES (?1, ?2, 'buyer', 'HELD', '2030-06-01T12:30:00.000Z', \
             '2030-06-01T12:00:00.000Z')",
            [hold_id.to_string(), event_id.to_string()],
        )
        .unwrap();
    }
    let store = SqliteStore::open(&db.path()).unwrap();
    assert_eq!(store.schema_version().unwrap() as usize, MIGRATIONS.len());
    let view = store.get_event(event_id).await.unwrap().unwrap();
    assert_eq!(
        view.version, 1,
        "an event from before edits is at its first"
    );
    assert_eq!(
        (view.event.time_zone.name(), view.event.ends_at),
        ("UTC", None),
        "an event from before time zones is shown in UTC"
    );
    assert_eq!(
        view.event.ticket_types,
        [TicketType::legacy(event_id, 1500, 3)]
    );
    let only = view.event.ticket_types[0].id;
    assert_eq!(only, legacy_type_id(event_id));
    assert_eq!(
        (view.type_seats(only).taken, view.type_seats(only).sold),
        (2, 1)
    );
    let hold = store
        .get_hold(event_id, HoldId::from(hold_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hold.seats, Seats::one(only));
    store.confirm_hold(event_id, hold.id).await.unwrap();
    let view = store.get_event(event_id).await.unwrap().unwrap();
    assert_eq!((view.seats.sold, view.type_seats(only).sold), (2, 2));
}
