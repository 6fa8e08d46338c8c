//! The conformance suite every `Store` adapter must pass: the same test bodies run against
//! SQLite and DynamoDB. An adapter's test file invokes [`store_conformance_tests!`] with an async
//! expression that makes a fresh, empty store.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use futures::future::join_all;

use crate::cancellation::CancellationFailure;
use crate::event::{Cancellation, Event, EventStatus, EventView, NewEvent, SeatCounts, Visibility};
use crate::event_edit::{EditRefusal, EventEdit, TicketTypeEdit};
use crate::ids::{EventId, HoldId, Ids, OrderId, RandomIds, TicketId, TicketTypeId, UserId};
use crate::money::Money;
use crate::order::{
    Attendee, HoldStatus, NewHold, NewTickets, Order, OrderStatus, Seats, Ticket, TicketDraft,
    TicketStatus,
};
use crate::organizer::{NewOrganizerProfile, OrganizerProfile};
use crate::page::PageRequest;
use crate::promo::{Discount, PromoCode};
use crate::store::{Redemption, ReleaseOutcome, ReleaseScope, Store, StoreError};
use crate::ticket_type::{NewTicketType, legacy_type_id};
use crate::time::from_key;

pub type SharedStore = Arc<dyn Store>;

/// Expands to one `#[tokio::test]` per conformance check. `$make` is an async expression that
/// yields a fresh `Arc<dyn Store>` for each test.
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:expr) => {
        $crate::store_conformance_tests!(@each $make;
            events_round_trip,
            organizer_events_are_paged_in_start_order,
            upcoming_events_skip_started_ones,
            invalid_cursor_is_refused,
            holds_sell_out_at_capacity,
            holds_need_an_open_event,
            types_keep_their_own_counts_under_the_capacity,
            a_late_payment_needs_a_seat_of_its_type,
            a_hold_of_several_seats_takes_all_or_none,
            race_mixed_types_never_exceed_a_quota_or_the_capacity,
            confirming_a_hold_is_idempotent,
            releasing_gives_the_seat_back_once,
            unpaid_release_keeps_a_sold_seat,
            late_payment_takes_a_free_seat_or_sells_out,
            recording_a_ticket_is_idempotent_per_order,
            closed_orders_take_no_ticket,
            orders_move_forward_only,
            voiding_a_ticket,
            redeeming_admits_once,
            tickets_of_a_user_are_paged_newest_first,
            attendees_are_paged_in_registration_order,
            race_concurrent_holds_never_oversell,
            race_confirm_and_release_keep_counts_consistent,
            race_concurrent_redeems_admit_once,
            race_concurrent_recording_makes_one_ticket,
            promo_codes_round_trip,
            a_hold_takes_a_promo_code_use_and_its_release_gives_it_back,
            race_a_code_of_five_uses_is_used_five_times,
            renaming_a_valid_tickets_holder,
            a_codes_limits_change_but_never_below_its_uses,
            editing_an_event_changes_it_and_counts_its_version,
            a_stale_or_overreaching_edit_changes_nothing,
            a_hold_judged_on_an_older_version_is_refused,
            a_one_price_event_gains_a_type,
            race_edits_and_holds_never_pass_a_limit,
            organizer_profiles_round_trip,
            time_zones_and_end_times_are_kept_and_edited,
            publishing_lists_an_event_and_unpublishing_takes_it_off,
            cancelling_stops_every_sale_and_gives_seats_back,
            sold_orders_of_an_event_are_paged_once_each,
            cancellation_failures_and_the_end_are_kept
        );
    };
    (@each $make:expr; $($name:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let store: $crate::conformance::SharedStore = $make.await;
                $crate::conformance::$name(store).await;
            }
        )+
    };
}

/// The fixed "now" of every check.
pub fn now() -> DateTime<Utc> {
    from_key("2030-06-01T12:00:00.000Z").expect("valid instant")
}

fn id<T: From<uuid::Uuid>>() -> T {
    T::from(RandomIds.new_id())
}

fn user(name: &str) -> UserId {
    UserId::from(name)
}

fn event_for(organizer: &str, starts_in: TimeDelta, capacity: i64) -> Event {
    NewEvent {
        title: format!("Event of {organizer}"),
        description: "Talks, then drinks. Ünïcödé ✓".into(),
        venue: "Main hall".into(),
        starts_at: Some(now() + starts_in),
        ends_at: None,
        time_zone: None,
        cancellation_cutoff_hours: None,
        capacity,
        price_minor: Some(2500),
        currency: "EUR".into(),
        ticket_types: None,
    }
    .validate(id(), user(organizer), now(), &RandomIds)
    .expect("fixture event is valid")
}

/// An event of `capacity` seats selling the types `(name, quota)`.
async fn typed_event(store: &SharedStore, capacity: i64, types: &[(&str, i64)]) -> Event {
    let event = NewEvent {
        price_minor: None,
        ticket_types: Some(
            types
                .iter()
                .map(|&(name, quota)| NewTicketType {
                    name: name.into(),
                    price_minor: 1000,
                    quota,
                    ..NewTicketType::default()
                })
                .collect(),
        ),
        ..NewEvent {
            title: "Typed".into(),
            venue: "Main hall".into(),
            starts_at: Some(now() + TimeDelta::days(30)),
            capacity,
            currency: "EUR".into(),
            ..NewEvent::default()
        }
    }
    .validate(id(), user("org-1"), now(), &RandomIds)
    .expect("fixture event is valid");
    store.create_event(&event).await.expect("create event");
    event
}

fn hold_of_type(event: &Event, type_index: usize, user_name: &str) -> NewHold {
    NewHold {
        seats: Seats::one(event.ticket_types[type_index].id),
        ..new_hold(event, user_name)
    }
}

async fn type_seats(store: &SharedStore, event: &Event, type_index: usize) -> SeatCounts {
    view_of(store, event)
        .await
        .type_seats(event.ticket_types[type_index].id)
}

async fn created_event(store: &SharedStore, capacity: i64) -> Event {
    let event = event_for("org-1", TimeDelta::days(30), capacity);
    store.create_event(&event).await.expect("create event");
    event
}

/// Publishes the event, as its organizer does before selling.
async fn published(store: &SharedStore, event: &Event) -> EventView {
    store
        .set_visibility(event.id, Visibility::Published)
        .await
        .expect("publish the event")
}

/// A hold of the event's first ticket type.
fn new_hold(event: &Event, user_name: &str) -> NewHold {
    NewHold {
        id: id(),
        seats: Seats::one(event.ticket_types[0].id),
        promo_code: None,
        user_id: user(user_name),
        expires_at: now() + TimeDelta::minutes(30),
        event_version: None,
    }
}

async fn held(store: &SharedStore, event: &Event, user_name: &str) -> HoldId {
    let hold = new_hold(event, user_name);
    store
        .hold_seat(event.id, &hold, now())
        .await
        .expect("hold a seat");
    hold.id
}

/// The event as stored now.
async fn view_of(store: &SharedStore, event: &Event) -> EventView {
    store
        .get_event(event.id)
        .await
        .expect("get event")
        .expect("event exists")
}

async fn seats(store: &SharedStore, event: &Event) -> SeatCounts {
    view_of(store, event).await.seats
}

fn order_for(event: &Event, hold_id: HoldId, user_name: &str) -> Order {
    Order {
        id: OrderId::from(format!("cs_test_{}", RandomIds.new_id().simple())),
        event_id: event.id,
        hold_id,
        user_id: user(user_name),
        payment_intent_id: Some("pi_123".into()),
        amount: event.lowest_price(),
        status: OrderStatus::Pending,
        ticket_ids: Vec::new(),
        failure_reason: None,
        created_at: now(),
        updated_at: now(),
    }
}

/// Recording one ticket of the event's first (legacy) type.
fn ticket_request(order: &Order, minutes_later: i64) -> NewTickets {
    tickets_request(order, minutes_later, &[legacy_type_id(order.event_id)])
}

/// Recording a ticket of each of `types`, each with a holder of its own.
fn tickets_request(order: &Order, minutes_later: i64, types: &[TicketTypeId]) -> NewTickets {
    NewTickets {
        order: order.clone(),
        tickets: types
            .iter()
            .enumerate()
            .map(|(index, &ticket_type_id)| TicketDraft {
                id: id(),
                registration_id: id(),
                ticket_type_id,
                attendee: Attendee {
                    name: format!("Zoë Ångström {}", index + 1),
                    email: format!("{}@example.com", order.user_id),
                },
            })
            .collect(),
        created_at: now() + TimeDelta::minutes(minutes_later),
    }
}

/// Holds, confirms and records a ticket for `user_name`: a finished purchase.
async fn purchased(store: &SharedStore, event: &Event, user_name: &str, at: i64) -> Ticket {
    let hold = held(store, event, user_name).await;
    store.confirm_hold(event.id, hold).await.expect("confirm");
    let order = order_for(event, hold, user_name);
    store
        .record_tickets(&ticket_request(&order, at))
        .await
        .expect("record ticket")
        .tickets
        .remove(0)
}

pub async fn events_round_trip(store: SharedStore) {
    let event = event_for("org-1", TimeDelta::days(3), 10);
    store.create_event(&event).await.unwrap();
    let view = store.get_event(event.id).await.unwrap().unwrap();
    assert_eq!(view.event, event);
    assert_eq!(view.seats, SeatCounts::default());
    assert_eq!(store.get_event(id()).await.unwrap(), None);
    assert_eq!(
        store.create_event(&event).await,
        Err(StoreError::AlreadyExists("event"))
    );
    assert_eq!(view.visibility, Visibility::Draft, "a new event is a draft");
    let stats = store.event_stats(event.id, now()).await.unwrap().unwrap();
    assert_eq!((stats.capacity, stats.remaining), (10, 10));
    assert_eq!(stats.status, EventStatus::NotOnSale);
    assert_eq!(store.event_stats(id(), now()).await.unwrap(), None);
}

