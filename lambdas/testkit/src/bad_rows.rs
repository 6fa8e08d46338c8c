//! What the bad-row tests share on both adapters (`lambdas/embedded/tests/sqlite_bad_rows.rs`,
//! `lambdas/cloud/tests/dynamodb_bad_items.rs`): the log they capture, the events they store
//! and a walk over every page of a list.

use std::io::Write;
use std::sync::{Arc, LazyLock, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use ticket_core::time::to_millis;
use ticket_core::{Event, EventId, EventView, Page, PageRequest, StoreError, TicketType, UserId};
use uuid::Uuid;

/// Everything this test process logs.
static LOG: LazyLock<Arc<Mutex<Vec<u8>>>> = LazyLock::new(|| {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || Sink(sink.clone()))
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
    log
});

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// From here on, everything logged is kept for [`logged_about`].
pub fn capture_log() {
    LazyLock::force(&LOG);
}

/// The error lines logged about `key`.
pub fn logged_about(key: &str) -> Vec<String> {
    let log = LOG.lock().unwrap();
    String::from_utf8_lossy(&log)
        .lines()
        .filter(|line| line.contains("ERROR") && line.contains(key))
        .map(str::to_owned)
        .collect()
}

/// A free five-seat event of `organizer`'s, `day` days after `now`, titled "Day {day}".
pub fn event(organizer: &str, now: DateTime<Utc>, day: i64) -> Event {
    let id = EventId::from(Uuid::now_v7());
    Event {
        id,
        organizer_id: UserId::from(organizer),
        title: format!("Day {day}"),
        description: String::new(),
        venue: "Hall".into(),
        starts_at: to_millis(now + TimeDelta::days(day)),
        ends_at: None,
        time_zone: ticket_core::Tz::UTC,
        cancellation_cutoff_hours: None,
        capacity: 5,
        currency: "EUR".parse().unwrap(),
        ticket_types: vec![TicketType::legacy(id, 0, 5)],
        created_at: to_millis(now),
    }
}

/// Every page of a list, `limit` at a time: every page but the last is full.
pub async fn every_page<T, F, Fut>(limit: u32, list: F) -> Vec<T>
where
    F: Fn(PageRequest) -> Fut,
    Fut: Future<Output = Result<Page<T>, StoreError>>,
{
    let mut items = Vec::new();
    let mut page = PageRequest::first(limit);
    loop {
        let Page {
            items: got,
            next_cursor,
        } = list(page).await.expect("a list never fails");
        assert!(got.len() <= limit as usize);
        let full = got.len() == limit as usize;
        items.extend(got);
        match next_cursor {
            Some(cursor) => {
                assert!(full, "a page short of items before the last");
                page = PageRequest::after(limit, cursor);
            }
            None => return items,
        }
    }
}

pub fn titles(views: &[EventView]) -> Vec<String> {
    views.iter().map(|view| view.event.title.clone()).collect()
}
