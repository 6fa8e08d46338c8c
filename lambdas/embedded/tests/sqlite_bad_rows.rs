//! Rows the SQLite store cannot read (written around it, with raw SQL) are logged with their
//! table and key and skipped by every list, which still pages correctly; a single read of one is
//! a clear error, and every other row reads as before.

use ticket_testkit::bad_rows;

use bad_rows::{event, every_page, logged_about, titles};
use chrono::{TimeDelta, Utc};
use rusqlite::Connection;
use tempfile::TempDir;
use ticket_core::time::to_millis;
use ticket_core::{
    Attendee, Event, HoldId, NewHold, NewTickets, Order, OrderId, OrderStatus, RegistrationId,
    Seats, Store, StoreError, Ticket, TicketDraft, TicketId, UserId, Visibility,
};
use ticket_embedded::SqliteStore;
use uuid::Uuid;

/// A store in a directory of its own, and a raw connection to its file.
fn store() -> (TempDir, SqliteStore, Connection) {
    bad_rows::capture_log();
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("ticketd.sqlite3");
    let store = SqliteStore::open(&path).unwrap();
    let raw = Connection::open(&path).unwrap();
    raw.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    (dir, store, raw)
}

#[tokio::test]
async fn event_lists_skip_rows_that_cannot_be_read() {
    let (_dir, store, raw) = store();
    let now = Utc::now();
    let organizer = "org-bad-rows";
    let events: Vec<Event> = (1..=7).map(|day| event(organizer, now, day)).collect();
    for event in &events {
        store.create_event(event).await.unwrap();
        store
            .set_visibility(event.id, Visibility::Published)
            .await
            .unwrap();
    }
    // Days 2 and 3 (side by side), 5 and 7 (the last) cannot be read, each for another reason:
    // a capacity that is text, a created_at that is no instant, a title that is not UTF-8, an
    // unknown currency.
    let bad = [
        (1, "UPDATE events SET capacity = 'many' WHERE id = ?1"),
        (
            2,
            "UPDATE events SET created_at = 'yesterday' WHERE id = ?1",
        ),
        (
            4,
            "UPDATE events SET title = CAST(X'FFFE' AS TEXT) WHERE id = ?1",
        ),
        (6, "UPDATE events SET currency = 'XYZ' WHERE id = ?1"),
    ];
    for (index, sql) in bad {
        assert_eq!(raw.execute(sql, [events[index].id.to_string()]).unwrap(), 1);
    }
    for limit in [1, 2, 3, 10] {
        let mine = every_page(limit, |page| {
            let (store, organizer) = (&store, UserId::from(organizer));
            async move { store.list_organizer_events(&organizer, &page).await }
        })
        .await;
        assert_eq!(titles(&mine), ["Day 1", "Day 4", "Day 6"], "limit {limit}");
        let upcoming = every_page(limit, |page| {
            let store = &store;
            async move { store.list_upcoming_events(now, &page).await }
        })
        .await;
        assert_eq!(
            titles(&upcoming),
            ["Day 1", "Day 4", "Day 6"],
            "limit {limit}"
        );
    }
    for (index, _) in bad {
        let id = events[index].id;
        let Err(StoreError::Internal(message)) = store.get_event(id).await else {
            panic!("reading the bad event {id} must be an internal error");
        };
        assert!(
            message.contains(&format!("the events row {id} cannot be read")),
            "{message}"
        );
        let lines = logged_about(&id.to_string());
        assert!(
            lines
                .iter()
                .any(|line| line.contains("skipped a stored row")
                    && line.contains("table=\"events\"")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|line| line.contains("a stored row cannot be read")),
            "{lines:?}"
        );
    }
    let good = store.get_event(events[3].id).await.unwrap().unwrap();
    assert_eq!(good.event, events[3]);
}

#[tokio::test]
async fn ticket_lists_skip_rows_that_cannot_be_read() {
    let (_dir, store, raw) = store();
    let now = to_millis(Utc::now());
    let show = event("org-bad-tickets", now, 3);
    store.create_event(&show).await.unwrap();
    let buyer = UserId::from("buyer-bad-rows");
    let mut tickets: Vec<Ticket> = Vec::new();
    for n in 0..4 {
        let hold = NewHold {
            id: HoldId::from(Uuid::now_v7()),
            seats: Seats::one(show.ticket_types[0].id),
            promo_code: None,
            user_id: buyer.clone(),
            expires_at: now + TimeDelta::minutes(30),
            event_version: None,
        };
        store.hold_seat(show.id, &hold, now).await.unwrap();
        let at = now + TimeDelta::seconds(n);
        let order = Order {
            id: OrderId::from(format!("cs_test_{}", Uuid::now_v7().simple())),
            event_id: show.id,
            hold_id: hold.id,
            user_id: buyer.clone(),
            payment_intent_id: None,
            amount: show.lowest_price(),
            status: OrderStatus::Pending,
            ticket_ids: Vec::new(),
            failure_reason: None,
            created_at: at,
            updated_at: at,
        };
        let recorded = store
            .record_tickets(&NewTickets {
                order,
                tickets: vec![TicketDraft {
                    id: TicketId::from(Uuid::now_v7()),
                    registration_id: RegistrationId::from(Uuid::now_v7()),
                    ticket_type_id: show.ticket_types[0].id,
                    attendee: Attendee {
                        name: format!("Guest {n}"),
                        email: "guest@example.org".into(),
                    },
                }],
                created_at: at,
            })
            .await
            .unwrap();
        tickets.extend(recorded.tickets);
    }
    let bad = &tickets[1];
    raw.execute(
        "UPDATE tickets SET status = 'LOST' WHERE id = ?1",
        [bad.id.to_string()],
    )
    .unwrap_err();
    // The CHECK refuses an unknown status: a used_at that is no instant gets past it.
    raw.execute(
        "UPDATE tickets SET used_at = 'soon' WHERE id = ?1",
        [bad.id.to_string()],
    )
    .unwrap();
    let names = |tickets: &[Ticket]| -> Vec<String> {
        tickets
            .iter()
            .map(|ticket| ticket.attendee.name.clone())
            .collect()
    };
    for limit in [1, 2, 5] {
        let mine = every_page(limit, |page| {
            let (store, buyer) = (&store, buyer.clone());
            async move { store.tickets_of_user(&buyer, &page).await }
        })
        .await;
        assert_eq!(
            names(&mine),
            ["Guest 3", "Guest 2", "Guest 0"],
            "limit {limit}"
        );
        let attendees = every_page(limit, |page| {
            let store = &store;
            async move { store.attendees_of_event(show.id, &page).await }
        })
        .await;
        assert_eq!(
            names(&attendees),
            ["Guest 0", "Guest 2", "Guest 3"],
            "limit {limit}"
        );
    }
    assert!(matches!(
        store.get_ticket(bad.id).await,
        Err(StoreError::Internal(message)) if message.contains(&format!("the tickets row {}", bad.id))
    ));
    assert!(!logged_about(&bad.id.to_string()).is_empty());
    assert_eq!(
        store.get_ticket(tickets[2].id).await.unwrap().unwrap(),
        tickets[2]
    );
}