pub async fn publishing_lists_an_event_and_unpublishing_takes_it_off(store: SharedStore) {
    let event = event_for("org-1", TimeDelta::days(3), 10);
    store.create_event(&event).await.unwrap();
    let upcoming = || {
        let store = store.clone();
        async move {
            event_ids(
                store
                    .list_upcoming_events(now(), &PageRequest::first(10))
                    .await
                    .unwrap()
                    .items,
            )
        }
    };
    assert_eq!(upcoming().await, vec![], "a draft is not listed");
    let view = published(&store, &event).await;
    assert_eq!(
        (view.visibility, view.version),
        (Visibility::Published, 1),
        "publishing changes no detail: the version stays"
    );
    assert_eq!(view.stats(now()).status, EventStatus::Open);
    assert_eq!(upcoming().await, vec![event.id]);
    // An edit keeps it listed, at its new start.
    let later = Event {
        starts_at: event.starts_at + TimeDelta::days(1),
        ..event.clone()
    };
    let mut edit = EventEdit::of(&later);
    edit.title = "Moved".into();
    let edited = store
        .update_event(&edit.plan(&view, now(), &RandomIds).unwrap())
        .await
        .unwrap();
    assert_eq!(edited.visibility, Visibility::Published);
    assert_eq!(upcoming().await, vec![event.id]);
    let off = store
        .set_visibility(event.id, Visibility::Unpublished)
        .await
        .unwrap();
    assert_eq!((off.visibility, off.version), (Visibility::Unpublished, 2));
    assert_eq!(off.stats(now()).status, EventStatus::NotOnSale);
    assert_eq!(upcoming().await, vec![]);
    assert_eq!(view_of(&store, &event).await, off);
    // Listed by its organizer all along.
    let mine = store
        .list_organizer_events(&user("org-1"), &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(event_ids(mine.items), vec![event.id]);
    assert_eq!(
        store.set_visibility(id(), Visibility::Published).await,
        Err(StoreError::NotFound("event"))
    );
}

/// Follows cursors from the first page to the last, `limit` items a page, and returns every item.
async fn collect_pages<T, F, Fut>(limit: u32, mut fetch: F) -> Vec<T>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: Future<Output = Result<crate::page::Page<T>, StoreError>>,
{
    let mut items = Vec::new();
    let mut request = PageRequest::first(limit);
    loop {
        let page = fetch(request.clone()).await.expect("list page");
        assert!(page.items.len() <= limit as usize, "page larger than asked");
        items.extend(page.items);
        match page.next_cursor {
            Some(cursor) => request = PageRequest::after(limit, cursor),
            None => return items,
        }
    }
}

fn event_ids(views: Vec<EventView>) -> Vec<EventId> {
    views.into_iter().map(|view| view.event.id).collect()
}

pub async fn organizer_events_are_paged_in_start_order(store: SharedStore) {
    let mut mine = Vec::new();
    for hours in [50, 10, 30, -20, 40] {
        let event = event_for("org-a", TimeDelta::hours(hours.max(1)), 5);
        let event = Event {
            starts_at: now() + TimeDelta::hours(hours),
            ..event
        };
        store.create_event(&event).await.unwrap();
        mine.push(event);
    }
    store
        .create_event(&event_for("org-b", TimeDelta::hours(20), 5))
        .await
        .unwrap();
    mine.sort_by_key(|event| event.starts_at);
    let expected: Vec<EventId> = mine.iter().map(|event| event.id).collect();
    let organizer = user("org-a");
    let listed = collect_pages(2, |page| {
        let store = store.clone();
        let organizer = organizer.clone();
        async move { store.list_organizer_events(&organizer, &page).await }
    })
    .await;
    assert_eq!(event_ids(listed), expected);
    let nobody = store
        .list_organizer_events(&user("nobody"), &PageRequest::first(10))
        .await
        .unwrap();
    assert!(nobody.items.is_empty());
    assert_eq!(nobody.next_cursor, None);
}

pub async fn upcoming_events_skip_started_ones(store: SharedStore) {
    let mut future = Vec::new();
    for (organizer, hours) in [
        ("org-a", 5),
        ("org-b", -1),
        ("org-a", 1),
        ("org-c", 3),
        ("org-b", 0),
    ] {
        let event = Event {
            starts_at: now() + TimeDelta::hours(hours),
            ..event_for(organizer, TimeDelta::hours(1), 5)
        };
        store.create_event(&event).await.unwrap();
        published(&store, &event).await;
        if hours > 0 {
            future.push(event);
        }
    }
    future.sort_by_key(|event| event.starts_at);
    let expected: Vec<EventId> = future.iter().map(|event| event.id).collect();
    let listed = collect_pages(2, |page| {
        let store = store.clone();
        async move { store.list_upcoming_events(now(), &page).await }
    })
    .await;
    assert_eq!(
        event_ids(listed),
        expected,
        "only events starting after now, soonest first"
    );
    let first = store
        .list_upcoming_events(now(), &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(first.items.len(), 3);
    assert_eq!(first.items[0].seats, SeatCounts::default());
}

pub async fn invalid_cursor_is_refused(store: SharedStore) {
    created_event(&store, 1).await;
    for cursor in ["garbage!", "bm90IGpzb24", ""] {
        let page = PageRequest::after(5, cursor);
        assert_eq!(
            store.list_upcoming_events(now(), &page).await,
            Err(StoreError::InvalidCursor),
            "cursor {cursor:?}"
        );
        assert_eq!(
            store.list_organizer_events(&user("org-1"), &page).await,
            Err(StoreError::InvalidCursor)
        );
        assert_eq!(
            store.tickets_of_user(&user("u"), &page).await,
            Err(StoreError::InvalidCursor)
        );
    }
}

pub async fn holds_sell_out_at_capacity(store: SharedStore) {
    let event = created_event(&store, 2).await;
    published(&store, &event).await;
    let first = new_hold(&event, "u1");
    let hold = store.hold_seat(event.id, &first, now()).await.unwrap();
    assert_eq!(hold.status, HoldStatus::Held);
    assert_eq!((hold.id, hold.event_id), (first.id, event.id));
    assert_eq!(hold.expires_at, first.expires_at);
    assert_eq!(
        store.get_hold(event.id, first.id).await.unwrap(),
        Some(hold)
    );
    held(&store, &event, "u2").await;
    assert_eq!(
        store
            .hold_seat(event.id, &new_hold(&event, "u3"), now())
            .await,
        Err(StoreError::SoldOut)
    );
    let stats = store.event_stats(event.id, now()).await.unwrap().unwrap();
    assert_eq!((stats.held, stats.sold, stats.remaining), (2, 0, 0));
    assert_eq!(stats.status, EventStatus::SoldOut);
    assert_eq!(
        store.hold_seat(event.id, &first, now()).await,
        Err(StoreError::SoldOut),
        "a full event refuses even a repeated hold id"
    );
}

pub async fn holds_need_an_open_event(store: SharedStore) {
    let event = created_event(&store, 5).await;
    assert_eq!(
        store.hold_seat(id(), &new_hold(&event, "u1"), now()).await,
        Err(StoreError::NotFound("event"))
    );
    let unknown_type = NewHold {
        seats: Seats::one(id()),
        event_version: None,
        ..new_hold(&event, "u1")
    };
    assert_eq!(
        store.hold_seat(event.id, &unknown_type, now()).await,
        Err(StoreError::NotFound("ticket type"))
    );
    assert_eq!(
        store
            .hold_seat(event.id, &new_hold(&event, "u1"), event.starts_at)
            .await,
        Err(StoreError::EventEnded)
    );
    let hold = new_hold(&event, "u1");
    store.hold_seat(event.id, &hold, now()).await.unwrap();
    assert_eq!(
        store.hold_seat(event.id, &hold, now()).await,
        Err(StoreError::AlreadyExists("hold"))
    );
    assert_eq!(
        seats(&store, &event).await.taken,
        1,
        "failed holds take nothing"
    );
    assert_eq!(store.get_hold(event.id, id()).await.unwrap(), None);
}

pub async fn confirming_a_hold_is_idempotent(store: SharedStore) {
    let event = created_event(&store, 3).await;
    let hold = held(&store, &event, "u1").await;
    let confirmed = store.confirm_hold(event.id, hold).await.unwrap();
    assert_eq!(confirmed.status, HoldStatus::Sold);
    assert_eq!(store.confirm_hold(event.id, hold).await.unwrap(), confirmed);
    let counts = seats(&store, &event).await;
    assert_eq!((counts.taken, counts.sold), (1, 1));
    assert_eq!(
        store.confirm_hold(event.id, id()).await,
        Err(StoreError::NotFound("hold"))
    );
}

pub async fn releasing_gives_the_seat_back_once(store: SharedStore) {
    let event = created_event(&store, 3).await;
    let hold = held(&store, &event, "u1").await;
    held(&store, &event, "u2").await;
    let release = || store.release_hold(event.id, hold, ReleaseScope::Unpaid, now());
    assert_eq!(
        release().await,
        Ok(ReleaseOutcome::Released {
            was: HoldStatus::Held
        })
    );
    assert_eq!(release().await, Ok(ReleaseOutcome::AlreadyReleased));
    assert_eq!(seats(&store, &event).await.taken, 1);
    assert_eq!(
        store.confirm_hold(event.id, hold).await,
        Err(StoreError::HoldReleased)
    );
    let status = store
        .get_hold(event.id, hold)
        .await
        .unwrap()
        .unwrap()
        .status;
    assert_eq!(status, HoldStatus::Released);
    assert_eq!(
        store
            .release_hold(event.id, id(), ReleaseScope::Any, now())
            .await,
        Err(StoreError::NotFound("hold"))
    );
}

pub async fn unpaid_release_keeps_a_sold_seat(store: SharedStore) {
    let event = created_event(&store, 3).await;
    let hold = held(&store, &event, "u1").await;
    store.confirm_hold(event.id, hold).await.unwrap();
    assert_eq!(
        store
            .release_hold(event.id, hold, ReleaseScope::Unpaid, now())
            .await,
        Ok(ReleaseOutcome::KeptSold)
    );
    assert_eq!(seats(&store, &event).await.sold, 1);
    assert_eq!(
        store
            .release_hold(event.id, hold, ReleaseScope::Any, now())
            .await,
        Ok(ReleaseOutcome::Released {
            was: HoldStatus::Sold
        })
    );
    assert_eq!(
        store
            .release_hold(event.id, hold, ReleaseScope::Any, now())
            .await,
        Ok(ReleaseOutcome::AlreadyReleased)
    );
    let counts = seats(&store, &event).await;
    assert_eq!((counts.taken, counts.sold), (0, 0));
}

pub async fn late_payment_takes_a_free_seat_or_sells_out(store: SharedStore) {
    let event = created_event(&store, 1).await;
    let late = held(&store, &event, "late").await;
    store
        .release_hold(event.id, late, ReleaseScope::Unpaid, now())
        .await
        .unwrap();
    let other = held(&store, &event, "other").await;
    assert_eq!(
        store.take_seat_late(event.id, late).await,
        Err(StoreError::SoldOut)
    );
    assert_eq!(
        store
            .get_hold(event.id, late)
            .await
            .unwrap()
            .unwrap()
            .status,
        HoldStatus::Released,
        "a refused late payment changes nothing"
    );
    store
        .release_hold(event.id, other, ReleaseScope::Unpaid, now())
        .await
        .unwrap();
    let sold = store.take_seat_late(event.id, late).await.unwrap();
    assert_eq!(sold.status, HoldStatus::Sold);
    assert_eq!(store.take_seat_late(event.id, late).await.unwrap(), sold);
    let counts = seats(&store, &event).await;
    assert_eq!((counts.taken, counts.sold), (1, 1));
    // A hold that was never released is simply confirmed.
    let event = created_event(&store, 1).await;
    let hold = held(&store, &event, "u").await;
    assert_eq!(
        store.take_seat_late(event.id, hold).await.unwrap().status,
        HoldStatus::Sold
    );
    assert_eq!(seats(&store, &event).await.sold, 1);
    assert_eq!(
        store.take_seat_late(event.id, id()).await,
        Err(StoreError::NotFound("hold"))
    );
}

/// An order of three tickets of two types records all three at once, in the buyer's order,
/// and recording it again returns them instead of making more.
pub async fn recording_a_ticket_is_idempotent_per_order(store: SharedStore) {
    let event = typed_event(&store, 5, &[("Standard", 5), ("VIP", 2)]).await;
    let (standard, vip) = (event.ticket_types[0].id, event.ticket_types[1].id);
    let hold = NewHold {
        seats: [standard, vip, standard].into_iter().collect(),
        event_version: None,
        ..new_hold(&event, "buyer")
    };
    store.hold_seat(event.id, &hold, now()).await.unwrap();
    let order = order_for(&event, hold.id, "buyer");
    let request = tickets_request(&order, 1, &[vip, standard, standard]);
    let recorded = store.record_tickets(&request).await.unwrap();
    assert_eq!(recorded.tickets, request.tickets());
    assert_eq!(recorded.order, request.order_with_tickets());
    let ids: Vec<TicketId> = request.tickets.iter().map(|draft| draft.id).collect();
    assert_eq!(recorded.order.ticket_ids, ids);
    assert_eq!(recorded.order.status, OrderStatus::Pending);
    assert_eq!(recorded.order.amount, event.lowest_price());
    let again = store
        .record_tickets(&tickets_request(&order, 2, &[standard]))
        .await
        .unwrap();
    assert_eq!(again, recorded, "a second call returns the first tickets");
    assert_eq!(
        store.get_order(&order.id).await.unwrap(),
        Some(recorded.order.clone())
    );
    for ticket in &recorded.tickets {
        assert_eq!(
            store.get_ticket(ticket.id).await.unwrap().as_ref(),
            Some(ticket)
        );
    }
    let attendees = store
        .attendees_of_event(event.id, &PageRequest::first(10))
        .await
        .unwrap();
    let mut expected = recorded.tickets.clone();
    expected.sort_by_key(|ticket| ticket.registration_id);
    assert_eq!(attendees.items, expected);
    let names: Vec<&str> = recorded
        .tickets
        .iter()
        .map(|ticket| ticket.attendee.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["Zoë Ångström 1", "Zoë Ångström 2", "Zoë Ångström 3"]
    );
    assert_eq!(
        store.get_order(&OrderId::from("cs_unknown")).await.unwrap(),
        None
    );
    assert_eq!(store.get_ticket(id()).await.unwrap(), None);
}

pub async fn closed_orders_take_no_ticket(store: SharedStore) {
    let event = created_event(&store, 5).await;
    let hold = held(&store, &event, "buyer").await;
    let order = order_for(&event, hold, "buyer");
    let stored = store.create_order(&order).await.unwrap();
    assert_eq!(stored, order);
    let changed = Order {
        amount: Money {
            amount_minor: 1,
            ..order.amount
        },
        ..order.clone()
    };
    assert_eq!(
        store.create_order(&changed).await.unwrap(),
        order,
        "the first order under an id is kept"
    );
    store
        .transition_order(&order.id, OrderStatus::Failed, Some("sold out"), now())
        .await
        .unwrap();
    assert_eq!(
        store.record_tickets(&ticket_request(&order, 1)).await,
        Err(StoreError::OrderClosed(OrderStatus::Failed))
    );
    let attendees = store
        .attendees_of_event(event.id, &PageRequest::first(10))
        .await
        .unwrap();
    assert!(attendees.items.is_empty(), "nothing was written");
}

pub async fn orders_move_forward_only(store: SharedStore) {
    let event = created_event(&store, 5).await;
    let order = order_for(&event, id(), "buyer");
    store.create_order(&order).await.unwrap();
    let later = now() + TimeDelta::minutes(5);
    let done = store
        .transition_order(&order.id, OrderStatus::Fulfilled, None, later)
        .await
        .unwrap();
    assert_eq!(done.status, OrderStatus::Fulfilled);
    assert_eq!(done.updated_at, later);
    let again = store
        .transition_order(
            &order.id,
            OrderStatus::Fulfilled,
            None,
            later + TimeDelta::minutes(1),
        )
        .await
        .unwrap();
    assert_eq!(again, done, "repeating a transition changes nothing");
    assert_eq!(
        store
            .transition_order(&order.id, OrderStatus::Failed, Some("late"), later)
            .await,
        Err(StoreError::InvalidTransition {
            from: OrderStatus::Fulfilled,
            to: OrderStatus::Failed
        })
    );
    let failed_order = order_for(&event, id(), "other");
    store.create_order(&failed_order).await.unwrap();
    let failed = store
        .transition_order(
            &failed_order.id,
            OrderStatus::Failed,
            Some("card declined"),
            later,
        )
        .await
        .unwrap();
    assert_eq!(failed.failure_reason.as_deref(), Some("card declined"));
    assert_eq!(
        store.get_order(&failed_order.id).await.unwrap(),
        Some(failed)
    );
    assert_eq!(
        store
            .transition_order(&OrderId::from("cs_none"), OrderStatus::Failed, None, later)
            .await,
        Err(StoreError::NotFound("order"))
    );
}

pub async fn voiding_a_ticket(store: SharedStore) {
    let event = created_event(&store, 5).await;
    let ticket = purchased(&store, &event, "buyer", 1).await;
    let void = store.void_ticket(ticket.id).await.unwrap();
    assert_eq!(void.status, TicketStatus::Void);
    assert_eq!(store.void_ticket(ticket.id).await.unwrap(), void);
    assert_eq!(
        store.redeem_ticket(ticket.id, &user("org-1"), now()).await,
        Ok(Redemption::Void(void.clone()))
    );
    let attendees = store
        .attendees_of_event(event.id, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(
        attendees.items,
        vec![void],
        "the attendee list shows the status"
    );
    let used = purchased(&store, &event, "other", 2).await;
    store
        .redeem_ticket(used.id, &user("org-1"), now())
        .await
        .unwrap();
    assert_eq!(
        store.void_ticket(used.id).await,
        Err(StoreError::TicketUsed)
    );
    assert_eq!(
        store.void_ticket(id()).await,
        Err(StoreError::NotFound("ticket"))
    );
}

pub async fn redeeming_admits_once(store: SharedStore) {
    let event = created_event(&store, 5).await;
    let ticket = purchased(&store, &event, "buyer", 1).await;
    let door = user("org-1");
    let at = now() + TimeDelta::hours(1);
    let Ok(Redemption::Admitted(admitted)) = store.redeem_ticket(ticket.id, &door, at).await else {
        panic!("first scan must admit");
    };
    assert_eq!(admitted.status, TicketStatus::Used);
    assert_eq!(
        (admitted.used_at, admitted.used_by.clone()),
        (Some(at), Some(door.clone()))
    );
    assert_eq!(
        store
            .redeem_ticket(ticket.id, &door, at + TimeDelta::minutes(1))
            .await,
        Ok(Redemption::AlreadyUsed(admitted.clone())),
        "a second scan reports the first"
    );
    assert_eq!(
        store.redeem_ticket(id(), &door, at).await,
        Ok(Redemption::Unknown)
    );
    let stats = store.event_stats(event.id, now()).await.unwrap().unwrap();
    assert_eq!((stats.sold, stats.checked_in), (1, 1));
    assert_eq!(store.get_ticket(ticket.id).await.unwrap(), Some(admitted));
}

pub async fn tickets_of_a_user_are_paged_newest_first(store: SharedStore) {
    let first = created_event(&store, 5).await;
    let second = created_event(&store, 5).await;
    let mut mine = vec![
        purchased(&store, &first, "fan", 1).await,
        purchased(&store, &second, "fan", 3).await,
        purchased(&store, &first, "fan", 2).await,
    ];
    purchased(&store, &first, "someone-else", 4).await;
    mine.sort_by_key(|ticket| std::cmp::Reverse(ticket.created_at));
    let listed = collect_pages(2, |page| {
        let store = store.clone();
        async move { store.tickets_of_user(&user("fan"), &page).await }
    })
    .await;
    assert_eq!(listed, mine);
}

pub async fn attendees_are_paged_in_registration_order(store: SharedStore) {
    let event = created_event(&store, 10).await;
    let mut expected = Vec::new();
    for (n, buyer) in ["a", "b", "c", "d", "e"].iter().enumerate() {
        expected.push(purchased(&store, &event, buyer, n as i64).await);
    }
    purchased(&store, &created_event(&store, 10).await, "x", 9).await;
    expected.sort_by_key(|ticket| ticket.registration_id);
    let listed = collect_pages(2, |page| {
        let store = store.clone();
        async move { store.attendees_of_event(event.id, &page).await }
    })
    .await;
    assert_eq!(listed, expected);
}

/// Each type counts its own holds, sales, releases and check-ins; the event counts them all,
/// and its capacity refuses a hold its types' quotas would still take.
pub async fn types_keep_their_own_counts_under_the_capacity(store: SharedStore) {
    let event = typed_event(&store, 3, &[("Standard", 3), ("VIP", 1)]).await;
    let vip = hold_of_type(&event, 1, "v1");
    store.hold_seat(event.id, &vip, now()).await.unwrap();
    assert_eq!(
        store
            .hold_seat(event.id, &hold_of_type(&event, 1, "v2"), now())
            .await,
        Err(StoreError::TypeSoldOut(event.ticket_types[1].id))
    );
    let standard = hold_of_type(&event, 0, "s1");
    store.hold_seat(event.id, &standard, now()).await.unwrap();
    store.confirm_hold(event.id, vip.id).await.unwrap();
    store
        .hold_seat(event.id, &hold_of_type(&event, 0, "s2"), now())
        .await
        .unwrap();
    assert_eq!(
        store
            .hold_seat(event.id, &hold_of_type(&event, 0, "s3"), now())
            .await,
        Err(StoreError::SoldOut),
        "the capacity caps the types together"
    );
    let counts = |taken, sold| SeatCounts {
        taken,
        sold,
        checked_in: 0,
    };
    assert_eq!(type_seats(&store, &event, 0).await, counts(2, 0));
    assert_eq!(type_seats(&store, &event, 1).await, counts(1, 1));
    assert_eq!(seats(&store, &event).await, counts(3, 1));

    store
        .release_hold(event.id, standard.id, ReleaseScope::Unpaid, now())
        .await
        .unwrap();
    assert_eq!(type_seats(&store, &event, 0).await, counts(1, 0));
    let stats = store.event_stats(event.id, now()).await.unwrap().unwrap();
    let remaining: Vec<u32> = stats.ticket_types.iter().map(|t| t.remaining).collect();
    assert_eq!(
        remaining,
        [1, 0],
        "a type's seats left are capped by the event's"
    );

    let order = order_for(&event, vip.id, "v1");
    let ticket = store
        .record_tickets(&tickets_request(&order, 1, &[event.ticket_types[1].id]))
        .await
        .unwrap()
        .tickets
        .remove(0);
    assert_eq!(ticket.ticket_type_id, event.ticket_types[1].id);
    assert_eq!(
        store
            .get_ticket(ticket.id)
            .await
            .unwrap()
            .unwrap()
            .ticket_type_id,
        event.ticket_types[1].id
    );
    store
        .redeem_ticket(ticket.id, &user("org-1"), now())
        .await
        .unwrap();
    assert_eq!(type_seats(&store, &event, 1).await.checked_in, 1);
    assert_eq!(type_seats(&store, &event, 0).await.checked_in, 0);
    assert_eq!(seats(&store, &event).await.checked_in, 1);
}

/// A payment whose hold was released takes a seat of its own type only.
pub async fn a_late_payment_needs_a_seat_of_its_type(store: SharedStore) {
    let event = typed_event(&store, 5, &[("Standard", 4), ("VIP", 1)]).await;
    let first = hold_of_type(&event, 1, "v1");
    store.hold_seat(event.id, &first, now()).await.unwrap();
    store
        .release_hold(event.id, first.id, ReleaseScope::Unpaid, now())
        .await
        .unwrap();
    store
        .hold_seat(event.id, &hold_of_type(&event, 1, "v2"), now())
        .await
        .unwrap();
    assert_eq!(
        store.take_seat_late(event.id, first.id).await,
        Err(StoreError::TypeSoldOut(event.ticket_types[1].id)),
        "standard seats are left, but no VIP one"
    );
    assert_eq!(type_seats(&store, &event, 1).await.taken, 1);
    assert_eq!(seats(&store, &event).await.taken, 1);
}

/// A hold of several seats of several types takes every one of them or, when the capacity or
/// a quota lacks room for any, none; confirming, releasing and a late payment move them all.
pub async fn a_hold_of_several_seats_takes_all_or_none(store: SharedStore) {
    let event = typed_event(&store, 6, &[("Standard", 3), ("VIP", 3)]).await;
    let (standard, vip) = (event.ticket_types[0].id, event.ticket_types[1].id);
    let order = |counts: &[(TicketTypeId, u32)], user_name: &str| NewHold {
        seats: counts.iter().copied().collect(),
        event_version: None,
        ..new_hold(&event, user_name)
    };
    let counts = |taken, sold| SeatCounts {
        taken,
        sold,
        checked_in: 0,
    };
    let first = order(&[(standard, 2), (vip, 2)], "b1");
    let held = store.hold_seat(event.id, &first, now()).await.unwrap();
    assert_eq!(held.seats, first.seats);
    assert_eq!(held.seats.total(), 4);
    assert_eq!(
        store.get_hold(event.id, first.id).await.unwrap(),
        Some(held),
        "the hold keeps its seats"
    );
    for (refused, error) in [
        (order(&[(standard, 2), (vip, 1)], "b2"), StoreError::SoldOut),
        (order(&[(vip, 2)], "b3"), StoreError::TypeSoldOut(vip)),
        (
            order(&[(standard, 1), (id(), 1)], "b4"),
            StoreError::NotFound("ticket type"),
        ),
    ] {
        assert_eq!(store.hold_seat(event.id, &refused, now()).await, Err(error));
        assert_eq!(
            store.get_hold(event.id, refused.id).await.unwrap(),
            None,
            "a refused hold leaves nothing behind"
        );
    }
    assert_eq!(
        seats(&store, &event).await,
        counts(4, 0),
        "nothing of it was taken"
    );
    assert_eq!(type_seats(&store, &event, 0).await, counts(2, 0));
    assert_eq!(type_seats(&store, &event, 1).await, counts(2, 0));

    store.confirm_hold(event.id, first.id).await.unwrap();
    assert_eq!(seats(&store, &event).await, counts(4, 4));
    assert_eq!(type_seats(&store, &event, 1).await, counts(2, 2));
    store
        .release_hold(event.id, first.id, ReleaseScope::Any, now())
        .await
        .unwrap();
    assert_eq!(
        seats(&store, &event).await,
        counts(0, 0),
        "all four went back"
    );
    assert_eq!(type_seats(&store, &event, 0).await, counts(0, 0));

    // Paid late: it needs room for all four again.
    store
        .hold_seat(event.id, &order(&[(vip, 2)], "b5"), now())
        .await
        .unwrap();
    assert_eq!(
        store.take_seat_late(event.id, first.id).await,
        Err(StoreError::TypeSoldOut(vip)),
        "two VIP seats of three are taken"
    );
    assert_eq!(seats(&store, &event).await, counts(2, 0));
    let second = order(&[(standard, 1), (vip, 1)], "b6");
    store.hold_seat(event.id, &second, now()).await.unwrap();
    store
        .release_hold(event.id, second.id, ReleaseScope::Unpaid, now())
        .await
        .unwrap();
    let late = store.take_seat_late(event.id, second.id).await.unwrap();
    assert_eq!(late.status, HoldStatus::Sold);
    assert_eq!(seats(&store, &event).await, counts(4, 2));
    assert_eq!(type_seats(&store, &event, 1).await, counts(3, 1));
}

/// 64 buyers at once on tight quotas (VIP 5, Standard 20, Student 10 under a capacity of 30),
/// each ordering one to four seats of one or two types: no type goes past its quota, the event
/// past its capacity, the counters match the holds that won, and every refusal is a sell-out.
pub async fn race_mixed_types_never_exceed_a_quota_or_the_capacity(store: SharedStore) {
    const BUYERS: usize = 64;
    let event = typed_event(&store, 30, &[("VIP", 5), ("Standard", 20), ("Student", 10)]).await;
    let types: Vec<TicketTypeId> = event.ticket_types.iter().map(|t| t.id).collect();
    let tasks = (0..BUYERS).map(|buyer| {
        let store = store.clone();
        let event = event.clone();
        let (first, second) = (types[buyer % 3], types[(buyer + 1) % 3]);
        tokio::spawn(async move {
            let counts = [
                (first, 1 + (buyer % 3) as u32),
                (second, (buyer % 2) as u32),
            ];
            let hold = NewHold {
                seats: counts.into_iter().collect(),
                event_version: None,
                ..new_hold(&event, &format!("buyer{buyer}"))
            };
            (
                hold.seats.clone(),
                store.hold_seat(event.id, &hold, now()).await,
            )
        })
    });
    let mut held = [0u32; 3];
    let mut refused = 0;
    for joined in join_all(tasks).await {
        match joined.expect("task finished") {
            (seats, Ok(_)) => {
                for (index, type_id) in types.iter().enumerate() {
                    held[index] += seats.of(*type_id);
                }
            }
            (_, Err(StoreError::SoldOut | StoreError::TypeSoldOut(_))) => refused += 1,
            (_, Err(other)) => panic!("unexpected hold error: {other}"),
        }
    }
    assert!(held[0] <= 5 && held[1] <= 20 && held[2] <= 10, "{held:?}");
    assert!(held.iter().sum::<u32>() <= 30, "{held:?}");
    assert!(refused > 0, "the orders ask for more than the capacity");
    for (index, &count) in held.iter().enumerate() {
        assert_eq!(type_seats(&store, &event, index).await.taken, count);
    }
    assert_eq!(seats(&store, &event).await.taken, held.iter().sum::<u32>());
}

/// 32 tasks make 2,000 hold attempts on a 500-seat event: exactly 500 succeed.
pub async fn race_concurrent_holds_never_oversell(store: SharedStore) {
    const TASKS: usize = 32;
    const ATTEMPTS: usize = 2_000;
    let event = created_event(&store, 500).await;
    let tasks = (0..TASKS).map(|task| {
        let store = store.clone();
        let event = event.clone();
        tokio::spawn(async move {
            let (mut held, mut sold_out) = (0usize, 0usize);
            for _ in (task..ATTEMPTS).step_by(TASKS) {
                match store
                    .hold_seat(event.id, &new_hold(&event, "racer"), now())
                    .await
                {
                    Ok(_) => held += 1,
                    Err(StoreError::SoldOut) => sold_out += 1,
                    Err(other) => panic!("unexpected hold error: {other}"),
                }
            }
            (held, sold_out)
        })
    });
    let results: Vec<(usize, usize)> = join_all(tasks)
        .await
        .into_iter()
        .map(|joined| joined.expect("task finished"))
        .collect();
    let held: usize = results.iter().map(|r| r.0).sum();
    let sold_out: usize = results.iter().map(|r| r.1).sum();
    assert_eq!((held, sold_out), (500, 1_500));
    let stats = store.event_stats(event.id, now()).await.unwrap().unwrap();
    assert_eq!((stats.held, stats.remaining), (500, 0));
    assert_eq!(seats(&store, &event).await.taken, 500);
}

/// Confirms and releases race on the same holds; the counters must match the holds' statuses.
pub async fn race_confirm_and_release_keep_counts_consistent(store: SharedStore) {
    const SEATS: usize = 60;
    let event = created_event(&store, SEATS as i64).await;
    let mut holds = Vec::new();
    for n in 0..SEATS {
        holds.push(held(&store, &event, &format!("u{n}")).await);
    }
    let tasks = holds.iter().enumerate().flat_map(|(n, &hold)| {
        let store = store.clone();
        (0..3).map(move |round| {
            let store = store.clone();
            tokio::spawn(async move {
                match (n + round) % 3 {
                    0 => drop(store.confirm_hold(event.id, hold).await),
                    1 => drop(
                        store
                            .release_hold(event.id, hold, ReleaseScope::Unpaid, now())
                            .await,
                    ),
                    _ if n % 2 == 0 => drop(
                        store
                            .release_hold(event.id, hold, ReleaseScope::Any, now())
                            .await,
                    ),
                    _ => drop(store.take_seat_late(event.id, hold).await),
                }
            })
        })
    });
    for joined in join_all(tasks.collect::<Vec<_>>()).await {
        joined.expect("task finished");
    }
    let (mut held_now, mut sold_now) = (0u32, 0u32);
    for hold in &holds {
        match store
            .get_hold(event.id, *hold)
            .await
            .unwrap()
            .unwrap()
            .status
        {
            HoldStatus::Held => held_now += 1,
            HoldStatus::Sold => sold_now += 1,
            HoldStatus::Released => {}
        }
    }
    let counts = seats(&store, &event).await;
    assert_eq!(counts.taken, held_now + sold_now, "taken == held + sold");
    assert_eq!(counts.sold, sold_now);
}

/// 16 door scanners redeem one ticket at once: exactly one admits.
pub async fn race_concurrent_redeems_admit_once(store: SharedStore) {
    let event = created_event(&store, 5).await;
    let ticket = purchased(&store, &event, "buyer", 1).await;
    let scans = (0..16).map(|n| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .redeem_ticket(ticket.id, &user(&format!("door-{n}")), now())
                .await
                .expect("redeem")
        })
    });
    let outcomes: Vec<Redemption> = join_all(scans)
        .await
        .into_iter()
        .map(|joined| joined.expect("task finished"))
        .collect();
    let admitted = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Redemption::Admitted(_)))
        .count();
    let repeated = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Redemption::AlreadyUsed(_)))
        .count();
    assert_eq!((admitted, repeated), (1, 15));
    let stats = store.event_stats(event.id, now()).await.unwrap().unwrap();
    assert_eq!(stats.checked_in, 1);
}

