//! Items the DynamoDB store cannot read (written around it, with a raw PutItem against moto) are
//! logged with their key and skipped by every list, which still pages correctly; a single read
//! of one is a clear error, and every other item reads as before.

use ticket_testkit::bad_rows;

use ticket_testkit::moto;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use bad_rows::{event, every_page, logged_about, titles};
use chrono::{TimeDelta, Utc};
use ticket_cloud::DynamoStore;
use ticket_core::time::to_millis;
use ticket_core::{
    Attendee, Event, HoldId, NewHold, NewTickets, Order, OrderId, OrderStatus, RegistrationId,
    Seats, Store, StoreError, Ticket, TicketDraft, TicketId, UserId, Visibility,
};
use uuid::Uuid;

async fn store() -> (Client, String, DynamoStore) {
    bad_rows::capture_log();
    let client = moto::client().await;
    let table = moto::unique_table_name();
    moto::create_table(&client, &table).await;
    (
        client.clone(),
        table.clone(),
        DynamoStore::new(client, table),
    )
}

fn key(pk: String, sk: &str) -> std::collections::HashMap<String, AttributeValue> {
    [("PK", pk), ("SK", sk.to_owned())]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), AttributeValue::S(value)))
        .collect()
}

/// Rewrites one attribute of a stored item, behind the store's back.
async fn corrupt(
    client: &Client,
    table: &str,
    pk: String,
    sk: &str,
    name: &str,
    to: AttributeValue,
) {
    let mut item = client
        .get_item()
        .table_name(table)
        .set_key(Some(key(pk, sk)))
        .send()
        .await
        .unwrap()
        .item
        .expect("the item");
    item.insert(name.to_owned(), to);
    client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn event_lists_skip_items_that_cannot_be_read() {
    let (client, table, store) = store().await;
    let now = Utc::now();
    let organizer = format!("org-{}", Uuid::now_v7().simple());
    let events: Vec<Event> = (1..=7).map(|day| event(&organizer, now, day)).collect();
    for event in &events {
        store.create_event(event).await.unwrap();
        store
            .set_visibility(event.id, Visibility::Published)
            .await
            .unwrap();
    }
    // Days 2 and 3 (side by side), 5 and 7 (the last) cannot be read, each for another reason.
    let bad = [
        (1, "capacity", AttributeValue::S("many".into())),
        (2, "startsAt", AttributeValue::S("+10000-13-45".into())),
        (4, "title", AttributeValue::N("5".into())),
        (6, "currency", AttributeValue::S("XYZ".into())),
    ];
    for (index, name, to) in bad.clone() {
        let pk = format!("EVENT#{}", events[index].id);
        corrupt(&client, &table, pk, "METADATA", name, to).await;
    }
    for limit in [1, 2, 3, 10] {
        let mine = every_page(limit, |page| {
            let (store, organizer) = (&store, UserId::from(organizer.as_str()));
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
    for (index, name, _) in &bad {
        let id = events[*index].id;
        let Err(StoreError::Internal(message)) = store.get_event(id).await else {
            panic!("reading the bad event {id} must be an internal error");
        };
        assert!(message.contains(&format!("EVENT#{id}")), "{message}");
        assert!(message.contains(name), "{message}");
        let lines = logged_about(&format!("EVENT#{id}"));
        assert!(
            lines
                .iter()
                .any(|line| line.contains("skipped a stored item")),
            "{lines:?}"
        );
        assert!(
            lines.iter().any(|line| line.contains("cannot be read")),
            "{lines:?}"
        );
    }
    let good = store.get_event(events[3].id).await.unwrap().unwrap();
    assert_eq!(good.event, events[3]);
}

#[tokio::test]
async fn ticket_lists_skip_items_that_cannot_be_read() {
    let (client, table, store) = store().await;
    let now = to_millis(Utc::now());
    let organizer = format!("org-{}", Uuid::now_v7().simple());
    let show = event(&organizer, now, 3);
    store.create_event(&show).await.unwrap();
    let buyer = UserId::from(format!("buyer-{}", Uuid::now_v7().simple()));
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
    // The second ticket: both its items (the user's and the attendee list's).
    let bad = &tickets[1];
    let registration_sk = format!("REG#{}", bad.registration_id);
    for (pk, sk) in [
        (format!("TICKET#{}", bad.id), "METADATA"),
        (format!("EVENT#{}", show.id), registration_sk.as_str()),
    ] {
        corrupt(
            &client,
            &table,
            pk,
            sk,
            "attendeeName",
            AttributeValue::Bool(true),
        )
        .await;
    }
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
        Err(StoreError::Internal(message)) if message.contains(&format!("TICKET#{}", bad.id))
    ));
    assert!(!logged_about(&format!("TICKET#{}", bad.id)).is_empty());
    assert!(!logged_about(&registration_sk).is_empty());
    assert_eq!(
        store.get_ticket(tickets[2].id).await.unwrap().unwrap(),
        tickets[2]
    );
}