/// The same payment of a two-ticket order recorded 8 times at once (duplicate webhooks)
/// makes its two tickets once.
pub async fn race_concurrent_recording_makes_one_ticket(store: SharedStore) {
    let event = created_event(&store, 5).await;
    let hold = held(&store, &event, "buyer").await;
    let order = order_for(&event, hold, "buyer");
    let legacy = legacy_type_id(event.id);
    let attempts = (0..8).map(|n| {
        let store = store.clone();
        let request = tickets_request(&order, n, &[legacy, legacy]);
        tokio::spawn(async move { store.record_tickets(&request).await.expect("record") })
    });
    let recorded: HashSet<Vec<TicketId>> = join_all(attempts)
        .await
        .into_iter()
        .map(|joined| {
            let recorded = joined.expect("task finished");
            recorded.tickets.iter().map(|ticket| ticket.id).collect()
        })
        .collect();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    let attendees = store
        .attendees_of_event(event.id, &PageRequest::first(20))
        .await
        .unwrap();
    assert_eq!(attendees.items.len(), 2);
}

fn promo_code(event: &Event, code: &str, max_uses: u32) -> PromoCode {
    PromoCode {
        event_id: event.id,
        code: code.into(),
        discount: Discount::Percent(20),
        ticket_type_ids: vec![event.ticket_types[0].id],
        max_uses,
        valid_from: Some(now() - TimeDelta::days(1)),
        valid_until: None,
        created_at: now(),
    }
}

async fn uses_of(store: &SharedStore, event: &Event, code: &str) -> u32 {
    store
        .get_promo_code(event.id, code)
        .await
        .expect("read the code")
        .expect("the code exists")
        .used
}

fn hold_with_code(event: &Event, code: &str) -> NewHold {
    NewHold {
        promo_code: Some(code.into()),
        event_version: None,
        ..new_hold(event, "bargain-hunter")
    }
}

pub async fn promo_codes_round_trip(store: SharedStore) {
    let event = created_event(&store, 10).await;
    let other = created_event(&store, 10).await;
    let spring = promo_code(&event, "SPRING", 5);
    let fixed = PromoCode {
        discount: Discount::AmountOff(500),
        ticket_type_ids: Vec::new(),
        valid_from: None,
        valid_until: Some(now() + TimeDelta::days(2)),
        created_at: now() + TimeDelta::seconds(1),
        ..promo_code(&event, "FIVE-OFF_2", 1)
    };
    store.create_promo_code(&spring).await.expect("create");
    store.create_promo_code(&fixed).await.expect("create");
    assert_eq!(
        store.create_promo_code(&spring).await,
        Err(StoreError::AlreadyExists("promo code"))
    );
    // The same code on another event is another code.
    store
        .create_promo_code(&promo_code(&other, "SPRING", 1))
        .await
        .expect("create on another event");
    let found = store.get_promo_code(event.id, "SPRING").await.unwrap();
    assert_eq!(
        found.map(|view| (view.promo, view.used)),
        Some((spring.clone(), 0))
    );
    assert_eq!(
        store.get_promo_code(event.id, "spring").await.unwrap(),
        None
    );
    let listed: Vec<PromoCode> = store
        .promo_codes_of_event(event.id)
        .await
        .unwrap()
        .into_iter()
        .map(|view| view.promo)
        .collect();
    assert_eq!(listed, vec![spring, fixed]);
}

pub async fn a_hold_takes_a_promo_code_use_and_its_release_gives_it_back(store: SharedStore) {
    let event = created_event(&store, 10).await;
    store
        .create_promo_code(&promo_code(&event, "ONCE", 1))
        .await
        .expect("create");
    // An unknown code refuses the hold and takes no seat.
    assert_eq!(
        store
            .hold_seat(event.id, &hold_with_code(&event, "NOPE"), now())
            .await,
        Err(StoreError::NotFound("promo code"))
    );
    assert_eq!(seats(&store, &event).await.taken, 0);

    let first = hold_with_code(&event, "ONCE");
    let held = store
        .hold_seat(event.id, &first, now())
        .await
        .expect("hold");
    assert_eq!(held.promo_code.as_deref(), Some("ONCE"));
    assert_eq!(
        store
            .get_hold(event.id, first.id)
            .await
            .unwrap()
            .unwrap()
            .promo_code
            .as_deref(),
        Some("ONCE")
    );
    assert_eq!(uses_of(&store, &event, "ONCE").await, 1);
    // Used up: the second hold gets nothing, not even its seat.
    let second = hold_with_code(&event, "ONCE");
    assert_eq!(
        store.hold_seat(event.id, &second, now()).await,
        Err(StoreError::PromoCodeUsedUp("ONCE".into()))
    );
    assert_eq!(seats(&store, &event).await.taken, 1);
    assert_eq!(store.get_hold(event.id, second.id).await.unwrap(), None);
    // A confirm keeps the use; a release gives it back, once.
    store
        .confirm_hold(event.id, first.id)
        .await
        .expect("confirm");
    assert_eq!(uses_of(&store, &event, "ONCE").await, 1);
    for _ in 0..2 {
        store
            .release_hold(event.id, first.id, ReleaseScope::Any, now())
            .await
            .expect("release");
        assert_eq!(uses_of(&store, &event, "ONCE").await, 0);
    }
    // Someone else takes the use; the first buyer's late payment finds it gone.
    store
        .hold_seat(event.id, &second, now())
        .await
        .expect("hold");
    assert_eq!(
        store.take_seat_late(event.id, first.id).await,
        Err(StoreError::PromoCodeUsedUp("ONCE".into()))
    );
    assert_eq!(seats(&store, &event).await.taken, 1);
    store
        .release_hold(event.id, second.id, ReleaseScope::Unpaid, now())
        .await
        .expect("release");
    let late = store
        .take_seat_late(event.id, first.id)
        .await
        .expect("late");
    assert_eq!(late.status, HoldStatus::Sold);
    assert_eq!(uses_of(&store, &event, "ONCE").await, 1);
    assert_eq!(
        (
            seats(&store, &event).await.taken,
            seats(&store, &event).await.sold
        ),
        (1, 1)
    );
}

/// Fifty buyers race for a code of five uses: exactly five get it, the rest are refused with
/// nothing held; released holds give their uses back to the next racers.
pub async fn race_a_code_of_five_uses_is_used_five_times(store: SharedStore) {
    let event = created_event(&store, 100).await;
    store
        .create_promo_code(&promo_code(&event, "FIVE", 5))
        .await
        .expect("create");
    let race = |buyers: usize| {
        let tasks = (0..buyers).map(|_| {
            let (store, event) = (store.clone(), event.clone());
            tokio::spawn(async move {
                let hold = hold_with_code(&event, "FIVE");
                match store.hold_seat(event.id, &hold, now()).await {
                    Ok(held) => Some(held.id),
                    Err(StoreError::PromoCodeUsedUp(_)) => None,
                    Err(other) => panic!("unexpected hold error: {other}"),
                }
            })
        });
        join_all(tasks)
    };
    let won: Vec<HoldId> = race(50)
        .await
        .into_iter()
        .filter_map(|joined| joined.expect("task finished"))
        .collect();
    assert_eq!(won.len(), 5);
    assert_eq!(uses_of(&store, &event, "FIVE").await, 5);
    assert_eq!(seats(&store, &event).await.taken, 5);
    for &hold in &won[..2] {
        store
            .release_hold(event.id, hold, ReleaseScope::Unpaid, now())
            .await
            .expect("release");
    }
    assert_eq!(uses_of(&store, &event, "FIVE").await, 3);
    let again = race(20)
        .await
        .into_iter()
        .filter_map(|joined| joined.expect("task finished"))
        .count();
    assert_eq!(again, 2);
    assert_eq!(uses_of(&store, &event, "FIVE").await, 5);
    assert_eq!(seats(&store, &event).await.taken, 5);
}

pub async fn renaming_a_valid_tickets_holder(store: SharedStore) {
    let event = created_event(&store, 5).await;
    let ticket = purchased(&store, &event, "buyer", 1).await;
    let renamed = store
        .rename_ticket(ticket.id, "Zoë Ångström-Nuñez")
        .await
        .expect("rename");
    assert_eq!(renamed.attendee.name, "Zoë Ångström-Nuñez");
    assert_eq!(renamed.attendee.email, ticket.attendee.email);
    assert_eq!(
        store.get_ticket(ticket.id).await.unwrap(),
        Some(renamed.clone())
    );
    let attendees = store
        .attendees_of_event(event.id, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(
        attendees.items,
        vec![renamed.clone()],
        "the registration too"
    );
    let mine = store
        .tickets_of_user(&user("buyer"), &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(mine.items, vec![renamed]);

    store
        .redeem_ticket(ticket.id, &user("org-1"), now())
        .await
        .unwrap();
    assert_eq!(
        store.rename_ticket(ticket.id, "Too Late").await,
        Err(StoreError::TicketUsed)
    );
    let other = purchased(&store, &event, "other", 2).await;
    store.void_ticket(other.id).await.unwrap();
    assert_eq!(
        store.rename_ticket(other.id, "Nobody").await,
        Err(StoreError::TicketVoid)
    );
    assert_eq!(
        store.rename_ticket(id(), "Nobody").await,
        Err(StoreError::NotFound("ticket"))
    );
}

pub async fn a_codes_limits_change_but_never_below_its_uses(store: SharedStore) {
    let event = created_event(&store, 10).await;
    let promo = promo_code(&event, "TWICE", 2);
    store.create_promo_code(&promo).await.expect("create");
    for _ in 0..2 {
        store
            .hold_seat(event.id, &hold_with_code(&event, "TWICE"), now())
            .await
            .expect("hold");
    }
    assert_eq!(
        store
            .update_promo_code(&PromoCode {
                max_uses: 1,
                ..promo.clone()
            })
            .await,
        Err(StoreError::PromoCodeUsed(2))
    );
    let widened = PromoCode {
        max_uses: 3,
        valid_from: None,
        valid_until: Some(now() + TimeDelta::days(3)),
        ..promo.clone()
    };
    let updated = store.update_promo_code(&widened).await.expect("update");
    assert_eq!((updated.promo.clone(), updated.used), (widened.clone(), 2));
    assert_eq!(
        store.get_promo_code(event.id, "TWICE").await.unwrap(),
        Some(updated)
    );
    // The third use the change made room for, and no fourth.
    store
        .hold_seat(event.id, &hold_with_code(&event, "TWICE"), now())
        .await
        .expect("hold");
    assert_eq!(
        store
            .hold_seat(event.id, &hold_with_code(&event, "TWICE"), now())
            .await,
        Err(StoreError::PromoCodeUsedUp("TWICE".into()))
    );
    assert_eq!(
        store
            .update_promo_code(&PromoCode {
                code: "NOPE".into(),
                ..widened
            })
            .await,
        Err(StoreError::NotFound("promo code"))
    );
}

/// Judges `change` of the event as stored now and writes it.
async fn edited(
    store: &SharedStore,
    event: &Event,
    change: impl FnOnce(&mut EventEdit),
) -> Result<EventView, StoreError> {
    let view = view_of(store, event).await;
    let mut edit = EventEdit::of(&view.event);
    change(&mut edit);
    let update = edit.plan(&view, now(), &RandomIds).expect("a valid edit");
    store.update_event(&update).await
}

fn new_type(name: &str, price_minor: i64, quota: i64) -> TicketTypeEdit {
    TicketTypeEdit {
        id: None,
        fields: NewTicketType {
            name: name.into(),
            price_minor,
            quota,
            ..NewTicketType::default()
        },
    }
}

pub async fn editing_an_event_changes_it_and_counts_its_version(store: SharedStore) {
    let event = typed_event(&store, 10, &[("Standard", 8), ("VIP", 2)]).await;
    for buyer in ["s1", "s2"] {
        let hold = hold_of_type(&event, 0, buyer);
        store.hold_seat(event.id, &hold, now()).await.unwrap();
    }
    let later = now() + TimeDelta::days(60);
    let view = edited(&store, &event, |edit| {
        edit.title = "Renamed".into();
        edit.venue = "Hall 2".into();
        edit.starts_at = Some(later);
        edit.capacity = 12;
        edit.ticket_types[0].fields.quota = 5;
        edit.ticket_types[1].fields.price_minor = 4000;
        edit.ticket_types.push(new_type("Student", 500, 3));
    })
    .await
    .unwrap();
    assert_eq!(view.version, 2);
    let stored = view_of(&store, &event).await;
    assert_eq!(stored, view, "the write returns the event as stored");
    let edited_event = &stored.event;
    assert_eq!(
        (edited_event.title.as_str(), edited_event.venue.as_str()),
        ("Renamed", "Hall 2")
    );
    assert_eq!((edited_event.starts_at, edited_event.capacity), (later, 12));
    assert_eq!(edited_event.created_at, event.created_at);
    let [standard, vip, student] = &edited_event.ticket_types[..] else {
        panic!("three types: {:?}", edited_event.ticket_types)
    };
    assert_eq!((standard.id, standard.quota), (event.ticket_types[0].id, 5));
    assert_eq!((vip.id, vip.price_minor), (event.ticket_types[1].id, 4000));
    assert_eq!((student.name.as_str(), student.quota), ("Student", 3));
    assert_eq!(stored.type_seats(standard.id).taken, 2, "counts are kept");
    assert_eq!(stored.type_seats(student.id), SeatCounts::default());

    // The new type sells, under its quota and the new capacity.
    let mut hold = hold_of_type(edited_event, 2, "st1");
    hold.seats = [(student.id, 3)].into_iter().collect();
    store.hold_seat(event.id, &hold, now()).await.unwrap();
    assert_eq!(
        store
            .hold_seat(event.id, &hold_of_type(edited_event, 2, "st2"), now())
            .await,
        Err(StoreError::TypeSoldOut(student.id))
    );
    let stats = store.event_stats(event.id, now()).await.unwrap().unwrap();
    assert_eq!((stats.capacity, stats.held, stats.remaining), (12, 5, 7));

    // Listings sort by the new start.
    published(&store, &event).await;
    let upcoming = store
        .list_upcoming_events(now() + TimeDelta::days(45), &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(
        upcoming.items.len(),
        1,
        "the moved event starts after day 45"
    );
    assert_eq!(upcoming.items[0].event.starts_at, later);
}

pub async fn time_zones_and_end_times_are_kept_and_edited(store: SharedStore) {
    let starts_at = now() + TimeDelta::days(30);
    let event = NewEvent {
        time_zone: Some("Asia/Kolkata".into()),
        ends_at: Some(starts_at + TimeDelta::hours(3)),
        cancellation_cutoff_hours: Some(48),
        ..NewEvent {
            title: "Zoned".into(),
            venue: "Main hall".into(),
            starts_at: Some(starts_at),
            capacity: 5,
            price_minor: Some(1000),
            currency: "INR".into(),
            ..NewEvent::default()
        }
    }
    .validate(id(), user("org-1"), now(), &RandomIds)
    .expect("fixture event is valid");
    store.create_event(&event).await.expect("create event");
    let stored = view_of(&store, &event).await.event;
    assert_eq!(stored, event);
    assert_eq!(stored.time_zone.name(), "Asia/Kolkata");
    assert_eq!(stored.cancellation_cutoff_hours, Some(48));

    let view = edited(&store, &event, |edit| {
        edit.time_zone = Some("America/New_York".into());
        edit.ends_at = None;
        edit.cancellation_cutoff_hours = None;
    })
    .await
    .unwrap();
    assert_eq!(view.event.time_zone.name(), "America/New_York");
    assert_eq!(view.event.ends_at, None, "the edit dropped the end");
    assert_eq!(
        view.event.cancellation_cutoff_hours, None,
        "the edit stopped buyers cancelling"
    );
    assert_eq!(view_of(&store, &event).await, view);

    let later = starts_at + TimeDelta::days(2);
    let view = edited(&store, &event, |edit| {
        edit.ends_at = Some(later);
        edit.cancellation_cutoff_hours = Some(0);
    })
    .await
    .unwrap();
    assert_eq!(
        (
            view.event.ends_at,
            view.event.time_zone.name(),
            view.event.cancellation_cutoff_hours
        ),
        (Some(later), "America/New_York", Some(0))
    );
    assert_eq!(view_of(&store, &event).await, view);
}

pub async fn a_stale_or_overreaching_edit_changes_nothing(store: SharedStore) {
    let event = typed_event(&store, 10, &[("Standard", 8), ("VIP", 2)]).await;
    let before = view_of(&store, &event).await;
    // Judged while nothing was taken: the quota of 1 and the new VIP price fitted then.
    let mut edit = EventEdit::of(&event);
    edit.ticket_types[0].fields.quota = 1;
    let lower_quota = edit.plan(&before, now(), &RandomIds).unwrap();
    let mut edit = EventEdit::of(&event);
    edit.ticket_types[1].fields.price_minor = 9900;
    let reprice = edit.plan(&before, now(), &RandomIds).unwrap();
    let mut edit = EventEdit::of(&event);
    edit.capacity = 2;
    edit.ticket_types[0].fields.quota = 2;
    let lower_capacity = edit.plan(&before, now(), &RandomIds).unwrap();

    let mut hold = hold_of_type(&event, 0, "s1");
    hold.seats = [(event.ticket_types[0].id, 2)].into_iter().collect();
    store.hold_seat(event.id, &hold, now()).await.unwrap();
    store
        .hold_seat(event.id, &hold_of_type(&event, 1, "v1"), now())
        .await
        .unwrap();
    let taken = view_of(&store, &event).await;
    for update in [&lower_quota, &reprice, &lower_capacity] {
        assert_eq!(
            store.update_event(update).await,
            Err(StoreError::SeatsTaken)
        );
    }
    assert_eq!(view_of(&store, &event).await, taken, "nothing changed");

    let mut edit = EventEdit::of(&event);
    edit.title = "First".into();
    let first = edit.plan(&taken, now(), &RandomIds).unwrap();
    edit.title = "Second, from the same version".into();
    let second = edit.plan(&taken, now(), &RandomIds).unwrap();
    assert_eq!(store.update_event(&first).await.unwrap().version, 2);
    assert_eq!(
        store.update_event(&second).await,
        Err(StoreError::EventChanged)
    );
    assert_eq!(view_of(&store, &event).await.event.title, "First");

    let mut gone = first.clone();
    gone.event.id = id();
    assert_eq!(
        store.update_event(&gone).await,
        Err(StoreError::NotFound("event"))
    );
}

pub async fn a_hold_judged_on_an_older_version_is_refused(store: SharedStore) {
    let event = typed_event(&store, 10, &[("Standard", 10)]).await;
    let pinned = |version| NewHold {
        event_version: Some(version),
        ..hold_of_type(&event, 0, "b1")
    };
    store.hold_seat(event.id, &pinned(1), now()).await.unwrap();
    edited(&store, &event, |edit| edit.title = "Edited".into())
        .await
        .unwrap();
    assert_eq!(
        store.hold_seat(event.id, &pinned(1), now()).await,
        Err(StoreError::EventChanged)
    );
    assert_eq!(
        seats(&store, &event).await.taken,
        1,
        "the refusal took nothing"
    );
    store.hold_seat(event.id, &pinned(2), now()).await.unwrap();
    assert_eq!(seats(&store, &event).await.taken, 2);
}

pub async fn a_one_price_event_gains_a_type(store: SharedStore) {
    let event = created_event(&store, 10).await;
    let general = event.ticket_types[0].id;
    let mut general_hold = new_hold(&event, "g1");
    general_hold.seats = [(general, 2)].into_iter().collect();
    store
        .hold_seat(event.id, &general_hold, now())
        .await
        .unwrap();
    let view = edited(&store, &event, |edit| {
        edit.capacity = 12;
        edit.ticket_types[0].fields.quota = 12;
        edit.ticket_types.push(new_type("VIP", 9000, 3));
    })
    .await
    .unwrap();
    let vip = view.event.ticket_types[1].id;
    let mut hold = new_hold(&view.event, "v1");
    hold.seats = [(vip, 3)].into_iter().collect();
    store.hold_seat(event.id, &hold, now()).await.unwrap();
    store.confirm_hold(event.id, hold.id).await.unwrap();
    let view = view_of(&store, &event).await;
    let counts = |taken, sold| SeatCounts {
        taken,
        sold,
        checked_in: 0,
    };
    assert_eq!(view.seats, counts(5, 3));
    assert_eq!(
        view.type_seats(general),
        counts(2, 0),
        "the first type's own seats"
    );
    assert_eq!(view.type_seats(vip), counts(3, 3));

    // Its price cannot change while two of its seats are held, though the VIPs are not its.
    let mut edit = EventEdit::of(&view.event);
    edit.ticket_types[0].fields.price_minor = 100;
    assert!(matches!(
        edit.plan(&view, now(), &RandomIds),
        Err(EditRefusal::SeatsTaken(_))
    ));
    let before_holds = EventView {
        seats: SeatCounts::default(),
        type_seats: Default::default(),
        ..view.clone()
    };
    let stale = edit.plan(&before_holds, now(), &RandomIds).unwrap();
    assert_eq!(
        store.update_event(&stale).await,
        Err(StoreError::SeatsTaken)
    );
    // Once its seats are back, it can.
    store
        .release_hold(event.id, general_hold.id, ReleaseScope::Unpaid, now())
        .await
        .unwrap();
    let repriced = edited(&store, &event, |edit| {
        edit.ticket_types[0].fields.price_minor = 100;
    })
    .await
    .unwrap();
    assert_eq!(repriced.event.ticket_types[0].price_minor, 100);
    assert_eq!(repriced.type_seats(general), counts(0, 0));
    assert_eq!(repriced.type_seats(vip), counts(3, 3));
}

pub async fn race_edits_and_holds_never_pass_a_limit(store: SharedStore) {
    let event = typed_event(&store, 40, &[("Standard", 30), ("VIP", 10)]).await;
    let holds = (0..48).map(|buyer| {
        let store = store.clone();
        let hold = hold_of_type(&event, buyer % 2, &format!("b{buyer}"));
        async move { store.hold_seat(event.id, &hold, now()).await.is_ok() }
    });
    // Each edit lowers the capacity and the quotas to what it sees taken plus a little.
    let edits = (0..6).map(|round| {
        let store = store.clone();
        let event = event.clone();
        async move {
            let mut written = 0;
            for _ in 0..4 {
                let view = view_of(&store, &event).await;
                let mut edit = EventEdit::of(&view.event);
                edit.title = format!("Edit {round}");
                let standard = view.type_seats(event.ticket_types[0].id).taken;
                let vip = view.type_seats(event.ticket_types[1].id).taken;
                edit.ticket_types[0].fields.quota = i64::from(standard.max(1) + 2);
                edit.ticket_types[1].fields.quota = i64::from(vip.max(1) + 1);
                edit.capacity = i64::from(standard.max(1) + vip.max(1) + 3);
                let Ok(update) = edit.plan(&view, now(), &RandomIds) else {
                    continue;
                };
                match store.update_event(&update).await {
                    Ok(_) => written += 1,
                    Err(StoreError::EventChanged | StoreError::SeatsTaken) => {}
                    Err(other) => panic!("an edit failed: {other}"),
                }
            }
            written
        }
    });
    let (won, written) = futures::join!(join_all(holds), join_all(edits));
    let won = won.into_iter().filter(|ok| *ok).count() as u32;
    let written: u32 = written.into_iter().sum();
    let view = view_of(&store, &event).await;
    assert_eq!(view.seats.taken, won, "every hold that won is counted");
    assert_eq!(view.version, 1 + written, "every edit written is counted");
    assert!(view.seats.taken <= view.event.capacity, "{view:?}");
    for ticket_type in &view.event.ticket_types {
        assert!(
            view.type_seats(ticket_type.id).taken <= ticket_type.quota,
            "{view:?}"
        );
    }
    assert!(written > 0, "some edit went through");
}

pub async fn organizer_profiles_round_trip(store: SharedStore) {
    let organizer = user("org-profile");
    assert_eq!(store.get_organizer_profile(&organizer).await, Ok(None));
    let profile = NewOrganizerProfile {
        display_name: "Harbour Arts «Ünïcödé»".into(),
        contact_email: "tickets@harbour.example".into(),
    }
    .validate(organizer.clone(), now())
    .unwrap();
    store.put_organizer_profile(&profile).await.unwrap();
    assert_eq!(
        store.get_organizer_profile(&organizer).await,
        Ok(Some(profile.clone()))
    );
    // Saving again replaces it; other organizers have none.
    let renamed = OrganizerProfile {
        display_name: "Harbour Arts Collective".into(),
        updated_at: now() + TimeDelta::minutes(1),
        ..profile
    };
    store.put_organizer_profile(&renamed).await.unwrap();
    assert_eq!(
        store.get_organizer_profile(&organizer).await,
        Ok(Some(renamed))
    );
    assert_eq!(
        store.get_organizer_profile(&user("org-other")).await,
        Ok(None)
    );
    // A profile is no event: the organizer's event list stays empty.
    let events = store
        .list_organizer_events(&organizer, &PageRequest::first(10))
        .await
        .unwrap();
    assert!(events.items.is_empty());
}

/// A hold taken over by an order (as a checkout makes it), confirmed when `sold`.
async fn ordered(store: &SharedStore, event: &Event, user_name: &str, sold: bool) -> Order {
    let hold = held(store, event, user_name).await;
    let order = store
        .create_order(&order_for(event, hold, user_name))
        .await
        .expect("create order");
    if sold {
        store.confirm_hold(event.id, hold).await.expect("confirm");
    }
    order
}

pub async fn cancelling_stops_every_sale_and_gives_seats_back(store: SharedStore) {
    let event = created_event(&store, 10).await;
    let sold = ordered(&store, &event, "u-sold", true).await;
    let unpaid = ordered(&store, &event, "u-unpaid", false).await;
    let late = ordered(&store, &event, "u-late", false).await;
    store
        .release_hold(event.id, late.hold_id, ReleaseScope::Unpaid, now())
        .await
        .unwrap();
    let before = view_of(&store, &event).await;

    assert_eq!(
        store.cancel_event(id(), now()).await,
        Err(StoreError::NotFound("event"))
    );
    assert_eq!(
        store.cancel_event(event.id, event.starts_at).await,
        Err(StoreError::EventEnded),
        "a started event is not cancelled"
    );
    let cancelled = store.cancel_event(event.id, now()).await.unwrap();
    let cancellation = Cancellation {
        requested_at: now(),
        sold_then: 1,
        finished_at: None,
    };
    assert_eq!(cancelled.cancellation, Some(cancellation));
    assert_eq!(cancelled.version, before.version + 1);
    assert_eq!(cancelled.stats(now()).status, EventStatus::Cancelled);
    assert_eq!(view_of(&store, &event).await, cancelled);
    // Cancelling again changes nothing, not even the time.
    let again = store
        .cancel_event(event.id, now() + TimeDelta::hours(1))
        .await
        .unwrap();
    assert_eq!(again, cancelled);

    // Nothing is held or sold any more: a new hold, the unpaid one's payment, a late payment.
    assert_eq!(
        store
            .hold_seat(event.id, &new_hold(&event, "u-new"), now())
            .await,
        Err(StoreError::EventCancelled)
    );
    assert_eq!(
        store.confirm_hold(event.id, unpaid.hold_id).await,
        Err(StoreError::EventCancelled)
    );
    assert_eq!(
        store.take_seat_late(event.id, late.hold_id).await,
        Err(StoreError::EventCancelled)
    );
    assert_eq!(
        seats(&store, &event).await,
        before.seats,
        "refusals took nothing"
    );
    // What was sold stays sold, and comes back when refunded; an unpaid hold is let go.
    let sold_hold = store.confirm_hold(event.id, sold.hold_id).await.unwrap();
    assert_eq!(sold_hold.status, HoldStatus::Sold);
    for hold in [sold.hold_id, unpaid.hold_id] {
        assert!(matches!(
            store
                .release_hold(event.id, hold, ReleaseScope::Any, now())
                .await,
            Ok(ReleaseOutcome::Released { .. })
        ));
    }
    assert_eq!(seats(&store, &event).await, SeatCounts::default());
    // An edit judged on the version before the cancellation is refused.
    let edit = EventEdit::of(&event);
    let update = edit.plan(&before, now(), &RandomIds).unwrap();
    assert_eq!(
        store.update_event(&update).await,
        Err(StoreError::EventChanged)
    );
}

pub async fn sold_orders_of_an_event_are_paged_once_each(store: SharedStore) {
    let event = created_event(&store, 20).await;
    let other = created_event(&store, 5).await;
    let mut sold = HashSet::new();
    for buyer in 0..5 {
        sold.insert(ordered(&store, &event, &format!("u{buyer}"), true).await.id);
    }
    ordered(&store, &event, "u-unpaid", false).await;
    ordered(&store, &other, "u-elsewhere", true).await;
    // A seat sold without an order yet (the saga between its steps) has no order to refund.
    let orphan = held(&store, &event, "u-orphan").await;
    store.confirm_hold(event.id, orphan).await.unwrap();
    let refunded = ordered(&store, &event, "u-refunded", true).await;
    store
        .release_hold(event.id, refunded.hold_id, ReleaseScope::Any, now())
        .await
        .unwrap();

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = store
            .sold_orders_of_event(event.id, cursor.as_deref(), 2)
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items);
        pages += 1;
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
        assert!(pages < 10, "the cursor goes on forever");
    }
    assert_eq!(seen.len(), 5, "each sold order once: {seen:?}");
    assert_eq!(seen.into_iter().collect::<HashSet<_>>(), sold);
    let all = store
        .sold_orders_of_event(event.id, None, 1000)
        .await
        .unwrap();
    assert_eq!(all.items.len(), 5);
    assert_eq!(all.next_cursor, None);
    assert_eq!(
        store
            .sold_orders_of_event(event.id, Some("not-a-cursor"), 2)
            .await,
        Err(StoreError::InvalidCursor)
    );
}

pub async fn cancellation_failures_and_the_end_are_kept(store: SharedStore) {
    let event = created_event(&store, 5).await;
    let other = created_event(&store, 5).await;
    assert_eq!(store.cancellation_failures(event.id).await, Ok(vec![]));
    let failure = |order: &str, reason: &str, minutes| CancellationFailure {
        event_id: event.id,
        order_id: OrderId::from(order),
        reason: reason.into(),
        at: now() + TimeDelta::minutes(minutes),
    };
    store
        .record_cancellation_failure(&failure("cs_b", "card issuer down", 1))
        .await
        .unwrap();
    store
        .record_cancellation_failure(&failure("cs_a", "«Ünïcödé» refused", 2))
        .await
        .unwrap();
    // Listed again: the last reason stands.
    store
        .record_cancellation_failure(&failure("cs_b", "still down", 3))
        .await
        .unwrap();
    store
        .record_cancellation_failure(&CancellationFailure {
            event_id: other.id,
            ..failure("cs_c", "elsewhere", 4)
        })
        .await
        .unwrap();
    assert_eq!(
        store.cancellation_failures(event.id).await,
        Ok(vec![
            failure("cs_a", "«Ünïcödé» refused", 2),
            failure("cs_b", "still down", 3)
        ])
    );

    // Finishing an event that is not cancelled does nothing; the end is written once.
    store.finish_cancellation(event.id, now()).await.unwrap();
    assert_eq!(view_of(&store, &event).await.cancellation, None);
    store.cancel_event(event.id, now()).await.unwrap();
    // Due for a check from when it was cancelled until it finishes.
    let later = now() + TimeDelta::minutes(2);
    assert_eq!(store.cancellations_due(later, 10).await, Ok(vec![event.id]));
    assert_eq!(
        store
            .cancellations_due(now() - TimeDelta::milliseconds(1), 10)
            .await,
        Ok(vec![])
    );
    let end = now() + TimeDelta::minutes(5);
    store.finish_cancellation(event.id, end).await.unwrap();
    assert_eq!(store.cancellations_due(later, 10).await, Ok(vec![]));
    store
        .finish_cancellation(event.id, end + TimeDelta::minutes(5))
        .await
        .unwrap();
    assert_eq!(
        view_of(&store, &event).await.cancellation,
        Some(Cancellation {
            requested_at: now(),
            sold_then: 0,
            finished_at: Some(end),
        })
    );
}
